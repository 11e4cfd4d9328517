//! `ha.cf`: Heartbeat 3.0.6's main configuration file, in haresources (v1) mode.
//!
//! Parsing follows `config.c:parse_config`:
//! - one directive per line, `#` starts a comment anywhere, names are case-sensitive;
//! - "option" directives split the rest of the line on spaces, tabs and commas and apply
//!   once per value (`node a b` = `node a,b` = two `node` lines);
//! - whole-line directives (`mcast`, `ucast`, `ping_group`, `respawn`, `stonith`, ...) take
//!   the rest of the line;
//! - times are decimal numbers of seconds, or carry an `ms` / `us` suffix (`keepalive 2s` is
//!   invalid, as in Heartbeat);
//! - `udpport` and `baud` apply to media that come after them;
//! - unknown directives are errors; directives that only matter to Heartbeat internals or to
//!   Pacemaker are accepted with a warning saying director ignores them.
//!
//! After the file is read the derived defaults are filled in (warntime = deadtime/2, initdead
//! from deadtime, deadping = deadtime) and Heartbeat's validity checks run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{strip_comment, Collector, ConfigError, Parsed};

/// The default UDP port (`ha-cluster` in /etc/services).
pub const DEFAULT_UDPPORT: u16 = 694;
/// The default keepalive (Heartbeat's code default, not the sample file's 2 s).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_millis(1000);
/// The default deadtime.
pub const DEFAULT_DEADTIME: Duration = Duration::from_secs(30);
/// The default serial speed.
pub const DEFAULT_BAUD: u32 = 19200;

/// What happens to a group when its preferred node comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoFailback {
    /// Groups move back to their preferred node when it rejoins.
    On,
    /// Groups stay where they are.
    Off,
    /// Heartbeat's old `ip-request` protocol: the preferred node always pulls its groups back.
    /// director treats it like [`AutoFailback::On`] (the visible behaviour is the same).
    Legacy,
}

/// A host given by address or by name (names are resolved by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal address.
    Ip(IpAddr),
    /// A host name to resolve.
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => write!(f, "{n}"),
        }
    }
}

/// A heartbeat communication medium (UDP only; serial links are parsed into [`HaCf::serial`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Medium {
    /// `bcast IF`: UDP broadcast on the interface's broadcast address.
    Bcast { iface: String, port: u16 },
    /// `mcast DEV GROUP PORT TTL LOOP`.
    Mcast {
        iface: String,
        group: Ipv4Addr,
        port: u16,
        ttl: u8,
        looped: bool,
    },
    /// `mcast6 DEV GROUP PORT HOPS LOOP`.
    Mcast6 {
        iface: String,
        group: Ipv6Addr,
        port: u16,
        hops: u8,
        looped: bool,
    },
    /// `ucast DEV PEER`: unicast to PEER:udpport. A line naming the node's own address is
    /// harmless (the packet comes back as our own and is ignored).
    Ucast {
        iface: String,
        peer: Host,
        port: u16,
    },
    /// `ucast6 DEV PEER[%scope]`.
    Ucast6 {
        iface: String,
        peer: Ipv6Addr,
        scope: Option<String>,
        port: u16,
    },
}

impl Medium {
    /// The interface it is on.
    pub fn iface(&self) -> &str {
        match self {
            Medium::Bcast { iface, .. }
            | Medium::Mcast { iface, .. }
            | Medium::Mcast6 { iface, .. }
            | Medium::Ucast { iface, .. }
            | Medium::Ucast6 { iface, .. } => iface,
        }
    }
}

/// `serial TTY` with the `baud` in force when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Serial {
    pub tty: PathBuf,
    pub baud: u32,
}

/// A ping pseudo-node: `ping IP` (one host) or `ping_group NAME IP...` (up if any answers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PingNode {
    /// The pseudo-node's name (the address for `ping`, the group name for `ping_group`).
    pub name: String,
    /// Hosts to ping.
    pub hosts: Vec<Host>,
}

/// `respawn USER /abs/path [args...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Respawn {
    pub user: String,
    /// The command line after the user, verbatim (run as `/bin/sh -c "exec ..."`).
    pub command: String,
    /// The program (first word of the command); absolute.
    pub program: PathBuf,
    /// 1-based line in ha.cf, for messages about it later (e.g. the program is missing).
    pub line: usize,
}

/// A STONITH device: `stonith TYPE CONFIGFILE` or `stonith_host FROMHOST|* TYPE PARAMS...`
/// (TYPE is a cluster-glue plugin: `stonith -L` lists them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stonith {
    /// `stonith TYPE CONFIGFILE`: the device's parameters are in the file (`stonith -F`).
    File {
        kind: String,
        config: PathBuf,
        /// 1-based line in ha.cf.
        line: usize,
    },
    /// `stonith_host FROMHOST|* TYPE PARAMS...`: used only on FROMHOST (lower case), or on
    /// every node for `*`; PARAMS are the device's parameters in order (`stonith -p`).
    Host {
        from: String,
        kind: String,
        params: Vec<String>,
        /// 1-based line in ha.cf.
        line: usize,
    },
}

