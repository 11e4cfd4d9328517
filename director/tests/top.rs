//! `director top` driven in tmux against a running `director run` (in-memory IPVS table, no
//! root needed): the screen's content, the keys, the refresh, a daemon that goes away, `q`.
//! The same daemon's `/metrics` carries the table's traffic families. Needs tmux
//! (`tests/need-packages test`).
//!
//! With `DIRECTOR_TOP_CAPTURE=FILE` the first full screen is written to FILE (the README's
//! capture comes from there).

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// A private tmux server (its own socket, no configuration file), killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .output()
            .expect("tmux is installed (tests/need-packages test)")
    }

    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "top"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "top", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
        }
    }

    /// Wait until the screen shows what `f` accepts; the screen.
    fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            last = self.screen();
            if f(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; the screen:\n{last}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_daemon(dir: &Path, metrics: &str) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_director"))
        .args([
            "run",
            "--ipvs",
            "memory",
            "--metrics",
            metrics,
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
        .unwrap();
    Daemon(child)
}

fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    Some(reply)
}

/// The words of the screen line that holds `needle`.
fn row(screen: &str, needle: &str) -> Vec<String> {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle} in\n{screen}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn top_shows_the_daemon_follows_the_keys_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ldirectord.cf"),
        "checkinterval=1\n\
         virtual=192.0.2.132:80\n\
         \treal=198.51.100.1:80 gate\n\
         \treal=198.51.100.2:80 gate 3\n\
         \tchecktype=on\n\
         \tscheduler=rr\n\
         virtual=192.0.2.133:80\n\
         \treal=198.51.100.3:80 gate\n\
         \tchecktype=off\n\
         \tquiescent=yes\n\
         \tscheduler=wlc\n",
    )
    .unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut daemon = run_daemon(dir.path(), &metrics);

    // the daemon's /metrics carries the table's traffic (zero: nothing flows in memory); a
    // reading is reused for 500 ms, so the last real added may show a scrape late
    let vs = "virtual_service=\"tcp:192.0.2.132:80\"";
    let wants = [
        format!("director_real_up{{{vs},real=\"198.51.100.2:80\"}} 1"),
        format!("director_virtual_connections_total{{{vs}}} 0"),
        format!("director_virtual_incoming_bytes_total{{{vs}}} 0"),
        format!("director_real_connections_active{{{vs},real=\"198.51.100.1:80\"}} 0"),
        format!("director_real_connections_inactive{{{vs},real=\"198.51.100.2:80\"}} 0"),
        format!("director_real_weight{{{vs},real=\"198.51.100.2:80\"}} 3"),
    ];
    let mut last = String::new();
    let t0 = Instant::now();
    while !wants.iter().all(|w| last.contains(w.as_str())) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no {:?} in\n{last}",
            wants.iter().find(|w| !last.contains(w.as_str()))
        );
        std::thread::sleep(Duration::from_millis(100));
        last = scrape(&metrics).unwrap_or_default();
    }

    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    let done = dir.path().join("top.exit");
    let command = format!(
        "'{}' top --run-dir '{}'; echo \"exit $?\" > '{}'",
        env!("CARGO_BIN_EXE_director"),
        dir.path().join("run").display(),
        done.display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "132",
        "-y",
        "16",
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");

    // the first screen: header, columns, the services and their real servers
    let screen = tmux.wait("the real servers", |s| {
        s.contains("198.51.100.3:80") && s.contains("down")
    });
    if let Ok(path) = std::env::var("DIRECTOR_TOP_CAPTURE") {
        std::fs::write(path, &screen).unwrap();
    }
    assert!(screen.contains("director top: node "), "{screen}");
    assert!(screen.contains("(single mode)"), "{screen}");
    assert!(
        screen.contains("single director (no ha.cf): no peer"),
        "{screen}"
    );
    assert!(
        screen.contains("VIPs: 192.0.2.132, 192.0.2.133"),
        "{screen}"
    );
    for title in [
        "VIRTUAL / REAL",
        "HEALTH",
        "WEIGHT",
        "ACTIVE",
        "INACT",
        "CONN/S",
        "B/S OUT",
    ] {
        assert!(screen.contains(title), "no {title} in\n{screen}");
    }
    assert_eq!(
        row(&screen, "tcp:192.0.2.132:80")[..6],
        [">", "tcp:192.0.2.132:80", "2/2", "up", "-", "0"]
    );
    assert_eq!(
        row(&screen, "198.51.100.1:80")[..5],
        ["198.51.100.1:80", "up", "1", "0", "0"]
    );
    assert_eq!(
        row(&screen, "198.51.100.2:80")[..3],
        ["198.51.100.2:80", "up", "3"]
    );
    // checktype=off: down, quiescent (weight 0)
    assert_eq!(
        row(&screen, "198.51.100.3:80")[..3],
        ["198.51.100.3:80", "down", "0"]
    );
    assert!(
        screen.contains("tcp:192.0.2.132:80: 2/2 up (rr)"),
        "{screen}"
    );

    // refreshed every second: a second reading gives rates where there were none
    let screen = tmux.wait("rates after a refresh", |s| {
        s.lines()
            .find(|l| l.contains("198.51.100.1:80"))
            .is_some_and(|l| l.split_whitespace().nth(6) == Some("0"))
    });
    assert_eq!(
        row(&screen, "198.51.100.1:80"),
        [
            "198.51.100.1:80",
            "up",
            "1",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0"
        ]
    );

    // keys: down twice selects the second real server, End the last row, k one up
    tmux.keys(&["Down", "Down"]);
    let screen = tmux.wait("the second real selected", |s| {
        s.lines()
            .any(|l| l.starts_with(">") && l.contains("198.51.100.2:80"))
    });
    assert!(
        screen.contains("tcp:192.0.2.132:80 198.51.100.2:80: up"),
        "{screen}"
    );
    tmux.keys(&["End"]);
    let screen = tmux.wait("the last row selected", |s| {
        s.lines()
            .any(|l| l.starts_with(">") && l.contains("198.51.100.3:80"))
    });
    assert!(
        screen.contains("tcp:192.0.2.133:80 198.51.100.3:80: down"),
        "{screen}"
    );
    tmux.keys(&["k"]);
    tmux.wait("k moves up to the service", |s| {
        s.lines()
            .any(|l| l.starts_with(">") && l.contains("tcp:192.0.2.133:80"))
    });
    // a key top does not know changes nothing
    tmux.keys(&["x"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(tmux
        .screen()
        .lines()
        .any(|l| l.starts_with(">") && l.contains("tcp:192.0.2.133:80")));

    // d drains the selected real server, e enables it again (the in-memory table counts no
    // connection: the drained real leaves at once); on a service row d says what it needs
    tmux.keys(&["d"]);
    tmux.wait("d on a service row", |s| s.contains("select a real server"));
    tmux.keys(&["Home", "Down", "Down", "d"]);
    let screen = tmux.wait("the drained real out of the table", |s| {
        s.contains("198.51.100.2:80 of tcp:192.0.2.132:80: draining")
            && row(s, "198.51.100.2:80").get(3).map(String::as_str) == Some("-")
    });
    assert!(
        row(&screen, "198.51.100.2:80").starts_with(&[">".to_string()]),
        "{screen}"
    );
    // another key clears the answer: the footer shows the selected row, drained
    tmux.keys(&["Down", "Up"]);
    tmux.wait("the drained real in the footer", |s| {
        s.contains("tcp:192.0.2.132:80 198.51.100.2:80: up (operator: drained)")
    });
    tmux.keys(&["e"]);
    tmux.wait("the enabled real back at its weight", |s| {
        s.contains("198.51.100.2:80 of tcp:192.0.2.132:80: enabled")
            && row(s, "198.51.100.2:80").get(3).map(String::as_str) == Some("3")
    });
    tmux.keys(&["End", "k"]);

    // the daemon goes away: the last screen stays, the footer says why
    let _ = daemon.0.kill();
    let _ = daemon.0.wait();
    let screen = tmux.wait("the lost daemon in the footer", |s| {
        s.contains("showing the last reading: ")
    });
    assert!(
        screen.contains("cannot reach the director daemon"),
        "{screen}"
    );
    assert!(screen.contains("198.51.100.3:80"), "{screen}");

    // q quits with status 0 and gives the terminal back
    tmux.keys(&["q"]);
    let exit = wait_for("top to exit", 10, || {
        std::fs::read_to_string(&done)
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert_eq!(exit.trim(), "exit 0");
}

/// Without a daemon `director top` says so and exits 3 (as `director status`), before it
/// takes the terminal.
#[test]
fn top_without_a_daemon_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_director"))
        .args(["top", "--run-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is `director run` running?"), "{err}");
}
