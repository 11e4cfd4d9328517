//! Traffic per virtual service and real server: one dump of the kernel's IPVS table (its
//! stats64 counters and connection counts) joined to the names director shows everywhere else
//! (`tcp:192.0.2.132:80`, `192.0.2.250:80`), and the rates between two such readings. Pure:
//! `daemon::traffic` does the dumping, `metrics` and `director top` read the result.
//!
//! The join goes through [`Names`], which the ldirectord core fills from its configuration: a
//! gate or ipip real server configured as `192.0.2.250:8080` on a service of port 80 is
//! `192.0.2.250:80` in the kernel (ldirectord.md 6.2), and shows under its configured name.
//! Services and destinations director does not manage (added by hand, another file's) keep
//! their kernel names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ipvs::{DestKey, Family, Protocol, ServiceKey, Snapshot, Stats};

/// The counters IPVS keeps per service and per destination (stats64, or the 32-bit block
/// of an older kernel), since the service or destination was added or last zeroed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Connections scheduled.
    pub connections: u64,
    /// Packets from the clients (to the real servers).
    pub in_packets: u64,
    /// Packets from the real servers through the director (NAT; 0 in direct routing).
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl Totals {
    fn of(stats: &Stats) -> Totals {
        Totals {
            connections: stats.conns,
            in_packets: stats.inpkts,
            out_packets: stats.outpkts,
            in_bytes: stats.inbytes,
            out_bytes: stats.outbytes,
        }
    }

    /// `self - earlier`, per counter and never below zero (a zeroed or re-added entry counts
    /// from zero again).
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            connections: self.connections.saturating_sub(earlier.connections),
            in_packets: self.in_packets.saturating_sub(earlier.in_packets),
            out_packets: self.out_packets.saturating_sub(earlier.out_packets),
            in_bytes: self.in_bytes.saturating_sub(earlier.in_bytes),
            out_bytes: self.out_bytes.saturating_sub(earlier.out_bytes),
        }
    }
}

/// One reading of the whole table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// When the kernel was read, in milliseconds on the daemon's monotonic clock (two readings
    /// with the same value are the same reading).
    pub taken_ms: u64,
    /// How long the dump took, in milliseconds.
    pub dump_ms: u64,
    /// Every service of the table, in kernel dump order.
    pub services: Vec<ServiceTraffic>,
}

/// One virtual service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTraffic {
    /// `tcp:192.0.2.132:80`, `udp:[2001:db8::1]:53`, `fwm:7`, `fwm6:7`.
    pub name: String,
    pub scheduler: String,
    pub totals: Totals,
    pub reals: Vec<RealTraffic>,
}

/// One real server (an IPVS destination) of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealTraffic {
    /// `192.0.2.250:80`, `[2001:db8::2]:80`: as configured when director manages it.
    pub address: String,
    pub weight: u32,
    /// Connections in ESTABLISHED (TCP) or any state of a UDP flow IPVS counts as active.
    pub active: u32,
    /// Connections in any other state (SYN_RECV, FIN_WAIT, TIME_WAIT, ...).
    pub inactive: u32,
    /// Persistence templates pointing at this server.
    pub persistent: u32,
    pub totals: Totals,
}

/// Names of the services and destinations director manages, by kernel key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    services: BTreeMap<ServiceKey, (String, BTreeMap<DestKey, String>)>,
}

impl Names {
    /// Name the service `key`.
    pub fn service(&mut self, key: ServiceKey, name: String) {
        self.services.entry(key).or_default().0 = name;
    }

    /// Name the destination `dest` of service `key` (the first name given wins: two configured
    /// real servers the kernel stores as one destination show under the first).
    pub fn real(&mut self, key: ServiceKey, dest: DestKey, name: String) {
        self.services
            .entry(key)
            .or_default()
            .1
            .entry(dest)
            .or_insert(name);
    }

    /// Add every name of `other` (several ldirectord files run at once).
    pub fn extend(&mut self, other: &Names) {
        for (key, (name, reals)) in &other.services {
            let entry = self.services.entry(*key).or_default();
            if entry.0.is_empty() {
                entry.0.clone_from(name);
            }
            for (dest, real) in reals {
                entry.1.entry(*dest).or_insert_with(|| real.clone());
            }
        }
    }

    fn service_name(&self, key: &ServiceKey) -> String {
        match self.services.get(key) {
            Some((name, _)) if !name.is_empty() => name.clone(),
            _ => service_name(key),
        }
    }

    fn real_name(&self, key: &ServiceKey, dest: &DestKey) -> String {
        self.services
            .get(key)
            .and_then(|(_, reals)| reals.get(dest))
            .cloned()
            .unwrap_or_else(|| real_name(dest))
    }
}

