//! The director's decision core (pure): from the configured virtual services, the health of
//! each real server and the kernel table as found, compute the table IPVS should hold, and
//! describe each change in ldirectord's words.
//!
//! Rules (ldirectord 1.186 semantics, ref ldirectord.md 6.3, 6.6, 6.7, without its flapping):
//! - a real server that is up is present at its configured weight;
//! - a real server that is down is present at weight 0 when `quiescent`, absent otherwise
//!   (ldirectord's state after start or reload; a quiesced real deleted by hand comes back at
//!   weight 0, so `readdquiescent` is always in effect);
//! - a real server not yet checked keeps what the kernel has (adopted on restart, never
//!   dropped before its first verdict) and is not added before its first check passes;
//! - the fallback is present while every real server has a verdict and none is up;
//! - destinations in a managed service that are neither configured reals nor the fallback
//!   are removed (someone changed the table by hand);
//! - services not configured are left alone, unless director managed them before (a reload
//!   dropped them), then they are removed.

use std::collections::{BTreeMap, BTreeSet};

use crate::ipvs::{
    Change, Dest, DestKey, Forward, Protocol, Service, ServiceConfig, ServiceKey, Table,
};

/// Identifies one health check (a real server shared by several virtuals with the same check
/// has one id).
pub type CheckId = usize;

/// What the checks say of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No verdict yet (just started or just configured).
    Unknown,
    Up,
    Down,
}

/// A configured real server of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealSpec {
    /// The destination at its configured weight, port as configured.
    pub dest: Dest,
    pub check: CheckId,
}

/// A configured virtual service with everything the table decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualSpec {
    pub service: Service,
    pub reals: Vec<RealSpec>,
    /// `fallback=` (per virtual, or the global one), at weight 1 unless configured.
    pub fallback: Option<Dest>,
    /// `quiescent=yes`: a failed real stays at weight 0 instead of being removed.
    pub quiescent: bool,
}

/// The destination as the kernel will store it: for gate and ipip destinations of a TCP/UDP/SCTP
/// service the kernel (through ipvsadm) uses the service port (ldirectord.md 6.2).
pub fn kernel_dest(service: &ServiceKey, dest: &Dest) -> Dest {
    let mut d = dest.clone();
    if let ServiceKey::Addr { protocol, port, .. } = service {
        let rewrites = matches!(d.forward, Forward::Route | Forward::Tunnel)
            && matches!(protocol, Protocol::Tcp | Protocol::Udp | Protocol::Sctp);
        if rewrites {
            d.port = *port;
        }
    }
    d
}

/// The table IPVS should hold.
///
/// `previously_managed`: services director configured before this call that the current
/// configuration no longer has (they are removed); every other unconfigured service is kept.
pub fn desired(
    virtuals: &[VirtualSpec],
    health: &dyn Fn(CheckId) -> Health,
    actual: &Table,
    previously_managed: &BTreeSet<ServiceKey>,
) -> Table {
    let mut table = Table::default();
    for (key, config) in &actual.services {
        let configured = virtuals.iter().any(|v| v.service.key == *key);
        if !configured && !previously_managed.contains(key) {
            table.services.insert(*key, config.clone());
        }
    }
    for v in virtuals {
        let key = v.service.key;
        let present = actual.services.get(&key).map(|c| &c.dests);
        let mut dests: BTreeMap<DestKey, Dest> = BTreeMap::new();
        let mut serving = false;
        let mut all_known = true;
        for real in &v.reals {
            let want = kernel_dest(&key, &real.dest);
            let found = present.and_then(|p| p.get(&want.key()));
            match health(real.check) {
                Health::Up => {
                    serving = true;
                    dests.insert(want.key(), want);
                }
                Health::Down => {
                    if v.quiescent {
                        let mut q = want.clone();
                        q.weight = 0;
                        dests.insert(q.key(), q);
                    }
                }
                Health::Unknown => {
                    all_known = false;
                    if let Some(d) = found {
                        if d.weight > 0 {
                            serving = true;
                        }
                        dests.insert(d.key(), d.clone());
                    }
                }
            }
        }
        if let Some(fb) = &v.fallback {
            if !serving && all_known {
                let fb = kernel_dest(&key, fb);
                dests.insert(fb.key(), fb);
            }
        }
        table.services.insert(
            key,
            ServiceConfig {
                service: v.service.clone(),
                dests,
            },
        );
    }
    table
}

