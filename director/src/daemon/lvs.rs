//! One ldirectord configuration file at work: its health checks, its part of the IPVS table,
//! its reloads and its stop. This is what `director run` (single mode), the `ldirectord`
//! command line and Heartbeat's `ldirectord::NAME` resources drive:
//! `Lvs::start(file, kernel, prober)`, then `reload`, `status`, `stop`.
//!
//! The decisions are `crate::lvs::Core`'s; this is its loop. One task owns the core, the
//! health-check runner and the file; it selects on health events, check results, the
//! checkinterval tick, the file watch and commands, calls `Core::step` and carries out the
//! effects. The kernel is reached on tokio's blocking pool through a shared `Kernel` handle,
//! so several files may program one table (each leaves the services of the others alone).

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use healthcheck::probe::ProbeError;
use healthcheck::runner::{
    CheckResult, Event as HealthEvent, ProbeFuture, Prober, Runner, RunnerConfig,
};
use healthcheck::spec::{Attempt, CheckSpec};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Level;

use super::lane::{self, Lane, Lanes, Task};
use super::mail::{self, MailOptions};
use crate::config::ldirectord;
use crate::config::{Diagnostic, Diagnostics, Resolver, SystemResolver};
use crate::ipvs::{Change, Ipvs, IpvsError, ServiceEntry, ServiceKey, Table};
use crate::lvs::maintenance::maintenance_names;
use crate::lvs::mapping::RealKey;
pub use crate::lvs::operator::Record;
use crate::lvs::{Core, CoreOptions, Effect, Event, Loaded};

pub use crate::lvs::{stall_after, LvsStatus, Progress, ReloadCause};

/// The IPVS table, shared by every `Lvs` of the process. Operations run on the blocking pool.
pub type Kernel = Arc<Mutex<Box<dyn Ipvs + Send>>>;

/// A `Kernel` handle for an `Ipvs` implementation.
pub fn kernel(ipvs: impl Ipvs + Send + 'static) -> Kernel {
    Arc::new(Mutex::new(Box::new(ipvs)))
}

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while holding it; the data is plain.
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    /// Where that file's `logfile=` takes the log lines (the daemon's routing).
    pub log: crate::logging::Routing,
    /// Time limits of `fallbackcommand`, `callback` and `execute=` runs.
    pub command_bounds: lane::Bounds,
    /// What the operator asked of real servers at start (the daemon's state file).
    pub operator: Record,
    /// `director.conf` `[drain]`: how long a real server a reload removes is drained (`None`:
    /// `on_removal` is off, it is deleted at once).
    pub drain_on_removal: Option<Duration>,
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
            log: crate::logging::Routing::new(),
            command_bounds: lane::Bounds::default(),
            operator: Record::default(),
            drain_on_removal: None,
        }
    }
}

