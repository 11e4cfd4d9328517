//! Each group's next move: probe results, acquire and release results (retries, fencing),
//! stray resources, and [`Fsm`]'s `reconcile`, which runs after every event.

use tokio::time::Instant;

use crate::packet::{GroupState, Kind, Phase};

use super::machine::log;
use super::owner::{Owner, Reason};
use super::watch::Pending;
use super::{Action, FenceAction, Fsm, GroupId, Level, NodePhase, PeerLife, ReleaseWhy, Role};

impl Fsm {
    pub(super) fn on_probed(
        &mut self,
        g: GroupId,
        running: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        match self.roles.get(g).copied() {
            Some(Role::Init { probed: None }) => self.set_role(
                g,
                Role::Init {
                    probed: Some(running),
                },
            ),
            Some(Role::Standby) if running => {
                // A periodic probe found resources of a group we do not hold.
                self.settle_found_running(g, now, out);
            }
            _ => {}
        }
    }

    pub(super) fn on_acquired(
        &mut self,
        g: GroupId,
        ok: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if self.roles.get(g) != Some(&Role::Acquiring) {
            return;
        }
        let key = self.key(g);
        if ok {
            log(out, Level::Info, format!("Resource group {key} acquired."));
            self.set_role(g, Role::Active);
            if let (Some(w), Some(p)) = (self.watches.get_mut(g), self.cfg.monitor) {
                w.next = Some(now + p.interval);
                w.pending = Pending::Nothing;
            }
            if !self.takeover.is_empty()
                && self
                    .takeover
                    .iter()
                    .all(|t| matches!(self.roles.get(*t), Some(Role::Active | Role::Failed { .. })))
            {
                log(out, Level::Info, "mach_down takeover complete.".into());
                self.takeover.clear();
            }
        } else {
            log(
                out,
                Level::Crit,
                format!("Giving up resources due to failure of {key}"),
            );
            self.set_role(
                g,
                Role::Releasing {
                    why: ReleaseWhy::AcquireFailed,
                    attempts: 0,
                    retry_at: None,
                },
            );
            out.push(Action::Release(g));
        }
    }

    pub(super) fn on_released(
        &mut self,
        g: GroupId,
        ok: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(Role::Releasing {
            why,
            attempts,
            retry_at: None,
        }) = self.roles.get(g).copied()
        else {
            return;
        };
        let key = self.key(g);
        if ok {
            match why {
                ReleaseWhy::Handover => {
                    log(
                        out,
                        Level::Info,
                        format!("{key}: HA resource release completed (standby)."),
                    );
                    self.set_role(g, Role::Standby);
                    self.mark(Kind::Released);
                }
                ReleaseWhy::Stray => {
                    log(
                        out,
                        Level::Info,
                        format!("Stray resources of group {key} stopped."),
                    );
                    self.set_role(g, Role::Standby);
                }
                ReleaseWhy::AcquireFailed | ReleaseWhy::MonitorFailed => {
                    if why == ReleaseWhy::MonitorFailed {
                        log(
                            out,
                            Level::Info,
                            format!("{key}: HA resource release completed (monitor failure)."),
                        );
                    }
                    self.set_role(
                        g,
                        Role::Failed {
                            until: now + self.cfg.failed_hold,
                        },
                    );
                    self.mark(Kind::Released);
                }
                ReleaseWhy::Shutdown => {
                    log(
                        out,
                        Level::Info,
                        format!("{key}: HA resource release completed (shutdown)."),
                    );
                    self.set_role(g, Role::Standby);
                    self.mark(Kind::Released);
                }
                ReleaseWhy::Removed => {
                    log(
                        out,
                        Level::Info,
                        format!("{key}: HA resource release completed (removed from haresources)."),
                    );
                    self.set_role(g, Role::Standby);
                    self.mark(Kind::Heartbeat);
                }
            }
            return;
        }
        let attempts = attempts + 1;
        if attempts < self.cfg.stop_retries {
            log(
                out,
                Level::Error,
                format!(
                    "Resource group {key} failed to stop (attempt {attempts} of {}): retrying",
                    self.cfg.stop_retries
                ),
            );
            self.set_role(
                g,
                Role::Releasing {
                    why,
                    attempts,
                    retry_at: Some(now + self.cfg.stop_retry_interval),
                },
            );
            return;
        }
        self.set_role(
            g,
            Role::Releasing {
                why,
                attempts,
                retry_at: None,
            },
        );
        match self.cfg.fence {
            FenceAction::None => log(
                out,
                Level::Crit,
                format!(
                    "Resource group {key} could not be stopped after {attempts} attempts and \
                     fencing is disabled: it stays here and the peer will not take it"
                ),
            ),
            action => {
                log(
                    out,
                    Level::Crit,
                    format!(
                        "Resource group {key} could not be stopped after {attempts} attempts: \
                         fencing this node ({})",
                        action.words()
                    ),
                );
                out.push(Action::FenceSelf(action));
                self.phase = NodePhase::Fenced;
            }
        }
    }

