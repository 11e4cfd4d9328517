//! One ldirectord configuration file at work: its health checks, its part of the IPVS table,
//! its reloads and its stop. This is what `director run` (single mode), the `ldirectord`
//! command line and (later) Heartbeat's `ldirectord::NAME` resources drive:
//! `Lvs::start(file, kernel, prober)`, then `reload`, `status`, `stop`.
//!
//! Inside, one task owns everything (the reconciler, the health-check runner, the parsed
//! file); the kernel is reached on tokio's blocking pool through a shared `Kernel` handle, so
//! several files may program one table (each leaves the services of the others alone).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use healthcheck::probe::ProbeError;
use healthcheck::runner::{CheckResult, Event, ProbeFuture, Prober, Runner, RunnerConfig};
use healthcheck::spec::{host_string, Attempt, CheckSpec};
use healthcheck::tracker::Transition;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::alert::{self, Alerts, DaemonStatus};
use super::execute;
use super::lane::{self, Lane, Lanes, Task};
use super::mail::{self, MailOptions};
use super::mapping::{self, CheckIds, Mapped, RealKey};
use super::monitor::{self, Monitor};
use super::reconcile::{Outcome, Reconciler};
use crate::config::ldirectord::{self, service_key, Config, VirtualAddress};
use crate::config::{Diagnostics, Resolver, SystemResolver};
use crate::engine::{self, CheckId, Health};
use crate::ipvs::{Ipvs, ServiceKey};
use crate::status::{RealStatus, VirtualStatus};

/// The IPVS table, shared by every `Lvs` of the process. Operations run on the blocking pool.
pub type Kernel = Arc<Mutex<Box<dyn Ipvs + Send>>>;

/// A `Kernel` handle for an `Ipvs` implementation.
pub fn kernel(ipvs: impl Ipvs + Send + 'static) -> Kernel {
    Arc::new(Mutex::new(Box::new(ipvs)))
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while holding it; the data is plain.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a reload happens (it decides the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadCause {
    /// SIGHUP.
    Signal,
    /// `director reload`.
    Request,
    /// autoreload saw the file change.
    FileChanged,
}

/// What one file's daemon shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LvsStatus {
    pub file: String,
    pub virtuals: Vec<VirtualStatus>,
    pub reloads: u64,
    pub reload_failures: u64,
    pub last_reload_error: Option<String>,
    pub ipvs_changes: u64,
    pub ipvs_errors: u64,
    pub check_failures: u64,
    /// Recent check start lags in seconds (due -> started): (quantile, value).
    pub check_lag: Vec<(f64, f64)>,
    pub checks: u64,
}

/// Settings of an `Lvs` beyond its file.
#[derive(Clone)]
pub struct LvsOptions {
    /// Runs the probes (the standard `Dispatch`, or a scripted one in tests).
    pub prober: Arc<dyn Prober>,
    /// Name and port lookups of the file (the system's).
    pub resolver: Arc<dyn Resolver + Send + Sync>,
    /// How often the file is looked at for autoreload / callback.
    pub watch_interval: Duration,
    pub runner: RunnerConfig,
    /// The runtime the checks run on (`healthcheck::runner::check_thread` in the daemon);
    /// `None`: the runtime `Lvs::start` is called in (tests with paused time).
    pub checks_on: Option<tokio::runtime::Handle>,
    /// How alert mails are sent.
    pub mail: MailOptions,
    /// The program `execute=` children are run with, as `ldirectord NAME COMMAND` (this
    /// binary, which acts as ldirectord when called so).
    pub ldirectord: PathBuf,
    /// This file's `logfile=` / `supervised=` is where the process logs (named so in file
    /// lines): a reload that changes them takes effect. `None`: another file decides.
    pub log_cfgname: Option<String>,
    /// Time limits of `fallbackcommand`, `callback` and `execute=` runs.
    pub command_bounds: lane::Bounds,
}

impl LvsOptions {
    pub fn new(prober: Arc<dyn Prober>) -> LvsOptions {
        LvsOptions {
            prober,
            resolver: Arc::new(SystemResolver::new()),
            watch_interval: Duration::from_secs(1),
            runner: RunnerConfig::default(),
            checks_on: None,
            mail: MailOptions::default(),
            ldirectord: std::env::current_exe()
                .unwrap_or_else(|_| PathBuf::from("/usr/sbin/ldirectord")),
            log_cfgname: None,
            command_bounds: lane::Bounds::default(),
        }
    }
}

/// The health-check loop's sign of life, read by the `ldirectord::NAME` resource's monitor:
/// when the loop last made progress, and how long without progress means it has stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The last round (a checkinterval tick of the loop) at which checks had started since
    /// the round before, or there were none to run.
    pub at: tokio::time::Instant,
    /// Three of the longest check periods (checkinterval plus the longest timeout).
    pub stall_after: Duration,
    /// Checks started so far, as of the last round.
    pub started: u64,
}

