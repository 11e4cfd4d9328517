//! The loop's hands for `[track]` and `[[notify]]`: a track checked once ([`check`]: a script
//! through `/bin/sh -c` within its timeout, or an interface's flags over rtnetlink), and the
//! notify commands run one at a time, in order ([`Notifier`]).

use std::process::Stdio;
use std::time::Duration;

use futures::TryStreamExt;
use healthcheck::process::Group;
use netlink_packet_route::link::LinkFlags;
use tokio::sync::mpsc;

use crate::config::settings::{Notify, Probe, Track};
use crate::fsm::Notice;

/// Runs `command` with `/bin/sh -c`, `args` as `$1`.. appended to it, within `limit`; the
/// whole process group is killed when the limit passes. Returns how it ended, in words for
/// the log (`None`: exit status 0).
pub(super) async fn run_sh(
    command: &str,
    args: &[String],
    env: &[(String, String)],
    limit: Duration,
) -> Option<String> {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{command} \"$@\""))
        .arg("director")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = match Group::spawn(&mut cmd) {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot run it: {e}")),
    };
    match child.wait_for(limit).await {
        Some(Ok(s)) if s.success() => None,
        Some(Ok(s)) => Some(match s.code() {
            Some(c) => format!("exited with status {c}"),
            None => format!("ended by a signal ({s})"),
        }),
        Some(Err(e)) => Some(format!("cannot wait for it: {e}")),
        None => {
            child.kill();
            Some(format!(
                "timed out after {}",
                crate::config::settings::words(limit)
            ))
        }
    }
}

/// A route netlink handle on `worker` when an interface is tracked; `None` otherwise (and
/// when netlink cannot be opened: logged, the interface tracks then fail).
pub(super) fn track_links(
    cfg: &super::NodeConfig,
    worker: &tokio::runtime::Handle,
) -> Option<rtnetlink::Handle> {
    if !cfg
        .settings
        .tracks
        .iter()
        .any(|t| t.probe == Probe::Interface)
    {
        return None;
    }
    let _rt = worker.enter();
    match rtnetlink::new_connection() {
        Ok((conn, handle, _)) => {
            worker.spawn(conn);
            Some(handle)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot open route netlink: tracked interfaces count as down");
            None
        }
    }
}

/// Checks one track once: true when it passes.
pub(super) async fn check(
    track: &Track,
    links: Option<&rtnetlink::Handle>,
    env: &[(String, String)],
) -> bool {
    match &track.probe {
        Probe::Script { command, timeout } => match run_sh(command, &[], env, *timeout).await {
            None => true,
            Some(why) => {
                tracing::debug!(track = %track.name, "{} failed: {why}", track.words());
                false
            }
        },
        Probe::Interface => {
            let Some(h) = links else { return false };
            let found: Result<Vec<_>, _> = h
                .link()
                .get()
                .match_name(track.name.clone())
                .execute()
                .try_collect()
                .await;
            // Up and running (carrier), as keepalived's IF_ISUP; a missing one is down.
            found
                .ok()
                .and_then(|l| l.into_iter().next())
                .is_some_and(|l| {
                    l.header.flags.contains(LinkFlags::Up)
                        && l.header.flags.contains(LinkFlags::Running)
                })
        }
    }
}

/// One notification: every matching `[[notify]]` command for one group's new role.
#[derive(Debug)]
struct Job {
    /// (command, its arguments, timeout)
    commands: Vec<(String, Vec<String>, Duration)>,
    env: Vec<(String, String)>,
}

