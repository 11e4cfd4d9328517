//! Validated check definitions, independent of any file format.
//!
//! The director maps its parsed ldirectord configuration to [`CheckSpec`]s; this module holds
//! ldirectord's defaults (ldirectord.md §3, §4.3), the effective timeouts (§5.1), the check port
//! rule (`ld_checkport`) and which timeout bounds which attempt.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::negotiate::Negotiate;
use crate::negotiate::Transport;

/// ldirectord's `checkinterval` default.
pub const DEFAULT_CHECKINTERVAL: Duration = Duration::from_secs(10);
/// Effective `checktimeout` when neither timeout is set anywhere.
pub const DEFAULT_CHECKTIMEOUT: Duration = Duration::from_secs(5);
/// Effective `negotiatetimeout` when neither timeout is set anywhere.
pub const DEFAULT_NEGOTIATETIMEOUT: Duration = Duration::from_secs(30);
/// ldirectord's `checkcommand` default.
pub const DEFAULT_CHECKCOMMAND: &str = "/bin/true";
/// What an external check's deadline allows beyond its timeout and SIGTERM grace, for the
/// SIGKILL and the reaping ([`CheckSpec::deadline`]).
const EXTERNAL_REAP: Duration = Duration::from_secs(1);

/// `checktype=`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckType {
    /// Protocol check selected by `service`.
    Negotiate,
    /// TCP connect to the check port (an ICMP echo for UDP services).
    Connect,
    /// ICMP echo, `checkcount` attempts.
    Ping,
    /// `<cmd> <vip or fwmark> <vport> <rip> <rport>`, exit status 0 = up.
    External { cmd: PathBuf },
    /// Same arguments, a Perl file (run with `perl`, ldirectord evaluates it in-process).
    ExternalPerl { cmd: PathBuf },
    /// No check, the real is always up.
    On,
    /// No check at all: the real is never brought up by a check.
    Off,
    /// `checktype=N`: negotiate, then N connect checks after each successful negotiate.
    Combined(u32),
}

impl CheckType {
    /// ldirectord's name for the check type (`combined` for `N`).
    pub fn name(&self) -> &'static str {
        match self {
            CheckType::Negotiate => "negotiate",
            CheckType::Connect => "connect",
            CheckType::Ping => "ping",
            CheckType::External { .. } => "external",
            CheckType::ExternalPerl { .. } => "external-perl",
            CheckType::On => "on",
            CheckType::Off => "off",
            CheckType::Combined(_) => "combined",
        }
    }
}

/// `service=`: which negotiate check to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Dns,
    Ftp,
    Http,
    Https,
    HttpProxy,
    Imap,
    Imaps,
    Ldap,
    Ldaps,
    Mysql,
    Nntp,
    /// No negotiate check: the real is always up.
    None,
    Oracle,
    Pgsql,
    Pop,
    Pops,
    Radius,
    Simpletcp,
    Sip,
    Smtp,
    Submission,
}

const SERVICES: [(Service, &str, Option<u16>); 21] = [
    (Service::Dns, "dns", Some(53)),
    (Service::Ftp, "ftp", Some(21)),
    (Service::Http, "http", Some(80)),
    (Service::Https, "https", Some(443)),
    (Service::HttpProxy, "http_proxy", Some(3128)),
    (Service::Imap, "imap", Some(143)),
    (Service::Imaps, "imaps", Some(993)),
    (Service::Ldap, "ldap", Some(389)),
    (Service::Ldaps, "ldaps", Some(636)),
    (Service::Mysql, "mysql", Some(3306)),
    (Service::Nntp, "nntp", Some(119)),
    (Service::None, "none", None),
    (Service::Oracle, "oracle", Some(1521)),
    (Service::Pgsql, "pgsql", Some(5432)),
    (Service::Pop, "pop", Some(110)),
    (Service::Pops, "pops", Some(995)),
    (Service::Radius, "radius", Some(1812)),
    (Service::Simpletcp, "simpletcp", None),
    (Service::Sip, "sip", Some(5060)),
    (Service::Smtp, "smtp", Some(25)),
    (Service::Submission, "submission", Some(587)),
];

