//! `director run` in pair mode, end to end: two directors (namespaces `a`, `b`) with the
//! seed's kind of files (ha.cf, authkeys, haresources with `IPaddr` and `ldirectord::www.cf`)
//! and a client. The IPVS side uses the in-memory table (`--ipvs memory`: this kernel has no
//! IPVS; the lab VM tests the kernel side), everything else is real: heartbeats over UDP,
//! the VIP on eth0 with gratuitous ARP, the control socket, `director status --json`.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![cfg(feature = "netns")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tests::netns::{wait_for, Lab};

const VIP: &str = "192.0.2.100";
const NODES: [(&str, &str); 2] = [("ha01", "a"), ("ha02", "b")];

struct Directors {
    lab: Lab,
    dir: PathBuf,
    bin: PathBuf,
    procs: [Option<Child>; 2],
}

impl Drop for Directors {
    fn drop(&mut self) {
        for c in self.procs.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Directors {
    fn new() -> Result<Directors> {
        let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 13)])?;
        let dir = std::env::temp_dir().join(lab.ns("dpair"));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, _) in NODES {
            let etc = dir.join(name).join("etc");
            std::fs::create_dir_all(&etc)?;
            std::fs::create_dir_all(dir.join(name).join("state"))?;
            std::fs::create_dir_all(dir.join(name).join("run"))?;
            std::fs::write(etc.join("nodeinfo"), format!("{name}\n"))?;
            std::fs::write(
                etc.join("ha.cf"),
                format!(
                    "keepalive 50ms\ndeadtime 300ms\nwarntime 200ms\ninitdead 600ms\nudpport 694\n\
                     ucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nauto_failback on\nnode ha01\nnode ha02\n\
                     logfile {}\n",
                    dir.join(name).join("ha-log").display()
                ),
            )?;
            let keys = etc.join("authkeys");
            std::fs::write(&keys, "auth 2\n2 sha1 TestNetOnlySecret\n")?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600))?;
            std::fs::write(
                etc.join("haresources"),
                format!("ha01 IPaddr::{VIP}/24/eth0 ldirectord::www.cf\n"),
            )?;
            std::fs::write(
                etc.join("www.cf"),
                format!(
                    "checkinterval=1\nvirtual={VIP}:80\n\treal=192.0.2.13:80 gate\n\
                     \tfallback=127.0.0.1:80 gate\n\tservice=http\n\tscheduler=rr\n\
                     \tprotocol=tcp\n\tchecktype=on\n"
                ),
            )?;
        }
        Ok(Directors {
            lab,
            dir,
            bin: tests::pair::director_bin()?,
            procs: [None, None],
        })
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join(NODES[i].0)
    }

    fn start(&mut self, i: usize) -> Result<()> {
        let d = self.node_dir(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.lab.ns(NODES[i].1)])
            .arg(&self.bin)
            .arg("run")
            .arg("--config-dir")
            .arg(d.join("etc"))
            .arg("--run-dir")
            .arg(d.join("run"))
            .arg("--state-dir")
            .arg(d.join("state"))
            .args(["--ipvs", "memory", "--metrics", "off"])
            // Never the default (reboot) in a test.
            .args(["--fence", "exit"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.procs[i] = Some(child);
        Ok(())
    }

    fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut c) = self.procs[i].take() {
            c.kill()?;
            c.wait()?;
        }
        // a dead machine answers nothing: its link goes and its stale VIP with it
        self.lab.ip(NODES[i].1, &["link", "set", "eth0", "down"])?;
        let _ = self.lab.ip(
            NODES[i].1,
            &["addr", "del", &format!("{VIP}/24"), "dev", "eth0"],
        );
        Ok(())
    }

    /// `director reload` on node `i`: whether it said reloaded, and what it said.
    fn reload(&self, i: usize) -> Result<(bool, String)> {
        let out = Command::new(&self.bin)
            .arg("reload")
            .arg("--run-dir")
            .arg(self.node_dir(i).join("run"))
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    fn ctl(&self, i: usize, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--run-dir")
            .arg(self.node_dir(i).join("run"))
            .output()?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn status(&self, i: usize) -> serde_like::Json {
        serde_like::Json(self.ctl(i, &["status", "--json"]).unwrap_or_default())
    }

    fn holds(&self, i: usize) -> bool {
        self.lab.has_addr(NODES[i].1, VIP).unwrap_or(false)
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.node_dir(i).join("log")).unwrap_or_default()
    }

    fn settled(&self, owner: usize, limit: Duration) -> Result<Duration> {
        let other = 1 - owner;
        wait_for(limit, || {
            self.holds(owner)
                && !self.holds(other)
                && self.status(owner).role() == "active"
                && self.status(other).role().starts_with("standby")
                && self.status(owner).peer_role().starts_with("standby")
                && self.status(other).peer_role() == "active"
        })
        .with_context(|| {
            format!(
                "{} did not settle as owner in {limit:?}\n--- status ha01\n{}\n--- status ha02\n{}\n--- log ha01\n{}\n--- log ha02\n{}",
                NODES[owner].0,
                self.status(0).0,
                self.status(1).0,
                self.log(0),
                self.log(1)
            )
        })
    }
}