impl Stonith {
    /// Whether node `local` (lower case) uses this device: always for `stonith`, for
    /// `stonith_host` when FROMHOST is `local` or `*` (`config.c:set_stonith_host_info`).
    pub fn applies_to(&self, local: &str) -> bool {
        match self {
            Stonith::File { .. } => true,
            Stonith::Host { from, .. } => from == "*" || from == local,
        }
    }

    /// The cluster-glue device type.
    pub fn kind(&self) -> &str {
        match self {
            Stonith::File { kind, .. } | Stonith::Host { kind, .. } => kind,
        }
    }

    /// The ha.cf line it was read from.
    pub fn line(&self) -> usize {
        match self {
            Stonith::File { line, .. } | Stonith::Host { line, .. } => *line,
        }
    }

    /// The directive, for messages.
    pub fn directive(&self) -> &'static str {
        match self {
            Stonith::File { .. } => "stonith",
            Stonith::Host { .. } => "stonith_host",
        }
    }
}

/// The typed contents of `ha.cf`, defaults and derived values filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct HaCf {
    pub keepalive: Duration,
    pub deadtime: Duration,
    /// "Late heartbeat" threshold; default deadtime/2.
    pub warntime: Duration,
    /// Dead time used until every node has been heard from.
    pub initdead: Duration,
    /// Dead time for ping nodes; default deadtime.
    pub deadping: Duration,
    /// The last `udpport` (media carry the port in force when they were read).
    pub udpport: u16,
    pub media: Vec<Medium>,
    /// Serial links (parsed, not used by director).
    pub serial: Vec<Serial>,
    /// Cluster members, lower-cased, in file order, without duplicates.
    pub nodes: Vec<String>,
    pub ping_nodes: Vec<PingNode>,
    pub respawn: Vec<Respawn>,
    pub auto_failback: AutoFailback,
    /// False when neither `auto_failback` nor `nice_failback` was given (Heartbeat then warns).
    pub auto_failback_explicit: bool,
    pub watchdog: Option<PathBuf>,
    pub logfile: Option<PathBuf>,
    pub debugfile: Option<PathBuf>,
    /// Syslog facility name, or `None` for `logfacility none` / unset.
    pub logfacility: Option<String>,
    /// Parsed; director has no ha_logd (`use_logd yes` is warned about).
    pub use_logd: Option<bool>,
    /// Parsed; it only matters to serial rings (warned about).
    pub hopfudge: u8,
    /// Heartbeat's debug level: > 0 logs the node's debug messages, `HA_debug` for scripts.
    pub debug: u8,
    /// `realtime` (default on): the heartbeat thread runs under SCHED_RR.
    pub realtime: bool,
    /// `rtprio` (default 10 in director; Heartbeat's is the maximum): its priority, 1..99.
    pub rtprio: Option<i32>,
    pub stonith: Vec<Stonith>,
    /// `env NAME=VALUE` (exported as `HA_NAME=VALUE` to respawned programs).
    pub env: Vec<(String, String)>,
}

