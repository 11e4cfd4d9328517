//! What we say: the Fsm's actions turned into Heartbeat's messages (`status`, `resource`,
//! the standby exchange, `hb_takeover`, `shutdone`), hand-over releases held back until the
//! peer agrees.

use tokio::time::Instant;

use super::{Exchange, Hold, Session, HISTORY};
use crate::fsm::{Action, Fsm, GroupId, NodePhase, ReleaseWhy, Role};
use crate::heartbeat::wire::HeartbeatMessage;
use crate::packet::{Kind, Phase};

impl Session {
    /// Turns the Fsm's actions into messages; returns the actions to carry out (without the
    /// `Send`s, and without releases held back for the standby exchange).
    pub fn outgoing(
        &mut self,
        actions: Vec<Action>,
        fsm: &Fsm,
        now: Instant,
        wall: u64,
    ) -> (Vec<Action>, Vec<HeartbeatMessage>) {
        let mut run = Vec::new();
        let mut send = Vec::new();
        if fsm.status().standby {
            self.track.standby = false;
        }
        let peer_here = fsm.peer_life() == Some(crate::fsm::PeerLife::Alive);
        if !peer_here && self.exchange != Exchange::None {
            // The peer died or left in the middle: nothing to wait for.
            self.exchange = Exchange::None;
            run.extend(self.held.drain(..).map(Action::Release));
        }
        for a in actions {
            match a {
                Action::Send(p) => {
                    match p.kind {
                        Kind::Takeover => {
                            let m = HeartbeatMessage::new()
                                .with("t", "hb_takeover")
                                .with("rsc_hold", "all");
                            send.push(self.control(m, true, wall));
                        }
                        Kind::Leaving => {
                            let m = HeartbeatMessage::new()
                                .with("t", "shutdone")
                                .with("st", "dead");
                            send.push(self.control(m, true, wall));
                            continue;
                        }
                        Kind::Heartbeat | Kind::Released => {}
                        // director's own protocol only: a Heartbeat peer has no such state
                        Kind::Shared => continue,
                    }
                    send.push(self.status_msg(fsm, p.phase, wall));
                }
                Action::Release(g) if self.handover(fsm, g) && peer_here => match self.exchange {
                    Exchange::Ours { granted: true, .. } => run.push(Action::Release(g)),
                    Exchange::Ours { .. } => self.held.push(g),
                    _ => {
                        let set = self.releasing_set(fsm);
                        self.exchange = Exchange::Ours {
                            set,
                            asked: now,
                            granted: false,
                        };
                        self.said_done_ours = false;
                        self.held.push(g);
                        send.push(self.standby_msg(set, "me", wall));
                    }
                },
                Action::Release(g)
                    if self.gave_up(fsm, g) && peer_here && self.exchange == Exchange::None =>
                {
                    // A failed start: the partly started resources are stopped at once, and
                    // the peer is asked to take the group through the standby exchange, the
                    // only way a Heartbeat node takes a group from a live one (Heartbeat runs
                    // hb_standby after its own failed start). `done` follows the release.
                    run.push(Action::Release(g));
                    let ours = self.ours.get(g).copied().unwrap_or(false);
                    let set = Hold::from_parts(ours, !ours);
                    self.exchange = Exchange::Ours {
                        set,
                        asked: now,
                        granted: false,
                    };
                    self.said_done_ours = false;
                    send.push(self.standby_msg(set, "me", wall));
                }
                other => run.push(other),
            }
        }
        if fsm.phase() == NodePhase::Stopping && !self.shutdown_sent {
            self.shutdown_sent = true;
            self.said = Some((Hold::None, false));
            send.push(self.resource_msg(Hold::None, false, Some("shutdown"), wall));
        }
        // The peer's standby: once we hold what it released, say `done`, then our holdings.
        if let Exchange::Theirs {
            set,
            released: true,
        } = self.exchange
        {
            let busy = (0..self.ours.len())
                .any(|g| matches!(fsm.role(g), Some(Role::Acquiring | Role::Releasing { .. })));
            if !busy {
                self.exchange = Exchange::None;
                send.push(self.standby_msg(set, "done", wall));
            }
        }
        // Our standby: once released, say so and `done`.
        if let Exchange::Ours {
            set, granted: true, ..
        } = self.exchange
        {
            let releasing = self.held.is_empty()
                && (0..self.ours.len())
                    .all(|g| !matches!(fsm.role(g), Some(Role::Releasing { .. })));
            if releasing && !self.said_done_ours {
                self.said_done_ours = true;
                let (hold, _) = self.ours_now(fsm);
                self.said = Some((hold, false));
                send.push(self.resource_msg(hold, false, Some("standby"), wall));
                send.push(self.standby_msg(set, "done", wall));
            }
        }
        if self.starting_sent && !self.shutdown_sent && self.track.generation.is_some() {
            let now_said = self.ours_now(fsm);
            let in_exchange = matches!(
                self.exchange,
                Exchange::Ours { granted: true, .. } | Exchange::Theirs { .. }
            );
            if self.said != Some(now_said) && !in_exchange {
                self.said = Some(now_said);
                send.push(self.resource_msg(now_said.0, now_said.1, None, wall));
            }
        }
        (run, send)
    }

