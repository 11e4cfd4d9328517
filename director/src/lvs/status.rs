//! What one file's daemon shows (`director status`, metrics) and its sign of life (the
//! `ldirectord::NAME` resource's monitor).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::ldirectord::{self, Config};
use crate::status::VirtualStatus;

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
    /// The kernel keys of the virtual services and real servers shown in `virtuals`, so that
    /// their traffic (`crate::traffic`) shows under the same names.
    pub names: crate::traffic::Names,
}

/// The health-check loop's sign of life, read by the `ldirectord::NAME` resource's monitor:
/// when the loop last made progress, and how long without progress means it has stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The last round (a checkinterval tick of the loop) at which checks had started since
    /// the round before, or there were none to run.
    pub at: Instant,
    /// Three of the longest check periods (checkinterval plus the longest timeout).
    pub stall_after: Duration,
    /// Checks started so far, as of the last round.
    pub started: u64,
}

impl Progress {
    /// The next round at `now`: `started` checks started so far, `checks` configured.
    pub fn round(self, now: Instant, started: u64, checks: usize) -> Progress {
        let moving = checks == 0 || started != self.started;
        Progress {
            at: if moving { now } else { self.at },
            started,
            ..self
        }
    }

    /// Whether the loop has made no progress for `stall_after` at `now`.
    pub fn stalled(&self, now: Instant) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Services, StaticResolver};

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
}
