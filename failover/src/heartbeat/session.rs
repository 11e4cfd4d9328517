//! The translation between a Heartbeat 3.0.6 peer and the [`Fsm`]: pure, like the Fsm.
//!
//! The Fsm expects every peer message to be a full status (phase, standby flag, the state of
//! every group). Heartbeat says less and says it in events: `status` every keepalive,
//! `resource rsc_hold=none|local|foreign|all isstable=0|1` when its holdings change
//! (`local` = the groups whose preferred node is the sender), `starting` when it joins,
//! the three-phase standby exchange `ask_resources info=me|other|done`, `hb_takeover`, and
//! `shutdone` when it leaves. [`Session`] keeps what the peer last said and turns each of its
//! messages into one synthesized [`Message`] for [`Event::Heard`]; and it turns the Fsm's
//! actions into Heartbeat messages:
//!
//! | Heartbeat peer says | the Fsm hears |
//! |---|---|
//! | `status st=…` before its first `resource` since it (re)started, or `isstable=0` | phase `Init`: decide nothing new about it |
//! | `resource rsc_hold=X isstable=1` | phase `Running`, groups in X `Active`, the others `Standby` |
//! | `resource info=shutdown` | phase `Stopping` |
//! | `ask_resources info=done` after we answered its `me` | its groups released, operator standby (`Released`) |
//! | `hb_takeover` | `Takeover` |
//! | `shutdone` | `Leaving` |
//!
//! | the Fsm does | Heartbeat hears |
//! |---|---|
//! | `Send` (every keepalive, and after changes) | `status`; `resource` when our holdings or stability changed |
//! | first message after hearing the peer | `starting` (the peer answers with `resource`) |
//! | `Release` to hand a group over | held back: `ask_resources info=me` first; the release runs when the peer answers `other`, then `done` |
//! | acquisition after the peer's `done` | `ask_resources info=done`, then `resource … isstable=1` |
//! | `Send(Takeover)` | `hb_takeover rsc_hold=all` (the peer's rc.d script runs `hb_standby`) |
//! | `Send(Leaving)` | `resource rsc_hold=none info=shutdown` (at the start of the stop), `shutdone st=dead` |
//!
//! Heartbeat would ignore a `me` sent while we report ourselves unstable, so a group whose
//! release is held back is still reported held and stable until the peer answers.
//!
//! Reliability and replay, as Heartbeat: a lower generation (`hg`) is refused, a higher one is
//! a restart; within a generation each `seq` is taken once (gaps are remembered, asked for
//! with `NS_rexmit` and taken when they arrive late); `NS_rexmit` from the peer is answered
//! from the last [`HISTORY`] messages sent; `NS_ackmsg` is sent when an in-order `seq % 10`
//! equals a random trigger. `reqnodes` is answered with `repnodes` (without it the peer
//! never becomes active).
//!
//! Not carried over: `auto_failback legacy` (`ip-request`), partial standby sets (`hb_standby
//! local|foreign` from the peer is taken as `all`), and Heartbeat's restart after a healed
//! partition (the Fsm's own rule settles who keeps a group both hold).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::wire::HeartbeatMessage;
use crate::fsm::{Action, Event, Fsm, GroupId, NodePhase, ReleaseWhy, Role};
use crate::packet::{GroupState, GroupStatus, Kind, Message, Payload, Phase};

/// Sent messages kept for retransmission (Heartbeat keeps 500).
pub const HISTORY: usize = 200;
/// How long we wait for the peer's `other` before asking again (Heartbeat gives up after
/// 10 s; we keep the group and ask again, so it is never dropped on the floor).
pub const STANDBY_REPLY: Duration = Duration::from_secs(10);
/// How long we wait for the peer's `done` after releasing for it before we stop waiting
/// (Heartbeat's own limit is an hour): our holdings are reported again from then on.
pub const STANDBY_DONE: Duration = Duration::from_secs(60);
/// Missing sequence numbers remembered per peer (Heartbeat: 250, then it resets).
const MAX_MISSING: u64 = 250;

/// Who we are on Heartbeat's wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Our node name (lower case).
    pub node: String,
    /// Our UUID (`srcuuid`), stable across restarts.
    pub uuid: [u8; 16],
    /// Our generation (`hg`), larger at every start.
    pub generation: u64,
}

/// A peer's holdings, from the sender's point of view (`rsc_hold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hold {
    None,
    /// The sender's own preferred groups.
    Local,
    /// The other node's preferred groups.
    Foreign,
    All,
}

