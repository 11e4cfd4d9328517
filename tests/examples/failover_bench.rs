//! Failover benchmark of the director pair in namespaces (root; not a test).
//!
//! ```text
//! cargo run -p tests --features netns --example failover_bench -- [--runs 20] [--timing fast|heartbeat] [--load-secs 20] [--only PHASE,...]
//! ```
//!
//! `--program director` runs `director run` itself ($DIRECTOR_BIN, else the debug build) with
//! an ldirectord resource checking a real server every second; the default is the failover
//! crate's `node` example. PHASE is one of `crash` (crash and failback), `graceful`, `both`, `heal`, `load`; without
//! `--only` every phase runs.
//!
//! Same topology and method as the Heartbeat / keepalived baselines
//! (`docs/ref/peer-lab`): ha01 and ha02 on a bridge, VIP 192.0.2.100/24, `ip monitor
//! address` in each node's namespace timestamping VIP add / delete events; a crash is
//! SIGKILL of the node, its eth0 taken down and its stale VIP removed. In addition a client
//! on the bridge pings the VIP every 10 ms, so "answering" is what a client sees.
//!
//! Prints one JSON object per measurement and a summary (median / max) at the end.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tests::pair::{median_max, Pair, Program, Spec, Timing};

struct Series {
    name: &'static str,
    values: Vec<Duration>,
}

