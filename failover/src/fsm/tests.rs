use std::time::Duration;

use tokio::time::Instant;

use super::machine::{joined, regained};
use super::*;
use crate::config::hacf::AutoFailback;
use crate::monitor::Policy;
use crate::packet::{GroupState, GroupStatus, Kind, Message, Payload, Phase};
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
        tracks: vec![],
        failback_hold: Duration::ZERO,
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
    /// What each track answers ([`Action::Track`]); a missing one passes.
    track_ok: Vec<bool>,
    /// Tracks checked, with the time.
    tracked: Vec<(Duration, usize)>,
    /// The roles notified ([`Action::Notify`]), with the time.
    notices: Vec<(Duration, Notice)>,
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
            track_ok: Vec::new(),
            tracked: Vec::new(),
            notices: Vec::new(),
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
                    Action::Track(t) => {
                        n.tracked.push((self.now, t));
                        let ok = n.track_ok.get(t).copied().unwrap_or(true);
                        queue.push_back((i, Event::Tracked { track: t, ok }));
                    }
                    Action::Notify { group: _, state } => n.notices.push((self.now, state)),
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
    let hb = |seq| from_ha02(1, seq, false);
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
    assert!(s.nodes[0].logged("could not be stopped after 10 attempts: fencing this node (reboot)"));
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
    assert!(s.nodes[0].logged("Giving up resources due to failure of IPaddr::192.0.2.100/24/eth0"));
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
    assert!(
        s.nodes[0].logged("Resource httpd failed 4 times in 10min: giving up the group to ha02")
    );
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
    assert!(s.nodes[0].logged("Resource httpd failed 2 times in 30s: giving up the group to ha02"));
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
    assert!(a.iter().any(
        |x| matches!(x, Action::Log(_, t) if t.starts_with("STONITH of ha01 failed.  Retrying..."))
    ));
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
            track_fault: 0,
            config_digest: 8,
            groups: vec![],
            shared: None,
        },
    };
    let count = |a: &[Action]| {
        a.iter()
            .filter(
                |x| matches!(x, Action::Log(Level::Error, t) if t.contains("haresources differs")),
            )
            .count()
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
        track_fault: 0,
        tracks: Vec::new(),
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
        track_fault: 0,
        tracks: Vec::new(),
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
        vec!["g".to_string()]
    );
    assert_eq!(
        regained(&st(Active, Active), &st(Active, Standby)),
        vec!["g".to_string()]
    );
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
            track_fault: 0,
            config_digest: 7,
            groups: vec![GroupStatus {
                key: "IPaddr::192.0.2.100/24/eth0".into(),
                state: GroupState::Standby,
            }],
            shared: None,
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

fn track(name: &str, fall: u32, rise: u32, weight: u8) -> crate::config::settings::Track {
    crate::config::settings::Track {
        name: name.into(),
        probe: crate::config::settings::Probe::Script {
            command: "true".into(),
            timeout: Duration::from_millis(500),
        },
        interval: Duration::from_secs(1),
        fall,
        rise,
        weight,
        line: 1,
    }
}

/// Both nodes with these tracks (and this failback hold).
fn tracked(tracks: &[crate::config::settings::Track], hold: Duration) -> Sim {
    let mut s = Sim::new(AutoFailback::On);
    for n in &mut s.nodes {
        let mut c = n.fsm.config().clone();
        c.tracks = tracks.to_vec();
        c.failback_hold = hold;
        n.fsm = Fsm::new(c);
    }
    s
}

#[test]
fn a_failing_track_moves_the_group_after_fall_and_back_after_rise() {
    let mut s = tracked(&[track("chk_nginx", 3, 2, 1)], Duration::ZERO);
    s.start(0);
    s.start(1);
    s.run(Duration::from_millis(100));
    assert_eq!(role(&s, 0), Role::Active);
    // Checked at start, then every interval.
    let at: Vec<Duration> = s.nodes[0].tracked.iter().map(|(t, _)| *t).collect();
    assert_eq!(at.first(), Some(&Duration::ZERO));
    s.nodes[0].track_ok = vec![false];
    let failing = s.now;
    s.run(Duration::from_millis(2500));
    // Two failures in a row: not yet (fall 3).
    assert_eq!(role(&s, 0), Role::Active);
    assert_eq!(s.nodes[0].fsm.track_fault(), 0);
    s.run(Duration::from_secs(1));
    assert_eq!(s.nodes[0].fsm.track_fault(), 1);
    let failed_at = s.nodes[0].log_time("track script chk_nginx failed (3 times in a row, fall 3)");
    assert!(failed_at.is_some_and(|t| t > failing + Duration::from_secs(2)));
    assert!(s.nodes[0].logged("(failing track scripts or interfaces)"));
    assert_eq!(role(&s, 0), Role::Standby);
    assert_eq!(role(&s, 1), Role::Active);
    assert!(!s.overlap_seen);
    // It passes again: two successes (rise 2), then the preferred node takes it back.
    s.nodes[0].track_ok = vec![true];
    s.run(Duration::from_millis(1100));
    assert_eq!(role(&s, 1), Role::Active);
    s.run(Duration::from_secs(1));
    assert!(s.nodes[0].logged("track script chk_nginx succeeded (2 times in a row, rise 2)"));
    assert_eq!(s.nodes[0].fsm.track_fault(), 0);
    assert_eq!(role(&s, 0), Role::Active);
    assert_eq!(role(&s, 1), Role::Standby);
    assert!(!s.overlap_seen);
}

