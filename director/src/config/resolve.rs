//! Name resolution, behind one small trait so parsing and rendering stay pure.
//!
//! ldirectord resolves host names with `getaddrinfo` and port names with `getservbyname`
//! (`/etc/services`) while it reads the file; `SystemResolver` does the same here.
//! `StaticResolver` answers from tables given to it (tests, `director check` on another host).
//! The ipvsadm command line uses the same trait with the C library's own calls
//! (`cli::names::SystemNames`: `gethostbyname`, `getservbyname`, ... as ipvsadm makes them).

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

use crate::ipvs::Family;

/// What the config reader and the ipvsadm command line ask of the system.
pub trait Resolver: Send + Sync {
    /// The first address of `name` in `family`, as `getaddrinfo(name, family)` gives it.
    /// Only called for names that are not numeric addresses.
    fn host(&self, name: &str, family: Family) -> Option<IpAddr>;
    /// The port of service `name` (`getservbyname`); `protocol` is `tcp`, `udp` or `None` for
    /// any protocol. Only called for names that are not numbers.
    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16>;
    /// The name of port `port` for `protocol` (`tcp`, `udp`, `sctp`): `getservbyport`.
    fn port_name(&self, port: u16, protocol: &str) -> Option<String>;
    /// This host's name (`$HOSTNAME`, else `uname -n`): ldirectord's default ftp/sip login.
    fn hostname(&self) -> String;
    /// The name of an address (`getnameinfo` with `NI_NAMEREQD`: `None` when it has none),
    /// for the maintenance directory's host-name files. May block: call it off the loop.
    fn reverse(&self, addr: IpAddr) -> Option<String>;
}

/// A parsed `/etc/services`: `name port/proto [aliases...]`, first match wins as in glibc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    entries: Vec<ServiceEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ServiceEntry {
    names: Vec<String>,
    port: u16,
    protocol: String,
}

impl Services {
    /// Parse the text of an `/etc/services` file; malformed lines are skipped (as glibc does).
    pub fn parse(text: &str) -> Services {
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, protocol)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let mut names = vec![name.to_string()];
            names.extend(fields.map(str::to_string));
            entries.push(ServiceEntry {
                names,
                port,
                protocol: protocol.to_string(),
            });
        }
        Services { entries }
    }

    /// The first name of `port` for `protocol`, as `getservbyport` gives it.
    pub fn name_of(&self, port: u16, protocol: &str) -> Option<String> {
        self.entries
            .iter()
            .find(|e| e.port == port && e.protocol == protocol)
            .and_then(|e| e.names.first().cloned())
    }

    /// The port of `name` (or an alias) for `protocol` (`None` = any).
    pub fn lookup(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.entries
            .iter()
            .filter(|e| protocol.is_none_or(|p| e.protocol == p))
            .find(|e| e.names.iter().any(|n| n == name))
            .map(|e| e.port)
    }
}

/// The system's resolver: `getaddrinfo` for hosts, `/etc/services` for ports.
#[derive(Debug, Clone)]
pub struct SystemResolver {
    services: Services,
    hostname: String,
}

impl SystemResolver {
    /// Reads `/etc/services` once (a missing file means no port names resolve) and the host
    /// name as ldirectord does (`$HOSTNAME`, else `uname -n`).
    pub fn new() -> SystemResolver {
        let services = std::fs::read_to_string("/etc/services")
            .map(|t| Services::parse(&t))
            .unwrap_or_default();
        let hostname = std::env::var("HOSTNAME").ok().unwrap_or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default()
        });
        SystemResolver { services, hostname }
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::new()
    }
}

impl Resolver for SystemResolver {
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        if name.is_empty() {
            return None;
        }
        let addrs = (name, 0u16).to_socket_addrs().ok()?;
        addrs.map(|a| a.ip()).find(|ip| Family::of(ip) == family)
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.services.lookup(name, protocol)
    }

    fn port_name(&self, port: u16, protocol: &str) -> Option<String> {
        self.services.name_of(port, protocol)
    }

    fn hostname(&self) -> String {
        self.hostname.clone()
    }

    fn reverse(&self, addr: IpAddr) -> Option<String> {
        dns_lookup::lookup_addr(&addr).ok()
    }
}

