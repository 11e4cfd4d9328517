//! `checktype=external` and `external-perl`: run `<checkcommand> <vip or fwmark> <vport> <rip>
//! <rport>`; exit status 0 = up, anything else = down. On timeout the child gets SIGTERM (as
//! ldirectord's `system_timeout`), then SIGKILL if it has not exited a second later, and so
//! does everything it started.
//!
//! ldirectord execs the command directly (no shell) and evaluates external-perl files inside
//! its own interpreter with `exit N` intercepted; here the Perl file runs as `perl <file>
//! <args>`, which gives the same arguments and exit codes. Differences from ldirectord: a child
//! killed by a signal is down (ldirectord's `$? >> 8` read it as 0, up); the child runs in its
//! own process group, which is signalled as a whole (ldirectord signals only the child, so
//! what it backgrounded lived on), and what it leaves running when it exits is killed; the
//! child gets a clean environment ([`crate::process::ENVIRONMENT`]), not the daemon's; Perl is
//! `/usr/bin/perl`, not whatever `perl` comes first in `PATH`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::ProbeError;
use crate::judge;
use crate::process::{self, Group};

/// How long a child gets between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// The interpreter of external-perl files, by absolute path (never looked up in `PATH`).
pub const PERL: &str = "/usr/bin/perl";

/// Run `cmd args...` with `timeout`.
pub async fn probe(cmd: &Path, args: &[String; 4], timeout: Duration) -> Result<(), ProbeError> {
    let mut command = Command::new(cmd);
    command.args(args);
    run(command, &display(cmd, args), timeout).await
}

/// Run the Perl file `file` with the same arguments, through [`PERL`].
pub async fn probe_perl(
    file: &Path,
    args: &[String; 4],
    timeout: Duration,
) -> Result<(), ProbeError> {
    let mut command = Command::new(PERL);
    command.arg(file).args(args);
    run(command, &display(file, args), timeout).await
}

fn display(cmd: &Path, args: &[String; 4]) -> String {
    format!("{} {}", cmd.display(), args.join(" "))
}

