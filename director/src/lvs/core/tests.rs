//! The core driven directly: an in-memory table answers its questions, time is tokio's
//! paused clock or a fixed instant.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use proptest::prelude::*;

use super::reload::reload_removes_all;
use super::*;
use crate::config::{Services, StaticResolver};
use crate::ipvs::memory::MemoryIpvs;
use crate::ipvs::Ipvs;
use crate::lvs::operator::{Admin, Record, Target};

fn parsed(text: &str) -> Config {
    let resolver = StaticResolver::new(Services::default()).with_hostname("director1");
    crate::config::ldirectord::parse(text, "www.cf", &resolver)
        .unwrap()
        .0
}

fn loaded(text: &str) -> Loaded {
    Loaded {
        config: parsed(text),
        warnings: Vec::new(),
        children: Vec::new(),
    }
}

fn options() -> CoreOptions {
    CoreOptions {
        file: "www.cf".into(),
        mail_host: "director1".into(),
        pid: 42,
        logs_here: false,
        operator: Record::default(),
        drain_on_removal: None,
    }
}

/// A core with an in-memory kernel; every effect carried out is kept.
struct Harness {
    core: Core,
    ipvs: MemoryIpvs,
    text: String,
    done: Vec<Effect>,
    /// Each destination's last non-zero weight as the kernel keeps it for `mh` (the weight it
    /// was added with, then every non-zero weight it was set to).
    last_weight: HashMap<(ServiceKey, crate::ipvs::DestKey), u32>,
    /// The connections (active, inactive) the kernel counts per real server address.
    conns: HashMap<std::net::IpAddr, (u32, u32)>,
}

impl Harness {
    fn start(text: &str, now: Instant) -> Harness {
        Harness::start_with(options(), text, now)
    }

    fn start_with(options: CoreOptions, text: &str, now: Instant) -> Harness {
        let (core, effects) = Core::start(options, loaded(text), now);
        let mut h = Harness {
            core,
            ipvs: MemoryIpvs::new(),
            text: text.to_string(),
            done: Vec::new(),
            last_weight: HashMap::new(),
            conns: HashMap::new(),
        };
        h.carry_out(effects, now);
        h
    }

    /// One event; the effects it led to (answers included).
    fn step(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let from = self.done.len();
        let effects = self.core.step(event, now);
        self.carry_out(effects, now);
        self.done[from..].to_vec()
    }

    fn carry_out(&mut self, effects: Vec<Effect>, now: Instant) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let answer = match &effect {
                Effect::Dump => Some(Event::Dumped(self.ipvs.dump().map(|s| s.table()))),
                Effect::Apply(changes) => {
                    let result = self.ipvs.apply(changes);
                    if result.is_ok() {
                        self.keep_last_weights(changes);
                    }
                    Some(Event::Applied(result))
                }
                Effect::Count(services) => {
                    let mut entries: Vec<crate::ipvs::ServiceEntry> = services
                        .iter()
                        .filter_map(|k| self.ipvs.service(k).ok())
                        .collect();
                    for d in entries.iter_mut().flat_map(|e| e.dests.iter_mut()) {
                        let (active, inact) =
                            self.conns.get(&d.dest.addr).copied().unwrap_or_default();
                        d.active_conns = active;
                        d.inact_conns = inact;
                    }
                    Some(Event::Counted(Ok(entries)))
                }
                Effect::Load(cause) => Some(Event::Loaded {
                    cause: *cause,
                    result: Ok(Box::new(loaded(&self.text))),
                }),
                _ => None,
            };
            self.done.push(effect);
            if let Some(event) = answer {
                assert!(self.core.busy() || matches!(event, Event::Loaded { .. }));
                for e in self.core.step(event, now).into_iter().rev() {
                    queue.push_front(e);
                }
            }
        }
        assert!(!self.core.busy(), "every question was answered");
    }

    fn keep_last_weights(&mut self, changes: &[Change]) {
        for c in changes {
            match c {
                Change::AddDest(k, d) => {
                    self.last_weight.insert((*k, d.key()), d.weight);
                }
                Change::EditDest(k, d) if d.weight != 0 => {
                    self.last_weight.insert((*k, d.key()), d.weight);
                }
                _ => {}
            }
        }
    }

    /// The first two real servers of the first virtual pass their checks now.
    fn both_up(&mut self) {
        let (a, b) = (key(&self.core, 0, 0), key(&self.core, 0, 1));
        let now = Instant::now();
        self.step(
            Event::Health(vec![health(a, true, now), health(b, true, now)]),
            now,
        );
    }

    fn kernel(&mut self) -> Table {
        self.ipvs.dump().unwrap().table()
    }
}

fn key(core: &Core, virtual_index: usize, real_index: usize) -> RealKey {
    let vs = &core.config().virtuals[virtual_index];
    let r = &vs.reals[real_index];
    RealKey {
        virtual_address: vs.address,
        real: SocketAddr::new(r.addr, r.port),
    }
}

fn health(key: RealKey, up: bool, at: Instant) -> HealthEvent<RealKey> {
    HealthEvent {
        key,
        transition: if up { Transition::Up } else { Transition::Down },
        reason: if up {
            "Success".into()
        } else {
            "refused".into()
        },
        at,
    }
}

