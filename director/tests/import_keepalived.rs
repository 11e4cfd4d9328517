//! `director import keepalived` over the corpus of tests/corpus/keepalived (see its README for
//! where each file comes from): every file imports with the expected notes and exit status,
//! the result passes `director check`, and `director check --print-ipvs` of it gives the table
//! keepalived programs once every real server is up (tests/corpus/keepalived/expected/*.ipvs,
//! each justified in the README).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/keepalived")
}

fn director(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_director"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run director")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every keepalived file of the corpus, as the test imports it (relative to the corpus).
const CASES: &[&str] = &[
    "keepalived.conf.HTTP_GET.port",
    "keepalived.conf.IPv6",
    "keepalived.conf.PING_CHECK",
    "keepalived.conf.SMTP_CHECK",
    "keepalived.conf.SSL_GET",
    "keepalived.conf.UDP_CHECK",
    "keepalived.conf.conditional_conf",
    "keepalived.conf.fwmark",
    "keepalived.conf.inhibit",
    "keepalived.conf.misc_check",
    "keepalived.conf.misc_check_arg",
    "keepalived.conf.quorum",
    "keepalived.conf.sample",
    "keepalived.conf.status_code",
    "keepalived.conf.track_interface",
    "keepalived.conf.virtual_server_group",
    "keepalived.conf.virtualhost",
    "keepalived.conf.vrrp",
    "keepalived.conf.vrrp.localcheck",
    "keepalived.conf.vrrp.lvs_syncd",
    "keepalived.conf.vrrp.routes",
    "keepalived.conf.vrrp.rules",
    "keepalived.conf.vrrp.scripts",
    "keepalived.conf.vrrp.static_ipaddress",
    "keepalived.conf.vrrp.sync",
    "lb-dr-master.conf",
    "lb-dr-backup.conf",
    "include/keepalived.conf",
    "ipv6-fwmark.conf",
];

/// The expected-file stem of a case (`include/keepalived.conf` -> `include`).
fn stem(case: &str) -> String {
    case.split('/').next().unwrap_or(case).to_string()
}

fn expected(case: &str, ext: &str) -> Option<String> {
    std::fs::read_to_string(
        corpus()
            .join("expected")
            .join(format!("{}.{ext}", stem(case))),
    )
    .ok()
}

/// Imports `case` into a fresh directory as node ha1 (peer ha2); returns the directory, the
/// exit status and stderr.
fn import(case: &str, node: &str, peer: &str) -> (tempfile::TempDir, i32, String) {
    let out = tempfile::tempdir().unwrap();
    let o = director(
        &corpus(),
        &[
            "import",
            "keepalived",
            case,
            "--out",
            out.path().to_str().unwrap(),
            "--node",
            node,
            "--peer",
            peer,
        ],
    );
    (out, o.status.code().unwrap_or(-1), text(&o.stderr))
}

