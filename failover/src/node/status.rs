//! What `director status` shows of a node ([`NodeStatus`]), and how the loop keeps it: the
//! snapshot is published after every event, without ever blocking the heartbeat thread.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::config::hacf::HaCf;
use crate::fsm::{NodePhase, PeerLife};
use crate::packet::{GroupState, Phase};
use crate::resources::Resource;

use super::run::{Book, LoopParts};
use super::NodeConfig;

/// How many state changes [`NodeStatus::transitions`] keeps.
const TRANSITIONS_KEPT: usize = 64;

/// A peer link: one interface of ha.cf's media, listed from the start (Heartbeat's
/// `Link PEER:IF up.` / `dead.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// Interface.
    pub iface: String,
    /// The media on it, as ha.cf names them (`ucast eth0`, `bcast+mcast eth1`).
    pub medium: String,
    /// Last sender address seen on it (`None`: never heard).
    pub from: Option<SocketAddr>,
    /// Heard within the peer's deadtime.
    pub up: bool,
    /// When the last accepted packet came in (`None`: never).
    pub last_heard: Option<SystemTime>,
}

impl LinkStatus {
    /// `up`, `dead` (heard before, silent for a deadtime) or `unknown` (never heard).
    pub fn state(&self) -> &'static str {
        match (self.up, self.last_heard) {
            (true, _) => "up",
            (false, Some(_)) => "dead",
            (false, None) => "unknown",
        }
    }
}

/// The peer, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub name: String,
    /// `unknown` (never heard), `alive`, `dead`, `gone` (said it was leaving).
    pub life: &'static str,
    pub last_heard: Option<SystemTime>,
    /// The peer's role from its last message, as [`NodeStatus::role`] words it (`active`,
    /// `standby`, `partial`, `init`, `stopping`); `None` unless it is alive.
    pub role: Option<&'static str>,
    /// The peer is in operator standby.
    pub standby: bool,
}

/// The peer's role from what it reported: its phase, then how many groups it holds.
pub fn peer_role(phase: Phase, held: usize, groups: usize) -> &'static str {
    match phase {
        Phase::Init => "init",
        Phase::Stopping => "stopping",
        Phase::Running => match held {
            0 => "standby",
            n if n == groups => "active",
            _ => "partial",
        },
    }
}

/// ha.cf's media grouped by interface, in file order: (interface, description).
pub fn configured_links(cf: &HaCf) -> Vec<(String, String)> {
    use crate::config::hacf::Medium as M;
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for m in &cf.media {
        let (iface, kind) = match m {
            M::Bcast { iface, .. } => (iface, "bcast"),
            M::Mcast { iface, .. } => (iface, "mcast"),
            M::Mcast6 { iface, .. } => (iface, "mcast6"),
            M::Ucast { iface, .. } => (iface, "ucast"),
            M::Ucast6 { iface, .. } => (iface, "ucast6"),
        };
        match out.iter_mut().find(|(i, _)| i == iface) {
            Some((_, kinds)) => {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            None => out.push((iface.clone(), vec![kind])),
        }
    }
    out.into_iter()
        .map(|(iface, kinds)| {
            let d = format!("{} {iface}", kinds.join("+"));
            (iface, d)
        })
        .collect()
}

/// One resource group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// haresources key.
    pub key: String,
    /// Preferred node.
    pub preferred: String,
    /// Resources as written.
    pub resources: Vec<String>,
    /// Our state: `unknown`, `standby`, `acquiring`, `active`, `releasing`, `failed`,
    /// `cleaning`.
    pub local: &'static str,
    /// The peer's last reported state.
    pub peer: &'static str,
}

/// One tracked script or interface (`director.conf` `[track]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// As the log names it: `track script chk_nginx`, `track interface eth0`.
    pub name: String,
    /// `passing`, `failing`, or `unknown` before its first result.
    pub state: &'static str,
    /// What its failure counts against the node.
    pub weight: u8,
}

/// The tracks of `specs` in the states `up` (parallel; missing: no result yet).
pub fn track_infos(
    specs: &[crate::config::settings::Track],
    up: &[Option<bool>],
) -> Vec<TrackInfo> {
    specs
        .iter()
        .enumerate()
        .map(|(i, t)| TrackInfo {
            name: t.words(),
            state: match up.get(i).copied().flatten() {
                Some(true) => "passing",
                Some(false) => "failing",
                None => "unknown",
            },
            weight: t.weight,
        })
        .collect()
}

