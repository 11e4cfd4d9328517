//! Child processes that must not outlive their bound: external checks here, Heartbeat
//! resource scripts and respawn clients (failover), ldirectord's `fallbackcommand`,
//! `callback` and `execute=` runs (director).
//!
//! A [`Group`] is a child started as the leader of its own process group, so whatever it
//! forks or backgrounds can be signalled with it: [`Group::terminate`] sends SIGTERM to the
//! whole group, waits a grace period for it to empty, then sends SIGKILL. A `Group` dropped
//! before its leader was reaped (a cancelled check) kills the group, not just the leader as
//! tokio's `kill_on_drop` would. A child that calls `setsid` leaves the group on purpose
//! (a daemon started by a script) and is never touched.
//!
//! [`clean_environment`] gives a child a fixed, documented environment ([`ENVIRONMENT`])
//! instead of the daemon's own.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStdout, Command};

/// `PATH` of a child with a clean environment: systemd's default for services, which is what
/// ldirectord's children see when Debian's `ldirectord.service` starts it.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Every variable a child with a clean environment gets, and nothing else: `PATH` ([`PATH`]),
/// `LANG=C` (stable messages and number formats), and `PERLIO=perlio`, which ldirectord sets
/// for itself at start-up and so passes to every child (and which its external-perl checks,
/// run inside ldirectord, saw).
pub const ENVIRONMENT: [(&str, &str); 3] = [("PATH", PATH), ("LANG", "C"), ("PERLIO", "perlio")];

/// How often [`Group::terminate`] looks whether the group has emptied.
const POLL: Duration = Duration::from_millis(20);

/// How long [`Group::terminate`] waits for the leader after SIGKILL (a process stuck in the
/// kernel may not die at once; the group was signalled, nothing more can be done).
const REAP_AFTER_KILL: Duration = Duration::from_secs(1);

/// Replaces the environment `cmd` would inherit with [`ENVIRONMENT`].
pub fn clean_environment(cmd: &mut Command) -> &mut Command {
    cmd.env_clear().envs(ENVIRONMENT)
}

/// How a [`Group::terminate`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The group was gone within the grace period after SIGTERM.
    Terminated,
    /// Something was still there after the grace period: the group got SIGKILL.
    Killed,
}

