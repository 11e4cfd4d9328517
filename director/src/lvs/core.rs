//! One ldirectord configuration file at work, the decisions (pure): `Core::step(event, now)
//! -> Vec<Effect>`, as failover's `Fsm::step`. `daemon::lvs` is the loop that feeds it
//! health transitions, table dumps, apply results, ticks, reloads and stop, and carries out
//! what it returns: dump or program the kernel table, log, mail, run the fallbackcommand /
//! callback / `execute=` commands, write monitorfile lines, publish the status.
//!
//! A pass over the kernel table is a conversation: [`Effect::Dump`] is answered with
//! [`Event::Dumped`], [`Effect::Apply`] with [`Event::Applied`], [`Effect::Load`] with
//! [`Event::Loaded`]; the loop carries out the effects of an answer before the ones that
//! followed the question, so a reload's table changes come before its callback. One pass at a
//! time: the loop feeds no other event while a question is open.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use healthcheck::runner::{CheckResult, Event as HealthEvent};
use healthcheck::spec::CheckSpec;
use healthcheck::tracker::Transition;
use tokio::time::Instant;
use tracing::Level;

use super::alert::{self, Alerts, DaemonStatus, Mail};
use super::engine::{self, About, CheckId, Health};
use super::execute::{self, Job};
use super::mapping::{self, CheckIds, Mapped, RealKey};
use super::monitor::{self, Monitor};
use super::operator::{Admin, Drain, Record, Target};
use super::reconcile::{Next, Outcome, Pass, Reconciler};
use super::status::{stall_after, LvsStatus, Progress};
use crate::config::ldirectord::{service_key, Config, Globals, VirtualAddress};
use crate::config::{Diagnostic, Diagnostics};
use crate::ipvs::{Change, Dest, IpvsError, ServiceEntry, ServiceKey, Table};
use crate::status::{RealStatus, VirtualStatus};

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

/// A file as read by the loop.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Problems that did not stop it from loading.
    pub warnings: Vec<Diagnostic>,
    /// Its `execute=` names, without one naming this very file.
    pub children: Vec<String>,
}

/// What happens to a `Core`.
#[derive(Debug)]
pub enum Event {
    /// Health transitions from the checks, in order.
    Health(Vec<HealthEvent<RealKey>>),
    /// A check result (monitorfile lines); `ctime` is the wall clock in ctime(3) form.
    Checked {
        result: CheckResult<RealKey>,
        ctime: String,
    },
    /// The answer to [`Effect::Dump`].
    Dumped(Result<Table, IpvsError>),
    /// The answer to [`Effect::Apply`].
    Applied(Result<(), IpvsError>),
    /// A checkinterval tick: repair hand edits, send reminders. `started` checks have started
    /// so far out of `checks` configured.
    Tick { started: u64, checks: usize },
    /// A reload is asked for.
    Reload(ReloadCause),
    /// The answer to [`Effect::Load`].
    Loaded {
        cause: ReloadCause,
        result: Result<Box<Loaded>, Diagnostics>,
    },
    /// The file's content changed on disk (autoreload / callback).
    FileChanged,
    /// Stop: remove the services whose cleanstop is yes.
    Stop,
    /// What the operator asks of real servers from now on (`director real ...`).
    Operator(Record),
    /// The answer to [`Effect::Count`]: the services as the kernel has them now.
    Counted(Result<Vec<ServiceEntry>, IpvsError>),
    /// `director.conf`'s `[drain]` from now on (a reload): how long a real server a reload
    /// removes is drained (`None`: deleted at once).
    DrainOnRemoval(Option<Duration>),
}

