//! `director run` in pair mode, end to end: two directors (namespaces `a`, `b`) with the
//! seed's kind of files (ha.cf, authkeys, haresources with `IPaddr` and `ldirectord::www.cf`)
//! and a client. The IPVS side uses the in-memory table (`--ipvs memory`: this kernel has no
//! IPVS; the lab VM tests the kernel side), everything else is real: heartbeats over UDP,
//! the VIP on eth0 with gratuitous ARP, the control socket, `director status --json`.
#![cfg(feature = "netns")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
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
                "keepalive 50ms\ndeadtime 300ms\nwarntime 200ms\ninitdead 600ms\nudpport 694\n\
                 ucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nauto_failback on\nnode ha01\nnode ha02\n",
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
                && self.status(owner).has("\"role\": \"active\"")
                && self.status(other).has("\"role\": \"standby")
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

/// Just enough to look into `director status --json` text without a JSON dependency here.
mod serde_like {
    pub struct Json(pub String);
    impl Json {
        pub fn has(&self, needle: &str) -> bool {
            self.0.contains(needle)
        }
    }
}

#[test]
fn director_pair_takes_over_hands_back_and_obeys_standby() -> Result<()> {
    let mut d = Directors::new()?;
    d.start(0)?;
    d.start(1)?;
    d.settled(0, Duration::from_secs(10))?;

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
        d.holds(1) && d.status(1).has("\"role\": \"active\"")
    })
    .with_context(|| format!("no takeover\n{}", d.log(1)))?;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "takeover took {took:?}");
    assert!(d.log(1).contains("is dead"), "{}", d.log(1));

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
