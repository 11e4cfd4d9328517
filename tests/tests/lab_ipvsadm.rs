//! director's ipvsadm against the real ipvsadm 1.31 on the lab VM's real IPVS table (needs
//! qemu; `--features lab`). The scenario is `tests/lab/scenarios/ipvsadm-compat.sh`: a
//! corpus of tables built by each tool and listed by both in every listing form, `-S`/`-R`
//! round trips, bad commands, the sync daemon, timeouts, and counters after real traffic,
//! all compared byte for byte (stdout, stderr, exit status).

use std::time::Duration;
use tests::lab::LabRun;

#[test]
fn director_ipvsadm_matches_the_real_one() {
    let outcome = LabRun::scenario("ipvsadm-compat.sh")
        .timeout(Duration::from_secs(1500))
        .run()
        .expect("vm-run");
    let mismatches: Vec<&str> = outcome
        .output
        .lines()
        .filter(|l| l.starts_with("MISMATCH") || l.starts_with("FAIL"))
        .collect();
    assert!(
        outcome.success() && outcome.output.contains("ALL MATCH"),
        "{} differences:\n{}\n--- output ---\n{}\n--- vm-run ---\n{}",
        mismatches.len(),
        mismatches.join("\n"),
        outcome.output,
        outcome.log
    );
}
