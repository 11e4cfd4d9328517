//! `respawn USER /path [ARGS]`: programs started with the node and kept running, as
//! Heartbeat's managed children (`heartbeat.c:start_a_child_client` / `ManagedChildDied`).
//!
//! - Each line's command runs as `/bin/sh -c "exec COMMAND"` as USER (and USER's primary
//!   group), in its own process group, stdin/stdout/stderr on `/dev/null`, with Heartbeat's
//!   `HA_*` environment (the `env` directives included).
//! - When it exits it is started again, unless it exited with status **100** or the node is
//!   stopping. A child that ran less than 30 s counts as a short run; after a short run the
//!   restart waits 1 s. After more than 10 short runs in a row the child is left dead and
//!   `Client CMD "respawning too fast"` is logged.
//! - When the node stops, the children are stopped in reverse order of ha.cf: SIGTERM to the
//!   process group, SIGKILL after a grace period.
//!
//! The decision is pure ([`Tracker::observe`], time as a parameter); [`Supervisor`] is the thin
//! process shell around it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use healthcheck::process::{Ended, Group};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::hacf::Respawn;
use crate::config::Diagnostic;

/// Heartbeat's respawn limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A run shorter than this is a short run (Heartbeat: 30 s).
    pub short_run: Duration,
    /// More short runs in a row than this and the child is not restarted (Heartbeat: 10).
    pub max_short_runs: u32,
    /// Pause before restarting after a short run (Heartbeat: 1 s).
    pub short_run_delay: Duration,
    /// At stop, how long a child has between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            short_run: Duration::from_secs(30),
            max_short_runs: 10,
            short_run_delay: Duration::from_secs(1),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// From the operating system's status.
    pub fn from_status(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(-1),
        }
    }
}

/// What to do after a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after `delay`.
    Restart { delay: Duration },
    /// It exited with 100: leave it dead.
    NotRespawned,
    /// Too many short runs in a row: leave it dead.
    TooFast,
    /// The node is stopping: leave it dead.
    Stopping,
}

/// The restart bookkeeping of one child.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    /// Short runs in a row.
    short_runs: u32,
    /// Restarts so far.
    restarts: u64,
}

