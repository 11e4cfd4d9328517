//! systemd's watchdog: `director run` with `NOTIFY_SOCKET` and `WATCHDOG_USEC` set (as systemd
//! sets them for `WatchdogSec=`) sends READY=1, then WATCHDOG=1 every half period; when its
//! loops stop (the process is stopped with SIGSTOP) the notifications stop, and they come back
//! with SIGCONT. In-memory IPVS table, no root needed.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The messages received within `window`.
fn messages(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let end = Instant::now() + window;
    let mut buf = [0u8; 4096];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).trim().to_string()),
            Err(_) => break,
        }
    }
    out
}

fn count(msgs: &[String], what: &str) -> usize {
    msgs.iter().filter(|m| m.lines().any(|l| l == what)).count()
}

#[test]
fn watchdog_notifications_follow_the_loops() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ldirectord.cf"),
        "checkinterval=1\nvirtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\tchecktype=on\n",
    )
    .unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
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
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());

    let first = messages(&sock, Duration::from_secs(4));
    assert_eq!(count(&first, "READY=1"), 1, "{first:?}");
    // Every 200 ms once ready: well over 5 in the seconds after start.
    assert!(count(&first, "WATCHDOG=1") >= 5, "{first:?}");

    kill(pid, Signal::SIGSTOP).unwrap();
    // What was already queued may arrive; then silence.
    let _ = messages(&sock, Duration::from_millis(300));
    let stopped = messages(&sock, Duration::from_secs(1));
    assert_eq!(count(&stopped, "WATCHDOG=1"), 0, "{stopped:?}");

    kill(pid, Signal::SIGCONT).unwrap();
    let again = messages(&sock, Duration::from_secs(1));
    assert!(count(&again, "WATCHDOG=1") >= 2, "{again:?}");

    kill(pid, Signal::SIGTERM).unwrap();
    let end = messages(&sock, Duration::from_secs(3));
    assert_eq!(count(&end, "STOPPING=1"), 1, "{end:?}");
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        panic!("no exit after SIGTERM");
    }
}
