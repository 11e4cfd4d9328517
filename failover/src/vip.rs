//! Virtual IP addresses: what `IPaddr`, `IPaddr2` and `IPv6addr` do, natively.
//!
//! The pure half parses the resource argument (`IP[/CIDR[/IFACE[/BROADCAST]]]`), picks the
//! interface by subnet and the `eth0:N` alias label. The I/O half ([`NetlinkVip`]) adds,
//! removes and checks addresses over rtnetlink and announces them with gratuitous ARP /
//! unsolicited neighbour advertisements ([`crate::garp`]). The node loop only sees the
//! [`Vip`] trait, so it is tested without root.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::AddressFamily;

use crate::garp;

/// Which resource agent a VIP stands for; they differ only in labelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VipKind {
    /// `IPaddr`: an `ifconfig` alias, so the address gets an `eth0:N` label.
    IpAddr,
    /// `IPaddr2`: `ip addr add`, no label unless asked.
    IpAddr2,
    /// `IPv6addr`.
    Ipv6Addr,
}

/// One virtual address as written in haresources.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VipSpec {
    /// Agent the resource names.
    pub kind: VipKind,
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length; `None` = take it from the matching interface address.
    pub prefix: Option<u8>,
    /// Interface; `None` = find it by subnet.
    pub iface: Option<String>,
    /// IPv4 broadcast; `None` = highest address of the subnet.
    pub broadcast: Option<Ipv4Addr>,
}

/// Why a resource argument is not a virtual address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VipSpecError {
    /// The address part does not parse.
    #[error("invalid address {0:?}")]
    Address(String),
    /// The netmask part is not a prefix length or dotted mask of the right family.
    #[error("invalid netmask {0:?}")]
    Netmask(String),
    /// The broadcast part is not an IPv4 address.
    #[error("invalid broadcast address {0:?}")]
    Broadcast(String),
    /// The interface name is empty or too long.
    #[error("invalid interface name {0:?}")]
    Interface(String),
    /// More parts than the agent takes.
    #[error("too many parts in {0:?}")]
    TooManyParts(String),
    /// IPv4 address given to IPv6addr or the other way round.
    #[error("address {0} is of the wrong family for this resource")]
    Family(IpAddr),
}

/// Linux interface names are at most 15 bytes.
const IFNAMSIZ_MAX: usize = 15;

fn parse_prefix(text: &str, v6: bool) -> Result<u8, VipSpecError> {
    let max = if v6 { 128 } else { 32 };
    if let Ok(n) = text.parse::<u8>() {
        if n <= max {
            return Ok(n);
        }
    }
    if !v6 {
        // IPaddr also accepts a dotted netmask.
        if let Ok(mask) = text.parse::<Ipv4Addr>() {
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() == 32 {
                return u8::try_from(bits.leading_ones())
                    .map_err(|_| VipSpecError::Netmask(text.to_string()));
            }
        }
    }
    Err(VipSpecError::Netmask(text.to_string()))
}

fn check_iface(name: &str) -> Result<String, VipSpecError> {
    let base = name.split(':').next().unwrap_or_default();
    if base.is_empty() || name.len() > IFNAMSIZ_MAX || name.contains(char::is_whitespace) {
        return Err(VipSpecError::Interface(name.to_string()));
    }
    Ok(name.to_string())
}

