//! Runs every check on its interval and reports up/down transitions.
//!
//! - One tokio task per distinct check ([`CheckSpec::identity`]): a real shared by several
//!   virtual services with an identical check is probed once per interval and its result
//!   applied to every key; a slow or hung server only ever delays its own check.
//! - Every attempt is bounded by its deadline ([`CheckSpec::deadline`]); a probe that panics,
//!   fails or hangs is a failed check, never the end of the runner.
//! - First checks are spread over [`RunnerConfig::spread`]; later ones keep their phase
//!   (`due += checkinterval`, skipping slots a long check overran). The lag between due time
//!   and start is recorded ([`Runner::lag`]).
//! - [`Runner::update`] replaces the set of checks and keeps the health of unchanged ones
//!   (reload).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::judge::Outcome;
use crate::probe::transport::Transport;
use crate::probe::{self, Negotiate, ProbeError};
use crate::spec::{Attempt, CheckSpec, CheckType, Protocol, Service, SpecError};
use crate::tracker::{Combined, Health, Tracker, Transition};

/// The future of one probe.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), ProbeError>> + Send + 'static>>;

/// Carries out one attempt of a check. [`Dispatch`] is the real one; tests script their own.
pub trait Prober: Send + Sync + 'static {
    fn probe(&self, spec: Arc<CheckSpec>, attempt: Attempt) -> ProbeFuture;
}

type NegotiateFn = Arc<dyn Fn(SocketAddr, Arc<Negotiate>, Transport) -> ProbeFuture + Send + Sync>;

/// The standard prober: connect, ping, external, external-perl, and the negotiate check of
/// every registered service. `Dispatch::new()` registers http, https and http_proxy; other
/// services are added with [`Dispatch::register`]. A negotiate check of a service with no
/// registered probe fails (the real is down and the reason says why).
#[derive(Clone)]
pub struct Dispatch {
    negotiate: HashMap<Service, NegotiateFn>,
}

impl Default for Dispatch {
    fn default() -> Self {
        Dispatch::new()
    }
}

impl Dispatch {
    pub fn new() -> Dispatch {
        let mut d = Dispatch {
            negotiate: HashMap::new(),
        };
        d.register(Service::Http, |addr, n| async move {
            probe::http::probe(addr, &n).await
        });
        d.register(Service::Https, |addr, n| async move {
            probe::http::probe_https(addr, &n).await
        });
        d.register(Service::HttpProxy, |addr, n| async move {
            probe::http::probe_proxy(addr, &n).await
        });
        d
    }

    /// Use `f` for negotiate checks of `service` (called with the check address and params).
    pub fn register<F, Fut>(&mut self, service: Service, f: F)
    where
        F: Fn(SocketAddr, Arc<Negotiate>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ProbeError>> + Send + 'static,
    {
        self.negotiate
            .insert(service, Arc::new(move |addr, n, _| Box::pin(f(addr, n))));
    }

    /// Use `f` for negotiate checks of a service that runs over UDP or TCP (dns, sip,
    /// simpletcp): it is also given the transport of the check ([`CheckSpec::transport`]).
    pub fn register_over<F, Fut>(&mut self, service: Service, f: F)
    where
        F: Fn(SocketAddr, Arc<Negotiate>, Transport) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ProbeError>> + Send + 'static,
    {
        self.negotiate
            .insert(service, Arc::new(move |addr, n, t| Box::pin(f(addr, n, t))));
    }

    /// Whether a negotiate probe is registered for `service`.
    pub fn supports(&self, service: Service) -> bool {
        service == Service::None || self.negotiate.contains_key(&service)
    }
}

impl Prober for Dispatch {
    fn probe(&self, spec: Arc<CheckSpec>, attempt: Attempt) -> ProbeFuture {
        let addr = spec.check_addr();
        match attempt {
            Attempt::AlwaysUp => Box::pin(async { Ok(()) }),
            Attempt::Negotiate => match self.negotiate.get(&spec.service) {
                Some(f) => f(addr, Arc::clone(&spec.negotiate), spec.transport()),
                None if spec.service == Service::None => Box::pin(async { Ok(()) }),
                None => {
                    let service = spec.service;
                    Box::pin(async move {
                        Err(ProbeError::Unexpected(format!(
                            "no negotiate check available for service {service}"
                        )))
                    })
                }
            },
            Attempt::Connect if spec.protocol == Protocol::Udp => {
                Box::pin(async move { probe::connect::probe_udp(addr).await })
            }
            Attempt::Connect => {
                Box::pin(async move { probe::connect::probe(addr, &Negotiate::default()).await })
            }
            Attempt::Ping => Box::pin(async move {
                probe::ping::probe(spec.real.ip(), spec.checkcount, spec.checktimeout).await
            }),
            Attempt::External | Attempt::ExternalPerl => Box::pin(async move {
                let args = spec.external_args();
                match &spec.checktype {
                    CheckType::External { cmd } => {
                        probe::external::probe(cmd, &args, spec.checktimeout).await
                    }
                    CheckType::ExternalPerl { cmd } => {
                        probe::external::probe_perl(cmd, &args, spec.checktimeout).await
                    }
                    other => Err(ProbeError::Unexpected(format!(
                        "checktype {} has no external command",
                        other.name()
                    ))),
                }
            }),
        }
    }
}

/// An up/down change of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<K> {
    pub key: K,
    pub transition: Transition,
    /// The check's message (status line, error, `Success`).
    pub reason: String,
    pub at: Instant,
}

