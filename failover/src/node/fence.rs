//! Fencing this node when a resource cannot be stopped: the operator's choice
//! ([`SelfFence`], `director run --fence`) and carrying it out ([`fence_self`]).

use std::time::Duration;

use crate::fsm::FenceAction;

use super::NodeExit;

/// What to do to this node when a resource cannot be stopped after every retry.
///
/// `director run --fence ACTION` chooses it (its [`FromStr`](std::str::FromStr)); the default is
/// Heartbeat's (`ResourceManager:RecoverFromFailedStop`): reboot at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SelfFence {
    /// `reboot -nf` (then `init 6` if that cannot run), as Heartbeat's ResourceManager.
    #[default]
    Reboot,
    /// `poweroff -nf`.
    PowerOff,
    /// Log, stop sending heartbeats and end the node ([`NodeExit::Fenced`]): the peer takes
    /// over after deadtime while the stuck resource stays up here. For tests and for setups
    /// where a supervisor outside director fences the machine.
    Exit,
    /// Run this program (absolute path, then its arguments), then end the node as
    /// [`SelfFence::Exit`] does (e.g. a command that asks a power switch to cut this machine).
    Command(Vec<String>),
    /// Only log; the group stays "releasing" here and the peer never takes it.
    Ignore,
}

impl std::str::FromStr for SelfFence {
    type Err = String;

    /// `reboot`, `poweroff`, `exit`, `ignore`, or an absolute path with arguments
    /// (`/usr/local/sbin/fence-me --now`).
    fn from_str(text: &str) -> Result<SelfFence, String> {
        let text = text.trim();
        match text {
            "reboot" => Ok(SelfFence::Reboot),
            "poweroff" => Ok(SelfFence::PowerOff),
            "exit" => Ok(SelfFence::Exit),
            "ignore" => Ok(SelfFence::Ignore),
            cmd if cmd.starts_with('/') => Ok(SelfFence::Command(
                cmd.split_whitespace().map(str::to_string).collect(),
            )),
            other => Err(format!(
                "invalid fencing action [{other}]: reboot, poweroff, exit, ignore, or an \
                 absolute path to a command"
            )),
        }
    }
}

impl SelfFence {
    /// What the state machine is told (it only logs it).
    pub fn action(&self) -> FenceAction {
        match self {
            SelfFence::Reboot => FenceAction::Reboot,
            SelfFence::PowerOff => FenceAction::PowerOff,
            SelfFence::Exit => FenceAction::Exit,
            SelfFence::Command(_) => FenceAction::Command,
            SelfFence::Ignore => FenceAction::None,
        }
    }
}

pub(super) async fn fence_self(how: &SelfFence) -> Option<NodeExit> {
    let (prog, args): (&str, Vec<String>) = match how {
        SelfFence::Ignore => return None,
        SelfFence::Exit => {
            tracing::error!(
                "CRIT: fencing this node: the failover node stops (configured action: exit)"
            );
            return Some(NodeExit::Fenced);
        }
        SelfFence::Reboot => ("reboot", vec!["-nf".into()]),
        SelfFence::PowerOff => ("poweroff", vec!["-nf".into()]),
        SelfFence::Command(argv) => match argv.split_first() {
            Some((p, a)) => (p.as_str(), a.to_vec()),
            None => {
                tracing::error!("CRIT: fencing this node: empty fencing command; the node stops");
                return Some(NodeExit::Fenced);
            }
        },
    };
    let line = std::iter::once(prog.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::error!("CRIT: fencing this node: {line}");
    let run = tokio::process::Command::new(prog)
        .args(&args)
        .kill_on_drop(true)
        .status();
    let ok = match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(s)) if s.success() => true,
        Ok(Ok(s)) => {
            tracing::error!("fencing command {line} failed ({s})");
            false
        }
        Ok(Err(e)) => {
            tracing::error!("cannot run {line}: {e}");
            false
        }
        Err(_) => {
            tracing::error!("fencing command {line} did not finish within 60 s");
            false
        }
    };
    if !ok && matches!(how, SelfFence::Reboot) {
        // Heartbeat's fallback when reboot cannot run.
        if let Err(e) = tokio::process::Command::new("init").arg("6").status().await {
            tracing::error!("cannot run init 6: {e}");
        }
    }
    Some(NodeExit::Fenced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeOptions;

    #[test]
    fn fencing_actions_parse() {
        assert_eq!("reboot".parse::<SelfFence>(), Ok(SelfFence::Reboot));
        assert_eq!(" poweroff ".parse::<SelfFence>(), Ok(SelfFence::PowerOff));
        assert_eq!("exit".parse::<SelfFence>(), Ok(SelfFence::Exit));
        assert_eq!("ignore".parse::<SelfFence>(), Ok(SelfFence::Ignore));
        assert_eq!(
            "/usr/local/sbin/fence-me --now self".parse::<SelfFence>(),
            Ok(SelfFence::Command(vec![
                "/usr/local/sbin/fence-me".into(),
                "--now".into(),
                "self".into()
            ]))
        );
        let e = "halt".parse::<SelfFence>().err().unwrap_or_default();
        assert!(e.contains("invalid fencing action [halt]"), "{e}");
        assert!(
            "fence-me".parse::<SelfFence>().is_err(),
            "relative path accepted"
        );
        // Heartbeat reboots: so does the default.
        assert_eq!(NodeOptions::default().fence, SelfFence::Reboot);
        assert_eq!(SelfFence::default().action(), FenceAction::Reboot);
        assert_eq!(SelfFence::Ignore.action(), FenceAction::None);
    }

    #[tokio::test]
    async fn fencing_runs_the_configured_command_then_ends_the_node() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("fenced");
        let script = dir.path().join("fence-me");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$*\" > {}\n", out.display()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let how = SelfFence::Command(vec![script.display().to_string(), "self".into()]);
        assert_eq!(fence_self(&how).await, Some(NodeExit::Fenced));
        assert_eq!(
            std::fs::read_to_string(&out).ok().as_deref(),
            Some("self\n")
        );
        // A failing command still ends the node: it must stop claiming the group.
        let how = SelfFence::Command(vec![dir.path().join("missing").display().to_string()]);
        assert_eq!(fence_self(&how).await, Some(NodeExit::Fenced));
        assert_eq!(fence_self(&SelfFence::Exit).await, Some(NodeExit::Fenced));
        assert_eq!(fence_self(&SelfFence::Ignore).await, None);
    }
}
