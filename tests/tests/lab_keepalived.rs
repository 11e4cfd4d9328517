//! keepalived 2.2.7 on the real kernel in the lab VM against `director import keepalived`
//! (needs qemu and Debian's keepalived; `--features lab`, after `cargo build --release -p
//! director`). The scenario is `tests/lab/scenarios/keepalived-import.sh`: for every file of
//! tests/corpus/keepalived that programs a table, keepalived's table (`ipvsadm -S -n`) equals
//! `director check --print-ipvs` of the imported files; for every file with a vrrp_instance,
//! the addresses keepalived adds as master equal the IPaddr2 / IPv6addr resources of the
//! imported haresources.
#![allow(clippy::unwrap_used)] // a test: a failure is a panic with its message

use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::lab::LabRun;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/keepalived")
}

/// The corpus files with a non-empty `expected/*.EXT`.
fn with_expected(ext: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(corpus().join("expected"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(&format!(".{ext}")) else {
            continue;
        };
        if std::fs::read_to_string(entry.path()).unwrap().is_empty() {
            continue;
        }
        files.push(if stem == "include" {
            corpus().join("include/keepalived.conf")
        } else {
            corpus().join(stem)
        });
    }
    files.sort();
    files
}

#[test]
fn keepalived_and_the_import_program_the_same_tables_and_vips() {
    let files = with_expected("ipvs");
    let vrrp = with_expected("haresources");
    assert!(files.len() >= 20, "{files:?}");
    assert!(vrrp.len() >= 15, "{vrrp:?}");
    let mut run = LabRun::scenario("keepalived-import.sh")
        .add_file("/usr/sbin/keepalived")
        .timeout(Duration::from_secs(1200));
    let mut all = files.clone();
    all.extend(vrrp.iter().cloned());
    all.sort();
    all.dedup();
    for f in &all {
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
    let list: Vec<String> = vrrp.iter().map(|f| f.display().to_string()).collect();
    run = run.env("VRRP_FILES", &list.join(" "));
    let log = run.passes(&["PASS"]);
    let name = |f: &PathBuf| f.strip_prefix(corpus()).unwrap().display().to_string();
    for f in &files {
        let want = format!("== {}: match (", name(f));
        assert!(log.contains(&want), "no `{want}` in\n{log}");
    }
    for f in &vrrp {
        let want = format!("== {}: VIPs match (", name(f));
        assert!(log.contains(&want), "no `{want}` in\n{log}");
    }
}
