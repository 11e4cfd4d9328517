//! The failover state machine: who holds each resource group, and when it moves.
//!
//! Pure: [`Fsm::step`] takes an [`Event`] and the current time and returns the [`Action`]s for
//! the I/O loop to carry out (send a message, probe / acquire / release a group, fence, log).
//! It never reads the clock; [`Fsm::next_deadline`] says when the loop should send the next
//! [`Event::Tick`].
//!
//! # Model (two nodes)
//! Each haresources line is a group with its own role: `Init` (not probed / not decided yet),
//! `Standby`, `Acquiring`, `Active`, `Releasing`, `Failed`. Every message carries the sender's
//! phase, operator-standby flag, ping reachability and every group's state, so each node knows
//! what the other holds. Both run the same rule ([`Fsm`] `desired owner`) on the same facts:
//!
//! 1. a node that is starting, stopping, dead, or failed the group is not a candidate;
//! 2. a node in operator standby yields to one that is not;
//! 3. the node that reaches more ping nodes wins (ipfail);
//! 4. `auto_failback off`: the node holding the group keeps it;
//! 5. otherwise (`on`, `legacy`, or nobody / both hold it): the preferred node of haresources.
//!
//! A node acquires a group only when it is the desired owner **and** the peer's last report
//! shows it neither holds nor is stopping it (or the peer is dead / gone). The holder releases
//! first, then says so (`Released`), then the new owner acquires: release -> ack -> acquire,
//! never both. When both hold a group (a healed partition) the same rule picks one; the
//! loser releases and the winner keeps it, so service never stops.
//!
//! At start every group is probed (`status` of each resource) before the node takes part;
//! resources found running on a node that does not become their owner are stopped (the seed's
//! "httpd on both nodes" bug). A failed stop is retried, then the node fences itself.
//!
//! While a group is active here and monitoring is on ([`FsmConfig::monitor`]), every
//! interval its resources are monitored ([`Action::Monitor`]); a failed resource is restarted
//! in place ([`Action::Restart`]) while [`crate::monitor::Tracker`] allows, then the group
//! is given up and marked failed here, as after a failed start, so the peer takes it.
//!
//! The media are the machine's too: a packet of director's protocol ([`Event::Packet`]) older
//! than one already taken from its sender is dropped, each link is up when heard and dead
//! after a silent deadtime (`Link PEER:IF up.` / `dead.`), the peer's return is told to the
//! resources that follow it ([`Action::PeerJoined`]), and a group the peer stops claiming
//! after a healed partition is announced again ([`Action::Announce`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::hacf::{AutoFailback, HaCf};
use crate::config::haresources::Haresources;
use crate::monitor::{Policy, Tracker, Verdict};
use crate::packet::{GroupState, GroupStatus, Kind, Message, Payload, Phase};

/// Index of a group in haresources order.
pub type GroupId = usize;

/// What to do to this node when a resource cannot be stopped (Heartbeat reboots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceAction {
    /// Immediate reboot (`reboot -nf`), as Heartbeat's RecoverFromFailedStop.
    Reboot,
    /// Power off.
    PowerOff,
    /// Stop the failover node (no more heartbeats: the peer takes over after deadtime).
    Exit,
    /// Run the operator's fencing command, then stop the failover node.
    Command,
    /// Do nothing but log: the group stays "releasing" and the peer never takes it.
    None,
}

impl FenceAction {
    /// How the log line names it.
    pub fn words(self) -> &'static str {
        match self {
            FenceAction::Reboot => "reboot",
            FenceAction::PowerOff => "poweroff",
            FenceAction::Exit => "the failover node exits",
            FenceAction::Command => "the configured fencing command",
            FenceAction::None => "none",
        }
    }
}

/// A group as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// haresources key (first resource as written).
    pub key: String,
    /// Preferred node, lower case.
    pub preferred: String,
    /// Its resources as Heartbeat names them (`IPaddr::192.0.2.100/24/eth0`, `httpd`).
    pub resources: Vec<String>,
}

/// Everything the state machine needs from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct FsmConfig {
    pub local: String,
    /// The other node, if ha.cf lists one.
    pub peer: Option<String>,
    pub groups: Vec<GroupSpec>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub auto_failback: AutoFailback,
    /// Number of ping nodes and ping groups (0: no ipfail comparison).
    pub ping_nodes: u16,
    /// Stop attempts before fencing (Heartbeat: 10).
    pub stop_retries: u32,
    /// Pause between stop attempts (Heartbeat: 1 s).
    pub stop_retry_interval: Duration,
    pub fence: FenceAction,
    /// How long a group that failed to start here is left to the peer before we try again.
    pub failed_hold: Duration,
    /// Re-probe groups we do not hold this often, stopping strays (`None`: only at start).
    pub probe_interval: Option<Duration>,
    /// Reset a dead peer (STONITH) before taking its groups: ha.cf has a `stonith` or
    /// `stonith_host` line for this node (or the operator gave a reset command).
    pub stonith: bool,
    /// Pause before a failed reset is tried again (Heartbeat: 5 s). No takeover until one
    /// succeeds.
    pub stonith_retry: Duration,
    /// haresources digest, compared with the peer's.
    pub config_digest: u32,
    /// Monitoring of held resources (`director.conf` `[monitor]`); `None`: none, as Heartbeat.
    pub monitor: Option<Policy>,
    /// The interfaces of ha.cf's media, in file order: their links are known (and listed)
    /// before anything is heard on them.
    pub links: Vec<String>,
}

impl FsmConfig {
    /// Builds the configuration from parsed files, with Heartbeat's defaults for the rest
    /// (10 stop attempts 1 s apart then reboot, 60 s failed hold, re-probe every 60 s).
    /// `local` is the local node name (lower case). The first other node of ha.cf is the peer.
    pub fn new(hacf: &HaCf, haresources: &Haresources, local: &str) -> Self {
        let local = local.to_lowercase();
        let stonith = hacf.stonith.iter().any(|s| s.applies_to(&local));
        FsmConfig {
            peer: hacf.nodes.iter().find(|n| **n != local).cloned(),
            local,
            groups: haresources
                .groups
                .iter()
                .map(|g| GroupSpec {
                    key: g.key().to_string(),
                    preferred: g.preferred.clone(),
                    resources: g
                        .resources
                        .iter()
                        .map(|r| crate::resources::Resource::from(r).display())
                        .collect(),
                })
                .collect(),
            keepalive: hacf.keepalive,
            deadtime: hacf.deadtime,
            warntime: hacf.warntime,
            initdead: hacf.initdead,
            auto_failback: hacf.auto_failback,
            ping_nodes: u16::try_from(hacf.ping_nodes.len()).unwrap_or(u16::MAX),
            stop_retries: 10,
            stop_retry_interval: Duration::from_secs(1),
            fence: FenceAction::Reboot,
            failed_hold: Duration::from_secs(60),
            probe_interval: Some(Duration::from_secs(60)),
            stonith,
            stonith_retry: Duration::from_secs(5),
            config_digest: haresources.digest(),
            monitor: None,
            links: media_interfaces(hacf),
        }
    }
}

/// The interfaces of ha.cf's media, in file order, each once.
fn media_interfaces(hacf: &HaCf) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for iface in hacf.media.iter().map(|m| m.iface()) {
        if !out.iter().any(|i| i == iface) {
            out.push(iface.to_string());
        }
    }
    out
}

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
}

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
}

/// Monitoring of one group while it is active here.
#[derive(Debug, Clone, Default)]
struct Watch {
    /// When the next round is due (`None`: not scheduled).
    next: Option<Instant>,
    /// What is being carried out now.
    pending: Pending,
    /// Failures of each resource.
    trackers: Vec<Tracker>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Pending {
    #[default]
    Nothing,
    Status,
    Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Local,
    Peer,
    Nobody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    OnlyCandidate,
    Standby,
    PingNodes,
    Holder,
    Preferred,
}

impl Reason {
    fn words(self) -> &'static str {
        match self {
            Reason::OnlyCandidate => "the only node able to hold it",
            Reason::Standby => "operator standby",
            Reason::PingNodes => "better ping node connectivity (ipfail)",
            Reason::Holder => "auto_failback off: the holder keeps it",
            Reason::Preferred => "preferred node in haresources",
        }
    }
}

#[derive(Debug, Clone)]
struct PeerView {
    name: String,
    life: PeerLife,
    last_heard: Option<Instant>,
    generation: Option<u64>,
    deadtime: Duration,
    phase: Phase,
    standby: bool,
    ping: u16,
    groups: Vec<GroupState>,
    digest_warned: bool,
    /// STONITH requested and not yet confirmed; retry at the instant if set.
    reset_pending: Option<Option<Instant>>,
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
    /// (key, our state, the peer's last reported state)
    pub groups: Vec<(String, GroupState, GroupState)>,
    pub peer: Option<(String, PeerLife)>,
    /// The peer's last reported phase and operator-standby flag, while it is alive.
    pub peer_report: Option<(Phase, bool)>,
    /// The links: the configured interfaces in ha.cf order, then any other one a packet came
    /// in on, by name.
    pub links: Vec<LinkState>,
}