fn dumps(effects: &[Effect]) -> usize {
    effects.iter().filter(|e| matches!(e, Effect::Dump)).count()
}

/// The checks an effect list hands to the runner, by identity.
fn checks(effects: &[Effect]) -> Vec<Vec<(RealKey, String)>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Checks(c) => Some(c.iter().map(|(k, s)| (*k, s.identity())).collect()),
            _ => None,
        })
        .collect()
}

fn logged(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

const WWW: &str = "\
checkinterval=2
quiescent=no
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\treal=198.51.100.2:80 gate 3
\tfallback=127.0.0.1:80 gate
\tfallbackcommand=/bin/fb
\tservice=http
\tscheduler=rr
";

#[test]
fn a_reload_to_no_virtual_service_says_what_it_removes() {
    let two = parsed("virtual=192.0.2.1:80\n    real=192.0.2.2 gate\nvirtual=7\n");
    let none = parsed("");
    assert_eq!(
        reload_removes_all(&two, &none, "www.cf").as_deref(),
        Some(
            "www.cf: warning: the reloaded file has no virtual service: removing all 2 \
             virtual services of the running configuration (tcp:192.0.2.1:80, fwm:7)"
        )
    );
    assert_eq!(reload_removes_all(&none, &none, "www.cf"), None);
    assert_eq!(reload_removes_all(&none, &two, "www.cf"), None);
    assert_eq!(reload_removes_all(&two, &two, "www.cf"), None);
    let many: String = (1..=12)
        .map(|i| format!("virtual=192.0.2.{i}:80\n    scheduler=rr\n"))
        .collect();
    let w = reload_removes_all(&parsed(&many), &none, "www.cf").unwrap_or_default();
    assert!(
        w.contains("all 12 virtual services") && w.ends_with("tcp:192.0.2.10:80, and 2 more)"),
        "{w}"
    );
}

#[tokio::test(start_paused = true)]
async fn start_programs_the_service_and_health_brings_reals_and_fallback() {
    let t0 = Instant::now();
    let mut h = Harness::start(WWW, t0);
    assert_eq!(h.core.daemon_status(), DaemonStatus::Starting);
    let table = h.kernel();
    assert_eq!(
        table.services.len(),
        1,
        "the service, no real before a check"
    );
    assert!(table.services.values().all(|c| c.dests.is_empty()));
    let (a, b) = (key(&h.core, 0, 0), key(&h.core, 0, 1));

    tokio::time::advance(Duration::from_secs(1)).await;
    let out = h.step(
        Event::Health(vec![health(a, true, Instant::now())]),
        Instant::now(),
    );
    assert_eq!(
        logged(&out),
        ["Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)"]
    );
    assert!(out.iter().any(
        |e| matches!(e, Effect::Fallback { line, .. } if line == "/bin/fb stop 192.0.2.132:80 tcp")
    ));
    assert_eq!(
        h.core.daemon_status(),
        DaemonStatus::Starting,
        "b is unchecked"
    );

    let both_down = vec![
        health(a, false, Instant::now()),
        health(b, false, Instant::now()),
    ];
    let out = h.step(Event::Health(both_down), Instant::now());
    assert_eq!(
        logged(&out),
        [
            "real server 198.51.100.1:80 (tcp:192.0.2.132:80) is down",
            "real server 198.51.100.2:80 (tcp:192.0.2.132:80) is down",
            // plan.rs: the fallback comes in before the last real goes
            "Added fallback server: 127.0.0.1:80 (192.0.2.132:80) (Weight set to 1)",
            "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)",
        ]
    );
    assert!(out.iter().any(
        |e| matches!(e, Effect::Fallback { line, .. } if line == "/bin/fb start 192.0.2.132:80 tcp")
    ));
    assert_eq!(h.core.daemon_status(), DaemonStatus::Running);
    assert_eq!(h.kernel(), *h.core.table());
    let Some(Effect::Publish(status)) = out.iter().rev().find(|e| matches!(e, Effect::Publish(_)))
    else {
        panic!("no status published: {out:?}");
    };
    assert!(status.virtuals[0].fallback_active);
    assert_eq!(status.check_failures, 2);
    assert_eq!(
        status.virtuals[0].reals[0].reason.as_deref(),
        Some("refused")
    );
}

/// A slow dump spaces the repair passes out: after a pass that took `d`, the next tick that
/// dumps comes no sooner than `50 d` later (time from tokio's paused clock).
#[tokio::test(start_paused = true)]
async fn repair_passes_are_spaced_by_how_long_the_dump_took() {
    let mut h = Harness::start(WWW, Instant::now());
    let tick = |h: &mut Harness| {
        h.core.step(
            Event::Tick {
                started: 1,
                checks: 2,
            },
            Instant::now(),
        )
    };
    // the tick asks for a dump; the kernel answers 100 ms later
    let effects = tick(&mut h);
    assert_eq!(dumps(&effects), 1, "{effects:?}");
    tokio::time::advance(Duration::from_millis(100)).await;
    let table = h.kernel();
    let effects = h.core.step(Event::Dumped(Ok(table)), Instant::now());
    h.carry_out(effects, Instant::now());
    // 2 s later (a checkinterval): 5 s have not passed, no dump
    tokio::time::advance(Duration::from_secs(2)).await;
    let effects = tick(&mut h);
    assert_eq!(dumps(&effects), 0, "{effects:?}");
    assert!(effects.iter().any(|e| matches!(e, Effect::Progress(_))));
    // 5 s after the slow pass started: the next one dumps
    tokio::time::advance(Duration::from_secs(3)).await;
    let effects = tick(&mut h);
    assert_eq!(dumps(&effects), 1, "{effects:?}");
}

/// An alert mail when a real goes, reminders every emailalertfreq seconds while it stays
/// out, nothing once it is back.
#[tokio::test(start_paused = true)]
async fn alert_reminders_follow_the_paused_clock() {
    let text = "checkinterval=1\nemailalert=ops@example.com\nemailalertfreq=10\n\
                virtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\tservice=http\n";
    let mut h = Harness::start(text, Instant::now());
    let a = key(&h.core, 0, 0);
    h.step(
        Event::Health(vec![health(a, true, Instant::now())]),
        Instant::now(),
    );
    let out = h.step(
        Event::Health(vec![health(a, false, Instant::now())]),
        Instant::now(),
    );
    let mails = |out: &[Effect]| -> Vec<String> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Mail(m) => Some(m.subject.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        mails(&out),
        ["Deleted real server: 198.51.100.1:80 (192.0.2.132:80)"]
    );
    let tick = Event::Tick {
        started: 2,
        checks: 1,
    };
    tokio::time::advance(Duration::from_secs(9)).await;
    let out = h.step(tick, Instant::now());
    assert!(mails(&out).is_empty(), "{out:?}");
    tokio::time::advance(Duration::from_secs(1)).await;
    let tick = Event::Tick {
        started: 3,
        checks: 1,
    };
    let out = h.step(tick, Instant::now());
    assert_eq!(
        mails(&out),
        ["Inaccessible real server: 198.51.100.1:80 (192.0.2.132:80)"]
    );
    h.step(
        Event::Health(vec![health(a, true, Instant::now())]),
        Instant::now(),
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    let tick = Event::Tick {
        started: 4,
        checks: 1,
    };
    let out = h.step(tick, Instant::now());
    assert!(mails(&out).is_empty(), "{out:?}");
}

#[test]
fn stop_purges_cleanstop_services_and_stops_the_checks() {
    let now = Instant::now();
    let text = "virtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\tservice=http\n\
                virtual=192.0.2.133:80\n\treal=198.51.100.3:80 gate\n\tcleanstop=no\n";
    let mut h = Harness::start(text, now);
    let a = key(&h.core, 0, 0);
    h.step(Event::Health(vec![health(a, true, now)]), now);
    let out = h.step(Event::Stop, now);
    assert_eq!(checks(&out), [vec![]]);
    assert_eq!(
        logged(&out),
        [
            "Purged real server (stop): 198.51.100.1:80 (192.0.2.132:80)",
            "Purged virtual server (stop): 192.0.2.132:80"
        ]
    );
    assert_eq!(h.kernel().services.len(), 1, "cleanstop=no stays");
}

#[test]
fn a_refused_cached_change_is_redone_from_a_dump() {
    let now = Instant::now();
    let mut h = Harness::start(WWW, now);
    let (a, b) = (key(&h.core, 0, 0), key(&h.core, 0, 1));
    h.step(
        Event::Health(vec![health(a, true, now), health(b, true, now)]),
        now,
    );
    // someone deletes real a by hand; then its check fails
    let service = *h.kernel().services.keys().next().unwrap();
    let dk = crate::ipvs::DestKey {
        addr: "198.51.100.1".parse().unwrap(),
        port: 80,
    };
    h.ipvs.apply(&[Change::DelDest(service, dk)]).unwrap();
    let out = h.step(Event::Health(vec![health(a, false, now)]), now);
    assert_eq!(dumps(&out), 1, "{out:?}");
    assert!(logged(&out)
        .iter()
        .any(|l| l.starts_with("cached IPVS table was stale")));
    assert_eq!(h.kernel(), *h.core.table());
}

/// The effects a reload of an unchanged file may have: none on the table or the outside.
fn harmless(e: &Effect) -> bool {
    match e {
        Effect::Log { level, .. } => *level == Level::INFO,
        Effect::Load(_)
        | Effect::Dump
        | Effect::Checks(_)
        | Effect::MaintenanceDir(_)
        | Effect::Publish(_)
        | Effect::Reloaded(Ok(())) => true,
        _ => false,
    }
}

/// A configuration drawn from a few switches.
fn config_text(quiescent: bool, fallback: bool, reals: usize, weights: &[u32]) -> String {
    let mut t = format!(
        "checkinterval=1\nquiescent={}\nvirtual=192.0.2.132:80\n\tservice=http\n",
        if quiescent { "yes" } else { "no" }
    );
    for i in 0..reals {
        t.push_str(&format!(
            "\treal=198.51.100.{}:80 masq {}\n",
            i + 1,
            weights[i % weights.len()]
        ));
    }
    if fallback {
        t.push_str("\tfallback=127.0.0.1:80 masq\n");
    }
    t.push_str(
        "virtual=192.0.2.133:80\n\treal=198.51.100.1:80 masq\n\treal=198.51.100.9:80 masq\n",
    );
    t
}

/// A core started on a drawn configuration, and the keys of all its reals.
fn drawn(
    quiescent: bool,
    fallback: bool,
    reals: usize,
    weights: &[u32],
    now: Instant,
) -> (Harness, Vec<RealKey>) {
    let h = Harness::start(&config_text(quiescent, fallback, reals, weights), now);
    let keys = h
        .core
        .config()
        .virtuals
        .iter()
        .enumerate()
        .flat_map(|(v, vs)| (0..vs.reals.len()).map(move |r| (v, r)))
        .map(|(v, r)| key(&h.core, v, r))
        .collect();
    (h, keys)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of health transitions (in batches, with repair ticks between) leaves the
    /// kernel table the core says: the table it last saw, with nothing left to plan; an up
    /// real is in at its weight, a down one out (or at weight 0 when quiescent).
    #[test]
    fn any_health_sequence_leaves_the_table_the_core_says(
        quiescent in any::<bool>(),
        fallback in any::<bool>(),
        reals in 1usize..5,
        weights in proptest::collection::vec(1u32..5, 1..4),
        batches in proptest::collection::vec(
            proptest::collection::vec((0usize..6, any::<bool>()), 0..4), 1..12),
        ticks in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let now = Instant::now();
        let (mut h, keys) = drawn(quiescent, fallback, reals, &weights, now);
        for (batch, tick) in batches.iter().zip(&ticks) {
            let events = batch
                .iter()
                .map(|(i, up)| health(keys[i % keys.len()], *up, now))
                .collect();
            h.step(Event::Health(events), now);
            if *tick {
                h.step(Event::Tick { started: 0, checks: keys.len() }, now);
            }
            let kernel = h.kernel();
            prop_assert_eq!(&kernel, h.core.table());
            prop_assert!(h.core.planned().is_empty());
            for (vi, vs) in h.core.config().virtuals.iter().enumerate() {
                let service = &kernel.services[&service_key(&vs.address)];
                for (ri, r) in vs.reals.iter().enumerate() {
                    let dest = service.dests.values().find(|d| d.addr == r.addr);
                    match h.core.health(&key(&h.core, vi, ri)) {
                        Health::Up => prop_assert_eq!(dest.map(|d| d.weight), Some(r.weight)),
                        Health::Down if !vs.quiescent => prop_assert!(dest.is_none()),
                        Health::Down => prop_assert!(dest.is_none_or(|d| d.weight == 0)),
                        Health::Unknown => prop_assert!(dest.is_none()),
                    }
                }
            }
        }
    }

    /// A reload with the same file changes nothing: no table change, no command, no mail.
    #[test]
    fn reload_with_the_same_file_yields_no_effects(
        quiescent in any::<bool>(),
        fallback in any::<bool>(),
        reals in 1usize..5,
        weights in proptest::collection::vec(1u32..5, 1..4),
        ups in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let now = Instant::now();
        let (mut h, keys) = drawn(quiescent, fallback, reals, &weights, now);
        let events = keys.iter().zip(&ups).map(|(k, up)| health(*k, *up, now)).collect();
        h.step(Event::Health(events), now);
        let before = h.kernel();
        let checks_before: Vec<(RealKey, String)> =
            h.core.mapped.checks().iter().map(|(k, s)| (*k, s.identity())).collect();
        let out = h.step(Event::Reload(ReloadCause::Request), now);
        let odd: Vec<&Effect> = out.iter().filter(|e| !harmless(e)).collect();
        prop_assert!(odd.is_empty(), "{:?}", odd);
        prop_assert_eq!(checks(&out), vec![checks_before]);
        prop_assert_eq!(h.kernel(), before);
    }
}

/// A scale-out group's file: one `mh` service in direct routing, real servers of several
/// weights, a fallback.
fn mh_text(weights: &[u32]) -> String {
    let mut t = String::from(
        "checkinterval=1\nquiescent=no\nvirtual=203.0.113.10:80\n\tservice=http\n\
         \tscheduler=mh\n\tschedflags=mh-fallback\n",
    );
    // Addresses out of their sorting order, so the file's order is not the address order.
    for (i, w) in weights.iter().enumerate() {
        t.push_str(&format!("\treal=198.51.100.{}:80 gate {w}\n", 50 - i));
    }
    t.push_str("\tfallback=127.0.0.1:80 gate\n");
    t
}

/// The `mh` service's real servers in the order the kernel added them (its dump lists the
/// newest first), fallback left out.
fn kernel_order(h: &mut Harness) -> Vec<std::net::IpAddr> {
    let snapshot = h.ipvs.dump().unwrap();
    let mut order: Vec<_> = snapshot.services[0]
        .dests
        .iter()
        .map(|d| d.dest.addr)
        .filter(|a| !a.is_loopback())
        .collect();
    order.reverse();
    order
}

#[test]
fn an_mh_service_adds_every_real_in_file_order_and_quiesces_a_failed_one() {
    let now = Instant::now();
    let mut h = Harness::start(&mh_text(&[1, 2, 3]), now);
    let file: Vec<_> = h.core.config().virtuals[0]
        .reals
        .iter()
        .map(|r| r.addr)
        .collect();
    // before any check: every real in, file order, weight 0 (last weight the configured one)
    assert_eq!(kernel_order(&mut h), file);
    let t = h.kernel();
    let service = t.services.values().next().unwrap();
    assert!(service.dests.values().all(|d| d.weight == 0));
    let k = |h: &Harness, i| key(&h.core, 0, i);
    let events = (0..3).map(|i| health(k(&h, i), true, now)).collect();
    h.step(Event::Health(events), now);
    let out = h.step(Event::Health(vec![health(k(&h, 1), false, now)]), now);
    assert_eq!(
        logged(&out)
            .iter()
            .filter(|l| l.contains("real server:"))
            .collect::<Vec<_>>(),
        vec!["Quiescent real server: 198.51.100.49:80 (203.0.113.10:80) (Weight set to 0)"],
        "quiescent=no is not followed for mh: the real stays in its place"
    );
    assert_eq!(kernel_order(&mut h), file);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Three directors of a scale-out group with the same `mh` file, each seeing its own
    /// health sequence (checks disagree, directors start at different moments): on every
    /// director and after every step the real servers are all in the kernel's list in the
    /// file's order with the configured weight as their last weight, so the kernel's `mh`
    /// lookup table is the same everywhere; the weight is the configured one while the real
    /// is up and 0 otherwise.
    #[test]
    fn mh_order_is_the_file_order_on_every_director_for_any_health_sequence(
        weights in proptest::collection::vec(1u32..5, 1..5),
        steps in proptest::collection::vec(
            (0usize..3, proptest::collection::vec((0usize..5, any::<bool>()), 0..4), any::<bool>()),
            1..24),
    ) {
        let now = Instant::now();
        let text = mh_text(&weights);
        let mut directors: Vec<Option<Harness>> = vec![None, None, None];
        for (who, batch, tick) in &steps {
            let h = directors[*who].get_or_insert_with(|| Harness::start(&text, now));
            let n = h.core.config().virtuals[0].reals.len();
            let events = batch
                .iter()
                .map(|(i, up)| health(key(&h.core, 0, i % n), *up, now))
                .collect();
            h.step(Event::Health(events), now);
            if *tick {
                h.step(Event::Tick { started: 0, checks: n }, now);
            }
            for h in directors.iter_mut().flatten() {
                let vs = h.core.config().virtuals[0].clone();
                let file: Vec<_> = vs.reals.iter().map(|r| r.addr).collect();
                prop_assert_eq!(kernel_order(h), file);
                let kernel = h.kernel();
                let skey = service_key(&vs.address);
                let service = &kernel.services[&skey];
                for (ri, r) in vs.reals.iter().enumerate() {
                    let d = service.dests.values().find(|d| d.addr == r.addr).unwrap();
                    let want = match h.core.health(&key(&h.core, 0, ri)) {
                        Health::Up => r.weight,
                        Health::Down | Health::Unknown => 0,
                    };
                    prop_assert_eq!(d.weight, want);
                    prop_assert_eq!(h.last_weight.get(&(skey, d.key())), Some(&r.weight));
                }
                prop_assert!(h.core.planned().is_empty());
            }
        }
    }
}

/// A service with `director.conf`'s quorum 3 over weights 1, 3 and 1, and a fallback.
const QUORUM: &str = "\
checkinterval=2
quiescent=no
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate 1
\treal=198.51.100.2:80 gate 3
\treal=198.51.100.3:80 gate 1
\tfallback=127.0.0.1:80 gate
\tfallbackcommand=/bin/fb
\tservice=http
\tscheduler=rr
";

/// What the last status published among `effects` says of the first service's quorum.
fn quorum_words(effects: &[Effect]) -> Option<String> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Publish(status) => status.virtuals.first()?.quorum.clone(),
        _ => None,
    })
}

