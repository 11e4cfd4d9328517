//! The pure part of scale-out: which VIPs this director announces, and the static-route file
//! that announces them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One virtual service's ability to serve, as its VIP's announcement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHealth {
    pub vip: IpAddr,
    /// At least one real server up, or the fallback in the table.
    pub serving: bool,
}

/// Each address service of `virtuals` (`director status`'s view) with whether it can serve:
/// a real server up or the fallback in the table. Firewall-mark services have no address of
/// their own and are left out (their addresses live in the firewall's rules).
pub fn services_of(virtuals: &[crate::status::VirtualStatus]) -> Vec<ServiceHealth> {
    virtuals
        .iter()
        .filter_map(|v| {
            let (_proto, rest) = v.name.split_once(':')?;
            let (addr, _port) = rest.rsplit_once(':')?;
            let vip: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?;
            Some(ServiceHealth {
                vip,
                serving: v.fallback_active || v.reals.iter().any(|r| r.health == "up"),
            })
        })
        .collect()
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
    fn services_come_from_the_status_and_fwmarks_are_left_out() {
        use crate::status::{RealStatus, VirtualStatus};
        let v = |name: &str, fallback, health: &[&str]| VirtualStatus {
            name: name.into(),
            fallback_active: fallback,
            reals: health
                .iter()
                .map(|h| RealStatus {
                    health: h.to_string(),
                    ..RealStatus::default()
                })
                .collect(),
            ..VirtualStatus::default()
        };
        let got = services_of(&[
            v("tcp:192.0.2.100:80", false, &["down", "up"]),
            v("udp:[2001:db8::53]:53", false, &["down"]),
            v("tcp:192.0.2.101:443", true, &[]),
            v("fwm:7", false, &["up"]),
        ]);
        assert_eq!(
            got,
            vec![
                ServiceHealth {
                    vip: ip("192.0.2.100"),
                    serving: true
                },
                ServiceHealth {
                    vip: ip("2001:db8::53"),
                    serving: false
                },
                ServiceHealth {
                    vip: ip("192.0.2.101"),
                    serving: true
                },
            ]
        );
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