/// The state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Fsm {
    cfg: FsmConfig,
    phase: NodePhase,
    started: Option<Instant>,
    next_send: Option<Instant>,
    next_probe: Option<Instant>,
    roles: Vec<Role>,
    both_logged: Vec<bool>,
    peer: Option<PeerView>,
    standby: bool,
    ping: u16,
    /// Groups being taken over from a dead peer (for "mach_down takeover complete").
    takeover: Vec<GroupId>,
    /// Monitoring of each group.
    watches: Vec<Watch>,
    /// Set when something changed that the peer should hear about now.
    dirty: Option<Kind>,
    /// Newest (generation, seq) taken from each sender ([`Event::Packet`]).
    newest: HashMap<String, (u64, u64)>,
    /// The links by interface.
    links: BTreeMap<String, LinkState>,
}

impl Fsm {
    /// A new machine; nothing happens until [`Event::Start`].
    pub fn new(cfg: FsmConfig) -> Self {
        let n = cfg.groups.len();
        let peer = cfg.peer.clone().map(|name| PeerView {
            name,
            life: PeerLife::Unknown,
            last_heard: None,
            generation: None,
            deadtime: cfg.deadtime,
            phase: Phase::Init,
            standby: false,
            ping: 0,
            groups: vec![GroupState::Unknown; n],
            digest_warned: false,
            reset_pending: None,
        });
        let watches = cfg
            .groups
            .iter()
            .map(|g| Watch {
                trackers: vec![Tracker::default(); g.resources.len()],
                ..Watch::default()
            })
            .collect();
        let links = cfg
            .links
            .iter()
            .map(|iface| (iface.clone(), LinkState::unheard(iface)))
            .collect();
        Fsm {
            ping: cfg.ping_nodes,
            newest: HashMap::new(),
            links,
            cfg,
            phase: NodePhase::Created,
            started: None,
            next_send: None,
            next_probe: None,
            roles: vec![Role::Init { probed: None }; n],
            both_logged: vec![false; n],
            peer,
            standby: false,
            takeover: Vec::new(),
            watches,
            dirty: None,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &FsmConfig {
        &self.cfg
    }

    /// The node's phase.
    pub fn phase(&self) -> NodePhase {
        self.phase
    }

    /// A group's role here.
    pub fn role(&self, group: GroupId) -> Option<Role> {
        self.roles.get(group).copied()
    }

    /// What we know of the peer.
    pub fn peer_life(&self) -> Option<PeerLife> {
        self.peer.as_ref().map(|p| p.life)
    }

    /// A snapshot for status output.
    pub fn status(&self) -> Status {
        Status {
            phase: self.phase,
            standby: self.standby,
            ping_reachable: self.ping,
            groups: self
                .cfg
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.key.clone(), self.wire_state(i), self.peer_state(i)))
                .collect(),
            peer: self.peer.as_ref().map(|p| (p.name.clone(), p.life)),
            peer_report: self
                .peer
                .as_ref()
                .filter(|p| p.life == PeerLife::Alive)
                .map(|p| (p.phase, p.standby)),
            links: self
                .cfg
                .links
                .iter()
                .chain(self.links.keys().filter(|k| !self.cfg.links.contains(k)))
                .filter_map(|iface| self.links.get(iface).cloned())
                .collect(),
        }
    }

