//! Scale-out: the loop that keeps BIRD announcing exactly the VIPs this director can serve
//! (`director.conf` `[announce]`, [`crate::announce`]).
//!
//! Every 200 ms it reads the ldirectord files' status (health, fallback) and the operator's
//! standby, and when the set of VIPs to announce differs from the one BIRD has, it writes the
//! static-route file and reloads BIRD. A refused or failed reload is logged and tried again
//! at the next round; BIRD keeps its previous routes meanwhile. Every 5 s it reads BIRD's
//! protocols for `director status` and the metrics. At stop it withdraws everything before
//! the daemon clears its table.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::announce::bird::Protocol;
use crate::announce::ctl::{publish, BirdCtl};
use crate::announce::{announced, render, services_of};
use crate::status::{AnnounceStatus, BirdProtocolStatus};

use super::lvs::LvsStatus;

/// The running loop.
pub struct Announcer {
    standby: watch::Sender<bool>,
    settings: watch::Sender<failover::config::settings::Announce>,
    state: watch::Receiver<AnnounceStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

const ROUND: Duration = Duration::from_millis(200);
const PROTOCOLS_EVERY: Duration = Duration::from_secs(5);

impl Announcer {
    /// Starts announcing what `files` (the ldirectord files' status) can serve.
    pub fn start(
        settings: failover::config::settings::Announce,
        files: Vec<watch::Receiver<LvsStatus>>,
    ) -> Announcer {
        let (standby_tx, standby_rx) = watch::channel(false);
        let (state_tx, state_rx) = watch::channel(AnnounceStatus {
            file: settings.file.display().to_string(),
            ..AnnounceStatus::default()
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let (settings_tx, settings_rx) = watch::channel(settings);
        let task = tokio::spawn(run(settings_rx, files, standby_rx, state_tx, stop_rx));
        Announcer {
            standby: standby_tx,
            settings: settings_tx,
            state: state_rx,
            stop: Some(stop_tx),
            task,
        }
    }

    /// Operator standby (`director standby`): withdraw every VIP; `false` (`director
    /// takeover`) announces again what can be served.
    pub fn set_standby(&self, on: bool) {
        self.standby.send_replace(on);
    }

    /// `director.conf` `[announce]` reloaded (still enabled): the next round writes the VIPs
    /// with the new settings (at a new `file`, the old one is emptied first); nothing is
    /// withdrawn that stays announced.
    pub fn reconfigure(&self, settings: failover::config::settings::Announce) {
        self.settings.send_if_modified(|s| {
            let changed = *s != settings;
            *s = settings;
            changed
        });
    }

    /// What `director status` shows.
    pub fn status(&self) -> AnnounceStatus {
        self.state.borrow().clone()
    }

    /// A receiver of the status, for the metrics task.
    pub fn watch(&self) -> watch::Receiver<AnnounceStatus> {
        self.state.clone()
    }

    /// Withdraws every VIP (bounded by the BIRD timeout) and ends the loop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

async fn run(
    mut reloads: watch::Receiver<failover::config::settings::Announce>,
    files: Vec<watch::Receiver<LvsStatus>>,
    standby: watch::Receiver<bool>,
    state: watch::Sender<AnnounceStatus>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut settings = reloads.borrow_and_update().clone();
    let mut ctl = BirdCtl {
        path: settings.socket.clone(),
        timeout: settings.timeout,
    };
    let mut published: Option<BTreeSet<IpAddr>> = None;
    let mut last_error: Option<String> = None;
    let mut round = tokio::time::interval(ROUND);
    round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut protocols_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = round.tick() => {}
        }
        if reloads.has_changed().unwrap_or(false) {
            let new = reloads.borrow_and_update().clone();
            if new.file != settings.file && published.as_ref().is_some_and(|p| !p.is_empty()) {
                // The old file would keep its routes: empty it first.
                let empty = BTreeSet::new();
                if let Err(e) =
                    publish(&settings.file, &render(&empty, &settings.protocol), &ctl).await
                {
                    tracing::error!("announce: cannot empty {}: {e}", settings.file.display());
                }
            }
            if new.file != settings.file
                || new.protocol != settings.protocol
                || new.socket != settings.socket
            {
                published = None;
            }
            tracing::info!(
                "announce: settings reloaded: {} through {}",
                new.file.display(),
                new.socket.display()
            );
            settings = new;
            ctl = BirdCtl {
                path: settings.socket.clone(),
                timeout: settings.timeout,
            };
            state.send_modify(|s| s.file = settings.file.display().to_string());
        }
        let virtuals: Vec<_> = files
            .iter()
            .flat_map(|f| f.borrow().virtuals.clone())
            .collect();
        let want = announced(&services_of(&virtuals), *standby.borrow());
        if published.as_ref() != Some(&want) {
            match publish(&settings.file, &render(&want, &settings.protocol), &ctl).await {
                Ok(_) => {
                    log_change(published.as_ref(), &want);
                    published = Some(want.clone());
                    last_error = None;
                    protocols_at = tokio::time::Instant::now();
                }
                Err(e) => {
                    let text = e.to_string();
                    if last_error.as_deref() != Some(&text) {
                        tracing::error!(
                            "announce: {text}; BIRD keeps its previous routes, trying again"
                        );
                    }
                    last_error = Some(text);
                }
            }
        }
        let sessions = if tokio::time::Instant::now() >= protocols_at {
            protocols_at = tokio::time::Instant::now() + PROTOCOLS_EVERY;
            match ctl.command("show protocols").await {
                Ok(r) => Some(crate::announce::bird::protocols(&r)),
                Err(e) => {
                    tracing::debug!("announce: show protocols: {e}");
                    None
                }
            }
        } else {
            None
        };
        state.send_modify(|s| {
            s.announced = published
                .as_ref()
                .map(|p| p.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            s.wanted = want.iter().map(ToString::to_string).collect();
            s.standby = *standby.borrow();
            s.error.clone_from(&last_error);
            if let Some(list) = &sessions {
                s.protocols = list.iter().map(protocol_status).collect();
            }
        });
    }
    // Withdraw before the table is cleared.
    let empty = BTreeSet::new();
    match publish(&settings.file, &render(&empty, &settings.protocol), &ctl).await {
        Ok(_) => {
            if published.as_ref().is_some_and(|p| !p.is_empty()) {
                tracing::info!("announce: every VIP withdrawn (director stopping)");
            }
        }
        Err(e) => tracing::error!("announce: cannot withdraw the VIPs at stop: {e}"),
    }
}

/// The IPVS settings every director of a scale-out group needs, as `/proc/sys` paths: IPVS
/// creates a connection only from a TCP SYN (an SCTP INIT) unless `sloppy_tcp` (`sloppy_sctp`)
/// is on, so a flow that the routers' ECMP moves to this director mid-stream (another
/// director was lost or withdrew) would find no connection here and be reset.
pub const SCALE_OUT_SYSCTLS: [&str; 2] = ["net/ipv4/vs/sloppy_tcp", "net/ipv4/vs/sloppy_sctp"];

/// Turns the [`SCALE_OUT_SYSCTLS`] on under `proc_sys` (`/proc/sys`, the network namespace
/// director runs in) and logs each; a setting that cannot be written is logged as an error
/// and the director runs on (it still serves the flows that start on it).
pub async fn set_scale_out_sysctls(proc_sys: &std::path::Path) {
    for key in SCALE_OUT_SYSCTLS {
        let dotted = key.replace('/', ".");
        match tokio::fs::write(proc_sys.join(key), "1\n").await {
            Ok(()) => tracing::info!(
                "announce: {dotted} = 1 (a flow moved here mid-stream by ECMP is scheduled, \
                 not reset)"
            ),
            Err(e) => tracing::error!(
                "announce: cannot set {dotted} = 1: {e}; a flow moved to this director \
                 mid-stream will be reset"
            ),
        }
    }
}

fn protocol_status(p: &Protocol) -> BirdProtocolStatus {
    BirdProtocolStatus {
        name: p.name.clone(),
        proto: p.proto.clone(),
        state: p.state.clone(),
        info: p.info.clone(),
    }
}

fn log_change(before: Option<&BTreeSet<IpAddr>>, now: &BTreeSet<IpAddr>) {
    let empty = BTreeSet::new();
    let before = before.unwrap_or(&empty);
    for vip in now.difference(before) {
        tracing::info!("announce: announcing {vip} (this director can serve it)");
    }
    for vip in before.difference(now) {
        tracing::warn!(
            "announce: withdrawing {vip} (no real server and no fallback, or operator standby)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scale_out_turns_the_sloppy_settings_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net/ipv4/vs")).unwrap();
        for key in SCALE_OUT_SYSCTLS {
            std::fs::write(dir.path().join(key), "0\n").unwrap();
        }
        set_scale_out_sysctls(dir.path()).await;
        for key in SCALE_OUT_SYSCTLS {
            assert_eq!(
                std::fs::read_to_string(dir.path().join(key)).unwrap(),
                "1\n"
            );
        }
        // No IPVS settings at all (no such directory): logged, nothing else happens.
        let empty = tempfile::tempdir().unwrap();
        set_scale_out_sysctls(empty.path()).await;
        assert!(!empty.path().join("net").exists());
    }
}
