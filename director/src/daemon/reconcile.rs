//! Keeps the kernel's IPVS table equal to what the configuration and the health checks ask
//! for: dump, compute the desired table (`engine::desired`), plan the difference, apply it,
//! and say what changed in ldirectord's words. Never flushes; services director does not
//! manage are left alone.

use std::collections::{BTreeSet, HashMap};

use crate::engine::{self, CheckId, Health, VirtualSpec};
use crate::ipvs::plan::plan;
use crate::ipvs::{Change, Ipvs, IpvsError, ServiceKey, Table};

/// The outcome of one reconciliation.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One ldirectord-style line per applied change.
    pub applied: Vec<String>,
    /// The change the kernel refused, if any (the ones before it stay applied).
    pub error: Option<IpvsError>,
    /// The table after the changes (as far as they went).
    pub table: Table,
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
        self.virtuals = virtuals;
    }

    /// Record a verdict; true when it changed anything.
    pub fn set_health(&mut self, check: CheckId, health: Health) -> bool {
        self.health.insert(check, health) != Some(health)
    }

    /// The verdict of a check.
    pub fn health(&self, check: CheckId) -> Health {
        self.health.get(&check).copied().unwrap_or(Health::Unknown)
    }

    /// The changes one pass would make against `actual` (pure).
    pub fn plan_against(&self, actual: &Table) -> Vec<Change> {
        let health = |id: CheckId| self.health(id);
        let desired = engine::desired(&self.virtuals, &health, actual, &self.forget);
        plan(&desired, actual)
    }

    /// One pass: dump the kernel table, apply the difference, report.
    pub fn reconcile(&mut self, ipvs: &mut dyn Ipvs) -> Result<Outcome, IpvsError> {
        let actual = ipvs.dump()?.table();
        let changes = self.plan_against(&actual);
        let outcome = self.apply(ipvs, &actual, &changes);
        if outcome.error.is_none() {
            self.forget.clear();
        }
        Ok(outcome)
    }

    /// Stop: remove the services in `purge` (the virtuals whose cleanstop is yes) with their
    /// destinations; everything else is left as it is.
    pub fn stop(
        &mut self,
        ipvs: &mut dyn Ipvs,
        purge: &BTreeSet<ServiceKey>,
    ) -> Result<Outcome, IpvsError> {
        let actual = ipvs.dump()?.table();
        let changes: Vec<Change> = actual
            .services
            .keys()
            .filter(|k| purge.contains(k))
            .map(|k| Change::DelService(*k))
            .collect();
        let mut outcome = self.apply(ipvs, &actual, &changes);
        outcome.applied = changes
            .iter()
            .filter(|c| change_visible(&outcome.table, c))
            .flat_map(|c| match c {
                Change::DelService(k) => engine::describe_stop(k, actual.services.get(k)),
                other => vec![engine::describe_in(other, &actual, &self.virtuals)],
            })
            .collect();
        Ok(outcome)
    }

    fn apply(&mut self, ipvs: &mut dyn Ipvs, actual: &Table, changes: &[Change]) -> Outcome {
        let mut table = actual.clone();
        let mut applied = Vec::new();
        let error = match ipvs.apply(changes) {
            Ok(()) => {
                for c in changes {
                    applied.push(engine::describe_in(c, actual, &self.virtuals));
                    let _ = crate::ipvs::plan::apply_to(&mut table, c);
                }
                None
            }
            Err(e) => {
                // The changes before the refused one were applied: find out from the kernel.
                match ipvs.dump() {
                    Ok(snap) => table = snap.table(),
                    Err(_) => table = actual.clone(),
                }
                for c in changes {
                    let mut probe = actual.clone();
                    if crate::ipvs::plan::apply_to(&mut probe, c).is_ok()
                        && change_visible(&table, c)
                    {
                        applied.push(engine::describe_in(c, actual, &self.virtuals));
                    }
                }
                Some(e)
            }
        };
        self.last = table.clone();
        Outcome {
            applied,
            error,
            table,
        }
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