/// `<V>` as ldirectord logs a virtual service: `ip:port`, `[v6]:port`, or the bare mark.
pub fn virtual_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { addr, port, .. } => socket_name(addr, *port),
        ServiceKey::Fwmark { mark, .. } => mark.to_string(),
    }
}

fn socket_name(addr: &std::net::IpAddr, port: u16) -> String {
    match addr {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// One ldirectord-style log line for a change, given which destinations are fallbacks and the
/// weights before the change (`actual`).
pub fn describe(
    change: &Change,
    actual: &Table,
    fallbacks: &BTreeSet<(ServiceKey, DestKey)>,
) -> String {
    let dest_line = |key: &ServiceKey, dk: &DestKey| {
        (
            socket_name(&dk.addr, dk.port),
            virtual_name(key),
            fallbacks.contains(&(*key, *dk)),
        )
    };
    match change {
        Change::AddService(s) => format!("Added virtual server: {}", virtual_name(&s.key)),
        Change::EditService(s) => format!("Changed virtual server: {}", virtual_name(&s.key)),
        Change::DelService(k) => format!("Purged virtual server: {}", virtual_name(k)),
        Change::AddDest(k, d) => {
            let (r, v, fb) = dest_line(k, &d.key());
            if fb {
                format!(
                    "Added fallback server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            } else if d.weight == 0 {
                format!("Readd Quiescent real server: {r} ({v}) (Weight set to 0)")
            } else {
                format!("Added real server: {r} ({v}) (Weight set to {})", d.weight)
            }
        }
        Change::EditDest(k, d) => {
            let (r, v, fb) = dest_line(k, &d.key());
            let before = actual
                .services
                .get(k)
                .and_then(|c| c.dests.get(&d.key()))
                .map(|d| d.weight);
            if fb {
                format!(
                    "Added fallback server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            } else if d.weight == 0 {
                format!("Quiescent real server: {r} ({v}) (Weight set to 0)")
            } else if before == Some(0) {
                format!(
                    "Restored real server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            } else {
                format!(
                    "Changed real server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            }
        }
        Change::DelDest(k, dk) => {
            let (r, v, fb) = dest_line(k, dk);
            if fb {
                format!("Deleted fallback server: {r} ({v})")
            } else {
                format!("Deleted real server: {r} ({v})")
            }
        }
    }
}

/// `describe` with the configuration at hand: a destination removed from a managed service
/// that is neither a configured real nor its fallback, and a service dropped from the
/// configuration, are "purged" as ldirectord says it at start and reload.
pub fn describe_in(change: &Change, actual: &Table, virtuals: &[VirtualSpec]) -> String {
    match change {
        Change::DelService(k) => format!("Purged virtual server (start): {}", virtual_name(k)),
        Change::DelDest(k, dk) if !configured(virtuals, k, dk) => format!(
            "Purged real server (start): {} ({})",
            socket_name(&dk.addr, dk.port),
            virtual_name(k)
        ),
        other => describe(other, actual, &fallback_keys(virtuals)),
    }
}

fn configured(virtuals: &[VirtualSpec], key: &ServiceKey, dk: &DestKey) -> bool {
    virtuals.iter().filter(|v| v.service.key == *key).any(|v| {
        v.reals
            .iter()
            .any(|r| kernel_dest(key, &r.dest).key() == *dk)
            || v.fallback
                .as_ref()
                .is_some_and(|f| kernel_dest(key, f).key() == *dk)
    })
}

/// The lines ldirectord logs when it purges a service at stop (cleanstop=yes): each
/// destination, then the service.
pub fn describe_stop(key: &ServiceKey, config: Option<&ServiceConfig>) -> Vec<String> {
    let v = virtual_name(key);
    let mut lines: Vec<String> = config
        .map(|c| {
            c.dests
                .keys()
                .map(|dk| {
                    format!(
                        "Purged real server (stop): {} ({v})",
                        socket_name(&dk.addr, dk.port)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    lines.push(format!("Purged virtual server (stop): {v}"));
    lines
}

/// The (service, dest) pairs that are fallbacks in the configuration.
pub fn fallback_keys(virtuals: &[VirtualSpec]) -> BTreeSet<(ServiceKey, DestKey)> {
    virtuals
        .iter()
        .filter_map(|v| {
            v.fallback
                .as_ref()
                .map(|fb| (v.service.key, kernel_dest(&v.service.key, fb).key()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn vs(quiescent: bool, fallback: bool) -> VirtualSpec {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut service = Service::new(key);
        service.scheduler = "rr".into();
        let real = |a: &str, check| RealSpec {
            dest: Dest::new(ip(a), 80),
            check,
        };
        VirtualSpec {
            service,
            reals: vec![real("198.51.100.1", 0), real("198.51.100.2", 1)],
            fallback: fallback.then(|| Dest::new(ip("127.0.0.1"), 80)),
            quiescent,
        }
    }

    fn weights(t: &Table) -> Vec<(String, u32)> {
        t.services
            .values()
            .flat_map(|c| c.dests.values())
            .map(|d| (d.addr.to_string(), d.weight))
            .collect()
    }

    fn run(v: &VirtualSpec, h: [Health; 2], actual: &Table) -> Table {
        desired(std::slice::from_ref(v), &|c| h[c], actual, &BTreeSet::new())
    }

    #[test]
    fn up_reals_at_weight_and_no_fallback() {
        let v = vs(false, true);
        let t = run(&v, [Health::Up, Health::Up], &Table::default());
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 1)]
        );
    }

    #[test]
    fn down_real_removed_or_quiesced() {
        let v = vs(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let t = run(&v, [Health::Up, Health::Down], &up);
        assert_eq!(weights(&t), vec![("198.51.100.1".into(), 1)]);
        let v = vs(true, true);
        let t = run(&v, [Health::Up, Health::Down], &up);
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
    }

    #[test]
    fn a_failed_quiescent_real_is_at_weight_0_even_when_absent() {
        // ldirectord's end state after start or reload (its add-then-quiesce sequence), and
        // the repair of a quiesced real deleted by hand; checktype=off reals are always here
        let v = vs(true, false);
        let t = run(&v, [Health::Up, Health::Down], &Table::default());
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
    }

    #[test]
    fn fallback_when_all_down_and_gone_when_one_returns() {
        let v = vs(true, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let all_down = run(&v, [Health::Down, Health::Down], &up);
        assert_eq!(
            weights(&all_down),
            vec![
                ("127.0.0.1".into(), 1),
                ("198.51.100.1".into(), 0),
                ("198.51.100.2".into(), 0)
            ]
        );
        let back = run(&v, [Health::Down, Health::Up], &all_down);
        assert_eq!(
            weights(&back),
            vec![("198.51.100.1".into(), 0), ("198.51.100.2".into(), 1)]
        );
    }

    #[test]
    fn unknown_reals_adopted_as_found_and_never_added_early() {
        let v = vs(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        // restart: no verdicts yet, the kernel table is kept exactly
        let t = run(&v, [Health::Unknown, Health::Unknown], &up);
        assert_eq!(t, up);
        // fresh start: nothing is added before a check passes, and no fallback flap
        let t = run(&v, [Health::Unknown, Health::Unknown], &Table::default());
        assert_eq!(weights(&t), Vec::<(String, u32)>::new());
        // one verdict down, one unknown: still no fallback
        let t = run(&v, [Health::Down, Health::Unknown], &Table::default());
        assert_eq!(weights(&t), Vec::<(String, u32)>::new());
    }

    #[test]
    fn hand_added_dest_in_managed_service_is_removed_others_untouched() {
        let v = vs(false, false);
        let mut actual = run(&v, [Health::Up, Health::Up], &Table::default());
        let stray = Dest::new(ip("203.0.113.9"), 80);
        let key = v.service.key;
        if let Some(c) = actual.services.get_mut(&key) {
            c.dests.insert(stray.key(), stray);
        }
        let other_key = ServiceKey::Fwmark {
            family: crate::ipvs::Family::V4,
            mark: 7,
        };
        actual.services.insert(
            other_key,
            ServiceConfig {
                service: Service::new(other_key),
                dests: BTreeMap::new(),
            },
        );
        let t = run(&v, [Health::Up, Health::Up], &actual);
        assert_eq!(weights(&t).len(), 2);
        assert!(t.services.contains_key(&other_key));
        let forget: BTreeSet<_> = [other_key].into();
        let t = desired(std::slice::from_ref(&v), &|_| Health::Up, &actual, &forget);
        assert!(!t.services.contains_key(&other_key));
    }

    #[test]
    fn gate_dest_takes_service_port_masq_keeps_its_own() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut d = Dest::new(ip("198.51.100.1"), 8080);
        assert_eq!(kernel_dest(&key, &d).port, 80);
        d.forward = Forward::Masq;
        assert_eq!(kernel_dest(&key, &d).port, 8080);
        let fw = ServiceKey::Fwmark {
            family: crate::ipvs::Family::V4,
            mark: 1,
        };
        d.forward = Forward::Route;
        assert_eq!(kernel_dest(&fw, &d).port, 8080);
    }

    #[test]
    fn purge_lines_name_start_and_stop() {
        let v = vs(false, true);
        let key = v.service.key;
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let stray = Dest::new(ip("203.0.113.9"), 80);
        let empty = Table::default();
        let vs = std::slice::from_ref(&v);
        assert_eq!(
            describe_in(&Change::DelDest(key, stray.key()), &empty, vs),
            "Purged real server (start): 203.0.113.9:80 (192.0.2.132:80)"
        );
        let real = Dest::new(ip("198.51.100.1"), 80);
        assert_eq!(
            describe_in(&Change::DelDest(key, real.key()), &empty, vs),
            "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)"
        );
        assert_eq!(
            describe_in(&Change::DelService(key), &empty, vs),
            "Purged virtual server (start): 192.0.2.132:80"
        );
        assert_eq!(
            describe_stop(&key, up.services.get(&key)),
            vec![
                "Purged real server (stop): 198.51.100.1:80 (192.0.2.132:80)".to_string(),
                "Purged real server (stop): 198.51.100.2:80 (192.0.2.132:80)".to_string(),
                "Purged virtual server (stop): 192.0.2.132:80".to_string(),
            ]
        );
    }

    #[test]
    fn log_lines_use_ldirectord_words() {
        let v = vs(true, true);
        let key = v.service.key;
        let fbs = fallback_keys(std::slice::from_ref(&v));
        let d = Dest::new(ip("198.51.100.1"), 80);
        let empty = Table::default();
        assert_eq!(
            describe(&Change::AddDest(key, d.clone()), &empty, &fbs),
            "Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)"
        );
        let fb = Dest::new(ip("127.0.0.1"), 80);
        assert_eq!(
            describe(&Change::DelDest(key, fb.key()), &empty, &fbs),
            "Deleted fallback server: 127.0.0.1:80 (192.0.2.132:80)"
        );
        let mut q = d.clone();
        q.weight = 0;
        assert_eq!(
            describe(&Change::EditDest(key, q), &empty, &fbs),
            "Quiescent real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 0)"
        );
    }
}
