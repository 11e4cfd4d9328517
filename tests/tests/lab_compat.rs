//! ipvsadm compatibility, byte for byte, against the real ipvsadm 1.31 on the
//! same kernel (needs qemu; `--features lab`). The scenario is
//! `tests/lab/scenarios/ipvsadm-steps.sh`: one command sequence in two
//! namespaces, outputs, exit statuses, listings and kernel tables compared.

use tests::lab::{LabRun, Status};

fn compat(ipvsadm: &str) -> tests::lab::Outcome {
    LabRun::scenario("ipvsadm-steps.sh")
        .env("IPVSADM", ipvsadm)
        .run()
        .expect("vm-run")
}

/// Positive control: the real ipvsadm matches itself, so the comparison
/// itself is sound (no output depends on the namespace or the run).
#[test]
fn real_ipvsadm_matches_itself() {
    let outcome = compat("/usr/sbin/ipvsadm")
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.output.contains("0 differences"),
        "{}",
        outcome.output
    );
}

/// Negative control: a tool whose listing differs in one word is caught.
#[test]
fn a_skewed_ipvsadm_is_caught() {
    let outcome = compat("/lab/scenarios/skewed-ipvsadm.sh");
    assert_eq!(outcome.status, Status::Exited(1), "{}", outcome.log);
    assert!(outcome.output.contains("DIFF"), "{}", outcome.output);
    assert!(
        outcome
            .output
            .contains("+  -> 192.0.2.11:80                Tunnel"),
        "{}",
        outcome.output
    );
}

#[test]
fn director_ipvsadm_matches_ipvsadm_1_31() {
    let outcome = compat("/usr/local/sbin/ipvsadm")
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.output.contains("0 differences"),
        "{}",
        outcome.output
    );
}