impl Service {
    /// Every service, in ldirectord's alphabetical order.
    pub fn all() -> impl Iterator<Item = Service> {
        SERVICES.iter().map(|(s, _, _)| *s)
    }

    /// ldirectord's name (`http_proxy`, `simpletcp`, ...).
    pub fn name(self) -> &'static str {
        SERVICES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("none", |(_, n, _)| n)
    }

    /// `ld_service_to_port`: the well-known port, `None` for `none` and `simpletcp`.
    pub fn well_known_port(self) -> Option<u16> {
        SERVICES
            .iter()
            .find(|(s, _, _)| *s == self)
            .and_then(|(_, _, p)| *p)
    }

    /// `ld_port_to_service`: the default service of a virtual port (`none` for any other port
    /// and for fwmark services, which have port 0).
    pub fn from_port(port: u16) -> Service {
        if port == 0 {
            return Service::None;
        }
        SERVICES
            .iter()
            .find(|(s, _, p)| *p == Some(port) && *s != Service::Simpletcp)
            .map_or(Service::None, |(s, _, _)| *s)
    }

    /// Which timeout bounds a negotiate check of this service (ldirectord.md §5.1).
    /// SQL checks have none in ldirectord; here they get `negotiatetimeout`.
    pub fn negotiate_bound(self) -> TimeoutKind {
        match self {
            Service::Ldap | Service::Ldaps | Service::Radius => TimeoutKind::Check,
            _ => TimeoutKind::Negotiate,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `service=` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service \"{0}\"")]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SERVICES
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(s, _, _)| *s)
            .ok_or_else(|| UnknownService(s.to_string()))
    }
}

/// `protocol=` of the virtual service the real belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    /// Firewall-mark service (checks use TCP).
    Fwm,
}

impl Protocol {
    /// ldirectord's name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Fwm => "fwm",
        }
    }
}

/// The virtual service as an external check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VirtualId {
    /// `virtual=ip:port` / `virtual6=[ip]:port`.
    Addr(SocketAddr),
    /// `virtual=N`: firewall mark (vport is 0).
    Fwmark(u32),
}

/// Which of the two effective timeouts applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Check,
    Negotiate,
}

/// `checktimeout` / `negotiatetimeout` as written at one level (virtual or global).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutSettings {
    pub checktimeout: Option<Duration>,
    pub negotiatetimeout: Option<Duration>,
}

/// The effective `(checktimeout, negotiatetimeout)` of a virtual service (ldirectord.md §5.1):
/// a per-virtual value of either kind beats both globals.
pub fn effective_timeouts(
    virtual_level: TimeoutSettings,
    global: TimeoutSettings,
) -> (Duration, Duration) {
    let check = virtual_level
        .checktimeout
        .or(virtual_level.negotiatetimeout)
        .or(global.checktimeout)
        .or(global.negotiatetimeout)
        .unwrap_or(DEFAULT_CHECKTIMEOUT);
    let negotiate = virtual_level
        .negotiatetimeout
        .or(virtual_level.checktimeout)
        .or(global.negotiatetimeout)
        .or(global.checktimeout)
        .unwrap_or(DEFAULT_NEGOTIATETIMEOUT);
    (check, negotiate)
}

/// `ld_checkport`: `checkport=` if set, else the real's port if nonzero, else the service's
/// well-known port. `None` when nothing gives a port (port-less real, service none/simpletcp).
pub fn checkport(explicit: Option<u16>, real_port: u16, service: Service) -> Option<u16> {
    explicit
        .or((real_port > 0).then_some(real_port))
        .or(service.well_known_port())
}

/// What one pass of a check does (combined checks alternate; see [`crate::tracker::Combined`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attempt {
    /// The negotiate check of the service.
    Negotiate,
    /// TCP connect (or UDP socket connect for a combined check of a UDP service).
    Connect,
    /// ICMP echo (`checktype=ping`, or `connect` on a UDP service).
    Ping,
    /// Run the external command.
    External,
    /// Run the external Perl file.
    ExternalPerl,
    /// No I/O, the real is up (`on`, `service=none`).
    AlwaysUp,
}

