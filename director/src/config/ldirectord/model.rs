//! The typed result of reading an ldirectord configuration file.
//!
//! Every value is what ldirectord 1.186 ends up using: defaults filled in, names resolved,
//! per-virtual settings merged with the globals (`VirtualService` carries effective values, and
//! `Globals` what the file said at global level).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::ipvs::Family;

/// One ldirectord configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub globals: Globals,
    /// The `virtual=` / `virtual6=` blocks, in file order.
    pub virtuals: Vec<VirtualService>,
}

/// Global directives (column 0, outside any block), with ldirectord's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    /// `checktimeout` as written (effective value per virtual: `Timing`).
    pub checktimeout: Option<u32>,
    /// `negotiatetimeout` as written.
    pub negotiatetimeout: Option<u32>,
    /// `checkinterval`, default 10 s.
    pub checkinterval: u32,
    /// `checkcount` (deprecated; ICMP attempts of `checktype=ping`), default 1.
    pub checkcount: u32,
    /// `failurecount`, default 1.
    pub failurecount: u32,
    /// `fallback=` for IPv4 services.
    pub fallback: Option<GlobalFallback>,
    /// `fallback6=` for IPv6 services.
    pub fallback6: Option<GlobalFallback>,
    /// `fallbackcommand`, verbatim (quotes kept: the shell strips them).
    pub fallbackcommand: Option<String>,
    /// `autoreload`, default no.
    pub autoreload: bool,
    /// `callback="..."`.
    pub callback: Option<String>,
    /// `logfile="..."`, default `/var/log/ldirectord.log`.
    pub logfile: LogTarget,
    /// The line of the `logfile=` that set it (`None`: the default).
    pub logfile_line: Option<usize>,
    /// `execute=NAME` lines: other ldirectord configurations started alongside, in file order.
    pub execute: Vec<String>,
    /// `fork`, default no.
    pub fork: bool,
    /// `supervised`, default no.
    pub supervised: bool,
    /// `quiescent`, default **no** (the POD says yes; the code says no).
    pub quiescent: bool,
    /// `readdquiescent`, default no.
    pub readdquiescent: bool,
    /// `emailalert`: the comma-separated recipients.
    pub emailalert: Vec<String>,
    /// `emailalertfreq` in seconds, default 0 (no reminders).
    pub emailalertfreq: u32,
    /// `emailalertstatus`, default all.
    pub emailalertstatus: AlertStatus,
    /// `emailalertfrom`.
    pub emailalertfrom: Option<String>,
    /// `smtp` relay for alerts.
    pub smtp: Option<String>,
    /// `cleanstop`, default yes.
    pub cleanstop: bool,
    /// `maintenancedir`.
    pub maintenancedir: Option<PathBuf>,
    /// `tlsverify` (director's own directive): how TLS checks treat certificates.
    pub tlsverify: Option<TlsVerify>,
}

/// `tlsverify=`: how the certificate of a TLS check is checked (healthcheck's type: `chain`,
/// `yes` = full, `no` = none). Unset, https verifies the chain and the other TLS checks verify
/// nothing, as ldirectord does.
pub use healthcheck::negotiate::TlsVerify;

impl Default for Globals {
    fn default() -> Self {
        Globals {
            checktimeout: None,
            negotiatetimeout: None,
            checkinterval: 10,
            checkcount: 1,
            failurecount: 1,
            fallback: None,
            fallback6: None,
            fallbackcommand: None,
            autoreload: false,
            callback: None,
            logfile: LogTarget::default(),
            logfile_line: None,
            execute: Vec::new(),
            fork: false,
            supervised: false,
            quiescent: false,
            readdquiescent: false,
            emailalert: Vec::new(),
            emailalertfreq: 0,
            emailalertstatus: AlertStatus::ALL,
            emailalertfrom: None,
            smtp: None,
            cleanstop: true,
            maintenancedir: None,
            tlsverify: None,
        }
    }
}

/// Where ldirectord logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// An absolute path: one line appended per message.
    File(PathBuf),
    /// A syslog facility name (`local0`, `daemon`, ...).
    Syslog(String),
}

impl Default for LogTarget {
    fn default() -> Self {
        LogTarget::File(PathBuf::from("/var/log/ldirectord.log"))
    }
}

/// The daemon states in which alert mails are sent (`emailalertstatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertStatus {
    pub starting: bool,
    pub running: bool,
    pub stopping: bool,
    pub reloading: bool,
}

