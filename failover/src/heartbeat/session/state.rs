//! What the session keeps: who we are, what the peer last said, the standby exchange in
//! progress, and the messages sent (for retransmission); its clock ([`Session::tick`]).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::fsm::{Action, Event, Fsm, GroupId};
use crate::heartbeat::wire::HeartbeatMessage;

/// Sent messages kept for retransmission (Heartbeat keeps 500).
pub const HISTORY: usize = 200;
/// How long we wait for the peer's `other` before asking again (Heartbeat gives up after
/// 10 s; we keep the group and ask again, so it is never dropped on the floor).
pub const STANDBY_REPLY: Duration = Duration::from_secs(10);
/// How long we wait for the peer's `done` after releasing for it before we stop waiting
/// (Heartbeat's own limit is an hour): our holdings are reported again from then on.
pub const STANDBY_DONE: Duration = Duration::from_secs(60);
/// Missing sequence numbers remembered per peer (Heartbeat: 250, then it resets).
pub(super) const MAX_MISSING: u64 = 250;

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

    pub(super) fn from_parts(local: bool, foreign: bool) -> Hold {
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

    pub(super) fn without(self, other: Hold) -> Hold {
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
pub(super) enum Exchange {
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
pub(super) struct PeerTrack {
    pub(super) generation: Option<u64>,
    pub(super) last_seq: Option<u64>,
    pub(super) missing: BTreeSet<u64>,
    pub(super) uuid: Option<Vec<u8>>,
    /// `dt` of its last status.
    pub(super) deadtime_ms: u32,
    /// Its last `rsc_hold` and `isstable` since it (re)started (`None`: not said yet).
    pub(super) hold: Option<Hold>,
    pub(super) stable: bool,
    pub(super) stopping: bool,
    /// What it held when it said it was shutting down: still releasing until `shutdone`.
    pub(super) releasing: Option<Hold>,
    /// It went standby for us (`ask_resources` done): it yields every group.
    pub(super) standby: bool,
}

/// Our side of a Heartbeat pair. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    pub(super) id: Identity,
    pub(super) peer: String,
    /// ha.cf's nodes, for `repnodes`.
    pub(super) nodes: Vec<String>,
    /// `ttl` (hopfudge + number of nodes).
    pub(super) ttl: u8,
    /// Whether each group's preferred node is us.
    pub(super) ours: Vec<bool>,
    pub(super) seq: u64,
    pub(super) ack_trigger: u64,
    pub(super) track: PeerTrack,
    pub(super) starting_sent: bool,
    pub(super) shutdown_sent: bool,
    /// Our last `resource` (hold, stable).
    pub(super) said: Option<(Hold, bool)>,
    pub(super) exchange: Exchange,
    pub(super) held: Vec<GroupId>,
    /// Our `done` of the current exchange of ours was sent.
    pub(super) said_done_ours: bool,
    pub(super) history: VecDeque<(u64, HeartbeatMessage)>,
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
}