/// Runs the check in its own process group with the clean environment
/// ([`process::ENVIRONMENT`]). Whatever the check leaves behind when it exits is killed, and
/// on timeout the whole group gets SIGTERM, then SIGKILL after [`TERM_GRACE`]; a check that
/// is cancelled (its future dropped) has its group killed.
async fn run(mut command: Command, shown: &str, timeout: Duration) -> Result<(), ProbeError> {
    process::clean_environment(&mut command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut group = Group::spawn(&mut command)
        .map_err(|e| ProbeError::Unexpected(format!("exec({shown}) failed: {e}")))?;
    match group.wait_for(timeout).await {
        Some(status) => {
            group.kill();
            let status = status?;
            use std::os::unix::process::ExitStatusExt;
            judge::exit_status(status.code(), status.signal())
        }
        None => {
            tracing::warn!(
                "system_timeout({}, {shown}) timed out, kill -TERM child",
                timeout.as_secs()
            );
            group.terminate(TERM_GRACE).await;
            Err(ProbeError::Timeout)
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_types)] // these tests time real I/O on the wall clock
mod tests {
    use super::*;
    use crate::process::testing::*;

    fn args() -> [String; 4] {
        [
            "192.0.2.1".into(),
            "80".into(),
            "192.0.2.10".into(),
            "8080".into(),
        ]
    }

    #[tokio::test]
    async fn exit_zero_is_up_and_arguments_are_ldirectords() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let cmd = script(
            dir.path(),
            "ok",
            &format!("echo \"$#:$1:$2:$3:$4\" > {}\nexit 0", out.display()),
        );
        probe(&cmd, &args(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            "4:192.0.2.1:80:192.0.2.10:8080\n"
        );
    }

    #[tokio::test]
    async fn nonzero_is_down() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = script(dir.path(), "bad", "exit 3");
        let e = probe(&cmd, &args(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "exited with status 3");
    }

    #[tokio::test]
    async fn missing_command_is_down() {
        let e = probe(
            Path::new("/nonexistent/check"),
            &args(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().starts_with("exec("), "{e}");
    }

    #[tokio::test]
    async fn hung_command_is_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("terminated");
        let cmd = script(
            dir.path(),
            "hang",
            &format!(
                "trap 'touch {}; exit 1' TERM\nsleep 30 & wait",
                marker.display()
            ),
        );
        let started = std::time::Instant::now();
        let e = probe(&cmd, &args(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(e, ProbeError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(marker.exists(), "the child did not get SIGTERM");
    }

    #[tokio::test]
    async fn killed_by_signal_is_down() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = script(dir.path(), "killself", "kill -9 $$");
        let e = probe(&cmd, &args(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "killed by signal 9");
    }

    #[tokio::test]
    async fn perl_exit_codes_and_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.pl");
        std::fs::write(
            &ok,
            "exit(($#ARGV == 3 && $ARGV[2] eq '192.0.2.10') ? 0 : 1);\n",
        )
        .unwrap();
        probe_perl(&ok, &args(), Duration::from_secs(5))
            .await
            .unwrap();
        let fall_off = dir.path().join("falloff.pl");
        std::fs::write(&fall_off, "my $x = 1;\n").unwrap();
        probe_perl(&fall_off, &args(), Duration::from_secs(5))
            .await
            .unwrap();
        let dies = dir.path().join("dies.pl");
        std::fs::write(&dies, "die 'backend gone';\n").unwrap();
        assert!(probe_perl(&dies, &args(), Duration::from_secs(5))
            .await
            .is_err());
        let bad = dir.path().join("bad.pl");
        std::fs::write(&bad, "exit 2;\n").unwrap();
        assert!(probe_perl(&bad, &args(), Duration::from_secs(5))
            .await
            .is_err());
    }

    /// The documented environment, as `NAME=value` lines, sorted.
    fn documented() -> Vec<String> {
        let mut want: Vec<String> = process::ENVIRONMENT
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        want.sort();
        want
    }

    fn env_lines(file: &Path) -> Vec<String> {
        let mut seen: Vec<String> = std::fs::read_to_string(file)
            .unwrap()
            .lines()
            // the shell itself exports PWD
            .filter(|l| !l.starts_with("PWD="))
            .map(str::to_string)
            .collect();
        seen.sort();
        seen
    }

    #[tokio::test]
    async fn a_timed_out_check_leaves_no_process_of_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // No trap: the shell dies of SIGTERM at once; its sleepers must die with it.
        let cmd = script(dir.path(), "hang", &backgrounds_sleepers(&pids));
        let started = std::time::Instant::now();
        let e = probe(&cmd, &args(), Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(matches!(e, ProbeError::Timeout), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let sleepers = recorded_pids(&pids, 2);
        let ok = all_gone(&sleepers);
        cleanup(&sleepers);
        assert!(ok, "a process of the check's group survived its timeout");
    }

    #[tokio::test]
    async fn a_cancelled_check_leaves_no_process_of_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(dir.path(), "hang", &backgrounds_sleepers(&pids));
        // The runner drops a check that overran its deadline.
        let cut = tokio::time::timeout(
            Duration::from_millis(500),
            probe(&cmd, &args(), Duration::from_secs(30)),
        )
        .await;
        assert!(cut.is_err());
        let sleepers = recorded_pids(&pids, 2);
        let ok = all_gone(&sleepers);
        cleanup(&sleepers);
        assert!(ok, "a process of a cancelled check's group survived");
    }

    #[tokio::test]
    async fn what_a_finished_check_left_running_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let cmd = script(
            dir.path(),
            "leaves",
            &format!("sleep 30 & echo $! >> {}\nexit 0", pids.display()),
        );
        probe(&cmd, &args(), Duration::from_secs(5)).await.unwrap();
        let left = recorded_pids(&pids, 1);
        let ok = all_gone(&left);
        cleanup(&left);
        assert!(ok, "a check left a process running");
    }

    #[tokio::test]
    async fn a_check_sees_only_the_documented_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let cmd = script(
            dir.path(),
            "env",
            &format!("exec /usr/bin/env > {}", out.display()),
        );
        probe(&cmd, &args(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(env_lines(&out), documented());
    }

    #[tokio::test]
    async fn a_perl_check_runs_usr_bin_perl_with_the_documented_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let file = dir.path().join("env.pl");
        std::fs::write(
            &file,
            format!(
                "open(my $f, '>', '{}') or exit 1;\n\
                 print $f \"$_=$ENV{{$_}}\\n\" for sort keys %ENV;\n\
                 close($f); exit 0;\n",
                out.display()
            ),
        )
        .unwrap();
        probe_perl(&file, &args(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(env_lines(&out), documented());
        assert_eq!(PERL, "/usr/bin/perl");
    }
}
