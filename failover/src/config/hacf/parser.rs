//! The parser: one line at a time, each directive to its own method (the media in
//! `media`, the nodes and who holds the groups in `nodes`, fencing in `fencing`), then
//! Heartbeat's derived defaults and cross-checks (`finish`).

use std::path::Path;
use std::time::Duration;

use super::value::{option_values, parse_bool, parse_time, FACILITIES};
use super::{default_initdead, AutoFailback, HaCf, DEFAULT_BAUD};
use crate::config::{strip_comment, Collector, ConfigError, Parsed};

/// Directives Heartbeat accepts that do not apply to director, with the reason given in the
/// warning.
const IGNORED: &[(&str, &str)] = &[
    (
        "max_rexmit_delay",
        "director's protocol does not retransmit",
    ),
    ("uuidfrom", "director identifies nodes by name"),
    ("hbgenmethod", "director keeps its own generation counter"),
    ("cluster", "the cluster name is not used"),
    ("memreserve", "director does not preallocate memory"),
    ("conn_logd_time", "director does not use ha_logd"),
    ("syslogmsgfmt", "director logs through its own logger"),
    (
        "log_badpack",
        "director always logs rejected packets (rate-limited)",
    ),
    ("coredumps", "core dumps are left to systemd"),
    ("coreroot", "core dumps are left to systemd"),
    ("use_apphbd", "apphbd is not used"),
    ("msgfmt", "director uses its own wire format"),
    ("compression", "director's messages are never compressed"),
    (
        "compression_threshold",
        "director's messages are never compressed",
    ),
    (
        "traditional_compression",
        "director's messages are never compressed",
    ),
    (
        "quorum_server",
        "quorumd is not used in a two-node haresources cluster",
    ),
    ("normalpoll", "it only matters to Heartbeat's main loop"),
    ("apiauth", "director has no Heartbeat API socket"),
    (
        "failfast",
        "director does not support failfast children; use respawn",
    ),
    ("crm_daemon_dir", "it only matters to Pacemaker"),
    ("crmd_spawns_pengine", "it only matters to Pacemaker"),
    ("record_config_changes", "it only matters to Pacemaker"),
    ("record_pengine_inputs", "it only matters to Pacemaker"),
    ("enable_config_writes", "it only matters to Pacemaker"),
];

#[derive(Default)]
pub(super) struct Seen {
    pub(super) keepalive: bool,
    pub(super) deadtime: bool,
    pub(super) warntime: Option<usize>,
    pub(super) initdead: Option<usize>,
    pub(super) deadping: Option<usize>,
    pub(super) baud: bool,
    pub(super) watchdog: bool,
    pub(super) crm: bool,
    pub(super) auto_failback_line: Option<usize>,
    pub(super) nice_failback: Option<(usize, bool)>,
    pub(super) media_line: Option<usize>,
    pub(super) deadtime_line: usize,
}

pub(super) struct Parser {
    pub(super) c: Collector,
    pub(super) cf: HaCf,
    pub(super) seen: Seen,
    pub(super) baud: u32,
}

/// Parses the text of `ha.cf`. `file` is only used in diagnostics.
pub fn parse(file: &Path, text: &str) -> Result<Parsed<HaCf>, ConfigError> {
    let mut p = Parser {
        c: Collector::new(file),
        cf: HaCf::default(),
        seen: Seen::default(),
        baud: DEFAULT_BAUD,
    };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let body = strip_comment(raw);
        if body.is_empty() {
            continue;
        }
        let (directive, rest) = match body.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((d, r)) => (d, r.trim()),
            None => (body, ""),
        };
        p.directive(line, directive, rest);
    }
    p.finish()
}