impl Default for HaCf {
    fn default() -> Self {
        HaCf {
            keepalive: DEFAULT_KEEPALIVE,
            deadtime: DEFAULT_DEADTIME,
            warntime: DEFAULT_DEADTIME / 2,
            initdead: DEFAULT_DEADTIME,
            deadping: DEFAULT_DEADTIME,
            udpport: DEFAULT_UDPPORT,
            media: Vec::new(),
            serial: Vec::new(),
            nodes: Vec::new(),
            ping_nodes: Vec::new(),
            respawn: Vec::new(),
            auto_failback: AutoFailback::Legacy,
            auto_failback_explicit: false,
            watchdog: None,
            logfile: None,
            debugfile: None,
            logfacility: None,
            use_logd: None,
            hopfudge: 1,
            debug: 0,
            realtime: true,
            rtprio: None,
            stonith: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// Heartbeat's default initdead for a deadtime: = deadtime if > 10 s, 12 s if < 6 s,
/// otherwise 2 × deadtime.
pub fn default_initdead(deadtime: Duration) -> Duration {
    if deadtime > Duration::from_secs(10) {
        deadtime
    } else if deadtime < Duration::from_secs(6) {
        Duration::from_secs(12)
    } else {
        deadtime * 2
    }
}

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

const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

const BAUDS: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800];

fn option_values(rest: &str) -> Vec<&str> {
    rest.split([' ', ',', '\t', '\r', '\n', '\x0c'])
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_host(text: &str) -> Option<Host> {
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

fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '#' && c != ',')
}

fn valid_iface(name: &str) -> bool {
    // IFNAMSIZ is 16 including the NUL.
    !name.is_empty() && name.len() < 16 && !name.contains(['/', ' ', '\t'])
}

#[derive(Default)]
struct Seen {
    keepalive: bool,
    deadtime: bool,
    warntime: Option<usize>,
    initdead: Option<usize>,
    deadping: Option<usize>,
    baud: bool,
    watchdog: bool,
    crm: bool,
    auto_failback_line: Option<usize>,
    nice_failback: Option<(usize, bool)>,
    media_line: Option<usize>,
    deadtime_line: usize,
}

struct Parser {
    c: Collector,
    cf: HaCf,
    seen: Seen,
    baud: u32,
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
    fn directive(&mut self, line: usize, directive: &str, rest: &str) {
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
            "logfile" => self.each(line, directive, rest, |p, _, v| {
                p.cf.logfile = Some(PathBuf::from(v))
            }),
            "debugfile" => self.each(line, directive, rest, |p, _, v| {
                p.cf.debugfile = Some(PathBuf::from(v))
            }),
            "logfacility" => self.each(line, directive, rest, Self::logfacility),
            "use_logd" => self.each(line, directive, rest, |p, l, v| match parse_bool(v) {
                Some(b) => {
                    p.cf.use_logd = Some(b);
                    if b {
                        p.c.warn(
                            l,
                            "use_logd yes is ignored by director: it does not use ha_logd; \
                             logfile, debugfile and logfacility are honoured (stderr otherwise)",
                        );
                    }
                }
                None => p.c.error(l, format!("use_logd: invalid boolean [{v}]")),
            }),
            "realtime" => self.each(line, directive, rest, |p, l, v| match parse_bool(v) {
                Some(b) => p.cf.realtime = b,
                None => p.c.error(l, format!("realtime: invalid boolean [{v}]")),
            }),
            "rtprio" => self.each(line, directive, rest, |p, l, v| match v.parse::<i32>() {
                Ok(n) if (1..=99).contains(&n) => p.cf.rtprio = Some(n),
                _ => {
                    p.c.error(l, format!("rtprio: [{v}] is not an integer 1..99"))
                }
            }),
            "hopfudge" => self.each(line, directive, rest, |p, l, v| match v.parse::<u8>() {
                Ok(n) => {
                    p.cf.hopfudge = n;
                    p.c.warn(
                        l,
                        "directive hopfudge is ignored by director: it only matters to \
                         Heartbeat's forwarding on serial rings",
                    );
                }
                Err(_) => {
                    p.c.error(l, format!("hopfudge: [{v}] is not an integer 0..255"))
                }
            }),
            "debug" => self.each(line, directive, rest, |p, l, v| match v.parse::<u8>() {
                Ok(n) => p.cf.debug = n,
                Err(_) => {
                    p.c.error(l, format!("debug: [{v}] is not an integer 0..255"))
                }
            }),
            "crm" | "pacemaker" => self.crm(line, directive, rest),
            "autojoin" => self.each(line, directive, rest, |p, l, v| {
                if !v.eq_ignore_ascii_case("none") {
                    p.c.error(
                        l,
                        format!(
                            "autojoin {v} is not allowed with haresources: \
                             list every node with node directives (autojoin none)"
                        ),
                    );
                }
            }),
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

    fn each(
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

    fn time(&mut self, line: usize, directive: &str, rest: &str) {
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

    fn udpport(&mut self, line: usize, v: &str) {
        match v.parse::<u16>() {
            Ok(port) if port > 0 => {
                if let Some(m) = self.seen.media_line {
                    self.c.warn(
                        line,
                        format!(
                            "udpport after the medium on line {m}: media read before this line \
                             keep port {} (Heartbeat applies udpport only to later media)",
                            self.cf.udpport
                        ),
                    );
                }
                self.cf.udpport = port;
            }
            _ => self.c.error(line, format!("udpport: invalid port [{v}]")),
        }
    }

    fn push_medium(&mut self, line: usize, m: Medium) {
        self.seen.media_line.get_or_insert(line);
        self.cf.media.push(m);
    }

    fn bcast(&mut self, line: usize, v: &str) {
        if !valid_iface(v) {
            self.c
                .error(line, format!("bcast: invalid interface name [{v}]"));
            return;
        }
        let port = self.cf.udpport;
        self.push_medium(
            line,
            Medium::Bcast {
                iface: v.to_string(),
                port,
            },
        );
    }

    fn mcast_common(
        &mut self,
        line: usize,
        name: &str,
        rest: &str,
    ) -> Option<(String, String, u16, u8, bool)> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, group, port, ttl, looped] = words.as_slice() else {
            self.c.error(
                line,
                format!("{name}: expected {name} DEV GROUP PORT TTL LOOP"),
            );
            return None;
        };
        let mut ok = true;
        if !valid_iface(dev) {
            self.c
                .error(line, format!("{name}: invalid interface name [{dev}]"));
            ok = false;
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                self.c.error(line, format!("{name}: invalid port [{port}]"));
                ok = false;
                0
            }
        };
        let ttl = match ttl.parse::<u8>() {
            Ok(t) if t > 0 => t,
            _ => {
                self.c
                    .error(line, format!("{name}: invalid ttl [{ttl}] (1..255)"));
                ok = false;
                0
            }
        };
        let looped = match *looped {
            "0" => false,
            "1" => {
                self.c.warn(
                    line,
                    format!("{name}: loop 1 sends our own packets back to us; use 0"),
                );
                true
            }
            other => {
                self.c
                    .error(line, format!("{name}: invalid loop [{other}] (0 or 1)"));
                ok = false;
                false
            }
        };
        ok.then(|| (dev.to_string(), group.to_string(), port, ttl, looped))
    }

    fn mcast(&mut self, line: usize, rest: &str) {
        let Some((iface, group, port, ttl, looped)) = self.mcast_common(line, "mcast", rest) else {
            return;
        };
        match group.parse::<Ipv4Addr>() {
            Ok(g) if g.is_multicast() => self.push_medium(
                line,
                Medium::Mcast {
                    iface,
                    group: g,
                    port,
                    ttl,
                    looped,
                },
            ),
            _ => self.c.error(
                line,
                format!("mcast: [{group}] is not an IPv4 multicast group"),
            ),
        }
    }

    fn mcast6(&mut self, line: usize, rest: &str) {
        let Some((iface, group, port, hops, looped)) = self.mcast_common(line, "mcast6", rest)
        else {
            return;
        };
        match group.parse::<Ipv6Addr>() {
            Ok(g) if g.is_multicast() => self.push_medium(
                line,
                Medium::Mcast6 {
                    iface,
                    group: g,
                    port,
                    hops,
                    looped,
                },
            ),
            _ => self.c.error(
                line,
                format!("mcast6: [{group}] is not an IPv6 multicast group"),
            ),
        }
    }

    fn ucast(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, peer] = words.as_slice() else {
            self.c
                .error(line, "ucast: expected ucast DEV PEER (one peer per line)");
            return;
        };
        if !valid_iface(dev) {
            self.c
                .error(line, format!("ucast: invalid interface name [{dev}]"));
            return;
        }
        match parse_host(peer) {
            Some(Host::Ip(IpAddr::V6(_))) => self.c.error(
                line,
                format!("ucast: [{peer}] is an IPv6 address: use ucast6"),
            ),
            Some(host) => {
                let port = self.cf.udpport;
                self.push_medium(
                    line,
                    Medium::Ucast {
                        iface: dev.to_string(),
                        peer: host,
                        port,
                    },
                )
            }
            None => self
                .c
                .error(line, format!("ucast: invalid peer address [{peer}]")),
        }
    }

    fn ucast6(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, peer] = words.as_slice() else {
            self.c
                .error(line, "ucast6: expected ucast6 DEV PEER (one peer per line)");
            return;
        };
        if !valid_iface(dev) {
            self.c
                .error(line, format!("ucast6: invalid interface name [{dev}]"));
            return;
        }
        let (addr, scope) = match peer.split_once('%') {
            Some((a, s)) if !s.is_empty() => (a, Some(s.to_string())),
            Some(_) => {
                self.c
                    .error(line, format!("ucast6: empty scope in [{peer}]"));
                return;
            }
            None => (*peer, None),
        };
        match addr.parse::<Ipv6Addr>() {
            Ok(ip) => {
                let port = self.cf.udpport;
                self.push_medium(
                    line,
                    Medium::Ucast6 {
                        iface: dev.to_string(),
                        peer: ip,
                        scope,
                        port,
                    },
                )
            }
            Err(_) => self
                .c
                .error(line, format!("ucast6: invalid IPv6 address [{addr}]")),
        }
    }

