//! Scale-out: several active directors behind the routers' ECMP, each announcing the VIPs it
//! can serve through an existing BGP daemon, BIRD 2. director never speaks BGP itself: it
//! writes the VIPs into a file of static routes that the operator's `bird.conf` includes and
//! exports to the routers, and asks BIRD to reload it over its control socket.
//!
//! The pure part:
//! - [`announced`]: which VIPs this director announces: those with at least one service that
//!   can serve (a real server up, or the fallback), unless the operator put the node in
//!   standby;
//! - [`render`]: the static-route file for those VIPs (one `protocol static` per family);
//! - [`bird`]: BIRD's control-socket replies.
//!
//! Work in progress (issue "scale out"): the announcing loop in `director run`, the
//! `director.conf` section, status and metrics, and the lab scenario are not built yet.

pub mod bird;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One virtual service's ability to serve, as its VIP's announcement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHealth {
    pub vip: IpAddr,
    /// At least one real server up, or the fallback in the table.
    pub serving: bool,
}

/// The VIPs to announce: every VIP one of whose services can serve, none in operator standby.
/// A VIP with several services (ports 80 and 443) stays announced while one of them serves:
/// withdrawing it would take the working ones down too.
pub fn announced(services: &[ServiceHealth], standby: bool) -> BTreeSet<IpAddr> {
    if standby {
        return BTreeSet::new();
    }
    let mut by_vip: BTreeMap<IpAddr, bool> = BTreeMap::new();
    for s in services {
        *by_vip.entry(s.vip).or_default() |= s.serving;
    }
    by_vip
        .into_iter()
        .filter_map(|(vip, serving)| serving.then_some(vip))
        .collect()
}

/// The file BIRD includes: a `protocol static NAME4` (ipv4) and `NAME6` (ipv6) with a host
/// route per announced VIP (`blackhole`: BIRD's kernel protocol must not export them; the
/// director's own local route for the VIP wins anyway). Both protocols are always written, so
/// the operator's export filter (`where proto = "NAME4"`) always names something.
pub fn render(announced: &BTreeSet<IpAddr>, name: &str) -> String {
    let mut out = String::from(
        "# Written by director: the VIPs this director can serve, announced through BIRD.\n\
         # Do not edit: director rewrites it and reloads BIRD when a VIP comes or goes.\n",
    );
    for (suffix, channel, v6) in [("4", "ipv4", false), ("6", "ipv6", true)] {
        out.push_str(&format!(
            "protocol static {name}{suffix} {{\n    {channel};\n"
        ));
        for vip in announced.iter().filter(|v| v.is_ipv6() == v6) {
            let len = if v6 { 128 } else { 32 };
            out.push_str(&format!("    route {vip}/{len} blackhole;\n"));
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_vip_is_announced_while_one_of_its_services_serves() {
        let s = |vip: &str, serving| ServiceHealth {
            vip: ip(vip),
            serving,
        };
        let services = [
            s("192.0.2.100", true),
            s("192.0.2.100", false),
            s("192.0.2.101", false),
            s("2001:db8::100", true),
        ];
        assert_eq!(
            announced(&services, false),
            [ip("192.0.2.100"), ip("2001:db8::100")].into()
        );
        assert!(
            announced(&services, true).is_empty(),
            "standby withdraws all"
        );
        assert!(announced(&[], false).is_empty());
    }

    #[test]
    fn the_file_has_both_families_always() {
        let text = render(
            &[ip("192.0.2.100"), ip("2001:db8::100")].into(),
            "director_vips",
        );
        assert!(text.contains(
            "protocol static director_vips4 {\n    ipv4;\n    route 192.0.2.100/32 blackhole;\n}\n"
        ));
        assert!(text.contains(
            "protocol static director_vips6 {\n    ipv6;\n    route 2001:db8::100/128 blackhole;\n}\n"
        ));
        let empty = render(&BTreeSet::new(), "v");
        assert!(empty.contains("protocol static v4 {\n    ipv4;\n}\n"));
        assert!(empty.contains("protocol static v6 {\n    ipv6;\n}\n"));
    }
}
