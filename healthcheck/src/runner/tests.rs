//! Runner tests with a scripted prober and tokio's paused time.

use super::*;
use crate::spec::VirtualId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behavior {
    Ok,
    Fail,
    Hang,
    Panic,
    /// Succeed after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Script {
    behavior: Mutex<HashMap<SocketAddr, Behavior>>,
    calls: Mutex<Vec<(SocketAddr, Attempt, Instant)>>,
}

impl Script {
    fn set(&self, addr: SocketAddr, b: Behavior) {
        self.behavior.lock().unwrap().insert(addr, b);
    }
    fn calls_to(&self, addr: SocketAddr) -> Vec<(Attempt, Instant)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _, _)| *a == addr)
            .map(|(_, at, t)| (*at, *t))
            .collect()
    }
}

struct Scripted(Arc<Script>);

impl Prober for Scripted {
    fn probe(&self, spec: Arc<CheckSpec>, attempt: Attempt) -> ProbeFuture {
        let addr = spec.real;
        self.0
            .calls
            .lock()
            .unwrap()
            .push((addr, attempt, Instant::now()));
        let b = self
            .0
            .behavior
            .lock()
            .unwrap()
            .get(&addr)
            .copied()
            .unwrap_or(Behavior::Ok);
        Box::pin(async move {
            match b {
                Behavior::Ok => Ok(()),
                Behavior::Fail => Err(ProbeError::Unexpected("500 Internal Server Error".into())),
                Behavior::Hang => std::future::pending().await,
                Behavior::Panic => panic!("probe blew up"),
                Behavior::Slow(d) => {
                    tokio::time::sleep(d).await;
                    Ok(())
                }
            }
        })
    }
}

fn real(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 80))
}

fn spec(n: u8, vip: u8) -> CheckSpec {
    let mut s = CheckSpec::new(
        real(n),
        VirtualId::Addr(SocketAddr::from(([198, 51, 100, vip], 80))),
    );
    s.checkinterval = Duration::from_secs(1);
    s.negotiatetimeout = Duration::from_secs(5);
    s
}

fn key(n: u8, vip: u8) -> String {
    format!("192.0.2.{n}:80 (tcp:198.51.100.{vip}:80)")
}

fn runner(script: &Arc<Script>) -> (Runner<String>, mpsc::UnboundedReceiver<Event<String>>) {
    Runner::new(
        Arc::new(Scripted(Arc::clone(script))),
        RunnerConfig {
            spread: Duration::from_millis(500),
            lag_samples: 100,
        },
    )
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Event<String>>) -> Vec<Event<String>> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn first_check_brings_up_then_failurecount_takes_down() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let mut s = spec(1, 1);
    s.failurecount = 3;
    let start = Instant::now();
    assert!(r.update([(key(1, 1), s)]).is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Up);
    assert_eq!(ev[0].key, key(1, 1));
    assert_eq!(r.health(&key(1, 1)), Some(Health::Up));

    script.set(real(1), Behavior::Fail);
    // Checks at 1 s, 2 s: soft failures; 3 s: down.
    tokio::time::sleep_until(start + Duration::from_millis(2500)).await;
    assert!(drain(&mut rx).is_empty());
    assert_eq!(r.status()[0].failures, 2);
    tokio::time::sleep_until(start + Duration::from_millis(3500)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Down);
    assert_eq!(ev[0].reason, "500 Internal Server Error");
    assert_eq!(ev[0].at, start + Duration::from_secs(3));

    script.set(real(1), Behavior::Ok);
    tokio::time::sleep_until(start + Duration::from_millis(4500)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Up);
}

