//! What `ha.cf` says, once parsed ([`HaCf`]), and Heartbeat's defaults.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

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
