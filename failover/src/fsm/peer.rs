//! The peer as this node sees it: what it last said ([`Fsm`]'s `on_heard`), its death after
//! a silent deadtime, and the STONITH reset before its groups are taken.

use std::time::Duration;

use tokio::time::Instant;

use crate::packet::{GroupState, Kind, Message, Phase};

use super::machine::log;
use super::{Action, Fsm, GroupId, Level, PeerLife};

#[derive(Debug, Clone)]
pub(super) struct PeerView {
    pub(super) name: String,
    pub(super) life: PeerLife,
    pub(super) last_heard: Option<Instant>,
    pub(super) generation: Option<u64>,
    pub(super) deadtime: Duration,
    pub(super) phase: Phase,
    pub(super) standby: bool,
    pub(super) ping: u16,
    /// The summed weight of its failing tracks.
    pub(super) track: u8,
    pub(super) groups: Vec<GroupState>,
    pub(super) digest_warned: bool,
    /// STONITH requested and not yet confirmed; retry at the instant if set.
    pub(super) reset_pending: Option<Option<Instant>>,
}

impl Fsm {
    pub(super) fn on_heard(&mut self, msg: Message, now: Instant, out: &mut Vec<Action>) {
        let keys: Vec<String> = self.cfg.groups.iter().map(|g| g.key.clone()).collect();
        let digest = self.cfg.config_digest;
        let deadtime = self.cfg.deadtime;
        let warntime = self.cfg.warntime;
        let Some(p) = self.peer.as_mut() else { return };
        if msg.node != p.name {
            return;
        }
        let pl = &msg.payload;
        // The first message of a (re)started peer gets an immediate answer, so it learns our
        // state without waiting a keepalive. Bounded: only once per peer generation.
        let first_of_generation = p.life != PeerLife::Alive || p.generation != Some(msg.generation);
        match p.life {
            PeerLife::Alive => {
                if let Some(last) = p.last_heard {
                    let interval = now.saturating_duration_since(last);
                    if interval > warntime {
                        log(
                            out,
                            Level::Warn,
                            format!(
                                "Late heartbeat: Node {}: interval {} ms",
                                p.name,
                                interval.as_millis()
                            ),
                        );
                    }
                }
                if p.generation.is_some_and(|g| g != msg.generation) {
                    log(
                        out,
                        Level::Info,
                        format!("Heartbeat restart on node {}", p.name),
                    );
                }
            }
            PeerLife::Dead | PeerLife::Gone => {
                if p.generation == Some(msg.generation) && p.life == PeerLife::Dead {
                    log(
                        out,
                        Level::Crit,
                        format!("Cluster node {} returning after partition.", p.name),
                    );
                } else {
                    log(
                        out,
                        Level::Info,
                        format!("Heartbeat restart on node {}", p.name),
                    );
                }
                p.reset_pending = None;
            }
            PeerLife::Unknown => {
                log(out, Level::Info, format!("Link {} up.", p.name));
            }
        }
        if p.life != PeerLife::Alive || p.phase != pl.phase {
            let word = match pl.phase {
                Phase::Init => "init",
                Phase::Running => "active",
                Phase::Stopping => "stopping",
            };
            log(
                out,
                Level::Info,
                format!("Status update for node {}: status {word}", p.name),
            );
        }
        if pl.config_digest != digest && !p.digest_warned {
            log(
                out,
                Level::Error,
                format!(
                    "haresources differs between this node and {}: the file must be identical \
                     on both nodes",
                    p.name
                ),
            );
            p.digest_warned = true;
        } else if pl.config_digest == digest {
            p.digest_warned = false;
        }
        p.life = PeerLife::Alive;
        p.last_heard = Some(now);
        p.generation = Some(msg.generation);
        p.deadtime = if pl.deadtime_ms == 0 {
            deadtime
        } else {
            Duration::from_millis(u64::from(pl.deadtime_ms))
        };
        p.phase = pl.phase;
        p.standby = pl.standby;
        p.ping = pl.ping_reachable;
        p.track = pl.track_fault;
        p.groups = keys
            .iter()
            .map(|k| {
                pl.groups
                    .iter()
                    .find(|g| g.key == *k)
                    .map_or(GroupState::Unknown, |g| g.state)
            })
            .collect();
        let name = p.name.clone();
        if first_of_generation {
            self.mark(Kind::Heartbeat);
        }
        match pl.kind {
            // The node's loop takes the shared state out before the machine sees a message.
            Kind::Heartbeat | Kind::Shared => {}
            Kind::Released => log(
                out,
                Level::Info,
                format!("{name}: remote resource release completed."),
            ),
            Kind::Takeover => {
                log(
                    out,
                    Level::Info,
                    format!("{name} wants to take over: going standby [all]"),
                );
                self.standby = true;
                self.mark(Kind::Heartbeat);
            }
            Kind::Leaving => {
                log(
                    out,
                    Level::Info,
                    format!("Received shutdown notice from '{name}'."),
                );
                if let Some(p) = self.peer.as_mut() {
                    p.life = PeerLife::Gone;
                }
            }
        }
    }

