//! Keeps the kernel's IPVS table equal to what the configuration and the health checks ask
//! for (pure): compute the desired table (`engine::desired`), plan the difference against the
//! table as dumped, and say what changed in ldirectord's words. Never flushes; services
//! director does not manage are left alone.
//!
//! A pass is a small protocol with the kernel, driven by whoever owns the I/O:
//! [`Reconciler::begin`] says what to do first ([`Next::Dump`] or [`Next::Apply`]); the answer
//! goes back through [`Reconciler::dumped`] / [`Reconciler::applied`] until [`Next::Done`].
//! - full pass: dump, plan, apply; when the kernel refuses a change, dump again to find out
//!   which of the changes before it were applied;
//! - cached pass (health events): plan against the table as last seen, apply; a refused
//!   change means the cache was stale (a hand edit): redo it as a full pass;
//! - stop: dump, remove the services whose `cleanstop` is yes.

use std::collections::{BTreeSet, HashMap};

use super::engine::{self, CheckId, Health, Override, VirtualSpec};
use super::quorum;
use crate::ipvs::plan::plan;
use crate::ipvs::{Change, DestKey, IpvsError, ServiceKey, Table};

/// The outcome of one reconciliation.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One ldirectord-style line per applied change.
    pub applied: Vec<engine::Applied>,
    /// The alerts of the applied changes (ldirectord's `emailalert` events).
    pub alerts: Vec<engine::Alerted>,
    /// The change the kernel refused, if any (the ones before it stay applied).
    pub error: Option<IpvsError>,
    /// The table after the changes (as far as they went).
    pub table: Table,
}

/// Which pass to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Dump the kernel table first (start, reload, repair of hand edits).
    Full,
    /// Plan against the table as last seen (health events): one request for a one-real change,
    /// not one dump per service. Falls back to a full pass when nothing was seen yet, or when
    /// the kernel refuses a change because the cached table was stale.
    Cached,
    /// A reload: as [`Pass::Cached`] (a one-real change to a table of 100,000 destinations
    /// is one request, not a dump of every service), in the words of a full pass: what the
    /// file no longer names is "purged", as ldirectord says it at reload.
    Reload,
    /// Stop: remove these services (the virtuals whose cleanstop is yes) with their
    /// destinations; everything else is left as it is.
    Stop(BTreeSet<ServiceKey>),
}

/// What the owner of the kernel does next in a pass.
#[derive(Debug)]
pub enum Next {
    /// Dump the table and answer with [`Reconciler::dumped`]; `stale` says why a cached pass
    /// turned into a full one.
    Dump { stale: Option<String> },
    /// Apply these changes in order and answer with [`Reconciler::applied`].
    Apply(Vec<Change>),
    /// The pass is over (`Err`: the table could not be read).
    Done(Result<Outcome, IpvsError>),
}

/// Where the pass in flight stands.
#[derive(Debug, Default)]
enum Phase {
    #[default]
    Idle,
    Dumping {
        stop: Option<BTreeSet<ServiceKey>>,
    },
    Applying {
        actual: Table,
        changes: Vec<Change>,
        stop: bool,
    },
    Cached {
        actual: Table,
        changes: Vec<Change>,
        /// [`Pass::Reload`]'s words.
        reload: bool,
    },
    /// A change was refused: the dump that shows how far the changes went.
    Recovering {
        actual: Table,
        changes: Vec<Change>,
        error: IpvsError,
        stop: bool,
    },
}

/// Desired-state bookkeeping for the IPVS table.
#[derive(Debug, Default)]
pub struct Reconciler {
    virtuals: Vec<VirtualSpec>,
    health: HashMap<CheckId, Health>,
    /// Services removed from the configuration by a reload: deleted at the next pass.
    forget: BTreeSet<ServiceKey>,
    /// The table as last seen (after the last pass).
    last: Table,
    /// Whether `last` came from the kernel at least once.
    seen: bool,
    /// Checks whose first verdict since the last start or reload is not applied yet
    /// (`engine::desired`'s settling).
    settling: BTreeSet<CheckId>,
    /// Whether each virtual with a quorum has it (absent: undecided).
    quorum: HashMap<ServiceKey, bool>,
    /// What the operator asked of real servers, by service and configured destination.
    admin: HashMap<(ServiceKey, DestKey), Override>,
    phase: Phase,
}

