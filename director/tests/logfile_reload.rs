//! `director run` follows a reload that changes `logfile=`: the lines after the reload go to
//! the new file (in-memory IPVS table, no root needed).

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

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

/// `director run` on `dir` with an in-memory IPVS table.
fn run(dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_director"))
        .args([
            "run",
            "--ipvs",
            "memory",
            "--metrics",
            "off",
            "--config-dir",
        ])
        .arg(dir)
        .arg("--run-dir")
        .arg(dir.join("run"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGTERM, and wait (bounded) for the exit.
fn stop(child: &mut std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        panic!("no exit after SIGTERM");
    }
}

/// The file of both tests: `logfile` and one `real=` per address.
fn cf_text(log: &std::path::Path, reals: &[&str]) -> String {
    let mut t = format!(
        "logfile=\"{}\"\ncheckinterval=1\nvirtual=192.0.2.132:80\n",
        log.display()
    );
    for r in reals {
        t.push_str(&format!("\treal={r}:80 gate\n"));
    }
    t.push_str("\tchecktype=on\n\tscheduler=rr\n");
    t
}

/// `director run` on `dir/ldirectord.cf` logging to `dir/one.log` with one real, until that
/// real is added; then the file is rewritten to log to `new_log` with a second real, and
/// SIGHUP.
fn start_then_reload(dir: &std::path::Path, new_log: &std::path::Path) -> std::process::Child {
    let one = dir.join("one.log");
    let cf = dir.join("ldirectord.cf");
    std::fs::write(&cf, cf_text(&one, &["198.51.100.1"])).unwrap();
    let child = run(dir);
    wait_for("the first real in one.log", || {
        read(&one).contains("Added real server: 198.51.100.1:80")
    });
    std::fs::write(&cf, cf_text(new_log, &["198.51.100.1", "198.51.100.2"])).unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    child
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn a_reload_that_changes_logfile_moves_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.log");
    let two = dir.path().join("two.log");
    let mut child = start_then_reload(dir.path(), &two);
    wait_for("the second real in two.log", || {
        read(&two).contains("Added real server: 198.51.100.2:80")
    });
    stop(&mut child);
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

/// ldirectord test-opens `logfile=` when it reads the file: a reload whose new logfile cannot
/// be opened is refused, and the running configuration (and log) is kept.
#[test]
fn a_reload_to_a_logfile_that_cannot_be_opened_keeps_the_running_config() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.log");
    let bad = std::path::Path::new("/nonexistent/director/two.log");
    let mut child = start_then_reload(dir.path(), bad);
    wait_for("the refused reload in one.log", || {
        read(&one).contains("not reloaded")
    });
    // Two check intervals: the second real of the refused file never comes.
    std::thread::sleep(Duration::from_millis(2500));
    stop(&mut child);
    let log = read(&one);
    assert!(
        log.contains(":1: unable to open logfile: /nonexistent/director/two.log"),
        "{log}"
    );
    assert!(!log.contains("198.51.100.2"), "{log}");
    assert!(log.contains("terminated on signal: TERM"), "{log}");
}

/// A reload to a file without any virtual service (here only its `logfile=` line is left, as
/// after a truncated save) removes every service, as ldirectord does; the log says so loudly
/// instead of only listing the deletions.
#[test]
fn a_reload_to_a_file_without_virtual_services_warns_before_it_purges() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.log");
    let cf = dir.path().join("ldirectord.cf");
    std::fs::write(&cf, cf_text(&one, &["198.51.100.1"])).unwrap();
    let mut child = run(dir.path());
    wait_for("the first real in one.log", || {
        read(&one).contains("Added real server: 198.51.100.1:80")
    });
    std::fs::write(&cf, format!("logfile=\"{}\"\n", one.display())).unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    wait_for("the removal warning in one.log", || {
        read(&one).contains("removing all 1 virtual services")
    });
    stop(&mut child);
    let log = read(&one);
    let file = cf.display().to_string();
    assert!(
        log.contains(&format!(
            "{file}: warning: no virtual service in this file: it manages no service, and a \
             reload to it removes every virtual service of the running configuration"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{file}: warning: the reloaded file has no virtual service: removing all 1 virtual \
             services of the running configuration (tcp:192.0.2.132:80)"
        )),
        "{log}"
    );
}
