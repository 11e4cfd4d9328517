//! Established connections across every transition of the director pair on the real kernel
//! (`tests/lab/scenarios/connections.sh`; needs qemu, `--features lab`, after `cargo build
//! --release -p director --bins --examples`). 40 long-lived TCP connections through the VIP
//! (30 busy, 10 idle) and 10 new ones a second, from `director/examples/conn_traffic`, while
//! the active director crashes, returns as after a reboot (failback), hands over with
//! `director standby` and is SIGKILLed and restarted in place; in direct routing and in NAT
//! mode. Not one connection may break and not one new connection may fail, in any phase.

use std::time::Duration;

use tests::lab::{release_example, LabRun};

#[test]
fn no_connection_breaks_in_crash_failback_standby_and_restart_in_dr_and_nat() {
    let traffic = release_example("conn_traffic");
    let out = LabRun::scenario("connections.sh")
        .add_file(&traffic)
        .env("TRAFFIC", &traffic.display().to_string())
        .timeout(Duration::from_secs(900))
        .passes(&["PASS"]);
    for mode in ["dr", "nat"] {
        for phase in ["steady", "crash", "failback", "standby", "restart"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("== director {mode}: phase {phase}: ")))
                .unwrap_or_else(|| panic!("no {mode} {phase} phase in\n{out}"));
            assert!(
                line.contains(": broken 0 (") && line.contains(" ok 0 failed "),
                "{line}\n{out}"
            );
        }
        assert!(
            out.contains(&format!(
                "director {mode} restart-table vip-lost 0 real-missing 0 deleted 0 peer-takeovers 0"
            )),
            "{out}"
        );
    }
}