impl Reconciler {
    pub fn new(virtuals: Vec<VirtualSpec>) -> Reconciler {
        Reconciler {
            virtuals,
            ..Default::default()
        }
    }

    /// The configured virtual services.
    pub fn virtuals(&self) -> &[VirtualSpec] {
        &self.virtuals
    }

    /// The table as last seen.
    pub fn table(&self) -> &Table {
        &self.last
    }

    /// Replace the configuration (reload). Health verdicts of checks that still exist are
    /// kept; services no longer configured are removed at the next pass.
    pub fn set_virtuals(&mut self, virtuals: Vec<VirtualSpec>) {
        let new: BTreeSet<ServiceKey> = virtuals.iter().map(|v| v.service.key).collect();
        for v in &self.virtuals {
            if !new.contains(&v.service.key) {
                self.forget.insert(v.service.key);
            }
        }
        for key in &new {
            self.forget.remove(key);
        }
        let checks: BTreeSet<CheckId> = virtuals
            .iter()
            .flat_map(|v| v.reals.iter().map(|r| r.check))
            .collect();
        self.health.retain(|id, _| checks.contains(id));
        // ldirectord rebuilds every real's state at a start or reload: every check settles
        // again.
        self.settling = checks;
        // keepalived copies the quorum state of an unchanged service across a reload.
        let old = std::mem::take(&mut self.quorum);
        for v in &virtuals {
            let same = self
                .virtuals
                .iter()
                .any(|o| o.service.key == v.service.key && o.quorum == v.quorum);
            if let (true, Some(_), Some(state)) = (same, v.quorum, old.get(&v.service.key)) {
                self.quorum.insert(v.service.key, *state);
            }
        }
        self.virtuals = virtuals;
    }

    /// Decide the quorum of every virtual that has one from the verdicts as they stand; the
    /// decisions that changed, with the virtual's index.
    pub fn update_quorum(&mut self) -> Vec<(usize, quorum::Decision)> {
        let mut out = Vec::new();
        for (i, v) in self.virtuals.iter().enumerate() {
            let Some(q) = v.quorum else {
                continue;
            };
            let key = v.service.key;
            let (weight, all_known) = engine::up_weight(v, &|id| {
                self.health.get(&id).copied().unwrap_or(Health::Unknown)
            });
            let before = self.quorum.get(&key).copied();
            let Some(now) = quorum::step(q, before, weight, all_known) else {
                continue;
            };
            if before != Some(now) {
                self.quorum.insert(key, now);
                out.push((
                    i,
                    quorum::Decision {
                        up: now,
                        first: before.is_none(),
                        weight,
                    },
                ));
            }
        }
        out
    }

    /// Whether a virtual with a quorum has it (`None`: undecided, or no quorum).
    pub fn quorum(&self, key: &ServiceKey) -> Option<bool> {
        self.quorum.get(key).copied()
    }

    /// Record a verdict; true when it changed anything.
    pub fn set_health(&mut self, check: CheckId, health: Health) -> bool {
        self.health.insert(check, health) != Some(health)
    }

    /// What the operator asks from now on (`engine::desired`'s `admin`); true when it
    /// changed anything.
    pub fn set_admin(&mut self, admin: HashMap<(ServiceKey, DestKey), Override>) -> bool {
        let changed = admin != self.admin;
        self.admin = admin;
        changed
    }

    /// The verdict of a check.
    pub fn health(&self, check: CheckId) -> Health {
        self.health.get(&check).copied().unwrap_or(Health::Unknown)
    }

    /// The changes one pass would make against `actual`.
    pub fn plan_against(&self, actual: &Table) -> Vec<Change> {
        let health = |id: CheckId| self.health(id);
        let settling = |id: CheckId| self.settling.contains(&id);
        let quorum = |key: &ServiceKey| self.quorum(key);
        let admin = |key: &ServiceKey, dest: &DestKey| self.admin.get(&(*key, *dest)).copied();
        let desired = engine::desired(
            &self.virtuals,
            &health,
            &settling,
            &quorum,
            &admin,
            actual,
            &self.forget,
        );
        engine::consistent_order(plan(&desired, actual), &self.virtuals)
    }

