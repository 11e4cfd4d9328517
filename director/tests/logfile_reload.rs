//! `director run` follows a reload that changes `logfile=`: the lines after the reload go to
//! the new file (in-memory IPVS table, no root needed).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_reload_that_changes_logfile_moves_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.log");
    let two = dir.path().join("two.log");
    let cf = dir.path().join("ldirectord.cf");
    let file = |log: &std::path::Path, reals: &[&str]| {
        let mut t = format!(
            "logfile=\"{}\"\ncheckinterval=1\nvirtual=192.0.2.132:80\n",
            log.display()
        );
        for r in reals {
            t.push_str(&format!("\treal={r}:80 gate\n"));
        }
        t.push_str("\tchecktype=on\n\tscheduler=rr\n");
        t
    };
    std::fs::write(&cf, file(&one, &["198.51.100.1"])).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_director"))
        .args([
            "run",
            "--ipvs",
            "memory",
            "--metrics",
            "off",
            "--config-dir",
        ])
        .arg(dir.path())
        .arg("--run-dir")
        .arg(dir.path().join("run"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    wait_for("the first real in one.log", || {
        read(&one).contains("Added real server: 198.51.100.1:80")
    });
    std::fs::write(&cf, file(&two, &["198.51.100.1", "198.51.100.2"])).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    wait_for("the second real in two.log", || {
        read(&two).contains("Added real server: 198.51.100.2:80")
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        panic!("no exit after SIGTERM");
    }
    let first = read(&one);
    let second = read(&two);
    assert!(
        first.contains("Reloading Linux Director Daemon config on signal"),
        "{first}"
    );
    assert!(!first.contains("198.51.100.2"), "{first}");
    assert!(second.contains("terminated on signal: TERM"), "{second}");
    assert!(second.contains("|ldirectord.cf|"), "{second}");
}
