//! Desired vs actual: the smallest list of [`Change`]s that turns one IPVS table into another.
//!
//! Pure. A service whose identifying key stays is edited (`SET_SERVICE` replaces scheduler,
//! flags, timeout, netmask and PE), never deleted and re-added, since that would drop its
//! connections and counters; likewise a destination is edited (`SET_DEST`) when only its
//! forwarding method, weight, thresholds or tunnel settings differ. A deleted service takes
//! its destinations with it (the kernel removes them), so no `DelDest` is planned for them.
//!
//! Order: new services, edited services, new destinations, edited destinations, deleted
//! destinations, deleted services. Services exist before their destinations are added, and
//! when real servers are swapped the new ones are in place before the old ones go, so a
//! service is never left empty in between.

use crate::ipvs::error::{IpvsCmd, IpvsError};
use crate::ipvs::model::{Change, DestKey, Family, Protocol, ServiceConfig, ServiceKey, Table};

/// The changes that turn `actual` into `desired`, in the order they must be applied.
pub fn plan(desired: &Table, actual: &Table) -> Vec<Change> {
    let mut add_services = Vec::new();
    let mut edit_services = Vec::new();
    let mut add_dests = Vec::new();
    let mut edit_dests = Vec::new();
    let mut del_dests = Vec::new();
    let mut del_services = Vec::new();

    for (key, want) in &desired.services {
        match actual.services.get(key) {
            None => {
                add_services.push(Change::AddService(want.service.clone()));
                add_dests.extend(
                    want.dests
                        .values()
                        .map(|d| Change::AddDest(*key, d.clone())),
                );
            }
            Some(have) => {
                if want.service != have.service {
                    edit_services.push(Change::EditService(want.service.clone()));
                }
                for (dkey, d) in &want.dests {
                    match have.dests.get(dkey) {
                        None => add_dests.push(Change::AddDest(*key, d.clone())),
                        Some(h) if h != d => edit_dests.push(Change::EditDest(*key, d.clone())),
                        Some(_) => {}
                    }
                }
                del_dests.extend(
                    have.dests
                        .keys()
                        .filter(|dkey| !want.dests.contains_key(dkey))
                        .map(|dkey| Change::DelDest(*key, *dkey)),
                );
            }
        }
    }
    del_services.extend(
        actual
            .services
            .keys()
            .filter(|key| !desired.services.contains_key(key))
            .map(|key| Change::DelService(*key)),
    );

    let mut changes = add_services;
    changes.extend(edit_services);
    changes.extend(add_dests);
    changes.extend(edit_dests);
    changes.extend(del_dests);
    changes.extend(del_services);
    changes
}

/// Apply one change to a table with the kernel's rules: adding what exists is `EEXIST`,
/// touching a missing service `ESRCH`, editing or deleting a missing destination `ENOENT`.
/// The table is unchanged when an error is returned.
pub fn apply_to(table: &mut Table, change: &Change) -> Result<(), IpvsError> {
    let refuse = |errno: i32| IpvsError::Kernel {
        op: op_of(change),
        errno,
        what: describe(change),
    };
    match change {
        Change::AddService(service) => {
            if table.services.contains_key(&service.key) {
                return Err(refuse(libc::EEXIST));
            }
            table.services.insert(
                service.key,
                ServiceConfig {
                    service: service.clone(),
                    dests: Default::default(),
                },
            );
        }
        Change::EditService(service) => {
            let config = table
                .services
                .get_mut(&service.key)
                .ok_or_else(|| refuse(libc::ESRCH))?;
            config.service = service.clone();
        }
        Change::DelService(key) => {
            table
                .services
                .remove(key)
                .ok_or_else(|| refuse(libc::ESRCH))?;
        }
        Change::AddDest(key, dest) => {
            let config = table
                .services
                .get_mut(key)
                .ok_or_else(|| refuse(libc::ESRCH))?;
            if config.dests.contains_key(&dest.key()) {
                return Err(refuse(libc::EEXIST));
            }
            config.dests.insert(dest.key(), dest.clone());
        }
        Change::EditDest(key, dest) => {
            let config = table
                .services
                .get_mut(key)
                .ok_or_else(|| refuse(libc::ESRCH))?;
            let have = config
                .dests
                .get_mut(&dest.key())
                .ok_or_else(|| refuse(libc::ENOENT))?;
            *have = dest.clone();
        }
        Change::DelDest(key, dkey) => {
            let config = table
                .services
                .get_mut(key)
                .ok_or_else(|| refuse(libc::ESRCH))?;
            config
                .dests
                .remove(dkey)
                .ok_or_else(|| refuse(libc::ENOENT))?;
        }
    }
    Ok(())
}