    pub(super) fn declare_dead(&mut self, out: &mut Vec<Action>) {
        let stonith = self.cfg.stonith;
        let Some(p) = self.peer.as_mut() else { return };
        log(out, Level::Warn, format!("node {}: is dead", p.name));
        let never_heard = p.life == PeerLife::Unknown;
        p.life = PeerLife::Dead;
        let held: Vec<GroupId> = p
            .groups
            .iter()
            .enumerate()
            .filter(|(_, s)| never_heard || !matches!(s, GroupState::Standby | GroupState::Failed))
            .map(|(i, _)| i)
            .collect();
        p.groups = vec![GroupState::Unknown; p.groups.len()];
        if held.is_empty() {
            return;
        }
        let name = p.name.clone();
        if stonith {
            log(
                out,
                Level::Info,
                format!("Resetting node {name} with STONITH before takeover"),
            );
            p.reset_pending = Some(None);
            out.push(Action::ResetPeer(name.clone()));
        } else {
            log(out, Level::Warn, "No STONITH device configured.".into());
            log(out, Level::Warn, "Shared disks are not protected.".into());
        }
        log(
            out,
            Level::Info,
            format!("Resources being acquired from {name}."),
        );
        self.takeover = held;
    }

    pub(super) fn on_peer_reset(&mut self, ok: bool, now: Instant, out: &mut Vec<Action>) {
        let retry = self.cfg.stonith_retry;
        let Some(p) = self.peer.as_mut() else { return };
        if p.reset_pending.is_none() {
            return;
        }
        if ok {
            log(out, Level::Info, format!("node {} now reset.", p.name));
            p.reset_pending = None;
        } else {
            log(
                out,
                Level::Error,
                format!(
                    "STONITH of {} failed.  Retrying... (no takeover until it is reset)",
                    p.name
                ),
            );
            p.reset_pending = Some(Some(now + retry));
        }
    }

    pub(super) fn peer_name(&self) -> String {
        self.peer
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    pub(super) fn peer_alive(&self) -> bool {
        self.peer
            .as_ref()
            .is_some_and(|p| p.life == PeerLife::Alive)
    }

    pub(super) fn peer_state(&self, g: GroupId) -> GroupState {
        self.peer
            .as_ref()
            .and_then(|p| p.groups.get(g).copied())
            .unwrap_or(GroupState::Unknown)
    }

    /// May we start `g` without the peer also having it?
    pub(super) fn peer_allows_acquire(&self, g: GroupId) -> bool {
        let Some(p) = &self.peer else { return true };
        match p.life {
            PeerLife::Dead => p.reset_pending.is_none(),
            PeerLife::Gone => true,
            PeerLife::Unknown => false,
            PeerLife::Alive => {
                p.phase != Phase::Init
                    && matches!(
                        p.groups.get(g),
                        Some(GroupState::Standby | GroupState::Failed)
                    )
            }
        }
    }
}
