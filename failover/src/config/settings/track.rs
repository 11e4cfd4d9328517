//! `[track]`: keepalived's track_script and track_interface. A failing one makes the node
//! give its resource groups to a peer whose tracks pass, as a node that lost its ping nodes
//! does.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use super::sync::interface_name;
use crate::config::Collector;

/// One tracked check (`[track.script.NAME]` or `[track.interface.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The table's name (a script's) or the interface's.
    pub name: String,
    pub probe: Probe,
    /// Time between two checks (default 1 s, keepalived's).
    pub interval: Duration,
    /// Consecutive failures that make a passing track fail (default 1).
    pub fall: u32,
    /// Consecutive successes that make a failing track pass again (default 1).
    pub rise: u32,
    /// How much this track's failure counts against the node (1..=127, default 1): the node
    /// whose failing tracks weigh less holds the groups (a pair has no priorities to lower).
    pub weight: u8,
    /// Its line in director.conf.
    pub line: usize,
}

/// What a track checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A command run by `/bin/sh -c`: exit status 0 passes; anything else, or no answer
    /// within `timeout`, fails (keepalived's vrrp_script).
    Script { command: String, timeout: Duration },
    /// The interface is administratively up and has its carrier (keepalived's
    /// track_interface); a missing interface fails.
    Interface,
}

impl Track {
    /// How the log names it: `track script chk_nginx`, `track interface eth0`.
    pub fn words(&self) -> String {
        match self.probe {
            Probe::Script { .. } => format!("track script {}", self.name),
            Probe::Interface => format!("track interface {}", self.name),
        }
    }
}

/// The heaviest weight one track may have; the sum of the failing ones is capped there too
/// (it travels in 7 bits of the heartbeat's flags).
pub const MAX_WEIGHT: u8 = 127;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrack {
    script: Option<BTreeMap<String, Spanned<RawScript>>>,
    interface: Option<BTreeMap<String, Spanned<RawInterface>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    script: Spanned<String>,
    interval: Option<Spanned<Span>>,
    timeout: Option<Spanned<Span>>,
    fall: Option<Spanned<i64>>,
    rise: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    interval: Option<Spanned<Span>>,
    fall: Option<Spanned<i64>>,
    rise: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

/// fall, rise and weight as written.
type Counts<'a> = [&'a Option<Spanned<i64>>; 3];

/// Reads `[track]`: scripts first, then interfaces, each by name.
pub(super) fn track_section(raw: RawTrack, text: &str, c: &mut Collector) -> Vec<Track> {
    let mut out = Vec::new();
    for (name, s) in raw.script.unwrap_or_default() {
        let line = header_line(text, "script", &name).unwrap_or(line_of(text, s.span().start));
        let s = s.into_inner();
        let what = format!("track script {name}");
        let command = s.script.get_ref().trim().to_string();
        if command.is_empty() {
            c.error(
                line_of(text, s.script.span().start),
                format!("{what}: script is empty"),
            );
        }
        let t = common(
            &name,
            line,
            &s.interval,
            [&s.fall, &s.rise, &s.weight],
            &what,
            text,
            c,
        );
        let timeout = duration(&s.timeout, t.interval, &what, "timeout", text, c);
        out.push(Track {
            probe: Probe::Script { command, timeout },
            ..t
        });
    }
    for (name, i) in raw.interface.unwrap_or_default() {
        let line = header_line(text, "interface", &name).unwrap_or(line_of(text, i.span().start));
        let i = i.into_inner();
        let what = format!("track interface {name}");
        if !interface_name(&name) {
            c.error(line, format!("{what}: not a valid interface name"));
        }
        out.push(common(
            &name,
            line,
            &i.interval,
            [&i.fall, &i.rise, &i.weight],
            &what,
            text,
            c,
        ));
    }
    out
}

/// The line of the header `[track.KIND.NAME]` (a table's span starts at its first key, not
/// always at its header).
fn header_line(text: &str, kind: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let Some(inner) = l.trim().strip_prefix('[').and_then(|l| l.split(']').next()) else {
                return false;
            };
            let parts: Vec<&str> = inner
                .splitn(3, '.')
                .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
                .collect();
            parts == ["track", kind, name]
        })
        .map(|i| i + 1)
}

/// A duration key of a track: 10 ms to 1 h.
fn duration(
    v: &Option<Spanned<Span>>,
    default: Duration,
    what: &str,
    key: &str,
    text: &str,
    c: &mut Collector,
) -> Duration {
    let Some(v) = v else { return default };
    let d = v.get_ref().0;
    if d < Duration::from_millis(10) || d > Duration::from_secs(3600) {
        c.error(
            line_of(text, v.span().start),
            format!("{what}: {key} {} is out of range (10ms to 1h)", words(d)),
        );
    }
    d
}

/// name, interval, fall, rise, weight, line; the probe is the caller's (an interface's).
fn common(
    name: &str,
    line: usize,
    interval: &Option<Spanned<Span>>,
    [fall, rise, weight]: Counts<'_>,
    what: &str,
    text: &str,
    c: &mut Collector,
) -> Track {
    let mut number = |v: &Option<Spanned<i64>>, key: &str, max: i64| -> i64 {
        let Some(v) = v else { return 1 };
        let n = *v.get_ref();
        if !(1..=max).contains(&n) {
            c.error(
                line_of(text, v.span().start),
                format!("{what}: {key} {n} is out of range (1 to {max})"),
            );
            return 1;
        }
        n
    };
    let fall = number(fall, "fall", 255);
    let rise = number(rise, "rise", 255);
    let weight = number(weight, "weight", i64::from(MAX_WEIGHT));
    Track {
        name: name.to_string(),
        probe: Probe::Interface,
        interval: duration(interval, Duration::from_secs(1), what, "interval", text, c),
        fall: u32::try_from(fall).unwrap_or(1),
        rise: u32::try_from(rise).unwrap_or(1),
        weight: u8::try_from(weight).unwrap_or(1),
        line,
    }
}