impl Parser {
    pub(super) fn directive(&mut self, line: usize, directive: &str, rest: &str) {
        match directive {
            "keepalive" | "deadtime" | "warntime" | "initdead" | "deadping" => {
                self.time(line, directive, rest)
            }
            "udpport" => self.each(line, directive, rest, Self::udpport),
            "bcast" | "udp" => {
                if directive == "udp" {
                    self.c.warn(line, "directive udp is deprecated: use bcast");
                }
                self.each(line, directive, rest, Self::bcast)
            }
            "mcast" => self.mcast(line, rest),
            "mcast6" => self.mcast6(line, rest),
            "ucast" => self.ucast(line, rest),
            "ucast6" => self.ucast6(line, rest),
            "serial" => self.each(line, directive, rest, Self::serial),
            "baud" => self.each(line, directive, rest, Self::baud),
            "node" => self.each(line, directive, rest, Self::node),
            "ping" | "ping6" => self.each(line, directive, rest, Self::ping),
            "ping_group" => self.ping_group(line, rest),
            "respawn" => self.respawn(line, rest),
            "auto_failback" => self.each(line, directive, rest, Self::auto_failback),
            "nice_failback" => self.each(line, directive, rest, Self::nice_failback),
            "watchdog" => self.each(line, directive, rest, Self::watchdog),
            "logfile" => self.each(line, directive, rest, Self::logfile),
            "debugfile" => self.each(line, directive, rest, Self::debugfile),
            "logfacility" => self.each(line, directive, rest, Self::logfacility),
            "use_logd" => self.each(line, directive, rest, Self::use_logd),
            "realtime" => self.each(line, directive, rest, Self::realtime),
            "rtprio" => self.each(line, directive, rest, Self::rtprio),
            "hopfudge" => self.each(line, directive, rest, Self::hopfudge),
            "debug" => self.each(line, directive, rest, Self::debug),
            "crm" | "pacemaker" => self.crm(line, directive, rest),
            "autojoin" => self.each(line, directive, rest, Self::autojoin),
            "env" => self.env(line, rest),
            "stonith" => self.stonith(line, rest),
            "stonith_host" => self.stonith_host(line, rest),
            other => match IGNORED.iter().find(|(name, _)| *name == other) {
                Some((_, why)) => self.c.warn(
                    line,
                    format!("directive {other} is ignored by director: {why}"),
                ),
                None => self.c.error(line, format!("illegal directive [{other}]")),
            },
        }
    }

    pub(super) fn each(
        &mut self,
        line: usize,
        directive: &str,
        rest: &str,
        f: impl Fn(&mut Self, usize, &str),
    ) {
        let values = option_values(rest);
        if values.is_empty() {
            self.c
                .error(line, format!("directive {directive} needs a value"));
        }
        for v in values {
            f(self, line, v);
        }
    }

    pub(super) fn time(&mut self, line: usize, directive: &str, rest: &str) {
        let values = option_values(rest);
        let [value] = values.as_slice() else {
            self.c
                .error(line, format!("{directive} takes exactly one time value"));
            return;
        };
        let Some(t) = parse_time(value) else {
            self.c.error(
                line,
                format!(
                    "{directive}: invalid time [{value}] (seconds, or a number with an ms or us \
                     suffix; an s suffix is not accepted)"
                ),
            );
            return;
        };
        let again = match directive {
            "keepalive" => std::mem::replace(&mut self.seen.keepalive, true),
            "deadtime" => std::mem::replace(&mut self.seen.deadtime, true),
            "warntime" => self.seen.warntime.replace(line).is_some(),
            "initdead" => self.seen.initdead.replace(line).is_some(),
            _ => self.seen.deadping.replace(line).is_some(),
        };
        if again {
            self.c.warn(
                line,
                format!("{directive} given again: this value replaces the earlier one"),
            );
        }
        match directive {
            "keepalive" => self.cf.keepalive = t,
            "deadtime" => {
                self.cf.deadtime = t;
                self.seen.deadtime_line = line;
            }
            "warntime" => self.cf.warntime = t,
            "initdead" => self.cf.initdead = t,
            _ => self.cf.deadping = t,
        }
    }

    pub(super) fn logfacility(&mut self, line: usize, v: &str) {
        let f = v.to_ascii_lowercase();
        if f == "none" {
            self.cf.logfacility = None;
        } else if FACILITIES.contains(&f.as_str()) {
            self.cf.logfacility = Some(f);
        } else {
            self.c
                .error(line, format!("logfacility: unknown syslog facility [{v}]"));
        }
    }

