//! `director.conf`: director's own settings, the ones Heartbeat and ldirectord do not know.
//!
//! They live in a file of their own so that `ha.cf`, `haresources` and the ldirectord files
//! stay readable by Heartbeat and ldirectord (a rollback, or a Heartbeat peer, reads the same
//! files). The file is TOML, one table per concern; it is optional (absent: every default).
//! Every key is documented in `docs/director-conf.md`.
//!
//! ```toml
//! [monitor]
//! enabled = true
//! interval = "10s"
//! restarts = 3
//! window = "10min"
//!
//! [sync]
//! enabled = true
//! interface = "eth1"
//! catch_up_timeout = "2s"
//! ```
//!
//! Durations are strings with a unit: `ms`, `s`, `min`, `h` (`"500ms"`, `"2s"`, `"10min"`).
//! Unknown tables and keys are errors, as unknown directives are in `ha.cf`. A syntax error or
//! a wrong key stops the parse at its line (TOML's parser and serde report the first one);
//! the checks of the values that follow report every problem.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Collector, ConfigError, Parsed};

/// The file's name in the configuration directory.
pub const FILE_NAME: &str = "director.conf";

/// Everything `director.conf` sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `[monitor]`: resources of held groups watched and restarted in place.
    pub monitor: Monitor,
    /// `[sync]`: the IPVS connection sync of a pair with an ldirectord resource.
    pub sync: Sync,
    /// `[announce]`: scale-out, the VIPs announced to the routers through BIRD.
    pub announce: Announce,
}

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

/// `[sync]`: both nodes run the kernel's sync daemons (master and backup) on `interface`; the
/// active node hands its whole connection table to the peer when the peer joins and when it
/// gives the group up; a node taking a group from a live peer first waits, at most
/// `catch_up_timeout`, until its kernel holds every connection handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// Whether director runs the sync daemons and the hand-over at all (default: yes).
    pub enabled: bool,
    /// The interface the sync messages use (default: the first heartbeat medium's).
    pub interface: Option<String>,
    /// The longest a takeover from a live peer waits for the hand-over (default: 2 s; 0: it
    /// does not wait).
    pub catch_up_timeout: Duration,
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            enabled: true,
            interface: None,
            catch_up_timeout: Duration::from_secs(2),
        }
    }
}

/// The longest `catch_up_timeout` accepted: the peer's group is down for that long at most.
pub const MAX_CATCH_UP: Duration = Duration::from_secs(60);

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

/// The file as written: every key optional, spans kept for the value checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    monitor: Option<RawMonitor>,
    sync: Option<RawSync>,
    announce: Option<RawAnnounce>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnnounce {
    enabled: Option<bool>,
    file: Option<Spanned<String>>,
    socket: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    timeout: Option<Spanned<Span>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    enabled: Option<bool>,
    interface: Option<Spanned<String>>,
    catch_up_timeout: Option<Spanned<Span>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    enabled: Option<bool>,
    interval: Option<Spanned<Span>>,
    restarts: Option<u32>,
    window: Option<Spanned<Span>>,
}

/// A duration as written (`"10s"`), parsed by [`parse_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span(Duration);

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

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at)
        .unwrap_or(text)
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Parses `director.conf` (`file` is only for messages).
pub fn parse(file: &Path, text: &str) -> Result<Parsed<Settings>, ConfigError> {
    let mut c = Collector::new(file);
    let raw: RawSettings = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            c.error(line, e.message().trim().to_string());
            return c.finish(Settings::default());
        }
    };
    let mut settings = Settings::default();
    if let Some(m) = raw.monitor {
        let d = Monitor::default();
        let line =
            |s: &Option<Spanned<Span>>| s.as_ref().map_or(0, |v| line_of(text, v.span().start));
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
        settings.monitor = Monitor {
            enabled: m.enabled.unwrap_or(d.enabled),
            interval,
            restarts: m.restarts.unwrap_or(d.restarts),
            window,
        };
    }
    if let Some(raw) = raw.sync {
        settings.sync = sync_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.announce {
        settings.announce = announce_section(raw, text, &mut c);
    }
    c.finish(settings)
}

