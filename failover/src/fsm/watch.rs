//! Monitoring of held resources ([`crate::monitor`]): a round of status every interval,
//! restarts in place, and giving the group up when they keep failing.

use tokio::time::Instant;

use crate::monitor::{Tracker, Verdict};
use crate::packet::{GroupState, Phase};

use super::machine::log;
use super::{Action, Fsm, GroupId, Level, PeerLife, ReleaseWhy, Role};

/// Monitoring of one group while it is active here.
#[derive(Debug, Clone, Default)]
pub(super) struct Watch {
    /// When the next round is due (`None`: not scheduled).
    pub(super) next: Option<Instant>,
    /// What is being carried out now.
    pub(super) pending: Pending,
    /// Failures of each resource.
    pub(super) trackers: Vec<Tracker>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Pending {
    #[default]
    Nothing,
    Status,
    Restart,
}

impl Fsm {
    pub(super) fn on_monitored(
        &mut self,
        g: GroupId,
        failed: &[usize],
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(policy) = self.cfg.monitor else {
            return;
        };
        let current = self.roles.get(g) == Some(&Role::Active)
            && self
                .watches
                .get(g)
                .is_some_and(|w| w.pending == Pending::Status);
        if !current {
            return;
        }
        let names = self
            .cfg
            .groups
            .get(g)
            .map(|s| s.resources.clone())
            .unwrap_or_default();
        let name = |r: usize| names.get(r).cloned().unwrap_or_else(|| format!("#{r}"));
        let mut restart = Vec::new();
        let mut give_up = None;
        for &r in failed {
            let Some(t) = self.watches.get_mut(g).and_then(|w| w.trackers.get_mut(r)) else {
                continue;
            };
            match t.observe(&policy, now) {
                Verdict::Restart { attempt, of } => {
                    log(
                        out,
                        Level::Warn,
                        format!(
                            "Resource {} failed its monitor: restarting it ({attempt} of {of})",
                            name(r)
                        ),
                    );
                    restart.push(r);
                }
                Verdict::GiveUp { failures } => {
                    give_up.get_or_insert((r, failures));
                }
            }
        }
        if let Some((r, failures)) = give_up {
            let times = if failures == 1 { "time" } else { "times" };
            let within = crate::config::settings::words(policy.window);
            let to = self.give_up_to(g);
            log(
                out,
                Level::Crit,
                format!(
                    "Resource {} failed {failures} {times} in {within}: giving up the group {to}",
                    name(r)
                ),
            );
            self.release(g, ReleaseWhy::MonitorFailed, out);
            return;
        }
        let Some(w) = self.watches.get_mut(g) else {
            return;
        };
        if restart.is_empty() {
            w.pending = Pending::Nothing;
            w.next = Some(now + policy.interval);
        } else {
            w.pending = Pending::Restart;
            out.push(Action::Restart {
                group: g,
                resources: restart,
            });
        }
    }

    pub(super) fn on_restarted(
        &mut self,
        g: GroupId,
        ok: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(policy) = self.cfg.monitor else {
            return;
        };
        if self.roles.get(g) != Some(&Role::Active) || !self.restarting(g) {
            return;
        }
        let key = self.key(g);
        if ok {
            log(
                out,
                Level::Info,
                format!("Resource group {key}: restarted in place."),
            );
            if let Some(w) = self.watches.get_mut(g) {
                w.pending = Pending::Nothing;
                w.next = Some(now + policy.interval);
            }
        } else {
            let to = self.give_up_to(g);
            log(
                out,
                Level::Crit,
                format!("Resource group {key} could not be restarted: giving up the group {to}"),
            );
            self.release(g, ReleaseWhy::MonitorFailed, out);
        }
    }

    /// Where a group given up after monitor failures goes, in words for the log.
    pub(super) fn give_up_to(&self, g: GroupId) -> String {
        let peer_can = self.peer.as_ref().is_some_and(|p| {
            p.life == PeerLife::Alive
                && p.phase == Phase::Running
                && !matches!(
                    p.groups.get(g),
                    Some(GroupState::Failed | GroupState::Unknown) | None
                )
        });
        if peer_can {
            format!("to {}", self.peer_name())
        } else {
            "(no other node can take it now)".to_string()
        }
    }

    /// A restart of `g` is under way: nothing else is done to the group until it answers.
    pub(super) fn restarting(&self, g: GroupId) -> bool {
        self.watches
            .get(g)
            .is_some_and(|w| w.pending == Pending::Restart)
    }
}
