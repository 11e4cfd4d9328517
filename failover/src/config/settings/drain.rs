//! `[drain]`: how director drains a real server (`director real drain`, and a real server a
//! reload removes from an ldirectord file).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, Span};
use crate::config::Collector;

/// `[drain]`: a drained real server is at weight 0 and leaves the table when its
/// connections have ended, or after `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    /// How long a drain waits for the connections when `director real drain` gives no
    /// `--timeout`, and for a real server removed by a reload (default: 5 min).
    pub timeout: Duration,
    /// A real server a reload removes from an ldirectord file is drained instead of deleted
    /// at once (default: no, ldirectord's behaviour).
    pub on_removal: bool,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            timeout: Duration::from_secs(300),
            on_removal: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrain {
    timeout: Option<Spanned<Span>>,
    on_removal: Option<bool>,
}

pub(super) fn drain_section(raw: RawDrain, text: &str, c: &mut Collector) -> Drain {
    let d = Drain::default();
    let timeout = raw.timeout.as_ref().map_or(d.timeout, |v| v.get_ref().0);
    if timeout < Duration::from_secs(1) {
        let at = raw
            .timeout
            .as_ref()
            .map_or(0, |v| line_of(text, v.span().start));
        c.error(
            at,
            "drain: timeout must be at least 1s (a drain that does not wait is a disable)",
        );
    }
    Drain {
        timeout,
        on_removal: raw.on_removal.unwrap_or(d.on_removal),
    }
}
