//! Refused packets: a stable name per reason, counted for `director status`, and logged at
//! most once per sender per minute however many come ([`RejectLog`]).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::packet::Rejection;
use crate::peer::Received;

/// Rejected packets from one sender are logged at most this often.
const REJECT_LOG_EVERY: Duration = Duration::from_secs(60);

/// A short, stable name for why a packet was refused (`None`: our own packet, not counted).
pub fn rejection_reason(r: &Rejection) -> Option<&'static str> {
    use crate::packet::DecodeError as D;
    Some(match r {
        Rejection::Own => return None,
        Rejection::UnknownNode(_) => "unknown_node",
        Rejection::OldGeneration { .. } => "old_generation",
        Rejection::Replay { .. } => "replay",
        Rejection::Unverified { .. } => "unverified",
        Rejection::Source { .. } => "source",
        Rejection::Decode(d) => match d {
            D::BadAuth(_) => "bad_auth",
            D::UnknownKey(_) => "unknown_key",
            D::BadMagic => "bad_magic",
            D::BadVersion(_) => "bad_version",
            D::Short(_) | D::TooLong(_) | D::UnknownKind(_) | D::Malformed(_) => "malformed",
        },
    })
}

/// Counts refused packets by reason and says when one should be logged: once per sender per
/// minute, with how many were refused since. At most [`REJECT_LOG_SENDERS`] senders are
/// followed one by one; refusals from any further address (a spoofing flood) share one
/// "other senders" line a minute, so neither the log nor the memory grows with the number of
/// forged source addresses.
#[derive(Debug, Default, Clone)]
pub struct RejectLog {
    counts: BTreeMap<&'static str, u64>,
    /// Per sender: when last logged, and refusals since then.
    senders: HashMap<IpAddr, (Instant, u64)>,
    /// Every sender beyond the followed ones: when last logged, and refusals since then.
    others: Option<(Instant, u64)>,
}

/// How many sender addresses [`RejectLog`] follows one by one.
pub const REJECT_LOG_SENDERS: usize = 64;

/// A refusal that should be logged now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogNow {
    /// Refusals from the same sender (or, with `others`, from unfollowed senders) that were
    /// not logged since the last line.
    pub suppressed: u64,
    /// The sender is not followed one by one: the line speaks for every unfollowed sender.
    pub others: bool,
}

impl RejectLog {
    /// Records one refusal from `from`; returns `Some` when it should be logged.
    pub fn observe(&mut self, from: IpAddr, reason: &'static str, now: Instant) -> Option<LogNow> {
        *self.counts.entry(reason).or_insert(0) += 1;
        if !self.senders.contains_key(&from) && self.senders.len() >= REJECT_LOG_SENDERS {
            // Forget senders that have been quiet for the whole period before giving up on
            // following this one.
            self.senders
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < REJECT_LOG_EVERY);
        }
        let followed = self.senders.contains_key(&from) || self.senders.len() < REJECT_LOG_SENDERS;
        let slot = if followed {
            self.senders.entry(from).or_insert((now, u64::MAX))
        } else {
            self.others.get_or_insert((now, u64::MAX))
        };
        let log = match slot {
            // A new slot: log at once.
            (_, since) if *since == u64::MAX => Some(0),
            (at, since) if now.saturating_duration_since(*at) >= REJECT_LOG_EVERY => Some(*since),
            (_, since) => {
                *since += 1;
                None
            }
        };
        if let Some(suppressed) = log {
            *slot = (now, 0);
            return Some(LogNow {
                suppressed,
                others: !followed,
            });
        }
        None
    }

    /// How many senders are followed one by one (at most [`REJECT_LOG_SENDERS`]).
    pub fn followed(&self) -> usize {
        self.senders.len()
    }

    /// Counts a packet dropped without logging it (e.g. an older status arriving late).
    pub fn count(&mut self, reason: &'static str) {
        *self.counts.entry(reason).or_insert(0) += 1;
    }

    /// Refusals by reason.
    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }
}

