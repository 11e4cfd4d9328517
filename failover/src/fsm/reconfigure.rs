//! A new configuration for a running machine ([`Event::Reconfigure`]: `director reload` after
//! `ha.cf` or `haresources` changed), applied without moving anything it does not change.
//!
//! Groups are matched by what they are (key, preferred node and resources). A group whose
//! line is unchanged keeps its slot, its role and its monitoring. A group no longer in the
//! file is **retired**: released here if held (right to left, as at a handover), then left
//! inert; it is no longer reported to the peer nor shown in status. A new group (or a changed
//! one: the old line is retired, the new one added) gets a new slot, is probed, and starts
//! where it belongs by the usual rule once both nodes know it: the peer reports a group it
//! does not have as unknown, which never lets this node take it, so a group added on one node
//! waits for the reload of the other. A new group that shares a resource with a retired one
//! still held waits until that one is released, so the shared address is never stopped under
//! it. Slots are only ever appended: a [`GroupId`] in flight (a probe, an acquire) keeps
//! naming the group it was issued for.
//!
//! Timing (`keepalive`, `deadtime`, `warntime`, `initdead`), `auto_failback`, the number of
//! ping nodes, monitoring, the failback hold and the tracks (changed tracks start again,
//! unknown until their first result) take effect at once; the peer hears the new deadtime and
//! haresources digest in a message sent right away. The node's name and its peer cannot
//! change here: the loop refuses such a reload before it reaches the machine.

use tokio::time::Instant;

use crate::packet::{GroupState, Kind};

use super::machine::log;
use super::watch::{Pending, Watch};
use super::{Action, FsmConfig, GroupId, GroupSpec, Level, NodePhase, Role};
use crate::monitor::Tracker;

use super::Fsm;

impl Fsm {
    pub(super) fn on_reconfigure(&mut self, new: FsmConfig, now: Instant, out: &mut Vec<Action>) {
        if new.local != self.cfg.local || new.peer != self.cfg.peer {
            log(
                out,
                Level::Error,
                "reload: the node names in ha.cf changed: restart director to apply them (the \
                 running configuration is kept)"
                    .into(),
            );
            return;
        }
        let slots = self.roles.len();
        let mut kept = vec![false; slots];
        let mut added: Vec<GroupSpec> = Vec::new();
        for spec in &new.groups {
            let same = (0..slots)
                .find(|&g| !kept[g] && !self.is_retired(g) && self.cfg.groups.get(g) == Some(spec));
            match same {
                Some(g) => kept[g] = true,
                None => added.push(spec.clone()),
            }
        }
        for (g, kept) in kept.iter().enumerate() {
            if !kept && !self.is_retired(g) {
                if let Some(r) = self.retired.get_mut(g) {
                    *r = true;
                }
                let key = self.key(g);
                let holds = matches!(
                    self.roles.get(g),
                    Some(Role::Acquiring | Role::Active | Role::Releasing { .. })
                );
                log(
                    out,
                    Level::Info,
                    if holds {
                        format!("reload: resource group {key} left haresources: releasing it")
                    } else {
                        format!("reload: resource group {key} left haresources")
                    },
                );
            }
        }
        self.apply_timing(&new, now, out);
        let old_monitor = self.cfg.monitor;
        let mut groups = std::mem::take(&mut self.cfg.groups);
        for spec in added {
            let g: GroupId = groups.len();
            log(
                out,
                Level::Info,
                format!(
                    "reload: resource group {} is new in haresources: probing it",
                    spec.key
                ),
            );
            self.roles.push(Role::Init { probed: None });
            self.both_logged.push(false);
            self.retired.push(false);
            self.notified.push(None);
            self.failback_since.push(None);
            self.watches.push(Watch {
                trackers: vec![Tracker::default(); spec.resources.len()],
                ..Watch::default()
            });
            if let Some(p) = self.peer.as_mut() {
                p.groups.push(GroupState::Unknown);
            }
            groups.push(spec);
            if !matches!(self.phase, NodePhase::Created) {
                out.push(Action::Probe(g));
            }
        }
        for iface in &new.links {
            self.links
                .entry(iface.clone())
                .or_insert_with(|| super::LinkState::unheard(iface));
        }
        let tracks_changed = self.cfg.tracks != new.tracks;
        self.cfg = FsmConfig { groups, ..new };
        if self.cfg.monitor != old_monitor {
            self.reschedule_monitoring(now);
        }
        if tracks_changed {
            // New tracks start unknown (not failing) and are checked at once.
            self.tracks = vec![super::track::TrackState::default(); self.cfg.tracks.len()];
            if !matches!(self.phase, NodePhase::Created) {
                self.start_tracks(out);
            }
        }
        self.mark(Kind::Heartbeat);
    }

