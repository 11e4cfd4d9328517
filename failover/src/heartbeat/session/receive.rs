//! What the peer says: each message checked (generation, sequence, retransmissions) and
//! turned into what the Fsm hears, a [`Message`] synthesized from the peer's last words.

use tokio::time::Instant;

use super::{Exchange, Hold, Outcome, PeerTrack, Rejection, Session, MAX_MISSING};
use crate::fsm::{Action, Event, Fsm, NodePhase};
use crate::heartbeat::wire::HeartbeatMessage;
use crate::packet::{GroupState, GroupStatus, Kind, Message, Payload, Phase};

impl Session {
    /// Checks and interprets one authentic message (`source_allowed`: its source address
    /// fits its medium). `fsm` is the state machine before the message is fed to it.
    pub fn receive(
        &mut self,
        msg: &HeartbeatMessage,
        source_allowed: bool,
        fsm: &Fsm,
        now: Instant,
        wall: u64,
    ) -> Result<Outcome, Rejection> {
        let src = msg.get("src").ok_or(Rejection::Missing("src"))?;
        let kind = msg.kind().ok_or(Rejection::Missing("t"))?.to_string();
        if src == self.id.node {
            return Err(Rejection::Own);
        }
        if src != self.peer {
            return Err(Rejection::UnknownNode(src.to_string()));
        }
        if !source_allowed {
            return Err(Rejection::Source {
                node: src.to_string(),
            });
        }
        let generation = msg.hex("hg").ok_or(Rejection::Missing("hg"))?;
        let mut out = Outcome::default();
        match self.track.generation {
            Some(g) if generation < g => {
                return Err(Rejection::OldGeneration {
                    node: self.peer.clone(),
                    generation,
                    current: g,
                })
            }
            Some(g) if generation == g => {}
            _ => self.restarted(generation),
        }
        if let Some(dest) = msg.get("dest") {
            if dest != self.id.node {
                return Err(Rejection::NotForUs(dest.to_string()));
            }
        }
        if let Some(uuid) = msg.get_bin("srcuuid") {
            self.track.uuid = Some(uuid.to_vec());
        }
        if !kind.starts_with("NS_") {
            let seq = msg.hex("seq").ok_or(Rejection::Missing("seq"))?;
            self.sequence(seq, generation, wall, &mut out)?;
        }
        let mut payload_kind = Kind::Heartbeat;
        match kind.as_str() {
            "status" => {
                if let Some(dt) = msg.hex("dt") {
                    self.track.deadtime_ms = u32::try_from(dt).unwrap_or(u32::MAX);
                }
            }
            "NS_rexmit" => {
                let first = msg.decimal("firstseq").unwrap_or(0);
                let last = msg.decimal("lastseq").unwrap_or(first).min(first + 50);
                for s in first..=last {
                    let kept = self
                        .history
                        .iter()
                        .find(|(q, _)| *q == s)
                        .map(|(_, m)| m.clone());
                    match kept {
                        Some(m) => out.send.push(m),
                        None => {
                            let nak = self
                                .directed("NS_nak_rexmit")
                                .with("firstseq", format!("{s:x}"))
                                .with("info", "not in history");
                            out.send.push(self.control(nak, false, wall));
                        }
                    }
                }
                return Ok(out);
            }
            "reqnodes" => {
                let list: String = self.nodes.iter().map(|n| format!("{n} ")).collect();
                let rep = HeartbeatMessage::new()
                    .with("dest", self.peer.clone())
                    .with("t", "repnodes")
                    .with("nodelist", list)
                    .with("delnodelist", " ");
                let rep = self.with_destuuid(rep);
                out.send.push(self.control(rep, true, wall));
            }
            "starting" => {
                // It (re)joins: it holds nothing it will keep, and waits for our holdings.
                self.track.hold = None;
                self.track.stable = false;
                let (hold, stable) = self.ours_now(fsm);
                self.said = Some((hold, stable));
                out.send.push(self.resource_msg(hold, stable, None, wall));
            }
            "resource" => {
                let hold = msg
                    .get("rsc_hold")
                    .and_then(Hold::parse)
                    .ok_or(Rejection::Missing("rsc_hold"))?;
                let full = msg.get("rtype") == Some("full");
                let before_hold = self.track.hold;
                self.track.hold = Some(match (full, self.track.hold) {
                    (false, Some(before)) if hold != Hold::None => Hold::from_parts(
                        hold.covers(true) || before.covers(true),
                        hold.covers(false) || before.covers(false),
                    ),
                    _ => hold,
                });
                if let Some(s) = msg.get("isstable") {
                    self.track.stable = s == "1";
                }
                if msg.get("info") == Some("shutdown") {
                    self.track.stopping = true;
                    self.track.releasing = Some(before_hold.unwrap_or(Hold::All));
                }
            }
            "ask_resources" => {
                let set = msg
                    .get("rsc_hold")
                    .and_then(Hold::parse)
                    .unwrap_or(Hold::All);
                match (msg.get("info"), self.exchange.clone()) {
                    (Some("me"), Exchange::None) if self.stable_here(fsm) => {
                        // It wants to go standby: agree, and wait for its `done`.
                        self.exchange = Exchange::Theirs {
                            set,
                            released: false,
                        };
                        self.track.stable = false;
                        out.send.push(self.standby_msg(set, "other", wall));
                    }
                    (
                        Some("done"),
                        Exchange::Theirs {
                            released: false, ..
                        },
                    ) => {
                        self.exchange = Exchange::Theirs {
                            set,
                            released: true,
                        };
                        let before = self.track.hold.unwrap_or(Hold::None);
                        self.track.hold = Some(before.without(set));
                        self.track.stable = true;
                        self.track.standby = true;
                        payload_kind = Kind::Released;
                    }
                    (
                        Some("other"),
                        Exchange::Ours {
                            set,
                            granted: false,
                            ..
                        },
                    ) => {
                        self.exchange = Exchange::Ours {
                            set,
                            asked: now,
                            granted: true,
                        };
                        out.run.extend(self.held.drain(..).map(Action::Release));
                    }
                    (Some("done"), Exchange::Ours { granted: true, .. }) => {
                        // It has acquired what we released.
                        self.exchange = Exchange::None;
                        let (hold, stable) = self.ours_now(fsm);
                        self.said = Some((hold, stable));
                        out.send.push(self.resource_msg(hold, stable, None, wall));
                    }
                    _ => {}
                }
            }
            "hb_takeover" => {
                self.track.standby = false;
                payload_kind = Kind::Takeover;
            }
            "shutdone" => {
                self.track.hold = Some(Hold::None);
                self.track.stable = true;
                self.track.stopping = true;
                self.track.releasing = None;
                self.exchange = Exchange::None;
                payload_kind = Kind::Leaving;
            }
            // NS_ackmsg, NS_nak_rexmit, repnodes, stonith, ip-request-resp, and anything else:
            // they change nothing here (they still refreshed the sequence tracking).
            _ => return Ok(out),
        }
        if !self.starting_sent && fsm.phase() != NodePhase::Created {
            self.starting_sent = true;
            let starting = HeartbeatMessage::new().with("t", "starting");
            out.send.push(self.control(starting, true, wall));
        }
        out.event = Some(Event::Heard(self.synthesize(fsm, generation, payload_kind)));
        Ok(out)
    }

