//! keepalived's quorum of a virtual service (pure), from `director.conf`'s `[[service]]`
//! `quorum` / `hysteresis` (keepalived's `update_quorum_state` in check/ipwrapper.c):
//!
//! - the weight of a service is the sum of the configured weights of its real servers that
//!   are up;
//! - a service with quorum loses it when that weight is 0 or below `quorum - hysteresis`, and
//!   gains it back at `quorum + hysteresis` or above;
//! - after a start or a reload the state is undecided until the weight reaches
//!   `quorum + hysteresis` (up) or every real server has had its first verdict (down): as
//!   keepalived's `alpha` mode, where the real servers start down (director adds none before
//!   its first check passes);
//! - without quorum its fallback (keepalived's sorry server) replaces every real server, the
//!   way keepalived removes them all and adds the sorry server; with it back, the fallback
//!   goes and the up real servers return. A service with a quorum and no fallback keeps its
//!   up real servers (keepalived does too): only `quorum_down` runs;
//! - `quorum_up` / `quorum_down` run at each decision, the first one included.
//!
//! A service without a `[[service]]` quorum keeps ldirectord's rule: the fallback is there
//! while no real server is up.

pub use failover::config::settings::Quorum;

/// A decision that changed, for the log line and the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the service has its quorum now.
    pub up: bool,
    /// Whether it was undecided before (a start or a reload).
    pub first: bool,
    /// The weight of its up real servers.
    pub weight: u64,
}

/// The next state of a service's quorum: `None` while undecided. `weight`: the sum of the
/// weights of the up real servers; `all_known`: every real server has had a verdict.
pub fn step(q: Quorum, state: Option<bool>, weight: u64, all_known: bool) -> Option<bool> {
    let w = i128::from(weight);
    let quorum = i128::from(q.quorum);
    let h = i128::from(q.hysteresis);
    match state {
        Some(true) => Some(!(w == 0 || w < quorum - h)),
        Some(false) => Some(w >= quorum + h),
        None if w >= quorum + h => Some(true),
        None if all_known => Some(false),
        None => None,
    }
}

/// keepalived's log line of a decision (`Gained quorum 2+1=3 <= 3 for VS ...`), with `vs` as
/// ldirectord names the service.
pub fn describe(q: Quorum, d: Decision, vs: &str) -> String {
    if d.up {
        let threshold = u64::from(q.quorum) + u64::from(q.hysteresis);
        let what = if d.first {
            "Starting with quorum up"
        } else {
            "Gained quorum"
        };
        format!(
            "{what} {}+{}={threshold} <= {} for VS {vs}",
            q.quorum, q.hysteresis, d.weight
        )
    } else {
        let threshold = i64::from(q.quorum) - i64::from(q.hysteresis);
        let what = if d.first {
            "Starting with quorum down"
        } else {
            "Lost quorum"
        };
        format!(
            "{what} {}-{}={threshold} > {} for VS {vs}",
            q.quorum, q.hysteresis, d.weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(quorum: u32, hysteresis: u32) -> Quorum {
        Quorum { quorum, hysteresis }
    }

    /// Runs weights through `step` from undecided, all verdicts known.
    fn walk(quorum: Quorum, weights: &[u64]) -> Vec<Option<bool>> {
        let mut state = None;
        weights
            .iter()
            .map(|w| {
                state = step(quorum, state, *w, true);
                state
            })
            .collect()
    }

    #[test]
    fn without_hysteresis_the_quorum_is_a_plain_threshold() {
        let s = walk(q(3, 0), &[3, 2, 3, 5, 0]);
        assert_eq!(
            s,
            [Some(true), Some(false), Some(true), Some(true), Some(false)]
        );
    }

    #[test]
    fn hysteresis_damps_both_ways() {
        // quorum 4, hysteresis 1: gained at 5, lost below 3.
        let s = walk(q(4, 1), &[4, 5, 4, 3, 2, 3, 4, 5]);
        assert_eq!(
            s,
            [
                Some(false), // starts below 5: down
                Some(true),
                Some(true), // 4 >= 3
                Some(true), // 3 >= 3
                Some(false),
                Some(false), // 3 < 5
                Some(false),
                Some(true),
            ]
        );
    }

    #[test]
    fn a_weight_of_zero_always_loses_the_quorum() {
        // hysteresis above quorum: the threshold is negative, only 0 loses it.
        let s = walk(q(1, 2), &[3, 1, 0, 2, 3]);
        assert_eq!(
            s,
            [Some(true), Some(true), Some(false), Some(false), Some(true)]
        );
    }

    #[test]
    fn undecided_until_the_weight_is_reached_or_every_verdict_is_in() {
        assert_eq!(step(q(2, 0), None, 1, false), None);
        assert_eq!(step(q(2, 0), None, 2, false), Some(true));
        assert_eq!(step(q(2, 0), None, 1, true), Some(false));
        // a decided state never goes back to undecided
        assert_eq!(step(q(2, 0), Some(false), 1, false), Some(false));
    }

    #[test]
    fn log_lines_in_keepalived_words() {
        let vs = "tcp:192.0.2.132:80";
        let up = Decision {
            up: true,
            first: false,
            weight: 3,
        };
        assert_eq!(
            describe(q(2, 1), up, vs),
            "Gained quorum 2+1=3 <= 3 for VS tcp:192.0.2.132:80"
        );
        let down = Decision {
            up: false,
            first: false,
            weight: 0,
        };
        assert_eq!(
            describe(q(2, 1), down, vs),
            "Lost quorum 2-1=1 > 0 for VS tcp:192.0.2.132:80"
        );
        let start = Decision {
            up: false,
            first: true,
            weight: 1,
        };
        assert!(describe(q(2, 0), start, vs).starts_with("Starting with quorum down 2-0=2 > 1"));
    }

    proptest::proptest! {
        /// Up means at least quorum - hysteresis and not 0; down means below
        /// quorum + hysteresis; between the two thresholds the state holds.
        #[test]
        fn the_state_respects_both_thresholds(
            quorum in 1u32..20,
            hysteresis in 0u32..5,
            weights in proptest::collection::vec(0u64..30, 1..40),
        ) {
            let qq = q(quorum, hysteresis);
            let mut state = None;
            for w in weights {
                let before = state;
                state = step(qq, state, w, true);
                let w = i64::try_from(w).unwrap();
                let (lo, hi) = (i64::from(quorum) - i64::from(hysteresis), i64::from(quorum) + i64::from(hysteresis));
                match state {
                    Some(true) => proptest::prop_assert!(w > 0 && w >= lo),
                    Some(false) => proptest::prop_assert!(w < hi || w == 0),
                    None => proptest::prop_assert!(false, "decided once every verdict is in"),
                }
                if before.is_some() && w > 0 && w >= lo && w < hi {
                    proptest::prop_assert_eq!(state, before);
                }
            }
        }
    }
}
