//! The binary called as `ldirectord` with `supervised=yes`: in the foreground, every log
//! line on stdout as `[<ctime>] <message>`, nothing on stderr, no pid file (ldirectord.md
//! 1.1). An in-memory IPVS table (`DIRECTOR_IPVS=memory`), so no root or IPVS is needed.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn supervised_logs_to_stdout_with_ctime_and_writes_no_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("ldirectord");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_director"), &exe).unwrap();
    let name = format!("supervised-{}.cf", std::process::id());
    let cf = dir.path().join(&name);
    std::fs::write(
        &cf,
        "supervised=yes\ncheckinterval=1\nvirtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\tchecktype=on\n\tscheduler=rr\n",
    )
    .unwrap();
    let mut child = Command::new(&exe)
        .arg(&cf)
        .arg("start")
        .env("DIRECTOR_IPVS", "memory")
        .env_remove("DIRECTOR_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut lines = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = l.contains("Added real server");
            lines.push(l);
            if done {
                break;
            }
        }
    }
    let pidfile = format!("/var/run/ldirectord.{name}.pid");
    let had_pidfile = std::path::Path::new(&pidfile).exists();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("no exit after SIGTERM: {lines:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    let stderr = err_reader.join().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!had_pidfile, "supervised=yes wrote {pidfile}");
    assert_eq!(stderr, "", "supervised=yes logged on stderr");
    // `[Wed Nov 25 01:40:34 2026] message`
    let ctime = regex::Regex::new(
        r"^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}\] ",
    )
    .unwrap();
    assert!(lines.iter().all(|l| ctime.is_match(l)), "{lines:#?}");
    let text = lines.join("\n");
    let invoked = format!(
        "] Invoking ldirectord invoked as: {} {} start \n",
        exe.display(),
        cf.display()
    );
    for want in [
        invoked.as_str(),
        "] Starting Linux Director v",
        "] Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)",
        "] Linux Director Daemon terminated on signal: TERM",
    ] {
        assert!(
            format!("{text}\n").contains(want),
            "missing {want:?} in\n{text}"
        );
    }
}