    fn serial(&mut self, line: usize, v: &str) {
        if !v.starts_with('/') {
            self.c.error(
                line,
                format!("serial: [{v}] is not an absolute device path"),
            );
            return;
        }
        if self.cf.serial.is_empty() {
            self.c.warn(
                line,
                "serial links are not used by director: heartbeats travel over the UDP media only",
            );
        }
        self.cf.serial.push(Serial {
            tty: PathBuf::from(v),
            baud: self.baud,
        });
    }

    fn baud(&mut self, line: usize, v: &str) {
        if std::mem::replace(&mut self.seen.baud, true) {
            self.c.error(line, "baud may only appear once");
            return;
        }
        match v.parse::<u32>() {
            Ok(b) if BAUDS.contains(&b) => {
                if !self.cf.serial.is_empty() {
                    self.c.warn(
                        line,
                        "baud after serial: the serial lines above keep the old speed",
                    );
                }
                self.c.warn(
                    line,
                    "directive baud is ignored by director: serial links are not used",
                );
                self.baud = b;
            }
            _ => self.c.error(
                line,
                format!("baud: invalid speed [{v}] (9600 19200 38400 57600 115200 230400 460800)"),
            ),
        }
    }

    fn node(&mut self, line: usize, v: &str) {
        if !valid_node_name(v) {
            self.c.error(line, format!("node: invalid node name [{v}]"));
            return;
        }
        let name = v.to_lowercase();
        if self.cf.nodes.contains(&name) {
            self.c
                .warn(line, format!("node {name} listed more than once"));
        } else if self.cf.nodes.len() >= 100 {
            self.c.error(line, "too many nodes (at most 100)");
        } else {
            self.cf.nodes.push(name);
        }
    }