    /// Start a pass (a pass still in flight is dropped).
    pub fn begin(&mut self, pass: Pass) -> Next {
        match pass {
            Pass::Full => self.dump(None, None),
            Pass::Stop(purge) => self.dump(Some(purge), None),
            Pass::Cached | Pass::Reload if !self.seen => self.dump(None, None),
            Pass::Cached | Pass::Reload => {
                let reload = pass == Pass::Reload;
                let actual = self.last.clone();
                let changes = self.plan_against(&actual);
                if changes.is_empty() {
                    self.settled();
                    self.phase = Phase::Idle;
                    return Next::Done(Ok(Outcome {
                        table: actual,
                        ..Outcome::default()
                    }));
                }
                self.phase = Phase::Cached {
                    actual,
                    changes: changes.clone(),
                    reload,
                };
                Next::Apply(changes)
            }
        }
    }

    fn dump(&mut self, stop: Option<BTreeSet<ServiceKey>>, stale: Option<String>) -> Next {
        self.phase = Phase::Dumping { stop };
        Next::Dump { stale }
    }

    /// The answer to [`Next::Dump`]; `None` when no pass waits for one.
    pub fn dumped(&mut self, dump: Result<Table, IpvsError>) -> Option<Next> {
        match std::mem::take(&mut self.phase) {
            Phase::Dumping { stop } => {
                let actual = match dump {
                    Ok(t) => t,
                    Err(e) => return Some(Next::Done(Err(e))),
                };
                let changes: Vec<Change> = match &stop {
                    Some(purge) => actual
                        .services
                        .keys()
                        .filter(|k| purge.contains(k))
                        .map(|k| Change::DelService(*k))
                        .collect(),
                    None => self.plan_against(&actual),
                };
                let stop = stop.is_some();
                if changes.is_empty() {
                    return Some(Next::Done(Ok(self.finish(actual, Vec::new(), None, stop))));
                }
                self.phase = Phase::Applying {
                    actual,
                    changes: changes.clone(),
                    stop,
                };
                Some(Next::Apply(changes))
            }
            Phase::Recovering {
                actual,
                changes,
                error,
                stop,
            } => {
                // The changes before the refused one were applied: the kernel says which.
                let table = dump.unwrap_or_else(|_| actual.clone());
                let mut outcome = self.outcome_in(&actual, table, &changes, true);
                outcome.error = Some(error);
                Some(Next::Done(Ok(
                    self.finish_outcome(&actual, &changes, outcome, stop)
                )))
            }
            other => {
                self.phase = other;
                None
            }
        }
    }

    /// The answer to [`Next::Apply`]; `None` when no pass waits for one.
    pub fn applied(&mut self, result: Result<(), IpvsError>) -> Option<Next> {
        match std::mem::take(&mut self.phase) {
            Phase::Applying {
                actual,
                changes,
                stop,
            } => match result {
                Ok(()) => Some(Next::Done(Ok(self.finish(actual, changes, None, stop)))),
                Err(error) => {
                    self.phase = Phase::Recovering {
                        actual,
                        changes,
                        error,
                        stop,
                    };
                    Some(Next::Dump { stale: None })
                }
            },
            Phase::Cached {
                actual,
                changes,
                reload,
            } => match result {
                Ok(()) => {
                    let fallbacks = engine::fallback_keys(&self.virtuals);
                    let mut table = actual;
                    let mut applied = Vec::new();
                    let mut alerts = Vec::new();
                    for c in &changes {
                        applied.push(engine::Applied {
                            text: if reload {
                                engine::describe_in(c, &self.virtuals)
                            } else {
                                engine::describe(c, &fallbacks)
                            },
                            about: engine::about(c),
                        });
                        alerts.extend(engine::alert_of(c, &self.virtuals));
                        let _ = crate::ipvs::plan::apply_to(&mut table, c);
                    }
                    self.forget.clear();
                    self.settled();
                    self.last = table.clone();
                    Some(Next::Done(Ok(Outcome {
                        applied,
                        alerts,
                        error: None,
                        table,
                    })))
                }
                Err(e) => Some(self.dump(
                    None,
                    Some(format!(
                        "cached IPVS table was stale ({e}): reading the kernel's"
                    )),
                )),
            },
            other => {
                self.phase = other;
                None
            }
        }
    }