/// A child leading its own process group.
#[derive(Debug)]
pub struct Group {
    child: Child,
    /// The group: the leader's pid.
    pgid: Option<Pid>,
    /// The leader was reaped or the group signalled to death: nothing to do on drop.
    settled: bool,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> io::Result<Group> {
        let child = cmd.process_group(0).kill_on_drop(true).spawn()?;
        let pgid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0)
            .map(Pid::from_raw);
        Ok(Group {
            child,
            pgid,
            settled: false,
        })
    }

    /// The leader's pid (also the group's id), while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The leader's stdout, if it was piped (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Waits for the leader to exit. What it left running in its group is left alone (see
    /// [`Group::kill`]).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        if status.is_ok() {
            self.settled = true;
        }
        status
    }

    /// Waits for the leader at most `limit`; `None` when it is still running (nothing is
    /// signalled: call [`Group::terminate`]).
    pub async fn wait_for(&mut self, limit: Duration) -> Option<io::Result<ExitStatus>> {
        tokio::time::timeout(limit, self.wait()).await.ok()
    }

    /// SIGKILL to the whole group now; after the leader exited, to the work it left behind.
    /// Linux does not reuse a pid while it is the id of a live process group, so this cannot
    /// reach an unrelated process.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        self.settled = true;
    }

    /// SIGTERM to the whole group; SIGKILL if the leader or any member is still there after
    /// `grace`. The leader is reaped.
    pub async fn terminate(&mut self, grace: Duration) -> Ended {
        let Some(pgid) = self.pgid else {
            let _ = self.child.start_kill();
            let _ = tokio::time::timeout(REAP_AFTER_KILL, self.child.wait()).await;
            self.settled = true;
            return Ended::Killed;
        };
        let _ = killpg(pgid, Signal::SIGTERM);
        let child = &mut self.child;
        let emptied = tokio::time::timeout(grace, async {
            let _ = child.wait().await;
            while group_alive(pgid) {
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        let ended = if emptied.is_ok() {
            Ended::Terminated
        } else {
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = tokio::time::timeout(REAP_AFTER_KILL, self.child.wait()).await;
            Ended::Killed
        };
        self.settled = true;
        ended
    }
}

/// Whether any process (a zombie included) is still in group `pgid`.
fn group_alive(pgid: Pid) -> bool {
    killpg(pgid, None).is_ok()
}

impl Drop for Group {
    /// A group dropped before its leader was reaped (its run was cancelled) is killed whole.
    fn drop(&mut self) {
        if !self.settled {
            self.kill();
        }
    }
}

/// Test helpers shared with the users of [`Group`] in this crate.
#[cfg(test)]
#[allow(clippy::disallowed_types)] // they time real processes on the wall clock
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// Writes an executable `#!/bin/sh` script.
    pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Shell lines that start two `sleep 30` in the background (in the script's group),
    /// record their pids in `pids`, and wait for them.
    pub fn backgrounds_sleepers(pids: &Path) -> String {
        format!(
            "sleep 30 & echo $! >> {p}\nsleep 30 & echo $! >> {p}\nwait",
            p = pids.display()
        )
    }

    /// Waits (at most 5 s) until `file` holds `n` lines of pids, and returns them.
    pub fn recorded_pids(file: &Path, n: usize) -> Vec<i32> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let pids: Vec<i32> = std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            if pids.len() >= n || Instant::now() > until {
                assert_eq!(pids.len(), n, "pids recorded in {}", file.display());
                return pids;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `pid` is gone (no such process, or a zombie waiting for its reaper).
    pub fn gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // "pid (comm) S ...": the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        }
    }

    /// Whether every pid is gone within 2 s (signals take a moment to be acted on).
    pub fn all_gone(pids: &[i32]) -> bool {
        let until = Instant::now() + Duration::from_secs(2);
        while !pids.iter().all(|p| gone(*p)) {
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// SIGKILL to whatever a failed test left behind.
    pub fn cleanup(pids: &[i32]) {
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_types)] // these tests time real I/O on the wall clock
mod tests {
    use super::testing::*;
    use super::*;
    use std::process::Stdio;

    fn command(path: &std::path::Path) -> Command {
        let mut cmd = Command::new(path);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    #[tokio::test]
    async fn terminate_reaches_what_the_child_backgrounded() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(dir.path(), "hang", &backgrounds_sleepers(&pids));
        let mut group = Group::spawn(&mut command(&cmd)).unwrap();
        let leader = group.id().and_then(|p| i32::try_from(p).ok()).unwrap();
        let sleepers = recorded_pids(&pids, 2);
        assert!(group.wait_for(Duration::from_millis(100)).await.is_none());
        let started = std::time::Instant::now();
        assert_eq!(
            group.terminate(Duration::from_secs(2)).await,
            Ended::Terminated
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let all: Vec<i32> = sleepers.iter().copied().chain([leader]).collect();
        let ok = all_gone(&all);
        cleanup(&all);
        assert!(ok, "a process of the group survived");
    }

    #[tokio::test]
    async fn a_member_ignoring_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(
            dir.path(),
            "stubborn",
            &format!("trap '' TERM\n{}", backgrounds_sleepers(&pids)),
        );
        let mut group = Group::spawn(&mut command(&cmd)).unwrap();
        let sleepers = recorded_pids(&pids, 2);
        let started = std::time::Instant::now();
        assert_eq!(
            group.terminate(Duration::from_millis(300)).await,
            Ended::Killed
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let ok = all_gone(&sleepers);
        cleanup(&sleepers);
        assert!(ok, "a process of the group survived SIGKILL");
    }

    #[tokio::test]
    async fn a_dropped_group_is_killed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(dir.path(), "hang", &backgrounds_sleepers(&pids));
        let group = Group::spawn(&mut command(&cmd)).unwrap();
        let sleepers = recorded_pids(&pids, 2);
        drop(group);
        let ok = all_gone(&sleepers);
        cleanup(&sleepers);
        assert!(ok, "a process of a dropped group survived");
    }

    #[tokio::test]
    async fn after_a_normal_exit_the_leftovers_stay_unless_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(
            dir.path(),
            "leaves",
            &format!("sleep 30 & echo $! >> {}\nexit 0", pids.display()),
        );
        let mut group = Group::spawn(&mut command(&cmd)).unwrap();
        let status = group.wait_for(Duration::from_secs(5)).await;
        assert!(matches!(status, Some(Ok(s)) if s.success()), "{status:?}");
        let left = recorded_pids(&pids, 1);
        assert!(!gone(left[0]), "wait must not touch what the child left");
        group.kill();
        let ok = all_gone(&left);
        cleanup(&left);
        assert!(ok, "kill did not reach the leftover");
        drop(group);
    }

    #[tokio::test]
    async fn a_clean_environment_is_exactly_the_documented_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let cmd = script(
            dir.path(),
            "env",
            &format!("exec /usr/bin/env > {}", out.display()),
        );
        let mut command = command(&cmd);
        clean_environment(&mut command);
        let mut group = Group::spawn(&mut command).unwrap();
        assert!(matches!(
            group.wait_for(Duration::from_secs(5)).await,
            Some(Ok(s)) if s.success()
        ));
        let mut seen: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            // the shell itself exports PWD
            .filter(|l| !l.starts_with("PWD="))
            .map(str::to_string)
            .collect();
        seen.sort();
        let mut want: Vec<String> = ENVIRONMENT
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        want.sort();
        assert_eq!(seen, want);
    }
}
