//! `[announce]`: scale-out, the VIPs announced to the routers through BIRD.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use crate::config::Collector;

/// `[announce]`: a director without ha.cf, one of several active behind the routers' ECMP,
/// writes the VIPs it can serve into `file` (static routes BIRD's configuration includes) and
/// reloads BIRD over its control socket `socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// Whether VIPs are announced at all (default: no).
    pub enabled: bool,
    /// The file director writes (default `/etc/bird/director-vips.conf`).
    pub file: std::path::PathBuf,
    /// BIRD's control socket (default `/run/bird/bird.ctl`, Debian's bird2).
    pub socket: std::path::PathBuf,
    /// The static protocols' name; `4` and `6` are appended (default `director_vips`).
    pub protocol: String,
    /// The longest one exchange with BIRD may take (default 2 s).
    pub timeout: Duration,
}

impl Default for Announce {
    fn default() -> Self {
        Announce {
            enabled: false,
            file: "/etc/bird/director-vips.conf".into(),
            socket: "/run/bird/bird.ctl".into(),
            protocol: "director_vips".into(),
            timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnnounce {
    enabled: Option<bool>,
    file: Option<Spanned<String>>,
    socket: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    timeout: Option<Spanned<Span>>,
}

pub(super) fn announce_section(raw: RawAnnounce, text: &str, c: &mut Collector) -> Announce {
    let d = Announce::default();
    let at = |v: &Spanned<String>| line_of(text, v.span().start);
    for (key, v) in [("file", &raw.file), ("socket", &raw.socket)] {
        if let Some(v) = v {
            if !v.get_ref().starts_with('/') {
                c.error(
                    at(v),
                    format!(
                        "announce: {key} \"{}\" is not an absolute path",
                        v.get_ref()
                    ),
                );
            }
        }
    }
    if let Some(p) = &raw.protocol {
        // A BIRD symbol: a letter or '_', then letters, digits, '_' (with 4 or 6 appended).
        let name = p.get_ref();
        let valid = name.len() <= 60
            && name
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid {
            c.error(
                at(p),
                format!(
                    "announce: protocol \"{name}\" is not a BIRD name (letters, digits and _, \
                     starting with a letter)"
                ),
            );
        }
    }
    let timeout = raw.timeout.as_ref().map_or(d.timeout, |v| v.get_ref().0);
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(60) {
        let line = raw
            .timeout
            .as_ref()
            .map_or(0, |v| line_of(text, v.span().start));
        c.error(
            line,
            format!(
                "announce: timeout {} is out of range (100ms to 1min)",
                words(timeout)
            ),
        );
    }
    Announce {
        enabled: raw.enabled.unwrap_or(d.enabled),
        file: raw.file.map_or(d.file, |v| v.into_inner().into()),
        socket: raw.socket.map_or(d.socket, |v| v.into_inner().into()),
        protocol: raw.protocol.map_or(d.protocol, Spanned::into_inner),
        timeout,
    }
}