fn start_with_quorum(quorum: u32, hysteresis: u32, now: Instant) -> Harness {
    let mut l = loaded(QUORUM);
    l.config.virtuals[0].director = failover::config::settings::ServiceExtra {
        quorum: Some(super::super::quorum::Quorum { quorum, hysteresis }),
        quorum_up: Some("/bin/up".into()),
        quorum_down: Some("/bin/down".into()),
        ..Default::default()
    };
    let (core, effects) = Core::start(options(), l, now);
    let mut h = Harness {
        core,
        ipvs: MemoryIpvs::new(),
        text: QUORUM.to_string(),
        done: Vec::new(),
        last_weight: HashMap::new(),
        conns: HashMap::new(),
    };
    h.carry_out(effects, now);
    h
}

fn dests(h: &mut Harness) -> Vec<(String, u32)> {
    h.kernel()
        .services
        .values()
        .flat_map(|c| c.dests.values())
        .map(|d| (d.addr.to_string(), d.weight))
        .collect()
}

fn commands(out: &[Effect]) -> Vec<String> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Fallback { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_lost_quorum_brings_the_fallback_in_place_of_every_real_and_runs_quorum_down() {
    let t0 = Instant::now();
    let mut h = start_with_quorum(3, 0, t0);
    let (a, b, c) = (key(&h.core, 0, 0), key(&h.core, 0, 1), key(&h.core, 0, 2));
    // 1 of 3, the others unchecked: undecided, the real is added as ldirectord would.
    let out = h.step(Event::Health(vec![health(a, true, t0)]), t0);
    assert!(commands(&out).is_empty(), "{out:?}");
    assert_eq!(
        quorum_words(&out).as_deref(),
        Some("undecided (weight 1, quorum 3, hysteresis 0)")
    );
    assert_eq!(dests(&mut h), [("198.51.100.1".to_string(), 1)]);
    // 1 + 3 reaches 3: up.
    let out = h.step(Event::Health(vec![health(b, true, t0)]), t0);
    assert!(logged(&out)
        .contains(&"Starting with quorum up 3+0=3 <= 4 for VS tcp:192.0.2.132:80".to_string()));
    assert_eq!(
        quorum_words(&out).as_deref(),
        Some("up (weight 4, quorum 3, hysteresis 0)")
    );
    assert_eq!(
        commands(&out),
        ["/bin/up", "/bin/fb stop 192.0.2.132:80 tcp"]
    );
    h.step(Event::Health(vec![health(c, true, t0)]), t0);
    assert_eq!(dests(&mut h).len(), 3);
    // b goes: 2 < 3, two reals are still up but the quorum is lost: the fallback alone.
    let out = h.step(Event::Health(vec![health(b, false, t0)]), t0);
    assert!(logged(&out).contains(&"Lost quorum 3-0=3 > 2 for VS tcp:192.0.2.132:80".to_string()));
    assert_eq!(
        quorum_words(&out).as_deref(),
        Some("down (weight 2, quorum 3, hysteresis 0)")
    );
    assert_eq!(
        commands(&out),
        ["/bin/down", "/bin/fb start 192.0.2.132:80 tcp"]
    );
    assert_eq!(dests(&mut h), [("127.0.0.1".to_string(), 1)]);
    // b back: the fallback goes, the up reals return.
    let out = h.step(Event::Health(vec![health(b, true, t0)]), t0);
    assert!(
        logged(&out).contains(&"Gained quorum 3+0=3 <= 5 for VS tcp:192.0.2.132:80".to_string())
    );
    assert_eq!(
        commands(&out),
        ["/bin/up", "/bin/fb stop 192.0.2.132:80 tcp"]
    );
    assert_eq!(
        dests(&mut h),
        [
            ("198.51.100.1".to_string(), 1),
            ("198.51.100.2".to_string(), 3),
            ("198.51.100.3".to_string(), 1)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn hysteresis_keeps_the_quorum_between_its_thresholds() {
    let t0 = Instant::now();
    // quorum 3, hysteresis 1: gained at 4, lost below 2.
    let mut h = start_with_quorum(3, 1, t0);
    let (a, b, c) = (key(&h.core, 0, 0), key(&h.core, 0, 1), key(&h.core, 0, 2));
    let out = h.step(
        Event::Health(vec![
            health(a, true, t0),
            health(b, false, t0),
            health(c, true, t0),
        ]),
        t0,
    );
    // Every verdict is in and 2 < 4: it starts down, on the fallback.
    assert_eq!(
        commands(&out),
        ["/bin/down", "/bin/fb start 192.0.2.132:80 tcp"]
    );
    assert_eq!(dests(&mut h), [("127.0.0.1".to_string(), 1)]);
    let out = h.step(Event::Health(vec![health(b, true, t0)]), t0);
    assert_eq!(
        commands(&out),
        ["/bin/up", "/bin/fb stop 192.0.2.132:80 tcp"]
    );
    // 5 -> 2: still at least 3 - 1, the quorum holds.
    let out = h.step(Event::Health(vec![health(b, false, t0)]), t0);
    assert!(commands(&out).is_empty(), "{out:?}");
    assert_eq!(
        dests(&mut h),
        [
            ("198.51.100.1".to_string(), 1),
            ("198.51.100.3".to_string(), 1)
        ]
    );
    // 2 -> 1: lost.
    let out = h.step(Event::Health(vec![health(c, false, t0)]), t0);
    assert_eq!(
        commands(&out),
        ["/bin/down", "/bin/fb start 192.0.2.132:80 tcp"]
    );
    assert_eq!(dests(&mut h), [("127.0.0.1".to_string(), 1)]);
}

fn target(real: &str) -> Target {
    Target {
        virtual_name: "tcp:192.0.2.132:80".into(),
        real: real.into(),
    }
}

fn weight_of(h: &mut Harness, addr: &str) -> Option<u32> {
    let addr: std::net::IpAddr = addr.parse().unwrap();
    h.kernel()
        .services
        .values()
        .flat_map(|c| c.dests.values())
        .find(|d| d.addr == addr)
        .map(|d| d.weight)
}

fn operator_words(effects: &[Effect], real: &str) -> Option<String> {
    let Some(Effect::Publish(status)) = effects
        .iter()
        .rev()
        .find(|e| matches!(e, Effect::Publish(_)))
    else {
        return None;
    };
    status.virtuals[0]
        .reals
        .iter()
        .find(|r| r.address == real)
        .and_then(|r| r.operator.clone())
}

/// Both reals up, then the operator's record: what that did.
async fn both_up_then(h: &mut Harness, record: &Record) -> Vec<Effect> {
    h.both_up();
    assert_eq!(weight_of(h, "198.51.100.2"), Some(3));
    h.step(Event::Operator(record.clone()), Instant::now())
}

fn tick(h: &mut Harness) -> Vec<Effect> {
    h.step(
        Event::Tick {
            started: 1,
            checks: 2,
        },
        Instant::now(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_drained_real_goes_when_its_connections_reach_zero() {
    let mut h = Harness::start(WWW, Instant::now());
    let mut record = Record::default();
    record.set(
        target("198.51.100.2:80"),
        Some(Admin::Drain { timeout_s: 300 }),
        "director1",
    );
    let out = both_up_then(&mut h, &record).await;
    assert_eq!(
        logged(&out),
        ["Quiescent real server: 198.51.100.2:80 (192.0.2.132:80) (Weight set to 0)"]
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(0));
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("draining")
    );

    // established connections keep it in the table, tick after tick
    h.conns.insert("198.51.100.2".parse().unwrap(), (2, 5));
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(2)).await;
        let out = tick(&mut h);
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Count(s) if s.len() == 1)));
        assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(0));
    }
    let out = h.step(Event::Operator(record.clone()), Instant::now());
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("draining, 7 connections")
    );

    // the last one closes: out of the table at the next tick
    h.conns.insert("198.51.100.2".parse().unwrap(), (0, 0));
    tokio::time::advance(Duration::from_secs(2)).await;
    let out = tick(&mut h);
    assert_eq!(
        logged(&out),
        [
            "Drained real server: 198.51.100.2:80 (192.0.2.132:80): no connection left",
            "Deleted real server: 198.51.100.2:80 (192.0.2.132:80)",
        ]
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), None);
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("drained")
    );
    // no more counting, and it stays out while its check passes
    tokio::time::advance(Duration::from_secs(2)).await;
    let out = tick(&mut h);
    assert!(!out.iter().any(|e| matches!(e, Effect::Count(_))));
    let b = key(&h.core, 0, 1);
    h.step(
        Event::Health(vec![health(b, true, Instant::now())]),
        Instant::now(),
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), None);

    // enable: back at its weight
    record.set(target("198.51.100.2:80"), None, "director1");
    let out = h.step(Event::Operator(record), Instant::now());
    assert_eq!(
        logged(&out),
        ["Added real server: 198.51.100.2:80 (192.0.2.132:80) (Weight set to 3)"]
    );
    assert_eq!(operator_words(&out, "198.51.100.2:80"), None);
}

