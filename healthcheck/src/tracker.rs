//! Up/down from consecutive check outcomes, exactly as ldirectord's `_service_up` /
//! `_service_down` (ldirectord.md §6.3), and the negotiate/connect alternation of combined
//! checks (`_check_real`). Pure: time comes in as a parameter.

use tokio::time::Instant;

use crate::judge::Outcome;
use crate::spec::Attempt;

/// What the tracker currently believes about a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// No check has completed yet: the real is not in the table.
    Unknown,
    Up,
    Down,
}

/// A change of health worth acting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Add (or restore) the real server.
    Up,
    /// Remove (or quiesce) the real server.
    Down,
}

/// The health of one check, fed with its outcomes.
///
/// - The first outcome decides: success brings the real up, failure marks it down at once
///   (ldirectord force-fails every real at start, so `failurecount` does not delay this).
/// - An up real goes down after `failurecount` consecutive failures; fewer are "soft failures".
/// - One success resets the count and brings a down real up.
/// - Failures of a down real are not counted.
#[derive(Debug, Clone)]
pub struct Tracker {
    failurecount: u32,
    health: Health,
    failures: u32,
    since: Option<Instant>,
    last_checked: Option<Instant>,
}

impl Tracker {
    /// A tracker with no outcome yet; `failurecount` 0 is treated as 1.
    pub fn new(failurecount: u32) -> Tracker {
        Tracker {
            failurecount: failurecount.max(1),
            health: Health::Unknown,
            failures: 0,
            since: None,
            last_checked: None,
        }
    }

    /// Feed one outcome observed at `now`.
    pub fn observe(&mut self, outcome: &Outcome, now: Instant) -> Option<Transition> {
        self.last_checked = Some(now);
        let transition = match (self.health, outcome.is_success()) {
            (Health::Up, true) => {
                self.failures = 0;
                None
            }
            (Health::Unknown | Health::Down, true) => {
                self.failures = 0;
                self.health = Health::Up;
                Some(Transition::Up)
            }
            (Health::Up, false) => {
                self.failures = self.failures.saturating_add(1);
                if self.failures < self.failurecount {
                    None
                } else {
                    self.health = Health::Down;
                    Some(Transition::Down)
                }
            }
            (Health::Unknown, false) => {
                self.failures = self.failurecount;
                self.health = Health::Down;
                Some(Transition::Down)
            }
            (Health::Down, false) => None,
        };
        if transition.is_some() {
            self.since = Some(now);
        }
        transition
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Consecutive failures counted so far (ldirectord's `failcount`: it stays at
    /// `failurecount` while the real is down, so a recovery "resets" it).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn failurecount(&self) -> u32 {
        self.failurecount
    }

    /// When the health last changed.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// When the last outcome was observed.
    pub fn last_checked(&self) -> Option<Instant> {
        self.last_checked
    }
}

/// The alternation of a combined check (`checktype=N`): negotiate first; after each
/// successful negotiate the next N passes connect; a failed connect forces a negotiate on the
/// next pass; a failed negotiate is retried as a negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combined {
    n: u32,
    connects: u32,
}

impl Combined {
    pub fn new(n: u32) -> Combined {
        // ldirectord starts at 999999 so that the first pass negotiates.
        Combined {
            n,
            connects: u32::MAX,
        }
    }

    /// The attempt of the next pass.
    pub fn next(&self) -> Attempt {
        if self.connects >= self.n {
            Attempt::Negotiate
        } else {
            Attempt::Connect
        }
    }

