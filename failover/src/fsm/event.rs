//! What goes into the state machine ([`Event`]) and what comes out ([`Action`]).

use std::net::SocketAddr;

use crate::packet::{Message, Payload};

#[cfg(doc)]
use super::Fsm;
#[cfg(doc)]
use super::FsmConfig;
use super::{FenceAction, GroupId};

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The daemon starts: probe every group, announce ourselves.
    Start,
    /// An authenticated, fresh message from the peer ([`crate::packet::Receiver::accept`]).
    Heard(Message),
    /// A message of director's protocol, authenticated and fresh
    /// ([`crate::packet::Receiver::accept_from`]), and where it came in. Each message is a
    /// full status: one not newer than a message already taken from its sender (reordered,
    /// or a delayed copy the replay window has not seen) is dropped ([`Action::Dropped`])
    /// rather than let it roll the peer's state back. Otherwise its link is up and it is
    /// [`Event::Heard`].
    Packet { msg: Message, origin: Origin },
    /// Something authentic from the peer came in (a Heartbeat peer: its session orders the
    /// messages itself, and [`Event::Heard`] follows when one tells the Fsm something): the
    /// link is up.
    LinkHeard(Origin),
    /// Time passed (send at [`Fsm::next_deadline`] at the latest).
    Tick,
    /// Result of [`Action::Probe`]: is any resource of the group running here?
    Probed { group: GroupId, running: bool },
    /// Result of [`Action::Acquire`].
    Acquired { group: GroupId, ok: bool },
    /// Result of [`Action::Release`] (ok = every resource stopped).
    Released { group: GroupId, ok: bool },
    /// How many ping nodes / ping groups answer now.
    PingReachable(u16),
    /// Operator: give every group to the peer (`director standby`, `hb_standby`).
    Standby,
    /// Operator: take every group from the peer (`director takeover`, `hb_takeover`).
    Takeover,
    /// Graceful shutdown: release everything, tell the peer, exit.
    Stop,
    /// Result of [`Action::ResetPeer`].
    PeerReset { ok: bool },
    /// Result of [`Action::Monitor`]: the resources (indexes in the group) whose status
    /// failed; empty when every one is fine.
    Monitored { group: GroupId, failed: Vec<usize> },
    /// Result of [`Action::Restart`] (ok = every resource stopped and started again).
    Restarted { group: GroupId, ok: bool },
    /// `ha.cf` / `haresources` / `director.conf` reloaded: the new configuration (see
    /// `reconfigure`: groups matched by what they are, removed ones released, new ones
    /// probed and started where they belong, timing at once).
    Reconfigure(Box<super::FsmConfig>),
    /// Result of [`Action::Track`]: the track (index in [`FsmConfig::tracks`]) passed or not.
    Tracked { track: usize, ok: bool },
}

/// Where a packet came in: the interface, and the sender's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub iface: String,
    pub from: SocketAddr,
}

/// Log severity of an [`Action::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    /// Heartbeat's CRIT.
    Crit,
}

/// Something for the I/O loop to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this to the peer on every medium (the encoder adds name, generation, seq).
    Send(Payload),
    /// Run `status` on every resource of the group; answer with [`Event::Probed`].
    Probe(GroupId),
    /// Start the group's resources left to right (skipping running ones); answer with
    /// [`Event::Acquired`]. On failure the I/O stops what it started before answering.
    Acquire(GroupId),
    /// Stop the group's resources right to left; answer with [`Event::Released`].
    Release(GroupId),
    /// Run the monitor (`status`) of every resource of a held group; answer with
    /// [`Event::Monitored`].
    Monitor(GroupId),
    /// Restart these resources of a held group in place: stop them right to left, then start
    /// them left to right; answer with [`Event::Restarted`].
    Restart {
        group: GroupId,
        resources: Vec<usize>,
    },
    /// STONITH the peer; answer with [`Event::PeerReset`].
    ResetPeer(String),
    /// A resource could not be stopped: fence this node.
    FenceSelf(FenceAction),
    /// Log in Heartbeat's words.
    Log(Level, String),
    /// Everything is released and the peer told: the daemon may exit.
    Exit,
    /// The peer has just stopped claiming a group held here all along (a healed partition:
    /// it had taken it, and clients and routers may have followed its gratuitous ARP):
    /// announce the group's addresses again (gratuitous ARP / unsolicited NA).
    Announce(GroupId),
    /// The peer has just become alive (it was dead, gone or not heard yet): tell the
    /// resources that follow it ([`crate::resources::NativeResource::peer_joined`]).
    PeerJoined,
    /// A packet was dropped for this reason (`out_of_order`): count it.
    Dropped(&'static str),
    /// Check this track (index in [`FsmConfig::tracks`]) once; answer with [`Event::Tracked`].
    Track(usize),
    /// A group reached a role here: run the notify commands (`director.conf` `[[notify]]`),
    /// one at a time, in the order given.
    Notify { group: GroupId, state: Notice },
}

/// The role a notify command is told about, in keepalived's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// The group is active here.
    Master,
    /// The group is on standby here, and this node could take it.
    Backup,
    /// This node cannot hold the group: it failed here (start or monitor), or a track fails.
    Fault,
    /// The node stopped (its groups are released).
    Stop,
}

impl Notice {
    /// keepalived's word: `MASTER`, `BACKUP`, `FAULT`, `STOP`.
    pub fn word(self) -> &'static str {
        match self {
            Notice::Master => "MASTER",
            Notice::Backup => "BACKUP",
            Notice::Fault => "FAULT",
            Notice::Stop => "STOP",
        }
    }
}