    /// Decides each group's next move from the current facts.
    pub(super) fn reconcile(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase == NodePhase::Init {
            let probed = self
                .roles
                .iter()
                .all(|r| !matches!(r, Role::Init { probed: None }));
            let peer_known = self
                .peer
                .as_ref()
                .is_none_or(|p| p.life != PeerLife::Unknown);
            if !(probed && peer_known && self.tracks_known()) {
                return;
            }
            log(
                out,
                Level::Info,
                "Initial resource probe complete: joining the cluster".into(),
            );
            self.phase = NodePhase::Running;
            self.mark(Kind::Heartbeat);
        }
        for g in 0..self.roles.len() {
            let Some(role) = self.roles.get(g).copied() else {
                continue;
            };
            if role == Role::Active && self.restarting(g) {
                continue; // decided once the restart has answered
            }
            if self.is_retired(g) {
                self.settle_retired(g, out);
                continue;
            }
            if matches!(self.phase, NodePhase::Stopping) {
                match role {
                    Role::Active | Role::Init { probed: Some(true) } => {
                        let why = if role == Role::Active {
                            ReleaseWhy::Shutdown
                        } else {
                            ReleaseWhy::Stray
                        };
                        self.release(g, why, out);
                    }
                    Role::Init { .. } => self.set_role(g, Role::Standby),
                    _ => {}
                }
                continue;
            }
            match role {
                Role::Init {
                    probed: Some(running),
                } => {
                    if self.blocked_by_retired(g) {
                        continue; // a group that left haresources still holds its resources
                    }
                    if self
                        .peer
                        .as_ref()
                        .is_some_and(|p| p.life == PeerLife::Alive && p.phase == Phase::Init)
                    {
                        continue; // decide once the peer's own probe is done
                    }
                    if running {
                        self.settle_found_running(g, now, out);
                    } else {
                        self.set_role(g, Role::Standby);
                        self.consider_acquire(g, out);
                    }
                }
                Role::Standby => self.consider_acquire(g, out),
                Role::Active => {
                    let (owner, reason) = self.desired(g);
                    let peer_holds = self.peer_state(g) == GroupState::Active && self.peer_alive();
                    let failback =
                        owner == Owner::Peer && reason == Reason::Preferred && !peer_holds;
                    if self.failback_held(g, failback, now, out) {
                        continue;
                    }
                    if owner == Owner::Peer {
                        let key = self.key(g);
                        let peer = self.peer_name();
                        let msg = if peer_holds {
                            format!(
                                "Both nodes hold resource group {key} (partition healed): giving it \
                                 up to {peer} ({})",
                                reason.words()
                            )
                        } else {
                            format!("give up HA resources {key} to {peer} ({}).", reason.words())
                        };
                        log(out, Level::Info, msg);
                        self.release(g, ReleaseWhy::Handover, out);
                    } else if peer_holds {
                        if !self.both_logged.get(g).copied().unwrap_or(true) {
                            let key = self.key(g);
                            log(
                                out,
                                Level::Crit,
                                format!(
                                    "Both nodes hold resource group {key} (partition healed): \
                                     keeping it here ({}); {} gives it up",
                                    reason.words(),
                                    self.peer_name()
                                ),
                            );
                            if let Some(b) = self.both_logged.get_mut(g) {
                                *b = true;
                            }
                        }
                    } else if let Some(b) = self.both_logged.get_mut(g) {
                        *b = false;
                    }
                }
                _ => {}
            }
        }
        if self.phase == NodePhase::Stopping {
            let done = self.roles.iter().all(|r| {
                matches!(
                    r,
                    Role::Standby
                        | Role::Failed { .. }
                        | Role::Init {
                            probed: Some(false) | None
                        }
                )
            });
            if done {
                log(out, Level::Info, "Heartbeat shutdown complete.".into());
                self.phase = NodePhase::Stopped;
                out.push(Action::Send(self.payload(Kind::Leaving)));
                out.push(Action::Exit);
                self.dirty = None;
            }
        }
    }

