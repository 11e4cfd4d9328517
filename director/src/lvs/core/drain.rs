//! The operator's record at work in the core: what it asks of each real server, the drains
//! counted at each tick and ended at zero connections or their timeout, the reals a reload
//! removes drained instead of deleted.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Level;

use super::{log, Core, Effect, Leaving};
use crate::ipvs::{Dest, IpvsError, ServiceEntry, ServiceKey};
use crate::lvs::engine::{self, About};
use crate::lvs::mapping::Mapped;
use crate::lvs::operator::{Admin, Drain, Override, Target};

impl Core {
    /// Every configured real server with its service, its configured destination, the
    /// destination as the kernel keeps it and the name the operator gives it.
    pub(super) fn targets(&self) -> impl Iterator<Item = (Target, ServiceKey, Dest)> + '_ {
        self.mapped
            .virtuals
            .iter()
            .zip(&self.mapped.extras)
            .flat_map(|(spec, x)| {
                let key = spec.service.key;
                x.reals.iter().zip(&spec.reals).map(move |(r, rs)| {
                    let target = Target {
                        virtual_name: x.address.to_string(),
                        real: r.key.real_name(),
                    };
                    (target, key, rs.dest.clone())
                })
            })
    }

    /// Turn what the operator asks into the reconciler's overrides, starting the drains
    /// asked for since the last time and forgetting the ones no longer asked; true when the
    /// table decision changed.
    pub(super) fn admin(&mut self, now: Instant) -> bool {
        let mut admin = HashMap::new();
        let mut asked = BTreeSet::new();
        // Every real server's name is only worked out when the operator asked something.
        let targets: Vec<(Target, ServiceKey, Dest)> = if self.operator.is_empty() {
            Vec::new()
        } else {
            self.targets().collect()
        };
        for (target, key, dest) in targets {
            let o = match self.operator.get(&target) {
                None => continue,
                Some(Admin::Weight { weight }) => Override::Weight(weight),
                Some(Admin::Disable) => Override::Out,
                Some(Admin::Drain { timeout_s }) => {
                    let drain = self
                        .drains
                        .entry(target.clone())
                        .or_insert_with(|| Drain::start(Duration::from_secs(timeout_s), now));
                    asked.insert(target);
                    if drain.done {
                        Override::Out
                    } else {
                        Override::Drain
                    }
                }
            };
            admin.insert((key, dest.key()), o);
        }
        self.drains.retain(|t, _| asked.contains(t));
        for l in &self.leaving {
            let o = if l.drain.done {
                Override::Out
            } else {
                Override::Drain
            };
            admin.insert((l.key, l.dest.key()), o);
        }
        self.reconciler.set_admin(admin)
    }

    /// A reload to `mapped`: with `drain_on_removal`, the real servers it removes from a
    /// virtual service that stays, and that the table holds, start draining; the ones that
    /// are back in the file, or gone, are forgotten.
    pub(super) fn leave(&mut self, mapped: &Mapped, now: Instant) {
        let kept: BTreeSet<ServiceKey> = mapped.virtuals.iter().map(|v| v.service.key).collect();
        let configured = |key: &ServiceKey, dest: &Dest| {
            mapped.virtuals.iter().any(|v| {
                v.service.key == *key && v.reals.iter().any(|r| r.dest.key() == dest.key())
            })
        };
        self.leaving
            .retain(|l| !l.drain.done && kept.contains(&l.key) && !configured(&l.key, &l.dest));
        let Some(timeout) = self.options.drain_on_removal else {
            return;
        };
        let table = self.reconciler.table();
        let removed: Vec<Leaving> = self
            .targets()
            .filter(|(_, key, dest)| kept.contains(key) && !configured(key, dest))
            .filter(|(_, key, dest)| {
                let kernel = engine::kernel_dest(key, dest).key();
                table
                    .services
                    .get(key)
                    .is_some_and(|c| c.dests.contains_key(&kernel))
            })
            .map(|(target, key, dest)| Leaving {
                target,
                key,
                dest,
                drain: Drain::start(timeout, now),
            })
            .collect();
        for l in removed {
            if !self.leaving.iter().any(|x| x.target == l.target) {
                self.leaving.push(l);
            }
        }
    }

    /// The services with a real server still draining.
    pub(super) fn draining_services(&self) -> Vec<ServiceKey> {
        let set: BTreeSet<ServiceKey> = self
            .targets()
            .filter(|(t, ..)| self.drains.get(t).is_some_and(|d| !d.done))
            .map(|(_, key, _)| key)
            .chain(self.leaving.iter().filter(|l| !l.drain.done).map(|l| l.key))
            .collect();
        set.into_iter().collect()
    }

    /// The connection counts of the draining real servers; true when a drain ended.
    pub(super) fn counted(
        &mut self,
        result: Result<Vec<ServiceEntry>, IpvsError>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) -> bool {
        let entries = match result {
            Ok(entries) => Some(entries),
            Err(e) => {
                out.push(log(
                    Level::WARN,
                    format!("cannot read the connections of the draining real servers: {e}"),
                ));
                None
            }
        };
        // the count (None: not in the table) of a destination as configured in a service
        let conns = |key: &ServiceKey, dest: &Dest| {
            let kernel = engine::kernel_dest(key, dest).key();
            entries.as_ref().map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.service.key == *key)
                    .flat_map(|e| e.dests.iter())
                    .find(|d| d.dest.key() == kernel)
                    .map(|d| u64::from(d.active_conns) + u64::from(d.inact_conns))
            })
        };
        let step = |drain: &mut Drain, counted: Option<Option<u64>>| match counted {
            Some(c) => drain.counted(c, now),
            None => drain.expired(now),
        };
        let mut ended = Vec::new();
        let targets: Vec<(Target, ServiceKey, Dest)> = self.targets().collect();
        for (target, key, dest) in targets {
            let counted = conns(&key, &dest);
            if let Some(drain) = self.drains.get_mut(&target) {
                if step(drain, counted) {
                    ended.push((target, key, *drain, ""));
                }
            }
        }
        for l in &mut self.leaving {
            if step(&mut l.drain, conns(&l.key, &l.dest)) {
                ended.push((l.target.clone(), l.key, l.drain, " (removed from the file)"));
            }
        }
        for (target, key, drain, removed) in &ended {
            let why = match drain.conns {
                Some(c) if c > 0 => format!("drain timeout passed with {c} connections left"),
                _ => "no connection left".to_string(),
            };
            out.push(Effect::Log {
                level: Level::INFO,
                text: format!(
                    "Drained real server: {} ({}){removed}: {why}",
                    target.real,
                    engine::virtual_name(key)
                ),
                reason: None,
                about: Some(About {
                    vs: target.virtual_name.clone(),
                    rs: Some(target.real.clone()),
                }),
            });
        }
        if !ended.is_empty() {
            self.admin(now);
        }
        !ended.is_empty()
    }
}
