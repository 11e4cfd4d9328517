//! `director reload` / SIGHUP: every file read again ([`reload_all`]), what was applied and what
//! waits for a restart said, never "reloaded" for what was not done.

use super::lvs::ReloadCause;
use super::set::LvsSet;
use super::{announcer, pair};

/// Reloads every file: the ldirectord files, and in pair mode `ha.cf`, `authkeys` and
/// `haresources` ([`pair::PairFiles::reload`]). `Ok`: what was reloaded. `Err`: what was
/// refused or needs a restart, after what was applied: never a success for what was not done.
/// Each part is logged too (a SIGHUP has nobody to answer).
pub(super) async fn reload_all(
    set: &mut LvsSet,
    node: Option<&failover::node::NodeHandle>,
    files: &mut RunFiles,
    announcer: &mut Option<announcer::Announcer>,
    cause: ReloadCause,
) -> Result<String, String> {
    let mut done = Vec::new();
    let mut not_done = Vec::new();
    match set.reload(cause).await {
        Ok(()) => done.push("ldirectord files reloaded".to_string()),
        Err(e) => not_done.push(format!(
            "ldirectord files not reloaded, the running ones are kept:\n{e}"
        )),
    }
    if let (RunFiles::Pair(pair), Some(node)) = (&mut *files, node) {
        let r = pair.reload(node, set).await;
        if r.errors.is_empty() {
            if r.applied.is_empty() && r.restart.is_empty() {
                done.push("ha.cf, authkeys, haresources, director.conf: unchanged".to_string());
            }
        } else {
            not_done.push(format!(
                "ha.cf, authkeys, haresources, director.conf not reloaded, the running ones are kept:\n{}",
                r.errors.join("\n")
            ));
        }
        done.extend(r.applied);
        not_done.extend(r.restart);
    }
    if let RunFiles::Single(single) = files {
        match single.reload(set, announcer).await {
            Ok((d, restart)) => {
                done.extend(d);
                not_done.extend(restart);
            }
            Err(e) => not_done.push(format!(
                "director.conf not reloaded, the running one is kept:\n{e}"
            )),
        }
    }
    for d in &done {
        tracing::info!("reload: {d}");
    }
    for n in &not_done {
        for line in n.lines() {
            tracing::error!("reload: {line}");
        }
    }
    if not_done.is_empty() {
        Ok(format!("configuration reloaded: {}", done.join("; ")))
    } else {
        let mut lines = done;
        lines.extend(not_done);
        Err(lines.join("\n"))
    }
}

/// The files besides the ldirectord ones that a reload reads again.
pub(super) enum RunFiles {
    /// Pair mode: ha.cf, authkeys, haresources, director.conf.
    Pair(Box<pair::PairFiles>),
    /// A single director: director.conf.
    Single(Box<SingleFiles>),
    /// Only ldirectord files (none else to read).
    Ldirectord,
}

impl RunFiles {
    /// `director.conf`'s `[drain]` as it runs now (after a reload); `None` without the file.
    pub(super) fn drain(&self) -> Option<failover::config::settings::Drain> {
        match self {
            RunFiles::Pair(p) => Some(p.running.settings.drain.clone()),
            RunFiles::Single(s) => Some(s.running.drain.clone()),
            RunFiles::Ldirectord => None,
        }
    }
}

/// A single director's `director.conf` (no ha.cf): what a reload compares with.
pub(super) struct SingleFiles {
    pub(super) config_dir: std::path::PathBuf,
    pub(super) running: failover::config::settings::Settings,
    /// Whether the kernel's scale-out sysctls are set when announcing starts.
    pub(super) sysctls: bool,
}

impl SingleFiles {
    /// Reads `director.conf` again and applies `[announce]` (reconfigured, started or
    /// stopped) and `[drain]` (kept here; the caller hands it to every file). What was done,
    /// if anything, and what waits for a restart (`[admin]`: read at start only).
    pub(super) async fn reload(
        &mut self,
        set: &LvsSet,
        announcer: &mut Option<announcer::Announcer>,
    ) -> Result<(Option<String>, Vec<String>), String> {
        let mut new = failover::node::load_settings(&self.config_dir).map_err(|e| e.to_string())?;
        let mut restart = Vec::new();
        if new.admin != self.running.admin {
            restart.push(
                "director.conf: [admin] changed: restart director to apply it (the running \
                 settings are kept)"
                    .to_string(),
            );
        }
        // What waits for a restart stays as it runs (the next reload names it again).
        new.admin = self.running.admin.clone();
        if new == self.running {
            return Ok((None, restart));
        }
        // Applied by the caller to every file ([`RunFiles::drain`]).
        let drain = (new.drain != self.running.drain).then_some("director.conf: [drain] applied");
        self.running.drain = new.drain.clone();
        if new == self.running {
            return Ok((drain.map(str::to_string), restart));
        }
        let a = new.announce.clone();
        let done = match (announcer.take(), a.enabled) {
            (Some(running), true) => {
                running.reconfigure(a);
                *announcer = Some(running);
                "director.conf: [announce] applied"
            }
            (Some(running), false) => {
                running.stop().await;
                "director.conf: [announce] disabled: every VIP withdrawn from BIRD"
            }
            (None, true) => {
                if self.sysctls {
                    announcer::set_scale_out_sysctls(std::path::Path::new("/proc/sys")).await;
                }
                *announcer = Some(announcer::Announcer::start(a, set.watches()));
                "director.conf: [announce] enabled: announcing the VIPs this director can serve"
            }
            (None, false) => {
                "director.conf: reloaded (its [[service]] tables with the ldirectord files)"
            }
        };
        self.running = new;
        let done = match drain {
            Some(d) => format!("{done}; {d}"),
            None => done.to_string(),
        };
        Ok((Some(done), restart))
    }
}