/// The result of one check attempt, for every key it applies to (what ldirectord writes to
/// its `monitorfile`). Sent only to the receiver of [`Runner::results`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult<K> {
    pub keys: Vec<K>,
    pub outcome: Outcome,
    pub at: Instant,
}

/// Runner settings.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// New checks start spread evenly over this window (capped at their interval).
    pub spread: Duration,
    /// How many recent lag samples to keep.
    pub lag_samples: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            spread: Duration::from_secs(1),
            lag_samples: 4096,
        }
    }
}

/// Why an entry given to [`Runner::update`] was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError<K: fmt::Debug> {
    #[error("invalid check for {key:?}: {errors:?}")]
    Invalid { key: K, errors: Vec<SpecError> },
    #[error("{key:?} given twice; the first definition is used")]
    Duplicate { key: K },
}

/// Lag between due time and start time of checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LagStats {
    pub count: u64,
    pub total: Duration,
    pub max: Duration,
    /// The most recent samples, oldest first.
    pub recent: Vec<Duration>,
}

impl LagStats {
    /// The `q` quantile (0.0..=1.0) of the recent samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut v = self.recent.clone();
        v.sort_unstable();
        let last = v.len().checked_sub(1)?;
        let idx = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
        v.get(idx.min(last)).copied()
    }
}

/// Health of one key, for status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus<K> {
    pub key: K,
    pub health: Health,
    pub failures: u32,
    pub since: Option<Instant>,
    pub last_checked: Option<Instant>,
}

/// Bounds for runner keys: the director's real-server key (Display as `<R> (<V>)`).
pub trait Key: Clone + Eq + Hash + fmt::Display + fmt::Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + fmt::Display + fmt::Debug + Send + Sync + 'static> Key for T {}

struct Group<K> {
    keys: Vec<K>,
    tracker: Tracker,
    combined: Option<Combined>,
    generation: u64,
    task: Option<JoinHandle<()>>,
}

struct State<K> {
    /// By [`CheckSpec::identity`], shared with the group's task.
    groups: HashMap<Arc<str>, Group<K>>,
    next_generation: u64,
}

#[derive(Default)]
struct LagRecorder {
    count: u64,
    total: Duration,
    max: Duration,
    recent: VecDeque<Duration>,
}

struct Shared<K> {
    prober: Arc<dyn Prober>,
    /// Where the checks run.
    handle: tokio::runtime::Handle,
    events: mpsc::UnboundedSender<Event<K>>,
    state: Mutex<State<K>>,
    lag: Mutex<LagRecorder>,
    results: Mutex<Option<mpsc::UnboundedSender<CheckResult<K>>>>,
    config: RunnerConfig,
}

impl<K> Shared<K> {
    fn state(&self) -> MutexGuard<'_, State<K>> {
        // A poisoned lock only means a panic elsewhere while holding it; the data is plain.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_lag(&self, lag: Duration) {
        let mut l = self.lag.lock().unwrap_or_else(|e| e.into_inner());
        l.count += 1;
        l.total = l.total.saturating_add(lag);
        l.max = l.max.max(lag);
        if self.config.lag_samples > 0 {
            if l.recent.len() >= self.config.lag_samples {
                l.recent.pop_front();
            }
            l.recent.push_back(lag);
        }
    }
}

