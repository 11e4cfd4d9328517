//! Scale-out on the real kernel (`tests/lab/scenarios/scale-out.sh`; needs qemu and Debian's
//! `bird2`, `--features lab`, after `cargo build --release -p director --bins --examples`):
//! a router running BIRD 2 with ECMP over three directors, each running `director run`
//! (an `mh` service in direct routing, `[announce]`) and its own BIRD with a BGP session and
//! BFD to the router; two real servers; 120 long-lived TCP connections and new ones from
//! `director/examples/conn_traffic`. The three tables are the same with the real servers in
//! the file's order; a real server failing is quiesced everywhere and withdraws nothing; a
//! director crashing (link down, then director and BIRD SIGKILLed) is withdrawn by the
//! router, no connection through the other two breaks and at least 99 % of those through it
//! keep their real server; `director standby` withdraws a director's announcement and its
//! flows move without a break. The figures (kill -> withdrawal, flows kept) are printed as
//! `== figure ...` lines and recorded in docs/benchmarks.md. Then tunnels: a VIP added to one
//! director by `director reload` has an `ipip` real server that the client reaches over
//! IP-in-IP, then over GUE once director.conf's `[service.tunnel]` says so (another reload);
//! the real server decapsulates and answers (`== tunnel ...` lines).

use std::time::Duration;

use tests::lab::{release_example, LabRun};

fn figure<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("== figure {name} ")))
        .unwrap_or_else(|| panic!("no figure {name} in\n{out}"))
}

#[test]
fn a_lost_director_loses_no_flow_and_a_failed_real_server_withdraws_nothing() {
    let traffic = release_example("conn_traffic");
    let out = LabRun::scenario("scale-out.sh")
        .add_file(&traffic)
        .add_file("/usr/sbin/bird")
        .add_file("/usr/sbin/birdcl")
        .env("TRAFFIC", &traffic.display().to_string())
        .timeout(Duration::from_secs(600))
        .passes(&["PASS"]);
    // The scenario asserts these; here they are read back so that a scenario that stopped
    // measuring cannot pass.
    let withdrawal: u64 = figure(&out, "kill-withdrawal-ms").parse().unwrap();
    assert!(withdrawal > 0 && withdrawal < 30_000, "{withdrawal}\n{out}");
    let kept: Vec<u64> = figure(&out, "kill-d3-kept")
        .split(" of ")
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        kept[1] > 0,
        "no flow went through the killed director\n{out}"
    );
    assert!(kept[0] * 100 >= kept[1] * 99, "{kept:?}\n{out}");
    assert!(
        figure(&out, "kill-others-broken").starts_with("0 of "),
        "{out}"
    );
    // What went to the real server through each tunnel, as the kernel's table said then.
    for (name, options) in [
        ("ipip", " -i -w 1 --tun-type ipip |"),
        (
            "gue",
            " -i -w 1 --tun-type gue --tun-port 5555 --tun-nocsum |",
        ),
        (
            "gue-after-reload",
            " --tun-type gue --tun-port 5555 --tun-nocsum |",
        ),
    ] {
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("== tunnel {name}: ")))
            .unwrap_or_else(|| panic!("no tunnel {name} line in\n{out}"));
        assert!(line.contains(options), "{line}");
        assert!(line.contains("| served by rs3 |"), "{line}");
        let udp = line.rsplit("udp in +").next().unwrap();
        assert_eq!(udp == "0", name == "ipip", "{line}");
    }
}