impl Progress {
    /// The next round at `now`: `started` checks started so far, `checks` configured.
    pub fn round(self, now: tokio::time::Instant, started: u64, checks: usize) -> Progress {
        let moving = checks == 0 || started != self.started;
        Progress {
            at: if moving { now } else { self.at },
            started,
            ..self
        }
    }

    /// Whether the loop has made no progress for `stall_after` at `now`.
    pub fn stalled(&self, now: tokio::time::Instant) -> bool {
        now.saturating_duration_since(self.at) >= self.stall_after
    }
}

/// How long without a check started means the loop has stalled: three of the longest check
/// periods of `config` (its checkinterval plus its longest timeout), at least 3 s.
pub fn stall_after(config: &Config) -> Duration {
    let period = |t: &ldirectord::Timing| {
        u64::from(t.checkinterval) + u64::from(t.checktimeout.max(t.negotiatetimeout))
    };
    let longest = config
        .virtuals
        .iter()
        .map(|v| period(&v.timing))
        .chain(std::iter::once(u64::from(config.globals.checkinterval)))
        .max()
        .unwrap_or(0)
        .max(1);
    Duration::from_secs(longest.saturating_mul(3))
}

enum Command {
    Reload {
        cause: ReloadCause,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Stop {
        reply: oneshot::Sender<()>,
    },
}

/// A running ldirectord configuration.
pub struct Lvs {
    path: PathBuf,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<LvsStatus>,
    progress: watch::Receiver<Progress>,
    task: JoinHandle<()>,
}

/// Forces real servers with a maintenance file down without checking them (ldirectord.md
/// 5.4): `<ip>:<port>`, `<ip>`, `<fqdn>:<port>`, `<fqdn>`, `<short>:<port>`, `<short>` in
/// `maintenancedir` (IPv6 as `[addr]:port` / `[addr]`), where fqdn is the reverse-DNS name of
/// the real, looked up before each check (off the loop, bounded by
/// [`REVERSE_DNS_TIMEOUT`], and only when the directory holds a file the address names do
/// not explain).
struct Maintenance {
    inner: Arc<dyn Prober>,
    dir: Arc<Mutex<Option<PathBuf>>>,
    resolver: Arc<dyn Resolver + Send + Sync>,
}

/// Bound of the reverse lookup of a real before a check with a maintenance directory.
pub const REVERSE_DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// The file names that put `real` in maintenance, in ldirectord's order; `fqdn` is its
/// reverse-DNS name, and its first label (if the name matches `^[a-z][a-z0-9-]+\.`) the
/// short name.
pub fn maintenance_names(real: std::net::SocketAddr, fqdn: Option<&str>) -> Vec<String> {
    let port = real.port();
    let host = host_string(real.ip());
    let mut names = vec![format!("{host}:{port}"), host];
    if let Some(fqdn) = fqdn.filter(|f| !f.is_empty()) {
        names.push(format!("{fqdn}:{port}"));
        names.push(fqdn.to_string());
        if let Some(short) = short_name(fqdn) {
            names.push(format!("{short}:{port}"));
            names.push(short.to_string());
        }
    }
    names
}

/// ldirectord's `/^([a-z][a-z0-9\-]+)\./` on the reverse name.
fn short_name(fqdn: &str) -> Option<&str> {
    let (first, _) = fqdn.split_once('.')?;
    let mut chars = first.chars();
    let lead = chars.next()?;
    let ok = lead.is_ascii_lowercase()
        && first.len() >= 2
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(first)
}

/// Whether `dir` puts `real` in maintenance. The directory is read off the loop; the reverse
/// lookup happens only when it holds a file the address names do not match.
pub async fn in_maintenance(
    dir: PathBuf,
    real: std::net::SocketAddr,
    resolver: Arc<dyn Resolver + Send + Sync>,
) -> bool {
    let listing = tokio::task::spawn_blocking(move || {
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<BTreeSet<String>>()
            })
            .unwrap_or_default()
    })
    .await
    .unwrap_or_default();
    if listing.is_empty() {
        return false;
    }
    let by_address = maintenance_names(real, None);
    if by_address.iter().any(|n| listing.contains(n)) {
        return true;
    }
    let lookup = tokio::task::spawn_blocking(move || resolver.reverse(real.ip()));
    let fqdn = match tokio::time::timeout(REVERSE_DNS_TIMEOUT, lookup).await {
        Ok(Ok(name)) => name,
        _ => {
            tracing::debug!("no reverse name for {real} within {REVERSE_DNS_TIMEOUT:?}");
            None
        }
    };
    maintenance_names(real, fqdn.as_deref())
        .iter()
        .any(|n| listing.contains(n))
}

impl Prober for Maintenance {
    fn probe(&self, spec: Arc<CheckSpec>, attempt: Attempt) -> ProbeFuture {
        let dir = lock(&self.dir).clone();
        let Some(dir) = dir else {
            return self.inner.probe(spec, attempt);
        };
        let inner = Arc::clone(&self.inner);
        let resolver = Arc::clone(&self.resolver);
        Box::pin(async move {
            if in_maintenance(dir, spec.real, resolver).await {
                return Err(ProbeError::Unexpected("Server in maintenance".to_string()));
            }
            inner.probe(spec, attempt).await
        })
    }
}