    /// Logs the timing changes; the next message (sent at once) carries the new deadtime.
    fn apply_timing(&mut self, new: &FsmConfig, now: Instant, out: &mut Vec<Action>) {
        let old = &self.cfg;
        let ms = |d: std::time::Duration| d.as_millis();
        let mut changes = Vec::new();
        for (name, a, b) in [
            ("keepalive", old.keepalive, new.keepalive),
            ("deadtime", old.deadtime, new.deadtime),
            ("warntime", old.warntime, new.warntime),
            ("initdead", old.initdead, new.initdead),
        ] {
            if a != b {
                changes.push(format!("{name} {} ms -> {} ms", ms(a), ms(b)));
            }
        }
        if old.auto_failback != new.auto_failback {
            changes.push(format!(
                "auto_failback {:?} -> {:?}",
                old.auto_failback, new.auto_failback
            ));
        }
        if old.ping_nodes != new.ping_nodes {
            changes.push(format!(
                "ping nodes {} -> {}",
                old.ping_nodes, new.ping_nodes
            ));
            if new.ping_nodes == 0 {
                self.ping = 0;
            }
        }
        if !changes.is_empty() {
            log(
                out,
                Level::Info,
                format!("reload: {}", changes.join(", ").to_lowercase()),
            );
        }
        if new.keepalive != old.keepalive {
            self.next_send = Some(now);
        }
    }

    /// Monitoring was turned on or off, or its interval changed: the held groups' next round
    /// follows the new policy.
    fn reschedule_monitoring(&mut self, now: Instant) {
        let policy = self.cfg.monitor;
        for g in 0..self.roles.len() {
            let active = self.roles.get(g) == Some(&Role::Active) && !self.is_retired(g);
            let Some(w) = self.watches.get_mut(g) else {
                continue;
            };
            match policy {
                Some(p) if active => {
                    if w.pending == Pending::Nothing {
                        w.next = Some(now + p.interval);
                    }
                }
                _ => {
                    w.next = None;
                    w.pending = Pending::Nothing;
                }
            }
        }
    }

    /// Whether the group left haresources at a reload.
    pub(super) fn is_retired(&self, g: GroupId) -> bool {
        self.retired.get(g).copied().unwrap_or(false)
    }

    /// A retired group still holds (or may hold) resources that group `g` has too (its key
    /// or any resource): `g` waits until they are released.
    pub(super) fn blocked_by_retired(&self, g: GroupId) -> bool {
        let Some(spec) = self.cfg.groups.get(g) else {
            return false;
        };
        (0..self.roles.len()).any(|r| {
            r != g
                && self.is_retired(r)
                && matches!(
                    self.roles.get(r),
                    Some(
                        Role::Acquiring
                            | Role::Active
                            | Role::Releasing { .. }
                            | Role::Init {
                                probed: Some(true) | None
                            }
                    )
                )
                && self.cfg.groups.get(r).is_some_and(|old| {
                    old.key == spec.key || old.resources.iter().any(|x| spec.resources.contains(x))
                })
        })
    }

    /// A retired group's next move: release what it holds, then nothing.
    pub(super) fn settle_retired(&mut self, g: GroupId, out: &mut Vec<Action>) {
        match self.roles.get(g).copied() {
            Some(Role::Active | Role::Init { probed: Some(true) }) => {
                self.release(g, super::ReleaseWhy::Removed, out);
            }
            Some(Role::Init {
                probed: Some(false),
            }) => self.set_role(g, Role::Standby),
            _ => {}
        }
    }