#[tokio::test(start_paused = true)]
async fn a_drained_real_goes_at_its_timeout_with_connections_left() {
    let mut h = Harness::start(WWW, Instant::now());
    let mut record = Record::default();
    record.set(
        target("198.51.100.1:80"),
        Some(Admin::Drain { timeout_s: 10 }),
        "director1",
    );
    h.conns.insert("198.51.100.1".parse().unwrap(), (4, 0));
    both_up_then(&mut h, &record).await;
    assert_eq!(weight_of(&mut h, "198.51.100.1"), Some(0));
    tokio::time::advance(Duration::from_secs(8)).await;
    tick(&mut h);
    assert_eq!(
        weight_of(&mut h, "198.51.100.1"),
        Some(0),
        "before its timeout"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    let out = tick(&mut h);
    assert_eq!(
        logged(&out),
        [
            "Drained real server: 198.51.100.1:80 (192.0.2.132:80): drain timeout passed with 4 connections left",
            "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)",
        ]
    );
    assert_eq!(weight_of(&mut h, "198.51.100.1"), None);
    // the other real still serves: no fallback
    assert_eq!(weight_of(&mut h, "127.0.0.1"), None);
}

#[tokio::test(start_paused = true)]
async fn disable_weight_and_a_reload_keep_what_the_operator_asked() {
    let mut h = Harness::start(WWW, Instant::now());
    let mut record = Record::default();
    record.set(target("198.51.100.1:80"), Some(Admin::Disable), "director1");
    record.set(
        target("198.51.100.2:80"),
        Some(Admin::Weight { weight: 9 }),
        "director1",
    );
    let out = both_up_then(&mut h, &record).await;
    assert_eq!(
        logged(&out),
        [
            "Restored real server: 198.51.100.2:80 (192.0.2.132:80) (Weight set to 9)",
            "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)",
        ]
    );
    assert_eq!(
        operator_words(&out, "198.51.100.1:80").as_deref(),
        Some("disabled")
    );
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("weight 9")
    );
    // a reload of the same file changes nothing of it
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert!(
        !logged(&out).iter().any(|l| l.contains("198.51.100.")),
        "{:?}",
        logged(&out)
    );
    assert_eq!(weight_of(&mut h, "198.51.100.1"), None);
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(9));
}