/// The operation a change performs (what ipvsadm words its errors by).
pub fn op_of(change: &Change) -> IpvsCmd {
    match change {
        Change::AddService(_) => IpvsCmd::NewService,
        Change::EditService(_) => IpvsCmd::SetService,
        Change::DelService(_) => IpvsCmd::DelService,
        Change::AddDest(..) => IpvsCmd::NewDest,
        Change::EditDest(..) => IpvsCmd::SetDest,
        Change::DelDest(..) => IpvsCmd::DelDest,
    }
}

/// A change in words: `add real server 198.51.100.1:80 to TCP 192.0.2.10:80`.
pub fn describe(change: &Change) -> String {
    match change {
        Change::AddService(s) => format!("add virtual service {}", service_words(&s.key)),
        Change::EditService(s) => format!("edit virtual service {}", service_words(&s.key)),
        Change::DelService(key) => format!("delete virtual service {}", service_words(key)),
        Change::AddDest(key, d) => format!(
            "add real server {} to {}",
            dest_words(&d.key()),
            service_words(key)
        ),
        Change::EditDest(key, d) => format!(
            "edit real server {} of {}",
            dest_words(&d.key()),
            service_words(key)
        ),
        Change::DelDest(key, d) => format!(
            "delete real server {} from {}",
            dest_words(d),
            service_words(key)
        ),
    }
}

/// A service as ipvsadm lists it: `TCP 192.0.2.10:80`, `UDP [2001:db8::1]:53`, `FWM 7 IPv6`.
pub fn service_words(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let proto = match protocol {
                Protocol::Tcp => "TCP".to_string(),
                Protocol::Udp => "UDP".to_string(),
                Protocol::Sctp => "SCTP".to_string(),
                Protocol::Other(n) => format!("protocol {n}"),
            };
            format!("{proto} {}", std::net::SocketAddr::new(*addr, *port))
        }
        ServiceKey::Fwmark { family, mark } => match family {
            Family::V4 => format!("FWM {mark}"),
            Family::V6 => format!("FWM {mark} IPv6"),
        },
    }
}

fn dest_words(key: &DestKey) -> String {
    std::net::SocketAddr::new(key.addr, key.port).to_string()
}