/// `director status --json`: the text, and the fields the checks look at.
mod serde_like {
    pub struct Json(pub String);
    impl Json {
        pub fn has(&self, needle: &str) -> bool {
            self.0.contains(needle)
        }
        fn value(&self) -> serde_json::Value {
            serde_json::from_str(&self.0).unwrap_or_default()
        }
        /// This node's failover role ("active", "standby", "standby (operator standby)").
        pub fn role(&self) -> String {
            self.value()["failover"]["role"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
        /// The peer's role as this node last heard it.
        pub fn peer_role(&self) -> String {
            self.value()["failover"]["peer"]["role"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
        /// Each configured link: (medium, state).
        pub fn links(&self) -> Vec<(String, String)> {
            self.value()["failover"]["links"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|l| {
                            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
                            (s("medium"), s("state"))
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

#[test]
fn director_pair_takes_over_hands_back_and_obeys_standby() -> Result<()> {
    let mut d = Directors::new()?;
    d.start(0)?;
    // Alone: the configured link is listed before anything is heard on it.
    wait_for(Duration::from_secs(5), || !d.status(0).links().is_empty())
        .with_context(|| format!("no status from ha01\n{}", d.log(0)))?;
    assert_eq!(
        d.status(0).links(),
        vec![("ucast eth0".to_string(), "unknown".to_string())],
        "{}",
        d.status(0).0
    );
    assert!(d
        .ctl(0, &["status"])?
        .contains("link ucast eth0: unknown, never heard"));
    d.start(1)?;
    d.settled(0, Duration::from_secs(10))?;
    assert_eq!(
        d.status(0).links(),
        vec![("ucast eth0".to_string(), "up".to_string())]
    );

    // status: pair mode, the peer up, the VIP and the ldirectord resource running here,
    // the ldirectord file's virtual service warm on both nodes
    let s0 = d.status(0);
    for want in [
        "\"mode\": \"pair\"",
        "\"name\": \"ha02\"",
        "\"state\": \"up\"",
        "ldirectord::www.cf",
        "\"state\": \"running\"",
        "tcp:192.0.2.100:80",
    ] {
        assert!(s0.has(want), "ha01 status lacks {want}:\n{}", s0.0);
    }
    assert!(d.status(1).has("tcp:192.0.2.100:80"), "{}", d.status(1).0);
    let human = d.ctl(0, &["status"])?;
    assert!(human.contains("role: active"), "{human}");

    // crash of the active director: the standby takes the VIP
    let t = Instant::now();
    d.kill(0)?;
    wait_for(Duration::from_secs(5), || {
        d.holds(1) && d.status(1).role() == "active"
    })
    .with_context(|| format!("no takeover\n{}", d.log(1)))?;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "takeover took {took:?}");
    assert!(d.log(1).contains("is dead"), "{}", d.log(1));
    // ha.cf's logfile has the node's messages in Heartbeat's format.
    let halog = std::fs::read_to_string(d.node_dir(1).join("ha-log")).unwrap_or_default();
    assert!(
        halog
            .lines()
            .any(|l| l.contains(" ha02 heartbeat: [") && l.ends_with("]: WARN: node ha01: is dead")),
        "{halog}"
    );

    // the preferred node returns: auto_failback on gives it back, never on both
    d.lab.ip("a", &["link", "set", "eth0", "up"])?;
    d.start(0)?;
    d.settled(0, Duration::from_secs(10))?;

    // operator standby on the owner moves everything to the peer; takeover brings it back
    let out = d.ctl(0, &["standby"])?;
    assert!(out.contains("standby"), "{out}");
    d.settled(1, Duration::from_secs(5))?;
    let out = d.ctl(0, &["takeover"])?;
    assert!(out.contains("takeover"), "{out}");
    d.settled(0, Duration::from_secs(5))?;

    // SIGTERM: graceful, the VIP moves to the peer and the daemon exits 0
    if let Some(c) = d.procs[0].as_mut() {
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait()? {
                assert!(st.success(), "exit {st:?}\n{}", d.log(0));
                break;
            }
            if Instant::now() > deadline {
                bail!("director did not stop on SIGTERM\n{}", d.log(0));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        d.procs[0] = None;
    }
    wait_for(Duration::from_secs(3), || d.holds(1) && !d.holds(0))
        .context("the VIP did not move on a graceful stop")?;
    Ok(())
}

#[test]
fn director_refuses_world_readable_authkeys() -> Result<()> {
    let mut d = Directors::new()?;
    use std::os::unix::fs::PermissionsExt;
    let keys = d.node_dir(0).join("etc").join("authkeys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644))?;
    d.start(0)?;
    let mut c = d.procs[0].take().context("started")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let st = loop {
        if let Some(st) = c.try_wait()? {
            break st;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            bail!("director ran with a world-readable authkeys\n{}", d.log(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!st.success());
    assert!(d.log(0).contains("authkeys"), "{}", d.log(0));
    assert!(!d.holds(0));
    Ok(())
}

/// `director reload` in pair mode: a new authkeys is applied to the running node (proved by
/// the peer, which does not know the new key yet, refusing what ha01 now signs with it), and
/// what is not applied is refused with its reason: a broken ha.cf (file:line), an authkeys
/// readable by others, a new udpport (needs a restart). Never "reloaded" for those.
#[test]
fn director_reload_applies_keys_and_names_what_it_does_not_apply() -> Result<()> {
    let mut d = Directors::new()?;
    d.start(0)?;
    d.start(1)?;
    d.settled(0, Duration::from_secs(15))?;
    let etc = |i: usize| d.node_dir(i).join("etc");
    let write_keys = |i: usize, text: &str| -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let p = etc(i).join("authkeys");
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    };
    let reload = |i: usize| d.reload(i);

    // Key rotation, one node at a time: ha01 signs with key 3 and still accepts 2.
    write_keys(
        0,
        "auth 3\n2 sha1 TestNetOnlySecret\n3 sha1 RotatedTestNetOnlySecret\n",
    )?;
    let (ok, text) = reload(0)?;
    ensure!(
        ok && text.contains("authkeys: signing with key 3"),
        "{text}"
    );
    wait_for(Duration::from_secs(3), || d.status(1).has("unknown_key"))
        .with_context(|| format!("ha02 never saw key 3: ha01 did not apply it\n{}", d.log(0)))?;
    write_keys(
        1,
        "auth 3\n2 sha1 TestNetOnlySecret\n3 sha1 RotatedTestNetOnlySecret\n",
    )?;
    let (ok, text) = reload(1)?;
    ensure!(
        ok && text.contains("authkeys: signing with key 3"),
        "{text}"
    );
    d.settled(0, Duration::from_secs(15))
        .context("the pair did not settle on the new key")?;

    // A broken ha.cf: refused with its line, nothing applied, the node runs on.
    let hacf = etc(0).join("ha.cf");
    let good = std::fs::read_to_string(&hacf)?;
    std::fs::write(&hacf, format!("{good}keepalive banana\n"))?;
    let (ok, text) = reload(0)?;
    ensure!(!ok, "a broken ha.cf was reported as reloaded: {text}");
    ensure!(
        text.contains("ha.cf:") && text.contains("not reloaded"),
        "{text}"
    );
    std::fs::write(&hacf, &good)?;

    // An authkeys others can read: refused.
    {
        use std::os::unix::fs::PermissionsExt;
        let p = etc(0).join("authkeys");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
        let (ok, text) = reload(0)?;
        ensure!(
            !ok && text.contains("authkeys"),
            "mode 644 accepted: {text}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    }

    // A timing change is applied; a new udpport is valid but needs a restart: said so, not
    // called reloaded.
    std::fs::write(
        &hacf,
        good.replace("keepalive 50ms", "keepalive 60ms")
            .replace("udpport 694", "udpport 695"),
    )?;
    let (ok, text) = reload(0)?;
    ensure!(
        !ok && text.contains("ha.cf: keepalive applied")
            && text.contains("udpport changed: restart director"),
        "{text}"
    );
    // The port still waits for a restart at the next reload; back to the old one, all runs.
    std::fs::write(&hacf, good.replace("keepalive 50ms", "keepalive 60ms"))?;
    let (ok, text) = reload(0)?;
    ensure!(ok && text.contains("configuration reloaded"), "{text}");
    d.settled(0, Duration::from_secs(5))?;
    Ok(())
}

/// `director reload` of haresources and ha.cf on both nodes: a group added to haresources,
/// with an ldirectord file of its own, starts on its preferred node (ha02), the file running
/// on both; removed, it stops and so does its file; while the group that did not
/// change stays where it is, its VIP never leaving ha01; a new deadtime takes effect.
#[test]
fn director_reload_adds_and_removes_a_vip_and_nothing_else_moves() -> Result<()> {
    const VIP2: &str = "192.0.2.101";
    let mut d = Directors::new()?;
    d.start(0)?;
    d.start(1)?;
    d.settled(0, Duration::from_secs(15))?;
    let reload = |i: usize| -> Result<String> {
        let (ok, text) = d.reload(i)?;
        ensure!(ok, "reload failed: {text}");
        Ok(text)
    };
    let set = |lines: &str, deadtime: &str| -> Result<()> {
        for i in 0..2 {
            let etc = d.node_dir(i).join("etc");
            std::fs::write(etc.join("haresources"), lines)?;
            let hacf = std::fs::read_to_string(etc.join("ha.cf"))?;
            let hacf: String = hacf
                .lines()
                .map(|l| {
                    if l.starts_with("deadtime") {
                        format!("deadtime {deadtime}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(etc.join("ha.cf"), hacf)?;
        }
        Ok(())
    };
    let first = format!("ha01 IPaddr::{VIP}/24/eth0 ldirectord::www.cf\n");
    let vip2_on = |i: usize| d.lab.has_addr(NODES[i].1, VIP2).unwrap_or(false);
    // Watch the first VIP on ha01 all along.
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (lost, stop) = (lost.clone(), stop.clone());
        let ns = d.lab.ns("a");
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::SeqCst)
                && started.elapsed() < Duration::from_secs(60)
            {
                let out = Command::new("ip")
                    .args([
                        "netns", "exec", &ns, "ip", "-4", "addr", "show", "dev", "eth0",
                    ])
                    .output();
                if let Ok(o) = out {
                    if !String::from_utf8_lossy(&o.stdout).contains(&format!("{VIP}/24")) {
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for i in 0..2 {
        std::fs::write(
            d.node_dir(i).join("etc").join("mail.cf"),
            format!(
                "checkinterval=1\nvirtual={VIP2}:25\n\treal=192.0.2.13:25 gate\n\
                 \tservice=smtp\n\tscheduler=rr\n\tprotocol=tcp\n\tchecktype=on\n"
            ),
        )?;
    }
    set(
        &format!("{first}ha02 IPaddr::{VIP2}/24/eth0 ldirectord::mail.cf\n"),
        "400ms",
    )?;
    let text = reload(0)?;
    ensure!(
        text.contains("ha.cf: deadtime")
            && text.contains("ldirectord files started: mail.cf")
            && text.contains(&format!(
                "added, started where they belong once both nodes have them: IPaddr::{VIP2}/24/eth0"
            )),
        "{text}"
    );
    // The new file runs at once (warm on both nodes, as at start).
    ensure!(
        d.status(0).has(&format!("{VIP2}:25")),
        "the new ldirectord file does not run: {}",
        d.ctl(0, &["status", "--json"])?
    );
    // One node only knows it: nobody starts it.
    std::thread::sleep(Duration::from_millis(500));
    ensure!(
        !vip2_on(0) && !vip2_on(1),
        "a group only one node has was started"
    );
    reload(1)?;
    wait_for(Duration::from_secs(5), || vip2_on(1))
        .with_context(|| format!("the new group never started on ha02\n{}", d.log(1)))?;
    ensure!(!vip2_on(0));
    ensure!(
        d.log(0).contains("reload: deadtime 300 ms -> 400 ms"),
        "ha01 did not apply the new deadtime\n{}",
        d.log(0)
    );
    // Removed again on both: it stops on ha02 and starts nowhere.
    set(&first, "300ms")?;
    let text = reload(1)?;
    ensure!(
        text.contains(&format!("released and removed: IPaddr::{VIP2}/24/eth0"))
            && text.contains("ldirectord files stopped: mail.cf"),
        "{text}"
    );
    ensure!(
        !d.status(1).has(&format!("{VIP2}:25")),
        "mail.cf still runs"
    );
    reload(0)?;
    wait_for(Duration::from_secs(5), || !vip2_on(1))
        .with_context(|| format!("the removed group still runs on ha02\n{}", d.log(1)))?;
    std::thread::sleep(Duration::from_millis(500));
    ensure!(!vip2_on(0) && !vip2_on(1));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watcher.join();
    ensure!(
        !lost.load(std::sync::atomic::Ordering::SeqCst),
        "the unchanged group's VIP left ha01 during the reloads"
    );
    d.settled(0, Duration::from_secs(5))?;
    ensure!(
        !d.log(0).contains("is dead") && !d.log(1).contains("is dead"),
        "a reload made a node declare its peer dead"
    );
    Ok(())
}

/// The seed's own tested set-up, a pair that runs no LVS (`haresources`: `ha01
/// IPaddr::VIP/24/eth0 httpd`), under `director run` with the kernel's IPVS backend on a
/// kernel that may have no IPVS at all (this machine's has none): it starts, holds the VIP
/// and httpd on ha01, fails over to ha02 when ha01 dies, and says nothing about IPVS.
#[test]
fn the_seeds_httpd_pair_runs_without_ipvs() -> Result<()> {
    use tests::pair::{Pair, Spec, Timing};
    let ipvs_here = std::path::Path::new("/proc/net/ip_vs").exists();
    let mut spec = Spec::director(Timing::FAST, "on", tests::pair::director_bin()?);
    spec.haresources = format!("ha01 IPaddr::{VIP}/24/eth0 httpd\n");
    spec.httpd = true;
    spec.ipvs_memory = false;
    let mut p = Pair::new(spec)?;
    p.start(0)?;
    p.start(1)?;
    p.wait_settled(0, Duration::from_secs(15))
        .with_context(|| format!("--- ha01\n{}\n--- ha02\n{}", p.log(0), p.log(1)))?;
    let flag = |i: usize| p.node_dir(i).join("httpd.running");
    let (flag0, flag1) = (flag(0), flag(1));
    let running = |f: &std::path::Path| f.exists();
    ensure!(
        running(&flag0) && !running(&flag1),
        "httpd should run on ha01 only"
    );
    p.crash(0)?;
    wait_for(Duration::from_secs(5), || p.holds(1) && running(&flag1))
        .with_context(|| format!("ha02 did not take over\n{}", p.log(1)))?;
    for i in [0, 1] {
        let log = p.log(i);
        ensure!(
            !log.contains("IPVS") && !log.contains("ip_vs"),
            "node {i} speaks of IPVS (kernel has it: {ipvs_here}):\n{log}"
        );
    }
    Ok(())
}

/// `director run` SIGKILLed on the active node and started again at once (issue 10, item 4):
/// the new process adopts the VIP as found and the peer never takes the group, so the VIP
/// is never removed from ha01, never added on ha02, and the client is answered by ha01 all
/// along. Timing as in the lab's connections scenario: deadtime 1 s.
#[test]
fn a_sigkilled_director_restarted_in_place_keeps_the_group() -> Result<()> {
    use tests::pair::{Pair, Spec, Timing};
    let timing = Timing {
        keepalive: "200ms",
        deadtime: "1000ms",
        warntime: "600ms",
        initdead: "2000ms",
    };
    let mut spec = Spec::director(timing, "on", tests::pair::director_bin()?);
    spec.httpd = true;
    spec.haresources = format!("ha01 IPaddr::{VIP}/24/eth0 ldirectord::www.cf httpd\n");
    let mut p = Pair::new(spec)?;
    p.start(0)?;
    p.start(1)?;
    p.wait_settled(0, Duration::from_secs(15))
        .with_context(|| p.logs(40))?;
    let before = p.log(1).len();
    let t0 = Instant::now();
    p.kill(0)?;
    p.start(0)?;
    p.wait_settled(0, Duration::from_secs(10))
        .with_context(|| p.logs(40))?;
    let settled = t0.elapsed();
    // The client is answered by ha01 a while after the restart, and nothing moved meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    let (_, mac) = p.client_answer(Duration::from_secs(2))?;
    ensure!(mac == p.mac(0)?, "the client reaches {mac}, not ha01");
    let moved: Vec<String> = [(0, false), (1, true)]
        .into_iter()
        .filter_map(|(i, add)| {
            p.first_event(i, add, t0).map(|_| {
                format!(
                    "{} {} the VIP",
                    NODES[i].0,
                    if add { "added" } else { "removed" }
                )
            })
        })
        .collect();
    ensure!(
        moved.is_empty(),
        "{moved:?} after the restart\n{}",
        p.logs(40)
    );
    let peer = p.log(1).get(before..).unwrap_or_default().to_string();
    ensure!(
        !peer.contains("Taking over") && !peer.contains("is dead"),
        "ha02 declared ha01 dead or took the group over:\n{peer}"
    );
    let restarted = p.log(0);
    ensure!(
        restarted.contains("found running here: adopting it"),
        "ha01 did not adopt its running group:\n{}",
        tests::pair::tail(&restarted, 40)
    );
    // httpd was started once, by the first process, and never stopped.
    let httpd = std::fs::read_to_string(p.node_dir(0).join("httpd.log")).unwrap_or_default();
    ensure!(
        httpd.matches("httpd start").count() == 1 && !httpd.contains("httpd stop"),
        "ha01's httpd was started or stopped again:\n{httpd}"
    );
    eprintln!("restart in place: ha01 settled {settled:?} after the SIGKILL");
    Ok(())
}

/// The operator state of the real server 192.0.2.13:80 in a node's `director status
/// --json` ("drained", "disabled", "weight 5"; "" for none), and whether it is in that
/// node's table.
fn real_of(s: &serde_like::Json) -> (String, bool) {
    let v: serde_json::Value = serde_json::from_str(&s.0).unwrap_or_default();
    let real = v["virtuals"]
        .as_array()
        .and_then(|vs| vs.iter().find(|x| x["name"] == "tcp:192.0.2.100:80"))
        .and_then(|x| x["reals"].as_array())
        .and_then(|rs| rs.iter().find(|r| r["address"] == "192.0.2.13:80"))
        .cloned()
        .unwrap_or_default();
    (
        real["operator"].as_str().unwrap_or_default().to_string(),
        !real["weight"].is_null(),
    )
}

#[test]
fn a_drain_on_one_node_holds_on_both_and_across_a_failover() -> Result<()> {
    let mut d = Directors::new()?;
    d.start(0)?;
    d.start(1)?;
    d.settled(0, Duration::from_secs(10))?;
    wait_for(Duration::from_secs(5), || real_of(&d.status(1)).1)
        .with_context(|| format!("the real is not in ha02's table\n{}", d.status(1).0))?;

    // drained on ha01 (the memory table counts no connection: it leaves at once)
    let out = d.ctl(0, &["real", "drain", "-t", "192.0.2.100:80", "192.0.2.13"])?;
    assert!(out.contains("draining"), "{out}");
    wait_for(Duration::from_secs(5), || {
        real_of(&d.status(0)) == ("drained".to_string(), false)
    })
    .with_context(|| format!("not drained on ha01\n{}", d.status(0).0))?;
    // ha02 holds it too: its status says so and its table follows
    wait_for(Duration::from_secs(5), || {
        real_of(&d.status(1)) == ("drained".to_string(), false)
    })
    .with_context(|| {
        format!(
            "ha02 does not hold the drain\n{}\n{}",
            d.status(1).0,
            d.log(1)
        )
    })?;
    let human = d.ctl(1, &["status"])?;
    assert!(
        human.contains("operator: 1 real server(s) drained, disabled or reweighted (version 1 by ha01); peer: same version"),
        "{human}"
    );

    // the active node dies: the real stays drained on the new active node
    d.kill(0)?;
    wait_for(Duration::from_secs(5), || {
        d.holds(1) && d.status(1).role() == "active"
    })
    .with_context(|| format!("no takeover\n{}", d.log(1)))?;
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(real_of(&d.status(1)), ("drained".to_string(), false));

    // enabled on ha02 while ha01 is away; ha01 returns with its older record from its state
    // file and takes the newer one
    let out = d.ctl(
        1,
        &["real", "enable", "tcp:192.0.2.100:80", "192.0.2.13:80"],
    )?;
    assert!(out.contains("enabled"), "{out}");
    wait_for(Duration::from_secs(5), || {
        real_of(&d.status(1)) == (String::new(), true)
    })
    .with_context(|| format!("not enabled on ha02\n{}", d.status(1).0))?;
    d.lab.ip("a", &["link", "set", "eth0", "up"])?;
    d.start(0)?;
    d.settled(0, Duration::from_secs(10))?;
    wait_for(Duration::from_secs(5), || {
        real_of(&d.status(0)) == (String::new(), true)
    })
    .with_context(|| {
        format!(
            "ha01 kept its older record\n{}\n{}",
            d.status(0).0,
            d.log(0)
        )
    })?;
    let kept = std::fs::read_to_string(d.node_dir(0).join("state/operator.json"))?;
    ensure!(kept.contains("\"version\":2"), "ha01's state file: {kept}");
    Ok(())
}