/// A check definition with ldirectord's defaults filled in.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub checktype: CheckType,
    pub service: Service,
    pub protocol: Protocol,
    /// The real server as configured (`rip:rport`, port 0 if omitted).
    pub real: SocketAddr,
    /// The port the checks use ([`checkport`]).
    pub checkport: u16,
    /// The virtual service (arguments of external checks).
    pub virtual_id: VirtualId,
    /// What a negotiate check sends and expects.
    pub negotiate: Arc<Negotiate>,
    pub checkinterval: Duration,
    /// Effective `checktimeout` ([`effective_timeouts`]).
    pub checktimeout: Duration,
    /// Effective `negotiatetimeout` ([`effective_timeouts`]).
    pub negotiatetimeout: Duration,
    /// ICMP attempts per ping check.
    pub checkcount: u32,
    /// Consecutive failed checks before an up real is taken out.
    pub failurecount: u32,
    /// Further checks of the same real that must pass too, run after this one in each pass
    /// (keepalived's several checkers per real server; `director.conf`'s
    /// `[[service.check]]`). Their own `also`, `checkinterval` and `failurecount` are not
    /// used: the pass is one outcome.
    pub also: Vec<Arc<CheckSpec>>,
}

/// Why a check definition is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{0} must be nonzero")]
    Zero(&'static str),
    #[error("no check port for {real}: set checkport or give the real server a port")]
    NoCheckPort { real: SocketAddr },
    #[error("checkcommand must not be empty")]
    EmptyCommand,
    #[error(
        "Must specify a login and request string for MySQL, Oracle and PostgreSQL checks. Not adding {rip}."
    )]
    SqlNeedsLoginAndRequest { rip: IpAddr },
    #[error("checktimeout must be at least 1 ms")]
    TooShort,
}