/// Number of services and destinations that differ between two tables: what a minimal plan
/// must touch (a removed service counts once, its destinations go with it).
#[cfg(test)]
fn differences(desired: &Table, actual: &Table) -> usize {
    let mut n = 0;
    for (key, want) in &desired.services {
        match actual.services.get(key) {
            None => n += 1 + want.dests.len(),
            Some(have) => {
                n += usize::from(want.service != have.service);
                let keys: std::collections::BTreeSet<&DestKey> =
                    want.dests.keys().chain(have.dests.keys()).collect();
                n += keys
                    .into_iter()
                    .filter(|k| want.dests.get(k) != have.dests.get(k))
                    .count();
            }
        }
    }
    n + actual
        .services
        .keys()
        .filter(|k| !desired.services.contains_key(k))
        .count()
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::ipvs::arb::arb_table;
    use crate::ipvs::model::{Dest, Forward, Service};

    fn key(n: u8) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
            port: 80,
        }
    }

    fn dest(n: u8) -> Dest {
        Dest::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)), 80)
    }

    fn table(services: &[(Service, Vec<Dest>)]) -> Table {
        Table {
            services: services
                .iter()
                .map(|(s, ds)| {
                    (
                        s.key,
                        ServiceConfig {
                            service: s.clone(),
                            dests: ds.iter().map(|d| (d.key(), d.clone())).collect(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn scheduler_change_is_an_edit_and_weight_change_is_an_edit() {
        let s = Service::new(key(10));
        let mut s2 = s.clone();
        s2.scheduler = "rr".into();
        let mut d2 = dest(1);
        d2.weight = 5;
        d2.forward = Forward::Masq;
        let actual = table(&[(s.clone(), vec![dest(1)])]);
        let desired = table(&[(s2.clone(), vec![d2.clone()])]);
        assert_eq!(
            plan(&desired, &actual),
            vec![Change::EditService(s2), Change::EditDest(key(10), d2)]
        );
    }

    #[test]
    fn new_service_comes_before_its_dests_and_deletes_come_last() {
        let old = Service::new(key(1));
        let new = Service::new(key(2));
        let kept = Service::new(key(3));
        let actual = table(&[(old.clone(), vec![dest(1)]), (kept.clone(), vec![dest(1)])]);
        let desired = table(&[(new.clone(), vec![dest(2)]), (kept.clone(), vec![dest(2)])]);
        assert_eq!(
            plan(&desired, &actual),
            vec![
                Change::AddService(new),
                Change::AddDest(key(2), dest(2)),
                Change::AddDest(key(3), dest(2)),
                Change::DelDest(key(3), dest(1).key()),
                Change::DelService(key(1)),
            ]
        );
    }

    #[test]
    fn apply_to_follows_the_kernel_rules() {
        let mut t = Table::default();
        let s = Service::new(key(1));
        apply_to(&mut t, &Change::AddService(s.clone())).expect("add");
        let err = apply_to(&mut t, &Change::AddService(s.clone())).expect_err("twice");
        assert!(matches!(
            err,
            IpvsError::Kernel {
                errno: libc::EEXIST,
                ..
            }
        ));
        let err = apply_to(&mut t, &Change::AddDest(key(2), dest(1))).expect_err("no svc");
        assert!(matches!(
            err,
            IpvsError::Kernel {
                errno: libc::ESRCH,
                ..
            }
        ));
        let err = apply_to(&mut t, &Change::DelDest(key(1), dest(1).key())).expect_err("no rs");
        match err {
            IpvsError::Kernel { op, errno, what } => {
                assert_eq!((op, errno), (IpvsCmd::DelDest, libc::ENOENT));
                assert_eq!(
                    what,
                    "delete real server 198.51.100.1:80 from TCP 192.0.2.1:80"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn words_name_services_like_ipvsadm() {
        assert_eq!(service_words(&key(10)), "TCP 192.0.2.10:80");
        let v6 = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "2001:db8::1".parse().expect("v6"),
            port: 53,
        };
        assert_eq!(service_words(&v6), "UDP [2001:db8::1]:53");
        let fwm = ServiceKey::Fwmark {
            family: Family::V6,
            mark: 7,
        };
        assert_eq!(service_words(&fwm), "FWM 7 IPv6");
        assert_eq!(
            describe(&Change::AddDest(key(10), dest(1))),
            "add real server 198.51.100.1:80 to TCP 192.0.2.10:80"
        );
    }

    proptest! {
        #[test]
        fn plan_of_a_table_against_itself_is_empty(t in arb_table()) {
            prop_assert!(plan(&t, &t).is_empty());
        }

        #[test]
        fn applying_the_plan_yields_the_desired_table(d in arb_table(), a in arb_table()) {
            let changes = plan(&d, &a);
            let mut t = a.clone();
            for change in &changes {
                let applied = apply_to(&mut t, change);
                prop_assert!(applied.is_ok(), "{:?}: {:?}", change, applied);
            }
            prop_assert_eq!(t, d);
        }

        #[test]
        fn the_plan_is_minimal(d in arb_table(), a in arb_table()) {
            let changes = plan(&d, &a);
            prop_assert_eq!(changes.len(), differences(&d, &a));
            // Only what is missing is added and only what is unwanted is deleted, so nothing
            // is deleted and re-added.
            for c in &changes {
                let ok = match c {
                    Change::AddService(s) => !a.services.contains_key(&s.key),
                    Change::DelService(k) => !d.services.contains_key(k),
                    Change::AddDest(k, dest) => a
                        .services
                        .get(k)
                        .is_none_or(|s| !s.dests.contains_key(&dest.key())),
                    Change::DelDest(k, dk) => d
                        .services
                        .get(k)
                        .is_none_or(|s| !s.dests.contains_key(dk)),
                    Change::EditService(_) | Change::EditDest(..) => true,
                };
                prop_assert!(ok, "{:?}", c);
            }
        }
    }
}
