//! The states the machine is in: the node's phase, the peer's life, each group's role, the
//! links, and the snapshot [`Status`] the loop publishes.

use std::net::SocketAddr;

use tokio::time::Instant;

#[cfg(doc)]
use super::{Action, Event};
use crate::packet::{GroupState, Phase};

/// The node's own phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodePhase {
    /// Before [`Event::Start`].
    Created,
    /// Probing, waiting for the peer or initdead.
    Init,
    Running,
    Stopping,
    /// Shutdown complete ([`Action::Exit`] was returned).
    Stopped,
    /// [`Action::FenceSelf`] was returned.
    Fenced,
}

/// What we know of the peer's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerLife {
    /// Never heard since we started (initdead running).
    Unknown,
    Alive,
    /// Declared dead (deadtime or initdead passed).
    Dead,
    /// Said it was leaving (graceful shutdown).
    Gone,
}

/// One group's role on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not decided yet: `probed` is the probe result once known.
    Init {
        probed: Option<bool>,
    },
    Standby,
    Acquiring,
    Active,
    Releasing {
        why: ReleaseWhy,
        attempts: u32,
        retry_at: Option<Instant>,
    },
    Failed {
        until: Instant,
    },
}

/// Why a group is being released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseWhy {
    /// Handing it to the peer.
    Handover,
    /// Stray resources found running without owning the group.
    Stray,
    /// Cleaning up after a failed start.
    AcquireFailed,
    /// Shutting down.
    Shutdown,
    /// A resource kept failing its monitor: the group goes to the peer.
    MonitorFailed,
    /// The group left haresources at a reload.
    Removed,
}

/// The peer on one interface of the media (Heartbeat's `Link PEER:IF up.` / `dead.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub iface: String,
    /// The last sender address seen on it (`None`: never heard).
    pub from: Option<SocketAddr>,
    /// When the last packet came in on it (`None`: never).
    pub last_heard: Option<Instant>,
    /// Heard within the deadtime.
    pub up: bool,
}

/// Snapshot for `director status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub phase: NodePhase,
    pub standby: bool,
    pub ping_reachable: u16,
    /// The summed weight of this node's failing tracks (0: every track passes).
    pub track_fault: u8,
    /// Each track's state, parallel to [`FsmConfig::tracks`] (`None`: no result yet).
    pub tracks: Vec<Option<bool>>,
    /// (key, our state, the peer's last reported state)
    pub groups: Vec<(String, GroupState, GroupState)>,
    pub peer: Option<(String, PeerLife)>,
    /// The peer's last reported phase and operator-standby flag, while it is alive.
    pub peer_report: Option<(Phase, bool)>,
    /// The links: the configured interfaces in ha.cf order, then any other one a packet came
    /// in on, by name.
    pub links: Vec<LinkState>,
}
