//! Who should hold a group (the rule of the module documentation), and the operator's
//! standby / takeover that feed it.

use crate::config::hacf::AutoFailback;
use crate::packet::{GroupState, Kind, Phase};

use super::machine::log;
use super::{Action, Fsm, GroupId, Level, NodePhase, PeerLife, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Local,
    Peer,
    Nobody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    OnlyCandidate,
    Standby,
    Track,
    PingNodes,
    Holder,
    Preferred,
}

impl Reason {
    pub(super) fn words(self) -> &'static str {
        match self {
            Reason::OnlyCandidate => "the only node able to hold it",
            Reason::Standby => "operator standby",
            Reason::Track => "failing track scripts or interfaces",
            Reason::PingNodes => "better ping node connectivity (ipfail)",
            Reason::Holder => "auto_failback off: the holder keeps it",
            Reason::Preferred => "preferred node in haresources",
        }
    }
}

impl Fsm {
    /// The rule of the module documentation.
    pub(super) fn desired(&self, g: GroupId) -> (Owner, Reason) {
        if self.is_retired(g) {
            return (Owner::Nobody, Reason::OnlyCandidate);
        }
        let role = self.roles.get(g).copied();
        let local_ok =
            self.phase == NodePhase::Running && !matches!(role, Some(Role::Failed { .. }));
        let peer = self.peer.as_ref().filter(|p| {
            p.life == PeerLife::Alive
                && p.phase == Phase::Running
                && !matches!(
                    p.groups.get(g),
                    Some(GroupState::Failed | GroupState::Unknown) | None
                )
        });
        let Some(p) = peer else {
            return if local_ok {
                (Owner::Local, Reason::OnlyCandidate)
            } else {
                (Owner::Nobody, Reason::OnlyCandidate)
            };
        };
        if !local_ok {
            return (Owner::Peer, Reason::OnlyCandidate);
        }
        if self.standby != p.standby {
            return if self.standby {
                (Owner::Peer, Reason::Standby)
            } else {
                (Owner::Local, Reason::Standby)
            };
        }
        let track = self.track_fault();
        if track != p.track {
            return if track < p.track {
                (Owner::Local, Reason::Track)
            } else {
                (Owner::Peer, Reason::Track)
            };
        }
        if self.cfg.ping_nodes > 0 && self.ping != p.ping {
            return if self.ping > p.ping {
                (Owner::Local, Reason::PingNodes)
            } else {
                (Owner::Peer, Reason::PingNodes)
            };
        }
        if self.cfg.auto_failback == AutoFailback::Off {
            let local_holds = matches!(role, Some(Role::Acquiring | Role::Active));
            let peer_holds = matches!(
                p.groups.get(g),
                Some(GroupState::Acquiring | GroupState::Active)
            );
            if local_holds != peer_holds {
                return if local_holds {
                    (Owner::Local, Reason::Holder)
                } else {
                    (Owner::Peer, Reason::Holder)
                };
            }
        }
        let preferred = self
            .cfg
            .groups
            .get(g)
            .map(|s| s.preferred.as_str())
            .unwrap_or_default();
        let local_wins = if preferred == self.cfg.local {
            true
        } else if preferred == p.name {
            false
        } else {
            // Preferred node is neither of us (config check forbids it): lower name wins.
            self.cfg.local < p.name
        };
        if local_wins {
            (Owner::Local, Reason::Preferred)
        } else {
            (Owner::Peer, Reason::Preferred)
        }
    }

    pub(super) fn on_standby(&mut self, out: &mut Vec<Action>) {
        if self.standby {
            return;
        }
        let peer_up = self
            .peer
            .as_ref()
            .is_some_and(|p| p.life == PeerLife::Alive && p.phase == Phase::Running);
        if !peer_up {
            log(
                out,
                Level::Warn,
                "Standby request refused: no other node is active.".into(),
            );
            return;
        }
        log(
            out,
            Level::Info,
            format!("{} wants to go standby [all]", self.cfg.local),
        );
        self.standby = true;
        self.mark(Kind::Heartbeat);
    }

    pub(super) fn on_takeover(&mut self, out: &mut Vec<Action>) {
        self.standby = false;
        match &self.peer {
            Some(p) if p.life == PeerLife::Alive => {
                log(
                    out,
                    Level::Info,
                    format!("takeover: asking {} to go standby [all]", p.name),
                );
                self.mark(Kind::Takeover);
            }
            _ => self.mark(Kind::Heartbeat),
        }
    }
}
