//! keepalived 2.2.7 on the real kernel in the lab VM against `director import keepalived`
//! (needs qemu and Debian's keepalived; `--features lab`, after `cargo build --release -p
//! director`). The scenario is `tests/lab/scenarios/keepalived-import.sh`: for every file of
//! tests/corpus/keepalived that programs a table, keepalived's table (`ipvsadm -S -n`) equals
//! `director check --print-ipvs` of the imported files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::lab::LabRun;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/keepalived")
}

#[test]
fn keepalived_and_the_import_program_the_same_tables() {
    let expected = corpus().join("expected");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&expected).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".ipvs") else {
            continue;
        };
        if std::fs::read_to_string(entry.path()).unwrap().is_empty() {
            continue;
        }
        let file = if stem == "include" {
            corpus().join("include/keepalived.conf")
        } else {
            corpus().join(stem)
        };
        files.push(file);
    }
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    let mut run = LabRun::scenario("keepalived-import.sh")
        .add_file("/usr/sbin/keepalived")
        .timeout(Duration::from_secs(1200));
    for f in &files {
        run = run.add_file(f);
    }
    for f in std::fs::read_dir(corpus().join("include/conf.d"))
        .unwrap()
        .flatten()
    {
        run = run.add_file(f.path());
    }
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    run = run.env("CORPUS_FILES", &list.join(" "));
    let log = run.passes(&["PASS"]);
    for f in &files {
        let name = f.strip_prefix(corpus()).unwrap().display().to_string();
        let want = format!("== {name}: match (");
        assert!(log.contains(&want), "no `{want}` in\n{log}");
    }
}