#[tokio::test(start_paused = true)]
async fn a_restart_keeps_a_drained_real_out() {
    // the kernel as a drained real left it; the record from the state file
    let mut record = Record::default();
    record.set(
        target("198.51.100.2:80"),
        Some(Admin::Drain { timeout_s: 300 }),
        "director1",
    );
    let mut opts = options();
    opts.operator = record;
    let mut h = Harness::start_with(opts, WWW, Instant::now());
    h.both_up();
    assert_eq!(weight_of(&mut h, "198.51.100.1"), Some(1));
    assert_eq!(weight_of(&mut h, "198.51.100.2"), None);
    let out = tick(&mut h);
    assert_eq!(
        logged(&out),
        ["Drained real server: 198.51.100.2:80 (192.0.2.132:80): no connection left"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_real_removed_by_a_reload_drains_when_the_setting_says_so() {
    let mut opts = options();
    opts.drain_on_removal = Some(Duration::from_secs(60));
    let mut h = Harness::start_with(opts, WWW, Instant::now());
    h.both_up();
    h.conns.insert("198.51.100.2".parse().unwrap(), (1, 1));
    // rs2 leaves the file: weight 0, kept for its connections
    h.text = WWW.replace("\treal=198.51.100.2:80 gate 3\n", "");
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert_eq!(
        logged(&out)
            .iter()
            .filter(|l| l.contains("198.51.100.2"))
            .collect::<Vec<_>>(),
        ["Quiescent real server: 198.51.100.2:80 (192.0.2.132:80) (Weight set to 0)"]
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(0));
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("draining (removed from the file)")
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    tick(&mut h);
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(0));
    // its connections end: deleted
    h.conns.clear();
    tokio::time::advance(Duration::from_secs(2)).await;
    let out = tick(&mut h);
    assert_eq!(
        logged(&out),
        [
            "Drained real server: 198.51.100.2:80 (192.0.2.132:80) (removed from the file): no connection left",
            "Deleted real server: 198.51.100.2:80 (192.0.2.132:80)",
        ]
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), None);
    assert_eq!(weight_of(&mut h, "198.51.100.1"), Some(1));
}

#[tokio::test(start_paused = true)]
async fn without_the_setting_a_removed_real_goes_at_once() {
    let mut h = Harness::start(WWW, Instant::now());
    h.both_up();
    h.conns.insert("198.51.100.2".parse().unwrap(), (1, 1));
    h.text = WWW.replace("\treal=198.51.100.2:80 gate 3\n", "");
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert!(
        logged(&out)
            .contains(&"Purged real server (start): 198.51.100.2:80 (192.0.2.132:80)".to_string()),
        "{:?}",
        logged(&out)
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), None);
}