/// One state change, for `director status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: SystemTime,
    pub what: String,
}

/// A snapshot for `director status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: String,
    /// `created`, `init`, `running`, `stopping`, `stopped`, `fenced`.
    pub phase: &'static str,
    /// Operator standby is in force here.
    pub standby: bool,
    pub generation: u64,
    pub ping_reachable: u16,
    pub ping_nodes: u16,
    pub peer: Option<PeerStatus>,
    pub links: Vec<LinkStatus>,
    pub groups: Vec<GroupInfo>,
    /// The tracked scripts and interfaces, in `director.conf`'s order.
    pub tracks: Vec<TrackInfo>,
    /// Most recent last.
    pub transitions: Vec<Transition>,
    /// Refused packets by reason (`bad_auth`, `unknown_key`, `replay`, `old_generation`,
    /// `unknown_node`, `malformed`, ...).
    pub rejected: BTreeMap<&'static str, u64>,
    /// When the node's loop last turned (it turns at every event, and at least every
    /// keepalive): what systemd's watchdog watches.
    pub updated: tokio::time::Instant,
    /// The version (and writer) of the shared operator state the peer last showed
    /// ([`crate::shared`]); `None`: never heard.
    pub shared_peer: Option<(u64, String)>,
}

impl NodeStatus {
    /// The node's role in one word: its phase until it runs, then `active` when it holds
    /// every group, `standby` when it holds none, `partial` otherwise.
    pub fn role(&self) -> &'static str {
        if self.phase != "running" {
            return self.phase;
        }
        let held = self.groups.iter().filter(|g| g.local == "active").count();
        match held {
            0 => "standby",
            n if n == self.groups.len() => "active",
            _ => "partial",
        }
    }

    /// Whether this node holds group `key` (state `active`).
    pub fn holds(&self, key: &str) -> bool {
        self.groups
            .iter()
            .any(|g| g.key == key && g.local == "active")
    }
}

fn state_name(s: GroupState) -> &'static str {
    match s {
        GroupState::Unknown => "unknown",
        GroupState::Standby => "standby",
        GroupState::Acquiring => "acquiring",
        GroupState::Active => "active",
        GroupState::Releasing => "releasing",
        GroupState::Failed => "failed",
        GroupState::Cleaning => "cleaning",
    }
}

fn phase_name(p: NodePhase) -> &'static str {
    match p {
        NodePhase::Created => "created",
        NodePhase::Init => "init",
        NodePhase::Running => "running",
        NodePhase::Stopping => "stopping",
        NodePhase::Stopped => "stopped",
        NodePhase::Fenced => "fenced",
    }
}

fn life_name(l: PeerLife) -> &'static str {
    match l {
        PeerLife::Unknown => "unknown",
        PeerLife::Alive => "alive",
        PeerLife::Dead => "dead",
        PeerLife::Gone => "gone",
    }
}

pub(super) fn initial_status(cfg: &NodeConfig, generation: u64) -> NodeStatus {
    NodeStatus {
        updated: tokio::time::Instant::now(),
        node: cfg.node_name.clone(),
        phase: "created",
        standby: false,
        generation,
        ping_reachable: u16::try_from(cfg.hacf.ping_nodes.len()).unwrap_or(u16::MAX),
        ping_nodes: u16::try_from(cfg.hacf.ping_nodes.len()).unwrap_or(u16::MAX),
        peer: None,
        links: configured_links(&cfg.hacf)
            .into_iter()
            .map(|(iface, medium)| LinkStatus {
                iface,
                medium,
                from: None,
                up: false,
                last_heard: None,
            })
            .collect(),
        groups: Vec::new(),
        tracks: track_infos(&cfg.settings.tracks, &[]),
        transitions: Vec::new(),
        rejected: BTreeMap::new(),
        shared_peer: None,
    }
}