impl Hold {
    /// `rsc_hold`'s spelling.
    pub fn word(self) -> &'static str {
        match self {
            Hold::None => "none",
            Hold::Local => "local",
            Hold::Foreign => "foreign",
            Hold::All => "all",
        }
    }

    /// Parses `rsc_hold` (Heartbeat reads anything else as `none` and logs an error).
    pub fn parse(word: &str) -> Option<Hold> {
        Some(match word {
            "none" => Hold::None,
            "local" => Hold::Local,
            "foreign" => Hold::Foreign,
            "all" => Hold::All,
            _ => return None,
        })
    }

    fn from_parts(local: bool, foreign: bool) -> Hold {
        match (local, foreign) {
            (false, false) => Hold::None,
            (true, false) => Hold::Local,
            (false, true) => Hold::Foreign,
            (true, true) => Hold::All,
        }
    }

    /// Does it cover a group, given whether the group's preferred node is the sender?
    pub fn covers(self, preferred_by_sender: bool) -> bool {
        match self {
            Hold::None => false,
            Hold::Local => preferred_by_sender,
            Hold::Foreign => !preferred_by_sender,
            Hold::All => true,
        }
    }

    fn without(self, other: Hold) -> Hold {
        Hold::from_parts(
            self.covers(true) && !other.covers(true),
            self.covers(false) && !other.covers(false),
        )
    }
}

/// A packet refused by the [`Session`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("message without {0}")]
    Missing(&'static str),
    #[error("packet from unknown node [{0}]")]
    UnknownNode(String),
    #[error("our own packet")]
    Own,
    #[error("attempted replay attack from [{node}]: generation {generation:x} < {current:x}")]
    OldGeneration {
        node: String,
        generation: u64,
        current: u64,
    },
    /// A seq already taken in this generation: a copy (the peer's retransmission crossing
    /// the late original, or two media) or a replay.
    #[error("duplicate or replayed packet from [{node}] (generation {generation:x}, seq {seq:x})")]
    Replay {
        node: String,
        generation: u64,
        seq: u64,
    },
    #[error("packet from [{node}] comes from an address its medium does not allow")]
    Source { node: String },
    #[error("message for another node [{0}]")]
    NotForUs(String),
}

/// What a received message means.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// For the Fsm.
    pub event: Option<Event>,
    /// To send to the peer now.
    pub send: Vec<HeartbeatMessage>,
    /// Actions held back earlier that may run now (releases the peer agreed to).
    pub run: Vec<Action>,
}

/// The standby exchange in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exchange {
    None,
    /// We go standby for `set`: `me` sent at `asked`; the releases run once `other` comes.
    Ours {
        set: Hold,
        asked: Instant,
        granted: bool,
    },
    /// The peer goes standby for `set` (its point of view): we answered `other`; `done`
    /// from it means it released; we acquire, then say `done`.
    Theirs {
        set: Hold,
        released: bool,
    },
}

#[derive(Debug, Clone, Default)]
struct PeerTrack {
    generation: Option<u64>,
    last_seq: Option<u64>,
    missing: BTreeSet<u64>,
    uuid: Option<Vec<u8>>,
    /// `dt` of its last status.
    deadtime_ms: u32,
    /// Its last `rsc_hold` and `isstable` since it (re)started (`None`: not said yet).
    hold: Option<Hold>,
    stable: bool,
    stopping: bool,
    /// What it held when it said it was shutting down: still releasing until `shutdone`.
    releasing: Option<Hold>,
    /// It went standby for us (`ask_resources` done): it yields every group.
    standby: bool,
}

/// Our side of a Heartbeat pair. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    id: Identity,
    peer: String,
    /// ha.cf's nodes, for `repnodes`.
    nodes: Vec<String>,
    /// `ttl` (hopfudge + number of nodes).
    ttl: u8,
    /// Whether each group's preferred node is us.
    ours: Vec<bool>,
    seq: u64,
    ack_trigger: u64,
    track: PeerTrack,
    starting_sent: bool,
    shutdown_sent: bool,
    /// Our last `resource` (hold, stable).
    said: Option<(Hold, bool)>,
    exchange: Exchange,
    held: Vec<GroupId>,
    /// Our `done` of the current exchange of ours was sent.
    said_done_ours: bool,
    history: VecDeque<(u64, HeartbeatMessage)>,
}

