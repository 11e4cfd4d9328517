//! `checktype=external` and `external-perl`: run `<checkcommand> <vip or fwmark> <vport> <rip>
//! <rport>`; exit status 0 = up, anything else = down. On timeout the child gets SIGTERM (as
//! ldirectord's `system_timeout`), then SIGKILL if it has not exited a second later.
//!
//! ldirectord execs the command directly (no shell) and evaluates external-perl files inside
//! its own interpreter with `exit N` intercepted; here the Perl file runs as `perl <file>
//! <args>`, which gives the same arguments and exit codes. Differences from ldirectord: a child
//! killed by a signal is down (ldirectord's `$? >> 8` read it as 0, up).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::ProbeError;
use crate::judge;

/// How long a child gets between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// Run `cmd args...` with `timeout`.
pub async fn probe(cmd: &Path, args: &[String; 4], timeout: Duration) -> Result<(), ProbeError> {
    let mut command = Command::new(cmd);
    command.args(args);
    run(command, &display(cmd, args), timeout).await
}

/// Run the Perl file `file` with the same arguments, through `perl`.
pub async fn probe_perl(
    file: &Path,
    args: &[String; 4],
    timeout: Duration,
) -> Result<(), ProbeError> {
    let mut command = Command::new("perl");
    command.arg(file).args(args);
    run(command, &display(file, args), timeout).await
}

fn display(cmd: &Path, args: &[String; 4]) -> String {
    format!("{} {}", cmd.display(), args.join(" "))
}

async fn run(mut command: Command, shown: &str, timeout: Duration) -> Result<(), ProbeError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| ProbeError::Unexpected(format!("exec({shown}) failed: {e}")))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            let status = status?;
            use std::os::unix::process::ExitStatusExt;
            judge::exit_status(status.code(), status.signal())
        }
        Err(_) => {
            tracing::warn!(
                "system_timeout({}, {shown}) timed out, kill -TERM child",
                timeout.as_secs()
            );
            terminate(&mut child).await;
            Err(ProbeError::Timeout)
        }
    }
}

async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        if tokio::time::timeout(TERM_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

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
}
