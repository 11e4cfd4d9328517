//! Established connections across every transition of the director pair on the real kernel
//! (`tests/lab/scenarios/connections.sh`; needs qemu, `--features lab`, after `cargo build
//! --release -p director --bins --examples`). 40 long-lived TCP connections through the VIP
//! (30 busy, 10 idle) and 10 new ones a second, from `director/examples/conn_traffic`, while
//! the active director crashes, returns as after a reboot (failback), hands over with
//! `director standby` and is SIGKILLed and restarted in place; in direct routing and in NAT
//! mode. Not one long-lived connection may break and not one new connection may fail in the
//! failback, standby and restart phases; at the crash up to 3 new connections may fail
//! (opened in the last moments before it, their sync message still in the dead master's
//! batch: the kernel flushes a partly filled batch after 2 s, docs/protocol.md). In the
//! restart in place the VIP must not move, the table must not change, no real server may be
//! deleted and added back, and the peer must not take the group over (deadtime 2 s here, so
//! that the emulated CPU's slow restart is within it).

use std::time::Duration;

use tests::lab::{release_example, LabRun};

#[test]
fn no_connection_breaks_in_crash_failback_standby_and_restart_in_dr_and_nat() {
    let traffic = release_example("conn_traffic");
    let out = LabRun::scenario("connections.sh")
        .add_file(&traffic)
        .env("TRAFFIC", &traffic.display().to_string())
        .env("CRASH_NEW_LOSS", "3")
        // deadtime 2 s, not the scenario's default 1 s: the restart in place must be heard
        // within deadtime, and under the VM's emulated CPU on a loaded CI machine starting
        // `director run` again took 1-4 s (on hardware, and in the netns test
        // a_sigkilled_director_restarted_in_place_keeps_the_group, well under 1 s)
        .env("DEADTIME_MS", "2000")
        .env("WARNTIME_MS", "1200")
        .env("INITDEAD_MS", "4000")
        // A connection counts as stalled after 3.5 s without an answer, not deadtime + 1 s:
        // a client's TCP retransmits at 0.2, 0.6, 1.4 and 3.0 s after the crash, so with
        // deadtime 2 s the first one the new active node can answer is the one at 3.0 s
        // (with the scenario's default deadtime 1 s it is the one at 1.4 s, under its 2 s)
        .env("STALL_MS", "3500")
        .timeout(Duration::from_secs(900))
        .passes(&["PASS"]);
    for mode in ["dr", "nat"] {
        for phase in ["steady", "crash", "failback", "standby", "restart"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("== director {mode}: phase {phase}: ")))
                .unwrap_or_else(|| panic!("no {mode} {phase} phase in\n{out}"));
            assert!(line.contains(": broken 0 ("), "{line}\n{out}");
            let failed: u32 = line
                .split_whitespace()
                .zip(line.split_whitespace().skip(1))
                .find(|(_, next)| *next == "failed")
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or_else(|| panic!("no failed count in {line}"));
            let allowed = if phase == "crash" { 3 } else { 0 };
            assert!(failed <= allowed, "{line}\n{out}");
        }
        let restart = format!(
            "director {mode} restart-table vip-moves 0 real-reset 0 changed 0 deleted 0 \
             peer-takeovers 0 not-adopted 0"
        );
        assert!(out.contains(&restart), "{out}");
    }
}
