//! Tracked scripts and interfaces (`director.conf` `[track]`, keepalived's track_script and
//! track_interface): each checked every interval ([`Action::Track`]), its results counted
//! with keepalived's `fall` / `rise`, and the summed weight of the failing ones
//! ([`Fsm::track_fault`]) told to the peer in every message. The node whose failing tracks
//! weigh less holds the groups (the rule in `owner`), so a failing track gives the groups to
//! a peer whose tracks pass, as a lost ping node does.

use tokio::time::Instant;

use crate::config::settings::MAX_WEIGHT;
use crate::packet::Kind;

use super::machine::log;
use super::{Action, Fsm, Level, NodePhase};

/// One track's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TrackState {
    /// `None` until its first result, which decides at once (as keepalived's first result).
    pub(super) up: Option<bool>,
    /// Consecutive results against `up` (counted up to `fall` or `rise`).
    pub(super) streak: u32,
    /// When the next check is due (`None`: one is under way, or none yet).
    pub(super) next: Option<Instant>,
    /// A check is under way: its result is awaited.
    pub(super) pending: bool,
}

impl Fsm {
    /// The summed weight of the failing tracks, capped at 127 (what the peer is told).
    pub fn track_fault(&self) -> u8 {
        let sum: u32 = self
            .cfg
            .tracks
            .iter()
            .zip(&self.tracks)
            .filter(|(_, s)| s.up == Some(false))
            .map(|(t, _)| u32::from(t.weight))
            .sum();
        u8::try_from(sum.min(u32::from(MAX_WEIGHT))).unwrap_or(MAX_WEIGHT)
    }

    /// Every track has given its first result (the node joins only then, so it never takes
    /// a group it would give up at once).
    pub(super) fn tracks_known(&self) -> bool {
        self.tracks.iter().all(|t| t.up.is_some())
    }

    /// Starts every check: at start.
    pub(super) fn start_tracks(&mut self, out: &mut Vec<Action>) {
        for (i, t) in self.tracks.iter_mut().enumerate() {
            t.pending = true;
            out.push(Action::Track(i));
        }
    }

    /// Starts every check due at `now`.
    pub(super) fn due_tracks(&mut self, now: Instant, out: &mut Vec<Action>) {
        if matches!(self.phase, NodePhase::Stopping | NodePhase::Stopped) {
            return;
        }
        for (i, t) in self.tracks.iter_mut().enumerate() {
            if t.next.is_some_and(|n| now >= n) && !t.pending {
                t.pending = true;
                t.next = None;
                out.push(Action::Track(i));
            }
        }
    }

    /// The earliest check due.
    pub(super) fn next_track(&self) -> Option<Instant> {
        if matches!(self.phase, NodePhase::Stopping | NodePhase::Stopped) {
            return None;
        }
        self.tracks.iter().filter_map(|t| t.next).min()
    }

    pub(super) fn on_tracked(&mut self, i: usize, ok: bool, now: Instant, out: &mut Vec<Action>) {
        let Some(spec) = self.cfg.tracks.get(i) else {
            return;
        };
        let (interval, fall, rise, words) = (spec.interval, spec.fall, spec.rise, spec.words());
        let before = self.track_fault();
        let Some(t) = self.tracks.get_mut(i).filter(|t| t.pending) else {
            return;
        };
        t.pending = false;
        t.next = Some(now + interval);
        let change = match t.up {
            None => {
                t.up = Some(ok);
                (!ok).then(|| format!("{words} failed"))
            }
            Some(up) if up == ok => {
                t.streak = 0;
                None
            }
            Some(up) => {
                t.streak += 1;
                let needed = if up { fall } else { rise };
                (t.streak >= needed).then(|| {
                    t.up = Some(ok);
                    t.streak = 0;
                    let (what, n, key) = if ok {
                        ("succeeded", rise, "rise")
                    } else {
                        ("failed", fall, "fall")
                    };
                    let times = if n == 1 { "time" } else { "times" };
                    format!("{words} {what} ({n} {times} in a row, {key} {n})")
                })
            }
        };
        if let Some(text) = change {
            let level = if ok { Level::Info } else { Level::Warn };
            log(out, level, text);
        }
        let after = self.track_fault();
        if after != before {
            log(
                out,
                Level::Info,
                format!(
                    "failing tracks weigh {after} here (the node whose failing tracks weigh \
                     less holds the groups)"
                ),
            );
            self.mark(Kind::Heartbeat);
        }
    }
}