/// Runs checks; dropping it stops every check.
pub struct Runner<K: Key> {
    shared: Arc<Shared<K>>,
}

impl<K: Key> Runner<K> {
    /// A runner with no checks, and the receiver of its events. Must be called inside a tokio
    /// runtime: the checks are tasks of that runtime.
    pub fn new(
        prober: Arc<dyn Prober>,
        config: RunnerConfig,
    ) -> (Runner<K>, mpsc::UnboundedReceiver<Event<K>>) {
        Runner::on(tokio::runtime::Handle::current(), prober, config)
    }

    /// Like [`Runner::new`], with the checks run as tasks of the runtime `handle` (see
    /// [`check_thread`]).
    pub fn on(
        handle: tokio::runtime::Handle,
        prober: Arc<dyn Prober>,
        config: RunnerConfig,
    ) -> (Runner<K>, mpsc::UnboundedReceiver<Event<K>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            prober,
            handle,
            events: tx,
            state: Mutex::new(State {
                groups: HashMap::new(),
                next_generation: 1,
            }),
            lag: Mutex::new(LagRecorder::default()),
            results: Mutex::new(None),
            config,
        });
        (Runner { shared }, rx)
    }

    /// Replace the set of checks. Checks whose definition is unchanged keep their health and
    /// schedule; a key that joins a check whose health is already known gets an event with
    /// that health at once; removed checks stop. Returns the entries that were not taken.
    pub fn update(&self, entries: impl IntoIterator<Item = (K, CheckSpec)>) -> Vec<UpdateError<K>> {
        let mut rejected = Vec::new();
        let mut seen = HashSet::new();
        let mut wanted: Vec<(Arc<str>, Arc<CheckSpec>, Vec<K>)> = Vec::new();
        let mut index: HashMap<Arc<str>, usize> = HashMap::new();
        for (key, spec) in entries {
            if !seen.insert(key.clone()) {
                rejected.push(UpdateError::Duplicate { key });
                continue;
            }
            if let Err(errors) = spec.validate() {
                rejected.push(UpdateError::Invalid { key, errors });
                continue;
            }
            let id: Arc<str> = spec.identity().into();
            match index.get(&id).and_then(|&i| wanted.get_mut(i)) {
                Some(slot) => slot.2.push(key),
                None => {
                    index.insert(Arc::clone(&id), wanted.len());
                    wanted.push((id, Arc::new(spec), vec![key]));
                }
            }
        }

        let now = Instant::now();
        let mut events = Vec::new();
        {
            let mut state = self.shared.state();
            let wanted_ids: HashSet<&Arc<str>> = wanted.iter().map(|(id, _, _)| id).collect();
            state.groups.retain(|id, g| {
                let keep = wanted_ids.contains(id);
                if !keep {
                    if let Some(t) = g.task.take() {
                        t.abort();
                    }
                }
                keep
            });
            let new_count = wanted
                .iter()
                .filter(|(id, _, _)| !state.groups.contains_key(id))
                .count();
            let mut new_index = 0u32;
            for (id, spec, keys) in wanted {
                if let Some(g) = state.groups.get_mut(&id) {
                    let transition = match g.tracker.health() {
                        Health::Up => Some(Transition::Up),
                        Health::Down => Some(Transition::Down),
                        Health::Unknown => None,
                    };
                    if let Some(transition) = transition {
                        for k in keys.iter().filter(|k| !g.keys.contains(k)) {
                            events.push(Event {
                                key: k.clone(),
                                transition,
                                reason: "same check as a server already checked".to_string(),
                                at: now,
                            });
                        }
                    }
                    g.keys = keys;
                    continue;
                }
                let generation = state.next_generation;
                state.next_generation += 1;
                let window = self.shared.config.spread.min(spec.checkinterval);
                let offset = spread_offset(window, new_index, new_count);
                new_index += 1;
                let task = spec.base_attempt().map(|_| {
                    self.shared.handle.spawn(run_check(
                        Arc::clone(&self.shared),
                        Arc::clone(&id),
                        generation,
                        Arc::clone(&spec),
                        now + offset,
                    ))
                });
                let combined = match spec.checktype {
                    CheckType::Combined(n) => Some(Combined::new(n)),
                    _ => None,
                };
                state.groups.insert(
                    id,
                    Group {
                        tracker: Tracker::new(spec.failurecount),
                        keys,
                        combined,
                        generation,
                        task,
                    },
                );
            }
        }
        for e in events {
            let _ = self.shared.events.send(e);
        }
        rejected
    }

    /// From now on, every check result (not only transitions) is also sent to the returned
    /// receiver; a later call replaces the earlier receiver.
    pub fn results(&self) -> mpsc::UnboundedReceiver<CheckResult<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .shared
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// Stop sending results (the receiver of [`Runner::results`] sees its end).
    pub fn stop_results(&self) {
        *self
            .shared
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The health of `key`, if it is being checked.
    pub fn health(&self, key: &K) -> Option<Health> {
        self.shared
            .state()
            .groups
            .values()
            .find(|g| g.keys.contains(key))
            .map(|g| g.tracker.health())
    }

    /// Every key with its health.
    pub fn status(&self) -> Vec<KeyStatus<K>> {
        let state = self.shared.state();
        let mut out = Vec::new();
        for g in state.groups.values() {
            for k in &g.keys {
                out.push(KeyStatus {
                    key: k.clone(),
                    health: g.tracker.health(),
                    failures: g.tracker.failures(),
                    since: g.tracker.since(),
                    last_checked: g.tracker.last_checked(),
                });
            }
        }
        out
    }

    /// How many distinct checks run (a shared check counts once).
    pub fn checks(&self) -> usize {
        self.shared.state().groups.len()
    }

    /// How many checks have started so far (a sign that the checks are running).
    pub fn started(&self) -> u64 {
        self.shared
            .lag
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count
    }

    /// Lag between due time and start of checks so far.
    pub fn lag(&self) -> LagStats {
        let l = self.shared.lag.lock().unwrap_or_else(|e| e.into_inner());
        LagStats {
            count: l.count,
            total: l.total,
            max: l.max,
            recent: l.recent.iter().copied().collect(),
        }
    }
}

