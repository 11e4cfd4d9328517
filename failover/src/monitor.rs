//! Monitored resources: the restart-or-move decision for a resource of a held group whose
//! `status` failed, as Pacemaker's recurring monitor decides it with `migration-threshold`
//! and `failure-timeout` (Heartbeat v1 has no monitoring at all).
//!
//! Pure: [`Tracker::observe`] takes the failure's time and returns the [`Verdict`]; the state
//! machine ([`crate::fsm`]) schedules the rounds and turns verdicts into actions.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::settings::Monitor;

/// How monitored resources are treated (`director.conf` `[monitor]`, when enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Time between two monitor rounds of a held group.
    pub interval: Duration,
    /// In-place restarts allowed within `window`; the failure after them gives the group up.
    pub restarts: u32,
    /// How long a failure counts.
    pub window: Duration,
}

impl Policy {
    /// The policy of `[monitor]`, `None` when monitoring is disabled.
    pub fn from_settings(m: &Monitor) -> Option<Policy> {
        m.enabled.then_some(Policy {
            interval: m.interval,
            restarts: m.restarts,
            window: m.window,
        })
    }
}

/// What to do about a resource that failed its monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stop and start it in place: the `attempt`-th restart of the `of` allowed.
    Restart { attempt: u32, of: u32 },
    /// It failed `failures` times within the window: give the group up to the peer.
    GiveUp { failures: u32 },
}

/// The recent failures of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    failures: VecDeque<Instant>,
}

impl Tracker {
    /// The resource failed its monitor at `now`: failures older than the window are
    /// forgotten, this one counted. Up to `restarts` counted failures are restarted; the next
    /// one gives the group up (and the count starts again from zero).
    pub fn observe(&mut self, policy: &Policy, now: Instant) -> Verdict {
        self.forget(policy, now);
        self.failures.push_back(now);
        let n = u32::try_from(self.failures.len()).unwrap_or(u32::MAX);
        if n <= policy.restarts {
            Verdict::Restart {
                attempt: n,
                of: policy.restarts,
            }
        } else {
            self.failures.clear();
            Verdict::GiveUp { failures: n }
        }
    }

    /// Failures still counted at `now`.
    pub fn failures(&mut self, policy: &Policy, now: Instant) -> usize {
        self.forget(policy, now);
        self.failures.len()
    }

    fn forget(&mut self, policy: &Policy, now: Instant) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= policy.window)
        {
            self.failures.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        interval: Duration::from_secs(10),
        restarts: 3,
        window: Duration::from_secs(600),
    };

    #[tokio::test(start_paused = true)]
    async fn restarts_up_to_the_limit_then_gives_up() {
        let mut t = Tracker::default();
        for attempt in 1..=3 {
            assert_eq!(
                t.observe(&POLICY, Instant::now()),
                Verdict::Restart { attempt, of: 3 }
            );
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert_eq!(
            t.observe(&POLICY, Instant::now()),
            Verdict::GiveUp { failures: 4 }
        );
        // The count starts again once the group has been given up.
        assert_eq!(t.failures(&POLICY, Instant::now()), 0);
        assert_eq!(
            t.observe(&POLICY, Instant::now()),
            Verdict::Restart { attempt: 1, of: 3 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_older_than_the_window_are_forgotten() {
        let mut t = Tracker::default();
        t.observe(&POLICY, Instant::now());
        t.observe(&POLICY, Instant::now());
        tokio::time::advance(Duration::from_secs(300)).await;
        t.observe(&POLICY, Instant::now());
        assert_eq!(t.failures(&POLICY, Instant::now()), 3);
        // The first two leave the window; the third still counts.
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(t.failures(&POLICY, Instant::now()), 1);
        assert_eq!(
            t.observe(&POLICY, Instant::now()),
            Verdict::Restart { attempt: 2, of: 3 }
        );
        // A resource failing once every window never gives the group up.
        let mut t = Tracker::default();
        for _ in 0..20 {
            assert!(matches!(
                t.observe(&POLICY, Instant::now()),
                Verdict::Restart { attempt: 1, .. }
            ));
            tokio::time::advance(POLICY.window).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_restarts_allowed_moves_at_the_first_failure() {
        let p = Policy {
            restarts: 0,
            ..POLICY
        };
        let mut t = Tracker::default();
        assert_eq!(
            t.observe(&p, Instant::now()),
            Verdict::GiveUp { failures: 1 }
        );
    }

    #[test]
    fn disabled_monitoring_has_no_policy() {
        let m = Monitor::default();
        assert_eq!(
            Policy::from_settings(&m),
            Some(Policy {
                interval: m.interval,
                restarts: m.restarts,
                window: m.window
            })
        );
        let off = Monitor {
            enabled: false,
            ..m
        };
        assert_eq!(Policy::from_settings(&off), None);
    }
}
