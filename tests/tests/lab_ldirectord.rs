//! director as ldirectord against the real kernel in the lab VM (needs qemu; `--features
//! lab`, after `cargo build --release -p director`). The scenario is
//! `tests/lab/scenarios/ldirectord-www.sh`: the seed's www.cf with busybox httpd real
//! servers, failures, the fallback, reloads, stop, and the `ldirectord` command line.

use std::time::Duration;

use tests::lab::LabRun;

#[test]
fn www_cf_checks_fallback_reload_stop_and_command_line() {
    LabRun::scenario("ldirectord-www.sh")
        .timeout(Duration::from_secs(600))
        .passes(&[
            "== print-ipvs equals the programmed table",
            "== both real servers answer",
            "== the fallback serves the client",
            "== reload moved only rs2, every request answered",
            "== broken file refused, table kept",
            "== stop purged the virtual service",
            "== ldirectord start/status/reload/stop work",
            "== execute= children start, reload, stop with the parent",
            "== cleanstop=no kept the table",
            "PASS",
        ]);
}