#[test]
fn the_first_track_result_decides_before_the_node_joins() {
    let mut s = tracked(&[track("chk", 3, 3, 1)], Duration::ZERO);
    s.nodes[0].track_ok = vec![false];
    s.start(0);
    s.start(1);
    s.run(Duration::from_millis(100));
    // The preferred node's track failed at its first check: the peer holds the group, the
    // preferred node never took it.
    assert_eq!(role(&s, 1), Role::Active);
    assert_eq!(role(&s, 0), Role::Standby);
    assert_eq!(s.nodes[0].acquires, 0);
    assert!(s.nodes[0].logged("track script chk failed"));
}

#[test]
fn the_node_whose_failing_tracks_weigh_less_holds_the_group() {
    let tracks = [track("light", 1, 1, 2), track("heavy", 1, 1, 50)];
    let mut s = tracked(&tracks, Duration::ZERO);
    s.start(0);
    s.start(1);
    s.run(Duration::from_millis(100));
    // Both fail something: the preferred node's failure weighs 50, the peer's 2.
    s.nodes[0].track_ok = vec![true, false];
    s.nodes[1].track_ok = vec![false, true];
    s.run(Duration::from_secs(2));
    assert_eq!(
        (s.nodes[0].fsm.track_fault(), s.nodes[1].fsm.track_fault()),
        (50, 2)
    );
    assert_eq!(role(&s, 1), Role::Active);
    // Equal weights: the usual rules (the preferred node).
    s.nodes[0].track_ok = vec![false, true];
    s.run(Duration::from_secs(2));
    assert_eq!(role(&s, 0), Role::Active);
    assert_eq!(role(&s, 1), Role::Standby);
    assert!(!s.overlap_seen);
    // The weight is capped at 127 (7 bits on the wire).
    let big = [track("a", 1, 1, 127), track("b", 1, 1, 127)];
    let mut s = tracked(&big, Duration::ZERO);
    s.nodes[0].track_ok = vec![false, false];
    s.start(0);
    s.run(Duration::from_millis(100));
    assert_eq!(s.nodes[0].fsm.track_fault(), 127);
}

#[test]
fn every_role_change_is_notified_once_in_order() {
    let mut s = tracked(&[track("chk", 1, 1, 1)], Duration::ZERO);
    s.start(0);
    s.start(1);
    s.run(Duration::from_millis(100));
    let states = |n: &Node| n.notices.iter().map(|(_, st)| *st).collect::<Vec<_>>();
    assert_eq!(states(&s.nodes[0]), [Notice::Master]);
    assert_eq!(states(&s.nodes[1]), [Notice::Backup]);
    // A failing track: the node gives the group up and is in FAULT; the peer is MASTER.
    s.nodes[0].track_ok = vec![false];
    s.run(Duration::from_secs(2));
    assert_eq!(states(&s.nodes[0]), [Notice::Master, Notice::Fault]);
    assert_eq!(states(&s.nodes[1]), [Notice::Backup, Notice::Master]);
    // Back: out of FAULT into BACKUP (as keepalived), then MASTER again; the peer BACKUP.
    s.nodes[0].track_ok = vec![true];
    s.run(Duration::from_secs(2));
    assert_eq!(
        states(&s.nodes[0]),
        [
            Notice::Master,
            Notice::Fault,
            Notice::Backup,
            Notice::Master
        ]
    );
    assert_eq!(
        states(&s.nodes[1]),
        [Notice::Backup, Notice::Master, Notice::Backup]
    );
    // A graceful stop: STOP, before the node exits.
    s.event(1, Event::Stop);
    assert_eq!(states(&s.nodes[1]).last(), Some(&Notice::Stop));
    assert!(s.nodes[1].exited);
    // No notice is repeated while nothing changes.
    let n = s.nodes[0].notices.len();
    s.run(Duration::from_secs(5));
    assert_eq!(s.nodes[0].notices.len(), n);
}