    /// The failback hold (`[failback] hold`): `failback` says the group held here would go
    /// back to its preferred node now. True while the hold, counted from the first time it
    /// could, keeps it here.
    fn failback_held(
        &mut self,
        g: GroupId,
        failback: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> bool {
        let hold = self.cfg.failback_hold;
        let Some(since) = self.failback_since.get_mut(g) else {
            return false;
        };
        if !failback || hold.is_zero() {
            *since = None;
            return false;
        }
        let start = *since.get_or_insert(now);
        if start == now {
            let (key, peer) = (self.key(g), self.peer_name());
            log(
                out,
                Level::Info,
                format!(
                    "{peer} can take resource group {key} back (preferred node in haresources): \
                     failback hold, it stays here for {}",
                    crate::config::settings::words(hold)
                ),
            );
        }
        now < start + hold
    }

    /// Resources of `g` are running here while we do not hold it: adopt if it is ours to
    /// hold and the peer does not have it, otherwise stop them.
    pub(super) fn settle_found_running(
        &mut self,
        g: GroupId,
        _now: Instant,
        out: &mut Vec<Action>,
    ) {
        let key = self.key(g);
        if self.is_retired(g) {
            self.release(g, ReleaseWhy::Removed, out);
            return;
        }
        if self.blocked_by_retired(g) {
            return; // a group that left haresources is still releasing these resources
        }
        let (owner, _) = self.desired(g);
        if owner == Owner::Local && self.peer_allows_acquire(g) {
            log(
                out,
                Level::Info,
                format!("Resource group {key} found running here: adopting it"),
            );
            self.set_role(g, Role::Acquiring);
            out.push(Action::Acquire(g));
        } else {
            let why = self.stray_reason(g);
            log(
                out,
                Level::Crit,
                format!("Resource group {key} is active, and should not be! Stopping it: {why}."),
            );
            self.release(g, ReleaseWhy::Stray, out);
        }
    }

    /// Why resources of `g` found running here must stop (for the log line).
    pub(super) fn stray_reason(&self, g: GroupId) -> String {
        let (owner, reason) = self.desired(g);
        let peer = self.peer_name();
        match owner {
            Owner::Peer => format!(
                "the group belongs to {peer} ({}), not to this node",
                reason.words()
            ),
            Owner::Local => match &self.peer {
                Some(p) if p.life == PeerLife::Alive && p.phase == Phase::Init => format!(
                    "{peer} is still starting and may hold it; this node takes it once {peer} \
                     has released it"
                ),
                Some(p) if p.life == PeerLife::Unknown => format!(
                    "{peer} has not been heard yet and may hold it; this node takes it once \
                     {peer} is known not to"
                ),
                Some(p) if p.life == PeerLife::Dead && p.reset_pending.is_some() => {
                    format!("{peer} may still hold it until STONITH has reset it")
                }
                _ => format!(
                    "{peer} holds it ({}); this node takes it once {peer} has released it",
                    state_words(self.peer_state(g))
                ),
            },
            Owner::Nobody => match self.roles.get(g) {
                Some(Role::Failed { .. }) => "it failed to start here".to_string(),
                _ if self.phase == NodePhase::Stopping => "this node is stopping".to_string(),
                _ => "this node does not own it".to_string(),
            },
        }
    }

    pub(super) fn consider_acquire(&mut self, g: GroupId, out: &mut Vec<Action>) {
        let (owner, reason) = self.desired(g);
        if owner != Owner::Local || !self.peer_allows_acquire(g) || self.blocked_by_retired(g) {
            return;
        }
        let key = self.key(g);
        if self.takeover.contains(&g) {
            log(
                out,
                Level::Info,
                format!("Taking over resource group {key}"),
            );
        } else {
            log(
                out,
                Level::Info,
                format!("Acquiring resource group {key} ({})", reason.words()),
            );
        }
        self.set_role(g, Role::Acquiring);
        out.push(Action::Acquire(g));
    }

    pub(super) fn release(&mut self, g: GroupId, why: ReleaseWhy, out: &mut Vec<Action>) {
        self.set_role(
            g,
            Role::Releasing {
                why,
                attempts: 0,
                retry_at: None,
            },
        );
        out.push(Action::Release(g));
    }

    pub(super) fn set_role(&mut self, g: GroupId, role: Role) {
        if role != Role::Active {
            // Results of a round still running are ignored from now on.
            if let Some(w) = self.watches.get_mut(g) {
                w.next = None;
                w.pending = Pending::Nothing;
            }
            // A failback hold counts only while the group stays here.
            if let Some(since) = self.failback_since.get_mut(g) {
                *since = None;
            }
        }
        if let Some(r) = self.roles.get_mut(g) {
            if *r != role {
                *r = role;
                self.mark(Kind::Heartbeat);
            }
        }
    }

    pub(super) fn key(&self, g: GroupId) -> String {
        self.cfg
            .groups
            .get(g)
            .map(|s| s.key.clone())
            .unwrap_or_default()
    }
}

fn state_words(s: GroupState) -> &'static str {
    match s {
        GroupState::Unknown => "state unknown",
        GroupState::Standby => "standby",
        GroupState::Acquiring => "acquiring",
        GroupState::Active => "active",
        GroupState::Releasing => "releasing",
        GroupState::Failed => "failed",
        GroupState::Cleaning => "stopping strays",
    }
}
