//! Time director's reconcile of a one-real-server difference against the kernel's table:
//! dump the table, make the desired table (the dump with one destination's weight changed),
//! `ipvs::plan`, then `Client::apply` the plan. Used by `tests/lab/bench/ipvs.sh`.
//!
//! Usage: `ipvs_reconcile_bench [ROUNDS]` (as root, against whatever table the current
//! network namespace holds; it needs at least one service with a destination). Each round
//! changes a different destination's weight (and the next round puts it back as part of its
//! own change), so every apply is one `SET_DEST`. Prints one line per phase with the median
//! and minimum over the rounds, and `FAIL` lines (exit 1) if the table read back differs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use director::ipvs::client::Client;
use director::ipvs::plan::plan;
use director::ipvs::{Change, Ipvs, IpvsError, Table};

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
    dest.weight = if dest.weight >= 1000 { 1 } else { dest.weight + 1 };
    Some(desired)
}

fn run(rounds: usize) -> Result<bool, IpvsError> {
    let t = Instant::now();
    let mut client = Client::connect()?;
    let connect = t.elapsed();
    println!("connect (socket + family lookup): {:.3} ms", connect.as_secs_f64() * 1e3);
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

fn main() -> ExitCode {
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