#[test]
fn a_failed_start_is_notified_as_fault() {
    let mut s = Sim::new(AutoFailback::On);
    s.nodes[0].fail_start = true;
    s.start(0);
    s.start(1);
    s.run(Duration::from_millis(100));
    let states: Vec<Notice> = s.nodes[0].notices.iter().map(|(_, st)| *st).collect();
    assert_eq!(states, [Notice::Fault]);
    assert_eq!(role(&s, 1), Role::Active);
}

#[test]
fn stop_is_notified_before_exit() {
    let mut fsm = Fsm::new(cfg("ha01", AutoFailback::On));
    let t = Instant::now();
    fsm.step(Event::Start, t);
    fsm.step(
        Event::Probed {
            group: 0,
            running: false,
        },
        t,
    );
    let out = fsm.step(Event::Stop, t + Duration::from_secs(13));
    let notify = out.iter().position(|a| {
        matches!(
            a,
            Action::Notify {
                state: Notice::Stop,
                ..
            }
        )
    });
    let exit = out.iter().position(|a| *a == Action::Exit);
    assert!(
        notify.is_some() && exit.is_some() && notify < exit,
        "{out:?}"
    );
}

#[test]
fn the_failback_hold_keeps_the_group_on_the_holder_then_gives_it_back() {
    let hold = Duration::from_secs(10);
    let mut s = tracked(&[], hold);
    s.start(0);
    s.start(1);
    s.run(Duration::from_secs(2));
    s.crash(0);
    s.run(Duration::from_secs(4));
    assert_eq!(role(&s, 1), Role::Active);
    // The preferred node comes back: the holder keeps the group for the hold.
    let mut c = s.nodes[0].fsm.config().clone();
    c.failback_hold = hold;
    let generation = s.nodes[0].generation + 1;
    s.nodes[0] = Node::new(c, generation);
    s.start(0);
    let back = s.now;
    s.run(Duration::from_millis(100));
    assert!(s.nodes[1].logged("ha01 can take resource group IPaddr::192.0.2.100/24/eth0 back"));
    assert!(s.nodes[1].logged("failback hold, it stays here for 10s"));
    s.run(Duration::from_millis(9700));
    assert_eq!(role(&s, 1), Role::Active);
    assert_eq!(role(&s, 0), Role::Standby);
    s.run(Duration::from_millis(400));
    assert_eq!(role(&s, 0), Role::Active);
    assert_eq!(role(&s, 1), Role::Standby);
    let gave = s.nodes[1]
        .log_time("give up HA resources IPaddr::192.0.2.100/24/eth0 to ha01")
        .unwrap();
    assert!(gave >= back + hold && gave <= back + hold + Duration::from_millis(200));
    assert!(!s.overlap_seen);
    // The deadline the loop sleeps to includes the hold's end.
    assert!(s.nodes[1].fsm.next_deadline().is_some());
}

#[test]
fn the_failback_hold_starts_again_when_the_preferred_node_flaps() {
    let hold = Duration::from_secs(10);
    let mut s = tracked(&[track("chk", 1, 1, 1)], hold);
    s.start(0);
    s.start(1);
    s.run(Duration::from_secs(1));
    s.nodes[0].track_ok = vec![false];
    s.run(Duration::from_secs(2));
    assert_eq!(role(&s, 1), Role::Active);
    // Passes for 5 s, fails again, passes: the hold counts from the last recovery.
    s.nodes[0].track_ok = vec![true];
    s.run(Duration::from_secs(5));
    s.nodes[0].track_ok = vec![false];
    s.run(Duration::from_secs(2));
    s.nodes[0].track_ok = vec![true];
    s.run(Duration::from_secs(8));
    assert_eq!(role(&s, 1), Role::Active, "the second hold is not over");
    s.run(Duration::from_secs(3));
    assert_eq!(role(&s, 0), Role::Active);
    assert!(!s.overlap_seen);
    // An operator's takeover does not wait.
    s.event(1, Event::Takeover);
    s.run(Duration::from_millis(200));
    assert_eq!(role(&s, 1), Role::Active);
}