    /// Every change applied (`error` is `None`) or none to apply.
    fn finish(
        &mut self,
        actual: Table,
        changes: Vec<Change>,
        error: Option<IpvsError>,
        stop: bool,
    ) -> Outcome {
        let mut table = actual.clone();
        for c in &changes {
            let _ = crate::ipvs::plan::apply_to(&mut table, c);
        }
        let mut outcome = self.outcome_in(&actual, table, &changes, false);
        outcome.error = error;
        if !stop {
            self.forget.clear();
            self.settled();
        }
        self.finish_outcome(&actual, &changes, outcome, stop)
    }

    /// The lines and alerts of the `changes` that went through, `table` the result.
    /// `check`: only those whose effect shows in `table` (some were refused).
    fn outcome_in(
        &mut self,
        actual: &Table,
        table: Table,
        changes: &[Change],
        check: bool,
    ) -> Outcome {
        let mut applied = Vec::new();
        let mut alerts = Vec::new();
        for c in changes {
            let went = !check || {
                let mut probe = actual.clone();
                crate::ipvs::plan::apply_to(&mut probe, c).is_ok() && change_visible(&table, c)
            };
            if went {
                applied.push(engine::Applied {
                    text: engine::describe_in(c, &self.virtuals),
                    about: engine::about(c),
                });
                alerts.extend(engine::alert_of(c, &self.virtuals));
            }
        }
        self.last = table.clone();
        self.seen = true;
        Outcome {
            applied,
            alerts,
            error: None,
            table,
        }
    }

    /// A stop pass says what it purged in ldirectord's stop words.
    fn finish_outcome(
        &self,
        actual: &Table,
        changes: &[Change],
        mut outcome: Outcome,
        stop: bool,
    ) -> Outcome {
        if !stop {
            return outcome;
        }
        let done: Vec<&Change> = changes
            .iter()
            .filter(|c| change_visible(&outcome.table, c))
            .collect();
        outcome.applied = done
            .iter()
            .flat_map(|c| match c {
                Change::DelService(k) => {
                    let config = actual.services.get(k);
                    engine::describe_stop(k, config)
                        .into_iter()
                        .zip(engine::about_stop(k, config))
                        .map(|(text, about)| engine::Applied { text, about })
                        .collect()
                }
                other => vec![engine::Applied {
                    text: engine::describe_in(other, &self.virtuals),
                    about: engine::about(other),
                }],
            })
            .collect();
        outcome.alerts = done
            .iter()
            .flat_map(|c| match c {
                Change::DelService(k) => engine::alerts_stop(k, actual.services.get(k)),
                other => engine::alert_of(other, &self.virtuals)
                    .into_iter()
                    .collect(),
            })
            .collect();
        outcome
    }

    /// The checks with a verdict have settled (their start/reload state is applied).
    fn settled(&mut self) {
        let health = &self.health;
        self.settling
            .retain(|id| health.get(id).is_none_or(|h| *h == Health::Unknown));
    }
}