impl Session {
    /// A session for `fsm`'s configuration. `ack_trigger` is random in 0..10.
    pub fn new(id: Identity, fsm: &Fsm, nodes: Vec<String>, hopfudge: u8, ack_trigger: u8) -> Self {
        let cfg = fsm.config();
        let ttl = hopfudge.saturating_add(u8::try_from(nodes.len()).unwrap_or(u8::MAX));
        Session {
            ours: cfg.groups.iter().map(|g| g.preferred == id.node).collect(),
            peer: cfg.peer.clone().unwrap_or_default(),
            id,
            nodes,
            ttl,
            seq: 0,
            ack_trigger: u64::from(ack_trigger % 10),
            track: PeerTrack::default(),
            starting_sent: false,
            shutdown_sent: false,
            said: None,
            exchange: Exchange::None,
            held: Vec::new(),
            said_done_ours: false,
            history: VecDeque::new(),
        }
    }

    /// The peer's current generation (`hg`), once heard.
    pub fn peer_generation(&self) -> Option<u64> {
        self.track.generation
    }

    /// Ends the session (the peer now speaks director's protocol): the releases held back
    /// for a standby exchange, to carry out now.
    pub fn abandon(&mut self) -> Vec<Action> {
        self.exchange = Exchange::None;
        self.held.drain(..).map(Action::Release).collect()
    }

    /// When [`Session::tick`] is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.exchange {
            Exchange::Ours {
                asked,
                granted: false,
                ..
            } => Some(asked + STANDBY_REPLY),
            Exchange::Ours {
                asked,
                granted: true,
                ..
            } => Some(asked + STANDBY_DONE),
            _ => None,
        }
    }

    /// Time passed: asks again for a standby the peer has not answered; stops waiting for a
    /// `done` that does not come.
    pub fn tick(&mut self, now: Instant, wall: u64) -> Vec<HeartbeatMessage> {
        let mut out = Vec::new();
        if let Exchange::Ours {
            asked,
            granted: true,
            ..
        } = self.exchange
        {
            if now >= asked + STANDBY_DONE && self.held.is_empty() {
                self.exchange = Exchange::None;
            }
        }
        if let Exchange::Ours {
            set,
            asked,
            granted: false,
        } = self.exchange
        {
            if now >= asked + STANDBY_REPLY {
                self.exchange = Exchange::Ours {
                    set,
                    asked: now,
                    granted: false,
                };
                out.push(self.standby_msg(set, "me", wall));
            }
        }
        out
    }

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

    fn restarted(&mut self, generation: u64) {
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

    fn sequence(
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

    /// Is the Fsm releasing `g` for the peer to take it (handed over, or given up after
    /// its resources kept failing their monitor)? Heartbeat takes a group from a live node
    /// only through the standby exchange.
    fn handover(&self, fsm: &Fsm, g: GroupId) -> bool {
        matches!(
            fsm.role(g),
            Some(Role::Releasing {
                why: ReleaseWhy::Handover | ReleaseWhy::MonitorFailed,
                ..
            })
        )
    }

    /// The groups being handed over, from our point of view.
    fn releasing_set(&self, fsm: &Fsm) -> Hold {
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
    fn ours_now(&self, fsm: &Fsm) -> (Hold, bool) {
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
    fn stable_here(&self, fsm: &Fsm) -> bool {
        self.ours_now(fsm).1 && self.held.is_empty()
    }

    /// The Fsm's view of the peer, from what it last said.
    fn synthesize(&self, fsm: &Fsm, generation: u64, kind: Kind) -> Message {
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
                config_digest: cfg.config_digest,
                groups,
            },
        }
    }

    fn status_msg(&mut self, fsm: &Fsm, phase: Phase, wall: u64) -> HeartbeatMessage {
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

    fn resource_msg(
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

    fn standby_msg(&mut self, set: Hold, info: &str, wall: u64) -> HeartbeatMessage {
        let m = HeartbeatMessage::new()
            .with("t", "ask_resources")
            .with("rsc_hold", set.word())
            .with("info", info);
        self.control(m, true, wall)
    }

    fn directed(&self, kind: &str) -> HeartbeatMessage {
        HeartbeatMessage::new()
            .with("t", kind)
            .with("dest", self.peer.clone())
    }

    fn with_destuuid(&self, m: HeartbeatMessage) -> HeartbeatMessage {
        match &self.track.uuid {
            Some(u) => m.with_bin("destuuid", u),
            None => m,
        }
    }

    /// Appends the control fields (`src srcuuid [seq] hg ts ttl`); sequenced messages get the
    /// next `seq` and are kept for retransmission.
    fn control(&mut self, m: HeartbeatMessage, sequenced: bool, wall: u64) -> HeartbeatMessage {
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

#[cfg(test)]
mod tests;