/// What the loop carries out.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Dump the kernel table; answer with [`Event::Dumped`].
    Dump,
    /// Read these services with their connection counts (real servers draining); answer
    /// with [`Event::Counted`].
    Count(Vec<ServiceKey>),
    /// Apply these changes in order; answer with [`Event::Applied`].
    Apply(Vec<Change>),
    /// Read the file again; answer with [`Event::Loaded`].
    Load(ReloadCause),
    /// Log a line (`reason`: why a real server went down, as a field; `about`: the service
    /// and real server it is about, logged in a `vs` / `rs` span).
    Log {
        level: Level,
        text: String,
        reason: Option<String>,
        about: Option<About>,
    },
    /// Send an alert mail.
    Mail(Mail),
    /// Run `fallbackcommand`, `quorum_up` or `quorum_down` of this virtual (its own lane, so
    /// they run in order).
    Fallback {
        address: VirtualAddress,
        line: String,
    },
    /// Run the `callback` command.
    Callback(String),
    /// Run `ldirectord NAME COMMAND` for an `execute=` child.
    Execute(Job),
    /// Append a line to a monitorfile.
    Monitor { path: PathBuf, line: String },
    /// The health checks to run from now on.
    Checks(Vec<(RealKey, CheckSpec)>),
    /// Whether every check result is wanted ([`Event::Checked`]: some virtual has a
    /// monitorfile).
    Results(bool),
    /// The `maintenancedir` from now on.
    MaintenanceDir(Option<PathBuf>),
    /// The file's `logfile=` / `supervised=` changed: where the process logs from now on.
    LogTarget(Box<Globals>),
    /// The status changed (the loop adds the check lag numbers).
    Publish(LvsStatus),
    /// The loop's sign of life.
    Progress(Progress),
    /// The reload asked for with [`Event::Reload`] is over.
    Reloaded(Result<(), String>),
}

fn log(level: Level, text: impl Into<String>) -> Effect {
    Effect::Log {
        level,
        text: text.into(),
        reason: None,
        about: None,
    }
}

/// Settings of a `Core` beyond its file.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// The file as named in log lines.
    pub file: String,
    /// The host name alert mails carry.
    pub mail_host: String,
    /// The process id monitorfile lines carry.
    pub pid: u32,
    /// This file's `logfile=` / `supervised=` is where the process logs.
    pub logs_here: bool,
    /// What the operator asked of real servers when the core starts (the daemon's state
    /// file): a drained real stays drained across a restart.
    pub operator: Record,
    /// `director.conf` `[drain] on_removal`: a real server a reload removes from a virtual
    /// service that stays is drained for at most this long instead of deleted at once.
    pub drain_on_removal: Option<Duration>,
}

/// A real server a reload removed from its virtual service, draining
/// ([`CoreOptions::drain_on_removal`]).
#[derive(Debug, Clone)]
struct Leaving {
    target: Target,
    key: ServiceKey,
    /// As configured before the reload (the table decision's pseudo real).
    dest: Dest,
    drain: Drain,
}

/// The check ids of removed real servers in the reconciler's virtuals: from the top, never
/// those of the file's checks.
fn leaving_check(i: usize) -> CheckId {
    usize::MAX - i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    Stop,
}

/// What follows the pass in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Start,
    Health,
    Repair {
        started: Instant,
        count: u64,
        checks: usize,
    },
    Reload,
    Stop,
}

/// How much of the daemon's time the repair of hand edits may take: a pass that dumped the
/// table in `d` is followed by the next one no sooner than `d * REPAIR_SPACING`.
const REPAIR_SPACING: u32 = 50;

/// When the next repair pass may run, given when the last one started and how long it took.
/// A small table is repaired at every checkinterval; a big one (IPVS has no all-destinations
/// dump: one dump per service) less often, so that repair never takes more than
/// 1/[`REPAIR_SPACING`] of the time.
fn next_repair(started: Instant, took: Duration) -> Instant {
    started + took.saturating_mul(REPAIR_SPACING)
}

/// How many removed services a reload warning names before it only counts the rest.
const NAMED_REMOVALS: usize = 10;