impl VipSpec {
    /// Parses the argument of `IPaddr::` / `IPaddr2::` (or a bare `N.N.N.N` resource):
    /// `IP[/CIDR[/IFACE[/BROADCAST]]]`, or `IP/CIDR/BROADCAST` when the third part starts
    /// with a digit, as heartbeat's `resource.d/IPaddr` wrapper splits it.
    pub fn parse_ipaddr(kind: VipKind, arg: &str) -> Result<Self, VipSpecError> {
        let parts: Vec<&str> = arg.split('/').collect();
        if parts.len() > 4 {
            return Err(VipSpecError::TooManyParts(arg.to_string()));
        }
        let first = parts.first().copied().unwrap_or_default();
        let addr: Ipv4Addr = first
            .parse()
            .map_err(|_| VipSpecError::Address(first.to_string()))?;
        let mut spec = VipSpec {
            kind,
            addr: IpAddr::V4(addr),
            prefix: None,
            iface: None,
            broadcast: None,
        };
        if let Some(p) = parts.get(1).filter(|p| !p.is_empty()) {
            spec.prefix = Some(parse_prefix(p, false)?);
        }
        let parse_brd = |b: &str| -> Result<Ipv4Addr, VipSpecError> {
            b.parse()
                .map_err(|_| VipSpecError::Broadcast(b.to_string()))
        };
        match (parts.get(2), parts.get(3)) {
            (Some(third), None) if third.starts_with(|c: char| c.is_ascii_digit()) => {
                spec.broadcast = Some(parse_brd(third)?);
            }
            (Some(third), fourth) => {
                if !third.is_empty() {
                    spec.iface = Some(check_iface(third)?);
                }
                if let Some(b) = fourth.filter(|b| !b.is_empty()) {
                    spec.broadcast = Some(parse_brd(b)?);
                }
            }
            (None, _) => {}
        }
        Ok(spec)
    }

    /// Parses the argument of `IPv6addr::`: `ADDR[/PREFIX[/IFACE]]`.
    pub fn parse_ipv6addr(arg: &str) -> Result<Self, VipSpecError> {
        let parts: Vec<&str> = arg.split('/').collect();
        if parts.len() > 3 {
            return Err(VipSpecError::TooManyParts(arg.to_string()));
        }
        let first = parts.first().copied().unwrap_or_default();
        let addr: IpAddr = first
            .parse()
            .map_err(|_| VipSpecError::Address(first.to_string()))?;
        let IpAddr::V6(_) = addr else {
            return Err(VipSpecError::Family(addr));
        };
        let prefix = match parts.get(1).filter(|p| !p.is_empty()) {
            Some(p) => Some(parse_prefix(p, true)?),
            None => None,
        };
        let iface = match parts.get(2).filter(|p| !p.is_empty()) {
            Some(i) => Some(check_iface(i)?),
            None => None,
        };
        Ok(VipSpec {
            kind: VipKind::Ipv6Addr,
            addr,
            prefix,
            iface,
            broadcast: None,
        })
    }

    /// The text heartbeat users see for this resource (`IPaddr::192.0.2.100/24/eth0`).
    pub fn resource_name(&self) -> String {
        let agent = match self.kind {
            VipKind::IpAddr => "IPaddr",
            VipKind::IpAddr2 => "IPaddr2",
            VipKind::Ipv6Addr => "IPv6addr",
        };
        let mut s = format!("{agent}::{}", self.addr);
        if let Some(p) = self.prefix {
            s.push_str(&format!("/{p}"));
        }
        if let Some(i) = &self.iface {
            s.push_str(&format!("/{i}"));
        }
        if let Some(b) = self.broadcast {
            s.push_str(&format!("/{b}"));
        }
        s
    }
}

/// True if `addr` lies in `net/prefix` (same family only).
pub fn in_subnet(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Highest address of the subnet, IPaddr's default broadcast; none for /31 and /32.
pub fn default_broadcast(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    Some(Ipv4Addr::from(u32::from(addr) | host))
}

/// One address found on the system, as [`find_interface`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub ifname: String,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// Its label (IPv4 only; the interface name when unlabelled).
    pub label: Option<String>,
}

/// IPaddr's find-interface logic on a list of configured addresses: the interface holding
/// the most specific subnet that contains `vip` (host routes and the VIP itself ignored).
/// Returns (index, name, prefix).
pub fn find_interface(vip: IpAddr, addrs: &[IfAddr]) -> Option<(u32, String, u8)> {
    addrs
        .iter()
        .filter(|a| a.addr != vip && a.prefix < host_prefix(vip))
        .filter(|a| in_subnet(vip, a.addr, a.prefix))
        .max_by_key(|a| a.prefix)
        .map(|a| (a.index, a.ifname.clone(), a.prefix))
}

