//! The machine itself: its state, [`Fsm::step`] (one event in, actions out), the clock
//! ([`Fsm::next_deadline`], [`Event::Tick`]) and what it tells the peer.

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

use crate::monitor::Tracker;
use crate::packet::{GroupState, GroupStatus, Kind, Payload, Phase};

use super::peer::PeerView;
use super::track::TrackState;
use super::watch::{Pending, Watch};
use super::{
    Action, Event, FsmConfig, GroupId, Level, LinkState, NodePhase, Notice, PeerLife, ReleaseWhy,
    Role, Status,
};

/// The state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Fsm {
    pub(super) cfg: FsmConfig,
    pub(super) phase: NodePhase,
    pub(super) started: Option<Instant>,
    pub(super) next_send: Option<Instant>,
    pub(super) next_probe: Option<Instant>,
    pub(super) roles: Vec<Role>,
    pub(super) both_logged: Vec<bool>,
    pub(super) peer: Option<PeerView>,
    pub(super) standby: bool,
    pub(super) ping: u16,
    /// Groups being taken over from a dead peer (for "mach_down takeover complete").
    pub(super) takeover: Vec<GroupId>,
    /// Monitoring of each group.
    pub(super) watches: Vec<Watch>,
    /// Set when something changed that the peer should hear about now.
    pub(super) dirty: Option<Kind>,
    /// Newest (generation, seq) taken from each sender ([`Event::Packet`]).
    pub(super) newest: HashMap<String, (u64, u64)>,
    /// The links by interface.
    pub(super) links: BTreeMap<String, LinkState>,
    /// Slots of groups that left haresources at a reload (`reconfigure`).
    pub(super) retired: Vec<bool>,
    /// Each track's state ([`FsmConfig::tracks`]).
    pub(super) tracks: Vec<TrackState>,
    /// The role last notified for each group.
    pub(super) notified: Vec<Option<Notice>>,
    /// Since when each group held here could go back to its preferred node (the failback
    /// hold runs from then).
    pub(super) failback_since: Vec<Option<Instant>>,
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
            track: 0,
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
            tracks: vec![TrackState::default(); cfg.tracks.len()],
            notified: vec![None; n],
            failback_since: vec![None; n],
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
            retired: vec![false; n],
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
            track_fault: self.track_fault(),
            tracks: self.tracks.iter().map(|t| t.up).collect(),
            groups: self
                .cfg
                .groups
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.is_retired(*i))
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
        d.extend(self.next_track());
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
        for (r, since) in self.roles.iter().zip(&self.failback_since) {
            if let (Role::Active, Some(t)) = (r, since) {
                d.push(*t + self.cfg.failback_hold);
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
        // The media first: a status older than one already taken is dropped before it can
        // touch the peer's view, and the link a packet came in on is up. Neither moves a
        // group by itself: only a message heard does.
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
            Event::Reconfigure(cfg) => self.on_reconfigure(*cfg, now, &mut out),
            Event::Tracked { track, ok } => self.on_tracked(track, ok, now, &mut out),
            Event::Packet { .. } | Event::LinkHeard(_) => {}
        }
        if !matches!(self.phase, NodePhase::Created | NodePhase::Fenced) {
            self.reconcile(now, &mut out);
        }
        self.notices(&mut out);
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
        for key in regained(&before, &after) {
            out.extend(self.live_slot(&key).map(Action::Announce));
        }
        out
    }

    pub(super) fn mark(&mut self, kind: Kind) {
        // A specific kind wins over a plain heartbeat.
        if self.dirty.is_none() || kind != Kind::Heartbeat {
            self.dirty = Some(kind);
        }
    }

    pub(super) fn on_start(&mut self, now: Instant, out: &mut Vec<Action>) {
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
        self.start_tracks(out);
        self.next_probe = self.cfg.probe_interval.map(|i| now + i);
        self.mark(Kind::Heartbeat);
    }

    pub(super) fn on_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.phase == NodePhase::Created {
            return;
        }
        self.check_links(now, out);
        self.due_tracks(now, out);
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
                let retired = self.is_retired(g);
                let Some(w) = self.watches.get_mut(g) else {
                    continue;
                };
                let due = w.next.is_some_and(|t| now >= t) && w.pending == Pending::Nothing;
                if due && self.roles.get(g) == Some(&Role::Active) && !retired {
                    w.next = None;
                    w.pending = Pending::Status;
                    out.push(Action::Monitor(g));
                }
            }
            if let (Some(t), Some(every)) = (self.next_probe, self.cfg.probe_interval) {
                if now >= t {
                    self.next_probe = Some(now + every);
                    for g in 0..self.roles.len() {
                        if self.roles.get(g) == Some(&Role::Standby) && !self.is_retired(g) {
                            out.push(Action::Probe(g));
                        }
                    }
                }
            }
        }
    }

    pub(super) fn wire_state(&self, g: GroupId) -> GroupState {
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

    pub(super) fn payload(&self, kind: Kind) -> Payload {
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
            track_fault: self.track_fault(),
            config_digest: self.cfg.config_digest,
            groups: self
                .cfg
                .groups
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.is_retired(*i))
                .map(|(i, s)| GroupStatus {
                    key: s.key.clone(),
                    state: self.wire_state(i),
                })
                .collect(),
            shared: None,
        }
    }
}

pub(super) fn log(out: &mut Vec<Action>, level: Level, text: String) {
    out.push(Action::Log(level, text));
}

/// Keys of the groups we held all along that the peer has just stopped claiming (a healed
/// partition: it had taken them, and clients and routers may have followed its gratuitous
/// ARP).
pub(super) fn regained(before: &Status, after: &Status) -> Vec<String> {
    before
        .groups
        .iter()
        .zip(after.groups.iter())
        .filter(|((b_key, b_local, b_peer), (a_key, a_local, a_peer))| {
            b_key == a_key
                && *b_local == GroupState::Active
                && *a_local == GroupState::Active
                && b_peer.claims()
                && !a_peer.claims()
        })
        .map(|((key, _, _), _)| key.clone())
        .collect()
}

/// Whether the peer has just become alive (it was dead, gone or not heard yet).
pub(super) fn joined(before: &Status, after: &Status) -> bool {
    let alive = |s: &Status| matches!(s.peer, Some((_, PeerLife::Alive)));
    !alive(before) && alive(after)
}