/// ldirectord's name of a kernel service key (its `<VID>`): `tcp:192.0.2.132:80`,
/// `udp:[2001:db8::1]:53`, `fwm:7`, `fwm6:7`.
pub fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let protocol = match protocol {
                Protocol::Tcp => "tcp".to_string(),
                Protocol::Udp => "udp".to_string(),
                Protocol::Sctp => "sctp".to_string(),
                Protocol::Other(n) => format!("ipproto{n}"),
            };
            format!(
                "{protocol}:{}:{port}",
                healthcheck::spec::host_string(*addr)
            )
        }
        ServiceKey::Fwmark {
            family: Family::V4,
            mark,
        } => format!("fwm:{mark}"),
        ServiceKey::Fwmark {
            family: Family::V6,
            mark,
        } => format!("fwm6:{mark}"),
    }
}

/// `192.0.2.250:80`, `[2001:db8::2]:80`.
pub fn real_name(dest: &DestKey) -> String {
    format!(
        "{}:{}",
        healthcheck::spec::host_string(dest.addr),
        dest.port
    )
}

/// The traffic of a dump, under the names `names` gives.
pub fn join(snapshot: &Snapshot, names: &Names, taken_ms: u64, dump_ms: u64) -> Traffic {
    let services = snapshot
        .services
        .iter()
        .map(|s| {
            let key = s.service.key;
            ServiceTraffic {
                name: names.service_name(&key),
                scheduler: s.service.scheduler.clone(),
                totals: Totals::of(s.stats64.as_ref().unwrap_or(&s.stats)),
                reals: s
                    .dests
                    .iter()
                    .map(|d| RealTraffic {
                        address: names.real_name(&key, &d.dest.key()),
                        weight: d.dest.weight,
                        active: d.active_conns,
                        inactive: d.inact_conns,
                        persistent: d.persist_conns,
                        totals: Totals::of(d.stats64.as_ref().unwrap_or(&d.stats)),
                    })
                    .collect(),
            }
        })
        .collect();
    Traffic {
        taken_ms,
        dump_ms,
        services,
    }
}

/// Per-second rates between two readings of the same entry.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub connections: f64,
    pub in_packets: f64,
    pub out_packets: f64,
    pub in_bytes: f64,
    pub out_bytes: f64,
}

impl Rates {
    /// The rates from `earlier` to `later`, `ms` milliseconds apart; none when no time passed.
    pub fn between(earlier: &Totals, later: &Totals, ms: u64) -> Option<Rates> {
        if ms == 0 {
            return None;
        }
        let d = later.since(earlier);
        let per_s = |n: u64| n as f64 * 1000.0 / ms as f64;
        Some(Rates {
            connections: per_s(d.connections),
            in_packets: per_s(d.in_packets),
            out_packets: per_s(d.out_packets),
            in_bytes: per_s(d.in_bytes),
            out_bytes: per_s(d.out_bytes),
        })
    }
}