/// Runs the notify commands one at a time, in the order the roles changed, off the loop.
pub(super) struct Notifier {
    tables: Vec<Notify>,
    env: Vec<(String, String)>,
    tx: Option<mpsc::UnboundedSender<Job>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Notifier {
    /// Starts the runner on `worker` (nothing when there is no `[[notify]]`).
    pub(super) fn new(
        tables: Vec<Notify>,
        env: Vec<(String, String)>,
        worker: &tokio::runtime::Handle,
    ) -> Notifier {
        let (tx, task) = if tables.is_empty() {
            (None, None)
        } else {
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let task = worker.spawn(async move {
                while let Some(job) = rx.recv().await {
                    for (command, args, limit) in &job.commands {
                        if let Some(why) = run_sh(command, args, &job.env, *limit).await {
                            tracing::warn!(command = %command, "notify command \"{command}\" {why}");
                        }
                    }
                }
            });
            (Some(tx), Some(task))
        };
        Notifier {
            tables,
            env,
            tx,
            task,
        }
    }

    /// Queues the commands for group `key` reaching `state`.
    pub(super) fn notify(&self, key: &str, state: Notice) {
        let Some(tx) = &self.tx else { return };
        let commands = commands(&self.tables, key, state);
        if commands.is_empty() {
            return;
        }
        tracing::info!(group = %key, "resource group {key}: {} (running notify commands)", state.word());
        let mut env = self.env.clone();
        env.push(("DIRECTOR_GROUP".into(), key.to_string()));
        env.push(("DIRECTOR_STATE".into(), state.word().to_string()));
        let _ = tx.send(Job { commands, env });
    }

    /// Waits until every queued command has run (each within its timeout).
    pub(super) async fn finish(&mut self) {
        self.tx = None;
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The commands of `tables` for group `key` reaching `state`, in file order: each table's
/// command for the state, then its `command` with `INSTANCE NAME STATE 0` (keepalived's).
fn commands(tables: &[Notify], key: &str, state: Notice) -> Vec<(String, Vec<String>, Duration)> {
    let mut out = Vec::new();
    for t in tables
        .iter()
        .filter(|t| t.group.as_deref().is_none_or(|g| g == key))
    {
        let specific = match state {
            Notice::Master => &t.master,
            Notice::Backup => &t.backup,
            Notice::Fault => &t.fault,
            Notice::Stop => &t.stop,
        };
        if let Some(c) = specific {
            out.push((c.clone(), Vec::new(), t.timeout));
        }
        if let Some(c) = &t.command {
            let name = t.name.clone().unwrap_or_else(|| key.to_string());
            let args = vec![
                "INSTANCE".to_string(),
                name,
                state.word().to_string(),
                "0".to_string(),
            ];
            out.push((c.clone(), args, t.timeout));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(group: Option<&str>) -> Notify {
        Notify {
            group: group.map(str::to_string),
            name: None,
            master: Some("/m".into()),
            backup: None,
            fault: Some("/f".into()),
            stop: None,
            command: Some("/all".into()),
            timeout: Duration::from_secs(1),
            line: 1,
        }
    }

    #[test]
    fn each_table_gives_its_state_command_then_the_generic_one_with_keepalived_arguments() {
        let mut named = table(Some("g2"));
        named.name = Some("VI_1".into());
        let tables = [table(None), named];
        let words = |c: &[(String, Vec<String>, Duration)]| {
            c.iter()
                .map(|(cmd, args, _)| format!("{cmd} {}", args.join(" ")).trim().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            words(&commands(&tables, "g1", Notice::Master)),
            ["/m", "/all INSTANCE g1 MASTER 0"]
        );
        assert_eq!(
            words(&commands(&tables, "g2", Notice::Fault)),
            [
                "/f",
                "/all INSTANCE g2 FAULT 0",
                "/f",
                "/all INSTANCE VI_1 FAULT 0"
            ]
        );
        assert_eq!(
            words(&commands(&tables, "g1", Notice::Backup)),
            ["/all INSTANCE g1 BACKUP 0"]
        );
    }

    /// The commands run one at a time in the order notified, even when an earlier one is
    /// slower, with the role as argument and in the environment; `finish` waits for them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn notify_commands_run_in_order_and_finish_waits_for_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("log");
        let hook = dir.path().join("hook");
        std::fs::write(
            &hook,
            format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
        )
        .unwrap_or_default();
        let _ = std::process::Command::new("chmod")
            .arg("755")
            .arg(&hook)
            .status();
        let table = Notify {
            group: None,
            name: Some("VI_1".into()),
            master: Some(format!(
                "sleep 0.2; echo \"m $DIRECTOR_STATE\" >> {}",
                log.display()
            )),
            backup: None,
            fault: None,
            stop: None,
            // A script: the arguments are appended to the command, as keepalived does.
            command: Some(hook.display().to_string()),
            timeout: Duration::from_secs(5),
            line: 1,
        };
        let mut n = Notifier::new(vec![table], Vec::new(), &tokio::runtime::Handle::current());
        n.notify("g1", Notice::Master);
        n.notify("g1", Notice::Fault);
        n.notify("g1", Notice::Stop);
        n.finish().await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            text,
            "m MASTER\nINSTANCE VI_1 MASTER 0\nINSTANCE VI_1 FAULT 0\nINSTANCE VI_1 STOP 0\n"
        );
    }

    #[tokio::test]
    async fn a_script_passes_on_status_0_and_is_killed_at_its_timeout() {
        let ms = Duration::from_millis;
        assert_eq!(run_sh("true", &[], &[], ms(2000)).await, None);
        assert_eq!(
            run_sh("exit \"$1\"", &["3".into()], &[], ms(2000))
                .await
                .as_deref(),
            Some("exited with status 3")
        );
        let t = tokio::time::Instant::now();
        assert_eq!(
            run_sh("sleep 5", &[], &[], ms(200)).await.as_deref(),
            Some("timed out after 200ms")
        );
        assert!(t.elapsed() < ms(2000));
        let env = [("X".to_string(), "7".to_string())];
        assert_eq!(run_sh("test \"$X\" = 7", &[], &env, ms(2000)).await, None);
    }
}