/// Reads the file; `logs_here`: this file's `logfile=` is where the process logs, so it is
/// test-opened as ldirectord does ([`ldirectord::open_logfile`]).
async fn load(
    path: &Path,
    resolver: Arc<dyn Resolver + Send + Sync>,
    logs_here: bool,
) -> Result<(Config, Vec<crate::config::Diagnostic>), Diagnostics> {
    let p = path.to_path_buf();
    let file = path.display().to_string();
    let shown = file.clone();
    tokio::task::spawn_blocking(move || {
        let (config, warnings) = ldirectord::load(&p, resolver.as_ref())?;
        if logs_here {
            if let Err(e) = ldirectord::open_logfile(&config, &shown) {
                let mut all = warnings;
                all.push(e);
                return Err(Diagnostics(all));
            }
        }
        Ok((config, warnings))
    })
    .await
    .unwrap_or_else(|e| {
        Err(Diagnostics(vec![crate::config::Diagnostic::error(
            &file,
            None,
            format!("reading the file failed: {e}"),
        )]))
    })
}

impl Lvs {
    /// Read and map `path`, start its checks and reconcile the table once (the kernel table
    /// is adopted as found: a real is added when its first check passes, a real already in
    /// the table stays until its first check fails). A file with errors is refused.
    pub async fn start(
        path: &Path,
        kernel: Kernel,
        options: LvsOptions,
    ) -> Result<Lvs, Diagnostics> {
        let (config, warnings) = load(
            path,
            Arc::clone(&options.resolver),
            options.log_cfgname.is_some(),
        )
        .await?;
        let file = path.display().to_string();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let mut ids = CheckIds::default();
        let mapped = mapping::map(&config, &file, &mut ids);
        for w in &mapped.warnings {
            tracing::warn!("{w}");
        }
        let maintenance = Arc::new(Mutex::new(config.globals.maintenancedir.clone()));
        let prober: Arc<dyn Prober> = Arc::new(Maintenance {
            inner: Arc::clone(&options.prober),
            dir: Arc::clone(&maintenance),
            resolver: Arc::clone(&options.resolver),
        });
        let (runner, events) = match &options.checks_on {
            Some(h) => Runner::on(h.clone(), prober, options.runner),
            None => Runner::new(prober, options.runner),
        };
        let (monitor_tx, monitor_task) = monitor::writer();
        let (mail_tx, mail_task) = mail::sender(options.mail.clone(), 64);
        let (status_tx, status_rx) = watch::channel(LvsStatus {
            file: file.clone(),
            ..Default::default()
        });
        let (progress_tx, progress_rx) = watch::channel(Progress {
            at: tokio::time::Instant::now(),
            stall_after: stall_after(&config),
            started: 0,
        });
        let seen = std::fs::read(path).ok();
        let mtime = mtime(path);
        let lanes = Lanes::new(options.command_bounds);
        let mut actor = Actor {
            path: path.to_path_buf(),
            file,
            options,
            config,
            mapped: Mapped {
                virtuals: Vec::new(),
                extras: Vec::new(),
                warnings: Vec::new(),
            },
            ids,
            check_of: HashMap::new(),
            reconciler: Arc::new(Mutex::new(Reconciler::new(Vec::new()))),
            kernel,
            runner,
            events,
            results: None,
            monitors: HashMap::new(),
            monitor_tx,
            monitor_task: Some(monitor_task),
            alerts: Alerts::default(),
            alert_settings: HashMap::new(),
            daemon_status: DaemonStatus::Starting,
            mail_tx,
            mail_task: Some(mail_task),
            reasons: HashMap::new(),
            fallback_edge: HashMap::new(),
            seen,
            mtime,
            maintenance,
            lanes,
            status: LvsStatus::default(),
            status_tx,
            progress_tx,
            repair_due: tokio::time::Instant::now(),
        };
        actor.install(mapped);
        actor.reconcile().await;
        // ldirectord starts its `execute=` children once its own table is programmed.
        let children = actor.children(&actor.config.globals.execute.clone());
        actor.queue_children(execute::start(&children));
        let (tx, rx) = mpsc::channel(8);
        let path = actor.path.clone();
        let task = tokio::spawn(actor.run(rx));
        Ok(Lvs {
            path,
            commands: tx,
            status: status_rx,
            progress: progress_rx,
            task,
        })
    }

    /// The file this instance runs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-read the file. A file with errors is refused (logged, returned) and the running
    /// configuration kept; otherwise only the difference is applied and unchanged reals
    /// keep their health.
    pub async fn reload(&self, cause: ReloadCause) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Reload { cause, reply })
            .await
            .map_err(|_| "the daemon is stopping".to_string())?;
        rx.await.map_err(|_| "the daemon is stopping".to_string())?
    }

    /// The current status.
    pub fn status(&self) -> LvsStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<LvsStatus> {
        self.status.clone()
    }

    /// The health-check loop's sign of life ([`Progress`]), updated every checkinterval.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Stop the checks and, for every virtual whose cleanstop is yes, remove its service from
    /// the table (cleanstop=no leaves it exactly as it is).
    pub async fn stop(self) {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Stop { reply }).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