fn host_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// The first free `IFACE:N` alias label, as IPaddr's `ifconfig` aliasing picks it.
pub fn next_label(iface: &str, used: &[String]) -> String {
    (0u32..)
        .map(|n| format!("{iface}:{n}"))
        .find(|l| !used.contains(l))
        .unwrap_or_else(|| iface.to_string())
}

/// Where a VIP ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub ifname: String,
    /// Prefix used.
    pub prefix: u8,
    /// Label (IPaddr only).
    pub label: Option<String>,
}

/// What can go wrong moving an address.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// No interface has a subnet containing the address and none was named.
    #[error("no interface found for {0}: name one (IP/CIDR/IFACE) or add a route to its subnet")]
    NoInterface(IpAddr),
    /// The named interface does not exist.
    #[error("interface {0} not found")]
    UnknownInterface(String),
    /// The kernel refused a request.
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
    /// A socket could not be opened.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Adds, removes and checks virtual addresses. The node loop is generic over it.
pub trait Vip: Send + Sync + 'static {
    /// Configures the address (idempotent) and announces it (gratuitous ARP / NA).
    fn add(&self, spec: &VipSpec) -> impl Future<Output = Result<Placement, VipError>> + Send;
    /// Removes the address if present (idempotent).
    fn remove(&self, spec: &VipSpec) -> impl Future<Output = Result<(), VipError>> + Send;
    /// Whether the address is configured on this host.
    fn is_present(&self, spec: &VipSpec) -> impl Future<Output = Result<bool, VipError>> + Send;
}

/// Announcement settings: Heartbeat's IPaddr runs `send_arp -i 200 -r 5`.
#[derive(Debug, Clone, Copy)]
pub struct Announce {
    /// How many ARP / NA packets to send.
    pub repeat: u32,
    /// Gap between them.
    pub interval: Duration,
}

impl Default for Announce {
    fn default() -> Self {
        Announce {
            repeat: 5,
            interval: Duration::from_millis(200),
        }
    }
}

/// [`Vip`] over rtnetlink in the calling thread's network namespace.
#[derive(Clone)]
pub struct NetlinkVip {
    handle: rtnetlink::Handle,
    announce: Announce,
    /// The repeating announcements of each address, stopped when it is removed: a node that
    /// gave an address up must not keep pointing neighbours at itself (a handover soon after
    /// a takeover would otherwise send clients back to the old owner).
    announcers: Arc<Mutex<HashMap<IpAddr, tokio::task::JoinHandle<()>>>>,
}