    /// Record the outcome of the attempt returned by [`Combined::next`].
    pub fn record(&mut self, attempt: Attempt, success: bool) {
        match (attempt, success) {
            (Attempt::Connect, true) => self.connects = self.connects.saturating_add(1),
            (Attempt::Connect, false) => self.connects = u32::MAX,
            (_, true) => self.connects = 0,
            (_, false) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ok() -> Outcome {
        Outcome::success("200 OK")
    }
    fn bad() -> Outcome {
        Outcome::failure("500 Timeout Alarm")
    }

    #[tokio::test(start_paused = true)]
    async fn first_check_decides() {
        let mut t = Tracker::new(3);
        assert_eq!(t.health(), Health::Unknown);
        assert_eq!(t.observe(&bad(), Instant::now()), Some(Transition::Down));
        assert_eq!(t.health(), Health::Down);

        let mut t = Tracker::new(3);
        assert_eq!(t.observe(&ok(), Instant::now()), Some(Transition::Up));
    }

    #[tokio::test(start_paused = true)]
    async fn failurecount_consecutive_failures_take_an_up_real_down() {
        let mut t = Tracker::new(3);
        let start = Instant::now();
        assert_eq!(t.observe(&ok(), start), Some(Transition::Up));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.observe(&bad(), Instant::now()), None);
        assert_eq!(t.failures(), 1);
        assert_eq!(t.observe(&bad(), Instant::now()), None);
        assert_eq!(t.failures(), 2);
        // One success resets the count.
        assert_eq!(t.observe(&ok(), Instant::now()), None);
        assert_eq!(t.failures(), 0);
        assert_eq!(t.observe(&bad(), Instant::now()), None);
        assert_eq!(t.observe(&bad(), Instant::now()), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let down_at = Instant::now();
        assert_eq!(t.observe(&bad(), down_at), Some(Transition::Down));
        assert_eq!(t.since(), Some(down_at));
        // Failures of a down real are not counted and change nothing.
        assert_eq!(t.observe(&bad(), Instant::now()), None);
        assert_eq!(t.failures(), 3);
        // One success brings it back.
        assert_eq!(t.observe(&ok(), Instant::now()), Some(Transition::Up));
        assert_eq!(t.failures(), 0);
        assert_eq!(t.since(), Some(start + Duration::from_secs(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn failurecount_one_is_immediate() {
        let mut t = Tracker::new(1);
        assert_eq!(t.observe(&ok(), Instant::now()), Some(Transition::Up));
        assert_eq!(t.observe(&bad(), Instant::now()), Some(Transition::Down));
        assert_eq!(t.observe(&ok(), Instant::now()), Some(Transition::Up));
        assert_eq!(t.observe(&ok(), Instant::now()), None);
    }

    #[test]
    fn combined_alternates_like_ldirectord() {
        let mut c = Combined::new(2);
        // First pass negotiates; a failed negotiate is retried as a negotiate.
        assert_eq!(c.next(), Attempt::Negotiate);
        c.record(Attempt::Negotiate, false);
        assert_eq!(c.next(), Attempt::Negotiate);
        c.record(Attempt::Negotiate, true);
        // Then N connects, then negotiate again.
        assert_eq!(c.next(), Attempt::Connect);
        c.record(Attempt::Connect, true);
        assert_eq!(c.next(), Attempt::Connect);
        c.record(Attempt::Connect, true);
        assert_eq!(c.next(), Attempt::Negotiate);
        c.record(Attempt::Negotiate, true);
        // A failed connect forces a negotiate.
        assert_eq!(c.next(), Attempt::Connect);
        c.record(Attempt::Connect, false);
        assert_eq!(c.next(), Attempt::Negotiate);
    }

    #[test]
    fn combined_zero_always_negotiates() {
        let mut c = Combined::new(0);
        for _ in 0..3 {
            assert_eq!(c.next(), Attempt::Negotiate);
            c.record(Attempt::Negotiate, true);
        }
    }

    proptest::proptest! {
        #[test]
        fn tracker_matches_a_model(failurecount in 1u32..5, outcomes in proptest::collection::vec(proptest::bool::ANY, 0..64)) {
            let now = Instant::now();
            let mut t = Tracker::new(failurecount);
            let mut up: Option<bool> = None;
            let mut run = 0u32;
            for success in outcomes {
                let o = if success { ok() } else { bad() };
                let got = t.observe(&o, now);
                let want = match (up, success) {
                    (Some(true), true) => { run = 0; None }
                    (_, true) => { run = 0; up = Some(true); Some(Transition::Up) }
                    (None, false) => { up = Some(false); Some(Transition::Down) }
                    (Some(false), false) => None,
                    (Some(true), false) => {
                        run += 1;
                        if run >= failurecount { up = Some(false); Some(Transition::Down) } else { None }
                    }
                };
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