impl AlertStatus {
    pub const ALL: AlertStatus = AlertStatus {
        starting: true,
        running: true,
        stopping: true,
        reloading: true,
    };
    pub const NONE: AlertStatus = AlertStatus {
        starting: false,
        running: false,
        stopping: false,
        reloading: false,
    };
}

impl Default for AlertStatus {
    fn default() -> Self {
        AlertStatus::ALL
    }
}

/// A global `fallback=` line, resolved once per protocol as ldirectord does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalFallback {
    /// Line of the directive.
    pub line: usize,
    /// The fallback for tcp services (`None` if its port name has no tcp entry).
    pub tcp: Option<FallbackSpec>,
    /// The fallback for udp services (`None` if its port name has no udp entry).
    pub udp: Option<FallbackSpec>,
}

/// A fallback as written: the port may be missing (then the virtual's port is used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FallbackSpec {
    pub addr: IpAddr,
    pub port: Option<u16>,
    pub method: Method,
}

/// The fallback ("sorry server") a virtual service uses: weight 1, present only while no
/// real server of the virtual is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fallback {
    pub addr: IpAddr,
    pub port: u16,
    pub method: Method,
}

/// Forwarding method of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `gate`: direct routing (`ipvsadm -g`).
    Gate,
    /// `masq`: NAT (`ipvsadm -m`).
    Masq,
    /// `ipip`: IP-in-IP tunnel (`ipvsadm -i`).
    Ipip,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Gate => "gate",
            Method::Masq => "masq",
            Method::Ipip => "ipip",
        }
    }

    pub(crate) fn from_word(word: &str) -> Option<Method> {
        match word {
            "gate" => Some(Method::Gate),
            "masq" => Some(Method::Masq),
            "ipip" => Some(Method::Ipip),
            _ => None,
        }
    }
}

/// How a virtual service is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VirtualAddress {
    /// `virtual=ADDR:PORT` (tcp or udp).
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `virtual=MARK` / `virtual6=MARK`: a firewall-mark service (protocol `fwm`).
    Fwmark { family: Family, mark: u32 },
}

impl VirtualAddress {
    pub fn family(&self) -> Family {
        match self {
            VirtualAddress::Addr { addr, .. } => Family::of(addr),
            VirtualAddress::Fwmark { family, .. } => *family,
        }
    }

    /// The service port (0 for firewall marks).
    pub fn port(&self) -> u16 {
        match self {
            VirtualAddress::Addr { port, .. } => *port,
            VirtualAddress::Fwmark { .. } => 0,
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            VirtualAddress::Addr { protocol, .. } => *protocol,
            VirtualAddress::Fwmark { .. } => Protocol::Fwm,
        }
    }
}

/// ldirectord's identifier of a virtual service in logs: `tcp:192.0.2.1:80`,
/// `udp:[2001:db8::1]:53`, `fwm:5`, `fwm6:7`.
impl std::fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VirtualAddress::Addr {
                protocol,
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "{}:[{a}]:{port}", protocol.name()),
            VirtualAddress::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{}:{addr}:{port}", protocol.name()),
            VirtualAddress::Fwmark {
                family: Family::V4,
                mark,
            } => write!(f, "fwm:{mark}"),
            VirtualAddress::Fwmark {
                family: Family::V6,
                mark,
            } => write!(f, "fwm6:{mark}"),
        }
    }
}

/// `protocol=` of a virtual service: healthcheck's type (`tcp`, `udp`, `fwm`).
pub use healthcheck::spec::Protocol;

/// `service=`: which negotiate check runs (healthcheck's type).
pub use healthcheck::spec::Service;

/// `checktype=` (healthcheck's type; `external` and `external-perl` carry `checkcommand`).
pub use healthcheck::spec::CheckType;

/// `httpmethod=` (healthcheck's type).
pub use healthcheck::negotiate::HttpMethod;

/// `netmask=`: persistence granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    V4(Ipv4Addr),
    /// IPv6 prefix length, 1..=128.
    V6Prefix(u8),
}

/// Check timing of one virtual service, after ldirectord's precedence rules (ref 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Effective checktimeout: virtual checktimeout, virtual negotiatetimeout, global
    /// checktimeout, global negotiatetimeout, 5.
    pub checktimeout: u32,
    /// Effective negotiatetimeout: virtual negotiatetimeout, virtual checktimeout, global
    /// negotiatetimeout, global checktimeout, 30.
    pub negotiatetimeout: u32,
    /// Seconds between checks: the virtual's `checkinterval` with fork=yes, else the global one.
    pub checkinterval: u32,
    /// ICMP attempts per ping check.
    pub checkcount: u32,
    /// Consecutive failures before an up real server is taken out.
    pub failurecount: u32,
}

