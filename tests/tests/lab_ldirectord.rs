//! director as ldirectord against the real kernel in the lab VM (needs qemu; `--features
//! lab`, after `cargo build --release -p director`). The scenario is
//! `tests/lab/scenarios/ldirectord-www.sh`: the seed's www.cf with busybox httpd real
//! servers, failures, the fallback, reloads, stop, and the `ldirectord` command line; the
//! traffic a client sends through the VIP in the daemon's `/metrics` (issue 14, item 2); a
//! real server drained with `director real drain` (issue 14, item 1).

use std::time::Duration;

use tests::lab::LabRun;

#[test]
fn www_cf_checks_fallback_reload_stop_and_command_line() {
    let out = LabRun::scenario("ldirectord-www.sh")
        .timeout(Duration::from_secs(600))
        .passes(&[
            "== print-ipvs equals the programmed table",
            "== both real servers answer",
            "== the client's traffic is in /metrics and equals the kernel's counters",
            "== director top shows the traffic",
            "== the fallback serves the client",
            "== reload moved only rs2, every request answered",
            "== broken file refused, table kept",
            "== the drained rs2 kept its established connection and got no new one",
            "== drained rs2 left the table when its connections ended",
            "== stop purged the virtual service",
            "== ldirectord start/status/reload/stop work",
            "== execute= children start, reload, stop with the parent",
            "== cleanstop=no kept the table",
            "PASS",
        ]);
    // what the metrics step measured, and the screen `director top --once` drew on the real
    // kernel (the README's capture)
    for line in out.lines() {
        if line.starts_with("metrics: ")
            || line.starts_with("counted in ")
            || line.starts_with("== rs2 at weight 0")
            || line.starts_with("== drained rs2")
            || line.starts_with("vm-run:")
        {
            println!("{line}");
        }
    }
    if let Some(screen) = out
        .split("--- director top\n")
        .nth(1)
        .and_then(|s| s.split("--- end of director top").next())
    {
        println!("{screen}");
    }
}