impl Tracker {
    /// The child started at `started` ended at `now` with `exit`; `stopping` says whether the
    /// node is shutting down. Returns what to do.
    pub fn observe(
        &mut self,
        policy: &Policy,
        started: Instant,
        now: Instant,
        exit: Exit,
        stopping: bool,
    ) -> Decision {
        if stopping {
            return Decision::Stopping;
        }
        if exit == Exit::Code(100) {
            return Decision::NotRespawned;
        }
        if now.saturating_duration_since(started) < policy.short_run {
            self.short_runs += 1;
        } else {
            self.short_runs = 0;
        }
        if self.short_runs > policy.max_short_runs {
            self.short_runs = 0;
            return Decision::TooFast;
        }
        self.restarts += 1;
        let delay = if self.short_runs > 0 {
            policy.short_run_delay
        } else {
            Duration::ZERO
        };
        Decision::Restart { delay }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

/// The load-time checks Heartbeat makes on a `respawn` line (`config.c:add_client_child`):
/// the user exists and the program is an executable file. Reads the system (passwd, the
/// file), so it is not part of the pure ha.cf parser.
pub fn check(hacf_path: &Path, children: &[Respawn]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for c in children {
        if !matches!(nix::unistd::User::from_name(&c.user), Ok(Some(_))) {
            out.push(Diagnostic::error(
                hacf_path,
                c.line,
                format!(
                    "respawn: invalid uid [{}] specified for client child",
                    c.user
                ),
            ));
        }
        if !is_executable_file(&c.program) {
            out.push(Diagnostic::error(
                hacf_path,
                c.line,
                format!(
                    "respawn: client child command [{}] is not executable",
                    c.program.display()
                ),
            ));
        }
    }
    out
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The running `respawn` children of a node. Dropping it without [`Supervisor::stop`] kills
/// them (SIGKILL, no grace).
#[derive(Debug, Default)]
pub struct Supervisor {
    children: Vec<(String, oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Supervisor {
    /// Starts every child on the current tokio runtime, with `env` added to the environment.
    pub fn start(children: &[Respawn], env: &[(String, String)], policy: Policy) -> Supervisor {
        let children = children
            .iter()
            .map(|c| {
                let (stop_tx, stop_rx) = oneshot::channel();
                let task = tokio::spawn(supervise(c.clone(), env.to_vec(), policy, stop_rx));
                (c.command.clone(), stop_tx, task)
            })
            .collect();
        Supervisor { children }
    }

    /// How many children were configured.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether no child was configured.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Whether child `i` (ha.cf order) is still supervised (running, or waiting to restart).
    pub fn is_supervised(&self, i: usize) -> bool {
        self.children
            .get(i)
            .is_some_and(|(_, _, t)| !t.is_finished())
    }

    /// Stops the children in reverse order (SIGTERM, SIGKILL after the grace period), each
    /// before the next, and waits for them.
    pub async fn stop(mut self) {
        while let Some((command, stop, task)) = self.children.pop() {
            tracing::debug!(command = %command, "stopping respawn client");
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// One child's life: start, wait, decide, maybe start again; until told to stop.
async fn supervise(
    child: Respawn,
    env: Vec<(String, String)>,
    policy: Policy,
    mut stop: oneshot::Receiver<()>,
) {
    let cmd = child.command.as_str();
    let user = match nix::unistd::User::from_name(&child.user) {
        Ok(Some(u)) => u,
        _ => {
            tracing::error!(
                command = cmd,
                "Invalid uid [{}] specified for client child: \"{cmd}\" not started",
                child.user
            );
            return;
        }
    };
    let mut tracker = Tracker::default();
    loop {
        if !is_executable_file(&child.program) {
            tracing::error!(
                command = cmd,
                "Cannot (access) exec {}: \"{cmd}\" not started",
                child.program.display()
            );
            return;
        }
        let spawned = Group::spawn(
            tokio::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("exec {cmd}"))
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let mut proc = match spawned {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(command = cmd, "Cannot exec \"{cmd}\": {e}");
                return;
            }
        };
        let pid = proc.id().unwrap_or(0);
        tracing::info!(
            command = cmd,
            pid,
            "Starting child client \"{cmd}\" ({},{}) (pid {pid})",
            user.uid,
            user.gid
        );
        let started = Instant::now();
        let status = tokio::select! {
            s = proc.wait() => s,
            _ = &mut stop => {
                terminate(&mut proc, pid, policy.stop_grace, cmd).await;
                return;
            }
        };
        let exit = match status {
            Ok(s) => Exit::from_status(s),
            Err(e) => {
                tracing::error!(command = cmd, "cannot wait for \"{cmd}\": {e}");
                return;
            }
        };
        match exit {
            Exit::Code(c) => {
                tracing::warn!(
                    command = cmd,
                    pid,
                    code = c,
                    "Client {cmd} (pid={pid}) exited with return code {c}."
                )
            }
            Exit::Signal(s) => {
                tracing::warn!(
                    command = cmd,
                    pid,
                    signal = s,
                    "Client {cmd} (pid={pid}) killed by signal {s}."
                )
            }
        }
        match tracker.observe(&policy, started, Instant::now(), exit, false) {
            Decision::Restart { delay } => {
                tracing::warn!(command = cmd, "Respawning client \"{cmd}\":");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = &mut stop => return,
                }
            }
            Decision::NotRespawned => {
                tracing::info!(
                    command = cmd,
                    "Client \"{cmd}\" exited with return code 100: not respawning it"
                );
                return;
            }
            Decision::TooFast => {
                tracing::error!(command = cmd, "Client {cmd} \"respawning too fast\"");
                return;
            }
            Decision::Stopping => return,
        }
    }
}

/// SIGTERM to the child's process group, SIGKILL after `grace`.
async fn terminate(proc: &mut Group, pid: u32, grace: Duration, cmd: &str) {
    match proc.terminate(grace).await {
        Ended::Terminated => {
            tracing::info!(command = cmd, pid, "client \"{cmd}\" (pid {pid}) stopped")
        }
        Ended::Killed => tracing::warn!(
            command = cmd,
            pid,
            "client \"{cmd}\" (pid {pid}) still running {grace:?} after SIGTERM: killed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn policy() -> Policy {
        Policy::default()
    }

    #[test]
    fn restarts_until_too_many_short_runs_in_a_row() {
        let p = Policy {
            max_short_runs: 3,
            ..policy()
        };
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // A first short run: restart after the delay.
        for _ in 0..3 {
            assert_eq!(
                t.observe(&p, t0, t0 + s, Exit::Code(0), false),
                Decision::Restart {
                    delay: Duration::from_secs(1)
                }
            );
        }
        assert_eq!(
            t.observe(&p, t0, t0 + s, Exit::Code(1), false),
            Decision::TooFast
        );
        assert_eq!(t.restarts(), 3);
        // The count starts again after "too fast" (Heartbeat resets it).
        assert!(matches!(
            t.observe(&p, t0, t0 + s, Exit::Code(0), false),
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn a_long_run_resets_the_count_and_restarts_at_once() {
        let p = Policy {
            max_short_runs: 2,
            ..policy()
        };
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let short = t0 + Duration::from_secs(29);
        let long = t0 + Duration::from_secs(30);
        assert!(matches!(
            t.observe(&p, t0, short, Exit::Code(0), false),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            t.observe(&p, t0, short, Exit::Code(0), false),
            Decision::Restart { .. }
        ));
        assert_eq!(
            t.observe(&p, t0, long, Exit::Signal(9), false),
            Decision::Restart {
                delay: Duration::ZERO
            }
        );
        // Two more short runs are allowed again.
        assert!(matches!(
            t.observe(&p, t0, short, Exit::Code(0), false),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            t.observe(&p, t0, short, Exit::Code(0), false),
            Decision::Restart { .. }
        ));
        assert_eq!(
            t.observe(&p, t0, short, Exit::Code(0), false),
            Decision::TooFast
        );
    }

    #[test]
    fn exit_100_and_shutdown_are_not_respawned() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(100);
        assert_eq!(
            t.observe(&policy(), t0, later, Exit::Code(100), false),
            Decision::NotRespawned
        );
        assert_eq!(
            t.observe(&policy(), t0, later, Exit::Code(0), true),
            Decision::Stopping
        );
        // A signal is not an exit status: killed children are respawned.
        assert!(matches!(
            t.observe(&policy(), t0, later, Exit::Signal(100), false),
            Decision::Restart { .. }
        ));
        assert_eq!(t.restarts(), 1);
    }

    // Real processes from here on.

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            Fixture { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// An executable shell script `name` with `body`.
        fn script(&self, name: &str, body: &str) -> PathBuf {
            use std::os::unix::fs::PermissionsExt;
            let p = self.path(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
            p
        }

        fn lines(&self, name: &str) -> Vec<String> {
            std::fs::read_to_string(self.path(name))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    fn me() -> String {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "root".into())
    }

    fn respawn(user: &str, program: &Path, args: &str, line: usize) -> Respawn {
        Respawn {
            user: user.to_string(),
            command: format!("{} {args}", program.display()).trim().to_string(),
            program: program.to_path_buf(),
            line,
        }
    }

    fn fast() -> Policy {
        Policy {
            short_run: Duration::from_secs(30),
            max_short_runs: 3,
            short_run_delay: Duration::from_millis(20),
            stop_grace: Duration::from_secs(3),
        }
    }

    /// Polls `cond` every 10 ms for up to 10 s.
    async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        for _ in 0..1000 {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_child_that_keeps_exiting_is_restarted_until_too_fast() {
        let f = Fixture::new();
        let log = f.path("runs");
        let prog = f.script(
            "client",
            &format!("echo \"run $1\" >> {}\nexit 0", log.display()),
        );
        let s = Supervisor::start(&[respawn(&me(), &prog, "x", 1)], &[], fast());
        // 1 start + 3 restarts, then "respawning too fast": supervision ends.
        assert!(eventually(|| !s.is_supervised(0)).await, "still supervised");
        assert_eq!(f.lines("runs"), vec!["run x"; 4]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(f.lines("runs").len(), 4, "started again after too fast");
        s.stop().await;
    }

    #[tokio::test]
    async fn exit_100_is_not_restarted() {
        let f = Fixture::new();
        let log = f.path("runs");
        let prog = f.script(
            "client",
            &format!("echo run >> {}\nexit 100", log.display()),
        );
        let s = Supervisor::start(&[respawn(&me(), &prog, "", 1)], &[], fast());
        assert!(eventually(|| !s.is_supervised(0)).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(f.lines("runs"), vec!["run"]);
        s.stop().await;
    }

    #[tokio::test]
    async fn a_killed_child_is_restarted() {
        let f = Fixture::new();
        let pids = f.path("pids");
        let prog = f.script(
            "client",
            &format!("echo $$ >> {}\nexec sleep 30", pids.display()),
        );
        let s = Supervisor::start(&[respawn(&me(), &prog, "", 1)], &[], fast());
        assert!(eventually(|| f.lines("pids").len() == 1).await);
        let first: i32 = f.lines("pids")[0].parse().unwrap_or(0);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(first),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(
            eventually(|| f.lines("pids").len() == 2).await,
            "not restarted"
        );
        assert!(s.is_supervised(0));
        s.stop().await;
    }

    #[tokio::test]
    async fn stop_terminates_children_in_reverse_order_and_does_not_restart_them() {
        let f = Fixture::new();
        let log = f.path("log");
        let body = |name: &str| {
            format!(
                "echo \"start {name} $$\" >> {log}\ntrap 'echo \"stop {name}\" >> {log}; exit 0' TERM\n\
                 while :; do sleep 0.05; done",
                log = log.display()
            )
        };
        let a = f.script("a", &body("a"));
        let b = f.script("b", &body("b"));
        let s = Supervisor::start(
            &[respawn(&me(), &a, "", 1), respawn(&me(), &b, "", 2)],
            &[],
            fast(),
        );
        assert!(eventually(|| f.lines("log").len() == 2).await);
        let pids: Vec<i32> = f
            .lines("log")
            .iter()
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        s.stop().await;
        let lines = f.lines("log");
        let stops: Vec<&String> = lines.iter().filter(|l| l.starts_with("stop")).collect();
        assert_eq!(stops, vec!["stop b", "stop a"], "{lines:?}");
        // Gone, and nothing started again.
        for pid in pids {
            assert!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
                "pid {pid} still exists"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(f.lines("log").len(), 4, "{:?}", f.lines("log"));
    }

    #[tokio::test]
    #[allow(clippy::disallowed_types)] // times a real process on the wall clock
    async fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let f = Fixture::new();
        let pids = f.path("pids");
        let prog = f.script(
            "client",
            &format!(
                "trap '' TERM\necho $$ >> {}\nwhile :; do sleep 0.05; done",
                pids.display()
            ),
        );
        let policy = Policy {
            stop_grace: Duration::from_millis(300),
            ..fast()
        };
        let s = Supervisor::start(&[respawn(&me(), &prog, "", 1)], &[], policy);
        assert!(eventually(|| f.lines("pids").len() == 1).await);
        let pid: i32 = f.lines("pids")[0].parse().unwrap_or(0);
        let t = std::time::Instant::now();
        s.stop().await;
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err());
    }

    #[tokio::test]
    async fn runs_as_the_user_with_the_heartbeat_environment() {
        use std::os::unix::fs::PermissionsExt;
        let f = Fixture::new();
        // As root the child drops to nobody; otherwise it can only run as ourselves.
        let root = nix::unistd::getuid().is_root();
        let user = if root { "nobody".to_string() } else { me() };
        let want_uid = nix::unistd::User::from_name(&user)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
            .unwrap_or(u32::MAX);
        let out = f.path("out");
        std::fs::write(&out, "").unwrap_or_else(|e| panic!("{e}"));
        for (p, mode) in [(f.dir.path().to_path_buf(), 0o755), (out.clone(), 0o666)] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let prog = f.script(
            "client",
            &format!(
                "echo \"$(id -u) $HA_CURHOST $HA_FOO\" >> {}\nexit 100",
                out.display()
            ),
        );
        let env = vec![
            ("HA_CURHOST".to_string(), "ha01".to_string()),
            ("HA_FOO".to_string(), "bar".to_string()),
        ];
        let s = Supervisor::start(&[respawn(&user, &prog, "", 1)], &env, fast());
        assert!(eventually(|| !f.lines("out").is_empty()).await);
        assert_eq!(f.lines("out"), vec![format!("{want_uid} ha01 bar")]);
        s.stop().await;
    }

    #[test]
    fn load_checks_user_and_program() {
        let f = Fixture::new();
        let prog = f.script("ok", "exit 0");
        let not_exec = f.path("plain");
        std::fs::write(&not_exec, "x").unwrap_or_else(|e| panic!("{e}"));
        let cf = Path::new("/etc/ha.d/ha.cf");
        assert!(check(cf, &[respawn(&me(), &prog, "", 3)]).is_empty());
        let d: Vec<String> = check(
            cf,
            &[
                respawn("no-such-user-here", &prog, "", 4),
                respawn(&me(), &not_exec, "", 5),
                respawn(&me(), &f.path("missing"), "", 6),
            ],
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("/etc/ha.d/ha.cf:4: respawn: invalid uid [no-such-user-here]"));
        assert!(d[1].starts_with("/etc/ha.d/ha.cf:5: respawn: client child command"));
        assert!(d[2].contains(":6: respawn: client child command") && d[2].contains("missing"));
    }
}