/// Lines of a file that are not comments.
fn content(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_corpus_file_imports_and_programs_keepalived_s_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let (out, code, stderr) = import(case, "ha1", "ha2");
        // The notes, and the exit status as their last line.
        let got = format!("{stderr}exit {code}\n");
        match expected(case, "notes") {
            Some(want) if want == got => {}
            Some(want) => failures.push(format!(
                "{case}: notes differ\n--- expected\n{want}--- got\n{got}"
            )),
            None => failures.push(format!(
                "{case}: no expected/{}.notes; got\n{got}",
                stem(case)
            )),
        }
        if code == 1 {
            continue;
        }
        // director check: the Heartbeat files and the ldirectord files together, as node ha1.
        if out.path().join("ha.cf").exists() {
            std::fs::write(out.path().join("nodeinfo"), "ha1\n").unwrap();
        }
        let check = director(
            out.path(),
            &[
                "check",
                "--print-ipvs",
                "--config-dir",
                out.path().to_str().unwrap(),
            ],
        );
        if !check.status.success() {
            failures.push(format!(
                "{case}: director check failed: {}",
                text(&check.stderr)
            ));
            continue;
        }
        let table = text(&check.stdout);
        match expected(case, "ipvs") {
            Some(want) if want == table => {}
            Some(want) => failures.push(format!(
                "{case}: table differs\n--- keepalived\n{want}--- director\n{table}"
            )),
            None => failures.push(format!(
                "{case}: no expected/{}.ipvs; got\n{table}",
                stem(case)
            )),
        }
        if let Some(want) = expected(case, "haresources") {
            let got = content(&out.path().join("haresources"));
            let want: Vec<String> = want.lines().map(str::to_string).collect();
            if got != want {
                failures.push(format!("{case}: haresources {got:#?}, expected {want:#?}"));
            }
        }
        if out.path().join("authkeys").exists() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(out.path().join("authkeys"))
                .unwrap()
                .permissions()
                .mode();
            if mode & 0o777 != 0o600 {
                failures.push(format!("{case}: authkeys mode {:o}", mode & 0o777));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_file_of_the_corpus_is_a_case() {
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    files.push("include/keepalived.conf".into());
    files.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    cases.sort();
    assert_eq!(files, cases);
}

/// Both nodes of a pair, each importing its own keepalived.conf: the same haresources and
/// ha.cf (Heartbeat needs them equal), with the master's node preferred.
#[test]
fn master_and_backup_import_to_the_same_pair() {
    let (master, code_m, notes_m) = import("lb-dr-master.conf", "lb1", "lb2");
    let (backup, code_b, notes_b) = import("lb-dr-backup.conf", "lb2", "lb1");
    assert_eq!((code_m, code_b), (0, 0), "{notes_m}\n{notes_b}");
    for name in ["haresources", "authkeys", "ldirectord.cf"] {
        assert_eq!(
            content(&master.path().join(name)),
            content(&backup.path().join(name)),
            "{name}"
        );
    }
    // ha.cf: the node lines are in each node's own order; the rest is the same.
    let without_nodes = |p: &Path| -> Vec<String> {
        content(p)
            .into_iter()
            .filter(|l| !l.starts_with("node "))
            .collect()
    };
    assert_eq!(
        without_nodes(&master.path().join("ha.cf")),
        without_nodes(&backup.path().join("ha.cf"))
    );
    assert_eq!(
        content(&master.path().join("haresources")),
        ["lb1 IPaddr2::192.0.2.100/24/eth0 ldirectord::ldirectord.cf"]
    );
}

#[test]
fn nothing_is_overwritten_and_errors_write_nothing() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let first = director(
        &corpus(),
        &["import", "keepalived", "ipv6-fwmark.conf", "--out", dir],
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let again = director(
        &corpus(),
        &["import", "keepalived", "ipv6-fwmark.conf", "--out", dir],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("not overwriting"),
        "{}",
        text(&again.stderr)
    );
    // A pair without --peer: an error, nothing written.
    let empty = tempfile::tempdir().unwrap();
    let o = director(
        &corpus(),
        &[
            "import",
            "keepalived",
            "lb-dr-master.conf",
            "--out",
            empty.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("lb-dr-master.conf:7: ") && text(&o.stderr).contains("--peer")
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

/// keepalived's notify scripts, track scripts and preempt_delay land in director.conf: a
/// `[[notify]]` table for the group (`name` = the instance, so `notify` gets `INSTANCE VI_1
/// STATE 0`), `[track.script.NAME]` from its vrrp_script, `[failback] hold`; `director check`
/// loads the result (the notify group is a haresources key), and haresources stays
/// Heartbeat's.
#[test]
fn notify_track_and_preempt_delay_go_to_director_conf() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_script chk_web {\n  script \"pidof nginx\"\n  interval 2\n  fall 3\n  rise 2\n  \
         weight -20\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  priority 120\n  \
         preempt_delay 30\n  virtual_ipaddress {\n    192.0.2.5\n  }\n  track_script {\n    \
         chk_web\n  }\n  track_interface {\n    eth1 weight 5\n  }\n  \
         notify_master \"/etc/k/hook up 'x y'\"\n  notify_fault /etc/k/hook\n  notify /etc/k/all\n}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = director(
        dir.path(),
        &[
            "import",
            "keepalived",
            "keepalived.conf",
            "--out",
            out.to_str().unwrap(),
            "--node",
            "ha1",
            "--peer",
            "ha2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        content(&out.join("haresources")),
        ["ha2 IPaddr2::192.0.2.5/32/eth0"]
    );
    let conf = content(&out.join("director.conf"));
    let want = [
        "[track.script.\"chk_web\"]",
        "script = \"pidof nginx\"",
        "timeout = \"2s\"",
        "interval = \"2s\"",
        "fall = 3",
        "rise = 2",
        "weight = 20",
        "[track.interface.\"eth1\"]",
        "weight = 5",
        "[[notify]]",
        "group = \"IPaddr2::192.0.2.5/32/eth0\"",
        "name = \"VI_1\"",
        // keepalived splits on blanks and runs the words without a shell: each word quoted
        // for sh (`'x` and `y'` stay literal).
        r#"master = "/etc/k/hook up ''\\''x' 'y'\\'''""#,
        "fault = \"/etc/k/hook\"",
        "command = \"/etc/k/all\"",
        "[failback]",
        "hold = \"30s\"",
    ];
    let got: Vec<&str> = conf
        .iter()
        .map(String::as_str)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, want);
    std::fs::write(out.join("nodeinfo"), "ha1\n").unwrap();
    let check = director(&out, &["check", "--config-dir", out.to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
}