enum Command {
    Reload {
        cause: ReloadCause,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Stop {
        reply: oneshot::Sender<()>,
    },
    Operator {
        record: Record,
        reply: oneshot::Sender<()>,
    },
    DrainOnRemoval(Option<Duration>),
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

/// Reads the file and the `execute=` names it may start; `logs_here`: this file's `logfile=`
/// is where the process logs, so it is test-opened as ldirectord does
/// ([`ldirectord::open_logfile`]).
async fn load(
    path: &Path,
    resolver: Arc<dyn Resolver + Send + Sync>,
    logs_here: bool,
) -> Result<Box<Loaded>, Diagnostics> {
    let p = path.to_path_buf();
    let file = path.display().to_string();
    let shown = file.clone();
    tokio::task::spawn_blocking(move || {
        let (config, warnings) = ldirectord::load(&p, resolver.as_ref())?;
        if logs_here {
            if let Err(e) = ldirectord::open_logfile(&config, &shown) {
                let mut all = warnings;
                all.push(e);
                return Err(Diagnostics::new(all));
            }
        }
        let children = children(&p, &config.globals.execute);
        Ok(Box::new(Loaded {
            config,
            warnings,
            children,
        }))
    })
    .await
    .unwrap_or_else(|e| {
        Err(Diagnostics::new(vec![Diagnostic::error(
            std::path::Path::new(&file),
            0,
            format!("reading the file failed: {e}"),
        )]))
    })
}

/// The `execute=` names of a configuration, without one naming this very file (that would
/// start this configuration again, and again). Blocking (it resolves paths).
fn children(path: &Path, names: &[String]) -> Vec<String> {
    let me = std::fs::canonicalize(path).ok();
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

async fn mtime(path: &Path) -> Option<SystemTime> {
    tokio::fs::metadata(path)
        .await
        .and_then(|m| m.modified())
        .ok()
}

/// A task on the blocking pool that did not finish (it panicked), as the table error it is.
fn lost(e: tokio::task::JoinError) -> IpvsError {
    IpvsError::Io(std::io::Error::other(format!("IPVS update failed: {e}")))
}

/// A log line of the core, from this module (ldirectord's target).
fn emit(level: Level, text: &str, reason: Option<&str>) {
    macro_rules! at {
        ($m:ident) => {
            match reason {
                Some(r) => tracing::$m!(reason = %r, "{text}"),
                None => tracing::$m!("{text}"),
            }
        };
    }
    if level == Level::ERROR {
        at!(error)
    } else if level == Level::WARN {
        at!(warn)
    } else if level == Level::INFO {
        at!(info)
    } else if level == Level::DEBUG {
        at!(debug)
    } else {
        at!(trace)
    }
}

impl Lvs {
    /// Read `path`, start its checks and reconcile the table once (the kernel table is
    /// adopted as found: a real is added when its first check passes, a real already in the
    /// table stays until its first check fails). A file with errors is refused.
    pub async fn start(
        path: &Path,
        kernel: Kernel,
        options: LvsOptions,
    ) -> Result<Lvs, Diagnostics> {
        let loaded = load(
            path,
            Arc::clone(&options.resolver),
            options.log_cfgname.is_some(),
        )
        .await?;
        let file = path.display().to_string();
        let maintenance = Arc::new(Mutex::new(loaded.config.globals.maintenancedir.clone()));
        let prober: Arc<dyn Prober> = Arc::new(Maintenance {
            inner: Arc::clone(&options.prober),
            dir: Arc::clone(&maintenance),
            resolver: Arc::clone(&options.resolver),
        });
        let (runner, events) = match &options.checks_on {
            Some(h) => Runner::on(h.clone(), prober, options.runner),
            None => Runner::new(prober, options.runner),
        };
        let (monitor_tx, monitor_task) = super::monitor::writer();
        let (mail_tx, mail_task) = mail::sender(options.mail.clone(), 64);
        let seen = tokio::fs::read(path).await.ok();
        let mtime = mtime(path).await;
        let (core, effects) = Core::start(
            CoreOptions {
                file: file.clone(),
                mail_host: options.mail.host.clone(),
                pid: std::process::id(),
                logs_here: options.log_cfgname.is_some(),
                operator: options.operator.clone(),
                drain_on_removal: options.drain_on_removal,
            },
            *loaded,
            Instant::now(),
        );
        let (status_tx, status_rx) = watch::channel(LvsStatus {
            file,
            ..Default::default()
        });
        let (progress_tx, progress_rx) = watch::channel(core.progress());
        let lanes = Lanes::new(options.command_bounds);
        let mut actor = Actor {
            path: path.to_path_buf(),
            options,
            core,
            kernel,
            runner,
            events,
            results: None,
            monitor_tx,
            monitor_task: Some(monitor_task),
            mail_tx,
            mail_task: Some(mail_task),
            seen,
            mtime,
            maintenance,
            lanes,
            status_tx,
            progress_tx,
            reply: None,
        };
        actor.carry_out(effects).await;
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

    /// What the operator asks of real servers from now on (`director real ...`); returns
    /// once the table follows it (or the daemon is stopping).
    pub async fn operator(&self, record: Record) {
        let (reply, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Operator { record, reply })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// `director.conf`'s `[drain]` from now on: how long a real server a reload removes is
    /// drained (`None`: deleted at once).
    pub async fn drain_on_removal(&self, drain: Option<Duration>) {
        let _ = self.commands.send(Command::DrainOnRemoval(drain)).await;
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

struct Actor {
    path: PathBuf,
    options: LvsOptions,
    core: Core,
    kernel: Kernel,
    runner: Runner<RealKey>,
    events: mpsc::UnboundedReceiver<HealthEvent<RealKey>>,
    /// Every check result (monitorfile lines).
    /// Only while some virtual has a monitorfile (the runner sends nothing otherwise).
    results: Option<mpsc::UnboundedReceiver<CheckResult<RealKey>>>,
    monitor_tx: mpsc::UnboundedSender<(PathBuf, String)>,
    monitor_task: Option<JoinHandle<()>>,
    mail_tx: mpsc::Sender<crate::lvs::alert::Mail>,
    mail_task: Option<JoinHandle<()>>,
    /// The file's content and mtime as last read (autoreload).
    seen: Option<Vec<u8>>,
    mtime: Option<SystemTime>,
    maintenance: Arc<Mutex<Option<PathBuf>>>,
    /// fallbackcommand / callback lines and execute= children, each kind in its own lanes.
    lanes: Lanes,
    status_tx: watch::Sender<LvsStatus>,
    progress_tx: watch::Sender<Progress>,
    /// The reload in progress waits for its answer here.
    reply: Option<oneshot::Sender<Result<(), String>>>,
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut repair = tokio::time::interval(self.core.checkinterval());
        repair.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        repair.tick().await;
        let mut watch = tokio::time::interval(self.options.watch_interval);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        watch.tick().await;
        loop {
            let before = self.core.checkinterval();
            tokio::select! {
                ev = self.events.recv() => {
                    let Some(ev) = ev else { continue };
                    let mut batch = vec![ev];
                    while let Ok(ev) = self.events.try_recv() {
                        batch.push(ev);
                    }
                    self.step(Event::Health(batch)).await;
                }
                res = async {
                    match self.results.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some(result) = res {
                        let ctime = crate::logging::ctime();
                        self.step(Event::Checked { result, ctime }).await;
                    }
                }
                _ = repair.tick() => {
                    let started = self.runner.started();
                    let checks = self.runner.checks();
                    self.step(Event::Tick { started, checks }).await;
                }
                _ = watch.tick() => self.watch_file().await,
                cmd = commands.recv() => match cmd {
                    Some(Command::Reload { cause, reply }) => {
                        self.reply = Some(reply);
                        self.step(Event::Reload(cause)).await;
                    }
                    Some(Command::Operator { record, reply }) => {
                        self.step(Event::Operator(record)).await;
                        let _ = reply.send(());
                    }
                    Some(Command::DrainOnRemoval(drain)) => {
                        self.step(Event::DrainOnRemoval(drain)).await;
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
            if self.core.checkinterval() != before {
                repair = tokio::time::interval(self.core.checkinterval());
                repair.tick().await;
            }
        }
    }

    async fn step(&mut self, event: Event) {
        let effects = self.core.step(event, Instant::now());
        self.carry_out(effects).await;
    }

    /// Carry out `effects` in order; the answer to a question (dump, apply, load) goes back to
    /// the core at once and its effects come before the rest.
    async fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let answer = match effect {
                Effect::Dump => Some(Event::Dumped(self.dump().await)),
                Effect::Count(services) => Some(Event::Counted(self.count(services).await)),
                Effect::Apply(changes) => Some(Event::Applied(self.apply(changes).await)),
                Effect::Load(cause) => {
                    self.seen = tokio::fs::read(&self.path).await.ok();
                    self.mtime = mtime(&self.path).await;
                    let result = load(
                        &self.path,
                        Arc::clone(&self.options.resolver),
                        self.options.log_cfgname.is_some(),
                    )
                    .await;
                    Some(Event::Loaded { cause, result })
                }
                Effect::Log {
                    level,
                    text,
                    reason,
                    about,
                } => {
                    // In a span that names its service and real server, so that a log can
                    // be filtered per service (`DIRECTOR_LOG='[{vs=tcp:192.0.2.100:80}]=info'`).
                    let span = about.map(|a| match a.rs {
                        Some(rs) => tracing::info_span!("rs", vs = %a.vs, rs = %rs),
                        None => tracing::info_span!("vs", vs = %a.vs),
                    });
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    emit(level, &text, reason.as_deref());
                    None
                }
                Effect::Mail(m) => {
                    mail::queue(&self.mail_tx, m);
                    None
                }
                Effect::Fallback { address, line } => {
                    self.lanes.send(Lane::Fallback(address), Task::Shell(line));
                    None
                }
                Effect::Callback(line) => {
                    self.lanes.send(Lane::Callback, Task::Shell(line));
                    None
                }
                Effect::Execute(job) => {
                    let program = self.options.ldirectord.clone();
                    self.lanes
                        .send(Lane::Execute, Task::Ldirectord { program, job });
                    None
                }
                Effect::Monitor { path, line } => {
                    let _ = self.monitor_tx.send((path, line));
                    None
                }
                Effect::Checks(checks) => {
                    for rejected in self.runner.update(checks) {
                        tracing::error!("{rejected}");
                    }
                    None
                }
                Effect::Results(want) => {
                    if want && self.results.is_none() {
                        self.results = Some(self.runner.results());
                    } else if !want && self.results.is_some() {
                        self.runner.stop_results();
                        self.results = None;
                    }
                    None
                }
                Effect::MaintenanceDir(dir) => {
                    *lock(&self.maintenance) = dir;
                    None
                }
                Effect::LogTarget(globals) => {
                    if let Some(name) = &self.options.log_cfgname {
                        super::set_log_target(&self.options.log, &globals, name);
                    }
                    None
                }
                Effect::Publish(mut status) => {
                    let lag = self.runner.lag();
                    status.checks = lag.count;
                    status.check_lag = [0.5, 0.9, 0.99]
                        .iter()
                        .filter_map(|q| lag.quantile(*q).map(|d| (*q, d.as_secs_f64())))
                        .collect();
                    let _ = self.status_tx.send(status);
                    None
                }
                Effect::Progress(p) => {
                    self.progress_tx.send_replace(p);
                    None
                }
                Effect::Reloaded(result) => {
                    if let Some(reply) = self.reply.take() {
                        let _ = reply.send(result);
                    }
                    super::heap::give_back();
                    None
                }
            };
            if let Some(event) = answer {
                let more = self.core.step(event, Instant::now());
                for e in more.into_iter().rev() {
                    queue.push_front(e);
                }
            }
        }
    }

    async fn dump(&self) -> Result<Table, IpvsError> {
        let kernel = Arc::clone(&self.kernel);
        tokio::task::spawn_blocking(move || lock(&kernel).dump().map(|s| s.table()))
            .await
            .unwrap_or_else(|e| Err(lost(e)))
    }

    /// The services as the kernel has them, with their connection counts (a service no
    /// longer there is left out).
    async fn count(&self, services: Vec<ServiceKey>) -> Result<Vec<ServiceEntry>, IpvsError> {
        let kernel = Arc::clone(&self.kernel);
        tokio::task::spawn_blocking(move || {
            let mut ipvs = lock(&kernel);
            let mut found = Vec::new();
            for key in &services {
                match ipvs.service(key) {
                    Ok(entry) => found.push(entry),
                    Err(IpvsError::Kernel { errno, .. }) if errno == libc::ESRCH => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(found)
        })
        .await
        .unwrap_or_else(|e| Err(lost(e)))
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<(), IpvsError> {
        let kernel = Arc::clone(&self.kernel);
        tokio::task::spawn_blocking(move || lock(&kernel).apply(&changes))
            .await
            .unwrap_or_else(|e| Err(lost(e)))
    }

    /// autoreload and callback: look at the file; when its content changed, tell the core.
    async fn watch_file(&mut self) {
        let now = mtime(&self.path).await;
        if now == self.mtime {
            return;
        }
        self.mtime = now;
        let content = tokio::fs::read(&self.path).await.ok();
        if content == self.seen {
            return;
        }
        self.seen = content;
        self.step(Event::FileChanged).await;
    }

    async fn stop(&mut self) {
        self.step(Event::Stop).await;
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
#[allow(clippy::disallowed_types)] // these tests time real I/O on the wall clock
mod tests {
    use super::*;
    use crate::config::{Services, StaticResolver};

    fn sa(s: &str) -> std::net::SocketAddr {
        s.parse().unwrap()
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
        fn port_name(&self, _: u16, _: &str) -> Option<String> {
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
