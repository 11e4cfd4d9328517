//! Every entry point takes arguments that are not UTF-8 (a file name, a directory, an ipvsadm
//! argument): a message or an error exit, never a panic.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_director")
}

fn no_panic(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what} panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

#[test]
fn no_entry_point_panics_on_bytes_that_are_not_utf8() {
    let bad = OsStr::from_bytes(b"\xff.cf");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&OsStr]| Command::new(bin()).args(args).output().unwrap();
    for (what, out) in [
        (
            "director ipvsadm -L",
            run(&["ipvsadm".as_ref(), "-L".as_ref(), bad]),
        ),
        (
            "director check FILE",
            run(&[
                "check".as_ref(),
                "--config-dir".as_ref(),
                dir.path().as_os_str(),
                bad,
            ]),
        ),
        (
            "director check --config-dir",
            run(&["check".as_ref(), "--config-dir".as_ref(), bad]),
        ),
        (
            "director status --run-dir",
            run(&["status".as_ref(), "--run-dir".as_ref(), bad]),
        ),
        (
            "director reload --run-dir",
            run(&["reload".as_ref(), "--run-dir".as_ref(), bad]),
        ),
        ("director COMMAND", run(&[bad])),
    ] {
        no_panic(what, &out);
        assert!(!out.status.success(), "{what}: {out:?}");
    }
    // The names ipvsadm and ldirectord (argv[0]).
    for name in ["ipvsadm", "ldirectord"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(bin(), &link).unwrap();
        let out = Command::new(&link).arg(bad).arg("status").output().unwrap();
        no_panic(name, &out);
    }
    // The file is looked for by the name given: its not-UTF-8 byte is shown, not lost.
    let out = run(&[
        "check".as_ref(),
        "--config-dir".as_ref(),
        dir.path().as_os_str(),
        bad,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".cf"), "{stderr}");
}
