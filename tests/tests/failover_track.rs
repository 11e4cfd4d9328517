//! `director.conf`'s keepalived features in a pair, in namespaces (root): a failing track
//! script or tracked interface moves the VIP to the peer, the notify commands run with the
//! role at every change and in order, and the failback waits its hold.
//!
//! `cargo test -p tests --features netns --test failover_track -- --test-threads=1`
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![cfg(feature = "netns")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::netns::wait_for;
use tests::pair::{Pair, Spec, Timing, NODES, VIP};

const SETTLE: Duration = Duration::from_secs(10);

/// The holder's track must fail twice in a row (checked every 100 ms) before it gives up.
const TRACK_SCRIPT: &str =
    "[track.script.chk_service]\nscript = \"test ! -e \\\"$HA_DIR/track-fail\\\"\"\n\
     interval = \"100ms\"\ntimeout = \"1s\"\nfall = 2\nrise = 2\n";

/// Every role change appended to `etc/notify.log` by keepalived's generic notify.
const NOTIFY: &str = "[[notify]]\nname = \"VI_1\"\ncommand = \"$HA_DIR/notify.sh\"\n";

fn etc(p: &Pair, i: usize) -> PathBuf {
    p.node_dir(i).join("etc")
}

/// A pair with this director.conf, the notify script on both nodes, started with ha01
/// holding the VIP.
fn started(conf: String) -> Result<Pair> {
    let mut spec = Spec::new(Timing::FAST, "on");
    spec.director_conf = Some(conf);
    let mut p = Pair::new(spec)?;
    for i in 0..2 {
        let script = etc(&p, i).join("notify.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"$*\" >> \"$HA_DIR/notify.log\"\n",
        )?;
        std::process::Command::new("chmod")
            .arg("755")
            .arg(&script)
            .status()?;
    }
    p.start(0)?;
    p.start(1)?;
    p.wait_settled(0, SETTLE).context(p.logs(40))?;
    Ok(p)
}

/// The roles notified on node `i`, in order. ha01, which takes the group at start, may be
/// on standby (BACKUP) for the moment before it acquires, as keepalived goes through BACKUP;
/// whether that moment is a step of its own depends on when the peer's status arrives, so
/// it is left out.
fn notified(p: &Pair, i: usize) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(etc(p, i).join("notify.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    if i == 0 && v.get(..2) == Some(&roles(&["BACKUP", "MASTER"])[..]) {
        v.remove(0);
    }
    v
}

fn roles(states: &[&str]) -> Vec<String> {
    states
        .iter()
        .map(|s| format!("INSTANCE VI_1 {s} 0"))
        .collect()
}

/// The holder's track script fails: after `fall` failures the VIP moves to ha02 with no
/// overlap; it passes again: after `rise` successes and the failback hold (1 s), it comes
/// back. The notify command ran with each role, in order, on both nodes.
#[test]
fn a_failing_track_script_moves_the_vip_and_notify_runs_in_order() -> Result<()> {
    let conf = format!("{TRACK_SCRIPT}\n{NOTIFY}\n[failback]\nhold = \"1s\"\n");
    let p = started(conf)?;
    wait_for(Duration::from_secs(3), || {
        notified(&p, 0) == roles(&["MASTER"]) && notified(&p, 1) == roles(&["BACKUP"])
    })
    .with_context(|| {
        format!(
            "{:?} {:?}\n{}",
            notified(&p, 0),
            notified(&p, 1),
            p.logs(40)
        )
    })?;
    let t0 = Instant::now();
    std::fs::write(etc(&p, 0).join("track-fail"), "")?;
    p.wait_settled(1, Duration::from_secs(5))
        .context(p.logs(40))?;
    let moved = p
        .first_event(1, true, t0)
        .context("ha02 never added the VIP")?;
    eprintln!("track failure -> VIP on ha02: {:?}", moved - t0);
    ensure!(
        p.log(0)
            .contains("track script chk_service failed (2 times in a row, fall 2)"),
        "{}",
        p.logs(40)
    );
    ensure!(
        p.log(0).contains("(failing track scripts or interfaces)"),
        "{}",
        p.logs(40)
    );
    ensure!(
        p.status(0).contains("failing tracks weigh: 0 -> 1")
            && p.status(0)
                .contains("track script chk_service: failing (weight 1)"),
        "the status does not show the track\n{}",
        p.status(0)
    );
    ensure!(
        p.max_overlap(Instant::now()) <= Duration::from_millis(2),
        "the VIP was on both nodes\n{}",
        p.logs(40)
    );
    wait_for(Duration::from_secs(3), || {
        notified(&p, 0) == roles(&["MASTER", "FAULT"])
            && notified(&p, 1) == roles(&["BACKUP", "MASTER"])
    })
    .with_context(|| format!("{:?} {:?}", notified(&p, 0), notified(&p, 1)))?;
    // It passes again: the VIP stays on ha02 for the hold, then comes back.
    let t1 = Instant::now();
    std::fs::remove_file(etc(&p, 0).join("track-fail"))?;
    p.wait_settled(0, Duration::from_secs(5))
        .context(p.logs(40))?;
    let back = p
        .first_event(0, true, t1)
        .context("ha01 never took the VIP back")?;
    eprintln!("track passes -> VIP back on ha01: {:?}", back - t1);
    ensure!(
        back - t1 >= Duration::from_secs(1),
        "the failback did not wait the hold: {:?}",
        back - t1
    );
    ensure!(
        p.log(1).contains("failback hold, it stays here for 1s"),
        "{}",
        p.logs(40)
    );
    wait_for(Duration::from_secs(3), || {
        notified(&p, 0) == roles(&["MASTER", "FAULT", "BACKUP", "MASTER"])
            && notified(&p, 1) == roles(&["BACKUP", "MASTER", "BACKUP"])
    })
    .with_context(|| format!("{:?} {:?}", notified(&p, 0), notified(&p, 1)))?;
    ensure!(p.max_overlap(Instant::now()) <= Duration::from_millis(2));
    Ok(())
}

/// A tracked interface (a veth pair in each node's namespace) goes down on the holder: the
/// VIP moves to ha02; back up, the VIP comes back (no failback hold here).
#[test]
fn a_tracked_interface_going_down_moves_the_vip() -> Result<()> {
    let conf = "[track.interface.trk0]\ninterval = \"100ms\"\n".to_string();
    let mut spec = Spec::new(Timing::FAST, "on");
    spec.director_conf = Some(conf);
    let mut p = Pair::new(spec)?;
    for (_, ns, _) in NODES {
        p.lab.ip(
            ns,
            &[
                "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
            ],
        )?;
        p.lab.ip(ns, &["link", "set", "trk1", "up"])?;
        p.lab.ip(ns, &["link", "set", "trk0", "up"])?;
    }
    p.start(0)?;
    p.start(1)?;
    p.wait_settled(0, SETTLE).context(p.logs(40))?;
    let t0 = Instant::now();
    p.lab.ip(NODES[0].1, &["link", "set", "trk0", "down"])?;
    p.wait_settled(1, Duration::from_secs(5))
        .context(p.logs(40))?;
    ensure!(
        p.log(0).contains("track interface trk0 failed"),
        "{}",
        p.logs(40)
    );
    eprintln!("trk0 down -> VIP on ha02: {:?}", t0.elapsed());
    p.lab.ip(NODES[0].1, &["link", "set", "trk0", "up"])?;
    p.wait_settled(0, SETTLE).context(p.logs(40))?;
    ensure!(
        p.max_overlap(Instant::now()) <= Duration::from_millis(2),
        "the VIP was on both nodes\n{}",
        p.logs(40)
    );
    ensure!(p.holds(0), "{VIP} not back on ha01");
    Ok(())
}