/// The rates of every service and real server of `later` that `earlier` also has, by
/// (service name, real address; `None` for the service itself). Empty when `later` is not a
/// newer reading than `earlier`.
pub fn rates(earlier: &Traffic, later: &Traffic) -> BTreeMap<(String, Option<String>), Rates> {
    let mut out = BTreeMap::new();
    let Some(ms) = later
        .taken_ms
        .checked_sub(earlier.taken_ms)
        .filter(|ms| *ms > 0)
    else {
        return out;
    };
    let before: BTreeMap<(&str, Option<&str>), &Totals> = earlier
        .services
        .iter()
        .flat_map(|s| {
            std::iter::once(((s.name.as_str(), None), &s.totals)).chain(
                s.reals
                    .iter()
                    .map(|r| ((s.name.as_str(), Some(r.address.as_str())), &r.totals)),
            )
        })
        .collect();
    for s in &later.services {
        if let Some(r) = before
            .get(&(s.name.as_str(), None))
            .and_then(|b| Rates::between(b, &s.totals, ms))
        {
            out.insert((s.name.clone(), None), r);
        }
        for real in &s.reals {
            let key = (s.name.as_str(), Some(real.address.as_str()));
            if let Some(r) = before
                .get(&key)
                .and_then(|b| Rates::between(b, &real.totals, ms))
            {
                out.insert((s.name.clone(), Some(real.address.clone())), r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, DestEntry, Forward, Service, ServiceEntry};
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn stats(conns: u64, inpkts: u64, inbytes: u64) -> Stats {
        Stats {
            conns,
            inpkts,
            inbytes,
            // What the 32-bit block would not say: the join must read stats64.
            outpkts: 7,
            outbytes: 700,
            ..Stats::default()
        }
    }

    fn snapshot() -> Snapshot {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut gate = Dest::new(ip("192.0.2.250"), 80);
        gate.weight = 3;
        let mut masq = Dest::new(ip("192.0.2.251"), 8080);
        masq.forward = Forward::Masq;
        Snapshot {
            services: vec![
                ServiceEntry {
                    service: Service::new(key),
                    stats: Stats::default(),
                    stats64: Some(stats(10, 40, 4000)),
                    dests: vec![
                        DestEntry {
                            dest: gate,
                            active_conns: 2,
                            inact_conns: 5,
                            persist_conns: 0,
                            stats: Stats::default(),
                            stats64: Some(stats(6, 24, 2400)),
                        },
                        DestEntry {
                            dest: masq,
                            active_conns: 1,
                            inact_conns: 0,
                            persist_conns: 1,
                            // an old kernel: no stats64, the 32-bit block counts
                            stats: stats(4, 16, 1600),
                            stats64: None,
                        },
                    ],
                },
                ServiceEntry {
                    service: Service::new(ServiceKey::Fwmark {
                        family: Family::V6,
                        mark: 7,
                    }),
                    stats: Stats::default(),
                    stats64: Some(Stats::default()),
                    dests: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_dump_joins_to_the_configured_names_and_keeps_the_kernel_names_of_the_rest() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut names = Names::default();
        names.service(key, "tcp:192.0.2.132:80".into());
        // configured as :8080 gate: the kernel stores the service port
        names.real(
            key,
            DestKey {
                addr: ip("192.0.2.250"),
                port: 80,
            },
            "192.0.2.250:8080".into(),
        );
        let t = join(&snapshot(), &names, 1500, 3);
        assert_eq!(t.taken_ms, 1500);
        assert_eq!(t.dump_ms, 3);
        let vs = &t.services[0];
        assert_eq!(vs.name, "tcp:192.0.2.132:80");
        assert_eq!(vs.scheduler, "wlc");
        assert_eq!(
            vs.totals,
            Totals {
                connections: 10,
                in_packets: 40,
                out_packets: 7,
                in_bytes: 4000,
                out_bytes: 700
            }
        );
        assert_eq!(vs.reals[0].address, "192.0.2.250:8080");
        assert_eq!(
            (vs.reals[0].weight, vs.reals[0].active, vs.reals[0].inactive),
            (3, 2, 5)
        );
        assert_eq!(vs.reals[0].totals.connections, 6);
        assert_eq!(vs.reals[1].address, "192.0.2.251:8080");
        assert_eq!(vs.reals[1].totals.connections, 4);
        assert_eq!(vs.reals[1].persistent, 1);
        assert_eq!(t.services[1].name, "fwm6:7");
    }

    #[test]
    fn kernel_names_are_ldirectords() {
        let v6 = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("2001:db8::1"),
            port: 53,
        };
        assert_eq!(service_name(&v6), "udp:[2001:db8::1]:53");
        let sctp = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: ip("192.0.2.1"),
            port: 9,
        };
        assert_eq!(service_name(&sctp), "sctp:192.0.2.1:9");
        let fwm = ServiceKey::Fwmark {
            family: Family::V4,
            mark: 5,
        };
        assert_eq!(service_name(&fwm), "fwm:5");
        let dest = DestKey {
            addr: ip("2001:db8::2"),
            port: 80,
        };
        assert_eq!(real_name(&dest), "[2001:db8::2]:80");
    }

    #[test]
    fn rates_are_per_second_between_two_readings() {
        let names = Names::default();
        let earlier = join(&snapshot(), &names, 1000, 0);
        let mut later_snap = snapshot();
        later_snap.services[0].stats64 = Some(stats(30, 140, 14000));
        later_snap.services[0].dests[0].stats64 = Some(stats(26, 124, 12400));
        let later = join(&later_snap, &names, 3000, 0);
        let r = rates(&earlier, &later);
        let vs = r[&("tcp:192.0.2.132:80".to_string(), None)];
        assert_eq!(vs.connections, 10.0);
        assert_eq!(vs.in_packets, 50.0);
        assert_eq!(vs.in_bytes, 5000.0);
        assert_eq!(vs.out_bytes, 0.0);
        let rs = r[&(
            "tcp:192.0.2.132:80".to_string(),
            Some("192.0.2.250:80".to_string()),
        )];
        assert_eq!(rs.connections, 10.0);
        let other = r[&(
            "tcp:192.0.2.132:80".to_string(),
            Some("192.0.2.251:8080".to_string()),
        )];
        assert_eq!(other.connections, 0.0);
        // the same reading twice (a cached one) gives no rates, not zero rates
        assert!(rates(&later, &later).is_empty());
        assert!(rates(&later, &earlier).is_empty());
    }

    #[test]
    fn a_zeroed_counter_gives_zero_not_a_wrap() {
        let high = Totals {
            connections: 100,
            ..Totals::default()
        };
        let r = Rates::between(&high, &Totals::default(), 1000).unwrap();
        assert_eq!(r.connections, 0.0);
        assert!(Rates::between(&high, &high, 0).is_none());
    }

    proptest! {
        #[test]
        fn growth_over_time_is_the_rate(
            base in 0u64..1 << 40,
            grow in 0u64..1 << 20,
            ms in 1u64..100_000,
        ) {
            let a = Totals { connections: base, in_bytes: base, ..Totals::default() };
            let b = Totals { connections: base + grow, in_bytes: base + grow, ..Totals::default() };
            let r = Rates::between(&a, &b, ms).unwrap();
            let want = grow as f64 * 1000.0 / ms as f64;
            prop_assert!((r.connections - want).abs() <= want * 1e-12);
            prop_assert!((r.connections * ms as f64 / 1000.0 - grow as f64).abs() < 1e-6 * (grow as f64 + 1.0));
            prop_assert_eq!(r.in_bytes, r.connections);
        }
    }
}