    /// The live slot of the group with this key.
    pub(super) fn live_slot(&self, key: &str) -> Option<GroupId> {
        (0..self.roles.len()).find(|&g| !self.is_retired(g) && self.key(g) == key)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, VecDeque};
    use std::time::Duration;

    use tokio::time::Instant;

    use super::super::{Action, Event, FenceAction, Fsm, FsmConfig, GroupSpec, Level, Role};
    use crate::config::hacf::AutoFailback;
    use crate::packet::Message;

    fn group(key: &str, preferred: &str, more: &[&str]) -> GroupSpec {
        let mut resources = vec![key.to_string()];
        resources.extend(more.iter().map(|r| r.to_string()));
        GroupSpec {
            key: key.into(),
            preferred: preferred.into(),
            resources,
        }
    }

    fn cfg(local: &str, groups: Vec<GroupSpec>) -> FsmConfig {
        FsmConfig {
            local: local.into(),
            peer: Some(if local == "ha01" { "ha02" } else { "ha01" }.into()),
            groups,
            keepalive: Duration::from_secs(1),
            deadtime: Duration::from_secs(3),
            warntime: Duration::from_secs(2),
            initdead: Duration::from_secs(6),
            auto_failback: AutoFailback::On,
            ping_nodes: 0,
            stop_retries: 3,
            stop_retry_interval: Duration::from_secs(1),
            fence: FenceAction::Reboot,
            failed_hold: Duration::from_secs(60),
            probe_interval: Some(Duration::from_secs(60)),
            stonith: false,
            stonith_retry: Duration::from_secs(5),
            config_digest: 1,
            monitor: None,
            links: vec![],
            tracks: vec![],
            failback_hold: Duration::ZERO,
        }
    }

    /// Two machines, each with the set of resources running on it; every start and stop is
    /// recorded, and a resource running on both at once is noted.
    struct Pair {
        t0: Instant,
        now: Duration,
        fsm: [Fsm; 2],
        running: [BTreeSet<String>; 2],
        /// (node, "start"/"stop", resource)
        ops: Vec<(usize, &'static str, String)>,
        logs: Vec<(usize, Level, String)>,
        seq: u64,
        both: BTreeSet<String>,
    }

    impl Pair {
        fn new(groups: &[GroupSpec]) -> Pair {
            let mut p = Pair {
                t0: Instant::now(),
                now: Duration::ZERO,
                fsm: [
                    Fsm::new(cfg("ha01", groups.to_vec())),
                    Fsm::new(cfg("ha02", groups.to_vec())),
                ],
                running: [BTreeSet::new(), BTreeSet::new()],
                ops: Vec::new(),
                logs: Vec::new(),
                seq: 0,
                both: BTreeSet::new(),
            };
            p.event(0, Event::Start);
            p.event(1, Event::Start);
            p.run(Duration::from_secs(2));
            p
        }

        fn resources(&self, i: usize, g: usize) -> Vec<String> {
            self.fsm[i].config().groups[g].resources.clone()
        }

