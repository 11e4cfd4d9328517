//! Exercise `ipvs::client::Client` against the running kernel (the lab VM): program a table
//! through `plan` + `apply`, dump it back and compare, edit it, provoke a kernel error, load
//! a bulk table, and leave a small table behind for `ipvsadm -Ln` to show.
//!
//! Usage: `ipvs_smoke [BULK_SERVICES]` (as root, in a network namespace you may wipe: it
//! flushes the IPVS table first). Exit status 0 when every check passed.
//! `ipvs_smoke dump` only prints the kernel's table as director reads it.

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Instant;

use director::ipvs::client::Client;
use director::ipvs::plan::plan;
use director::ipvs::{
    flags, tun_flags, Change, Dest, Family, Forward, Ipvs, IpvsError, Protocol, Service,
    ServiceConfig, ServiceKey, Table, Timeouts, TunnelType,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("bad literal {s}"))
}

fn table(services: Vec<(Service, Vec<Dest>)>) -> Table {
    Table {
        services: services
            .into_iter()
            .map(|(s, ds)| {
                (
                    s.key,
                    ServiceConfig {
                        service: s,
                        dests: ds.into_iter().map(|d| (d.key(), d)).collect(),
                    },
                )
            })
            .collect(),
    }
}

fn small_table() -> Table {
    let web = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip("192.0.2.10"),
        port: 80,
    };
    let mut s1 = Service::new(web);
    s1.scheduler = "rr".into();
    s1.flags = flags::IP_VS_SVC_F_PERSISTENT;
    s1.timeout = 300;
    s1.netmask = 0xffff_ff00;
    let mut d1 = Dest::new(ip("198.51.100.1"), 8080);
    d1.forward = Forward::Masq;
    d1.weight = 3;
    d1.u_threshold = 100;
    d1.l_threshold = 50;
    let d2 = Dest::new(ip("198.51.100.2"), 80);

    let mut s2 = Service::new(ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("192.0.2.10"),
        port: 53,
    });
    s2.flags = flags::IP_VS_SVC_F_ONEPACKET;

    let mut s3 = Service::new(ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip("2001:db8::10"),
        port: 443,
    });
    s3.scheduler = "sh".into();
    s3.flags =
        flags::IP_VS_SVC_F_PERSISTENT | flags::IP_VS_SVC_F_SCHED1 | flags::IP_VS_SVC_F_SCHED2;
    s3.timeout = 60;
    s3.netmask = 64;
    let mut d3 = Dest::new(ip("192.0.2.5"), 443);
    d3.forward = Forward::Tunnel;
    d3.tun_type = TunnelType::Gue;
    d3.tun_port = 6080;
    d3.tun_flags = tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM;

    let s4 = Service::new(ServiceKey::Fwmark {
        family: Family::V6,
        mark: 7,
    });
    let d4 = Dest::new(ip("2001:db8::7"), 0);

    table(vec![
        (s1, vec![d1, d2]),
        (s2, vec![]),
        (s3, vec![d3]),
        (s4, vec![d4]),
    ])
}

fn bulk_table(n: u16) -> Table {
    let services = (0..n)
        .map(|i| {
            let key = ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: IpAddr::from([203, 0, 113, (i % 250) as u8 + 1]),
                port: 1000 + i / 250,
            };
            let dests = (1..=10u8)
                .map(|j| {
                    let mut d = Dest::new(IpAddr::from([198, 51, 100, j]), 8000 + i);
                    d.forward = Forward::Masq;
                    d.weight = u32::from(j);
                    d
                })
                .collect();
            (Service::new(key), dests)
        })
        .collect();
    table(services)
}

struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        println!("{} {what}", if ok { "PASS" } else { "FAIL" });
        if !ok {
            self.failed += 1;
        }
    }
}

fn sync(client: &mut Client, desired: &Table) -> Result<usize, IpvsError> {
    let actual = client.dump()?.table();
    let changes = plan(desired, &actual);
    client.apply(&changes)?;
    Ok(changes.len())
}