fn announce_section(raw: RawAnnounce, text: &str, c: &mut Collector) -> Announce {
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

fn sync_section(raw: RawSync, text: &str, c: &mut Collector) -> Sync {
    let d = Sync::default();
    let catch_up = raw
        .catch_up_timeout
        .as_ref()
        .map_or(d.catch_up_timeout, |v| v.get_ref().0);
    if catch_up > MAX_CATCH_UP {
        let at = raw
            .catch_up_timeout
            .as_ref()
            .map_or(0, |v| line_of(text, v.span().start));
        c.error(
            at,
            format!(
                "sync: catch_up_timeout {} is too long: at most {} (the group is down while \
                 it waits)",
                words(catch_up),
                words(MAX_CATCH_UP)
            ),
        );
    }
    if let Some(iface) = &raw.interface {
        let name = iface.get_ref();
        // IFNAMSIZ is 16 with the terminating NUL; no '/', no white space (dev_valid_name).
        let valid = !name.is_empty()
            && name.len() < 16
            && name != "."
            && name != ".."
            && !name
                .chars()
                .any(|ch| ch == '/' || ch == ':' || ch.is_whitespace());
        if !valid {
            c.error(
                line_of(text, iface.span().start),
                format!("sync: interface \"{name}\" is not a valid interface name"),
            );
        }
    }
    Sync {
        enabled: raw.enabled.unwrap_or(d.enabled),
        interface: raw.interface.map(Spanned::into_inner),
        catch_up_timeout: catch_up,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Settings, String> {
        parse(Path::new("director.conf"), text)
            .map(|p| p.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn empty_file_and_empty_table_give_the_defaults() {
        assert_eq!(parsed(""), Ok(Settings::default()));
        assert_eq!(parsed("# nothing\n[monitor]\n"), Ok(Settings::default()));
        let m = Settings::default().monitor;
        assert!(m.enabled);
        assert_eq!(
            (m.interval, m.restarts, m.window),
            (Duration::from_secs(10), 3, Duration::from_secs(600))
        );
    }

    #[test]
    fn every_key_is_read() {
        let s = parsed(
            "[monitor]\nenabled = false\ninterval = \"500ms\"\nrestarts = 5\nwindow = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(
            s.monitor,
            Monitor {
                enabled: false,
                interval: Duration::from_millis(500),
                restarts: 5,
                window: Duration::from_secs(3600),
            }
        );
    }

    #[test]
    fn durations_need_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 10 min "), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10").unwrap_err().contains("\"10s\""));
        for bad in ["", "s", "1.5s", "10m", "-1s", "10 sec", "99999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for d in ["500ms", "2s", "10min", "1h"] {
            assert_eq!(words(parse_duration(d).unwrap()), d);
        }
    }

    /// Unknown keys and tables are refused at their line (as hickory-dns does in a test).
    #[test]
    fn unknown_keys_and_tables_are_errors_with_their_line() {
        let e = parsed("[monitor]\ninterval = \"2s\"\nretries = 3\n").unwrap_err();
        assert!(
            e.starts_with("director.conf:3: unknown field `retries`"),
            "{e}"
        );
        let e = parsed("# c\n\n[monitr]\n").unwrap_err();
        assert!(
            e.starts_with("director.conf:3: unknown field `monitr`"),
            "{e}"
        );
        let e = parsed("[monitor]\nrestarts = \"3\"\n").unwrap_err();
        assert!(e.starts_with("director.conf:2: invalid type"), "{e}");
        let e = parsed("[monitor]\n\ninterval = 10\n").unwrap_err();
        assert!(e.starts_with("director.conf:3: invalid type"), "{e}");
        let e = parsed("[monitor]\nwindow = \"10\"\n").unwrap_err();
        assert!(
            e.starts_with("director.conf:2: invalid duration \"10\": a unit is needed"),
            "{e}"
        );
        let e = parsed("[monitor\n").unwrap_err();
        assert!(e.starts_with("director.conf:1: "), "{e}");
    }

    #[test]
    fn value_checks_report_every_problem() {
        let e = parsed("[monitor]\ninterval = \"50ms\"\nwindow = \"20ms\"\n").unwrap_err();
        assert_eq!(
            e,
            "director.conf:2: monitor: interval 50ms is too short: at least 100ms\n\
             director.conf:3: monitor: window 20ms is shorter than interval 50ms: no two \
             failures would ever count together"
        );
        // A long interval against the default window: the interval's line.
        let e = parsed("[monitor]\ninterval = \"1h\"\n").unwrap_err();
        assert!(
            e.starts_with("director.conf:2: monitor: window 10min"),
            "{e}"
        );
    }

    #[test]
    fn the_sync_section_is_read_and_checked() {
        assert_eq!(
            Settings::default().sync.catch_up_timeout,
            Duration::from_secs(2)
        );
        let s =
            parsed("[sync]\nenabled = false\ninterface = \"eth1\"\ncatch_up_timeout = \"500ms\"\n")
                .unwrap();
        assert_eq!(
            s.sync,
            Sync {
                enabled: false,
                interface: Some("eth1".into()),
                catch_up_timeout: Duration::from_millis(500),
            }
        );
        assert_eq!(
            parsed("[sync]\ncatch_up_timeout = \"0s\"\n")
                .unwrap()
                .sync
                .catch_up_timeout,
            Duration::ZERO
        );
        let e =
            parsed("[sync]\ninterface = \"eth 1\"\n\ncatch_up_timeout = \"2min\"\n").unwrap_err();
        assert_eq!(
            e,
            "director.conf:2: sync: interface \"eth 1\" is not a valid interface name\n\
             director.conf:4: sync: catch_up_timeout 2min is too long: at most 1min (the \
             group is down while it waits)"
        );
        let e = parsed("[sync]\nsyncid = 3\n").unwrap_err();
        assert!(
            e.starts_with("director.conf:2: unknown field `syncid`"),
            "{e}"
        );
    }

    #[test]
    fn the_announce_section_is_read_and_checked() {
        let d = Settings::default().announce;
        assert!(!d.enabled);
        assert_eq!(d.socket, std::path::PathBuf::from("/run/bird/bird.ctl"));
        let s = parsed(
            "[announce]\nenabled = true\nfile = \"/etc/bird/vips.conf\"\nsocket = \"/run/b.ctl\"\n\
             protocol = \"lb_vips\"\ntimeout = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(
            s.announce,
            Announce {
                enabled: true,
                file: "/etc/bird/vips.conf".into(),
                socket: "/run/b.ctl".into(),
                protocol: "lb_vips".into(),
                timeout: Duration::from_secs(5),
            }
        );
        let e =
            parsed("[announce]\nfile = \"vips.conf\"\nprotocol = \"4vips\"\ntimeout = \"10ms\"\n")
                .unwrap_err();
        assert_eq!(
            e,
            "director.conf:2: announce: file \"vips.conf\" is not an absolute path\n\
             director.conf:3: announce: protocol \"4vips\" is not a BIRD name (letters, digits \
             and _, starting with a letter)\n\
             director.conf:4: announce: timeout 10ms is out of range (100ms to 1min)"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in ".*") {
            let _ = parse(Path::new("director.conf"), &text);
        }

        #[test]
        fn durations_round_trip(n in 1u32..100_000, unit in 0usize..4) {
            let u = ["ms", "s", "min", "h"][unit];
            let d = parse_duration(&format!("{n}{u}")).unwrap();
            proptest::prop_assert_eq!(parse_duration(&words(d)), Ok(d));
        }
    }
}
