//! `[failback]`: how a group goes back to its preferred node (keepalived's preempt_delay).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use crate::config::Collector;

/// `[failback]`: with `auto_failback on` (or legacy), the node holding a group waits `hold`
/// before it gives the group back to its preferred node, counted from the moment that node
/// can take it (it came back, its tracks or ping nodes recovered), so a node that flaps does
/// not pull the group back and forth. The holder's own setting decides: set it on both
/// nodes. An operator's `director takeover` / `standby` does not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failback {
    /// Default 0: at once, as Heartbeat.
    pub hold: Duration,
}

/// The longest hold accepted (keepalived's preempt_delay stops at 1000 s).
pub const MAX_HOLD: Duration = Duration::from_secs(3600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFailback {
    hold: Option<Spanned<Span>>,
}

pub(super) fn failback_section(raw: RawFailback, text: &str, c: &mut Collector) -> Failback {
    let Some(v) = raw.hold else {
        return Failback::default();
    };
    let hold = v.get_ref().0;
    if hold > MAX_HOLD {
        c.error(
            line_of(text, v.span().start),
            format!(
                "failback: hold {} is too long: at most {}",
                words(hold),
                words(MAX_HOLD)
            ),
        );
    }
    Failback { hold }
}
