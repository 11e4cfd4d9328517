//! A director node paired with a node running the real Heartbeat 3.0.6 (Debian's
//! `heartbeat` package, haresources mode), in namespaces (root): the same `ha.cf`,
//! `authkeys` and `haresources` on both; director's `director.conf` says
//! `[peer] protocol = "heartbeat"`. Every scenario asserts where the VIP answers for the
//! client on the bridge, and that it was never on both nodes.
//!
//! `cargo test -p tests --features netns --test failover_heartbeat -- --test-threads=1`
//! (skipped, with a message, when the heartbeat package is not installed).
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![cfg(feature = "netns")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::netns::wait_for;
use tests::pair::{Pair, Spec, Timing, NODES};

/// keepalive 1 s, deadtime 3 s, initdead 6 s (the baselines' setting).
const DEADTIME: Duration = Duration::from_secs(3);

/// `heartbeat` runs node `hb` (0 = ha01, the preferred node of the VIP's group), director
/// the other; `auto_failback` as given. ha.cf is the same on both nodes; the lines for
/// Heartbeat's own logging (`logfile`, `use_logd`, `crm off`) are ordinary ha.cf directives.
fn spec(hb: usize, auto_failback: &'static str) -> Spec {
    let mut s = Spec::new(Timing::HEARTBEAT, auto_failback);
    s.heartbeat = Some(hb);
    let lines: Vec<String> = [
        "logfile /var/lib/heartbeat/ha-log",
        "use_logd no",
        "crm off",
    ]
    .map(String::from)
    .to_vec();
    s.extra = [lines.clone(), lines];
    s.director_conf = Some("[peer]\nprotocol = \"heartbeat\"\n".to_string());
    s
}

fn logs(p: &Pair) -> String {
    p.logs(40)
}

/// `None` (with a message) when the heartbeat package is missing.
fn pair(hb: usize, auto_failback: &'static str) -> Result<Option<Pair>> {
    if !tests::hbnode::installed() {
        eprintln!("skipped: Debian's heartbeat package is not installed");
        return Ok(None);
    }
    Ok(Some(Pair::new(spec(hb, auto_failback))?))
}

/// Within `limit`, the VIP answers the client from node `i` alone.
fn vip_on(p: &Pair, i: usize, limit: Duration) -> Result<Duration> {
    let start = Instant::now();
    let want = p.mac(i)?;
    wait_for(limit, || p.holds(i) && !p.holds(1 - i)).with_context(|| {
        format!(
            "the VIP is not on {} alone within {limit:?}\n{}",
            NODES[i].0,
            logs(p)
        )
    })?;
    let (_, mac) = p
        .client_answer_from(start, limit, Some(want.clone()))
        .with_context(|| format!("the client does not reach {}\n{}", NODES[i].0, logs(p)))?;
    ensure!(mac == want, "the client reaches {mac}, not {}", NODES[i].0);
    ensure!(
        p.holds(i) && !p.holds(1 - i),
        "the VIP is not on {} alone\n{}",
        NODES[i].0,
        logs(p)
    );
    Ok(start.elapsed())
}

/// The VIP stays on node `i` alone for `span` (sampled every 100 ms).
fn stays_on(p: &Pair, i: usize, span: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < span {
        ensure!(
            p.holds(i) && !p.holds(1 - i),
            "the VIP left {} after {:?}\n{}",
            NODES[i].0,
            start.elapsed(),
            logs(p)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn never_on_both(p: &Pair) -> Result<()> {
    let overlap = p.max_overlap(Instant::now());
    ensure!(
        overlap <= Duration::from_millis(2),
        "the VIP was on both nodes for {overlap:?}\n{}",
        logs(p)
    );
    Ok(())
}

/// The director node (`d`) joins a Heartbeat node that already holds the VIP.
fn joined(p: &mut Pair, hb: usize) -> Result<()> {
    p.start(hb)?;
    vip_on(p, hb, Duration::from_secs(30)).context("Heartbeat alone")?;
    p.start(1 - hb)?;
    let peer = NODES[hb].0;
    wait_for(Duration::from_secs(15), || {
        p.status(1 - hb).contains(&format!("peer {peer} alive"))
    })
    .with_context(|| format!("director never heard Heartbeat\n{}", logs(p)))?;
    Ok(())
}

/// ha01 holds the VIP, auto_failback on: crash -> ha02 within deadtime; ha01 restarts ->
/// back to ha01, never on both; graceful stop -> ha02 at once; ha01 starts -> back.
fn crash_and_stop_of_the_holder(p: &mut Pair, holder: &str) -> Result<()> {
    let t0 = Instant::now();
    p.crash(0)?;
    vip_on(p, 1, DEADTIME + Duration::from_secs(3)).context("after the crash")?;
    eprintln!("crash of {holder} -> VIP on ha02: {:?}", t0.elapsed());
    p.revive(0)?;
    p.start(0)?;
    vip_on(p, 0, Duration::from_secs(30)).context("failback after the crash")?;
    never_on_both(p)?;

    let t1 = Instant::now();
    p.stop(0, Duration::from_secs(20))?;
    vip_on(p, 1, DEADTIME).context("after the graceful stop")?;
    eprintln!(
        "graceful stop of {holder} -> VIP on ha02: {:?}",
        t1.elapsed()
    );
    p.start(0)?;
    vip_on(p, 0, Duration::from_secs(30)).context("failback after the stop")?;
    never_on_both(p)
}

/// ha01 holds the VIP: the operator's standby on ha01 gives it to ha02, where it stays; the
/// takeover on ha01 brings it back.
fn standby_then_takeover(
    p: &Pair,
    standby: impl Fn(&Pair) -> Result<()>,
    takeover: impl Fn(&Pair) -> Result<()>,
) -> Result<()> {
    asked_until_on(p, 1, &standby).context("standby on ha01")?;
    stays_on(p, 1, Duration::from_secs(3))?;
    asked_until_on(p, 0, &takeover).context("takeover on ha01")?;
    never_on_both(p)
}

/// Runs an operator command until the VIP is on node `i` alone, at most three times, 8 s
/// apart: Heartbeat drops a standby request while either side is "in flux" (and its FIFO
/// reader has been seen to drop one under load: `msg2string: Message with zero fields`), and
/// its operator asks again.
fn asked_until_on(p: &Pair, i: usize, command: &impl Fn(&Pair) -> Result<()>) -> Result<()> {
    for attempt in 1..=3 {
        command(p)?;
        if wait_for(Duration::from_secs(8), || p.holds(i) && !p.holds(1 - i)).is_some() {
            if attempt > 1 {
                eprintln!("asked {attempt} times");
            }
            return vip_on(p, i, Duration::from_secs(2)).map(drop);
        }
    }
    vip_on(p, i, Duration::from_secs(1)).map(drop)
}

/// Heartbeat (ha01) holds the VIP, director (ha02) backs it up: crash -> director takes over
/// within deadtime; Heartbeat restarts -> auto_failback on gives it back; graceful stop ->
/// at once; `hb_standby` on Heartbeat -> director; `hb_takeover` -> back.
#[test]
fn heartbeat_primary_director_backup() -> Result<()> {
    let Some(mut p) = pair(0, "on")? else {
        return Ok(());
    };
    joined(&mut p, 0)?;
    stays_on(&p, 0, Duration::from_secs(5)).context("director joined")?;

    crash_and_stop_of_the_holder(&mut p, "Heartbeat")?;

    standby_then_takeover(
        &p,
        |p| {
            p.heartbeat_command(0, &["/usr/share/heartbeat/hb_standby"])
                .map(drop)
        },
        |p| {
            p.heartbeat_command(0, &["/usr/share/heartbeat/hb_takeover"])
                .map(drop)
        },
    )
}

/// The other order: director (ha01, preferred) holds the VIP, Heartbeat (ha02) backs it up:
/// crash -> Heartbeat takes over within deadtime; director restarts -> Heartbeat's
/// auto_failback gives it back (its `ask_resources` answered); graceful stop -> Heartbeat at
/// once; `standby` on director -> Heartbeat; `takeover` -> back.
#[test]
fn director_primary_heartbeat_backup() -> Result<()> {
    let Some(mut p) = pair(1, "on")? else {
        return Ok(());
    };
    // Heartbeat first (it takes the VIP after initdead), then director, which gets it back.
    joined(&mut p, 1)?;
    vip_on(&p, 0, Duration::from_secs(20)).context("director joined: failback to ha01")?;
    stays_on(&p, 0, Duration::from_secs(3))?;

    crash_and_stop_of_the_holder(&mut p, "director")?;

    // SIGUSR1 / SIGUSR2: director's standby and takeover.
    standby_then_takeover(&p, |p| p.signal(0, "USR1"), |p| p.signal(0, "USR2"))
}

/// A group that fails to start on the director node goes to the Heartbeat node: Heartbeat
/// (ha02) holds the VIP alone, director (ha01, preferred) joins and gets it back, its
/// `flaky` resource fails to start there, director cleans up and asks Heartbeat to take the
/// group (the standby exchange, as Heartbeat's hb_standby after its own failed start), and
/// the VIP ends on Heartbeat's node, never on both; it is not left down.
#[test]
fn a_failed_start_on_director_hands_the_group_to_heartbeat() -> Result<()> {
    if !tests::hbnode::installed() {
        eprintln!("skipped: Debian's heartbeat package is not installed");
        return Ok(());
    }
    let mut s = spec(1, "on");
    s.haresources = format!("ha01 IPaddr::{}/24/eth0 flaky\n", tests::pair::VIP);
    let p = Pair::new(s)?;
    for (i, start) in [(0, "exit 1"), (1, "touch $S")] {
        let dir = p.node_dir(i);
        let script = dir.join("etc").join("resource.d").join("flaky");
        std::fs::create_dir_all(script.parent().context("resource.d")?)?;
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nS={}\ncase \"$1\" in\nstart) {start};;\nstop) rm -f $S;;\n\
                 status) if [ -e $S ]; then echo 'flaky is running'; else echo 'flaky is stopped'; fi;;\n\
                 esac\nexit 0\n",
                dir.join("flaky.running").display()
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    let mut p = p;
    joined(&mut p, 1)?;
    wait_for(Duration::from_secs(20), || {
        p.log(0).contains("Giving up resources due to failure of")
    })
    .with_context(|| format!("director never tried the group\n{}", logs(&p)))?;
    vip_on(&p, 1, Duration::from_secs(20)).context("Heartbeat did not take the group back")?;
    stays_on(&p, 1, Duration::from_secs(3))?;
    ensure!(
        p.node_dir(1).join("flaky.running").exists(),
        "flaky does not run on Heartbeat's node\n{}",
        logs(&p)
    );
    never_on_both(&p)
}

/// auto_failback off, Heartbeat preferred: after a crash director keeps the VIP when
/// Heartbeat comes back (as a Heartbeat backup would); then director's crash gives it to
/// Heartbeat.
#[test]
fn auto_failback_off_heartbeat_returns_idle() -> Result<()> {
    let Some(mut p) = pair(0, "off")? else {
        return Ok(());
    };
    joined(&mut p, 0)?;
    stays_on(&p, 0, Duration::from_secs(3))?;
    p.crash(0)?;
    vip_on(&p, 1, DEADTIME + Duration::from_secs(3)).context("after the crash")?;
    p.revive(0)?;
    p.start(0)?;
    wait_for(Duration::from_secs(20), || {
        p.log(0)
            .contains("Local Resource acquisition completed. (none)")
    })
    .with_context(|| format!("Heartbeat never settled idle\n{}", logs(&p)))?;
    stays_on(&p, 1, Duration::from_secs(8)).context("auto_failback off")?;
    p.crash(1)?;
    vip_on(&p, 0, DEADTIME + Duration::from_secs(3)).context("after director's crash")?;
    never_on_both(&p)?;
    Ok(())
}

/// auto_failback off, director preferred: Heartbeat keeps the VIP when director comes back;
/// Heartbeat's graceful stop hands it to director at once.
#[test]
fn auto_failback_off_director_returns_idle() -> Result<()> {
    let Some(mut p) = pair(1, "off")? else {
        return Ok(());
    };
    // Director first: it holds its own group; Heartbeat joins idle.
    p.start(0)?;
    vip_on(&p, 0, Duration::from_secs(20)).context("director alone")?;
    p.start(1)?;
    wait_for(Duration::from_secs(20), || {
        p.log(1)
            .contains("Local Resource acquisition completed. (none)")
            || p.log(1).contains("remote resource transition completed")
    })
    .with_context(|| format!("Heartbeat never joined\n{}", logs(&p)))?;
    stays_on(&p, 0, Duration::from_secs(3))?;
    p.crash(0)?;
    vip_on(&p, 1, DEADTIME + Duration::from_secs(3)).context("after the crash")?;
    p.revive(0)?;
    p.start(0)?;
    wait_for(Duration::from_secs(15), || {
        p.status(0).contains("peer ha02 alive")
    })
    .with_context(|| format!("director never heard Heartbeat again\n{}", logs(&p)))?;
    stays_on(&p, 1, Duration::from_secs(8)).context("auto_failback off")?;
    p.stop(1, Duration::from_secs(20))?;
    vip_on(&p, 0, DEADTIME).context("after Heartbeat's graceful stop")?;
    never_on_both(&p)?;
    Ok(())
}

/// A wrong key on either side: each refuses every packet of the other (director counts
/// them, Heartbeat logs them), so each declares the other dead and takes the VIP, exactly
/// as two Heartbeat nodes with different keys do.
#[test]
fn a_wrong_key_is_refused_by_both_sides() -> Result<()> {
    if !tests::hbnode::installed() {
        eprintln!("skipped: Debian's heartbeat package is not installed");
        return Ok(());
    }
    let mut s = spec(0, "on");
    s.authkeys[1] = "auth 1\n1 sha1 NotTheSameSecret\n".to_string();
    let mut p = Pair::new(s)?;
    p.start(0)?;
    p.start(1)?;
    wait_for(Duration::from_secs(30), || p.holds(0) && p.holds(1)).with_context(|| {
        format!(
            "each node should hold the VIP, hearing nothing valid\n{}",
            logs(&p)
        )
    })?;
    // The status file is rewritten every 50 ms.
    wait_for(Duration::from_secs(5), || {
        p.rejected(1, "bad_auth") > 0 && p.status(1).contains("peer ha01 dead")
    })
    .with_context(|| {
        format!(
            "director counted no packet with a bad MAC, or believes ha01\n{}",
            logs(&p)
        )
    })?;
    let hb = p.log(0);
    ensure!(
        hb.contains("netstring authentication failed")
            && hb.contains("node ha02: is dead")
            && !hb.contains("Link ha02:eth0 up"),
        "Heartbeat took a packet from director, or did not log the refusal\n{}",
        logs(&p)
    );
    Ok(())
}

/// ha01 holds the VIP: what it sends to ha02 during its graceful stop (captured on ha02's
/// wire), after which ha01 starts again and gets the VIP back (auto_failback on).
fn captured_around_a_graceful_stop(p: &mut Pair) -> Result<Vec<Vec<u8>>> {
    let from: std::net::Ipv4Addr = NODES[0].2.parse()?;
    let cap = tests::hbnode::capture(&p.lab, NODES[1].1, from, Duration::from_secs(6))?;
    std::thread::sleep(Duration::from_millis(500));
    p.stop(0, Duration::from_secs(20))?;
    vip_on(p, 1, DEADTIME).context("after the graceful stop")?;
    let packets = cap
        .join()
        .map_err(|_| anyhow::anyhow!("capture panicked"))??;
    ensure!(packets.len() >= 3, "captured {} packets", packets.len());
    p.start(0)?;
    vip_on(p, 0, Duration::from_secs(30)).context("failback")?;
    Ok(packets)
}

/// Packets captured on the wire during a graceful stop (status, resource, `shutdone`) and
/// sent again after the stopped node came back: director refuses Heartbeat's (an older
/// generation), and the VIP stays where it is; had the `shutdone` been believed, director
/// would have taken the VIP too.
#[test]
fn replayed_heartbeat_packets_are_refused_by_director() -> Result<()> {
    let Some(mut p) = pair(0, "on")? else {
        return Ok(());
    };
    joined(&mut p, 0)?;
    let director: std::net::Ipv4Addr = NODES[1].2.parse()?;
    let packets = captured_around_a_graceful_stop(&mut p)?;
    let before = p.rejected(1, "old_generation");
    let n = packets.len() as u64;
    tests::hbnode::replay(&p.lab, "a", director, packets)?;
    stays_on(&p, 0, Duration::from_secs(4)).context("after the replay")?;
    let refused = p.rejected(1, "old_generation") - before;
    ensure!(
        refused == n,
        "director refused {refused} of {n} replayed packets as an older generation\n{}",
        logs(&p)
    );
    never_on_both(&p)?;
    Ok(())
}

/// The same the other way: director's packets from before its restart, sent again to
/// Heartbeat, are refused ("attempted replay attack") and the VIP stays on director.
#[test]
fn replayed_director_packets_are_refused_by_heartbeat() -> Result<()> {
    let Some(mut p) = pair(1, "on")? else {
        return Ok(());
    };
    joined(&mut p, 1)?;
    vip_on(&p, 0, Duration::from_secs(20)).context("director joined")?;
    let heartbeat: std::net::Ipv4Addr = NODES[1].2.parse()?;
    let packets = captured_around_a_graceful_stop(&mut p)?;
    let before = p.log(1).matches("attempted replay attack").count();
    tests::hbnode::replay(&p.lab, "a", heartbeat, packets)?;
    stays_on(&p, 0, Duration::from_secs(4)).context("after the replay")?;
    let refused = p.log(1).matches("attempted replay attack").count() - before;
    ensure!(
        refused > 0,
        "Heartbeat logged no replay attack\n{}",
        logs(&p)
    );
    never_on_both(&p)?;
    Ok(())
}

fn set_protocol(p: &Pair, i: usize, protocol: &str) -> Result<()> {
    std::fs::write(
        p.node_dir(i).join("etc").join("director.conf"),
        format!("[peer]\nprotocol = \"{protocol}\"\n"),
    )?;
    Ok(())
}

/// The end of the migration: both nodes run director, still speaking Heartbeat's protocol
/// to each other (`[peer] protocol = "heartbeat"` on both; the preferred node joined last
/// and got the VIP back over it). The backup restarts with
/// `protocol = "director"`: the primary switches to director's protocol on its first packet,
/// and the VIP never moves; then the primary restarts with the new setting (graceful stop,
/// the backup takes over, the primary comes back and fails back), the pair on director's
/// protocol alone.
#[test]
fn switching_to_directors_protocol_one_node_at_a_time() -> Result<()> {
    let mut s = spec(0, "on");
    s.heartbeat = None;
    let mut p = Pair::new(s)?;
    // Step 3 of the migration: ha02 (director, Heartbeat's protocol) holds the VIP alone;
    // ha01 joins as director on Heartbeat's protocol and, preferred, gets it back.
    p.start(1)?;
    vip_on(&p, 1, Duration::from_secs(20)).context("ha02 alone")?;
    p.start(0)?;
    p.wait_settled(0, Duration::from_secs(30))
        .context("two director nodes on Heartbeat's protocol")?;
    vip_on(&p, 0, Duration::from_secs(5))?;
    never_on_both(&p)?;

    p.stop(1, Duration::from_secs(20))?;
    set_protocol(&p, 1, "director")?;
    p.start(1)?;
    wait_for(Duration::from_secs(10), || {
        p.log(0)
            .contains("now speaks director's protocol: switching to it")
    })
    .with_context(|| format!("ha01 did not switch\n{}", logs(&p)))?;
    // ha02's status file is rewritten by its new process within 50 ms.
    std::thread::sleep(Duration::from_millis(200));
    p.wait_settled(0, Duration::from_secs(15))
        .context("the backup back on director's protocol")?;
    stays_on(&p, 0, Duration::from_secs(3))?;

    p.stop(0, Duration::from_secs(20))?;
    vip_on(&p, 1, DEADTIME).context("the primary stops")?;
    set_protocol(&p, 0, "director")?;
    p.start(0)?;
    std::thread::sleep(Duration::from_millis(200));
    p.wait_settled(0, Duration::from_secs(15))
        .context("both on director's protocol: failback")?;
    vip_on(&p, 0, Duration::from_secs(5))?;
    never_on_both(&p)?;
    ensure!(
        !p.log(0).contains("rejected") && !p.log(1).contains("rejected: not a director"),
        "a node refused its peer's packets\n{}",
        logs(&p)
    );
    Ok(())
}