/// One file's ldirectord behaviour.
#[derive(Debug)]
pub struct Core {
    options: CoreOptions,
    config: Config,
    children: Vec<String>,
    mapped: Mapped,
    ids: CheckIds,
    check_of: HashMap<RealKey, CheckId>,
    reconciler: Reconciler,
    /// The monitorfile of each real that has one.
    monitors: HashMap<RealKey, Monitor>,
    results: bool,
    /// E-mail alert reminders, each virtual's alert settings, the daemon's state for them.
    alerts: Alerts,
    alert_settings: HashMap<ServiceKey, alert::Settings>,
    daemon_status: DaemonStatus,
    /// Why each real's last check failed.
    reasons: HashMap<RealKey, String>,
    /// The last fallbackcommand run per virtual.
    fallback_edge: HashMap<VirtualAddress, Edge>,
    status: LvsStatus,
    progress: Progress,
    /// The next checkinterval tick that repairs hand edits (dumps the kernel table) must come
    /// at or after this ([`next_repair`]).
    repair_due: Instant,
    /// What follows the pass in flight.
    then: Option<Then>,
    /// What the operator asks (`director real ...`).
    operator: Record,
    /// The drains of the real servers of this file.
    drains: HashMap<Target, Drain>,
    /// The tick waiting for the connection counts of the draining real servers.
    counting: Option<Then>,
    /// Real servers removed by a reload, draining.
    leaving: Vec<Leaving>,
}

impl Core {
    /// Start with `loaded`: map it, start its checks and reconcile the table once (the kernel
    /// table is adopted as found: a real is added when its first check passes, a real already
    /// in the table stays until its first check fails); the `execute=` children start once the
    /// table is programmed.
    pub fn start(options: CoreOptions, loaded: Loaded, now: Instant) -> (Core, Vec<Effect>) {
        let mut core = Core {
            status: LvsStatus {
                file: options.file.clone(),
                ..Default::default()
            },
            options,
            progress: Progress {
                at: now,
                stall_after: stall_after(&loaded.config),
                started: 0,
            },
            config: Config::default(),
            children: Vec::new(),
            mapped: Mapped {
                virtuals: Vec::new(),
                extras: Vec::new(),
                warnings: Vec::new(),
            },
            ids: CheckIds::default(),
            check_of: HashMap::new(),
            reconciler: Reconciler::default(),
            monitors: HashMap::new(),
            results: false,
            alerts: Alerts::default(),
            alert_settings: HashMap::new(),
            daemon_status: DaemonStatus::Starting,
            reasons: HashMap::new(),
            fallback_edge: HashMap::new(),
            repair_due: now,
            then: None,
            operator: Record::default(),
            drains: HashMap::new(),
            counting: None,
            leaving: Vec::new(),
        };
        core.operator = std::mem::take(&mut core.options.operator);
        let mut out: Vec<Effect> = loaded
            .warnings
            .iter()
            .map(|w| log(Level::WARN, w.to_string()))
            .collect();
        let mapped = mapping::map(&loaded.config, &core.options.file, &mut core.ids);
        out.extend(
            mapped
                .warnings
                .iter()
                .map(|w| log(Level::WARN, w.to_string())),
        );
        core.config = loaded.config;
        core.children = loaded.children;
        core.install(mapped, &mut out);
        core.admin(now);
        core.begin(Pass::Full, Then::Start, now, &mut out);
        (core, out)
    }