impl<K: Key> Drop for Runner<K> {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        for g in state.groups.values_mut() {
            if let Some(t) = g.task.take() {
                t.abort();
            }
        }
        state.groups.clear();
    }
}

/// The runtime of a thread that runs nothing but checks, started on first use and shared by
/// every runner of the process that asks for it. Thousands of checks a second are cheapest on
/// one thread: no task moves between threads and no worker wakes another, and the rest of the
/// daemon never waits behind a burst of checks (nor they behind it).
pub fn check_thread() -> std::io::Result<tokio::runtime::Handle> {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    static START: Mutex<()> = Mutex::new(());
    let _once = START.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("checks".to_string())
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// The start offset of the `i`-th of `n` new checks in a `window`.
pub fn spread_offset(window: Duration, i: u32, n: usize) -> Duration {
    let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
    window
        .checked_div(n)
        .unwrap_or_default()
        .saturating_mul(i.min(n - 1))
}

/// The next due time after a check due at `due` finished at `finished`: one interval later,
/// or the first slot of the same phase after `finished` if the check overran.
pub fn next_due(due: Instant, interval: Duration, finished: Instant) -> Instant {
    let next = due + interval;
    if next > finished || interval.is_zero() {
        return next;
    }
    let behind = finished.saturating_duration_since(due).as_nanos();
    let slots = behind / interval.as_nanos() + 1;
    let slots = u32::try_from(slots).unwrap_or(u32::MAX);
    due + interval.saturating_mul(slots)
}

async fn run_check<K: Key>(
    shared: Arc<Shared<K>>,
    id: Arc<str>,
    generation: u64,
    spec: Arc<CheckSpec>,
    first_due: Instant,
) {
    let Some(base) = spec.base_attempt() else {
        return;
    };
    let mut due = first_due;
    loop {
        tokio::time::sleep_until(due).await;
        let started = Instant::now();
        shared.record_lag(started.saturating_duration_since(due));
        let attempt = {
            let state = shared.state();
            match state.groups.get(&id) {
                Some(g) if g.generation == generation => {
                    g.combined.as_ref().map_or(base, |c| match c.next() {
                        Attempt::Negotiate => base,
                        other => other,
                    })
                }
                _ => return,
            }
        };
        // Both boxed: this task lives as long as its check (one per real), while an attempt
        // lasts milliseconds; sleeping between checks, the task holds only its timer.
        let mut outcome = Box::pin(attempt_once(&shared.prober, &spec, attempt)).await;
        if outcome.is_success() && !spec.also.is_empty() {
            outcome = Box::pin(also_pass(&shared.prober, &spec.also))
                .await
                .unwrap_or(outcome);
        }
        let finished = Instant::now();
        // The keys are copied for the results receiver only when there is one.
        let results = shared
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (events, keys) = {
            let mut state = shared.state();
            let Some(g) = state.groups.get_mut(&id) else {
                return;
            };
            if g.generation != generation {
                return;
            }
            if let Some(c) = g.combined.as_mut() {
                c.record(attempt, outcome.is_success());
            }
            let keys = results.as_ref().map(|_| g.keys.clone());
            (observe(g, &outcome, finished), keys)
        };
        if let (Some(tx), Some(keys)) = (results, keys) {
            let _ = tx.send(CheckResult {
                keys,
                outcome,
                at: finished,
            });
        }
        for e in events {
            let _ = shared.events.send(e);
        }
        due = next_due(due, spec.checkinterval, finished);
    }
}

/// Feed an outcome to a group's tracker; log soft failures in ldirectord's words; return the
/// events for every key.
fn observe<K: Key>(g: &mut Group<K>, outcome: &Outcome, now: Instant) -> Vec<Event<K>> {
    let before = g.tracker.failures();
    let transition = g.tracker.observe(outcome, now);
    if outcome.is_success() && before > 0 {
        for k in &g.keys {
            tracing::info!("Resetting soft failure count: {k}");
        }
    }
    if !outcome.is_success() && transition.is_none() && g.tracker.health() == Health::Up {
        for k in &g.keys {
            tracing::warn!(
                reason = outcome.message(),
                "Soft failure real server: {k} failure {}/{}",
                g.tracker.failures(),
                g.tracker.failurecount()
            );
        }
    }
    let Some(transition) = transition else {
        return Vec::new();
    };
    g.keys
        .iter()
        .map(|k| Event {
            key: k.clone(),
            transition,
            reason: outcome.message().to_string(),
            at: now,
        })
        .collect()
}

/// The further checks of a real ([`CheckSpec::also`]), in order: the first failure, named by
/// its check, or `None` when every one passes.
async fn also_pass(prober: &Arc<dyn Prober>, also: &[Arc<CheckSpec>]) -> Option<Outcome> {
    for extra in also {
        let Some(attempt) = extra.base_attempt() else {
            return Some(Outcome::failure("checktype off: never up"));
        };
        let o = attempt_once(prober, extra, attempt).await;
        if !o.is_success() {
            let what = match extra.checktype {
                CheckType::Negotiate | CheckType::Combined(_) => extra.service.name(),
                ref other => other.name(),
            };
            return Some(Outcome::failure(format!(
                "{what} check of {}: {}",
                extra.check_addr(),
                o.message()
            )));
        }
    }
    None
}

/// One attempt, bounded by its deadline; panics and hangs are failures. The probe runs inside
/// the check's own task (a panic in it is caught at every poll): a task of its own would cost
/// an allocation and a wake-up more per check, and nothing else waits on this task.
async fn attempt_once(
    prober: &Arc<dyn Prober>,
    spec: &Arc<CheckSpec>,
    attempt: Attempt,
) -> Outcome {
    if attempt == Attempt::AlwaysUp {
        return Outcome::success("Success");
    }
    let deadline = spec.deadline(attempt);
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| {
        prober.probe(Arc::clone(spec), attempt)
    })) {
        Ok(f) => f,
        Err(_) => return Outcome::failure("check panicked"),
    };
    match tokio::time::timeout(deadline, AssertUnwindSafe(fut).catch_unwind()).await {
        Ok(Ok(result)) => Outcome::from(result),
        Ok(Err(_)) => Outcome::failure("check panicked"),
        // Dropping the probe's future ends its I/O.
        Err(_) => Outcome::failure(format!("timed out after {}s", deadline.as_secs_f64())),
    }
}

mod standard;
pub use standard::{standard, unsupported};

#[cfg(test)]
mod tests;