#[tokio::test(start_paused = true)]
async fn first_failure_is_down_at_once() {
    let script = Arc::new(Script::default());
    script.set(real(1), Behavior::Fail);
    let (r, mut rx) = runner(&script);
    let mut s = spec(1, 1);
    s.failurecount = 5;
    r.update([(key(1, 1), s)]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Down);
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_never_delays_another() {
    let script = Arc::new(Script::default());
    script.set(real(1), Behavior::Hang);
    let (r, mut rx) = runner(&script);
    let start = Instant::now();
    r.update([(key(1, 1), spec(1, 1)), (key(2, 1), spec(2, 1))]);
    tokio::time::sleep_until(start + Duration::from_millis(10_400)).await;
    // The healthy real was checked every second.
    let calls = script.calls_to(real(2));
    assert!(
        calls.len() >= 10,
        "{} checks of the healthy real",
        calls.len()
    );
    for w in calls.windows(2) {
        assert_eq!(w[1].1 - w[0].1, Duration::from_secs(1));
    }
    // The hung real: down once its 5 s negotiatetimeout expired, probed again on its phase.
    let ev = drain(&mut rx);
    let down: Vec<_> = ev.iter().filter(|e| e.key == key(1, 1)).collect();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].transition, Transition::Down);
    assert!(
        down[0].reason.starts_with("timed out after 5"),
        "{}",
        down[0].reason
    );
    assert_eq!(down[0].at - start, Duration::from_secs(5));
    let hung_calls = script.calls_to(real(1));
    assert_eq!(hung_calls.len(), 2, "{hung_calls:?}");
    assert_eq!(hung_calls[1].1 - hung_calls[0].1, Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn a_shared_check_is_probed_once_per_interval() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let start = Instant::now();
    // The same real with the same check in two virtual services.
    r.update([(key(1, 1), spec(1, 1)), (key(1, 2), spec(1, 2))]);
    assert_eq!(r.checks(), 1);
    tokio::time::sleep_until(start + Duration::from_millis(3500)).await;
    assert_eq!(script.calls_to(real(1)).len(), 4);
    let mut keys: Vec<_> = drain(&mut rx).into_iter().map(|e| e.key).collect();
    keys.sort();
    assert_eq!(keys, vec![key(1, 1), key(1, 2)]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_probe_is_a_failure_and_the_runner_goes_on() {
    let script = Arc::new(Script::default());
    script.set(real(1), Behavior::Panic);
    let (r, mut rx) = runner(&script);
    let start = Instant::now();
    r.update([(key(1, 1), spec(1, 1)), (key(2, 1), spec(2, 1))]);
    tokio::time::sleep_until(start + Duration::from_millis(2600)).await;
    let ev = drain(&mut rx);
    let panicked = ev.iter().find(|e| e.key == key(1, 1)).unwrap();
    assert_eq!(panicked.transition, Transition::Down);
    assert_eq!(panicked.reason, "check panicked");
    assert!(ev
        .iter()
        .any(|e| e.key == key(2, 1) && e.transition == Transition::Up));
    // Still probing the panicking one.
    assert_eq!(script.calls_to(real(1)).len(), 3);
    script.set(real(1), Behavior::Ok);
    tokio::time::sleep_until(start + Duration::from_millis(3600)).await;
    assert_eq!(r.health(&key(1, 1)), Some(Health::Up));
}

#[tokio::test(start_paused = true)]
async fn update_keeps_unchanged_checks_and_stops_removed_ones() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let start = Instant::now();
    let mut failing = spec(3, 1);
    failing.failurecount = 2;
    script.set(real(3), Behavior::Ok);
    r.update([(key(1, 1), spec(1, 1)), (key(3, 1), failing.clone())]);
    tokio::time::sleep_until(start + Duration::from_millis(1700)).await;
    assert_eq!(drain(&mut rx).len(), 2);
    // A soft failure of real 3 at 2 s.
    script.set(real(3), Behavior::Fail);
    tokio::time::sleep_until(start + Duration::from_millis(2700)).await;
    assert!(drain(&mut rx).is_empty());
    let calls_before = script.calls_to(real(1)).len();

    // Reload: real 1 and 3 unchanged, real 2 new, a second virtual joins real 1's check.
    let rejected = r.update([
        (key(1, 1), spec(1, 1)),
        (key(1, 2), spec(1, 2)),
        (key(3, 1), failing),
        (key(2, 1), spec(2, 1)),
    ]);
    assert!(rejected.is_empty());
    // The joining key learns the state of the shared check at once.
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].key.clone(), ev[0].transition),
        (key(1, 2), Transition::Up)
    );
    assert_eq!(ev[0].at, start + Duration::from_millis(2700));
    // Real 3 (phase 0.25 s) kept its soft-failure count: the next failure (3.25 s) takes it
    // down.
    tokio::time::sleep_until(start + Duration::from_millis(3400)).await;
    let ev = drain(&mut rx);
    assert!(ev
        .iter()
        .any(|e| e.key == key(3, 1) && e.transition == Transition::Down));
    assert!(ev
        .iter()
        .any(|e| e.key == key(2, 1) && e.transition == Transition::Up));
    // Real 1 kept its phase: checked at 3 s, not re-run at reload time.
    let calls = script.calls_to(real(1));
    assert_eq!(calls.len(), calls_before + 1);
    assert_eq!(calls.last().unwrap().1, start + Duration::from_secs(3));

    // Remove everything but real 2: real 1 is no longer probed.
    r.update([(key(2, 1), spec(2, 1))]);
    let n1 = script.calls_to(real(1)).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(script.calls_to(real(1)).len(), n1);
    assert_eq!(r.health(&key(1, 1)), None);
    assert_eq!(r.checks(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_changed_check_starts_afresh() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    r.update([(key(1, 1), spec(1, 1))]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(drain(&mut rx).len(), 1);
    let mut changed = spec(1, 1);
    Arc::make_mut(&mut changed.negotiate).request = Some("/other".into());
    r.update([(key(1, 1), changed)]);
    // Unknown until its first check, which reports again.
    assert_eq!(r.health(&key(1, 1)), Some(Health::Unknown));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Up);
}

#[tokio::test(start_paused = true)]
async fn first_checks_are_spread() {
    let script = Arc::new(Script::default());
    let (r, _rx) = runner(&script);
    let start = Instant::now();
    let entries: Vec<_> = (1..=10).map(|n| (key(n, 1), spec(n, 1))).collect();
    r.update(entries);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut firsts: Vec<Duration> = (1..=10)
        .map(|n| script.calls_to(real(n))[0].1 - start)
        .collect();
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts.len(), 10, "{firsts:?}");
    assert!(firsts.iter().all(|d| *d < Duration::from_millis(500)));
    let lag = r.lag();
    assert_eq!(lag.count, 10);
    assert_eq!(lag.max, Duration::ZERO);
    assert_eq!(lag.quantile(0.5), Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_skips_missed_slots() {
    let script = Arc::new(Script::default());
    script.set(real(1), Behavior::Slow(Duration::from_millis(2500)));
    let (r, _rx) = runner(&script);
    let start = Instant::now();
    r.update([(key(1, 1), spec(1, 1))]);
    tokio::time::sleep_until(start + Duration::from_millis(6100)).await;
    let times: Vec<_> = script
        .calls_to(real(1))
        .iter()
        .map(|(_, t)| *t - start)
        .collect();
    assert_eq!(
        times,
        vec![
            Duration::ZERO,
            Duration::from_secs(3),
            Duration::from_secs(6)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn combined_checks_alternate() {
    let script = Arc::new(Script::default());
    let (r, _rx) = runner(&script);
    let start = Instant::now();
    let mut s = spec(1, 1);
    s.checktype = CheckType::Combined(2);
    r.update([(key(1, 1), s)]);
    tokio::time::sleep_until(start + Duration::from_millis(5500)).await;
    let attempts: Vec<_> = script.calls_to(real(1)).iter().map(|(a, _)| *a).collect();
    use Attempt::*;
    assert_eq!(
        attempts,
        vec![Negotiate, Connect, Connect, Negotiate, Connect, Connect]
    );
}

#[tokio::test(start_paused = true)]
async fn off_never_checks_and_on_is_up_without_io() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let mut off = spec(1, 1);
    off.checktype = CheckType::Off;
    let mut on = spec(2, 1);
    on.checktype = CheckType::On;
    r.update([(key(1, 1), off), (key(2, 1), on)]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(script.calls.lock().unwrap().is_empty());
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].key.clone(), ev[0].transition),
        (key(2, 1), Transition::Up)
    );
    assert_eq!(r.health(&key(1, 1)), Some(Health::Unknown));
}

#[tokio::test(start_paused = true)]
async fn invalid_and_duplicate_entries_are_rejected() {
    let script = Arc::new(Script::default());
    let (r, _rx) = runner(&script);
    let mut bad = spec(1, 1);
    bad.checkinterval = Duration::ZERO;
    let rejected = r.update([
        (key(1, 1), bad),
        (key(2, 1), spec(2, 1)),
        (key(2, 1), spec(3, 1)),
    ]);
    assert_eq!(rejected.len(), 2);
    assert!(matches!(&rejected[0], UpdateError::Invalid { key: k, .. } if *k == key(1, 1)));
    assert!(matches!(&rejected[1], UpdateError::Duplicate { key: k } if *k == key(2, 1)));
    assert_eq!(r.checks(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_runner_stops_checks() {
    let script = Arc::new(Script::default());
    let (r, _rx) = runner(&script);
    r.update([(key(1, 1), spec(1, 1))]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = script.calls_to(real(1)).len();
    drop(r);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(script.calls_to(real(1)).len(), n);
}

/// A prober whose probes hang, each holding a guard that counts its drop.
struct Hanging(Arc<std::sync::atomic::AtomicUsize>);

struct DropCount(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Prober for Hanging {
    fn probe(&self, _spec: Arc<CheckSpec>, _attempt: Attempt) -> ProbeFuture {
        let guard = DropCount(Arc::clone(&self.0));
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_in_flight_ends_with_its_check() {
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (r, _rx) = Runner::<String>::new(
        Arc::new(Hanging(Arc::clone(&dropped))),
        RunnerConfig::default(),
    );
    r.update([(key(1, 1), spec(1, 1)), (key(2, 1), spec(2, 1))]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Both probes hang, well within their 5 s deadline.
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Removing a check ends its probe at once (not at the deadline), and only its own.
    r.update([(key(2, 1), spec(2, 1))]);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 1);
    // At the deadline the other probe is dropped as a failed check.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Its next probe (6.5 s) ends with the runner.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 2);
    drop(r);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn next_due_keeps_phase() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let i = Duration::from_secs(10);
        assert_eq!(next_due(t0, i, t0 + Duration::from_secs(1)), t0 + i);
        assert_eq!(
            next_due(t0, i, t0 + Duration::from_secs(10)),
            t0 + Duration::from_secs(20)
        );
        assert_eq!(
            next_due(t0, i, t0 + Duration::from_secs(25)),
            t0 + Duration::from_secs(30)
        );
        assert_eq!(spread_offset(Duration::from_secs(1), 0, 4), Duration::ZERO);
        assert_eq!(
            spread_offset(Duration::from_secs(1), 3, 4),
            Duration::from_millis(750)
        );
        assert_eq!(spread_offset(Duration::from_secs(1), 9, 0), Duration::ZERO);
    });
}

#[tokio::test(start_paused = true)]
async fn every_result_reaches_the_results_receiver_with_every_key() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let mut results = r.results();
    let mut s = spec(1, 1);
    s.failurecount = 3;
    let start = Instant::now();
    // One check (same definition) for two keys.
    r.update([(key(1, 1), s.clone()), (key(1, 2), s)]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    script.set(real(1), Behavior::Fail);
    tokio::time::sleep_until(start + Duration::from_millis(2500)).await;
    let mut got = Vec::new();
    while let Ok(res) = results.try_recv() {
        got.push(res);
    }
    // Three passes (0 s, 1 s, 2 s), each one result naming both keys.
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got.iter().all(|c| c.keys == vec![key(1, 1), key(1, 2)]));
    assert!(got[0].outcome.is_success());
    assert_eq!(got[0].outcome.message(), "Success");
    assert_eq!(got[1].outcome.message(), "500 Internal Server Error");
    assert!(!got[2].outcome.is_success());
    // Transitions still go to the event receiver only: the two keys came up; the soft
    // failures are no transition.
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 2, "{ev:#?}");
    assert!(ev.iter().all(|e| e.transition == Transition::Up));
    // Once stopped, nothing more comes and the receiver sees the end.
    r.stop_results();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        results.try_recv().unwrap_err(),
        mpsc::error::TryRecvError::Disconnected
    );
}

#[tokio::test(start_paused = true)]
async fn a_real_is_up_only_when_every_one_of_its_checks_passes() {
    let script = Arc::new(Script::default());
    let (r, mut rx) = runner(&script);
    let mut s = spec(1, 1);
    // The further check answers as "real 9" in the script.
    s.also = vec![Arc::new(spec(9, 1))];
    script.set(real(9), Behavior::Fail);
    let start = Instant::now();
    r.update([(key(1, 1), s)]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Down);
    assert_eq!(
        ev[0].reason,
        "http check of 192.0.2.9:80: 500 Internal Server Error"
    );
    // Both ran, the file's check first.
    assert_eq!(script.calls_to(real(1)).len(), 1);
    assert_eq!(script.calls_to(real(9)).len(), 1);
    script.set(real(9), Behavior::Ok);
    tokio::time::sleep_until(start + Duration::from_millis(1100)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].transition, Transition::Up);
    // The file's check failing is reported as itself; the further one is not run.
    script.set(real(1), Behavior::Fail);
    tokio::time::sleep_until(start + Duration::from_millis(2100)).await;
    let ev = drain(&mut rx);
    assert_eq!(ev[0].reason, "500 Internal Server Error");
    assert_eq!(script.calls_to(real(9)).len(), 2);
}

#[tokio::test]
async fn a_waiting_check_holds_little() {
    // One such task per real lives for as long as the real is checked (100,000 of them in the
    // benchmark): the attempt and the further checks are boxed, so it holds its timer and not
    // room for a probe in flight. 280 bytes in a debug build of 2026-12 (400 before).
    let script = Arc::new(Script::default());
    let (r, _rx) = runner(&script);
    let spec = Arc::new(spec(1, 1));
    let task = run_check(
        Arc::clone(&r.shared),
        Arc::from("id"),
        1,
        spec,
        Instant::now(),
    );
    let size = std::mem::size_of_val(&task);
    assert!(size <= 320, "run_check's future is {size} bytes");
}