/// How many removed services a reload warning names before it only counts the rest.
const NAMED_REMOVALS: usize = 10;

/// A reload from `old` to a `new` configuration without any virtual service removes every
/// service of `old` (as ldirectord does): the warning that says so, naming what goes, or
/// `None` when the reload keeps at least one service or there was none. An empty or truncated
/// file is the usual cause, so this must not pass silently.
fn reload_removes_all(old: &Config, new: &Config, file: &str) -> Option<String> {
    if !new.virtuals.is_empty() || old.virtuals.is_empty() {
        return None;
    }
    let mut names: Vec<String> = old
        .virtuals
        .iter()
        .take(NAMED_REMOVALS)
        .map(|v| v.address.to_string())
        .collect();
    let more = old.virtuals.len().saturating_sub(NAMED_REMOVALS);
    if more > 0 {
        names.push(format!("and {more} more"));
    }
    Some(format!(
        "{file}: warning: the reloaded file has no virtual service: removing all {} virtual \
         services of the running configuration ({})",
        old.virtuals.len(),
        names.join(", ")
    ))
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    Stop,
}

struct Actor {
    path: PathBuf,
    file: String,
    options: LvsOptions,
    config: Config,
    mapped: Mapped,
    ids: CheckIds,
    check_of: HashMap<RealKey, CheckId>,
    reconciler: Arc<Mutex<Reconciler>>,
    kernel: Kernel,
    runner: Runner<RealKey>,
    events: mpsc::UnboundedReceiver<Event<RealKey>>,
    /// Every check result (monitorfile lines).
    /// Only while some virtual has a monitorfile (the runner sends nothing otherwise).
    results: Option<mpsc::UnboundedReceiver<CheckResult<RealKey>>>,
    /// The monitorfile of each real that has one.
    monitors: HashMap<RealKey, Monitor>,
    monitor_tx: mpsc::UnboundedSender<(PathBuf, String)>,
    monitor_task: Option<JoinHandle<()>>,
    /// E-mail alert reminders, each virtual's alert settings, the daemon's state for them.
    alerts: Alerts,
    alert_settings: HashMap<ServiceKey, alert::Settings>,
    daemon_status: DaemonStatus,
    mail_tx: mpsc::Sender<alert::Mail>,
    mail_task: Option<JoinHandle<()>>,
    /// Why each real's last check failed.
    reasons: HashMap<RealKey, String>,
    /// The last fallbackcommand run per virtual.
    fallback_edge: HashMap<VirtualAddress, Edge>,
    /// The file's content and mtime as last read (autoreload).
    seen: Option<Vec<u8>>,
    mtime: Option<SystemTime>,
    maintenance: Arc<Mutex<Option<PathBuf>>>,
    /// fallbackcommand / callback lines and execute= children, each kind in its own lanes.
    lanes: Lanes,
    status: LvsStatus,
    status_tx: watch::Sender<LvsStatus>,
    progress_tx: watch::Sender<Progress>,
    /// The next checkinterval tick that repairs hand edits (dumps the kernel table) must come
    /// at or after this ([`next_repair`]).
    repair_due: tokio::time::Instant,
}

/// How much of the daemon's time the repair of hand edits may take: a pass that dumped the
/// table in `d` is followed by the next one no sooner than `d * REPAIR_SPACING`.
const REPAIR_SPACING: u32 = 50;

/// When the next repair pass may run, given when the last one started and how long it took.
/// A small table is repaired at every checkinterval; a big one (IPVS has no all-destinations
/// dump: one dump per service) less often, so that repair never takes more than
/// 1/[`REPAIR_SPACING`] of the time.
fn next_repair(started: tokio::time::Instant, took: Duration) -> tokio::time::Instant {
    started + took.saturating_mul(REPAIR_SPACING)
}