/// E-mail alert settings of one virtual service (per-virtual values over the globals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Recipients; empty = no mail.
    pub to: Vec<String>,
    pub freq: u32,
    pub status: AlertStatus,
    pub from: Option<String>,
    pub smtp: Option<String>,
}

/// A virtual's `monitorfile=`: opened for append when the file is loaded (an error if it
/// cannot be), then one line appended per check result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MonitorFile {
    pub path: PathBuf,
    /// Line of the directive.
    pub line: usize,
}

/// One real server (ranges are expanded: one `Real` per address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Real {
    /// Line of the `real=` directive.
    pub line: usize,
    pub addr: IpAddr,
    /// The port as configured; 0 when omitted.
    pub port: u16,
    pub method: Method,
    /// Default 1.
    pub weight: u32,
    /// Per-real request override (a `/` is prepended if missing, as ldirectord does).
    pub request: Option<String>,
    /// Per-real receive override.
    pub receive: Option<String>,
    /// `l:N`: lower connection threshold (ipvsadm `-y`), 0 = none.
    pub lower: u32,
    /// `u:N`: upper connection threshold (ipvsadm `-x`), 0 = none.
    pub upper: u32,
}

/// A `virtual=` / `virtual6=` block with every setting as ldirectord uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    /// Line of the `virtual=` directive.
    pub line: usize,
    pub address: VirtualAddress,
    pub reals: Vec<Real>,
    /// The effective fallback: the block's own, else the global one for its family and
    /// protocol (port defaulting to the virtual's port).
    pub fallback: Option<Fallback>,
    /// The effective fallback command (block, else global).
    pub fallbackcommand: Option<String>,
    /// Default derived from the port (`Service::from_port`); `none` for firewall marks.
    pub service: Service,
    pub checktype: CheckType,
    /// Port the checks use, if set (else the real's port, else the service's well-known port).
    pub checkport: Option<u16>,
    pub timing: Timing,
    /// Default `/`; always starts with `/`.
    pub request: String,
    /// Default empty (= do not check the response body).
    pub receive: String,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    /// Default empty; `service=ftp` sets `anonymous`, `service=sip` sets `ldirectord@HOST`.
    pub login: String,
    /// Default empty; `service=ftp` sets `ldirectord@HOST`.
    pub passwd: String,
    pub database: String,
    pub secret: String,
    /// `load="..."`: parsed, never used by ldirectord.
    pub load: Option<String>,
    /// Default `wrr`.
    pub scheduler: String,
    /// Persistence timeout in seconds (`ipvsadm -p`).
    pub persistent: Option<u32>,
    /// Persistence netmask (`ipvsadm -M`); only used with `persistent`.
    pub netmask: Option<Netmask>,
    /// `schedflags` (`ipvsadm -b`), as written.
    pub schedflags: Option<String>,
    /// One-packet scheduling; only used for udp services.
    pub ops: bool,
    /// Effective quiescent (block, else global).
    pub quiescent: bool,
    /// Effective cleanstop (block, else global).
    pub cleanstop: bool,
    /// Effective `tlsverify` (block, else global); `None`: the service's default.
    pub tlsverify: Option<TlsVerify>,
    pub alert: Alert,
    /// `monitorfile=`: one line per check result (`monitor::line`).
    pub monitorfile: Option<MonitorFile>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    /// What `director.conf`'s `[[service]]` table for it adds (quorum, HTTP pages); never
    /// set by the file itself ([`crate::config::service`]).
    pub director: failover::config::settings::ServiceExtra,
}

impl VirtualService {
    pub fn family(&self) -> Family {
        self.address.family()
    }

    /// The port the checks of `real` use: `checkport`, else the real's port if non-zero,
    /// else the service's well-known port (ldirectord's `ld_checkport`).
    pub fn checkport_for(&self, real: &Real) -> Option<u16> {
        if let Some(p) = self.checkport {
            return Some(p);
        }
        if real.port > 0 {
            return Some(real.port);
        }
        self.service.well_known_port()
    }

    /// The request and receive a real's check uses (its own override, else the virtual's).
    pub fn request_for<'a>(&'a self, real: &'a Real) -> (&'a str, &'a str) {
        match (&real.request, &real.receive) {
            (Some(req), Some(rec)) => (req, rec),
            _ => (&self.request, &self.receive),
        }
    }
}
