//! The commands an ldirectord file runs besides its checks: `fallbackcommand` and `callback`
//! lines and `execute=` children, run off the daemon's loop.
//!
//! ldirectord runs them with `system()` inside its loop and waits as long as they take; a
//! single queue here had the same flaw one step removed (a hung `fallbackcommand` held up
//! every command after it for good). So each kind has its own lane — `execute=` children
//! one, `callback` one, `fallbackcommand` one per virtual service — and runs in the order it
//! was asked for within its lane only. Every run is bounded ([`Bounds`]) and is the leader of
//! its own process group ([`Group`]): on overrun the whole group gets SIGTERM, then SIGKILL
//! after [`TERM_GRACE`], and ldirectord's `system_timeout(<t>, <command>) timed out, kill
//! -TERM child` is logged; the lane goes on with its next command.
//!
//! `fallbackcommand` and `callback` lines run through `/bin/sh -c` with the clean environment
//! of external checks ([`healthcheck::process::ENVIRONMENT`]); `execute=` children are this
//! binary and keep the daemon's environment (its `DIRECTOR_LOG`, ...). What a command leaves
//! running when it exits (a sorry server started in the background) is left alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use healthcheck::process::{self, Group};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::ldirectord::VirtualAddress;
use crate::lvs::execute;

/// How long a command gets between SIGTERM and SIGKILL once it overran its bound.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// Default bound of a `fallbackcommand` or `callback` run (ldirectord has none).
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default bound of each `ldirectord NAME COMMAND` run of an `execute=` child.
pub const EXECUTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Time limits of the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Each `fallbackcommand` / `callback` run.
    pub shell: Duration,
    /// Each `ldirectord NAME COMMAND` run.
    pub execute: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            shell: SHELL_TIMEOUT,
            execute: EXECUTE_TIMEOUT,
        }
    }
}

/// Which commands run one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// `execute=` children.
    Execute,
    /// `callback` lines.
    Callback,
    /// The `fallbackcommand` lines of one virtual service (its `start` and `stop` in order).
    Fallback(VirtualAddress),
}

/// A command a lane runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// A `fallbackcommand` / `callback` line, through `/bin/sh -c`.
    Shell(String),
    /// An `execute=` child: `ldirectord NAME COMMAND` with this program.
    Ldirectord { program: PathBuf, job: execute::Job },
}

/// The lanes of one ldirectord file; each starts with its first command.
#[derive(Debug, Default)]
pub struct Lanes {
    bounds: Bounds,
    lanes: HashMap<Lane, (mpsc::UnboundedSender<Task>, JoinHandle<()>)>,
}

impl Lanes {
    /// No lane yet; runs are bounded by `bounds`.
    pub fn new(bounds: Bounds) -> Lanes {
        Lanes {
            bounds,
            lanes: HashMap::new(),
        }
    }

    /// Queues `task` at the end of `lane`.
    pub fn send(&mut self, lane: Lane, task: Task) {
        let bounds = self.bounds;
        let (tx, _) = self.lanes.entry(lane).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            (tx, tokio::spawn(run_lane(rx, bounds)))
        });
        // The receiver lives as long as the lane's task, which only ends once every sender
        // is gone (close).
        let _ = tx.send(task);
    }

    /// Lets every lane finish what it was asked for, for at most `within` in all; what is
    /// still running then is cancelled (its process group killed).
    pub async fn close(&mut self, within: Duration) {
        let handles: Vec<JoinHandle<()>> = self.lanes.drain().map(|(_, (_, h))| h).collect();
        let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(within, futures::future::join_all(handles))
            .await
            .is_err()
        {
            tracing::warn!("commands still running {within:?} after stop: killed");
            for a in aborts {
                a.abort();
            }
        }
    }
}

async fn run_lane(mut rx: mpsc::UnboundedReceiver<Task>, bounds: Bounds) {
    while let Some(task) = rx.recv().await {
        match task {
            Task::Shell(line) => run_shell(&line, bounds.shell).await,
            Task::Ldirectord { program, job } => {
                run_ldirectord(&program, &job, bounds.execute).await
            }
        }
    }
}

/// How a bounded run ended.
enum Run {
    Succeeded,
    Failed(String),
    Overran,
}

/// Runs `cmd` as a process group for at most `bound`; on overrun logs ldirectord's
/// `system_timeout` line with `shown` and ends the group.
async fn run_bounded(cmd: &mut Command, shown: &str, bound: Duration) -> Run {
    cmd.env_remove(super::ldirectord::DETACHED)
        .stdin(Stdio::null());
    let mut group = match Group::spawn(cmd) {
        Ok(g) => g,
        Err(e) => return Run::Failed(e.to_string()),
    };
    match group.wait_for(bound).await {
        Some(Ok(s)) if s.success() => Run::Succeeded,
        Some(Ok(s)) => Run::Failed(s.to_string()),
        Some(Err(e)) => Run::Failed(e.to_string()),
        None => {
            tracing::warn!(
                "system_timeout({}, {shown}) timed out, kill -TERM child",
                bound.as_secs()
            );
            group.terminate(TERM_GRACE).await;
            Run::Overran
        }
    }
}

async fn run_shell(line: &str, bound: Duration) {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(line);
    process::clean_environment(&mut cmd);
    match run_bounded(&mut cmd, line, bound).await {
        Run::Succeeded => tracing::debug!("ran {line}"),
        Run::Failed(why) => tracing::warn!("system({line}) failed: {why}"),
        Run::Overran => {}
    }
}

