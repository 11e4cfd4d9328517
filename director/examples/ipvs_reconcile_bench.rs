//! Time director's reconcile of a one-real-server difference against the kernel's table:
//! dump the table, make the desired table (the dump with one destination's weight changed),
//! `ipvs::plan`, then `Client::apply` the plan. Used by `tests/lab/bench/ipvs.sh`.
//!
//! Usage: `ipvs_reconcile_bench [ROUNDS]` (as root, against whatever table the current
//! network namespace holds; it needs at least one service with a destination), or
//! `ipvs_reconcile_bench load SERVICES DESTS` to time `plan` + `apply` of a whole table
//! (the `tests/lab/bench/ipvs.sh` table) into an empty one: the kernel's share of a full
//! load, without any command-line parsing. Each round
//! changes a different destination's weight (and the next round puts it back as part of its
//! own change), so every apply is one `SET_DEST`. Prints one line per phase with the median
//! and minimum over the rounds, and `FAIL` lines (exit 1) if the table read back differs.

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use director::ipvs::client::Client;
use director::ipvs::plan::plan;
use std::net::IpAddr;

use director::ipvs::{
    Change, Dest, Forward, Ipvs, IpvsError, Protocol, Service, ServiceConfig, ServiceKey, Table,
};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn show(name: &str, v: &mut [Duration]) {
    let min = v.iter().min().copied().unwrap_or_default();
    let med = median(v);
    println!(
        "{name}: median {:.3} ms, min {:.3} ms over {} rounds",
        med.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        v.len()
    );
}

/// The desired table for round `round`: `actual` with the `round`-th destination's weight
/// bumped by one.
fn desired_for(actual: &Table, round: usize) -> Option<Table> {
    let mut desired = actual.clone();
    let n: usize = desired.services.values().map(|s| s.dests.len()).sum();
    if n == 0 {
        return None;
    }
    let target = (round * 7919) % n;
    let dest = desired
        .services
        .values_mut()
        .flat_map(|s| s.dests.values_mut())
        .nth(target)?;
    dest.weight = if dest.weight >= 1000 {
        1
    } else {
        dest.weight + 1
    };
    Some(desired)
}

fn run(rounds: usize) -> Result<bool, IpvsError> {
    let t = Instant::now();
    let mut client = Client::connect()?;
    let connect = t.elapsed();
    println!(
        "connect (socket + family lookup): {:.3} ms",
        connect.as_secs_f64() * 1e3
    );
    let (mut dumps, mut plans, mut applies, mut totals) = (vec![], vec![], vec![], vec![]);
    let mut ok = true;
    let mut dests = 0;
    for round in 0..rounds {
        let t0 = Instant::now();
        let snapshot = client.dump()?;
        let t1 = Instant::now();
        let actual = snapshot.table();
        dests = actual.services.values().map(|s| s.dests.len()).sum();
        let Some(desired) = desired_for(&actual, round) else {
            println!("FAIL: the table has no destination to change");
            return Ok(false);
        };
        let t2 = Instant::now();
        let changes = plan(&desired, &actual);
        let t3 = Instant::now();
        client.apply(&changes)?;
        let t4 = Instant::now();
        if changes.len() != 1 || !matches!(changes.first(), Some(Change::EditDest(..))) {
            println!("FAIL: round {round} planned {changes:?}");
            ok = false;
        }
        dumps.push(t1 - t0);
        plans.push(t3 - t2);
        applies.push(t4 - t3);
        totals.push(t4 - t0);
        if round == 0 && client.dump()?.table() != desired {
            println!("FAIL: the kernel's table is not the desired one after apply");
            ok = false;
        }
    }
    println!(
        "table: {} services, {dests} destinations",
        client.dump()?.services.len()
    );
    show("dump (full table)", &mut dumps);
    show("plan (pure)", &mut plans);
    show("apply (1 change, kernel round trip)", &mut applies);
    show("dump + plan + apply", &mut totals);
    Ok(ok)
}

/// The benchmark's table: SERVICES TCP services 192.0.2.(1..250):(80..), each with DESTS NAT
/// real servers 198.51.100.(1..DESTS):(8000+i) weight 1..DESTS, scheduler wlc.
fn bench_table(services: u16, dests: u8) -> Table {
    let mut table = Table::default();
    for i in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([192, 0, 2, (i % 250) as u8 + 1]),
            port: 80 + i / 250,
        };
        let mut service = Service::new(key);
        service.scheduler = "wlc".into();
        let dests = (1..=dests)
            .map(|j| {
                let mut d = Dest::new(IpAddr::from([198, 51, 100, j]), 8000 + i);
                d.forward = Forward::Masq;
                d.weight = u32::from(j);
                (d.key(), d)
            })
            .collect();
        table.services.insert(key, ServiceConfig { service, dests });
    }
    table
}

fn load(services: u16, dests: u8) -> Result<bool, IpvsError> {
    let t0 = Instant::now();
    let mut client = Client::connect()?;
    let desired = bench_table(services, dests);
    let t1 = Instant::now();
    let actual = client.dump()?.table();
    let t2 = Instant::now();
    let changes = plan(&desired, &actual);
    let t3 = Instant::now();
    client.apply(&changes)?;
    let t4 = Instant::now();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "load {} changes: connect+build {:.1} ms, dump {:.1} ms, plan {:.1} ms, apply {:.1} ms",
        changes.len(),
        ms(t1 - t0),
        ms(t2 - t1),
        ms(t3 - t2),
        ms(t4 - t3)
    );
    let ok = client.dump()?.table() == desired;
    if !ok {
        println!("FAIL: the kernel's table is not the desired one after the load");
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("load") {
        let n = |i: usize, d: u16| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
        let dests = u8::try_from(n(3, 10)).unwrap_or(10);
        return match load(n(2, 1000), dests) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("ipvs_reconcile_bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20usize)
        .max(1);
    match run(rounds) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ipvs_reconcile_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