    fn ping(&mut self, line: usize, v: &str) {
        match parse_host(v) {
            Some(host) => self.cf.ping_nodes.push(PingNode {
                name: v.to_lowercase(),
                hosts: vec![host],
            }),
            None => self.c.error(line, format!("ping: invalid address [{v}]")),
        }
    }

    fn ping_group(&mut self, line: usize, rest: &str) {
        let words = option_values(rest);
        let Some((name, hosts)) = words.split_first() else {
            self.c
                .error(line, "ping_group: expected ping_group NAME IP [IP...]");
            return;
        };
        if hosts.is_empty() {
            self.c
                .error(line, format!("ping_group {name}: no addresses given"));
            return;
        }
        let mut parsed = Vec::new();
        for h in hosts {
            match parse_host(h) {
                Some(host) => parsed.push(host),
                None => self
                    .c
                    .error(line, format!("ping_group {name}: invalid address [{h}]")),
            }
        }
        self.cf.ping_nodes.push(PingNode {
            name: name.to_lowercase(),
            hosts: parsed,
        });
    }

    fn respawn(&mut self, line: usize, rest: &str) {
        let Some((user, command)) = rest.split_once(|c: char| c.is_ascii_whitespace()) else {
            self.c.error(
                line,
                "respawn: expected respawn USER /path/to/program [args...]",
            );
            return;
        };
        let command = command.trim();
        let program = command.split_whitespace().next().unwrap_or_default();
        if !program.starts_with('/') {
            self.c.error(
                line,
                format!("respawn: [{program}] is not an absolute path"),
            );
            return;
        }
        self.cf.respawn.push(Respawn {
            user: user.to_string(),
            command: command.to_string(),
            program: PathBuf::from(program),
            line,
        });
    }

    fn auto_failback(&mut self, line: usize, v: &str) {
        let mode = if v.eq_ignore_ascii_case("legacy") {
            Some(AutoFailback::Legacy)
        } else {
            parse_bool(v).map(|b| {
                if b {
                    AutoFailback::On
                } else {
                    AutoFailback::Off
                }
            })
        };
        match mode {
            Some(m) => {
                if self.seen.auto_failback_line.replace(line).is_some() {
                    self.c.warn(
                        line,
                        "auto_failback given again: this value replaces the earlier one",
                    );
                }
                if m == AutoFailback::Legacy {
                    self.c
                        .warn(line, "Deprecated 'legacy' auto_failback option selected");
                }
                self.cf.auto_failback = m;
                self.cf.auto_failback_explicit = true;
            }
            None => self.c.error(
                line,
                format!("auto_failback: invalid value [{v}] (on, off or legacy)"),
            ),
        }
    }

    fn nice_failback(&mut self, line: usize, v: &str) {
        match parse_bool(v) {
            Some(b) => {
                let instead = if b { "off" } else { "on" };
                self.c.warn(
                    line,
                    format!(
                        "nice_failback is deprecated: read as auto_failback {instead} \
                         (write auto_failback {instead} instead)"
                    ),
                );
                self.seen.nice_failback = Some((line, b));
            }
            None => self
                .c
                .error(line, format!("nice_failback: invalid boolean [{v}]")),
        }
    }

    fn watchdog(&mut self, line: usize, v: &str) {
        if std::mem::replace(&mut self.seen.watchdog, true) {
            self.c.error(line, "watchdog may only appear once");
            return;
        }
        if !v.starts_with('/') {
            self.c.error(
                line,
                format!("watchdog: [{v}] is not an absolute device path"),
            );
            return;
        }
        self.cf.watchdog = Some(PathBuf::from(v));
    }

