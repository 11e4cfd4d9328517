//! The binary called as `ldirectord` in the foreground, where its log goes (ldirectord.md
//! 1.1): with `supervised=yes` every log line on stdout as `[<ctime>] <message>`, nothing on
//! stderr, no pid file; with `-d` every line on stderr as the bare message. An in-memory IPVS
//! table (`DIRECTOR_IPVS=memory`), so no IPVS is needed.

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one foreground run printed.
struct Run {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
    /// Whether the pid file existed while the daemon ran.
    had_pidfile: bool,
}

/// `ldirectord ARGS... CF start` (a symlink named ldirectord to the binary) until a line
/// (on either stream) says a real server was added, then SIGTERM; bounded at 20 s each.
fn run_until_added(exe: &Path, args: &[&str], cf: &Path, pidfile: &Path) -> Run {
    let mut child = Command::new(exe)
        .args(args)
        .arg(cf)
        .arg("start")
        .env("DIRECTOR_IPVS", "memory")
        .env_remove("DIRECTOR_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let readers: Vec<_> = [
        (
            false,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (true, Box::new(child.stderr.take().unwrap())),
    ]
    .into_iter()
    .map(|(is_err, stream)| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send((is_err, line));
            }
        })
    })
    .collect();
    drop(tx);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut keep = |(is_err, line): (bool, String)| {
        let added = line.contains("Added real server");
        if is_err {
            stderr.push(line);
        } else {
            stdout.push(line);
        }
        added
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            if keep(l) {
                break;
            }
        }
    }
    let had_pidfile = pidfile.exists();
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
            panic!("no exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for r in readers {
        r.join().unwrap();
    }
    while let Ok(l) = rx.try_recv() {
        keep(l);
    }
    Run {
        status,
        stdout,
        stderr,
        had_pidfile,
    }
}

/// A symlink named `ldirectord` and a file `NAME` (made unique) with `globals` before one
/// virtual whose real is always up; (the symlink, the file, its pid file).
fn setup(dir: &Path, name: &str, globals: &str) -> (PathBuf, PathBuf, PathBuf) {
    let exe = dir.join("ldirectord");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_director"), &exe).unwrap();
    let name = format!("{name}-{}.cf", std::process::id());
    let cf = dir.join(&name);
    std::fs::write(
        &cf,
        format!(
            "{globals}checkinterval=1\nvirtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\
             \tchecktype=on\n\tscheduler=rr\n"
        ),
    )
    .unwrap();
    let pidfile = PathBuf::from(format!("/var/run/ldirectord.{name}.pid"));
    (exe, cf, pidfile)
}

#[test]
fn supervised_logs_to_stdout_with_ctime_and_writes_no_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, cf, pidfile) = setup(dir.path(), "supervised", "supervised=yes\n");
    let run = run_until_added(&exe, &[], &cf, &pidfile);
    let lines = &run.stdout;
    assert!(run.status.success(), "{:?}", run.status);
    assert!(
        !run.had_pidfile,
        "supervised=yes wrote {}",
        pidfile.display()
    );
    assert_eq!(
        run.stderr,
        Vec::<String>::new(),
        "supervised=yes logged on stderr"
    );
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

/// `-d`: the foreground, every line on stderr as the bare message (no time, no level), as
/// ldirectord's debug mode prints them; nothing on stdout; no pid file.
#[test]
fn debug_logs_bare_messages_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (exe, cf, pidfile) = setup(dir.path(), "debug", "");
    let run = run_until_added(&exe, &["-d"], &cf, &pidfile);
    assert!(run.status.success(), "{:?}", run.status);
    assert_eq!(run.stdout, Vec::<String>::new(), "-d logged on stdout");
    let lines = &run.stderr;
    for want in [
        // Getopt has taken -d out of @ARGV by then.
        format!(
            "Invoking ldirectord invoked as: {} {} start ",
            exe.display(),
            cf.display()
        ),
        "Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)".to_string(),
        "Linux Director Daemon terminated on signal: TERM".to_string(),
    ] {
        assert!(lines.contains(&want), "missing {want:?} in {lines:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Starting Linux Director v")),
        "{lines:#?}"
    );
    assert!(!run.had_pidfile, "-d wrote {}", pidfile.display());
}