        fn event(&mut self, i: usize, e: Event) {
            let mut queue = VecDeque::from([(i, e)]);
            let mut guard = 0;
            while let Some((i, e)) = queue.pop_front() {
                guard += 1;
                assert!(guard < 1000, "runaway");
                let now = self.t0 + self.now;
                for a in self.fsm[i].step(e, now) {
                    match a {
                        Action::Send(payload) => {
                            self.seq += 1;
                            let msg = Message {
                                node: self.fsm[i].config().local.clone(),
                                generation: 1,
                                seq: self.seq,
                                timestamp_ms: 0,
                                nonce: 0,
                                echo: 0,
                                auth_index: 1,
                                payload,
                            };
                            queue.push_back((1 - i, Event::Heard(msg)));
                        }
                        Action::Probe(g) => {
                            let running = self
                                .resources(i, g)
                                .iter()
                                .any(|r| self.running[i].contains(r));
                            queue.push_back((i, Event::Probed { group: g, running }));
                        }
                        Action::Acquire(g) => {
                            for r in self.resources(i, g) {
                                if self.running[i].insert(r.clone()) {
                                    self.ops.push((i, "start", r));
                                }
                            }
                            queue.push_back((i, Event::Acquired { group: g, ok: true }));
                        }
                        Action::Release(g) => {
                            for r in self.resources(i, g).into_iter().rev() {
                                if self.running[i].remove(&r) {
                                    self.ops.push((i, "stop", r));
                                }
                            }
                            queue.push_back((i, Event::Released { group: g, ok: true }));
                        }
                        Action::Log(level, text) => self.logs.push((i, level, text)),
                        _ => {}
                    }
                }
                for r in self.running[0].intersection(&self.running[1]) {
                    self.both.insert(r.clone());
                }
            }
        }

        fn run(&mut self, d: Duration) {
            let end = self.now + d;
            while self.now < end {
                self.now += Duration::from_millis(100);
                self.event(0, Event::Tick);
                self.event(1, Event::Tick);
            }
        }

        fn reload(&mut self, i: usize, c: FsmConfig) {
            self.event(i, Event::Reconfigure(Box::new(c)));
        }

        fn logged(&self, i: usize, needle: &str) -> bool {
            self.logs
                .iter()
                .any(|(n, _, l)| *n == i && l.contains(needle))
        }

        fn keys(&self, i: usize) -> Vec<String> {
            self.fsm[i]
                .status()
                .groups
                .into_iter()
                .map(|(k, _, _)| k)
                .collect()
        }
    }

    const A: &str = "IPaddr::192.0.2.10/24/eth0";
    const B: &str = "IPaddr::192.0.2.20/24/eth0";

    #[test]
    fn a_group_added_on_both_nodes_starts_on_its_preferred_node_and_nothing_else_moves() {
        let before = vec![group(A, "ha01", &["httpd"])];
        let mut p = Pair::new(&before);
        assert!(p.running[0].contains(A) && p.running[1].is_empty());
        let ops = p.ops.len();
        let after = vec![group(A, "ha01", &["httpd"]), group(B, "ha02", &[])];
        p.reload(0, cfg("ha01", after.clone()));
        p.run(Duration::from_secs(2));
        // Only one node knows it: nobody starts it.
        assert!(!p.running[0].contains(B) && !p.running[1].contains(B));
        p.reload(1, cfg("ha02", after));
        p.run(Duration::from_secs(2));
        assert!(p.running[1].contains(B), "{:?}", p.running);
        // The group that did not change never stopped, and nothing ran on both nodes.
        assert_eq!(p.ops[ops..], [(1, "start", B.to_string())]);
        assert!(p.both.is_empty(), "{:?}", p.both);
        assert!(p.logged(1, "is new in haresources: probing it"));
        assert_eq!(p.keys(0), [A, B]);
    }

    #[test]
    fn a_removed_group_is_released_where_it_runs_and_nowhere_taken() {
        let both = vec![group(A, "ha01", &["httpd"]), group(B, "ha02", &[])];
        let mut p = Pair::new(&both);
        assert!(p.running[1].contains(B));
        let ops = p.ops.len();
        let only_a = vec![group(A, "ha01", &["httpd"])];
        // The node that holds it reloads first: it releases; the other still has it in its
        // file but never takes it (this node reports it unknown).
        p.reload(1, cfg("ha02", only_a.clone()));
        p.run(Duration::from_secs(5));
        assert!(!p.running[0].contains(B) && !p.running[1].contains(B));
        assert!(p.logged(1, "left haresources: releasing it"));
        assert!(p.logged(1, "release completed (removed from haresources)"));
        p.reload(0, cfg("ha01", only_a));
        p.run(Duration::from_secs(5));
        assert_eq!(p.ops[ops..], [(1, "stop", B.to_string())]);
        assert_eq!(p.keys(1), [A]);
        assert_eq!(p.fsm[0].role(0), Some(Role::Active));
    }