    pub(super) fn restarted(&mut self, generation: u64) {
        self.track = PeerTrack {
            generation: Some(generation),
            uuid: self.track.uuid.take(),
            ..PeerTrack::default()
        };
        if self.exchange != Exchange::None {
            self.exchange = Exchange::None;
        }
        self.said = None;
    }

    pub(super) fn sequence(
        &mut self,
        seq: u64,
        generation: u64,
        wall: u64,
        out: &mut Outcome,
    ) -> Result<(), Rejection> {
        let mut gap = None;
        match self.track.last_seq {
            None => self.track.last_seq = Some(seq),
            Some(last) if seq == last + 1 => self.track.last_seq = Some(seq),
            Some(last) if seq > last + 1 => {
                if seq - last > MAX_MISSING {
                    self.track.missing.clear();
                } else {
                    self.track.missing.extend(last + 1..seq);
                    gap = Some((last + 1, seq - 1));
                }
                self.track.last_seq = Some(seq);
            }
            Some(_) => {
                if !self.track.missing.remove(&seq) {
                    return Err(Rejection::Replay {
                        node: self.peer.clone(),
                        generation,
                        seq,
                    });
                }
            }
        }
        if let Some((first, last)) = gap {
            let ask = self
                .directed("NS_rexmit")
                .with("firstseq", first.to_string())
                .with("lastseq", last.to_string());
            let ask = self.with_destuuid(ask);
            out.send.push(self.control(ask, false, wall));
        }
        if seq % 10 == self.ack_trigger {
            let ack = self
                .directed("NS_ackmsg")
                .with("ackseq", format!("{seq:x}"));
            let ack = self.with_destuuid(ack);
            out.send.push(self.control(ack, false, wall));
        }
        Ok(())
    }

    /// The Fsm's view of the peer, from what it last said.
    pub(super) fn synthesize(&self, fsm: &Fsm, generation: u64, kind: Kind) -> Message {
        let cfg = fsm.config();
        let t = &self.track;
        let phase = if t.stopping {
            Phase::Stopping
        } else if t.hold.is_some() && t.stable {
            Phase::Running
        } else {
            Phase::Init
        };
        let hold = t.hold.unwrap_or(Hold::None);
        let groups = cfg
            .groups
            .iter()
            .zip(&self.ours)
            .map(|(g, ours)| GroupStatus {
                key: g.key.clone(),
                state: if hold.covers(!ours) {
                    GroupState::Active
                } else if t.releasing.is_some_and(|r| r.covers(!ours)) {
                    GroupState::Releasing
                } else if t.hold.is_some() {
                    GroupState::Standby
                } else {
                    GroupState::Unknown
                },
            })
            .collect();
        Message {
            node: self.peer.clone(),
            generation,
            seq: t.last_seq.unwrap_or(0),
            timestamp_ms: 0,
            nonce: 0,
            echo: 0,
            auth_index: 0,
            payload: Payload {
                kind,
                phase,
                standby: t.standby,
                deadtime_ms: t.deadtime_ms,
                ping_reachable: fsm.status().ping_reachable,
                // Heartbeat has no tracks: a failing one here gives the groups to it.
                track_fault: 0,
                config_digest: cfg.config_digest,
                groups,
                shared: None,
            },
        }
    }
}
