//! HTTP through real IPVS virtual services in the lab VM (needs qemu;
//! `--features lab`). The scenario is `tests/lab/scenarios/http-traffic.sh`;
//! `IPVSADM` chooses the tool that programs the table.

use tests::lab::{release_example, LabRun};

/// The real ipvsadm 1.31: the oracle.
const REAL_IPVSADM: &str = "/usr/sbin/ipvsadm";
/// director called as `ipvsadm` (a symlink in the VM).
const DIRECTOR_IPVSADM: &str = "/usr/local/sbin/ipvsadm";

fn traffic(mode: &str, ipvsadm: &str) -> String {
    LabRun::scenario("http-traffic.sh")
        .env("MODE", mode)
        .env("IPVSADM", ipvsadm)
        .run()
        .expect("vm-run")
        .check()
        .unwrap_or_else(|e| panic!("{e}"))
        .output
}

#[test]
fn http_dr_with_real_ipvsadm() {
    let out = traffic("dr", REAL_IPVSADM);
    assert!(out.contains("== mode dr: PASS"), "{out}");
}

#[test]
fn http_nat_with_real_ipvsadm() {
    let out = traffic("nat", REAL_IPVSADM);
    assert!(out.contains("== mode nat: PASS"), "{out}");
}

#[test]
fn http_dr_and_nat_with_director_ipvsadm() {
    let out = traffic("both", DIRECTOR_IPVSADM);
    assert!(out.contains("== mode dr: PASS"), "{out}");
    assert!(out.contains("== mode nat: PASS"), "{out}");
}

/// The README's quick start (`tests/lab/quickstart`) works as documented.
#[test]
fn quickstart_scenario_passes() {
    let out = LabRun::scenario("quickstart.sh")
        .run()
        .expect("vm-run")
        .check()
        .unwrap_or_else(|e| panic!("{e}"))
        .output;
    assert!(
        out.contains("== /usr/local/sbin/ipvsadm programs the table"),
        "director must program the quick start's table: {out}"
    );
    assert!(out.contains("== mode dr: PASS"), "{out}");
}

/// director's IPVS client (plan, apply, dump, errors, bulk load, sync daemon) straight on the
/// real kernel: `director/examples/ipvs_smoke`, which `tests/run-all` builds before the lab
/// tests (`cargo build --release -p director --examples`).
#[test]
fn ipvs_client_round_trip_on_the_real_kernel() {
    let smoke = release_example("ipvs_smoke");
    let out = LabRun::scenario("ipvs-client.sh")
        .add_file(&smoke)
        .env("SMOKE", &smoke.display().to_string())
        .env("BULK", "300")
        .run()
        .expect("vm-run")
        .check()
        .unwrap_or_else(|e| panic!("{e}"))
        .output;
    assert!(out.contains("0 checks failed"), "{out}");
    assert!(!out.contains("FAIL "), "{out}");
    assert!(out.contains("bulk: "), "the bulk load did not run: {out}");
    assert!(out.contains("IP Virtual Server version"), "{out}");
}

/// The connection table handed over in the kernel's own sync format
/// (`director::ipvs::sync`, `director/examples/ipvs_sync_push`): a real backup sync daemon
/// takes it in, and the pushed idle connections survive the VIP moving over while control
/// connections opened after the push are not answered (scenarios/sync-catchup.sh).
#[test]
fn a_pushed_connection_table_survives_the_vip_moving() {
    let push = release_example("ipvs_sync_push");
    let out = LabRun::scenario("sync-catchup.sh")
        .add_file(&push)
        .env("PUSH", &push.display().to_string())
        .run()
        .expect("vm-run")
        .check()
        .unwrap_or_else(|e| panic!("{e}"))
        .output;
    assert!(
        out.contains("pushed connections answered 10 of 10; control connections answered 0 of 5"),
        "{out}"
    );
}