#[tokio::test(start_paused = true)]
async fn a_reload_of_a_one_real_change_applies_it_without_reading_the_table() {
    let mut h = Harness::start(WWW, Instant::now());
    h.both_up();
    h.text = WWW.replace("198.51.100.2:80 gate 3", "198.51.100.2:80 gate 5");
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert!(!out.iter().any(|e| matches!(e, Effect::Dump)), "{out:?}");
    let applied: Vec<&Vec<Change>> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Apply(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1, "{out:?}");
    assert!(
        matches!(applied[0].as_slice(), [Change::EditDest(_, d)] if d.weight == 5),
        "{applied:?}"
    );
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(5));
    assert!(out.iter().any(|e| matches!(e, Effect::Reloaded(Ok(())))));
}

#[tokio::test(start_paused = true)]
async fn a_reload_whose_change_the_kernel_refuses_reads_the_table_and_repairs_it() {
    let mut h = Harness::start(WWW, Instant::now());
    h.both_up();
    // By hand, behind the daemon's back: the real it will change is gone.
    let (service, dest) = h
        .kernel()
        .services
        .iter()
        .flat_map(|(k, c)| c.dests.values().map(move |d| (*k, d.key())))
        .find(|(_, d)| d.addr.to_string() == "198.51.100.2")
        .unwrap();
    h.ipvs.apply(&[Change::DelDest(service, dest)]).unwrap();
    h.text = WWW.replace("198.51.100.2:80 gate 3", "198.51.100.2:80 gate 5");
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert!(out.iter().any(|e| matches!(e, Effect::Dump)), "{out:?}");
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(5));
    assert!(out.iter().any(|e| matches!(e, Effect::Reloaded(Ok(())))));
}

#[tokio::test(start_paused = true)]
async fn a_reload_of_the_drain_setting_drains_what_the_next_reload_removes() {
    let mut h = Harness::start(WWW, Instant::now());
    h.both_up();
    h.conns.insert("198.51.100.2".parse().unwrap(), (1, 1));
    // director.conf's [drain] on_removal turned on by a reload of the settings.
    h.step(
        Event::DrainOnRemoval(Some(Duration::from_secs(60))),
        Instant::now(),
    );
    h.text = WWW.replace("\treal=198.51.100.2:80 gate 3\n", "");
    let out = h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert_eq!(weight_of(&mut h, "198.51.100.2"), Some(0));
    assert_eq!(
        operator_words(&out, "198.51.100.2:80").as_deref(),
        Some("draining (removed from the file)")
    );
    // Turned off again: the next real a reload removes goes at once.
    h.step(Event::DrainOnRemoval(None), Instant::now());
    h.text = h.text.replace("\treal=198.51.100.1:80 gate\n", "");
    h.step(Event::Reload(ReloadCause::Request), Instant::now());
    assert_eq!(weight_of(&mut h, "198.51.100.1"), None);
}
