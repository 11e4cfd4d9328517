//! Which source addresses a peer's heartbeats may come from, by the media `ha.cf` lists.
//!
//! A packet received on interface IFACE is taken only from:
//! - an address that a `ucast IFACE ADDR` / `ucast6` line names (the peer, possibly routed);
//! - with `bcast IFACE` or `mcast IFACE ...` (hop limit 1), an address on one of IFACE's own
//!   subnets: broadcast and link-scope multicast never cross a router;
//! - with an `mcast` line whose TTL is above 1, any address (the group is routed on purpose).
//!
//! The rule itself is pure ([`Allowed::allows`], given the interface's subnets); reading the
//! subnets is [`OnLink`]'s, which caches them and reads them again (at most once a second)
//! when a source does not fit, so addresses added at run time are followed. This is defence in
//! depth: the MAC and the freshness challenge ([`crate::packet::Receiver`]) are what make a
//! forged or replayed packet useless; this keeps a sender that is not where the media say out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::peer::Medium;

/// What the media of one interface allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// `ucast` peer addresses.
    pub peers: Vec<IpAddr>,
    /// `bcast` or link-scope `mcast` on the interface: its own subnets are allowed.
    pub on_link: bool,
    /// A routed `mcast` group (TTL above 1): any source.
    pub any: bool,
}

impl Allowed {
    /// Whether `from` may send on this interface, whose subnets are `nets` (address, prefix).
    pub fn allows(&self, from: IpAddr, nets: &[(IpAddr, u8)]) -> bool {
        let from = canonical(from);
        self.any
            || self.peers.iter().any(|p| canonical(*p) == from)
            || (self.on_link && nets.iter().any(|(net, len)| in_subnet(from, *net, *len)))
    }
}

/// The allowances of every interface of the media.
pub fn allowed(media: &[Medium]) -> HashMap<String, Allowed> {
    let mut by_iface: HashMap<String, Allowed> = HashMap::new();
    for m in media {
        let a = by_iface.entry(m.iface().to_string()).or_default();
        match m {
            Medium::Ucast { peer, .. } => a.peers.push(*peer),
            Medium::Bcast { .. } => a.on_link = true,
            Medium::Mcast { ttl, .. } if *ttl > 1 => a.any = true,
            Medium::Mcast { .. } => a.on_link = true,
        }
    }
    by_iface
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_subnet(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// How often an interface's subnets may be read again on a miss.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The media's allowances with the interfaces' subnets, read from the system and cached.
#[derive(Debug, Default)]
pub struct OnLink {
    allowed: HashMap<String, Allowed>,
    nets: HashMap<String, (Instant, Vec<(IpAddr, u8)>)>,
}

impl OnLink {
    /// For the given media.
    pub fn new(media: &[Medium]) -> OnLink {
        OnLink {
            allowed: allowed(media),
            nets: HashMap::new(),
        }
    }

    /// Whether a packet from `from` received on `iface` comes from where the media allow.
    /// A packet on an interface no medium names is refused.
    pub fn allows(&mut self, iface: &str, from: IpAddr, now: Instant) -> bool {
        let Some(allowed) = self.allowed.get(iface) else {
            return false;
        };
        if allowed.any
            || allowed
                .peers
                .iter()
                .any(|p| canonical(*p) == canonical(from))
        {
            return true;
        }
        if !allowed.on_link {
            return false;
        }
        let fits = |nets: &[(IpAddr, u8)]| allowed.allows(from, nets);
        match self.nets.get(iface) {
            Some((_, nets)) if fits(nets) => return true,
            Some((at, _)) if now.saturating_duration_since(*at) < REFRESH_EVERY => return false,
            _ => {}
        }
        let nets = subnets(iface);
        let ok = fits(&nets);
        self.nets.insert(iface.to_string(), (now, nets));
        ok
    }
}

/// The subnets (address, prefix length) of `iface`'s addresses; none when it cannot be read.
fn subnets(iface: &str) -> Vec<(IpAddr, u8)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter(|a| a.interface_name == iface)
        .filter_map(|a| {
            let addr = a.address?;
            let mask = a.netmask?;
            if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
                let len = u8::try_from(u32::from(m.ip()).count_ones()).ok()?;
                return Some((IpAddr::V4(ip.ip()), len));
            }
            if let (Some(ip), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
                let len = u8::try_from(u128::from(m.ip()).count_ones()).ok()?;
                return Some((IpAddr::V6(ip.ip()), len));
            }
            None
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_medium_allows_what_it_can_carry() {
        let media = vec![
            Medium::Ucast {
                iface: "eth0".into(),
                peer: ip("192.0.2.12"),
                port: 694,
            },
            Medium::Bcast {
                iface: "eth1".into(),
                port: 694,
            },
            Medium::Mcast {
                iface: "eth2".into(),
                group: ip("239.0.0.1"),
                port: 694,
                ttl: 1,
                looped: false,
            },
            Medium::Mcast {
                iface: "eth3".into(),
                group: ip("239.0.0.2"),
                port: 694,
                ttl: 4,
                looped: false,
            },
        ];
        let a = allowed(&media);
        let nets = [(ip("198.51.100.1"), 24)];
        // ucast: the named peer only, wherever it is.
        assert!(a["eth0"].allows(ip("192.0.2.12"), &nets));
        assert!(a["eth0"].allows(ip("::ffff:192.0.2.12"), &nets));
        assert!(!a["eth0"].allows(ip("192.0.2.13"), &nets));
        assert!(
            !a["eth0"].allows(ip("198.51.100.7"), &nets),
            "ucast alone is not on-link"
        );
        // bcast and link-scope mcast: the interface's subnets.
        for iface in ["eth1", "eth2"] {
            assert!(a[iface].allows(ip("198.51.100.7"), &nets));
            assert!(!a[iface].allows(ip("198.51.101.7"), &nets));
            assert!(!a[iface].allows(ip("203.0.113.9"), &nets));
        }
        // A routed mcast group: anyone.
        assert!(a["eth3"].allows(ip("203.0.113.9"), &[]));
    }

    #[test]
    fn subnet_edges() {
        assert!(in_subnet(ip("192.0.2.255"), ip("192.0.2.1"), 24));
        assert!(!in_subnet(ip("192.0.3.0"), ip("192.0.2.1"), 24));
        assert!(in_subnet(ip("203.0.113.9"), ip("192.0.2.1"), 0));
        assert!(in_subnet(ip("192.0.2.1"), ip("192.0.2.1"), 32));
        assert!(!in_subnet(ip("192.0.2.2"), ip("192.0.2.1"), 32));
        assert!(in_subnet(ip("2001:db8::9"), ip("2001:db8::1"), 64));
        assert!(!in_subnet(ip("2001:db8:1::9"), ip("2001:db8::1"), 64));
        assert!(!in_subnet(IpAddr::V4(Ipv4Addr::LOCALHOST), ip("::1"), 128));
    }

    #[test]
    fn an_interface_no_medium_names_is_refused() {
        let mut o = OnLink::new(&[Medium::Bcast {
            iface: "lo".into(),
            port: 694,
        }]);
        assert!(!o.allows("eth9", ip("127.0.0.1"), Instant::now()));
        // lo is 127.0.0.1/8 on every Linux machine.
        assert!(o.allows("lo", ip("127.0.0.2"), Instant::now()));
        assert!(!o.allows("lo", ip("192.0.2.1"), Instant::now()));
    }
}