    fn logfacility(&mut self, line: usize, v: &str) {
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

    fn crm(&mut self, line: usize, directive: &str, rest: &str) {
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

    fn env(&mut self, line: usize, rest: &str) {
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

    fn stonith(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [kind, config] = words.as_slice() else {
            self.c
                .error(line, "stonith: expected stonith TYPE CONFIGFILE");
            return;
        };
        self.cf.stonith.push(Stonith::File {
            kind: kind.to_string(),
            config: PathBuf::from(config),
            line,
        });
    }

    fn stonith_host(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [from, kind, params @ ..] = words.as_slice() else {
            self.c.error(
                line,
                "stonith_host: expected stonith_host FROMHOST|* TYPE PARAMS...",
            );
            return;
        };
        self.cf.stonith.push(Stonith::Host {
            from: from.to_lowercase(),
            kind: kind.to_string(),
            params: params.iter().map(ToString::to_string).collect(),
            line,
        });
    }

    fn finish(mut self) -> Result<Parsed<HaCf>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(text: &str) -> Parsed<HaCf> {
        match parse(Path::new("ha.cf"), text) {
            Ok(p) => p,
            Err(e) => panic!("unexpected errors:\n{e}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("ha.cf"), text) {
            Ok(p) => panic!("expected errors, got {:?}", p.value),
            Err(e) => e.errors().map(ToString::to_string).collect(),
        }
    }

    const MIN: &str = "bcast eth1\nnode a\nnode b\nauto_failback on\n";

    #[test]
    fn times() {
        assert_eq!(parse_time("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1500us"), Some(Duration::from_millis(2)));
        assert_eq!(parse_time("2000usec"), Some(Duration::from_millis(2)));
        assert_eq!(parse_time("2s"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("ms"), None);
        assert_eq!(parse_time("-1"), None);
        assert_eq!(parse_time("1.2.3"), None);
        assert_eq!(parse_time("1e3"), None);
    }

    #[test]
    fn booleans() {
        for t in ["true", "ON", "Yes", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "off", "NO", "n", "0"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn defaults() {
        let cf = ok(MIN).value;
        assert_eq!(cf.keepalive, Duration::from_secs(1));
        assert_eq!(cf.deadtime, Duration::from_secs(30));
        assert_eq!(cf.warntime, Duration::from_secs(15));
        assert_eq!(cf.initdead, Duration::from_secs(30));
        assert_eq!(cf.deadping, Duration::from_secs(30));
        assert_eq!(cf.udpport, 694);
        assert_eq!(
            cf.media,
            vec![Medium::Bcast {
                iface: "eth1".into(),
                port: 694
            }]
        );
        assert_eq!(cf.nodes, vec!["a", "b"]);
        assert_eq!(cf.auto_failback, AutoFailback::On);
    }

    #[test]
    fn derived_initdead() {
        assert_eq!(
            default_initdead(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(
            default_initdead(Duration::from_secs(3)),
            Duration::from_secs(12)
        );
        assert_eq!(
            default_initdead(Duration::from_secs(8)),
            Duration::from_secs(16)
        );
        let cf = ok(&format!("{MIN}keepalive 1\ndeadtime 3\n")).value;
        assert_eq!(cf.initdead, Duration::from_secs(12));
        assert_eq!(cf.warntime, Duration::from_millis(1500));
    }

    #[test]
    fn the_seed_file_parses() {
        let text = "debugfile /var/log/ha-debug\nlogfile /var/log/ha-log\nlogfacility local0\n\
            bcast eth1 # the private link\nnode XD_Blog_Web_184_251#one per node\n\
            node XD_Blog_Web_184_145\nserial /dev/ttyS0\nwatchdog /dev/watchdog\n\
            keepalive 2\nwarntime 10\ndeadtime 30\ninitdead 120\nhopfudge 1\nbaud 19200\n\
            udpport 694\nnice_failback on\n\
            respawn hacluster /usr/lib/heartbeat/ipfail\nping 10.55.37.1\n\
            ping_group group1 10.55.37.2 10.55.37.3\n";
        let p = ok(text);
        let cf = p.value;
        assert_eq!(cf.nodes, vec!["xd_blog_web_184_251", "xd_blog_web_184_145"]);
        assert_eq!(cf.keepalive, Duration::from_secs(2));
        assert_eq!(cf.warntime, Duration::from_secs(10));
        assert_eq!(cf.initdead, Duration::from_secs(120));
        assert_eq!(cf.auto_failback, AutoFailback::Off);
        assert_eq!(cf.watchdog, Some(PathBuf::from("/dev/watchdog")));
        assert_eq!(
            cf.serial,
            vec![Serial {
                tty: "/dev/ttyS0".into(),
                baud: 19200
            }]
        );
        assert_eq!(cf.ping_nodes.len(), 2);
        assert_eq!(cf.ping_nodes[1].hosts.len(), 2);
        assert_eq!(cf.respawn[0].user, "hacluster");
        assert_eq!(
            cf.respawn[0].program,
            PathBuf::from("/usr/lib/heartbeat/ipfail")
        );
        assert_eq!(cf.logfacility.as_deref(), Some("local0"));
        let warnings: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("nice_failback is deprecated")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("serial links")),
            "{warnings:?}"
        );
    }

    #[test]
    fn option_directives_split_on_commas_and_spaces() {
        let cf = ok("bcast eth0, eth1\nnode a,b c\nauto_failback off\n").value;
        assert_eq!(cf.nodes, vec!["a", "b", "c"]);
        assert_eq!(cf.media.len(), 2);
    }

    #[test]
    fn media_forms() {
        let cf = ok(
            "udpport 1694\nmcast eth0 225.0.0.1 694 1 0\nmcast6 eth0 ff12::1 694 1 0\n\
             ucast eth0 192.0.2.12\nucast eth0 peer.example\nucast6 eth0 fe80::1%eth0\n\
             node a\nauto_failback on\n",
        )
        .value;
        assert_eq!(
            cf.media,
            vec![
                Medium::Mcast {
                    iface: "eth0".into(),
                    group: Ipv4Addr::new(225, 0, 0, 1),
                    port: 694,
                    ttl: 1,
                    looped: false
                },
                Medium::Mcast6 {
                    iface: "eth0".into(),
                    group: "ff12::1".parse().unwrap(),
                    port: 694,
                    hops: 1,
                    looped: false
                },
                Medium::Ucast {
                    iface: "eth0".into(),
                    peer: Host::Ip("192.0.2.12".parse().unwrap()),
                    port: 1694
                },
                Medium::Ucast {
                    iface: "eth0".into(),
                    peer: Host::Name("peer.example".into()),
                    port: 1694
                },
                Medium::Ucast6 {
                    iface: "eth0".into(),
                    peer: "fe80::1".parse().unwrap(),
                    scope: Some("eth0".into()),
                    port: 1694
                },
            ]
        );
    }

    #[test]
    fn udpport_applies_to_later_media_only() {
        let p = ok("bcast eth0\nudpport 700\nbcast eth1\nnode a\nauto_failback on\n");
        assert_eq!(
            p.value.media,
            vec![
                Medium::Bcast {
                    iface: "eth0".into(),
                    port: 694
                },
                Medium::Bcast {
                    iface: "eth1".into(),
                    port: 700
                }
            ]
        );
        assert!(p
            .warnings
            .iter()
            .any(|w| w.line == 2 && w.message.contains("udpport after")));
    }

    #[test]
    fn every_error_is_collected_with_its_line() {
        let errs = errors("keepalive 2s\nfoo bar\nbcast\nmcast eth0 1.2.3.4 694 1 0\nnode a\nucast eth0\ncrm on\nautojoin any\n");
        assert_eq!(errs.len(), 8, "{errs:?}");
        assert!(errs[0].starts_with("ha.cf:1: keepalive: invalid time [2s]"));
        assert_eq!(errs[1], "ha.cf:2: illegal directive [foo]");
        assert!(errs[2].starts_with("ha.cf:3: directive bcast needs a value"));
        assert!(errs[3].starts_with("ha.cf:4: mcast: [1.2.3.4] is not an IPv4 multicast"));
        assert!(errs[4].starts_with("ha.cf:6: ucast: expected"));
        assert!(errs[5].starts_with("ha.cf:7: crm on is not supported"));
        assert!(errs[6].starts_with("ha.cf:8: autojoin any"));
    }

    #[test]
    fn crm_off_is_accepted() {
        ok(&format!("{MIN}crm off\n"));
        ok(&format!("{MIN}pacemaker no\n"));
    }

    #[test]
    fn deadtime_must_exceed_twice_keepalive() {
        let errs = errors(&format!("{MIN}keepalive 2\ndeadtime 4\n"));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ha.cf:6: Dead time [4000 ms] is too small")),
            "{errs:?}"
        );
        ok(&format!(
            "{MIN}keepalive 500ms\ndeadtime 1.5\ninitdead 12\n"
        ));
    }

    #[test]
    fn initdead_below_deadtime_is_an_error_and_below_10s_a_warning() {
        let errs = errors(&format!("{MIN}deadtime 30\ninitdead 20\n"));
        assert!(
            errs.iter()
                .any(|e| e.contains("initdead [20000 ms] must not be less")),
            "{errs:?}"
        );
        let p = ok(&format!("{MIN}keepalive 1\ndeadtime 3\ninitdead 5\n"));
        assert!(p.warnings.iter().any(|w| w.message.contains("below 10 s")));
    }

    #[test]
    fn warntime_checks() {
        let errs = errors(&format!("{MIN}keepalive 2\nwarntime 1\n"));
        assert!(errs
            .iter()
            .any(|e| e.contains("warntime [1000 ms] must be greater than keepalive")));
        let p = ok(&format!("{MIN}warntime 40\n"));
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("no Late heartbeat")));
    }

    #[test]
    fn missing_media_and_nodes() {
        let errs = errors("auto_failback on\n");
        assert!(errs
            .iter()
            .any(|e| e == "ha.cf: no communication media configured (bcast, mcast, ucast, ...)"));
        assert!(errs.iter().any(|e| e.contains("no node directive")));
    }

    #[test]
    fn ignored_directives_warn() {
        let p = ok(&format!(
            "{MIN}realtime on\napiauth ipfail uid=hacluster\nmsgfmt netstring\n"
        ));
        let w: Vec<_> = p
            .warnings
            .iter()
            .filter(|w| w.message.contains("ignored by director"))
            .collect();
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn directives_that_do_not_apply_warn_at_their_line() {
        let p = ok(&format!(
            "{MIN}hopfudge 2\nuse_logd yes\nuse_logd no\ndebug 3\nlogfile /var/log/ha-log\n"
        ));
        let w: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert!(
            w.iter()
                .any(|w| w
                    .starts_with("ha.cf:5: warning: directive hopfudge is ignored by director")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("ha.cf:6: warning: use_logd yes is ignored by director")),
            "{w:?}"
        );
        // Honoured: no warning for debug, logfile, use_logd no.
        assert!(
            !w.iter().any(|w| w.starts_with("ha.cf:7:")
                || w.starts_with("ha.cf:8:")
                || w.starts_with("ha.cf:9:")),
            "{w:?}"
        );
        assert_eq!((p.value.hopfudge, p.value.debug), (2, 3));
        assert_eq!(p.value.logfile, Some(PathBuf::from("/var/log/ha-log")));
        let p = ok(&format!("{MIN}baud 38400\n"));
        assert!(p.warnings.iter().any(|w| w.line == 5
            && w.message == "directive baud is ignored by director: serial links are not used"));
    }

    #[test]
    fn realtime_and_rtprio_are_honoured() {
        let on = ok(MIN).value;
        assert!(on.realtime);
        assert_eq!(on.rtprio, None);
        let off = ok(&format!("{MIN}realtime off\nrtprio 20\n")).value;
        assert!(!off.realtime);
        assert_eq!(off.rtprio, Some(20));
        let bad = errors(&format!("{MIN}rtprio 200\n"));
        assert!(bad.iter().any(|e| e.contains("rtprio: [200]")), "{bad:?}");
    }

    #[test]
    fn auto_failback_modes() {
        assert_eq!(
            ok("bcast e\nnode a\nauto_failback off\n")
                .value
                .auto_failback,
            AutoFailback::Off
        );
        let p = ok("bcast e\nnode a\nauto_failback legacy\n");
        assert_eq!(p.value.auto_failback, AutoFailback::Legacy);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("Deprecated 'legacy'")));
        let p = ok("bcast e\nnode a\n");
        assert_eq!(p.value.auto_failback, AutoFailback::Legacy);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("auto_failback not set")));
        assert_eq!(
            ok("bcast e\nnode a\nnice_failback off\n")
                .value
                .auto_failback,
            AutoFailback::On
        );
        assert_eq!(
            ok("bcast e\nnode a\nnice_failback on\nauto_failback on\n")
                .value
                .auto_failback,
            AutoFailback::On
        );
        assert!(!errors("bcast e\nnode a\nauto_failback sometimes\n").is_empty());
    }

    #[test]
    fn once_only_directives() {
        let errs = errors(&format!(
            "{MIN}watchdog /dev/watchdog\nwatchdog /dev/watchdog\nbaud 9600\nbaud 9600\n"
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(!errors(&format!("{MIN}baud 1234\n")).is_empty());
    }

    #[test]
    fn respawn_and_stonith() {
        let cf = ok(&format!(
            "{MIN}respawn hacluster /usr/libexec/heartbeat/ipfail -x\nstonith_host * external/ssh a b\nstonith baytech /etc/ha.d/conf/stonith.baytech\n"
        ))
        .value;
        assert_eq!(cf.respawn[0].command, "/usr/libexec/heartbeat/ipfail -x");
        assert_eq!(cf.stonith.len(), 2);
        assert_eq!(
            cf.stonith[0],
            Stonith::Host {
                from: "*".into(),
                kind: "external/ssh".into(),
                params: vec!["a".into(), "b".into()],
                line: 6
            }
        );
        assert!(cf.stonith[0].applies_to("a") && cf.stonith[1].applies_to("a"));
        assert_eq!((cf.stonith[1].kind(), cf.stonith[1].line()), ("baytech", 7));
        let only_b = ok(&format!("{MIN}stonith_host B null a b\n")).value;
        assert!(only_b.stonith[0].applies_to("b") && !only_b.stonith[0].applies_to("a"));
        assert!(!errors(&format!("{MIN}respawn hacluster ipfail\n")).is_empty());
        assert!(!errors(&format!("{MIN}respawn hacluster\n")).is_empty());
    }

    #[test]
    fn ping_directives() {
        let cf = ok(&format!(
            "{MIN}ping 192.0.2.1 192.0.2.2\nping_group g 198.51.100.1,198.51.100.2\n"
        ))
        .value;
        assert_eq!(cf.ping_nodes.len(), 3);
        assert_eq!(cf.ping_nodes[2].name, "g");
        assert!(!errors(&format!("{MIN}ping 999.1.1.1\n")).is_empty());
        assert!(!errors(&format!("{MIN}ping_group g\n")).is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(text in ".*") {
            let _ = parse(Path::new("ha.cf"), &text);
        }

        #[test]
        fn never_panics_on_directive_soup(lines in proptest::collection::vec(
            (proptest::sample::select(vec![
                "keepalive", "deadtime", "warntime", "initdead", "deadping", "udpport", "bcast",
                "mcast", "mcast6", "ucast", "ucast6", "serial", "baud", "node", "ping",
                "ping_group", "respawn", "auto_failback", "nice_failback", "watchdog", "crm",
                "autojoin", "env", "stonith", "stonith_host", "hopfudge", "logfacility"]),
             "[ -~]{0,40}"), 0..12)) {
            let text: String = lines.iter().map(|(d, r)| format!("{d} {r}\n")).collect();
            let _ = parse(Path::new("ha.cf"), &text);
        }

        #[test]
        fn time_round_trips_ms(ms in 0u64..10_000_000) {
            prop_assert_eq!(parse_time(&format!("{ms}ms")), Some(Duration::from_millis(ms)));
        }
    }
}