    /// Is the Fsm releasing `g` for the peer to take it (handed over, or given up after
    /// its resources kept failing their monitor)? Heartbeat takes a group from a live node
    /// only through the standby exchange.
    pub(super) fn handover(&self, fsm: &Fsm, g: GroupId) -> bool {
        matches!(
            fsm.role(g),
            Some(Role::Releasing {
                why: ReleaseWhy::Handover | ReleaseWhy::MonitorFailed,
                ..
            })
        )
    }

    /// Is the Fsm cleaning up `g` after it failed to start here (so the peer should take it)?
    pub(super) fn gave_up(&self, fsm: &Fsm, g: GroupId) -> bool {
        matches!(
            fsm.role(g),
            Some(Role::Releasing {
                why: ReleaseWhy::AcquireFailed,
                ..
            })
        )
    }

    /// The groups being handed over, from our point of view.
    pub(super) fn releasing_set(&self, fsm: &Fsm) -> Hold {
        let mut local = false;
        let mut foreign = false;
        for (g, ours) in self.ours.iter().enumerate() {
            if self.handover(fsm, g) {
                if *ours {
                    local = true;
                } else {
                    foreign = true;
                }
            }
        }
        Hold::from_parts(local, foreign)
    }

    /// Our holdings and stability as Heartbeat should see them. A group whose release is
    /// held back (waiting for `other`) is still held and stable.
    pub(super) fn ours_now(&self, fsm: &Fsm) -> (Hold, bool) {
        let mut local = false;
        let mut foreign = false;
        let mut stable = fsm.phase() == NodePhase::Running;
        for (g, ours) in self.ours.iter().enumerate() {
            let held_back = self.held.contains(&g);
            let holds = match fsm.role(g) {
                Some(Role::Active) => true,
                // Not decided yet (waiting for the peer's holdings): found running here
                // counts as held. Not "in flux": two nodes each waiting for the other to be
                // stable would wait for ever (Heartbeat breaks that tie after 10 s).
                Some(Role::Init { probed }) => probed == Some(true),
                Some(Role::Acquiring) => {
                    stable = false;
                    true
                }
                Some(Role::Releasing { .. }) if held_back => true,
                Some(Role::Releasing { why, .. }) => {
                    stable = false;
                    why != ReleaseWhy::Stray
                }
                _ => false,
            };
            if holds {
                if *ours {
                    local = true;
                } else {
                    foreign = true;
                }
            }
        }
        (Hold::from_parts(local, foreign), stable)
    }

    /// May we answer the peer's `me` now (Heartbeat: neither side in flux)?
    pub(super) fn stable_here(&self, fsm: &Fsm) -> bool {
        self.ours_now(fsm).1 && self.held.is_empty()
    }

    pub(super) fn status_msg(&mut self, fsm: &Fsm, phase: Phase, wall: u64) -> HeartbeatMessage {
        let st = if phase == Phase::Init && self.track.generation.is_none() {
            "up"
        } else {
            "active"
        };
        let dt = fsm.config().deadtime.as_millis();
        let m = HeartbeatMessage::new()
            .with("t", "status")
            .with("st", st)
            .with("dt", format!("{dt:x}"))
            .with("protocol", "1");
        self.control(m, true, wall)
    }

    pub(super) fn resource_msg(
        &mut self,
        hold: Hold,
        stable: bool,
        info: Option<&str>,
        wall: u64,
    ) -> HeartbeatMessage {
        let mut m = HeartbeatMessage::new()
            .with("t", "resource")
            .with("rsc_hold", hold.word())
            .with("rtype", "full")
            .with("isstable", if stable { "1" } else { "0" });
        if let Some(i) = info {
            m = m.with("info", i);
        }
        self.control(m, true, wall)
    }

    pub(super) fn standby_msg(&mut self, set: Hold, info: &str, wall: u64) -> HeartbeatMessage {
        let m = HeartbeatMessage::new()
            .with("t", "ask_resources")
            .with("rsc_hold", set.word())
            .with("info", info);
        self.control(m, true, wall)
    }

    pub(super) fn directed(&self, kind: &str) -> HeartbeatMessage {
        HeartbeatMessage::new()
            .with("t", kind)
            .with("dest", self.peer.clone())
    }

    pub(super) fn with_destuuid(&self, m: HeartbeatMessage) -> HeartbeatMessage {
        match &self.track.uuid {
            Some(u) => m.with_bin("destuuid", u),
            None => m,
        }
    }

    /// Appends the control fields (`src srcuuid [seq] hg ts ttl`); sequenced messages get the
    /// next `seq` and are kept for retransmission.
    pub(super) fn control(
        &mut self,
        m: HeartbeatMessage,
        sequenced: bool,
        wall: u64,
    ) -> HeartbeatMessage {
        let mut m = m
            .with("src", self.id.node.clone())
            .with_bin("srcuuid", &self.id.uuid);
        if sequenced {
            self.seq += 1;
            m = m.with("seq", format!("{:x}", self.seq));
        }
        let m = m
            .with("hg", format!("{:x}", self.id.generation))
            .with("ts", format!("{wall:x}"))
            .with("ttl", self.ttl.to_string());
        if sequenced {
            self.history.push_back((self.seq, m.clone()));
            while self.history.len() > HISTORY {
                self.history.pop_front();
            }
        }
        m
    }
}