impl NetlinkVip {
    /// Opens a route netlink socket and spawns its connection on the current tokio runtime.
    pub fn new(announce: Announce) -> Result<Self, VipError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(NetlinkVip {
            handle,
            announce,
            announcers: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Stops the announcements of `addr` still to come.
    fn stop_announcing(&self, addr: IpAddr) {
        let mut a = self.announcers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = a.remove(&addr) {
            task.abort();
        }
    }

    async fn links(&self) -> Result<Vec<LinkMessage>, VipError> {
        Ok(self.handle.link().get().execute().try_collect().await?)
    }

    async fn addresses(&self) -> Result<Vec<AddressMessage>, VipError> {
        Ok(self.handle.address().get().execute().try_collect().await?)
    }

    /// Every configured address with its interface name.
    pub async fn list(&self) -> Result<Vec<IfAddr>, VipError> {
        let links = self.links().await?;
        let name_of = |index: u32| {
            links
                .iter()
                .find(|l| l.header.index == index)
                .and_then(|l| {
                    l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for m in self.addresses().await? {
            let local = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let address = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            let Some(addr) = local.or(address) else {
                continue;
            };
            let label = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Label(l) => Some(l.clone()),
                _ => None,
            });
            out.push(IfAddr {
                index: m.header.index,
                ifname: name_of(m.header.index),
                addr,
                prefix: m.header.prefix_len,
                label,
            });
        }
        Ok(out)
    }

    /// Hardware address of an interface, for the announcements.
    async fn mac(&self, index: u32) -> Result<Option<[u8; 6]>, VipError> {
        let links = self.links().await?;
        Ok(links
            .iter()
            .find(|l| l.header.index == index)
            .and_then(|l| {
                l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Address(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
                    _ => None,
                })
            }))
    }

    /// Resolves interface and prefix the way IPaddr does.
    pub async fn place(&self, spec: &VipSpec) -> Result<Placement, VipError> {
        let addrs = self.list().await?;
        let (index, ifname, prefix) = match &spec.iface {
            Some(name) => {
                let base = name.split(':').next().unwrap_or(name);
                let links = self.links().await?;
                let index = links
                    .iter()
                    .find(|l| {
                        l.attributes
                            .iter()
                            .any(|a| matches!(a, LinkAttribute::IfName(n) if n == base))
                    })
                    .map(|l| l.header.index)
                    .ok_or_else(|| VipError::UnknownInterface(name.clone()))?;
                let on_iface: Vec<IfAddr> =
                    addrs.iter().filter(|a| a.index == index).cloned().collect();
                let prefix = match spec.prefix {
                    Some(p) => p,
                    None => find_interface(spec.addr, &on_iface)
                        .map(|(_, _, p)| p)
                        .unwrap_or(host_prefix(spec.addr)),
                };
                (index, base.to_string(), prefix)
            }
            None => {
                let (index, ifname, p) =
                    find_interface(spec.addr, &addrs).ok_or(VipError::NoInterface(spec.addr))?;
                (index, ifname, spec.prefix.unwrap_or(p))
            }
        };
        let label = match spec.kind {
            VipKind::Ipv6Addr => None,
            VipKind::IpAddr2 => spec.iface.clone().filter(|i| i.contains(':')),
            VipKind::IpAddr => {
                let existing = addrs
                    .iter()
                    .find(|a| a.addr == spec.addr && a.index == index)
                    .and_then(|a| a.label.clone());
                match (existing, spec.iface.as_ref().filter(|i| i.contains(':'))) {
                    (Some(l), _) => Some(l),
                    (None, Some(named)) => Some(named.clone()),
                    (None, None) => {
                        let used: Vec<String> =
                            addrs.iter().filter_map(|a| a.label.clone()).collect();
                        Some(next_label(&ifname, &used))
                    }
                }
            }
        };
        Ok(Placement {
            index,
            ifname,
            prefix,
            label,
        })
    }

    fn message(spec: &VipSpec, place: &Placement) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.index = place.index;
        m.header.prefix_len = place.prefix;
        match spec.addr {
            IpAddr::V4(a) => {
                m.header.family = AddressFamily::Inet;
                m.attributes.push(AddressAttribute::Local(spec.addr));
                m.attributes.push(AddressAttribute::Address(spec.addr));
                if let Some(b) = spec
                    .broadcast
                    .or_else(|| default_broadcast(a, place.prefix))
                {
                    m.attributes.push(AddressAttribute::Broadcast(b));
                }
                if let Some(l) = &place.label {
                    m.attributes.push(AddressAttribute::Label(l.clone()));
                }
            }
            IpAddr::V6(_) => {
                m.header.family = AddressFamily::Inet6;
                m.header.flags = AddressHeaderFlags::Nodad;
                m.attributes.push(AddressAttribute::Local(spec.addr));
                m.attributes.push(AddressAttribute::Address(spec.addr));
            }
        }
        m
    }

    async fn send_announcements(&self, spec: &VipSpec, place: &Placement) -> Result<(), VipError> {
        let Some(mac) = self.mac(place.index).await? else {
            tracing::warn!(ip = %spec.addr, iface = %place.ifname, "interface has no hardware address: not announcing");
            return Ok(());
        };
        let Announce { repeat, interval } = self.announce;
        let (addr, index) = (spec.addr, place.index);
        // Repeats go on in the background so takeover does not wait for them; a removal of the
        // address (or a new announcement of it) stops them.
        self.stop_announcing(addr);
        let task = tokio::spawn(async move {
            for n in 0..repeat {
                if n > 0 {
                    tokio::time::sleep(interval).await;
                }
                let sent = match addr {
                    IpAddr::V4(ip) => garp::send_garp(index, mac, ip),
                    IpAddr::V6(ip) => garp::send_unsolicited_na(index, mac, ip),
                };
                if let Err(e) = sent {
                    tracing::warn!(ip = %addr, error = %e, "could not send gratuitous ARP / NA");
                    break;
                }
            }
        });
        let mut a = self.announcers.lock().unwrap_or_else(|e| e.into_inner());
        a.retain(|_, t| !t.is_finished());
        a.insert(addr, task);
        Ok(())
    }
}

impl Vip for NetlinkVip {
    async fn add(&self, spec: &VipSpec) -> Result<Placement, VipError> {
        let place = self.place(spec).await?;
        let present = self
            .list()
            .await?
            .iter()
            .any(|a| a.addr == spec.addr && a.index == place.index);
        if !present {
            let mut req = self
                .handle
                .address()
                .add(place.index, spec.addr, place.prefix);
            *req.message_mut() = Self::message(spec, &place);
            req.execute().await?;
        }
        tracing::info!(ip = %spec.addr, iface = %place.ifname, label = ?place.label, prefix = place.prefix, "IP address {} added to {}", spec.addr, place.label.as_deref().unwrap_or(&place.ifname));
        self.send_announcements(spec, &place).await?;
        Ok(place)
    }