impl CheckSpec {
    /// ldirectord's defaults for `real` in `virtual_id`: negotiate, service from the virtual
    /// port, protocol tcp (udp for port 53), timeouts 5/30, interval 10, counts 1.
    pub fn new(real: SocketAddr, virtual_id: VirtualId) -> CheckSpec {
        let (service, protocol) = match virtual_id {
            VirtualId::Addr(v) => (
                Service::from_port(v.port()),
                if v.port() == 53 {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            ),
            VirtualId::Fwmark(_) => (Service::None, Protocol::Fwm),
        };
        CheckSpec {
            checktype: CheckType::Negotiate,
            service,
            protocol,
            real,
            checkport: checkport(None, real.port(), service).unwrap_or(0),
            virtual_id,
            negotiate: Arc::default(),
            checkinterval: DEFAULT_CHECKINTERVAL,
            checktimeout: DEFAULT_CHECKTIMEOUT,
            negotiatetimeout: DEFAULT_NEGOTIATETIMEOUT,
            checkcount: 1,
            failurecount: 1,
            also: Vec::new(),
        }
    }

    /// Every problem at once; an empty list means the spec can run.
    pub fn validate(&self) -> Result<(), Vec<SpecError>> {
        let mut errors = Vec::new();
        if self.checkinterval.is_zero() {
            errors.push(SpecError::Zero("checkinterval"));
        }
        if self.checktimeout.is_zero() {
            errors.push(SpecError::Zero("checktimeout"));
        }
        if self.negotiatetimeout.is_zero() {
            errors.push(SpecError::Zero("negotiatetimeout"));
        }
        if self.checkcount == 0 {
            errors.push(SpecError::Zero("checkcount"));
        }
        if self.failurecount == 0 {
            errors.push(SpecError::Zero("failurecount"));
        }
        let needs_port = match &self.checktype {
            CheckType::Connect => self.protocol != Protocol::Udp,
            CheckType::Combined(_) => true,
            CheckType::Negotiate => self.service != Service::None,
            _ => false,
        };
        if needs_port && self.checkport == 0 {
            errors.push(SpecError::NoCheckPort { real: self.real });
        }
        if let CheckType::External { cmd } | CheckType::ExternalPerl { cmd } = &self.checktype {
            if cmd.as_os_str().is_empty() {
                errors.push(SpecError::EmptyCommand);
            }
        }
        let negotiates = matches!(
            self.checktype,
            CheckType::Negotiate | CheckType::Combined(_)
        );
        if negotiates
            && matches!(
                self.service,
                Service::Mysql | Service::Pgsql | Service::Oracle
            )
            && (self.negotiate.login.as_deref().is_none_or(str::is_empty)
                || self.negotiate.request.as_deref().is_none_or(str::is_empty))
        {
            errors.push(SpecError::SqlNeedsLoginAndRequest {
                rip: self.real.ip(),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The transport of a check that speaks UDP or TCP (dns, sip, simpletcp), as ldirectord
    /// picks it from the virtual service's `protocol`: Net::DNS goes over TCP only for
    /// `protocol=tcp` (`usevc`), while sip and simpletcp open a datagram socket only for
    /// `protocol=udp` (`ld_open_socket`), so a firewall-mark service checks DNS over UDP and
    /// SIP or simpletcp over TCP. The other services ignore it.
    pub fn transport(&self) -> Transport {
        let tcp = match self.service {
            Service::Dns => self.protocol == Protocol::Tcp,
            _ => self.protocol != Protocol::Udp,
        };
        if tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        }
    }

    /// Where checks connect: the real's address at the check port.
    pub fn check_addr(&self) -> SocketAddr {
        SocketAddr::new(self.real.ip(), self.checkport)
    }

    /// The attempt a plain (non-combined) check type makes each pass; `None` for `off`.
    /// Combined checks choose between [`Attempt::Negotiate`] and [`Attempt::Connect`].
    pub fn base_attempt(&self) -> Option<Attempt> {
        Some(match self.checktype {
            CheckType::Negotiate | CheckType::Combined(_) if self.service == Service::None => {
                Attempt::AlwaysUp
            }
            CheckType::Negotiate | CheckType::Combined(_) => Attempt::Negotiate,
            CheckType::Connect if self.protocol == Protocol::Udp => Attempt::Ping,
            CheckType::Connect => Attempt::Connect,
            CheckType::Ping => Attempt::Ping,
            CheckType::External { .. } => Attempt::External,
            CheckType::ExternalPerl { .. } => Attempt::ExternalPerl,
            CheckType::On => Attempt::AlwaysUp,
            CheckType::Off => return None,
        })
    }

    /// The time limit of one attempt (ldirectord.md §5.1). A ping gets `checkcount` times
    /// `checktimeout` (each echo is bounded by `checktimeout` inside the probe). An external
    /// check bounds its child by `checktimeout` itself and then ends its process group
    /// (SIGTERM, SIGKILL after [`crate::probe::external::TERM_GRACE`]): its deadline leaves
    /// room for that, so the probe, not the runner's cancellation, ends the child.
    pub fn deadline(&self, attempt: Attempt) -> Duration {
        match attempt {
            Attempt::Negotiate => match self.service.negotiate_bound() {
                TimeoutKind::Check => self.checktimeout,
                TimeoutKind::Negotiate => self.negotiatetimeout,
            },
            Attempt::Connect => self.checktimeout,
            Attempt::External | Attempt::ExternalPerl => self
                .checktimeout
                .saturating_add(crate::probe::external::TERM_GRACE)
                .saturating_add(EXTERNAL_REAP),
            Attempt::Ping => self.checktimeout.saturating_mul(self.checkcount.max(1)),
            Attempt::AlwaysUp => Duration::ZERO,
        }
    }

    /// The four arguments of an external check: `<vip or fwmark> <vport> <rip> <rport>`
    /// (IPv6 addresses in brackets, as ldirectord stores them; vport 0 for fwmark).
    pub fn external_args(&self) -> [String; 4] {
        let (vip, vport) = match self.virtual_id {
            VirtualId::Addr(v) => (host_string(v.ip()), v.port()),
            VirtualId::Fwmark(mark) => (mark.to_string(), 0),
        };
        [
            vip,
            vport.to_string(),
            host_string(self.real.ip()),
            self.real.port().to_string(),
        ]
    }

    /// A string equal for two specs exactly when they describe the same check, so that a real
    /// shared by several virtual services with an identical check is probed once.
    pub fn identity(&self) -> String {
        let n = &self.negotiate;
        let ext_args = match self.checktype {
            CheckType::External { .. } | CheckType::ExternalPerl { .. } => {
                self.external_args().join(" ")
            }
            _ => String::new(),
        };
        format!(
            "{:?}|{}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}",
            self.checktype,
            self.service,
            self.protocol.name(),
            self.real,
            self.checkport,
            ext_args,
            n.request,
            n.receive_pattern(),
            n.virtualhost,
            n.http_method,
            n.login,
            n.passwd,
            n.database,
            n.secret,
            n.tls_verify,
            n.pages,
            self.checkinterval,
            self.checktimeout,
            self.negotiatetimeout,
            self.checkcount,
            self.failurecount,
        ) + &self
            .also
            .iter()
            .map(|a| format!("|also({})", a.identity()))
            .collect::<String>()
    }
}

/// An address as ldirectord writes a server: IPv4 dotted, IPv6 in brackets.
pub fn host_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn transport_follows_the_protocol_as_in_ldirectord() {
        let mut spec = CheckSpec::new(
            "192.0.2.10:53".parse().unwrap(),
            VirtualId::Addr("192.0.2.1:53".parse().unwrap()),
        );
        let cases = [
            (Service::Dns, Protocol::Udp, Transport::Udp),
            (Service::Dns, Protocol::Tcp, Transport::Tcp),
            // Net::DNS uses TCP only when the protocol is "tcp".
            (Service::Dns, Protocol::Fwm, Transport::Udp),
            (Service::Sip, Protocol::Udp, Transport::Udp),
            (Service::Sip, Protocol::Tcp, Transport::Tcp),
            // ld_open_socket: anything but "udp" is a stream socket.
            (Service::Sip, Protocol::Fwm, Transport::Tcp),
            (Service::Simpletcp, Protocol::Udp, Transport::Udp),
            (Service::Simpletcp, Protocol::Tcp, Transport::Tcp),
            (Service::Simpletcp, Protocol::Fwm, Transport::Tcp),
        ];
        for (service, protocol, want) in cases {
            spec.service = service;
            spec.protocol = protocol;
            assert_eq!(spec.transport(), want, "{service} {protocol:?}");
        }
    }

    #[test]
    fn timeouts_default_to_5_and_30() {
        let none = TimeoutSettings::default();
        assert_eq!(
            effective_timeouts(none, none),
            (Duration::from_secs(5), Duration::from_secs(30))
        );
    }

    #[test]
    fn a_virtual_value_of_either_kind_beats_both_globals() {
        let global = TimeoutSettings {
            checktimeout: None,
            negotiatetimeout: secs(10),
        };
        let virt = TimeoutSettings {
            checktimeout: secs(3),
            negotiatetimeout: None,
        };
        assert_eq!(
            effective_timeouts(virt, global),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
        let virt = TimeoutSettings {
            checktimeout: None,
            negotiatetimeout: secs(7),
        };
        let global = TimeoutSettings {
            checktimeout: secs(2),
            negotiatetimeout: secs(9),
        };
        assert_eq!(
            effective_timeouts(virt, global),
            (Duration::from_secs(7), Duration::from_secs(7))
        );
    }

    #[test]
    fn globals_fall_back_on_each_other() {
        let global = TimeoutSettings {
            checktimeout: secs(4),
            negotiatetimeout: None,
        };
        assert_eq!(
            effective_timeouts(TimeoutSettings::default(), global),
            (Duration::from_secs(4), Duration::from_secs(4))
        );
        let global = TimeoutSettings {
            checktimeout: secs(4),
            negotiatetimeout: secs(12),
        };
        assert_eq!(
            effective_timeouts(TimeoutSettings::default(), global),
            (Duration::from_secs(4), Duration::from_secs(12))
        );
    }

    #[test]
    fn service_from_port_matches_ldirectord() {
        assert_eq!(Service::from_port(80), Service::Http);
        assert_eq!(Service::from_port(443), Service::Https);
        assert_eq!(Service::from_port(3128), Service::HttpProxy);
        assert_eq!(Service::from_port(8080), Service::None);
        assert_eq!(Service::from_port(0), Service::None);
        for s in Service::all() {
            assert_eq!(s.name().parse::<Service>(), Ok(s));
            if let Some(p) = s.well_known_port() {
                assert_eq!(Service::from_port(p), s);
            }
        }
        assert!("HTTP".parse::<Service>().is_err());
    }

    #[test]
    fn checkport_rule() {
        assert_eq!(checkport(Some(8080), 80, Service::Http), Some(8080));
        assert_eq!(checkport(None, 81, Service::Http), Some(81));
        assert_eq!(checkport(None, 0, Service::Https), Some(443));
        assert_eq!(checkport(None, 0, Service::None), None);
    }

    #[test]
    fn defaults_follow_the_virtual() {
        let real: SocketAddr = "192.0.2.10:0".parse().unwrap();
        let spec = CheckSpec::new(real, VirtualId::Addr("198.51.100.1:80".parse().unwrap()));
        assert_eq!(spec.service, Service::Http);
        assert_eq!(spec.checkport, 80);
        assert_eq!(spec.protocol, Protocol::Tcp);
        assert_eq!(spec.base_attempt(), Some(Attempt::Negotiate));
        assert_eq!(spec.deadline(Attempt::Negotiate), Duration::from_secs(30));
        assert!(spec.validate().is_ok());

        let dns = CheckSpec::new(real, VirtualId::Addr("198.51.100.1:53".parse().unwrap()));
        assert_eq!(dns.protocol, Protocol::Udp);

        let fwm = CheckSpec::new(real, VirtualId::Fwmark(5));
        assert_eq!(fwm.service, Service::None);
        assert_eq!(fwm.base_attempt(), Some(Attempt::AlwaysUp));
        assert_eq!(fwm.external_args(), ["5", "0", "192.0.2.10", "0"]);
    }

    #[test]
    fn connect_on_udp_is_a_ping_and_off_never_checks() {
        let real: SocketAddr = "192.0.2.10:53".parse().unwrap();
        let mut spec = CheckSpec::new(real, VirtualId::Addr("198.51.100.1:53".parse().unwrap()));
        spec.checktype = CheckType::Connect;
        spec.checkcount = 3;
        spec.checktimeout = Duration::from_secs(2);
        assert_eq!(spec.base_attempt(), Some(Attempt::Ping));
        assert_eq!(spec.deadline(Attempt::Ping), Duration::from_secs(6));
        spec.checktype = CheckType::Off;
        assert_eq!(spec.base_attempt(), None);
    }

    #[test]
    fn validate_collects_every_error() {
        let real: SocketAddr = "192.0.2.10:0".parse().unwrap();
        let mut spec = CheckSpec::new(real, VirtualId::Addr("198.51.100.1:3306".parse().unwrap()));
        spec.checkinterval = Duration::ZERO;
        spec.failurecount = 0;
        let errors = spec.validate().unwrap_err();
        assert_eq!(
            errors,
            vec![
                SpecError::Zero("checkinterval"),
                SpecError::Zero("failurecount"),
                SpecError::SqlNeedsLoginAndRequest { rip: real.ip() },
            ]
        );
        spec.checktype = CheckType::Connect;
        spec.checkport = 0;
        assert!(spec
            .validate()
            .unwrap_err()
            .contains(&SpecError::NoCheckPort { real }));
    }

    #[test]
    fn identity_tells_checks_apart() {
        let real: SocketAddr = "192.0.2.10:80".parse().unwrap();
        let a = CheckSpec::new(real, VirtualId::Addr("198.51.100.1:80".parse().unwrap()));
        let b = CheckSpec::new(real, VirtualId::Addr("198.51.100.2:80".parse().unwrap()));
        // Same negotiate check of the same real in two virtual services: one check.
        assert_eq!(a.identity(), b.identity());
        let mut c = a.clone();
        Arc::make_mut(&mut c.negotiate).receive =
            Some(crate::probe::Receive::compile("ok").unwrap());
        assert_ne!(a.identity(), c.identity());
        // External checks receive the virtual as arguments: two checks.
        let mut d = a.clone();
        let mut e = b.clone();
        d.checktype = CheckType::External {
            cmd: "/bin/true".into(),
        };
        e.checktype = d.checktype.clone();
        assert_ne!(d.identity(), e.identity());
    }

    #[test]
    fn ipv6_arguments_are_bracketed() {
        let real: SocketAddr = "[2001:db8::10]:80".parse().unwrap();
        let spec = CheckSpec::new(real, VirtualId::Addr("[2001:db8::1]:80".parse().unwrap()));
        assert_eq!(
            spec.external_args(),
            ["[2001:db8::1]", "80", "[2001:db8::10]", "80"]
        );
    }
}
