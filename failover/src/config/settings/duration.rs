//! Durations as `director.conf` writes them (`"500ms"`, `"2s"`, `"10min"`, `"1h"`).

use std::time::Duration;

use serde::Deserialize;

/// A duration as written (`"10s"`), parsed by [`parse_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span(pub(super) Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration with a unit, such as \"10s\", \"500ms\" or \"10min\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                parse_duration(v).map(Span).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// `"500ms"`, `"2s"`, `"10min"`, `"1h"`: a whole number and a unit (spaces allowed between).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let unit = unit.trim();
    let bad = || {
        format!(
            "invalid duration \"{text}\": write a whole number and a unit (ms, s, min, h), \
             such as \"10s\", \"500ms\" or \"10min\""
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let per = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "" => {
            return Err(format!(
                "invalid duration \"{text}\": a unit is needed (ms, s, min, h), such as \"{n}s\""
            ))
        }
        _ => return Err(bad()),
    };
    u32::try_from(n)
        .ok()
        .and_then(|n| per.checked_mul(n))
        .ok_or_else(bad)
}

/// 1-based line of byte offset `at` in `text`; the end of a text that ends with a newline
/// (where TOML reports what is missing at the end) is its last line.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    let line = text
        .get(..at)
        .unwrap_or(text)
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1;
    line.min(text.lines().count().max(1))
}

/// A duration in the file's own words (`10min`, `2s`, `500ms`).
pub fn words(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
