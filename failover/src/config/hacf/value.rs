//! The values of directives: Heartbeat's times and booleans, option lists, host, node and
//! interface names, syslog facilities and serial speeds.

use std::net::IpAddr;
use std::time::Duration;

use super::Host;

/// Parses a Heartbeat time value (`cl_get_msec`): decimal seconds, or with an `ms`, `us` or
/// `usec` suffix. Rounded to whole milliseconds. `2s` is invalid, as in Heartbeat.
pub fn parse_time(text: &str) -> Option<Duration> {
    let (number, scale_us) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000.0)
    } else if let Some(n) = text.strip_suffix("usec") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else {
        (text, 1_000_000.0)
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if number.chars().filter(|&c| c == '.').count() > 1 || number == "." {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let us = value * scale_us;
    // One year is far beyond any sane heartbeat setting; it also keeps the cast exact.
    if !us.is_finite() || us > 365.0 * 86_400.0 * 1e6 {
        return None;
    }
    let ms = (us / 1000.0).round() as u64;
    Some(Duration::from_millis(ms))
}

/// Heartbeat's booleans (`cl_str_to_boolean`), case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

pub(super) const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

pub(super) const BAUDS: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800];

pub(super) fn option_values(rest: &str) -> Vec<&str> {
    rest.split([' ', ',', '\t', '\r', '\n', '\x0c'])
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn parse_host(text: &str) -> Option<Host> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    let ok = !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        && !text.starts_with(['-', '.']);
    // A dotted all-numeric name is a mistyped address, not a host name.
    let numeric = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    (ok && !numeric).then(|| Host::Name(text.to_string()))
}

pub(super) fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '#' && c != ',')
}

pub(super) fn valid_iface(name: &str) -> bool {
    // IFNAMSIZ is 16 including the NUL.
    !name.is_empty() && name.len() < 16 && !name.contains(['/', ' ', '\t'])
}