fn run(bulk: u16) -> Result<usize, IpvsError> {
    let mut checks = Checks { failed: 0 };
    let mut client = Client::connect()?;
    println!("family id {:#x}", client.family_id());
    let info = client.info()?;
    println!(
        "IP Virtual Server version {}.{}.{} (size={})",
        info.version >> 16,
        (info.version >> 8) & 0xff,
        info.version & 0xff,
        info.conn_tab_size
    );
    client.flush()?;
    checks.check(
        client.dump()?.services.is_empty(),
        "flush leaves an empty table",
    );

    // 1. Program the small table from nothing.
    let desired = small_table();
    let n = sync(&mut client, &desired)?;
    println!("applied {n} changes");
    let snapshot = client.dump()?;
    checks.check(
        snapshot.table() == desired,
        "dump after apply equals the desired table",
    );
    checks.check(
        plan(&desired, &snapshot.table()).is_empty(),
        "nothing left to plan",
    );
    for entry in &snapshot.services {
        println!("  {:?}", entry.service);
        for d in &entry.dests {
            println!("    -> {:?}", d.dest);
        }
    }

    // 2. Edit: scheduler, weight, tunnel flags, a dest swap.
    let mut edited = desired.clone();
    for config in edited.services.values_mut() {
        if config.service.scheduler == "rr" {
            config.service.scheduler = "wrr".into();
        }
        for d in config.dests.values_mut() {
            d.weight += 1;
            if d.tun_type == TunnelType::Gue {
                d.tun_flags = tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM;
            }
        }
    }
    let changes = plan(&edited, &client.dump()?.table());
    for c in &changes {
        println!("  plan: {c:?}");
    }
    checks.check(
        changes
            .iter()
            .all(|c| matches!(c, Change::EditService(_) | Change::EditDest(..))),
        "an edit is planned as edits only",
    );
    client.apply(&changes)?;
    checks.check(
        client.dump()?.table() == edited,
        "dump after edit equals the edited table",
    );

    // 3. One service by key.
    let key = *edited
        .services
        .keys()
        .next()
        .ok_or_else(|| IpvsError::Decode("empty table".into()))?;
    let one = client.service(&key)?;
    checks.check(
        edited.services.get(&key).map(|c| &c.service) == Some(&one.service),
        "GET_SERVICE returns the service",
    );

    // 4. Errors come back naming the change.
    let first = edited.services.values().next().map(|c| c.service.clone());
    if let Some(service) = first {
        let err = client.apply(&[Change::AddService(service)]);
        println!("  duplicate add: {err:?}");
        checks.check(
            matches!(err, Err(IpvsError::Kernel { errno, .. }) if errno == libc::EEXIST),
            "adding an existing service is EEXIST",
        );
        if let Err(e) = err {
            println!("  message: {e}");
        }
    }
    let missing = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip("192.0.2.99"),
        port: 80,
    };
    let err = client.service(&missing);
    checks.check(
        matches!(err, Err(IpvsError::Kernel { errno, .. }) if errno == libc::ESRCH),
        "GET_SERVICE of a missing service is ESRCH",
    );
    // A failing change in the middle of a batch: the first error is reported.
    let batch = vec![
        Change::DelService(missing),
        Change::AddDest(missing, Dest::new(ip("198.51.100.9"), 80)),
    ];
    let err = client.apply(&batch);
    println!("  batch error: {err:?}");
    checks.check(
        matches!(&err, Err(IpvsError::Kernel { what, .. }) if what.starts_with("delete virtual service")),
        "the earliest refused change of a batch is reported",
    );

    // 5. Timeouts and daemons.
    let before = client.timeouts()?;
    client.set_timeouts(&Timeouts {
        tcp: 901,
        tcp_fin: 121,
        udp: 301,
    })?;
    let after = client.timeouts()?;
    checks.check(
        after
            == Timeouts {
                tcp: 901,
                tcp_fin: 121,
                udp: 301,
            },
        "timeouts set and read back",
    );
    client.set_timeouts(&before)?;
    println!("  daemons: {:?}", client.daemons()?);
    let zero = client.zero(None);
    checks.check(zero.is_ok(), "zero all counters");

    // 6. Bulk: many services and dests in pipelined datagrams.
    if bulk > 0 {
        let big = bulk_table(bulk);
        let started = Instant::now();
        let n = sync(&mut client, &big)?;
        let applied = started.elapsed();
        let started = Instant::now();
        let back = client.dump()?.table();
        let dumped = started.elapsed();
        println!("bulk: {n} changes applied in {applied:?}, dumped in {dumped:?}");
        checks.check(back == big, "bulk table dumps back equal");
        let started = Instant::now();
        let n = sync(&mut client, &edited)?;
        println!(
            "bulk: {n} changes back to the small table in {:?}",
            started.elapsed()
        );
        checks.check(client.dump()?.table() == edited, "back to the small table");
    }

    println!("{} checks failed", checks.failed);
    Ok(checks.failed)
}

fn dump() -> Result<usize, IpvsError> {
    let mut client = Client::connect()?;
    for entry in client.dump()?.services {
        println!("{:?}", entry.service);
        for d in &entry.dests {
            println!("  -> {:?}", d.dest);
        }
    }
    Ok(0)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("dump") {
        return match dump() {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ipvs_smoke: {e}");
                ExitCode::from(2)
            }
        };
    }
    let bulk = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match run(bulk) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ipvs_smoke: {e}");
            ExitCode::from(2)
        }
    }
}