impl Series {
    fn new(name: &'static str) -> Series {
        Series {
            name,
            values: Vec::new(),
        }
    }
    fn push(&mut self, d: Duration) {
        self.values.push(d);
    }
    fn summary(&mut self) -> String {
        let n = self.values.len();
        let min = self.values.iter().min().copied().unwrap_or_default();
        match median_max(&mut self.values) {
            Some((median, max)) => format!(
                "{:<40} n={n:<3} min {:>8.1} ms  median {:>8.1} ms  max {:>8.1} ms",
                self.name,
                ms(min),
                ms(median),
                ms(max)
            ),
            None => format!("{:<40} n=0", self.name),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        ms(later - earlier)
    } else {
        -ms(earlier - later)
    }
}

/// A pseudo-random phase in `0..max` (no dependency: the clock's nanoseconds).
fn phase(max: Duration) -> Duration {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let max_ns = u32::try_from(max.as_nanos()).unwrap_or(u32::MAX).max(1);
    Duration::from_nanos(u64::from(n % max_ns))
}

const PHASES: [&str; 5] = ["crash", "graceful", "both", "heal", "load"];

fn main() -> Result<()> {
    let mut runs = 20usize;
    let mut timing = Timing::FAST;
    let mut keepalive = Duration::from_millis(20);
    let mut load_secs = 20u64;
    let mut only: Option<Vec<String>> = None;
    let mut director = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--load-secs" => load_secs = args.next().context("--load-secs N")?.parse()?,
            "--program" => match args.next().as_deref() {
                Some("node") => director = false,
                Some("director") => director = true,
                _ => bail!("--program node|director"),
            },
            "--only" => {
                let list: Vec<String> = args
                    .next()
                    .context("--only PHASE,...")?
                    .split(',')
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = list.iter().find(|p| !PHASES.contains(&p.as_str())) {
                    bail!("unknown phase {bad}: one of {}", PHASES.join(", "));
                }
                only = Some(list);
            }
            "--timing" => match args.next().as_deref() {
                Some("fast") => {}
                Some("heartbeat") => {
                    timing = Timing::HEARTBEAT;
                    keepalive = Duration::from_secs(1);
                }
                _ => bail!("--timing fast|heartbeat"),
            },
            _ => {
                bail!("usage: failover_bench [--runs N] [--timing fast|heartbeat] [--load-secs N] [--only PHASE,...] [--program node|director]")
            }
        }
    }
    let program = if director {
        Program::Director(tests::pair::director_bin()?)
    } else {
        Program::Node
    };
    let spec = || match &program {
        Program::Node => Spec::new(timing.clone(), "on"),
        Program::Director(bin) => Spec::director(timing.clone(), "on", bin.clone()),
    };
    let wanted = |phase: &str| only.as_ref().is_none_or(|l| l.iter().any(|p| p == phase));
    let settle = Duration::from_secs(15);
    let label = format!(
        "keepalive {} / deadtime {}",
        timing.keepalive, timing.deadtime
    );
    eprintln!(
        "director failover benchmark ({}), {label}, {runs} runs",
        if director {
            "director run"
        } else {
            "node example"
        }
    );

    let mut crash_cfg = Series::new("crash -> VIP configured on ha02");
    let mut crash_ans = Series::new("crash -> VIP answering the client");
    let mut back_del = Series::new("restart -> VIP off ha02 (failback)");
    let mut back_add = Series::new("restart -> VIP on ha01 (failback)");
    let mut gaps: Vec<f64> = Vec::new();
    if wanted("crash") {
        let mut p = Pair::new(spec())?;
        p.start(0)?;
        p.start(1)?;
        p.wait_settled(0, settle)?;
        for run in 0..runs {
            std::thread::sleep(Duration::from_millis(300) + phase(keepalive));
            let t0 = Instant::now();
            p.crash(0)?;
            let (answer, _) = p.client_answer_after(t0, Duration::from_secs(10))?;
            let added = p
                .wait_event(1, true, t0, Duration::from_secs(10))
                .context("no VIP add on ha02")?;
            crash_cfg.push(added - t0);
            crash_ans.push(answer);
            p.revive(0)?;
            let t3 = Instant::now();
            p.start(0)?;
            p.wait_settled(0, settle)?;
            let del_b = p.wait_event(1, false, t3, Duration::from_secs(5));
            let add_a = p.wait_event(0, true, t3, Duration::from_secs(5));
            let gap = match (del_b, add_a) {
                (Some(d), Some(a)) => {
                    back_del.push(d - t3);
                    back_add.push(a - t3);
                    let g = signed_ms(a, d);
                    gaps.push(g);
                    Some(g)
                }
                _ => None,
            };
            println!(
                "{{\"run\":{run},\"crash_to_vip_configured_ms\":{:.1},\"crash_to_answer_ms\":{:.1},\"failback_gap_ms\":{}}}",
                ms(added - t0),
                ms(answer),
                gap.map_or("null".into(), |g| format!("{g:.2}"))
            );
        }
    }

    let mut graceful = Series::new("graceful stop -> VIP configured on ha02");
    let mut graceful_ans = Series::new("graceful stop -> VIP answering");
    if wanted("graceful") {
        let mut p = Pair::new(spec())?;
        p.start(0)?;
        p.start(1)?;
        p.wait_settled(0, settle)?;
        let mac_b = p.mac(1)?;
        for run in 0..runs.min(10) {
            std::thread::sleep(Duration::from_millis(200));
            let t0 = Instant::now();
            let stop = std::thread::scope(|s| {
                let h = s.spawn(|| {
                    p.client_answer_from(t0, Duration::from_secs(10), Some(mac_b.clone()))
                });
                let st = {
                    // SIGTERM without waiting for exit here: the answer is timed from t0.
                    p.signal(0, "TERM")
                };
                (st, h.join())
            });
            stop.0?;
            let answer = match stop.1 {
                Ok(r) => r?.0,
                Err(_) => bail!("client thread panicked"),
            };
            let added = p
                .wait_event(1, true, t0, Duration::from_secs(10))
                .context("no VIP add on ha02")?;
            graceful.push(added - t0);
            graceful_ans.push(answer);
            println!(
                "{{\"graceful_run\":{run},\"sigterm_to_vip_configured_ms\":{:.1},\"sigterm_to_answer_ms\":{:.1}}}",
                ms(added - t0),
                ms(answer)
            );
            p.stop(0, Duration::from_secs(10))
                .or_else(|_| p.kill(0).map(|()| Default::default()))?;
            p.start(0)?;
            p.wait_settled(0, settle)?;
        }
    }

    let mut both = Series::new("both start -> VIP on ha01");
    for run in 0..if wanted("both") { runs.min(10) } else { 0 } {
        let mut p = Pair::new(spec())?;
        let t0 = Instant::now();
        p.start(0)?;
        p.start(1)?;
        p.wait_settled(0, settle)?;
        let added = p.first_event(0, true, t0).context("no VIP add on ha01")?;
        if !p.vip_events(1).is_empty() {
            bail!("both-start run {run}: ha02 took the VIP at some point");
        }
        both.push(added - t0);
        println!(
            "{{\"both_start_run\":{run},\"start_to_vip_ms\":{:.1}}}",
            ms(added - t0)
        );
    }

    let mut heal = Series::new("partition heal -> one owner");
    if wanted("heal") {
        let p = {
            let mut p = Pair::new(spec())?;
            p.start(0)?;
            p.start(1)?;
            p.wait_settled(0, settle)?;
            p
        };
        for run in 0..runs.min(10) {
            let cut_at = Instant::now();
            p.partition(0, true)?;
            p.wait_event(1, true, cut_at, Duration::from_secs(15))
                .context("ha02 did not take the VIP during the partition")?;
            std::thread::sleep(Duration::from_millis(500));
            let t0 = Instant::now();
            p.partition(0, false)?;
            let del = p
                .wait_event(1, false, t0, Duration::from_secs(15))
                .context("ha02 kept the VIP after the heal")?;
            p.wait_settled(0, settle)?;
            if p.first_event(0, false, cut_at).is_some() {
                bail!("partition run {run}: the winner (ha01) dropped the VIP");
            }
            heal.push(del - t0);
            println!(
                "{{\"partition_run\":{run},\"heal_to_single_owner_ms\":{:.1},\"winner_outage_ms\":0}}",
                ms(del - t0)
            );
        }
    }

    // False failovers under CPU load: every core busy (twice over) for load_secs.
    let false_failovers = if !wanted("load") {
        None
    } else {
        let mut p = Pair::new(spec())?;
        p.start(0)?;
        p.start(1)?;
        p.wait_settled(0, settle)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let burners: Vec<_> = (0..cores * 2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    x
                })
            })
            .collect();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(load_secs));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for b in burners {
            let _ = b.join();
        }
        let moved = p.first_event(1, true, t0).is_some() || p.first_event(0, false, t0).is_some();
        let dead = p.log(1).matches("node ha01: is dead").count()
            + p.log(0).matches("node ha02: is dead").count();
        let late =
            p.log(1).matches("Late heartbeat").count() + p.log(0).matches("Late heartbeat").count();
        println!(
            "{{\"cpu_load_secs\":{load_secs},\"busy_threads\":{},\"vip_moved\":{moved},\"dead_declared\":{dead},\"late_heartbeats\":{late}}}",
            cores * 2
        );
        Some((moved, dead, late))
    };

    println!();
    println!("director, {label} ({runs} crash runs)");
    for s in [
        &mut crash_cfg,
        &mut crash_ans,
        &mut back_del,
        &mut back_add,
        &mut graceful,
        &mut graceful_ans,
        &mut both,
        &mut heal,
    ] {
        if !s.values.is_empty() {
            println!("{}", s.summary());
        }
    }
    gaps.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (gaps.first(), gaps.last()) {
        println!(
            "failback gap (VIP nowhere; negative = overlap): min {min:.2} ms, max {max:.2} ms"
        );
    }
    if let Some((moved, dead, late)) = false_failovers {
        println!(
            "CPU load {load_secs} s: VIP moved {moved}, peer declared dead {dead} times, {late} late heartbeats"
        );
    }
    Ok(())
}