    /// The configured checkinterval (the loop's tick).
    pub fn checkinterval(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.globals.checkinterval.max(1)))
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The loop's sign of life as of the last tick.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The daemon's state as alert mails say it.
    pub fn daemon_status(&self) -> DaemonStatus {
        self.daemon_status
    }

    /// The health of a real server of a virtual, as the core holds it.
    pub fn health(&self, key: &RealKey) -> Health {
        self.check_of
            .get(key)
            .map_or(Health::Unknown, |id| self.reconciler.health(*id))
    }

    /// The table as last seen.
    pub fn table(&self) -> &Table {
        self.reconciler.table()
    }

    /// The table the configuration and the checks ask for, given the table as last seen.
    pub fn planned(&self) -> Vec<Change> {
        self.reconciler.plan_against(self.reconciler.table())
    }

    /// Whether a pass waits for a dump or apply result, or a tick for connection counts.
    pub fn busy(&self) -> bool {
        self.then.is_some() || self.counting.is_some()
    }

    /// One event at `now`: the effects to carry out, in order.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::Health(events) => {
                for ev in events {
                    self.observe(ev, &mut out);
                }
                self.begin(Pass::Cached, Then::Health, now, &mut out);
            }
            Event::Checked { result, ctime } => self.monitor(&result, &ctime, &mut out),
            Event::Dumped(dump) => {
                if let Some(next) = self.reconciler.dumped(dump) {
                    self.next(next, now, &mut out);
                }
            }
            Event::Applied(result) => {
                if let Some(next) = self.reconciler.applied(result) {
                    self.next(next, now, &mut out);
                }
            }
            Event::Tick { started, checks } => {
                // ldirectord: a pass, then the reminders; its first pass belongs to
                // "starting" (or "reloading"), bounded here by one checkinterval.
                let then = Then::Repair {
                    started: now,
                    count: started,
                    checks,
                };
                let draining = self.draining_services();
                if draining.is_empty() {
                    self.tick(then, false, now, &mut out);
                } else {
                    self.counting = Some(then);
                    out.push(Effect::Count(draining));
                }
            }
            Event::Counted(result) => {
                if let Some(then) = self.counting.take() {
                    let ended = self.counted(result, now, &mut out);
                    self.tick(then, ended, now, &mut out);
                }
            }
            Event::Operator(record) => {
                self.operator = record;
                if self.admin(now) {
                    self.begin(Pass::Cached, Then::Health, now, &mut out);
                } else {
                    out.push(self.publish());
                }
            }
            Event::DrainOnRemoval(drain) => self.options.drain_on_removal = drain,
            Event::Reload(cause) => {
                match cause {
                    ReloadCause::Signal => out.push(log(
                        Level::INFO,
                        "Reloading Linux Director Daemon config on signal",
                    )),
                    ReloadCause::Request => out.push(log(
                        Level::INFO,
                        "Reloading Linux Director Daemon config on request",
                    )),
                    ReloadCause::FileChanged => {}
                }
                out.push(Effect::Load(cause));
            }
            Event::Loaded { result, .. } => self.reload(result, now, &mut out),
            Event::FileChanged => {
                out.push(log(
                    Level::INFO,
                    format!(
                        "Configuration file '{}' has changed on disk",
                        self.options.file
                    ),
                ));
                if self.config.globals.autoreload {
                    out.push(log(Level::INFO, " - reread new configuration"));
                    out.push(Effect::Load(ReloadCause::FileChanged));
                } else {
                    out.push(log(Level::INFO, " - ignore new configuration"));
                }
                if let Some(cb) = &self.config.globals.callback {
                    out.push(Effect::Callback(format!("{cb} {}", self.options.file)));
                }
            }
            Event::Stop => {
                self.daemon_status = DaemonStatus::Stopping;
                out.extend(
                    execute::stop(&self.children)
                        .into_iter()
                        .map(Effect::Execute),
                );
                out.push(Effect::Checks(Vec::new()));
                let purge: BTreeSet<ServiceKey> = self
                    .mapped
                    .extras
                    .iter()
                    .filter(|x| x.cleanstop)
                    .map(|x| service_key(&x.address))
                    .collect();
                self.begin(Pass::Stop(purge), Then::Stop, now, &mut out);
            }
        }
        out
    }

    /// A checkinterval tick, once the drains are counted (`ended`: one is over): a full pass
    /// when a repair is due, a pass on the cached table when a drained real is to go.
    fn tick(&mut self, then: Then, ended: bool, now: Instant, out: &mut Vec<Effect>) {
        if now >= self.repair_due {
            self.begin(Pass::Full, then, now, out);
        } else if ended {
            self.begin(Pass::Cached, then, now, out);
        } else {
            self.after(then, now, out);
        }
    }

    fn begin(&mut self, pass: Pass, then: Then, now: Instant, out: &mut Vec<Effect>) {
        self.then = Some(then);
        if !matches!(pass, Pass::Stop(_)) {
            self.quorum_decisions(out);
        }
        let next = self.reconciler.begin(pass);
        self.next(next, now, out);
    }

    fn next(&mut self, next: Next, now: Instant, out: &mut Vec<Effect>) {
        match next {
            Next::Dump { stale } => {
                if let Some(why) = stale {
                    out.push(log(Level::DEBUG, why));
                }
                out.push(Effect::Dump);
            }
            Next::Apply(changes) => out.push(Effect::Apply(changes)),
            Next::Done(result) => {
                let then = self.then.take().unwrap_or(Then::Health);
                if then == Then::Stop {
                    match result {
                        Ok(outcome) => self.report(&outcome, now, out),
                        Err(e) => out.push(log(
                            Level::ERROR,
                            format!("cannot read the IPVS table at stop: {e}"),
                        )),
                    }
                    return;
                }
                match result {
                    Ok(outcome) => self.report(&outcome, now, out),
                    Err(e) => {
                        self.status.ipvs_errors += 1;
                        out.push(log(
                            Level::ERROR,
                            format!("cannot read the IPVS table: {e}"),
                        ));
                    }
                }
                self.fallback_commands(out);
                out.push(self.publish());
                self.after(then, now, out);
            }
        }
    }

    /// What follows a pass (or a tick without one).
    fn after(&mut self, then: Then, now: Instant, out: &mut Vec<Effect>) {
        match then {
            Then::Start => {
                out.extend(
                    execute::start(&self.children)
                        .into_iter()
                        .map(Effect::Execute),
                );
            }
            Then::Health => {
                if self.daemon_status != DaemonStatus::Running && self.all_checked() {
                    self.daemon_status = DaemonStatus::Running;
                }
            }
            Then::Repair {
                started,
                count,
                checks,
            } => {
                if self.repair_due <= started {
                    self.repair_due = next_repair(started, now.saturating_duration_since(started));
                }
                self.daemon_status = DaemonStatus::Running;
                let mails = self
                    .alerts
                    .resend(now, self.daemon_status, &self.options.mail_host);
                for m in mails {
                    self.send(m, out);
                }
                self.progress = Progress {
                    stall_after: stall_after(&self.config),
                    ..self.progress.round(started, count, checks)
                };
                out.push(Effect::Progress(self.progress));
            }
            Then::Reload => {
                if self.all_checked() {
                    self.daemon_status = DaemonStatus::Running;
                }
                out.push(Effect::Reloaded(Ok(())));
            }
            Then::Stop => {}
        }
    }

    fn observe(&mut self, ev: HealthEvent<RealKey>, out: &mut Vec<Effect>) {
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
                out.push(Effect::Log {
                    level: Level::INFO,
                    text: format!("real server {} is down", ev.key),
                    reason: Some(ev.reason.clone()),
                    about: Some(About {
                        vs: ev.key.virtual_address.to_string(),
                        rs: Some(ev.key.real_name()),
                    }),
                });
                self.reasons.insert(ev.key, ev.reason);
                Health::Down
            }
        };
        self.reconciler.set_health(check, health);
    }

    /// Whether every real with a check has had a verdict.
    fn all_checked(&self) -> bool {
        self.mapped
            .extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .all(|r| self.reconciler.health(r.check) != Health::Unknown)
    }

    /// A check result goes to the monitorfile of every virtual of the real that has one.
    fn monitor(&self, res: &CheckResult<RealKey>, ctime: &str, out: &mut Vec<Effect>) {
        for key in &res.keys {
            if let Some(m) = self.monitors.get(key) {
                let line = monitor::line(
                    ctime,
                    self.options.pid,
                    &m.id,
                    res.outcome.is_success(),
                    res.outcome.message(),
                );
                out.push(Effect::Monitor {
                    path: m.path.clone(),
                    line,
                });
            }
        }
    }

    fn send(&self, mail: Mail, out: &mut Vec<Effect>) {
        out.push(log(
            Level::INFO,
            format!("emailalert: {}", mail.log_subject),
        ));
        out.push(Effect::Mail(mail));
    }

    fn report(&mut self, outcome: &Outcome, now: Instant, out: &mut Vec<Effect>) {
        out.extend(outcome.applied.iter().map(|a| Effect::Log {
            level: Level::INFO,
            text: a.text.clone(),
            reason: None,
            about: Some(a.about.clone()),
        }));
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
                &self.options.mail_host,
            ) {
                self.send(mail, out);
            }
        }
        self.status.ipvs_changes += outcome.applied.len() as u64;
        if let Some(e) = &outcome.error {
            self.status.ipvs_errors += 1;
            out.push(log(Level::ERROR, format!("IPVS refused a change: {e}")));
        }
    }

    /// The status as it stands.
    fn publish(&mut self) -> Effect {
        let table = self.reconciler.table();
        let mut virtuals = Vec::new();
        let mut names = crate::traffic::Names::default();
        for (spec, x) in self.mapped.virtuals.iter().zip(&self.mapped.extras) {
            let key = spec.service.key;
            let virtual_name = x.address.to_string();
            names.service(key, virtual_name.clone());
            // What the operator asked of this virtual's reals (most have nothing asked).
            let asked: HashMap<&str, Admin> = self
                .operator
                .iter()
                .filter(|(t, _)| t.virtual_name == virtual_name)
                .map(|(t, a)| (t.real.as_str(), *a))
                .collect();
            let dests = table.services.get(&key).map(|c| &c.dests);
            let fallback_active = spec.fallback.as_ref().is_some_and(|f| {
                dests.is_some_and(|d| d.contains_key(&engine::kernel_dest(&key, f).key()))
            });
            let reals = x
                .reals
                .iter()
                .zip(&spec.reals)
                .map(|(r, rs)| {
                    let health = match self.reconciler.health(r.check) {
                        Health::Up => "up",
                        Health::Down => "down",
                        Health::Unknown => "unknown",
                    };
                    let kernel = engine::kernel_dest(&key, &rs.dest).key();
                    let weight = dests.and_then(|d| d.get(&kernel)).map(|d| d.weight);
                    let address = mapping::real_name(r.key.real.ip(), r.key.real.port());
                    names.real(key, kernel, address.clone());
                    let operator = asked.get(address.as_str()).map(|a| match a {
                        Admin::Drain { .. } => self
                            .drains
                            .get(&Target {
                                virtual_name: virtual_name.clone(),
                                real: address.clone(),
                            })
                            .map_or_else(|| "draining".to_string(), Drain::words),
                        Admin::Disable => "disabled".to_string(),
                        Admin::Weight { weight } => format!("weight {weight}"),
                    });
                    RealStatus {
                        address,
                        health: health.to_string(),
                        weight,
                        reason: self.reasons.get(&r.key).cloned(),
                        operator,
                    }
                })
                .collect();
            let mut reals: Vec<RealStatus> = reals;
            for l in self
                .leaving
                .iter()
                .filter(|l| l.key == key && !l.drain.done)
            {
                let kernel = engine::kernel_dest(&key, &l.dest).key();
                reals.push(RealStatus {
                    address: l.target.real.clone(),
                    health: "removed".to_string(),
                    weight: dests.and_then(|d| d.get(&kernel)).map(|d| d.weight),
                    reason: None,
                    operator: Some(format!("{} (removed from the file)", l.drain.words())),
                });
            }
            let quorum = spec.quorum.map(|q| {
                let (weight, _) = engine::up_weight(spec, &|id| self.reconciler.health(id));
                let state = match self.reconciler.quorum(&key) {
                    Some(true) => "up",
                    Some(false) => "down",
                    None => "undecided",
                };
                format!(
                    "{state} (weight {weight}, quorum {}, hysteresis {})",
                    q.quorum, q.hysteresis
                )
            });
            virtuals.push(VirtualStatus {
                name: virtual_name,
                scheduler: x.scheduler.clone(),
                fallback_active,
                quorum,
                reals,
            });
        }
        self.status.file = self.options.file.clone();
        // The counters are kept here; the services are built anew for each publication, so
        // they go out without a copy.
        Effect::Publish(LvsStatus {
            virtuals,
            names,
            ..self.status.clone()
        })
    }
}

mod commands;
mod drain;
mod reload;
#[cfg(test)]
mod tests;
