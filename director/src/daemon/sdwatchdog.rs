//! systemd's service watchdog (`WatchdogSec=` in the unit): `WATCHDOG=1` every half period,
//! but only while the loops that matter turn, so that systemd restarts a daemon that hangs
//! (`Restart=on-failure` covers a watchdog timeout).
//!
//! What must turn ([`verdict`], pure): the daemon's own loop (it is the one that notifies),
//! the failover node's loop (it turns at every event and at least every keepalive: its status
//! snapshot must be newer than `node_limit`), and every ldirectord file's health-check loop
//! (not stalled, as the `ldirectord::` resource's monitor judges it). Not to be confused with
//! ha.cf's `watchdog` (the kernel's /dev/watchdog, fed by the failover node itself).

use std::time::Duration;

use super::lvs::Progress;

/// How often to notify: half of `WATCHDOG_USEC` when systemd asks for it (and the
/// `WATCHDOG_PID` it names is ours), else `None`.
pub fn interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// What the loops say at a notification round.
pub struct Liveness<'a> {
    /// The failover node's last turn and how old it may be (`None`: no node).
    pub node: Option<(tokio::time::Instant, Duration)>,
    /// Each ldirectord file's health-check progress, by file.
    pub checks: &'a [(String, Progress)],
}

/// `Ok` when every loop turns at `now`; else why not, in words for the log.
pub fn verdict(live: &Liveness<'_>, now: tokio::time::Instant) -> Result<(), String> {
    let now_checks = now;
    if let Some((updated, limit)) = live.node {
        let idle = now.saturating_duration_since(updated);
        if idle > limit {
            return Err(format!(
                "the failover node's loop has not turned for {} ms (limit {} ms)",
                idle.as_millis(),
                limit.as_millis()
            ));
        }
    }
    for (file, p) in live.checks {
        if p.stalled(now_checks) {
            return Err(format!(
                "the health checks of {file} have stalled: none started for {}s",
                now_checks.saturating_duration_since(p.at).as_secs()
            ));
        }
    }
    Ok(())
}

/// Notifies systemd when `verdict` is `Ok`; logs the first round of each distinct reason not
/// to (systemd then restarts the daemon when `WatchdogSec` passes).
pub fn round(result: Result<(), String>, last: &mut Option<String>) {
    match result {
        Ok(()) => {
            if last.take().is_some() {
                tracing::info!("systemd watchdog: every loop turns again, notifying");
            }
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
        Err(why) => {
            if last.as_deref() != Some(why.as_str()) {
                tracing::error!("systemd watchdog: not notifying: {why}");
            }
            *last = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(at: tokio::time::Instant) -> Progress {
        Progress {
            at,
            stall_after: Duration::from_secs(3),
            started: 1,
        }
    }

    #[test]
    fn every_loop_must_turn() {
        let now = tokio::time::Instant::now();
        let now_t = now;
        let limit = Duration::from_secs(2);
        let fresh = [("www.cf".to_string(), progress(now_t))];
        let live = Liveness {
            node: Some((now - Duration::from_millis(500), limit)),
            checks: &fresh,
        };
        assert_eq!(verdict(&live, now), Ok(()));
        // The node's loop hung.
        let live = Liveness {
            node: Some((now - Duration::from_secs(3), limit)),
            checks: &fresh,
        };
        let e = verdict(&live, now).unwrap_err();
        assert!(
            e.starts_with("the failover node's loop has not turned for 3000 ms"),
            "{e}"
        );
        // A file's checks stalled (a single director: no node).
        let stalled = [
            ("www.cf".to_string(), progress(now_t)),
            (
                "mail.cf".to_string(),
                progress(now_t - Duration::from_secs(4)),
            ),
        ];
        let live = Liveness {
            node: None,
            checks: &stalled,
        };
        let e = verdict(&live, now).unwrap_err();
        assert_eq!(
            e,
            "the health checks of mail.cf have stalled: none started for 4s"
        );
        let live = Liveness {
            node: None,
            checks: &[],
        };
        assert_eq!(verdict(&live, now), Ok(()));
    }
}