    async fn remove(&self, spec: &VipSpec) -> Result<(), VipError> {
        // No announcement of an address we are giving up may follow its removal.
        self.stop_announcing(spec.addr);
        for a in self.list().await? {
            if a.addr != spec.addr {
                continue;
            }
            let place = Placement {
                index: a.index,
                ifname: a.ifname.clone(),
                prefix: a.prefix,
                label: None,
            };
            let mut m = Self::message(spec, &place);
            m.attributes
                .retain(|x| !matches!(x, AddressAttribute::Broadcast(_)));
            self.handle.address().del(m).execute().await?;
            tracing::info!(ip = %spec.addr, iface = %a.ifname, "IP address {} removed from {}", spec.addr, a.label.as_deref().unwrap_or(&a.ifname));
        }
        Ok(())
    }

    async fn is_present(&self, spec: &VipSpec) -> Result<bool, VipError> {
        Ok(self.list().await?.iter().any(|a| a.addr == spec.addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED))
    }

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn parses_ipaddr_forms() {
        let s = VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100").unwrap();
        assert_eq!(
            (s.addr, s.prefix, s.iface, s.broadcast),
            (v4("192.0.2.100"), None, None, None)
        );
        let s = VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/24/eth0").unwrap();
        assert_eq!((s.prefix, s.iface.as_deref()), (Some(24), Some("eth0")));
        let s = VipSpec::parse_ipaddr(VipKind::IpAddr, "203.0.113.3/28/eth1/203.0.113.15").unwrap();
        assert_eq!(s.broadcast, Some("203.0.113.15".parse().unwrap()));
        let s = VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/24/192.0.2.255").unwrap();
        assert_eq!(
            (s.iface, s.broadcast),
            (None, Some("192.0.2.255".parse().unwrap()))
        );
        let s = VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/255.255.255.0").unwrap();
        assert_eq!(s.prefix, Some(24));
        assert!(VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/33").is_err());
        assert!(VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/255.0.255.0").is_err());
        assert!(VipSpec::parse_ipaddr(VipKind::IpAddr, "httpd").is_err());
        assert!(VipSpec::parse_ipaddr(VipKind::IpAddr, "1.2.3.4/1/a/1.1.1.1/x").is_err());
        assert_eq!(
            VipSpec::parse_ipaddr(VipKind::IpAddr, "192.0.2.100/24/eth0")
                .unwrap()
                .resource_name(),
            "IPaddr::192.0.2.100/24/eth0"
        );
    }

    #[test]
    fn parses_ipv6addr() {
        let s = VipSpec::parse_ipv6addr("2001:db8::10/64/eth0").unwrap();
        assert_eq!(
            (s.addr, s.prefix, s.iface.as_deref()),
            (v6("2001:db8::10"), Some(64), Some("eth0"))
        );
        assert!(VipSpec::parse_ipv6addr("192.0.2.1").is_err());
        assert!(VipSpec::parse_ipv6addr("2001:db8::10/129").is_err());
    }

    #[test]
    fn subnet_and_broadcast() {
        assert!(in_subnet(v4("192.0.2.100"), v4("192.0.2.11"), 24));
        assert!(!in_subnet(v4("192.0.3.100"), v4("192.0.2.11"), 24));
        assert!(in_subnet(v4("8.8.8.8"), v4("192.0.2.11"), 0));
        assert!(in_subnet(v6("2001:db8::10"), v6("2001:db8::1"), 64));
        assert!(!in_subnet(v6("2001:db8::10"), v4("192.0.2.1"), 0));
        assert_eq!(
            default_broadcast("192.0.2.100".parse().unwrap(), 24),
            Some("192.0.2.255".parse().unwrap())
        );
        assert_eq!(
            default_broadcast("192.0.2.100".parse().unwrap(), 0),
            Some(Ipv4Addr::BROADCAST)
        );
        assert_eq!(default_broadcast("192.0.2.100".parse().unwrap(), 31), None);
    }

    #[test]
    fn finds_most_specific_interface() {
        let a = |index, ifname: &str, addr: &str, prefix| IfAddr {
            index,
            ifname: ifname.into(),
            addr: v4(addr),
            prefix,
            label: None,
        };
        let addrs = vec![
            a(1, "lo", "127.0.0.1", 8),
            a(2, "eth0", "192.0.2.11", 16),
            a(3, "eth1", "192.0.2.11", 24),
            a(4, "eth2", "198.51.100.1", 24),
        ];
        assert_eq!(
            find_interface(v4("192.0.2.100"), &addrs),
            Some((3, "eth1".into(), 24))
        );
        assert_eq!(find_interface(v4("203.0.113.1"), &addrs), None);
    }

    #[test]
    fn picks_first_free_label() {
        assert_eq!(next_label("eth0", &[]), "eth0:0");
        assert_eq!(
            next_label("eth0", &["eth0:0".into(), "eth0:2".into()]),
            "eth0:1"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,64}") {
            let _ = VipSpec::parse_ipaddr(VipKind::IpAddr, &s);
            let _ = VipSpec::parse_ipv6addr(&s);
        }

        #[test]
        fn parse_roundtrips(a in any::<u32>(), p in 0u8..=32, dev in "[a-z]{1,8}[0-9]") {
            let ip = Ipv4Addr::from(a);
            let text = format!("{ip}/{p}/{dev}");
            let s = VipSpec::parse_ipaddr(VipKind::IpAddr2, &text).unwrap();
            prop_assert_eq!(s.resource_name(), format!("IPaddr2::{text}"));
        }

        #[test]
        fn subnet_contains_itself(a in any::<u32>(), p in 0u8..=32) {
            prop_assert!(in_subnet(IpAddr::V4(a.into()), IpAddr::V4(a.into()), p));
        }
    }
}