/// Counts a refused packet and logs it when [`RejectLog`] says so.
pub(super) fn log_rejection(
    rejects: &mut RejectLog,
    r: &Received,
    reason: &'static str,
    what: &str,
    now: Instant,
) {
    let Some(LogNow { suppressed, others }) = rejects.observe(r.from.ip(), reason, now) else {
        return;
    };
    let more = if others {
        format!(
            "{suppressed} more from other addresses not logged in the last minute; \
             more than {REJECT_LOG_SENDERS} addresses send refused packets"
        )
    } else {
        format!("{suppressed} more not logged in the last minute")
    };
    tracing::warn!(
        from = %r.from,
        iface = %r.iface,
        reason,
        suppressed,
        "packet from {} on {} rejected: {what} ({more})",
        r.from,
        r.iface
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_logged_once_a_minute_per_sender() {
        let mut log = RejectLog::default();
        let t = Instant::now();
        let x: IpAddr = "192.0.2.13".parse().unwrap_or_else(|_| unreachable!());
        let y: IpAddr = "192.0.2.14".parse().unwrap_or_else(|_| unreachable!());
        let now = |suppressed| {
            Some(LogNow {
                suppressed,
                others: false,
            })
        };
        assert_eq!(log.observe(x, "bad_auth", t), now(0));
        assert_eq!(log.observe(x, "bad_auth", t + Duration::from_secs(1)), None);
        assert_eq!(log.observe(x, "replay", t + Duration::from_secs(2)), None);
        assert_eq!(log.observe(y, "replay", t + Duration::from_secs(2)), now(0));
        assert_eq!(
            log.observe(x, "bad_auth", t + Duration::from_secs(61)),
            now(2)
        );
        assert_eq!(log.counts().get("bad_auth"), Some(&3));
        assert_eq!(log.counts().get("replay"), Some(&2));
    }

    /// A flood from forged source addresses (IPv4 and IPv6): one line per followed sender,
    /// then one line a minute for all the others, and memory bounded by the followed count.
    #[test]
    fn a_spoofed_flood_is_logged_and_kept_in_bounded_space() {
        let mut log = RejectLog::default();
        let t = Instant::now();
        let mut lines = 0;
        for i in 0..100_000u32 {
            let from: IpAddr = if i % 2 == 0 {
                IpAddr::V4(std::net::Ipv4Addr::from(0xC000_0200 | (i & 0xff)))
            } else {
                IpAddr::V6(std::net::Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                ))
            };
            let at = t + Duration::from_micros(u64::from(i));
            if log.observe(from, "bad_auth", at).is_some() {
                lines += 1;
            }
        }
        assert_eq!(
            lines,
            REJECT_LOG_SENDERS + 1,
            "one line per followed sender and one for the rest"
        );
        assert_eq!(log.followed(), REJECT_LOG_SENDERS);
        assert_eq!(log.counts().get("bad_auth"), Some(&100_000));
        // A minute later the others get one more line, with what was not logged.
        let later = log.observe(
            "2001:db8::ffff".parse().unwrap_or_else(|_| unreachable!()),
            "bad_auth",
            t + Duration::from_secs(61),
        );
        // The flood's senders have been quiet for a minute: they are forgotten, and a new
        // sender is followed (and logged) on its own again.
        assert_eq!(
            later,
            Some(LogNow {
                suppressed: 0,
                others: false
            })
        );
        assert_eq!(log.followed(), 1);
    }

    #[test]
    fn rejection_reasons() {
        use crate::packet::DecodeError;
        assert_eq!(rejection_reason(&Rejection::Own), None);
        assert_eq!(
            rejection_reason(&Rejection::Decode(DecodeError::BadAuth(1))),
            Some("bad_auth")
        );
        assert_eq!(
            rejection_reason(&Rejection::Decode(DecodeError::Short(3))),
            Some("malformed")
        );
    }
}