/// Whether the effect of `change` can be seen in `table`.
fn change_visible(table: &Table, change: &Change) -> bool {
    match change {
        Change::AddService(s) | Change::EditService(s) => {
            table.services.get(&s.key).is_some_and(|c| c.service == *s)
        }
        Change::DelService(k) => !table.services.contains_key(k),
        Change::AddDest(k, d) | Change::EditDest(k, d) => table
            .services
            .get(k)
            .and_then(|c| c.dests.get(&d.key()))
            .is_some_and(|have| have == d),
        Change::DelDest(k, dk) => table
            .services
            .get(k)
            .is_some_and(|c| !c.dests.contains_key(dk)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::memory::MemoryIpvs;
    use crate::ipvs::{
        Dest, Info, Ipvs, Protocol, Service, ServiceEntry, Snapshot, SyncDaemon, SyncState,
        Timeouts,
    };
    use crate::lvs::engine::RealSpec;

    /// Carry out a pass against `ipvs`, as the daemon's loop does.
    fn run(r: &mut Reconciler, ipvs: &mut dyn Ipvs, pass: Pass) -> Result<Outcome, IpvsError> {
        let mut next = r.begin(pass);
        loop {
            next = match next {
                Next::Dump { .. } => r.dumped(ipvs.dump().map(|s| s.table())),
                Next::Apply(changes) => r.applied(ipvs.apply(&changes)),
                Next::Done(outcome) => return outcome,
            }
            .expect("the pass waits for this answer");
        }
    }

    /// MemoryIpvs that counts dumps.
    struct Counting {
        inner: MemoryIpvs,
        dumps: usize,
    }

    impl Ipvs for Counting {
        fn info(&mut self) -> Result<Info, IpvsError> {
            self.inner.info()
        }
        fn dump(&mut self) -> Result<Snapshot, IpvsError> {
            self.dumps += 1;
            self.inner.dump()
        }
        fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError> {
            self.inner.service(key)
        }
        fn apply(&mut self, changes: &[Change]) -> Result<(), IpvsError> {
            self.inner.apply(changes)
        }
        fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
            self.inner.zero(key)
        }
        fn flush(&mut self) -> Result<(), IpvsError> {
            self.inner.flush()
        }
        fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
            self.inner.timeouts()
        }
        fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
            self.inner.set_timeouts(t)
        }
        fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
            self.inner.daemons()
        }
        fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
            self.inner.start_daemon(d)
        }
        fn stop_daemon(&mut self, s: SyncState) -> Result<(), IpvsError> {
            self.inner.stop_daemon(s)
        }
    }

    fn spec() -> VirtualSpec {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.132".parse().unwrap(),
            port: 80,
        };
        VirtualSpec {
            service: Service::new(key),
            reals: (0..3)
                .map(|i| RealSpec {
                    dest: Dest::new(format!("198.51.100.{}", i + 1).parse().unwrap(), 80),
                    check: i,
                })
                .collect(),
            fallback: None,
            quiescent: false,
            readdquiescent: false,
            quorum: None,
        }
    }

    #[test]
    fn health_events_apply_from_the_cache_without_dumping() {
        let mut k = Counting {
            inner: MemoryIpvs::new(),
            dumps: 0,
        };
        let mut r = Reconciler::new(vec![spec()]);
        for i in 0..3 {
            r.set_health(i, Health::Up);
        }
        // nothing seen yet: the first pass reads the kernel
        let first = run(&mut r, &mut k, Pass::Cached).unwrap();
        assert_eq!(first.applied.len(), 4);
        assert_eq!(k.dumps, 1);
        r.set_health(1, Health::Down);
        let out = run(&mut r, &mut k, Pass::Cached).unwrap();
        assert_eq!(k.dumps, 1, "a health event must not dump the table");
        assert_eq!(
            out.applied,
            vec![engine::Applied {
                text: "Deleted real server: 198.51.100.2:80 (192.0.2.132:80)".to_string(),
                about: engine::About {
                    vs: "tcp:192.0.2.132:80".into(),
                    rs: Some("198.51.100.2:80".into())
                }
            }]
        );
        assert_eq!(k.inner.dump().unwrap().table(), out.table);
    }

    #[test]
    fn a_stale_cache_falls_back_to_the_kernel_table() {
        let mut k = Counting {
            inner: MemoryIpvs::new(),
            dumps: 0,
        };
        let mut r = Reconciler::new(vec![spec()]);
        for i in 0..3 {
            r.set_health(i, Health::Up);
        }
        run(&mut r, &mut k, Pass::Full).unwrap();
        // someone deletes real 2 by hand; then its check fails
        let key = r.virtuals()[0].service.key;
        let dk = r.virtuals()[0].reals[1].dest.key();
        k.inner.apply(&[Change::DelDest(key, dk)]).unwrap();
        r.set_health(1, Health::Down);
        r.set_health(2, Health::Down);
        let out = run(&mut r, &mut k, Pass::Cached).unwrap();
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(k.dumps, 2, "the refused cached plan is redone from a dump");
        let left: Vec<_> = out.table.services[&key]
            .dests
            .keys()
            .map(|d| d.addr.to_string())
            .collect();
        assert_eq!(left, vec!["198.51.100.1".to_string()]);
        assert_eq!(k.inner.dump().unwrap().table(), out.table);
    }
}
