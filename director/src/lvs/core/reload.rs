//! A file read again: the new mapping installed (checks kept, moved or started, the table
//! pass that follows), a reload that would remove every virtual service said first.

use std::collections::BTreeSet;

use tokio::time::Instant;
use tracing::Level;

use super::{leaving_check, log, Core, Effect, Loaded, Then, NAMED_REMOVALS};
use crate::config::ldirectord::{service_key, Config, VirtualAddress};
use crate::config::Diagnostics;
use crate::lvs::alert::{self, DaemonStatus};
use crate::lvs::engine::{self, Health, RealSpec};
use crate::lvs::execute;
use crate::lvs::mapping::{self, Mapped};
use crate::lvs::reconcile::Pass;

/// A reload from `old` to a `new` configuration without any virtual service removes every
/// service of `old` (as ldirectord does): the warning that says so, naming what goes, or
/// `None` when the reload keeps at least one service or there was none. An empty or truncated
/// file is the usual cause, so this must not pass silently.
pub(super) fn reload_removes_all(old: &Config, new: &Config, file: &str) -> Option<String> {
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

impl Core {
    /// Make `mapped` the running configuration (start and reload): the reconciler gets its
    /// virtuals, with the real servers still leaving as reals that are down.
    pub(super) fn install(&mut self, mapped: Mapped, out: &mut Vec<Effect>) {
        let mut virtuals = mapped.virtuals.clone();
        for (i, l) in self.leaving.iter().enumerate() {
            if let Some(v) = virtuals.iter_mut().find(|v| v.service.key == l.key) {
                v.reals.push(RealSpec {
                    dest: l.dest.clone(),
                    check: leaving_check(i),
                });
            }
        }
        self.reconciler.set_virtuals(virtuals);
        for id in mapped.never_up() {
            self.reconciler.set_health(id, Health::Down);
        }
        for i in 0..self.leaving.len() {
            self.reconciler.set_health(leaving_check(i), Health::Down);
        }
        out.push(Effect::MaintenanceDir(
            self.config.globals.maintenancedir.clone(),
        ));
        out.push(Effect::Checks(mapped.checks()));
        self.check_of = mapped.check_of();
        self.monitors = mapped
            .extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .filter_map(|r| r.monitor.clone().map(|m| (r.key, m)))
            .collect();
        let want = !self.monitors.is_empty();
        if want != self.results {
            self.results = want;
            out.push(Effect::Results(want));
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

    pub(super) fn reload(
        &mut self,
        result: Result<Box<Loaded>, Diagnostics>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let loaded = match result {
            Err(diags) => {
                out.extend(diags.iter().map(|d| log(Level::ERROR, d.to_string())));
                out.push(log(
                    Level::ERROR,
                    format!(
                        "configuration {} not reloaded: it has errors; the running configuration is kept",
                        self.options.file
                    ),
                ));
                let text = diags.to_string();
                self.status.reload_failures += 1;
                self.status.last_reload_error = Some(text.clone());
                out.push(self.publish());
                out.push(Effect::Reloaded(Err(text)));
                return;
            }
            Ok(loaded) => loaded,
        };
        out.extend(
            loaded
                .warnings
                .iter()
                .map(|w| log(Level::WARN, w.to_string())),
        );
        let mapped = mapping::map(&loaded.config, &self.options.file, &mut self.ids);
        out.extend(
            mapped
                .warnings
                .iter()
                .map(|w| log(Level::WARN, w.to_string())),
        );
        if let Some(w) = reload_removes_all(&self.config, &loaded.config, &self.options.file) {
            out.push(log(Level::WARN, w));
        }
        self.daemon_status = DaemonStatus::Reloading;
        let globals = &loaded.config.globals;
        if self.options.logs_here
            && (globals.logfile != self.config.globals.logfile
                || globals.supervised != self.config.globals.supervised)
        {
            out.push(Effect::LogTarget(Box::new(globals.clone())));
        }
        out.extend(
            execute::plan(&self.children, &loaded.children)
                .into_iter()
                .map(Effect::Execute),
        );
        self.config = loaded.config;
        self.children = loaded.children;
        self.leave(&mapped, now);
        self.install(mapped, out);
        self.admin(now);
        self.status.reloads += 1;
        self.status.last_reload_error = None;
        // Against the table as last seen, not a new dump (see `Pass::Reload`); a change the
        // kernel refuses (the table was edited by hand) turns it into a full pass, and the
        // next repair pass finds any other hand edit.
        self.begin(Pass::Reload, Then::Reload, now, out);
    }
}