    /// The latest instant by which the loop must deliver [`Event::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d: Vec<Instant> = Vec::new();
        if matches!(self.phase, NodePhase::Created | NodePhase::Stopped) {
            return None;
        }
        d.extend(self.next_send);
        d.extend(self.next_probe);
        if let Some(p) = &self.peer {
            match p.life {
                PeerLife::Unknown => d.extend(self.started.map(|s| s + self.cfg.initdead)),
                PeerLife::Alive => d.extend(p.last_heard.map(|t| t + p.deadtime)),
                _ => {}
            }
            if let Some(Some(t)) = p.reset_pending {
                d.push(t);
            }
        }
        for (r, w) in self.roles.iter().zip(&self.watches) {
            match r {
                Role::Releasing {
                    retry_at: Some(t), ..
                } => d.push(*t),
                Role::Failed { until } => d.push(*until),
                Role::Active if self.phase == NodePhase::Running => d.extend(w.next),
                _ => {}
            }
        }
        d.into_iter().min()
    }

    /// Feeds one event; returns what to do.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.phase, NodePhase::Stopped | NodePhase::Fenced) {
            return out;
        }
        // Packets only: they move no group unless heard.
        let event = match event {
            Event::Packet { msg, origin } => {
                if !self.newer(&msg, &mut out) {
                    return out;
                }
                self.link_heard(&origin, &msg.node, now, &mut out);
                Event::Heard(msg)
            }
            Event::LinkHeard(origin) => {
                let peer = self.peer_name();
                self.link_heard(&origin, &peer, now, &mut out);
                return out;
            }
            other => other,
        };
        let before = self.status();
        match event {
            Event::Start => self.on_start(now, &mut out),
            Event::Heard(msg) => self.on_heard(msg, now, &mut out),
            Event::Tick => self.on_tick(now, &mut out),
            Event::Probed { group, running } => self.on_probed(group, running, now, &mut out),
            Event::Acquired { group, ok } => self.on_acquired(group, ok, now, &mut out),
            Event::Released { group, ok } => self.on_released(group, ok, now, &mut out),
            Event::PingReachable(n) => {
                if n != self.ping {
                    log(
                        &mut out,
                        Level::Info,
                        format!("ping nodes reachable: {n} of {}", self.cfg.ping_nodes),
                    );
                    self.ping = n;
                    self.mark(Kind::Heartbeat);
                }
            }
            Event::Standby => self.on_standby(&mut out),
            Event::Takeover => self.on_takeover(&mut out),
            Event::Stop => {
                if self.phase != NodePhase::Created {
                    log(
                        &mut out,
                        Level::Info,
                        "Heartbeat shutdown in progress.".into(),
                    );
                    self.phase = NodePhase::Stopping;
                    self.mark(Kind::Heartbeat);
                }
            }
            Event::PeerReset { ok } => self.on_peer_reset(ok, now, &mut out),
            Event::Monitored { group, failed } => self.on_monitored(group, &failed, now, &mut out),
            Event::Restarted { group, ok } => self.on_restarted(group, ok, now, &mut out),
            Event::Packet { .. } | Event::LinkHeard(_) => {}
        }
        if !matches!(self.phase, NodePhase::Created | NodePhase::Fenced) {
            self.reconcile(now, &mut out);
        }
        if let Some(kind) = self.dirty.take() {
            if self.phase != NodePhase::Fenced {
                out.push(Action::Send(self.payload(kind)));
                self.next_send = Some(now + self.cfg.keepalive);
            }
        }
        let after = self.status();
        if joined(&before, &after) {
            out.push(Action::PeerJoined);
        }
        out.extend(regained(&before, &after).into_iter().map(Action::Announce));
        out
    }

    /// Whether `msg` is newer than every message taken from its sender; if so it is the
    /// newest now, otherwise it is dropped.
    fn newer(&mut self, msg: &Message, out: &mut Vec<Action>) -> bool {
        let id = (msg.generation, msg.seq);
        if self.newest.get(&msg.node).is_some_and(|n| id <= *n) {
            log(
                out,
                Level::Debug,
                format!(
                    "older status from {} (generation {}, seq {}) than one already seen: dropped",
                    msg.node, msg.generation, msg.seq
                ),
            );
            out.push(Action::Dropped("out_of_order"));
            return false;
        }
        self.newest.insert(msg.node.clone(), id);
        true
    }

    /// A packet from `peer` came in on `origin.iface`: the link is up.
    fn link_heard(&mut self, origin: &Origin, peer: &str, now: Instant, out: &mut Vec<Action>) {
        let l = self
            .links
            .entry(origin.iface.clone())
            .or_insert_with(|| LinkState::unheard(&origin.iface));
        if !l.up {
            log(
                out,
                Level::Info,
                format!("Link {peer}:{} up.", origin.iface),
            );
        }
        l.from = Some(origin.from);
        l.last_heard = Some(now);
        l.up = true;
    }

    /// Links silent for a deadtime are dead.
    fn check_links(&mut self, now: Instant, out: &mut Vec<Action>) {
        let dead_after = self.cfg.deadtime;
        let peer = self.peer_name();
        for (iface, l) in self.links.iter_mut() {
            let silent = l
                .last_heard
                .is_some_and(|at| now.saturating_duration_since(at) >= dead_after);
            if l.up && silent {
                l.up = false;
                log(out, Level::Warn, format!("Link {peer}:{iface} dead."));
            }
        }
    }

    fn mark(&mut self, kind: Kind) {
        // A specific kind wins over a plain heartbeat.
        if self.dirty.is_none() || kind != Kind::Heartbeat {
            self.dirty = Some(kind);
        }
    }

    fn on_start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase != NodePhase::Created {
            return;
        }
        self.phase = NodePhase::Init;
        self.started = Some(now);
        log(
            out,
            Level::Info,
            format!(
                "starting: probing {} resource group(s) before joining",
                self.roles.len()
            ),
        );
        for g in 0..self.roles.len() {
            out.push(Action::Probe(g));
        }
        self.next_probe = self.cfg.probe_interval.map(|i| now + i);
        self.mark(Kind::Heartbeat);
    }

    fn on_heard(&mut self, msg: Message, now: Instant, out: &mut Vec<Action>) {
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
            Kind::Heartbeat => {}
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

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase == NodePhase::Created {
            return;
        }
        self.check_links(now, out);
        if self.next_send.is_some_and(|t| now >= t) {
            self.mark(Kind::Heartbeat);
        }
        // Peer death: initdead before it was ever heard, its advertised deadtime after.
        let started = self.started;
        let initdead = self.cfg.initdead;
        let dead = match &self.peer {
            Some(p) => match p.life {
                PeerLife::Unknown => started.is_some_and(|s| now >= s + initdead),
                PeerLife::Alive => p.last_heard.is_some_and(|t| now >= t + p.deadtime),
                _ => false,
            },
            None => false,
        };
        if dead {
            self.declare_dead(out);
        }
        if let Some(p) = self.peer.as_mut() {
            if let Some(Some(t)) = p.reset_pending {
                if now >= t {
                    p.reset_pending = Some(None);
                    out.push(Action::ResetPeer(p.name.clone()));
                }
            }
        }
        for g in 0..self.roles.len() {
            match self.roles.get(g).copied() {
                Some(Role::Releasing {
                    why,
                    attempts,
                    retry_at: Some(t),
                }) if now >= t => {
                    self.set_role(
                        g,
                        Role::Releasing {
                            why,
                            attempts,
                            retry_at: None,
                        },
                    );
                    out.push(Action::Release(g));
                }
                Some(Role::Failed { until }) if now >= until => {
                    self.set_role(g, Role::Standby);
                }
                _ => {}
            }
        }
        if self.phase == NodePhase::Running {
            for g in 0..self.roles.len() {
                let Some(w) = self.watches.get_mut(g) else {
                    continue;
                };
                let due = w.next.is_some_and(|t| now >= t) && w.pending == Pending::Nothing;
                if due && self.roles.get(g) == Some(&Role::Active) {
                    w.next = None;
                    w.pending = Pending::Status;
                    out.push(Action::Monitor(g));
                }
            }
            if let (Some(t), Some(every)) = (self.next_probe, self.cfg.probe_interval) {
                if now >= t {
                    self.next_probe = Some(now + every);
                    for g in 0..self.roles.len() {
                        if self.roles.get(g) == Some(&Role::Standby) {
                            out.push(Action::Probe(g));
                        }
                    }
                }
            }
        }
    }

    fn declare_dead(&mut self, out: &mut Vec<Action>) {
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

    fn on_peer_reset(&mut self, ok: bool, now: Instant, out: &mut Vec<Action>) {
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

    fn on_probed(&mut self, g: GroupId, running: bool, now: Instant, out: &mut Vec<Action>) {
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

    fn on_acquired(&mut self, g: GroupId, ok: bool, now: Instant, out: &mut Vec<Action>) {
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

    fn on_released(&mut self, g: GroupId, ok: bool, now: Instant, out: &mut Vec<Action>) {
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

    fn on_monitored(&mut self, g: GroupId, failed: &[usize], now: Instant, out: &mut Vec<Action>) {
        let Some(policy) = self.cfg.monitor else {
            return;
        };
        let current = self.roles.get(g) == Some(&Role::Active)
            && self
                .watches
                .get(g)
                .is_some_and(|w| w.pending == Pending::Status);
        if !current {
            return;
        }
        let names = self
            .cfg
            .groups
            .get(g)
            .map(|s| s.resources.clone())
            .unwrap_or_default();
        let name = |r: usize| names.get(r).cloned().unwrap_or_else(|| format!("#{r}"));
        let mut restart = Vec::new();
        let mut give_up = None;
        for &r in failed {
            let Some(t) = self.watches.get_mut(g).and_then(|w| w.trackers.get_mut(r)) else {
                continue;
            };
            match t.observe(&policy, now) {
                Verdict::Restart { attempt, of } => {
                    log(
                        out,
                        Level::Warn,
                        format!(
                            "Resource {} failed its monitor: restarting it ({attempt} of {of})",
                            name(r)
                        ),
                    );
                    restart.push(r);
                }
                Verdict::GiveUp { failures } => {
                    give_up.get_or_insert((r, failures));
                }
            }
        }
        if let Some((r, failures)) = give_up {
            let times = if failures == 1 { "time" } else { "times" };
            let within = crate::config::settings::words(policy.window);
            let to = self.give_up_to(g);
            log(
                out,
                Level::Crit,
                format!(
                    "Resource {} failed {failures} {times} in {within}: giving up the group {to}",
                    name(r)
                ),
            );
            self.release(g, ReleaseWhy::MonitorFailed, out);
            return;
        }
        let Some(w) = self.watches.get_mut(g) else {
            return;
        };
        if restart.is_empty() {
            w.pending = Pending::Nothing;
            w.next = Some(now + policy.interval);
        } else {
            w.pending = Pending::Restart;
            out.push(Action::Restart {
                group: g,
                resources: restart,
            });
        }
    }

    fn on_restarted(&mut self, g: GroupId, ok: bool, now: Instant, out: &mut Vec<Action>) {
        let Some(policy) = self.cfg.monitor else {
            return;
        };
        if self.roles.get(g) != Some(&Role::Active) || !self.restarting(g) {
            return;
        }
        let key = self.key(g);
        if ok {
            log(
                out,
                Level::Info,
                format!("Resource group {key}: restarted in place."),
            );
            if let Some(w) = self.watches.get_mut(g) {
                w.pending = Pending::Nothing;
                w.next = Some(now + policy.interval);
            }
        } else {
            let to = self.give_up_to(g);
            log(
                out,
                Level::Crit,
                format!("Resource group {key} could not be restarted: giving up the group {to}"),
            );
            self.release(g, ReleaseWhy::MonitorFailed, out);
        }
    }

    /// Where a group given up after monitor failures goes, in words for the log.
    fn give_up_to(&self, g: GroupId) -> String {
        let peer_can = self.peer.as_ref().is_some_and(|p| {
            p.life == PeerLife::Alive
                && p.phase == Phase::Running
                && !matches!(
                    p.groups.get(g),
                    Some(GroupState::Failed | GroupState::Unknown) | None
                )
        });
        if peer_can {
            format!("to {}", self.peer_name())
        } else {
            "(no other node can take it now)".to_string()
        }
    }

    fn on_standby(&mut self, out: &mut Vec<Action>) {
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

    fn on_takeover(&mut self, out: &mut Vec<Action>) {
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

    /// Decides each group's next move from the current facts.
    fn reconcile(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase == NodePhase::Init {
            let probed = self
                .roles
                .iter()
                .all(|r| !matches!(r, Role::Init { probed: None }));
            let peer_known = self
                .peer
                .as_ref()
                .is_none_or(|p| p.life != PeerLife::Unknown);
            if !(probed && peer_known) {
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

    /// Resources of `g` are running here while we do not hold it: adopt if it is ours to
    /// hold and the peer does not have it, otherwise stop them.
    fn settle_found_running(&mut self, g: GroupId, _now: Instant, out: &mut Vec<Action>) {
        let key = self.key(g);
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
    fn stray_reason(&self, g: GroupId) -> String {
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

    fn consider_acquire(&mut self, g: GroupId, out: &mut Vec<Action>) {
        let (owner, reason) = self.desired(g);
        if owner != Owner::Local || !self.peer_allows_acquire(g) {
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

    fn release(&mut self, g: GroupId, why: ReleaseWhy, out: &mut Vec<Action>) {
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

    fn set_role(&mut self, g: GroupId, role: Role) {
        if role != Role::Active {
            // Results of a round still running are ignored from now on.
            if let Some(w) = self.watches.get_mut(g) {
                w.next = None;
                w.pending = Pending::Nothing;
            }
        }
        if let Some(r) = self.roles.get_mut(g) {
            if *r != role {
                *r = role;
                self.mark(Kind::Heartbeat);
            }
        }
    }

    /// A restart of `g` is under way: nothing else is done to the group until it answers.
    fn restarting(&self, g: GroupId) -> bool {
        self.watches
            .get(g)
            .is_some_and(|w| w.pending == Pending::Restart)
    }

    fn key(&self, g: GroupId) -> String {
        self.cfg
            .groups
            .get(g)
            .map(|s| s.key.clone())
            .unwrap_or_default()
    }

    fn peer_name(&self) -> String {
        self.peer
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    fn peer_alive(&self) -> bool {
        self.peer
            .as_ref()
            .is_some_and(|p| p.life == PeerLife::Alive)
    }

    fn peer_state(&self, g: GroupId) -> GroupState {
        self.peer
            .as_ref()
            .and_then(|p| p.groups.get(g).copied())
            .unwrap_or(GroupState::Unknown)
    }

    /// May we start `g` without the peer also having it?
    fn peer_allows_acquire(&self, g: GroupId) -> bool {
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

    /// The rule of the module documentation.
    fn desired(&self, g: GroupId) -> (Owner, Reason) {
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

    fn wire_state(&self, g: GroupId) -> GroupState {
        match self.roles.get(g) {
            Some(Role::Init { .. }) | None => GroupState::Unknown,
            Some(Role::Standby) => GroupState::Standby,
            Some(Role::Acquiring) => GroupState::Acquiring,
            Some(Role::Active) => GroupState::Active,
            Some(Role::Releasing {
                why: ReleaseWhy::Stray,
                ..
            }) => GroupState::Cleaning,
            Some(Role::Releasing { .. }) => GroupState::Releasing,
            Some(Role::Failed { .. }) => GroupState::Failed,
        }
    }

    fn payload(&self, kind: Kind) -> Payload {
        Payload {
            kind,
            phase: match self.phase {
                NodePhase::Created | NodePhase::Init => Phase::Init,
                NodePhase::Running => Phase::Running,
                _ => Phase::Stopping,
            },
            standby: self.standby,
            deadtime_ms: u32::try_from(self.cfg.deadtime.as_millis()).unwrap_or(u32::MAX),
            ping_reachable: self.ping,
            config_digest: self.cfg.config_digest,
            groups: self
                .cfg
                .groups
                .iter()
                .enumerate()
                .map(|(i, s)| GroupStatus {
                    key: s.key.clone(),
                    state: self.wire_state(i),
                })
                .collect(),
        }
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

fn log(out: &mut Vec<Action>, level: Level, text: String) {
    out.push(Action::Log(level, text));
}

impl LinkState {
    fn unheard(iface: &str) -> LinkState {
        LinkState {
            iface: iface.to_string(),
            from: None,
            last_heard: None,
            up: false,
        }
    }
}

/// Groups we held all along that the peer has just stopped claiming (a healed partition:
/// it had taken them, and clients and routers may have followed its gratuitous ARP).
fn regained(before: &Status, after: &Status) -> Vec<GroupId> {
    before
        .groups
        .iter()
        .zip(after.groups.iter())
        .enumerate()
        .filter(|(_, ((_, b_local, b_peer), (_, a_local, a_peer)))| {
            *b_local == GroupState::Active
                && *a_local == GroupState::Active
                && b_peer.claims()
                && !a_peer.claims()
        })
        .map(|(g, _)| g)
        .collect()
}

/// Whether the peer has just become alive (it was dead, gone or not heard yet).
fn joined(before: &Status, after: &Status) -> bool {
    let alive = |s: &Status| matches!(s.peer, Some((_, PeerLife::Alive)));
    !alive(before) && alive(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const KA: Duration = Duration::from_secs(1);
    const DT: Duration = Duration::from_secs(3);

    fn cfg(local: &str, af: AutoFailback) -> FsmConfig {
        let peer = if local == "ha01" { "ha02" } else { "ha01" };
        FsmConfig {
            local: local.into(),
            peer: Some(peer.into()),
            groups: vec![GroupSpec {
                key: "IPaddr::192.0.2.100/24/eth0".into(),
                preferred: "ha01".into(),
                resources: vec!["IPaddr::192.0.2.100/24/eth0".into(), "httpd".into()],
            }],
            keepalive: KA,
            deadtime: DT,
            warntime: Duration::from_secs(2),
            initdead: Duration::from_secs(12),
            auto_failback: af,
            ping_nodes: 0,
            stop_retries: 10,
            stop_retry_interval: Duration::from_secs(1),
            fence: FenceAction::Reboot,
            failed_hold: Duration::from_secs(60),
            probe_interval: Some(Duration::from_secs(60)),
            stonith: false,
            stonith_retry: Duration::from_secs(5),
            config_digest: 7,
            monitor: None,
            links: vec![],
        }
    }

    /// One simulated node: the machine plus its resources.
    struct Node {
        fsm: Fsm,
        generation: u64,
        seq: u64,
        /// Resources of group 0 running on this machine.
        running: bool,
        up: bool,
        fail_stop: bool,
        fail_start: bool,
        /// Restarts in place fail.
        fail_restart: bool,
        restarts: usize,
        logs: Vec<(Duration, Level, String)>,
        acquires: usize,
        releases: usize,
        fenced: bool,
        exited: bool,
        /// Groups announced again ([`Action::Announce`]).
        announces: Vec<GroupId>,
        /// [`Action::PeerJoined`] seen.
        joins: usize,
    }

    impl Node {
        fn new(c: FsmConfig, generation: u64) -> Self {
            Node {
                fsm: Fsm::new(c),
                generation,
                seq: 0,
                running: false,
                up: true,
                fail_stop: false,
                fail_start: false,
                fail_restart: false,
                restarts: 0,
                logs: Vec::new(),
                acquires: 0,
                releases: 0,
                fenced: false,
                exited: false,
                announces: Vec::new(),
                joins: 0,
            }
        }

        fn logged(&self, needle: &str) -> bool {
            self.logs.iter().any(|(_, _, l)| l.contains(needle))
        }

        fn log_time(&self, needle: &str) -> Option<Duration> {
            self.logs
                .iter()
                .find(|(_, _, l)| l.contains(needle))
                .map(|(t, _, _)| *t)
        }
    }

    /// Two nodes, a link, zero-latency delivery, explicit time.
    struct Sim {
        t0: Instant,
        now: Duration,
        nodes: [Node; 2],
        link: bool,
        overlap_seen: bool,
    }

    impl Sim {
        fn new(af: AutoFailback) -> Self {
            Sim {
                t0: Instant::now(),
                now: Duration::ZERO,
                nodes: [Node::new(cfg("ha01", af), 1), Node::new(cfg("ha02", af), 1)],
                link: true,
                overlap_seen: false,
            }
        }

        fn at(&self) -> Instant {
            self.t0 + self.now
        }

        fn event(&mut self, i: usize, e: Event) {
            let mut queue = VecDeque::from([(i, e)]);
            while let Some((i, e)) = queue.pop_front() {
                if !self.nodes[i].up {
                    continue;
                }
                let now = self.at();
                let actions = self.nodes[i].fsm.step(e, now);
                for a in actions {
                    let n = &mut self.nodes[i];
                    match a {
                        Action::Send(payload) => {
                            n.seq += 1;
                            let msg = Message {
                                node: n.fsm.config().local.clone(),
                                generation: n.generation,
                                seq: n.seq,
                                timestamp_ms: 0,
                                nonce: 0,
                                echo: 0,
                                auth_index: 1,
                                payload,
                            };
                            if self.link && self.nodes[1 - i].up {
                                queue.push_back((1 - i, Event::Heard(msg)));
                            }
                        }
                        Action::Probe(g) => queue.push_back((
                            i,
                            Event::Probed {
                                group: g,
                                running: n.running,
                            },
                        )),
                        Action::Acquire(g) => {
                            n.acquires += 1;
                            let ok = !n.fail_start;
                            n.running = ok;
                            queue.push_back((i, Event::Acquired { group: g, ok }));
                        }
                        Action::Release(g) => {
                            n.releases += 1;
                            let ok = !n.fail_stop;
                            if ok {
                                n.running = false;
                            }
                            queue.push_back((i, Event::Released { group: g, ok }));
                        }
                        Action::Log(level, text) => n.logs.push((self.now, level, text)),
                        Action::FenceSelf(_) => n.fenced = true,
                        Action::Exit => n.exited = true,
                        Action::ResetPeer(_) => queue.push_back((i, Event::PeerReset { ok: true })),
                        // The group's second resource (httpd) is what dies here.
                        Action::Monitor(g) => queue.push_back((
                            i,
                            Event::Monitored {
                                group: g,
                                failed: if n.running { vec![] } else { vec![1] },
                            },
                        )),
                        Action::Restart { group, .. } => {
                            n.restarts += 1;
                            let ok = !n.fail_restart;
                            n.running = ok;
                            queue.push_back((i, Event::Restarted { group, ok }));
                        }
                        Action::Announce(g) => n.announces.push(g),
                        Action::PeerJoined => n.joins += 1,
                        Action::Dropped(_) => {}
                    }
                }
                if self.link && self.nodes[0].running && self.nodes[1].running {
                    self.overlap_seen = true;
                }
            }
        }

        fn start(&mut self, i: usize) {
            self.event(i, Event::Start);
        }

        /// Advances time in 100 ms steps, ticking both nodes.
        fn run(&mut self, d: Duration) {
            let end = self.now + d;
            while self.now < end {
                self.now += Duration::from_millis(100);
                for i in 0..2 {
                    self.event(i, Event::Tick);
                }
            }
        }

        fn crash(&mut self, i: usize) {
            self.nodes[i].up = false;
            self.nodes[i].running = false;
        }

        fn reboot(&mut self, i: usize, af: AutoFailback, stray: bool) {
            let name = if i == 0 { "ha01" } else { "ha02" };
            let generation = self.nodes[i].generation + 1;
            self.nodes[i] = Node::new(cfg(name, af), generation);
            self.nodes[i].running = stray;
            self.start(i);
        }
    }

    fn role(s: &Sim, i: usize) -> Role {
        s.nodes[i].fsm.role(0).unwrap()
    }

    #[test]
    fn both_start_together_preferred_node_acquires_without_delay() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_millis(100));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert_eq!(s.nodes[1].acquires, 0);
        s.run(Duration::from_secs(10));
        assert_eq!(role(&s, 0), Role::Active);
        assert!(!s.overlap_seen);
        assert!(!s.nodes[1].logged("is dead"));
    }

    #[test]
    fn both_start_together_off_mode_also_uses_preferred_node() {
        let mut s = Sim::new(AutoFailback::Off);
        s.start(1);
        s.start(0);
        s.run(Duration::from_millis(100));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
    }

    #[test]
    fn crash_is_detected_after_deadtime_and_peer_takes_over() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(5));
        // Last heartbeat from ha01 at 5.0 s (sent every second since 0.0).
        s.crash(0);
        let crash = s.now;
        s.run(Duration::from_millis(2900));
        assert_eq!(role(&s, 1), Role::Standby, "not before deadtime");
        s.run(Duration::from_millis(200));
        let dead_at = s.nodes[1].log_time("node ha01: is dead").unwrap();
        assert!(dead_at >= crash + DT - Duration::from_millis(1000) && dead_at <= crash + DT);
        assert!(s.nodes[1].logged("No STONITH device configured."));
        assert!(s.nodes[1].logged("Resources being acquired from ha01."));
        assert!(s.nodes[1].logged("Taking over resource group IPaddr::192.0.2.100/24/eth0"));
        assert!(s.nodes[1].logged("mach_down takeover complete."));
        assert_eq!(role(&s, 1), Role::Active);
    }

    #[test]
    fn auto_failback_on_moves_back_with_release_ack_acquire_and_no_overlap() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(2));
        s.crash(0);
        s.run(Duration::from_secs(4));
        assert_eq!(role(&s, 1), Role::Active);
        s.reboot(0, AutoFailback::On, false);
        s.run(Duration::from_millis(100));
        assert!(s.nodes[1].logged("Heartbeat restart on node ha01"));
        assert!(s.nodes[1].logged("give up HA resources IPaddr::192.0.2.100/24/eth0 to ha01"));
        assert!(s.nodes[0].logged("ha02: remote resource release completed."));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert!(!s.overlap_seen);
        s.run(Duration::from_secs(10));
        assert_eq!(role(&s, 0), Role::Active);
    }

    #[test]
    fn legacy_fails_back_like_on() {
        let mut s = Sim::new(AutoFailback::Legacy);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.crash(0);
        s.run(Duration::from_secs(4));
        s.reboot(0, AutoFailback::Legacy, false);
        s.run(Duration::from_millis(200));
        assert_eq!(role(&s, 0), Role::Active);
        assert!(!s.overlap_seen);
    }

    #[test]
    fn auto_failback_off_leaves_the_group_on_the_backup() {
        let mut s = Sim::new(AutoFailback::Off);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.crash(0);
        s.run(Duration::from_secs(4));
        s.reboot(0, AutoFailback::Off, false);
        s.run(Duration::from_secs(30));
        assert_eq!(role(&s, 0), Role::Standby);
        assert_eq!(role(&s, 1), Role::Active);
        assert_eq!(s.nodes[0].acquires, 0);
    }

    #[test]
    fn seed_bug_stray_httpd_on_returning_primary_is_stopped() {
        let mut s = Sim::new(AutoFailback::Off);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.crash(0);
        s.run(Duration::from_secs(4));
        assert!(s.nodes[1].running);
        // ha01 boots with httpd already started by init, outside the cluster.
        s.reboot(0, AutoFailback::Off, true);
        s.run(Duration::from_millis(100));
        assert!(s.nodes[0].logged(
            "is active, and should not be! Stopping it: the group belongs to ha02 \
             (auto_failback off: the holder keeps it), not to this node."
        ));
        assert!(!s.nodes[0].running, "stray stopped");
        assert!(s.nodes[1].running, "the holder keeps it");
        assert_eq!(s.nodes[1].releases, 0);
        assert_eq!(role(&s, 0), Role::Standby);
    }

    #[test]
    fn seed_bug_with_failback_on_ends_on_primary_only() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.crash(0);
        s.run(Duration::from_secs(4));
        s.reboot(0, AutoFailback::On, true);
        s.run(Duration::from_millis(200));
        assert!(s.nodes[0].running);
        assert!(!s.nodes[1].running);
        assert_eq!(role(&s, 0), Role::Active);
    }

    #[test]
    fn restarted_holder_adopts_its_running_group_without_a_gap() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(2));
        // ha01's daemon restarts within deadtime; the VIP stays configured meanwhile.
        let generation = s.nodes[0].generation + 1;
        s.nodes[0] = Node::new(cfg("ha01", AutoFailback::On), generation);
        s.nodes[0].running = true;
        s.start(0);
        s.run(Duration::from_millis(100));
        assert!(s.nodes[0].logged("found running here: adopting it"));
        assert_eq!(s.nodes[0].releases, 0);
        assert_eq!(s.nodes[1].acquires, 0);
        assert_eq!(role(&s, 0), Role::Active);
    }

    #[test]
    fn initdead_alone_then_takes_everything() {
        let mut s = Sim::new(AutoFailback::On);
        s.nodes[0].up = false;
        s.start(1);
        s.run(Duration::from_millis(11_900));
        assert_eq!(
            role(&s, 1),
            Role::Init {
                probed: Some(false)
            }
        );
        assert_eq!(s.nodes[1].fsm.phase(), NodePhase::Init);
        s.run(Duration::from_millis(100));
        assert_eq!(
            s.nodes[1].log_time("node ha01: is dead"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(role(&s, 1), Role::Active);
    }

    #[test]
    fn late_heartbeat_is_logged_in_heartbeat_words() {
        let t0 = Instant::now();
        let mut f = Fsm::new(cfg("ha01", AutoFailback::On));
        f.step(Event::Start, t0);
        let hb = |seq| Message {
            node: "ha02".into(),
            generation: 1,
            seq,
            timestamp_ms: 0,
            nonce: 0,
            echo: 0,
            auth_index: 1,
            payload: Payload {
                kind: Kind::Heartbeat,
                phase: Phase::Running,
                standby: false,
                deadtime_ms: 3000,
                ping_reachable: 0,
                config_digest: 7,
                groups: vec![GroupStatus {
                    key: "IPaddr::192.0.2.100/24/eth0".into(),
                    state: GroupState::Standby,
                }],
            },
        };
        let a = f.step(Event::Heard(hb(1)), t0 + Duration::from_millis(100));
        assert!(a.contains(&Action::Log(Level::Info, "Link ha02 up.".into())));
        let a = f.step(Event::Heard(hb(2)), t0 + Duration::from_millis(2600));
        assert!(
            a.contains(&Action::Log(
                Level::Warn,
                "Late heartbeat: Node ha02: interval 2500 ms".into()
            )),
            "{a:?}"
        );
        let a = f.step(Event::Heard(hb(3)), t0 + Duration::from_millis(3600));
        assert!(!a.iter().any(|x| matches!(x, Action::Log(Level::Warn, _))));
        // The peer's advertised deadtime is honoured: dead 3 s after the last heartbeat.
        let a = f.step(Event::Tick, t0 + Duration::from_millis(6599));
        assert!(!a.contains(&Action::Log(Level::Warn, "node ha02: is dead".into())));
        let a = f.step(Event::Tick, t0 + Duration::from_millis(6600));
        assert!(a.contains(&Action::Log(Level::Warn, "node ha02: is dead".into())));
    }

    #[test]
    fn keepalive_is_sent_on_time_and_deadline_reported() {
        let t0 = Instant::now();
        let mut f = Fsm::new(cfg("ha01", AutoFailback::On));
        let a = f.step(Event::Start, t0);
        assert!(matches!(a.last(), Some(Action::Send(p)) if p.phase == Phase::Init));
        assert_eq!(
            a.iter().filter(|x| matches!(x, Action::Probe(0))).count(),
            1
        );
        assert_eq!(f.next_deadline(), Some(t0 + KA));
        assert!(f
            .step(Event::Tick, t0 + Duration::from_millis(999))
            .is_empty());
        let a = f.step(Event::Tick, t0 + KA);
        assert!(matches!(a.as_slice(), [Action::Send(p)] if p.kind == Kind::Heartbeat));
    }

    #[test]
    fn ping_node_loss_gives_resources_to_the_better_connected_peer() {
        let mut s = Sim::new(AutoFailback::On);
        for n in &mut s.nodes {
            let mut c = n.fsm.config().clone();
            c.ping_nodes = 1;
            n.fsm = Fsm::new(c);
        }
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        assert_eq!(role(&s, 0), Role::Active);
        s.event(0, Event::PingReachable(0));
        s.run(Duration::from_millis(100));
        assert!(s.nodes[0].logged("better ping node connectivity (ipfail)"));
        assert_eq!(role(&s, 1), Role::Active);
        assert_eq!(role(&s, 0), Role::Standby);
        assert!(!s.overlap_seen);
        // Connectivity back: the preferred node (auto_failback on) gets it back.
        s.event(0, Event::PingReachable(1));
        s.run(Duration::from_millis(100));
        assert_eq!(role(&s, 0), Role::Active);
        assert!(!s.overlap_seen);
    }

    #[test]
    fn split_brain_heals_to_one_owner_and_the_winner_keeps_it() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.link = false;
        s.run(Duration::from_secs(5));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Active, "both took it during the cut");
        s.link = true;
        s.run(Duration::from_secs(2));
        assert!(s.nodes[0].logged("Cluster node ha02 returning after partition."));
        assert!(s.nodes[1].logged("(partition healed): giving it up to ha01"));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert_eq!(
            s.nodes[0].releases, 0,
            "the winner never stopped its resources"
        );
        assert!(s.nodes[0].running);
    }

    #[test]
    fn split_brain_heal_in_off_mode_uses_the_preferred_node() {
        let mut s = Sim::new(AutoFailback::Off);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.link = false;
        s.run(Duration::from_secs(5));
        s.link = true;
        s.run(Duration::from_secs(2));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert_eq!(s.nodes[0].releases, 0);
    }

    #[test]
    fn standby_then_takeover() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.event(0, Event::Standby);
        s.run(Duration::from_millis(100));
        assert!(s.nodes[0].logged("ha01 wants to go standby [all]"));
        assert_eq!(role(&s, 1), Role::Active);
        assert!(!s.overlap_seen);
        // Standby sticks even though ha01 is preferred and auto_failback is on.
        s.run(Duration::from_secs(10));
        assert_eq!(role(&s, 1), Role::Active);
        s.event(0, Event::Takeover);
        s.run(Duration::from_millis(100));
        assert!(s.nodes[1].logged("ha01 wants to take over: going standby [all]"));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert!(!s.overlap_seen);
        // ha02 is standby now; it still takes over if ha01 dies.
        s.crash(0);
        s.run(Duration::from_secs(4));
        assert_eq!(role(&s, 1), Role::Active);
    }

    #[test]
    fn standby_is_refused_without_an_active_peer() {
        let t0 = Instant::now();
        let mut f = Fsm::new(cfg("ha01", AutoFailback::On));
        f.step(Event::Start, t0);
        let a = f.step(Event::Standby, t0);
        assert!(a.contains(&Action::Log(
            Level::Warn,
            "Standby request refused: no other node is active.".into()
        )));
    }

    #[test]
    fn graceful_stop_hands_over_at_once() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.event(0, Event::Stop);
        assert!(s.nodes[0].exited);
        assert!(s.nodes[1].logged("Received shutdown notice from 'ha01'."));
        assert_eq!(role(&s, 1), Role::Active, "no deadtime wait");
        assert!(!s.nodes[1].logged("is dead"));
        assert!(!s.overlap_seen);
    }

    #[test]
    fn failed_stop_is_retried_then_the_node_fences_itself() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.nodes[0].fail_stop = true;
        s.event(0, Event::Standby);
        s.run(Duration::from_millis(8_850));
        assert_eq!(s.nodes[0].releases, 9, "one attempt per second");
        assert!(!s.nodes[0].fenced);
        assert_eq!(
            role(&s, 1),
            Role::Standby,
            "the peer waits while we hold it"
        );
        s.run(Duration::from_millis(100));
        assert_eq!(s.nodes[0].releases, 10);
        assert!(s.nodes[0].fenced);
        assert!(
            s.nodes[0].logged("could not be stopped after 10 attempts: fencing this node (reboot)")
        );
        assert_eq!(s.nodes[0].fsm.phase(), NodePhase::Fenced);
        // The fenced node goes silent; the peer takes over after deadtime.
        s.crash(0);
        s.run(Duration::from_secs(4));
        assert_eq!(role(&s, 1), Role::Active);
    }

    #[test]
    fn failed_start_leaves_the_group_to_the_peer() {
        let mut s = Sim::new(AutoFailback::On);
        s.nodes[0].fail_start = true;
        s.start(0);
        s.start(1);
        s.run(Duration::from_millis(100));
        assert!(
            s.nodes[0].logged("Giving up resources due to failure of IPaddr::192.0.2.100/24/eth0")
        );
        assert!(matches!(role(&s, 0), Role::Failed { .. }));
        assert_eq!(role(&s, 1), Role::Active);
        assert!(!s.overlap_seen);
        // After the hold time ha01 is a candidate again and, preferred, gets it back.
        s.nodes[0].fail_start = false;
        s.run(Duration::from_secs(61));
        assert_eq!(role(&s, 0), Role::Active);
        assert!(!s.overlap_seen);
    }

    #[test]
    fn periodic_probe_stops_strays_on_the_standby_node() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.nodes[1].running = true; // someone started httpd by hand on ha02
        s.overlap_seen = false;
        s.run(Duration::from_secs(60));
        assert!(s.nodes[1].logged(
            "is active, and should not be! Stopping it: the group belongs to ha01 \
             (preferred node in haresources), not to this node."
        ));
        assert!(!s.nodes[1].running);
        assert_eq!(s.nodes[0].releases, 0);
    }

    const MONITOR: Policy = Policy {
        interval: Duration::from_secs(10),
        restarts: 3,
        window: Duration::from_secs(600),
    };

    /// Both nodes started and settled with monitoring under `policy` (ha01 holds the group).
    fn monitored(policy: Policy) -> Sim {
        let mut s = Sim::new(AutoFailback::On);
        for (i, name) in ["ha01", "ha02"].iter().enumerate() {
            let mut c = cfg(name, AutoFailback::On);
            c.monitor = Some(policy);
            s.nodes[i] = Node::new(c, 1);
        }
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        assert_eq!(role(&s, 0), Role::Active);
        s
    }

    #[test]
    fn a_held_resource_that_dies_is_restarted_in_place() {
        let mut s = monitored(MONITOR);
        s.run(Duration::from_secs(30));
        assert_eq!(s.nodes[0].restarts, 0, "healthy resources are left alone");
        s.nodes[0].running = false; // httpd dies
        s.run(Duration::from_secs(10));
        assert!(s.nodes[0].running, "restarted");
        assert_eq!(s.nodes[0].restarts, 1);
        assert!(s.nodes[0].logged("Resource httpd failed its monitor: restarting it (1 of 3)"));
        assert!(s.nodes[0].logged("restarted in place"));
        assert_eq!(role(&s, 0), Role::Active);
        assert_eq!(role(&s, 1), Role::Standby);
        assert_eq!(s.nodes[0].releases + s.nodes[1].acquires, 0);
    }

    #[test]
    fn a_resource_that_keeps_dying_moves_the_group_to_the_peer() {
        let mut s = monitored(MONITOR);
        for n in 1..=3 {
            s.nodes[0].running = false;
            s.run(Duration::from_secs(10));
            assert_eq!(s.nodes[0].restarts, n);
            assert_eq!(role(&s, 0), Role::Active, "restart {n} stays in place");
        }
        s.nodes[0].running = false;
        s.run(Duration::from_secs(10));
        assert_eq!(s.nodes[0].restarts, 3, "no fourth restart");
        assert!(s.nodes[0]
            .logged("Resource httpd failed 4 times in 10min: giving up the group to ha02"));
        assert!(matches!(role(&s, 0), Role::Failed { .. }));
        assert_eq!(role(&s, 1), Role::Active);
        assert!(!s.overlap_seen);
    }

    #[test]
    fn failures_older_than_the_window_do_not_add_up() {
        let mut s = monitored(Policy {
            restarts: 1,
            window: Duration::from_secs(30),
            ..MONITOR
        });
        s.nodes[0].running = false;
        s.run(Duration::from_secs(10));
        assert_eq!(s.nodes[0].restarts, 1);
        // 40 s later the first failure no longer counts: restarted again, not moved.
        s.run(Duration::from_secs(30));
        s.nodes[0].running = false;
        s.run(Duration::from_secs(10));
        assert_eq!(s.nodes[0].restarts, 2);
        assert_eq!(role(&s, 0), Role::Active);
        // Within the window, the second failure gives the group up.
        s.nodes[0].running = false;
        s.run(Duration::from_secs(10));
        assert!(
            s.nodes[0].logged("Resource httpd failed 2 times in 30s: giving up the group to ha02")
        );
        assert_eq!(role(&s, 1), Role::Active);
    }

    #[test]
    fn a_failed_restart_gives_the_group_up() {
        let mut s = monitored(MONITOR);
        s.nodes[0].fail_restart = true;
        s.nodes[0].running = false;
        s.run(Duration::from_secs(10));
        assert!(s.nodes[0].logged("could not be restarted: giving up the group to ha02"));
        assert!(matches!(role(&s, 0), Role::Failed { .. }));
        assert_eq!(role(&s, 1), Role::Active);
        assert!(!s.overlap_seen);
    }

    #[test]
    fn the_standby_node_and_a_node_without_monitoring_run_no_monitor() {
        let mut s = monitored(MONITOR);
        s.nodes[1].running = false;
        s.run(Duration::from_secs(60));
        assert_eq!(s.nodes[1].restarts, 0);
        // Monitoring off (Heartbeat): a dead resource stays dead.
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        s.nodes[0].running = false;
        s.run(Duration::from_secs(60));
        assert_eq!(s.nodes[0].restarts, 0);
        assert_eq!(role(&s, 0), Role::Active);
    }

    #[test]
    fn a_handover_waits_for_a_restart_under_way() {
        let t0 = Instant::now();
        let mut c = cfg("ha01", AutoFailback::On);
        c.peer = None;
        c.monitor = Some(MONITOR);
        let mut f = Fsm::new(c);
        f.step(Event::Start, t0);
        f.step(
            Event::Probed {
                group: 0,
                running: false,
            },
            t0,
        );
        f.step(Event::Acquired { group: 0, ok: true }, t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(f.next_deadline().is_some_and(|d| d <= t1));
        assert!(f.step(Event::Tick, t1).contains(&Action::Monitor(0)));
        let a = f.step(
            Event::Monitored {
                group: 0,
                failed: vec![1],
            },
            t1,
        );
        assert!(a.contains(&Action::Restart {
            group: 0,
            resources: vec![1]
        }));
        // Shutdown while httpd restarts: nothing is released until the restart answers.
        let a = f.step(Event::Stop, t1);
        assert!(!a.iter().any(|a| matches!(a, Action::Release(_))), "{a:?}");
        let a = f.step(Event::Restarted { group: 0, ok: true }, t1);
        assert!(a.contains(&Action::Release(0)), "{a:?}");
        // A late monitor answer for a group no longer held is ignored.
        let a = f.step(
            Event::Monitored {
                group: 0,
                failed: vec![0],
            },
            t1,
        );
        assert!(!a.iter().any(|a| matches!(a, Action::Restart { .. })));
    }

    #[test]
    fn stonith_resets_the_dead_peer_before_takeover() {
        let t0 = Instant::now();
        let mut c = cfg("ha02", AutoFailback::On);
        c.stonith = true;
        let mut f = Fsm::new(c);
        f.step(Event::Start, t0);
        f.step(
            Event::Probed {
                group: 0,
                running: false,
            },
            t0,
        );
        let a = f.step(Event::Tick, t0 + Duration::from_secs(12));
        assert!(a.contains(&Action::ResetPeer("ha01".into())));
        assert!(!a.contains(&Action::Acquire(0)));
        let a = f.step(Event::PeerReset { ok: false }, t0 + Duration::from_secs(12));
        assert!(!a.contains(&Action::Acquire(0)));
        assert!(a
            .iter()
            .any(|x| matches!(x, Action::Log(_, t) if t.starts_with("STONITH of ha01 failed.  Retrying..."))));
        // Heartbeat retries 5 s later, and never takes over meanwhile.
        assert_eq!(
            f.next_deadline().map(|d| d <= t0 + Duration::from_secs(17)),
            Some(true)
        );
        let a = f.step(Event::Tick, t0 + Duration::from_secs(16));
        assert!(!a.contains(&Action::ResetPeer("ha01".into())));
        assert!(!a.contains(&Action::Acquire(0)));
        let a = f.step(Event::Tick, t0 + Duration::from_secs(17));
        assert!(a.contains(&Action::ResetPeer("ha01".into())));
        assert!(!a.contains(&Action::Acquire(0)));
        // A second failure: still no takeover, another retry.
        f.step(Event::PeerReset { ok: false }, t0 + Duration::from_secs(18));
        let a = f.step(Event::Tick, t0 + Duration::from_secs(23));
        assert!(a.contains(&Action::ResetPeer("ha01".into())));
        assert_eq!(f.role(0), Some(Role::Standby));
        let a = f.step(Event::PeerReset { ok: true }, t0 + Duration::from_secs(24));
        assert!(a.contains(&Action::Acquire(0)));
    }

    #[test]
    fn config_mismatch_is_reported_once() {
        let t0 = Instant::now();
        let mut f = Fsm::new(cfg("ha01", AutoFailback::On));
        f.step(Event::Start, t0);
        let msg = |seq| Message {
            node: "ha02".into(),
            generation: 1,
            seq,
            timestamp_ms: 0,
            nonce: 0,
            echo: 0,
            auth_index: 1,
            payload: Payload {
                kind: Kind::Heartbeat,
                phase: Phase::Running,
                standby: false,
                deadtime_ms: 3000,
                ping_reachable: 0,
                config_digest: 8,
                groups: vec![],
            },
        };
        let count = |a: &[Action]| {
            a.iter().filter(|x| matches!(x, Action::Log(Level::Error, t) if t.contains("haresources differs"))).count()
        };
        assert_eq!(count(&f.step(Event::Heard(msg(1)), t0)), 1);
        assert_eq!(count(&f.step(Event::Heard(msg(2)), t0 + KA)), 0);
        // The peer lists none of our groups: it is not a candidate, and may hold them.
        assert_eq!(f.status().groups[0].2, GroupState::Unknown);
    }

    #[test]
    fn single_node_cluster_takes_its_groups_after_probing() {
        let t0 = Instant::now();
        let mut c = cfg("ha01", AutoFailback::On);
        c.peer = None;
        let mut f = Fsm::new(c);
        f.step(Event::Start, t0);
        let a = f.step(
            Event::Probed {
                group: 0,
                running: false,
            },
            t0,
        );
        assert!(a.contains(&Action::Acquire(0)));
    }

    #[test]
    fn from_parsed_config() {
        use crate::config::{hacf, haresources};
        use std::path::Path;
        let cf = hacf::parse(
            Path::new("ha.cf"),
            "bcast eth1\nnode HA01 ha02\nauto_failback off\nping 192.0.2.1\n",
        )
        .unwrap()
        .value;
        let hr = haresources::parse(Path::new("haresources"), "ha01 192.0.2.100 httpd\n")
            .unwrap()
            .value;
        let c = FsmConfig::new(&cf, &hr, "HA02");
        assert_eq!(c.local, "ha02");
        assert_eq!(c.peer.as_deref(), Some("ha01"));
        assert_eq!(
            c.groups,
            vec![GroupSpec {
                key: "192.0.2.100".into(),
                preferred: "ha01".into(),
                resources: vec!["IPaddr::192.0.2.100".into(), "httpd".into()],
            }]
        );
        assert_eq!(c.ping_nodes, 1);
        assert_eq!(c.auto_failback, AutoFailback::Off);
        assert_eq!(c.config_digest, hr.digest());
    }

    #[test]
    fn joined_only_when_the_peer_becomes_alive() {
        let st = |life: Option<PeerLife>| Status {
            phase: NodePhase::Running,
            standby: false,
            ping_reachable: 0,
            groups: vec![],
            peer: life.map(|l| ("ha02".to_string(), l)),
            peer_report: None,
            links: vec![],
        };
        use PeerLife::*;
        assert!(joined(&st(Some(Unknown)), &st(Some(Alive))));
        assert!(joined(&st(Some(Dead)), &st(Some(Alive))));
        assert!(joined(&st(None), &st(Some(Alive))));
        assert!(!joined(&st(Some(Alive)), &st(Some(Alive))));
        assert!(!joined(&st(Some(Alive)), &st(Some(Dead))));
        assert!(!joined(&st(Some(Dead)), &st(Some(Dead))));
    }

    #[test]
    fn regained_only_when_the_peer_stops_claiming_what_we_kept() {
        let st = |local, peer| Status {
            phase: NodePhase::Running,
            standby: false,
            ping_reachable: 0,
            groups: vec![("g".into(), local, peer)],
            peer: None,
            peer_report: None,
            links: vec![],
        };
        use GroupState::*;
        assert_eq!(
            regained(&st(Active, Releasing), &st(Active, Standby)),
            vec![0]
        );
        assert_eq!(regained(&st(Active, Active), &st(Active, Standby)), vec![0]);
        // Ordinary failback: we were acquiring, not holding.
        assert!(regained(&st(Acquiring, Standby), &st(Active, Standby)).is_empty());
        assert!(regained(&st(Active, Standby), &st(Active, Standby)).is_empty());
        assert!(regained(&st(Active, Active), &st(Releasing, Standby)).is_empty());
    }

    /// A healed partition: the winner kept the group all along and announces it again once
    /// the loser gave it up (clients followed the loser's gratuitous ARP); nobody announces
    /// anything on an ordinary start or failback.
    #[test]
    fn the_winner_of_a_healed_partition_announces_the_group_again() {
        let mut s = Sim::new(AutoFailback::On);
        s.start(0);
        s.start(1);
        s.run(Duration::from_secs(1));
        assert!(s.nodes[0].announces.is_empty() && s.nodes[1].announces.is_empty());
        s.link = false;
        s.run(Duration::from_secs(5));
        s.link = true;
        s.run(Duration::from_secs(2));
        assert_eq!(role(&s, 1), Role::Standby);
        assert_eq!(s.nodes[0].announces, vec![0]);
        assert!(s.nodes[1].announces.is_empty());
        // Failback after a crash: the returning node acquires, it never held the group.
        s.crash(0);
        s.run(Duration::from_secs(4));
        assert_eq!(role(&s, 1), Role::Active);
        s.reboot(0, AutoFailback::On, false);
        s.run(Duration::from_secs(2));
        assert_eq!(role(&s, 0), Role::Active);
        assert!(s.nodes[0].announces.is_empty() && s.nodes[1].announces.is_empty());
    }

    #[test]
    fn the_peer_joins_when_first_heard_and_again_when_it_comes_back() {
        let mut s = Sim::new(AutoFailback::On);
        assert_eq!(s.nodes[0].joins, 0);
        s.start(0);
        s.start(1);
        assert_eq!((s.nodes[0].joins, s.nodes[1].joins), (1, 1));
        s.run(Duration::from_secs(2));
        assert_eq!(s.nodes[0].joins, 1, "once, not at every heartbeat");
        s.crash(1);
        s.run(Duration::from_secs(4));
        assert!(s.nodes[0].logged("node ha02: is dead"));
        s.reboot(1, AutoFailback::On, false);
        s.run(Duration::from_millis(100));
        assert_eq!(s.nodes[0].joins, 2);
    }

    /// A heartbeat of ha02 (generation, seq), with its standby flag.
    fn from_ha02(generation: u64, seq: u64, standby: bool) -> Message {
        Message {
            node: "ha02".into(),
            generation,
            seq,
            timestamp_ms: 0,
            nonce: 0,
            echo: 0,
            auth_index: 1,
            payload: Payload {
                kind: Kind::Heartbeat,
                phase: Phase::Running,
                standby,
                deadtime_ms: 3000,
                ping_reachable: 0,
                config_digest: 7,
                groups: vec![GroupStatus {
                    key: "IPaddr::192.0.2.100/24/eth0".into(),
                    state: GroupState::Standby,
                }],
            },
        }
    }

    fn origin(iface: &str) -> Origin {
        Origin {
            iface: iface.into(),
            from: "192.0.2.12:694".parse().unwrap(),
        }
    }

    /// Each message is a full status: one older than a message already taken (reordered, or
    /// a late copy) is dropped and counted, and changes nothing.
    #[test]
    fn an_older_status_than_one_already_taken_is_dropped() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut f = Fsm::new(cfg("ha01", AutoFailback::On));
        f.step(Event::Start, t0);
        let packet = |generation, seq, standby| Event::Packet {
            msg: from_ha02(generation, seq, standby),
            origin: origin("eth0"),
        };
        let a = f.step(packet(5, 10, false), ms(100));
        assert!(
            a.contains(&Action::Log(Level::Info, "Link ha02 up.".into())),
            "{a:?}"
        );
        assert_eq!(f.status().peer_report, Some((Phase::Running, false)));
        for (generation, seq) in [(5, 9), (5, 10), (4, 99)] {
            let a = f.step(packet(generation, seq, true), ms(200));
            assert_eq!(
                a.last(),
                Some(&Action::Dropped("out_of_order")),
                "({generation}, {seq})"
            );
            assert!(
                a.iter()
                    .all(|x| matches!(x, Action::Log(Level::Debug, _) | Action::Dropped(_))),
                "{a:?}"
            );
            assert_eq!(f.status().peer_report, Some((Phase::Running, false)));
        }
        // Newer: taken, in the same generation and after a restart of the peer.
        let a = f.step(packet(5, 11, true), ms(300));
        assert!(!a.contains(&Action::Dropped("out_of_order")), "{a:?}");
        assert_eq!(f.status().peer_report, Some((Phase::Running, true)));
        let a = f.step(packet(6, 1, false), ms(400));
        assert!(
            a.contains(&Action::Log(
                Level::Info,
                "Heartbeat restart on node ha02".into()
            )),
            "{a:?}"
        );
        // Heartbeat's own protocol orders its messages itself: Heard is never dropped.
        let a = f.step(Event::Heard(from_ha02(5, 1, false)), ms(500));
        assert!(!a.contains(&Action::Dropped("out_of_order")), "{a:?}");
    }

    /// Heartbeat's `Link PEER:IF up.` when a packet comes in on a link not up, `dead.` when
    /// it has been silent for a deadtime; the configured links are listed before anything is
    /// heard, any other one after them.
    #[test]
    fn links_go_up_when_heard_and_dead_after_a_silent_deadtime() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut c = cfg("ha01", AutoFailback::On);
        c.links = vec!["eth1".into(), "eth0".into()];
        let mut f = Fsm::new(c);
        f.step(Event::Start, t0);
        let listed = |f: &Fsm| {
            f.status()
                .links
                .iter()
                .map(|l| (l.iface.clone(), l.up, l.last_heard.is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            listed(&f),
            vec![("eth1".into(), false, false), ("eth0".into(), false, false)]
        );
        let packet = |seq, iface| Event::Packet {
            msg: from_ha02(1, seq, false),
            origin: origin(iface),
        };
        let up = |iface: &str| Action::Log(Level::Info, format!("Link ha02:{iface} up."));
        let a = f.step(packet(1, "eth0"), ms(100));
        assert_eq!(a.first(), Some(&up("eth0")), "{a:?}");
        let a = f.step(packet(2, "eth0"), ms(200));
        assert!(!a.contains(&up("eth0")), "logged once: {a:?}");
        assert_eq!(
            f.status().links.get(1).and_then(|l| l.from),
            Some("192.0.2.12:694".parse().unwrap())
        );
        // A Heartbeat peer's packets, on an interface ha.cf does not name: listed last.
        let a = f.step(Event::LinkHeard(origin("bond0")), ms(300));
        assert_eq!(a, vec![up("bond0")]);
        assert_eq!(
            listed(&f),
            vec![
                ("eth1".into(), false, false),
                ("eth0".into(), true, true),
                ("bond0".into(), true, true)
            ]
        );
        // Silent for a deadtime (3 s): dead, once; a link never heard is never dead.
        let dead = |iface: &str| Action::Log(Level::Warn, format!("Link ha02:{iface} dead."));
        let a = f.step(Event::Tick, ms(3199));
        assert!(!a.contains(&dead("eth0")), "{a:?}");
        let a = f.step(Event::Tick, ms(3200));
        assert!(
            a.contains(&dead("eth0")) && !a.contains(&dead("bond0")),
            "{a:?}"
        );
        let a = f.step(Event::Tick, ms(3300));
        assert!(
            a.contains(&dead("bond0")) && !a.contains(&dead("eth0")),
            "{a:?}"
        );
        assert!(!a.contains(&dead("eth1")));
        assert_eq!(
            listed(&f),
            vec![
                ("eth1".into(), false, false),
                ("eth0".into(), false, true),
                ("bond0".into(), false, true)
            ]
        );
        let a = f.step(packet(3, "eth0"), ms(3400));
        assert_eq!(a.first(), Some(&up("eth0")), "{a:?}");
    }
}