/// A resolver that answers from fixed tables: pure, for tests and for checking a file
/// written for another machine.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: BTreeMap<String, Vec<IpAddr>>,
    services: Services,
    hostname: String,
}

impl StaticResolver {
    /// No hosts, the given services table, host name `localhost`.
    pub fn new(services: Services) -> StaticResolver {
        StaticResolver {
            hosts: BTreeMap::new(),
            services,
            hostname: "localhost".to_string(),
        }
    }

    /// Add an address for `name` (several calls give several addresses, first one first).
    pub fn with_host(mut self, name: &str, addr: IpAddr) -> StaticResolver {
        self.hosts.entry(name.to_string()).or_default().push(addr);
        self
    }

    pub fn with_hostname(mut self, hostname: &str) -> StaticResolver {
        self.hostname = hostname.to_string();
        self
    }
}

impl Resolver for StaticResolver {
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        self.hosts
            .get(name)?
            .iter()
            .copied()
            .find(|ip| Family::of(ip) == family)
    }

    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        self.services.lookup(name, protocol)
    }

    fn port_name(&self, port: u16, protocol: &str) -> Option<String> {
        self.services.name_of(port, protocol)
    }

    fn hostname(&self) -> String {
        self.hostname.clone()
    }

    /// The first name given with `with_host` for that address.
    fn reverse(&self, addr: IpAddr) -> Option<String> {
        self.hosts
            .iter()
            .find(|(_, addrs)| addrs.contains(&addr))
            .map(|(name, _)| name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_has_the_first_name_of_its_protocol() {
        let s = Services::parse(SERVICES);
        assert_eq!(s.name_of(80, "tcp").as_deref(), Some("http"));
        assert_eq!(s.name_of(53, "udp").as_deref(), Some("domain"));
        assert_eq!(s.name_of(123, "tcp"), None);
        assert_eq!(s.name_of(9, "tcp"), None);
        let r = StaticResolver::new(s);
        assert_eq!(r.port_name(21, "tcp").as_deref(), Some("ftp"));
    }

    const SERVICES: &str = "\
# comment
ftp\t\t21/tcp
domain\t\t53/tcp\t\t\t# Domain Name Server
domain\t\t53/udp
http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
bad line
ntp\t\t123/udp
broken\t\tx/tcp
";

    #[test]
    fn services_by_name_alias_and_protocol() {
        let s = Services::parse(SERVICES);
        assert_eq!(s.lookup("http", Some("tcp")), Some(80));
        assert_eq!(s.lookup("www", Some("tcp")), Some(80));
        assert_eq!(s.lookup("www", None), Some(80));
        assert_eq!(s.lookup("http", Some("udp")), None);
        assert_eq!(s.lookup("ntp", None), Some(123));
        assert_eq!(s.lookup("ntp", Some("tcp")), None);
        assert_eq!(s.lookup("domain", Some("udp")), Some(53));
        assert_eq!(s.lookup("broken", None), None);
        assert_eq!(s.lookup("nosuch", None), None);
    }

    #[test]
    fn static_resolver_filters_family() {
        let r = StaticResolver::new(Services::default())
            .with_host("lb", "2001:db8::1".parse().unwrap())
            .with_host("lb", "192.0.2.1".parse().unwrap());
        assert_eq!(r.host("lb", Family::V4), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            r.host("lb", Family::V6),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(r.host("other", Family::V4), None);
        assert_eq!(
            r.reverse("192.0.2.1".parse().unwrap()).as_deref(),
            Some("lb")
        );
        assert_eq!(r.reverse("192.0.2.2".parse().unwrap()), None);
    }

    #[test]
    fn system_resolver_reads_etc_services_and_localhost() {
        let r = SystemResolver::new();
        if std::path::Path::new("/etc/services").exists() {
            assert_eq!(r.service("http", Some("tcp")), Some(80));
        }
        assert_eq!(
            r.host("localhost", Family::V4),
            Some("127.0.0.1".parse().unwrap())
        );
        // /etc/hosts names 127.0.0.1
        assert!(r.reverse("127.0.0.1".parse().unwrap()).is_some());
    }
}
