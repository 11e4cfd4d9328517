//! The whole director pair against the real kernel in the lab VM (needs qemu; `--features
//! lab`, after `cargo build --release -p director`). The scenario is
//! `tests/lab/scenarios/pair.sh`: two directors running `director run` with ha.cf, authkeys,
//! haresources and www.cf, two DR real servers and a client; warm standby on both IPVS
//! tables, a crash of the active director, failback (idle connections opened through the
//! other director survive it: the connection table is handed over and dir1 waits until its kernel holds it), both sync
//! daemons on both directors,
//! a real server leaving both tables, every real down (the fallback answers) and back. Also ha.cf's `watchdog` on the kernel's softdog (`watchdog.sh`).

use std::time::Duration;

use tests::lab::LabRun;

#[test]
fn pair_warm_standby_failover_failback_and_health_checks() {
    LabRun::scenario("pair.sh")
        .timeout(Duration::from_secs(600))
        .passes(&[
            "== director check accepts both configuration directories",
            "== dir1 is active and holds the VIP, dir2 is standby",
            "== warm standby: both directors' IPVS tables hold 192.0.2.100:80 with rs1 and rs2",
            "== director status on dir1: active, peer dir2 up",
            "== sync daemons: master and backup on both directors",
            "== the client is answered through the VIP by both real servers",
            "== failover: dir2 took the VIP ",
            "== sync daemons: nothing to move, dir2 still runs both",
            "== 5 idle connections open through dir2",
            "== failback (auto_failback on): dir1 active with the VIP again",
            "handed ",
            "== idle connections opened through dir2 and used after the failback: 5 of 5 answered",
            "== failback after the catch-up: dir1's kernel held every connection dir2 handed over",
            "== rs2 left both directors' tables after",
            "== both tables hold only the fallback 127.0.0.1:80",
            "== the client is answered by the active director's fallback web server",
            "== rs1 and rs2 back in both tables and the fallback gone after",
            "PASS",
        ]);
}

/// ha.cf's `watchdog` against the kernel's software watchdog (softdog, soft_noboot=1) in the
/// lab VM: director sets Heartbeat's timeout with the ioctl, feeds it while it runs, disarms
/// it at a clean stop, and a node killed with SIGKILL is fired on within seconds.
#[test]
fn watchdog_is_armed_fed_disarmed_and_fires_on_a_killed_node() {
    LabRun::scenario("watchdog.sh")
        .timeout(Duration::from_secs(300))
        .passes(&[
            "== armed: the kernel's timeout is now 2 s",
            "== fed for 6 s (3 timeouts) by the running node: never fired",
            "== clean stop: disarmed (state inactive), no trigger 5 s later",
            "== SIGKILL: the kernel watchdog fired after ",
            "PASS",
        ]);
}
