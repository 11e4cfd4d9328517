//! `[monitor]`: resources of held groups watched and restarted in place.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use crate::config::Collector;

/// `[monitor]`: the active node runs each held resource's `status` every `interval`; a failed
/// resource is restarted in place up to `restarts` times within `window`, then the group
/// moves to the peer (Pacemaker's recurring monitor with its `migration-threshold` and
/// `failure-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor {
    /// Whether resources are monitored at all (default: yes).
    pub enabled: bool,
    /// Time between two monitor rounds of a group (default: 10 s).
    pub interval: Duration,
    /// In-place restarts allowed within `window` before the group is given up (default: 3).
    pub restarts: u32,
    /// How long a failure counts (default: 10 min).
    pub window: Duration,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            enabled: true,
            interval: Duration::from_secs(10),
            restarts: 3,
            window: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMonitor {
    enabled: Option<bool>,
    interval: Option<Spanned<Span>>,
    restarts: Option<u32>,
    window: Option<Spanned<Span>>,
}

pub(super) fn monitor_section(m: RawMonitor, text: &str, c: &mut Collector) -> Monitor {
    let d = Monitor::default();
    let line = |s: &Option<Spanned<Span>>| s.as_ref().map_or(0, |v| line_of(text, v.span().start));
    let interval = m.interval.as_ref().map_or(d.interval, |v| v.get_ref().0);
    let window = m.window.as_ref().map_or(d.window, |v| v.get_ref().0);
    if interval < Duration::from_millis(100) {
        c.error(
            line(&m.interval),
            format!(
                "monitor: interval {} is too short: at least 100ms",
                words(interval)
            ),
        );
    }
    if window < interval {
        let at = if m.window.is_some() {
            line(&m.window)
        } else {
            line(&m.interval)
        };
        c.error(
            at,
            format!(
                "monitor: window {} is shorter than interval {}: no two failures would \
                 ever count together",
                words(window),
                words(interval)
            ),
        );
    }
    Monitor {
        enabled: m.enabled.unwrap_or(d.enabled),
        interval,
        restarts: m.restarts.unwrap_or(d.restarts),
        window,
    }
}