    pub(super) fn crm(&mut self, line: usize, directive: &str, rest: &str) {
        if std::mem::replace(&mut self.seen.crm, true) {
            self.c
                .error(line, format!("{directive} may only appear once"));
            return;
        }
        let values = option_values(rest);
        let [value] = values.as_slice() else {
            self.c.error(line, format!("{directive} takes one value"));
            return;
        };
        if parse_bool(value) != Some(false) {
            self.c.error(
                line,
                format!(
                    "{directive} {value} is not supported: director manages haresources groups \
                     only (use {directive} off, or run Pacemaker)"
                ),
            );
        }
    }

    pub(super) fn env(&mut self, line: usize, rest: &str) {
        match rest.split_once('=') {
            Some((name, value))
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                self.cf.env.push((name.to_string(), value.to_string()))
            }
            _ => self
                .c
                .error(line, format!("env: expected env NAME=VALUE, got [{rest}]")),
        }
    }

    pub(super) fn finish(mut self) -> Result<Parsed<HaCf>, ConfigError> {
        // auto_failback wins over nice_failback whatever the order.
        if let Some((line, b)) = self.seen.nice_failback {
            if self.cf.auto_failback_explicit {
                self.c
                    .warn(line, "nice_failback ignored: auto_failback is also given");
            } else {
                self.cf.auto_failback = if b {
                    AutoFailback::Off
                } else {
                    AutoFailback::On
                };
                self.cf.auto_failback_explicit = true;
            }
        }
        if !self.cf.auto_failback_explicit {
            self.c.warn(
                0,
                "auto_failback not set: defaulting to legacy (groups move back to their preferred \
                 node); set auto_failback on or off",
            );
        }
        let cf = &mut self.cf;
        if self.seen.warntime.is_none() {
            cf.warntime = cf.deadtime / 2;
        }
        if self.seen.initdead.is_none() {
            cf.initdead = default_initdead(cf.deadtime);
        }
        if self.seen.deadping.is_none() {
            cf.deadping = cf.deadtime;
        }
        let dl = self.seen.deadtime_line;
        if cf.keepalive.is_zero() {
            self.c.error(0, "keepalive must be greater than 0");
        }
        if cf.deadtime <= cf.keepalive * 2 {
            self.c.error(
                dl,
                format!(
                    "Dead time [{} ms] is too small: it must be more than twice keepalive [{} ms]",
                    cf.deadtime.as_millis(),
                    cf.keepalive.as_millis()
                ),
            );
        }
        if let Some(l) = self.seen.warntime {
            if cf.warntime <= cf.keepalive {
                self.c.error(
                    l,
                    format!(
                        "warntime [{} ms] must be greater than keepalive [{} ms]",
                        cf.warntime.as_millis(),
                        cf.keepalive.as_millis()
                    ),
                );
            } else if cf.warntime >= cf.deadtime {
                self.c.warn(
                    l,
                    format!(
                        "warntime [{} ms] is not below deadtime [{} ms]: no Late heartbeat \
                         warning will ever be logged",
                        cf.warntime.as_millis(),
                        cf.deadtime.as_millis()
                    ),
                );
            }
        }
        let il = self.seen.initdead.unwrap_or(0);
        if cf.initdead < cf.deadtime {
            self.c.error(
                il,
                format!(
                    "initdead [{} ms] must not be less than deadtime [{} ms]",
                    cf.initdead.as_millis(),
                    cf.deadtime.as_millis()
                ),
            );
        } else if cf.initdead < Duration::from_secs(10) {
            self.c.warn(
                il,
                format!(
                    "initdead [{} ms] is below 10 s: a slow network at boot may cause a false \
                     takeover",
                    cf.initdead.as_millis()
                ),
            );
        }
        if cf.deadping <= cf.keepalive * 2 {
            self.c.error(
                self.seen.deadping.unwrap_or(0),
                format!(
                    "deadping [{} ms] must be more than twice keepalive [{} ms]",
                    cf.deadping.as_millis(),
                    cf.keepalive.as_millis()
                ),
            );
        }
        if cf.media.is_empty() {
            self.c.error(
                0,
                "no communication media configured (bcast, mcast, ucast, ...)",
            );
        }
        if cf.nodes.is_empty() {
            self.c
                .error(0, "no node directive: list every cluster member with node");
        }
        if cf.media.len() > 64 {
            self.c.error(0, "too many media (at most 64)");
        }
        let cf = std::mem::take(&mut self.cf);
        self.c.finish(cf)
    }
}