impl Actor {
    fn checkinterval(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.globals.checkinterval.max(1)))
    }

    /// Make `mapped` the running configuration (start and reload).
    fn install(&mut self, mapped: Mapped) {
        {
            let mut rec = lock(&self.reconciler);
            rec.set_virtuals(mapped.virtuals.clone());
            for id in mapped.never_up() {
                rec.set_health(id, Health::Down);
            }
        }
        for rejected in self.runner.update(mapped.checks()) {
            tracing::error!("{rejected}");
        }
        self.check_of = mapped.check_of();
        self.monitors = mapped
            .extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .filter_map(|r| r.monitor.clone().map(|m| (r.key, m)))
            .collect();
        match (self.monitors.is_empty(), self.results.is_some()) {
            (false, false) => self.results = Some(self.runner.results()),
            (true, true) => {
                self.runner.stop_results();
                self.results = None;
            }
            _ => {}
        }
        self.reasons.retain(|k, _| self.check_of.contains_key(k));
        let addresses: BTreeSet<VirtualAddress> = mapped.extras.iter().map(|x| x.address).collect();
        self.fallback_edge.retain(|a, _| addresses.contains(a));
        for x in &mapped.extras {
            for r in &x.reals {
                if let Some(mapping::NoCheck::Invalid(why)) = &r.no_check {
                    self.reasons.insert(r.key, why.clone());
                }
            }
        }
        *lock(&self.maintenance) = self.config.globals.maintenancedir.clone();
        self.alert_settings = self
            .config
            .virtuals
            .iter()
            .map(|vs| {
                let key = service_key(&vs.address);
                let settings = alert::Settings {
                    name: engine::virtual_name(&key),
                    alert: vs.alert.clone(),
                    servicename: vs.servicename.clone(),
                    comment: vs.comment.clone(),
                };
                (key, settings)
            })
            .collect();
        let settings: Vec<alert::Settings> = self.alert_settings.values().cloned().collect();
        self.alerts.reconfigure(&settings);
        self.mapped = mapped;
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut repair = tokio::time::interval(self.checkinterval());
        repair.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        repair.tick().await;
        let mut watch = tokio::time::interval(self.options.watch_interval);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        watch.tick().await;
        loop {
            tokio::select! {
                ev = self.events.recv() => {
                    let Some(ev) = ev else { continue };
                    self.observe(ev);
                    while let Ok(ev) = self.events.try_recv() {
                        self.observe(ev);
                    }
                    self.reconcile_with(true).await;
                    if self.daemon_status != DaemonStatus::Running && self.all_checked() {
                        self.daemon_status = DaemonStatus::Running;
                    }
                }
                res = async {
                    match self.results.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some(res) = res {
                        self.monitor(&res);
                    }
                }
                _ = repair.tick() => {
                    // ldirectord: a pass, then the reminders; its first pass belongs to
                    // "starting" (or "reloading"), bounded here by one checkinterval.
                    let started = tokio::time::Instant::now();
                    if started >= self.repair_due {
                        self.reconcile().await;
                        self.repair_due = next_repair(started, started.elapsed());
                    }
                    self.daemon_status = DaemonStatus::Running;
                    self.resend_alerts();
                    self.note_progress(started);
                }
                _ = watch.tick() => {
                    let before = self.checkinterval();
                    self.watch_file().await;
                    if self.checkinterval() != before {
                        repair = tokio::time::interval(self.checkinterval());
                        repair.tick().await;
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Reload { cause, reply }) => {
                        let before = self.checkinterval();
                        let r = self.reload(cause).await;
                        let _ = reply.send(r);
                        if self.checkinterval() != before {
                            repair = tokio::time::interval(self.checkinterval());
                            repair.tick().await;
                        }
                    }
                    Some(Command::Stop { reply }) => {
                        self.stop().await;
                        let _ = reply.send(());
                        return;
                    }
                    // Every handle dropped without stop: leave the table as it is.
                    None => return,
                },
            }
        }
    }

    fn observe(&mut self, ev: Event<RealKey>) {
        let Some(&check) = self.check_of.get(&ev.key) else {
            return;
        };
        let health = match ev.transition {
            Transition::Up => {
                self.reasons.remove(&ev.key);
                Health::Up
            }
            Transition::Down => {
                self.status.check_failures += 1;
                tracing::info!(reason = %ev.reason, "real server {} is down", ev.key);
                self.reasons.insert(ev.key, ev.reason.clone());
                Health::Down
            }
        };
        lock(&self.reconciler).set_health(check, health);
    }

    /// The `execute=` names of a configuration, without one naming this very file (that
    /// would start this configuration again, and again).
    fn children(&self, names: &[String]) -> Vec<String> {
        let me = std::fs::canonicalize(&self.path).ok();
        let etc = super::ldirectord::Paths::default().config_dir;
        names
            .iter()
            .filter(|n| {
                let found =
                    crate::config::locate(n, &etc).and_then(|l| std::fs::canonicalize(l.path).ok());
                let itself = found.is_some() && found == me;
                if itself {
                    tracing::warn!("execute={n} names this configuration itself: ignored");
                }
                !itself
            })
            .cloned()
            .collect()
    }

    fn queue_children(&mut self, jobs: Vec<execute::Job>) {
        for job in jobs {
            let program = self.options.ldirectord.clone();
            self.lanes
                .send(Lane::Execute, Task::Ldirectord { program, job });
        }
    }

    fn send(&self, mail: alert::Mail) {
        tracing::info!("emailalert: {}", mail.log_subject);
        mail::queue(&self.mail_tx, mail);
    }

    /// "Inaccessible real server" reminders that are due.
    fn resend_alerts(&mut self) {
        let mails = self.alerts.resend(
            tokio::time::Instant::now(),
            self.daemon_status,
            &self.options.mail.host,
        );
        for m in mails {
            self.send(m);
        }
    }

    /// A round of the loop: whether checks have started since the last one.
    fn note_progress(&self, now: tokio::time::Instant) {
        let started = self.runner.started();
        let checks = self.runner.checks();
        let stall = stall_after(&self.config);
        self.progress_tx.send_modify(|p| {
            *p = Progress {
                stall_after: stall,
                ..p.round(now, started, checks)
            };
        });
    }

    /// Whether every real with a check has had a verdict.
    fn all_checked(&self) -> bool {
        let rec = lock(&self.reconciler);
        self.mapped
            .extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .all(|r| rec.health(r.check) != Health::Unknown)
    }

    /// Write a check result to the monitorfile of every virtual of the real that has one.
    fn monitor(&self, res: &CheckResult<RealKey>) {
        if self.monitors.is_empty() {
            return;
        }
        let ctime = crate::logging::ctime();
        let pid = std::process::id();
        for key in &res.keys {
            if let Some(m) = self.monitors.get(key) {
                let line = monitor::line(
                    &ctime,
                    pid,
                    &m.id,
                    res.outcome.is_success(),
                    res.outcome.message(),
                );
                let _ = self.monitor_tx.send((m.path.clone(), line));
            }
        }
    }

    /// A full pass: dump the kernel table, apply the difference (start, reload, repair).
    async fn reconcile(&mut self) {
        self.reconcile_with(false).await;
    }

    /// `cached`: plan against the table as last seen (health events); else dump first.
    async fn reconcile_with(&mut self, cached: bool) {
        let rec = Arc::clone(&self.reconciler);
        let kernel = Arc::clone(&self.kernel);
        let result = tokio::task::spawn_blocking(move || {
            let mut k = lock(&kernel);
            let mut r = lock(&rec);
            if cached {
                r.reconcile_cached(&mut **k)
            } else {
                r.reconcile(&mut **k)
            }
        })
        .await;
        match result {
            Ok(Ok(outcome)) => self.report(&outcome),
            Ok(Err(e)) => {
                self.status.ipvs_errors += 1;
                tracing::error!("cannot read the IPVS table: {e}");
            }
            Err(e) => {
                self.status.ipvs_errors += 1;
                tracing::error!("IPVS update failed: {e}");
            }
        }
        self.fallback_commands();
        self.publish();
    }

    fn report(&mut self, outcome: &Outcome) {
        for line in &outcome.applied {
            tracing::info!("{line}");
        }
        let now = tokio::time::Instant::now();
        for a in &outcome.alerts {
            let Some(settings) = self.alert_settings.get(&a.service) else {
                continue;
            };
            if let Some(mail) = self.alerts.event(
                settings,
                &a.real,
                &a.subject,
                a.down,
                now,
                self.daemon_status,
                &self.options.mail.host,
            ) {
                self.send(mail);
            }
        }
        self.status.ipvs_changes += outcome.applied.len() as u64;
        if let Some(e) = &outcome.error {
            self.status.ipvs_errors += 1;
            tracing::error!("IPVS refused a change: {e}");
        }
    }

    /// Run `fallbackcommand start|stop` when a virtual loses its last real server or gets one
    /// back (edge-triggered, as ldirectord).
    fn fallback_commands(&mut self) {
        let rec = lock(&self.reconciler);
        let mut runs: Vec<(VirtualAddress, String)> = Vec::new();
        for x in &self.mapped.extras {
            let Some(cmd) = &x.fallbackcommand else {
                continue;
            };
            let healths: Vec<Health> = x.reals.iter().map(|r| rec.health(r.check)).collect();
            let want = if healths.contains(&Health::Up) {
                Edge::Stop
            } else if healths.iter().all(|h| *h == Health::Down) {
                Edge::Start
            } else {
                continue;
            };
            if self.fallback_edge.get(&x.address) == Some(&want) {
                continue;
            }
            self.fallback_edge.insert(x.address, want);
            let word = if want == Edge::Start { "start" } else { "stop" };
            runs.push((
                x.address,
                format!("{cmd} {word} {}", mapping::fallbackcommand_args(&x.address)),
            ));
        }
        drop(rec);
        for (address, line) in runs {
            self.lanes.send(Lane::Fallback(address), Task::Shell(line));
        }
    }

    fn publish(&mut self) {
        let rec = lock(&self.reconciler);
        let table = rec.table();
        let mut virtuals = Vec::new();
        for (spec, x) in self.mapped.virtuals.iter().zip(&self.mapped.extras) {
            let key = spec.service.key;
            let dests = table.services.get(&key).map(|c| &c.dests);
            let fallback_active = spec.fallback.as_ref().is_some_and(|f| {
                dests.is_some_and(|d| d.contains_key(&engine::kernel_dest(&key, f).key()))
            });
            let reals = x
                .reals
                .iter()
                .zip(&spec.reals)
                .map(|(r, rs)| {
                    let health = match rec.health(r.check) {
                        Health::Up => "up",
                        Health::Down => "down",
                        Health::Unknown => "unknown",
                    };
                    let weight = dests
                        .and_then(|d| d.get(&engine::kernel_dest(&key, &rs.dest).key()))
                        .map(|d| d.weight);
                    RealStatus {
                        address: mapping::real_name(r.key.real.ip(), r.key.real.port()),
                        health: health.to_string(),
                        weight,
                        reason: self.reasons.get(&r.key).cloned(),
                    }
                })
                .collect();
            virtuals.push(VirtualStatus {
                name: x.address.to_string(),
                scheduler: x.scheduler.clone(),
                fallback_active,
                reals,
            });
        }
        drop(rec);
        let lag = self.runner.lag();
        self.status.file = self.file.clone();
        self.status.virtuals = virtuals;
        self.status.checks = lag.count;
        self.status.check_lag = [0.5, 0.9, 0.99]
            .iter()
            .filter_map(|q| lag.quantile(*q).map(|d| (*q, d.as_secs_f64())))
            .collect();
        let _ = self.status_tx.send(self.status.clone());
    }

    async fn reload(&mut self, cause: ReloadCause) -> Result<(), String> {
        match cause {
            ReloadCause::Signal => {
                tracing::info!("Reloading Linux Director Daemon config on signal")
            }
            ReloadCause::Request => {
                tracing::info!("Reloading Linux Director Daemon config on request")
            }
            ReloadCause::FileChanged => {}
        }
        self.seen = std::fs::read(&self.path).ok();
        self.mtime = mtime(&self.path);
        match load(
            &self.path,
            Arc::clone(&self.options.resolver),
            self.options.log_cfgname.is_some(),
        )
        .await
        {
            Err(diags) => {
                for d in diags.iter() {
                    tracing::error!("{d}");
                }
                tracing::error!(
                    "configuration {} not reloaded: it has errors; the running configuration is kept",
                    self.file
                );
                let text = diags.to_string();
                self.status.reload_failures += 1;
                self.status.last_reload_error = Some(text.clone());
                self.publish();
                Err(text)
            }
            Ok((config, warnings)) => {
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                let mapped = mapping::map(&config, &self.file, &mut self.ids);
                for w in &mapped.warnings {
                    tracing::warn!("{w}");
                }
                if let Some(w) = reload_removes_all(&self.config, &config, &self.file) {
                    tracing::warn!("{w}");
                }
                self.daemon_status = DaemonStatus::Reloading;
                if let Some(name) = &self.options.log_cfgname {
                    if config.globals.logfile != self.config.globals.logfile
                        || config.globals.supervised != self.config.globals.supervised
                    {
                        super::set_log_target(&config.globals, name);
                    }
                }
                let old = self.children(&self.config.globals.execute.clone());
                let new = self.children(&config.globals.execute);
                self.queue_children(execute::plan(&old, &new));
                self.config = config;
                self.install(mapped);
                self.status.reloads += 1;
                self.status.last_reload_error = None;
                self.reconcile().await;
                if self.all_checked() {
                    self.daemon_status = DaemonStatus::Running;
                }
                Ok(())
            }
        }
    }

    /// autoreload and callback: look at the file; when its content changed, say so, reload
    /// if autoreload=yes, and run the callback.
    async fn watch_file(&mut self) {
        let now = mtime(&self.path);
        if now == self.mtime {
            return;
        }
        self.mtime = now;
        let content = std::fs::read(&self.path).ok();
        if content == self.seen {
            return;
        }
        tracing::info!("Configuration file '{}' has changed on disk", self.file);
        let callback = self.config.globals.callback.clone();
        if self.config.globals.autoreload {
            tracing::info!(" - reread new configuration");
            let _ = self.reload(ReloadCause::FileChanged).await;
        } else {
            tracing::info!(" - ignore new configuration");
            self.seen = content;
        }
        if let Some(cb) = callback {
            self.lanes
                .send(Lane::Callback, Task::Shell(format!("{cb} {}", self.file)));
        }
    }

    async fn stop(&mut self) {
        self.daemon_status = DaemonStatus::Stopping;
        let children = self.children(&self.config.globals.execute.clone());
        self.queue_children(execute::stop(&children));
        self.runner.update(Vec::new());
        let purge: BTreeSet<ServiceKey> = self
            .mapped
            .extras
            .iter()
            .filter(|x| x.cleanstop)
            .map(|x| service_key(&x.address))
            .collect();
        let rec = Arc::clone(&self.reconciler);
        let kernel = Arc::clone(&self.kernel);
        let result = tokio::task::spawn_blocking(move || {
            let mut k = lock(&kernel);
            let r = lock(&rec).stop(&mut **k, &purge);
            r
        })
        .await;
        match result {
            Ok(Ok(outcome)) => self.report(&outcome),
            Ok(Err(e)) => tracing::error!("cannot read the IPVS table at stop: {e}"),
            Err(e) => tracing::error!("IPVS update failed at stop: {e}"),
        }
        // Let the monitorfile lines and the fallbackcommand / callback lines already asked for
        // finish (bounded).
        let (closed, _) = mpsc::unbounded_channel();
        self.monitor_tx = closed;
        if let Some(task) = self.monitor_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        let (closed, _) = mpsc::channel(1);
        self.mail_tx = closed;
        if let Some(task) = self.mail_task.take() {
            let _ = tokio::time::timeout(self.options.mail.timeout, task).await;
        }
        self.lanes.close(Duration::from_secs(30)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Services, StaticResolver};

    fn sa(s: &str) -> std::net::SocketAddr {
        s.parse().unwrap()
    }

    fn parsed(text: &str) -> Config {
        let resolver = StaticResolver::new(Services::default());
        crate::config::ldirectord::parse(text, "www.cf", &resolver)
            .unwrap()
            .0
    }

    /// A loop has stalled after three of its longest check periods without a check started.
    #[test]
    fn stall_limit_follows_the_slowest_check() {
        let c = parsed(
            "checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tchecktype=ping\n",
        );
        assert_eq!(stall_after(&c), Duration::from_secs(6));
        let c = parsed(
            "checkinterval=10\nvirtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tnegotiatetimeout=20\n",
        );
        assert_eq!(stall_after(&c), Duration::from_secs(90));
        let c = parsed("checkinterval=4\n");
        assert_eq!(stall_after(&c), Duration::from_secs(12));
    }

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

    #[test]
    fn maintenance_names_in_ldirectords_order() {
        assert_eq!(
            maintenance_names(sa("192.0.2.1:80"), Some("web1.example.com")),
            [
                "192.0.2.1:80",
                "192.0.2.1",
                "web1.example.com:80",
                "web1.example.com",
                "web1:80",
                "web1"
            ]
        );
        assert_eq!(
            maintenance_names(sa("[2001:db8::1]:443"), None),
            ["[2001:db8::1]:443", "[2001:db8::1]"]
        );
        // no short name unless the first label matches ^[a-z][a-z0-9-]+ and a dot follows
        for fqdn in [
            "Web1.example.com",
            "w.example.com",
            "1web.example.com",
            "web1",
            "we_b.x",
        ] {
            assert_eq!(
                maintenance_names(sa("192.0.2.1:80"), Some(fqdn)).len(),
                4,
                "{fqdn}"
            );
        }
        assert_eq!(
            maintenance_names(sa("192.0.2.1:80"), Some("db-2.lan"))[4..],
            ["db-2:80", "db-2"]
        );
    }

    #[tokio::test]
    async fn maintenance_by_address_fqdn_and_short_name() {
        let dir = tempfile::tempdir().unwrap();
        let resolver: Arc<dyn Resolver + Send + Sync> = Arc::new(
            StaticResolver::new(Services::default())
                .with_host("web1.example.com", "192.0.2.1".parse().unwrap()),
        );
        let real = sa("192.0.2.1:80");
        let check = || in_maintenance(dir.path().to_path_buf(), real, Arc::clone(&resolver));
        assert!(!check().await, "empty directory");
        for name in [
            "192.0.2.1:80",
            "192.0.2.1",
            "web1.example.com:80",
            "web1.example.com",
            "web1:80",
            "web1",
        ] {
            let f = dir.path().join(name);
            std::fs::write(&f, "").unwrap();
            assert!(check().await, "{name}");
            std::fs::remove_file(&f).unwrap();
        }
        // a file for another server or port
        std::fs::write(dir.path().join("web1:8080"), "").unwrap();
        std::fs::write(dir.path().join("web2"), "").unwrap();
        assert!(!check().await);
        // a missing directory is no maintenance
        assert!(!in_maintenance(dir.path().join("nope"), real, Arc::clone(&resolver)).await);
    }

    /// A resolver whose reverse lookups hang.
    struct Slow;
    impl Resolver for Slow {
        fn host(&self, _: &str, _: crate::ipvs::Family) -> Option<std::net::IpAddr> {
            None
        }
        fn service(&self, _: &str, _: Option<&str>) -> Option<u16> {
            None
        }
        fn hostname(&self) -> String {
            String::new()
        }
        fn reverse(&self, _: std::net::IpAddr) -> Option<String> {
            std::thread::sleep(REVERSE_DNS_TIMEOUT + Duration::from_secs(1));
            Some("web1.example.com".into())
        }
    }

    #[tokio::test]
    async fn a_slow_reverse_lookup_is_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web1"), "").unwrap();
        let started = std::time::Instant::now();
        let hit =
            in_maintenance(dir.path().to_path_buf(), sa("192.0.2.1:80"), Arc::new(Slow)).await;
        assert!(!hit);
        assert!(started.elapsed() < REVERSE_DNS_TIMEOUT + Duration::from_secs(1));
        // the address files need no lookup at all
        std::fs::write(dir.path().join("192.0.2.1"), "").unwrap();
        let started = std::time::Instant::now();
        assert!(in_maintenance(dir.path().to_path_buf(), sa("192.0.2.1:80"), Arc::new(Slow)).await);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