pub(super) fn note_transitions(parts: &LoopParts, before: &crate::fsm::Status, book: &mut Book) {
    let after = parts.fsm.status();
    let mut changes = Vec::new();
    if before.phase != after.phase {
        changes.push(format!(
            "node {}: {} -> {}",
            parts.fsm.config().local,
            phase_name(before.phase),
            phase_name(after.phase)
        ));
    }
    if let (Some((name, b)), Some((_, a))) = (&before.peer, &after.peer) {
        if a != b {
            changes.push(format!(
                "peer {name}: {} -> {}",
                life_name(*b),
                life_name(*a)
            ));
        }
    }
    if before.track_fault != after.track_fault {
        changes.push(format!(
            "failing tracks weigh: {} -> {}",
            before.track_fault, after.track_fault
        ));
    }
    for ((key, b, _), (_, a, _)) in before.groups.iter().zip(after.groups.iter()) {
        if a != b {
            changes.push(format!("{key}: {} -> {}", state_name(*b), state_name(*a)));
        }
    }
    let at = SystemTime::now();
    for what in changes {
        if book.transitions.len() >= TRANSITIONS_KEPT {
            book.transitions.pop_front();
        }
        book.transitions.push_back(Transition { at, what });
    }
}

pub(super) fn publish(parts: &LoopParts, book: &Book) {
    let s = parts.fsm.status();
    let cfg = parts.fsm.config();
    // The Fsm keeps the loop's clock; status shows the wall clock.
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    let wall = |at: Instant| wall_now.checked_sub(now.saturating_duration_since(at));
    let peer_heard = s.links.iter().filter_map(|l| l.last_heard).max();
    let status = NodeStatus {
        shared_peer: parts.shared.peer().cloned(),
        updated: tokio::time::Instant::now(),
        node: cfg.local.clone(),
        phase: phase_name(s.phase),
        standby: s.standby,
        generation: parts.encoder.generation(),
        ping_reachable: s.ping_reachable,
        ping_nodes: cfg.ping_nodes,
        peer: s.peer.map(|(name, life)| PeerStatus {
            name,
            life: life_name(life),
            last_heard: peer_heard.and_then(wall),
            role: s.peer_report.map(|(phase, _)| {
                let held = s
                    .groups
                    .iter()
                    .filter(|(_, _, peer)| *peer == GroupState::Active)
                    .count();
                peer_role(phase, held, s.groups.len())
            }),
            standby: s.peer_report.is_some_and(|(_, standby)| standby),
        }),
        links: s
            .links
            .iter()
            .map(|l| LinkStatus {
                iface: l.iface.clone(),
                medium: parts
                    .links
                    .iter()
                    .find(|(iface, _)| *iface == l.iface)
                    .map_or_else(|| l.iface.clone(), |(_, medium)| medium.clone()),
                from: l.from,
                up: l.up,
                last_heard: l.last_heard.and_then(wall),
            })
            .collect(),
        groups: s
            .groups
            .iter()
            .enumerate()
            .map(|(i, (key, local, peer))| GroupInfo {
                key: key.clone(),
                preferred: cfg
                    .groups
                    .get(i)
                    .map(|g| g.preferred.clone())
                    .unwrap_or_default(),
                resources: parts
                    .groups
                    .get(i)
                    .map(|g| g.iter().map(Resource::display).collect())
                    .unwrap_or_default(),
                local: state_name(*local),
                peer: state_name(*peer),
            })
            .collect(),
        tracks: track_infos(&cfg.tracks, &s.tracks),
        transitions: book.transitions.iter().cloned().collect(),
        rejected: book.rejects.counts().clone(),
    };
    // Never block the heartbeat thread on a reader (a normal-priority thread preempted while
    // holding the lock would delay heartbeats: priority inversion). A skipped update is
    // replaced by the next one, at most a keepalive later.
    match parts.status.try_lock() {
        Ok(mut g) => *g = status,
        Err(std::sync::TryLockError::Poisoned(p)) => *p.into_inner() = status,
        Err(std::sync::TryLockError::WouldBlock) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hacf;
    use std::path::Path;

    #[test]
    fn links_and_roles_in_words() {
        let cf = hacf::parse(
            Path::new("ha.cf"),
            "bcast eth1\nucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nmcast eth1 225.0.0.1 694 1 0\n\
             node a\nnode b\nauto_failback on\n",
        )
        .map(|p| p.value)
        .unwrap_or_default();
        assert_eq!(
            configured_links(&cf),
            vec![
                ("eth1".to_string(), "bcast+mcast eth1".to_string()),
                ("eth0".to_string(), "ucast eth0".to_string())
            ]
        );
        assert_eq!(peer_role(Phase::Running, 2, 2), "active");
        assert_eq!(peer_role(Phase::Running, 0, 2), "standby");
        assert_eq!(peer_role(Phase::Running, 1, 2), "partial");
        assert_eq!(peer_role(Phase::Init, 0, 2), "init");
        assert_eq!(peer_role(Phase::Stopping, 2, 2), "stopping");
    }
}