    #[test]
    fn a_changed_group_stops_before_its_new_line_starts_even_with_a_shared_address() {
        let mut p = Pair::new(&[group(A, "ha01", &["httpd"])]);
        let ops = p.ops.len();
        // The same address with another service and a second address: a new key.
        let changed = vec![group(B, "ha01", &[A, "nginx"])];
        p.reload(1, cfg("ha02", changed.clone()));
        p.reload(0, cfg("ha01", changed));
        p.run(Duration::from_secs(3));
        let stop_a = p.ops[ops..]
            .iter()
            .position(|o| *o == (0, "stop", A.to_string()))
            .unwrap_or(usize::MAX);
        let start_a = p.ops[ops..]
            .iter()
            .position(|o| *o == (0, "start", A.to_string()))
            .unwrap_or(0);
        assert!(stop_a < start_a, "{:?}", &p.ops[ops..]);
        assert!(p.running[0].contains(A) && p.running[0].contains("nginx"));
        assert!(!p.running[0].contains("httpd"));
        assert!(p.running[1].is_empty());
    }

    #[test]
    fn timing_changes_take_effect_and_are_sent_at_once() {
        let mut p = Pair::new(&[group(A, "ha01", &[])]);
        let mut c = cfg("ha01", vec![group(A, "ha01", &[])]);
        c.deadtime = Duration::from_secs(10);
        c.keepalive = Duration::from_millis(500);
        c.auto_failback = AutoFailback::Off;
        let now = p.t0 + p.now;
        let out = p.fsm[0].step(Event::Reconfigure(Box::new(c)), now);
        let sent = out.iter().find_map(|a| match a {
            Action::Send(pl) => Some(pl.deadtime_ms),
            _ => None,
        });
        assert_eq!(sent, Some(10_000));
        assert!(out.iter().any(|a| matches!(a, Action::Log(_, l)
            if l.contains("keepalive 1000 ms -> 500 ms") && l.contains("deadtime 3000 ms -> 10000 ms"))));
        assert_eq!(
            p.fsm[0].next_deadline(),
            Some(now + Duration::from_millis(500))
        );
        assert_eq!(p.fsm[0].config().auto_failback, AutoFailback::Off);
        // Nothing moved.
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::Acquire(_) | Action::Release(_))));
    }

    #[test]
    fn a_new_track_is_checked_at_once_and_a_new_failback_hold_applies() {
        let mut p = Pair::new(&[group(A, "ha01", &[])]);
        let mut c = cfg("ha01", vec![group(A, "ha01", &[])]);
        c.tracks = vec![crate::config::settings::Track {
            name: "chk".into(),
            probe: crate::config::settings::Probe::Script {
                command: "true".into(),
                timeout: Duration::from_secs(1),
            },
            interval: Duration::from_secs(1),
            fall: 1,
            rise: 1,
            weight: 1,
            line: 1,
        }];
        c.failback_hold = Duration::from_secs(30);
        let now = p.t0 + p.now;
        let out = p.fsm[0].step(Event::Reconfigure(Box::new(c)), now);
        assert!(out.iter().any(|a| matches!(a, Action::Track(0))), "{out:?}");
        assert_eq!(p.fsm[0].config().failback_hold, Duration::from_secs(30));
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::Acquire(_) | Action::Release(_))));
    }

    #[test]
    fn a_new_peer_name_is_refused_and_the_running_configuration_kept() {
        let mut p = Pair::new(&[group(A, "ha01", &[])]);
        let mut c = cfg("ha01", vec![]);
        c.peer = Some("ha03".into());
        let now = p.t0 + p.now;
        let out = p.fsm[0].step(Event::Reconfigure(Box::new(c)), now);
        assert!(out.iter().any(|a| matches!(a, Action::Log(Level::Error, l)
            if l.contains("restart director"))));
        assert_eq!(p.keys(0), [A]);
        assert_eq!(p.fsm[0].role(0), Some(Role::Active));
    }
}