/// `ldirectord NAME WORD` for each word of the job until one succeeds (`reload`, else
/// `start`), each bounded.
async fn run_ldirectord(program: &Path, job: &execute::Job, bound: Duration) {
    for word in job.command.words() {
        let shown = format!("ldirectord {} {word}", job.name);
        let mut cmd = Command::new(program);
        cmd.arg0("ldirectord").arg(&job.name).arg(word);
        match run_bounded(&mut cmd, &shown, bound).await {
            Run::Succeeded => {
                tracing::debug!("ran {shown}");
                return;
            }
            Run::Failed(why) => tracing::warn!("system({shown}) failed: {why}"),
            Run::Overran => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// Log lines written by the subscriber installed for the test's thread.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn install(&self) -> tracing::subscriber::DefaultGuard {
            let logs = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(move || logs.clone())
                .finish();
            tracing::subscriber::set_default(subscriber)
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn read(file: &Path) -> String {
        std::fs::read_to_string(file).unwrap_or_default()
    }

    /// Waits (at most `limit`) until `file` holds `line`; returns when it did.
    async fn until_line(file: &Path, line: &str, limit: Duration) -> Option<Instant> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if read(file).lines().any(|l| l == line) {
                return Some(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Whether `pid` is gone (or a zombie) within 2 s.
    async fn gone(pid: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            let dead = match state {
                Err(_) => true,
                Ok(stat) => stat
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            };
            if dead || Instant::now() > until {
                return dead;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(pid: &str) {
        if let Ok(p) = pid.trim().parse() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    fn vip(port: u16) -> VirtualAddress {
        VirtualAddress::Addr {
            protocol: crate::config::ldirectord::Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port,
        }
    }

    /// A fallbackcommand that hangs (and backgrounds a sleeper, whose pid goes to `pid`).
    fn hang(log: &Path, pid: &Path) -> String {
        format!(
            "echo hang >> {l}; sleep 30 & echo $! > {p}; wait",
            l = log.display(),
            p = pid.display()
        )
    }

    #[tokio::test]
    async fn a_hanging_command_holds_up_only_its_lane_and_only_until_its_bound() {
        let logs = Logs::default();
        let _guard = logs.install();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let pid = dir.path().join("pid");
        let fake = dir.path().join("ldirectord");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"ldirectord $*\" >> {}\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bound = Duration::from_secs(1);
        let mut lanes = Lanes::new(Bounds {
            shell: bound,
            execute: bound,
        });
        let echo = |what: &str| Task::Shell(format!("echo {what} >> {}", log.display()));
        let t0 = Instant::now();
        lanes.send(Lane::Fallback(vip(80)), Task::Shell(hang(&log, &pid)));
        assert!(until_line(&log, "hang", Duration::from_secs(5))
            .await
            .is_some());
        lanes.send(Lane::Fallback(vip(80)), echo("next-in-lane"));
        lanes.send(Lane::Fallback(vip(81)), echo("other-virtual"));
        lanes.send(Lane::Callback, echo("callback"));
        lanes.send(
            Lane::Execute,
            Task::Ldirectord {
                program: fake.clone(),
                job: execute::Job {
                    name: "a.cf".into(),
                    command: execute::Command::Start,
                },
            },
        );
        // The other lanes do not wait for the hung command.
        for line in ["other-virtual", "callback", "ldirectord a.cf start"] {
            let at = until_line(&log, line, Duration::from_secs(3)).await;
            let at = at.unwrap_or_else(|| panic!("{line} did not run: {}", read(&log)));
            assert!(at - t0 < bound, "{line} waited for the hung command");
        }
        // Its own lane waits for the bound (and the group's end), no longer.
        let at = until_line(&log, "next-in-lane", Duration::from_secs(5)).await;
        let at = at.unwrap_or_else(|| panic!("the lane is stuck: {}", read(&log)));
        assert!(at - t0 >= bound, "the hung command was not waited for");
        assert!(at - t0 < bound + TERM_GRACE + Duration::from_secs(1));
        let sleeper = read(&pid);
        let ok = gone(sleeper.trim()).await;
        kill(&sleeper);
        assert!(ok, "the hung command's sleeper survived");
        let text = logs.text();
        assert!(
            text.contains(&format!(
                "system_timeout(1, {}) timed out, kill -TERM child",
                hang(&log, &pid)
            )),
            "{text}"
        );
        lanes.close(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn close_waits_for_the_lanes_then_kills_what_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let pid = dir.path().join("pid");
        let mut lanes = Lanes::new(Bounds {
            shell: Duration::from_secs(30),
            execute: Duration::from_secs(30),
        });
        lanes.send(
            Lane::Callback,
            Task::Shell(format!("echo done >> {}", log.display())),
        );
        lanes.send(Lane::Fallback(vip(80)), Task::Shell(hang(&log, &pid)));
        assert!(until_line(&log, "hang", Duration::from_secs(5))
            .await
            .is_some());
        let started = Instant::now();
        lanes.close(Duration::from_millis(500)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(read(&log).contains("done"));
        let sleeper = read(&pid);
        let ok = gone(sleeper.trim()).await;
        kill(&sleeper);
        assert!(ok, "a command still running at close survived");
    }

    #[tokio::test]
    async fn a_shell_command_sees_only_the_documented_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        run_shell(
            &format!("exec /usr/bin/env > {}", out.display()),
            Duration::from_secs(5),
        )
        .await;
        let mut seen: Vec<String> = read(&out)
            .lines()
            .filter(|l| !l.starts_with("PWD="))
            .map(str::to_string)
            .collect();
        seen.sort();
        let mut want: Vec<String> = process::ENVIRONMENT
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        want.sort();
        assert_eq!(seen, want);
    }
}
