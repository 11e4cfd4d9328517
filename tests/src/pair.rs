//! A failover pair in namespaces: nodes `ha01` (ns `a`, 192.0.2.11) and `ha02` (ns `b`,
//! 192.0.2.12) running the `node` example of the failover crate or the `director` binary
//! itself ([`Program`]), and a client `c` (192.0.2.13), all on one bridge; the VIP is
//! 192.0.2.100/24.
//!
//! Dropping a [`Pair`] kills every node and monitor it started and removes the namespaces,
//! also when a test panics.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::{run, wait_for, Lab};

/// The virtual address every scenario moves.
pub const VIP: &str = "192.0.2.100";
/// Node names, namespaces and addresses, by index.
pub const NODES: [(&str, &str, &str); 2] =
    [("ha01", "a", "192.0.2.11"), ("ha02", "b", "192.0.2.12")];
/// The client's namespace and address.
pub const CLIENT: (&str, &str) = ("c", "192.0.2.13");

/// ha.cf timing, as written in the file.
#[derive(Debug, Clone)]
pub struct Timing {
    pub keepalive: &'static str,
    pub deadtime: &'static str,
    pub warntime: &'static str,
    pub initdead: &'static str,
}

impl Timing {
    /// The target setting: keepalive 20 ms, deadtime 80 ms.
    pub const FAST: Timing = Timing {
        keepalive: "20ms",
        deadtime: "80ms",
        warntime: "60ms",
        initdead: "300ms",
    };
    /// Heartbeat-like: keepalive 1 s, deadtime 3 s (the baselines' setting).
    pub const HEARTBEAT: Timing = Timing {
        keepalive: "1",
        deadtime: "3",
        warntime: "2",
        initdead: "6",
    };
}

/// What to write into each node's config dir.
#[derive(Debug, Clone)]
pub struct Spec {
    pub timing: Timing,
    /// `on`, `off` or `legacy`.
    pub auto_failback: &'static str,
    /// haresources line (identical on both nodes).
    pub haresources: String,
    /// Extra ha.cf lines per node.
    pub extra: [Vec<String>; 2],
    /// authkeys per node.
    pub authkeys: [String; 2],
    /// Put the LSB-style `httpd` script (state in the node's dir) in resource.d.
    pub httpd: bool,
    /// `director.conf` on both nodes (`None`: no file, every default).
    pub director_conf: Option<String>,
    /// What runs on each node.
    pub program: Program,
    /// `director run --ipvs memory` (the default); `false`: the kernel's IPVS, as in
    /// production (on a kernel without IPVS, only a pair that needs none can run).
    pub ipvs_memory: bool,
    /// This node runs the real Heartbeat 3.0.6 instead ([`crate::hbnode`]); the other runs
    /// `program`.
    pub heartbeat: Option<usize>,
}

/// The program each node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// The failover crate's `node` example (failover only; status in `state/status`).
    Node,
    /// `director run` (this binary) with the in-memory IPVS table; haresources gains
    /// `ldirectord::www.cf`, a virtual service whose real server, the client, is checked by
    /// ping every second, so health checks run beside the heartbeats.
    Director(PathBuf),
}

impl Spec {
    /// One VIP group preferring ha01, identical keys.
    pub fn new(timing: Timing, auto_failback: &'static str) -> Spec {
        let keys = "auth 1\n1 sha1 TestNetOnlySecret\n".to_string();
        Spec {
            timing,
            auto_failback,
            haresources: format!("ha01 IPaddr::{VIP}/24/eth0\n"),
            extra: [Vec::new(), Vec::new()],
            authkeys: [keys.clone(), keys],
            httpd: false,
            director_conf: None,
            program: Program::Node,
            ipvs_memory: true,
            heartbeat: None,
        }
    }

    /// As [`Spec::new`], running `director run` from `bin` with an ldirectord resource.
    pub fn director(timing: Timing, auto_failback: &'static str, bin: PathBuf) -> Spec {
        Spec {
            haresources: format!("ha01 IPaddr::{VIP}/24/eth0 ldirectord::www.cf\n"),
            program: Program::Director(bin),
            ..Spec::new(timing, auto_failback)
        }
    }
}

/// The `director` binary: `$DIRECTOR_BIN`, else built with cargo (debug) into the workspace's
/// target dir.
pub fn director_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("DIRECTOR_BIN") {
        return Ok(PathBuf::from(p));
    }
    crate::build::cargo_build(&["-p", "director", "--bin", "director"], "director")
}

/// Address events of one namespace, timestamped when read.
struct Monitor {
    child: Child,
    events: Arc<Mutex<Vec<(Instant, String)>>>,
}

/// The pair. See the module documentation.
pub struct Pair {
    nodes: [Option<Child>; 2],
    monitors: Vec<Monitor>,
    dir: PathBuf,
    pub spec: Spec,
    pub lab: Lab,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in self.nodes.iter_mut().flatten() {
            if let Ok(init) = crate::hbnode::init_pid(c.id()) {
                // A Heartbeat node: its PID namespace ends with its PID 1.
                let _ = run("kill", &["-KILL", &init.to_string()]);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in &mut self.monitors {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
        if std::env::var_os("FAILOVER_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `node` example binary: `$FAILOVER_NODE_BIN`, else built with cargo into the
/// workspace's target dir.
pub fn node_bin() -> Result<PathBuf> {
    static BIN: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut cached = BIN
        .lock()
        .map_err(|_| anyhow::anyhow!("node_bin lock poisoned"))?;
    if let Some(p) = cached.as_ref() {
        return Ok(p.clone());
    }
    let p = build_node_bin()?;
    *cached = Some(p.clone());
    Ok(p)
}

fn build_node_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FAILOVER_NODE_BIN") {
        return Ok(PathBuf::from(p));
    }
    crate::build::cargo_build(&["-p", "failover", "--example", "node"], "examples/node")
}

impl Pair {
    /// Builds the namespaces and config dirs; starts nothing.
    pub fn new(spec: Spec) -> Result<Pair> {
        let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 13)])?;
        let dir = std::env::temp_dir().join(lab.ns("pair"));
        let _ = std::fs::remove_dir_all(&dir);
        for (i, (name, _, _)) in NODES.iter().enumerate() {
            let etc = dir.join(name).join("etc");
            std::fs::create_dir_all(etc.join("resource.d"))?;
            std::fs::create_dir_all(dir.join(name).join("state"))?;
            std::fs::write(etc.join("nodeinfo"), format!("{name}\n"))?;
            let t = &spec.timing;
            let extra = spec.extra.get(i).map(|e| e.join("\n")).unwrap_or_default();
            std::fs::write(
                etc.join("ha.cf"),
                format!(
                    "keepalive {}\ndeadtime {}\nwarntime {}\ninitdead {}\nudpport 694\n\
                     ucast eth0 {}\nucast eth0 {}\n{extra}\nauto_failback {}\nnode ha01\nnode ha02\n",
                    t.keepalive,
                    t.deadtime,
                    t.warntime,
                    t.initdead,
                    NODES[0].2,
                    NODES[1].2,
                    spec.auto_failback
                ),
            )?;
            let keys = etc.join("authkeys");
            std::fs::write(&keys, spec.authkeys.get(i).cloned().unwrap_or_default())?;
            set_mode(&keys, 0o600)?;
            std::fs::write(etc.join("haresources"), &spec.haresources)?;
            if let Some(text) = &spec.director_conf {
                std::fs::write(etc.join("director.conf"), text)?;
            }
            if spec.heartbeat == Some(i) {
                crate::hbnode::prepare(&dir.join(name))?;
            }
            if let Program::Director(_) = spec.program {
                std::fs::create_dir_all(dir.join(name).join("run"))?;
                std::fs::write(
                    etc.join("www.cf"),
                    format!(
                        "checkinterval=1\nchecktimeout=1\nvirtual={VIP}:80\n\treal={}:80 gate\n\
                         \tfallback=127.0.0.1:80 gate\n\tservice=http\n\tscheduler=rr\n\
                         \tprotocol=tcp\n\tchecktype=ping\n",
                        CLIENT.1
                    ),
                )?;
            }
            if spec.httpd {
                let script = etc.join("resource.d").join("httpd");
                let state = dir.join(name).join("httpd.running");
                std::fs::write(
                    &script,
                    format!(
                        "#!/bin/sh\nS={}\necho \"httpd $*\" >> {}\ncase \"$1\" in\n\
                         start) touch $S;;\n stop) rm -f $S;;\n\
                         status) if [ -e $S ]; then echo 'httpd is running'; else echo 'httpd is stopped'; fi;;\n\
                         esac\nexit 0\n",
                        state.display(),
                        dir.join(name).join("httpd.log").display()
                    ),
                )?;
                set_mode(&script, 0o755)?;
            }
        }
        let mut pair = Pair {
            nodes: [None, None],
            monitors: Vec::new(),
            dir,
            spec,
            lab,
        };
        for (_, ns, _) in NODES {
            pair.monitor(ns)?;
        }
        Ok(pair)
    }

    fn monitor(&mut self, host: &str) -> Result<()> {
        let ns = self.lab.ns(host);
        // `ip -ts` stamps each event when it reads it; under SCHED_FIFO that is within
        // microseconds of the change even on a loaded machine (a reader thread here could lag
        // by tens of milliseconds).
        let mut child = Command::new("chrt")
            .args(["-f", "20", "ip", "-ts", "-n", &ns, "monitor", "address"])
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("monitor stdout")?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let (now, wall) = (Instant::now(), std::time::SystemTime::now());
                let (at, text) = match stamped(&line) {
                    Some((t, text)) => {
                        let lag = wall.duration_since(t).unwrap_or_default();
                        (now.checked_sub(lag).unwrap_or(now), text.to_string())
                    }
                    None => (now, line),
                };
                if let Ok(mut e) = ev.lock() {
                    e.push((at, text));
                }
            }
        });
        self.monitors.push(Monitor { child, events });
        // `ip monitor` needs a moment to subscribe.
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }

    /// The node's directory (etc/, state/, log, httpd.running).
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join(NODES.get(i).map_or("?", |n| n.0))
    }

    /// Starts node `i` (its stderr appended to `node_dir/log`).
    pub fn start(&mut self, i: usize) -> Result<()> {
        let (_, host, _) = *NODES.get(i).context("node index")?;
        let d = self.node_dir(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("log"))?;
        if self.spec.heartbeat == Some(i) {
            let name = NODES.get(i).map_or("?", |n| n.0);
            let child = crate::hbnode::command(&self.lab.ns(host), name, &d)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting heartbeat")?;
            if let Some(slot) = self.nodes.get_mut(i) {
                *slot = Some(child);
            }
            return Ok(());
        }
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.lab.ns(host)]);
        let bin = match &self.spec.program {
            Program::Node => {
                let bin = node_bin()?;
                cmd.arg(&bin);
                bin
            }
            Program::Director(bin) => {
                cmd.arg(bin)
                    .arg("run")
                    .arg("--run-dir")
                    .arg(d.join("run"))
                    .args(["--metrics", "off"]);
                if self.spec.ipvs_memory {
                    cmd.args(["--ipvs", "memory"]);
                }
                cmd
                    // Never the default (reboot): a stuck resource must not take the
                    // machine running the tests down.
                    .args(["--fence", "exit"]);
                bin.clone()
            }
        };
        let child = cmd
            .arg("--config-dir")
            .arg(d.join("etc"))
            .arg("--state-dir")
            .arg(d.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        if let Some(slot) = self.nodes.get_mut(i) {
            *slot = Some(child);
        }
        Ok(())
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut c) = self.nodes.get_mut(i).and_then(Option::take) {
            if let Ok(init) = crate::hbnode::init_pid(c.id()) {
                // A Heartbeat node: PID 1 of its namespace takes every process with it.
                let _ = run("kill", &["-KILL", &init.to_string()]);
            }
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// A machine crash, as the baselines did it: SIGKILL, then the node's eth0 goes down and
    /// its stale VIP is removed (a dead machine answers no ARP).
    pub fn crash(&mut self, i: usize) -> Result<()> {
        self.kill(i)?;
        let host = NODES.get(i).context("node index")?.1;
        self.lab.ip(host, &["link", "set", "eth0", "down"])?;
        let _ = self
            .lab
            .ip(host, &["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
        Ok(())
    }

    /// Brings a crashed node's eth0 back up (start it again with [`Pair::start`]).
    pub fn revive(&self, i: usize) -> Result<()> {
        let host = NODES.get(i).context("node index")?.1;
        self.lab.ip(host, &["link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// SIGTERM node `i` and waits (up to `limit`) for it to exit.
    pub fn stop(&mut self, i: usize, limit: Duration) -> Result<ExitStatus> {
        let Some(mut c) = self.nodes.get_mut(i).and_then(Option::take) else {
            bail!("node {i} is not running");
        };
        if self.spec.heartbeat == Some(i) {
            // `heartbeat -k`: the graceful stop of the init script and systemd unit.
            let init = crate::hbnode::init_pid(c.id())?;
            crate::hbnode::enter(init, &[crate::hbnode::HEARTBEAT, "-k"])?;
        } else {
            run("kill", &["-TERM", &c.id().to_string()])?;
        }
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait()? {
                return Ok(st);
            }
            if start.elapsed() > limit {
                let _ = c.kill();
                let _ = c.wait();
                bail!("node {i} did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal (`USR1` standby, `USR2` takeover) to node `i`.
    pub fn signal(&self, i: usize, sig: &str) -> Result<()> {
        let c = self
            .nodes
            .get(i)
            .and_then(Option::as_ref)
            .context("node not running")?;
        run("kill", &[&format!("-{sig}"), &c.id().to_string()])?;
        Ok(())
    }

    /// Whether node `i`'s namespace has the VIP configured.
    pub fn holds(&self, i: usize) -> bool {
        NODES
            .get(i)
            .is_some_and(|n| self.lab.has_addr(n.1, VIP).unwrap_or(false))
    }

    /// Node `i`'s status: the example's status file (written every 50 ms), or
    /// `director status --json`.
    pub fn status(&self, i: usize) -> String {
        match &self.spec.program {
            Program::Node => std::fs::read_to_string(self.node_dir(i).join("state").join("status"))
                .unwrap_or_default(),
            Program::Director(bin) => Command::new(bin)
                .args(["status", "--json", "--run-dir"])
                .arg(self.node_dir(i).join("run"))
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default(),
        }
    }

    /// Whether node `i` reports itself active (`true`) or standby (`false`) for the VIP's
    /// group, with the peer seen in the other role.
    fn reports(&self, i: usize, active: bool) -> bool {
        let s = self.status(i);
        let (mine, peers) = if active {
            ("active", "standby")
        } else {
            ("standby", "active")
        };
        match &self.spec.program {
            Program::Node => s.contains(&format!(" local {mine} peer {peers}")),
            Program::Director(_) => {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) else {
                    return false;
                };
                let role = |r: &serde_json::Value| {
                    r.as_str()
                        .is_some_and(|r| r == mine || r.starts_with(&format!("{mine} (")))
                };
                let peer_role = |r: &serde_json::Value| {
                    r.as_str()
                        .is_some_and(|r| r == peers || r.starts_with(&format!("{peers} (")))
                };
                role(&v["failover"]["role"]) && peer_role(&v["failover"]["peer"]["role"])
            }
        }
    }

    /// Node `i`'s log (a Heartbeat node's `logfile`, `/var/lib/heartbeat/ha-log`, after it).
    pub fn log(&self, i: usize) -> String {
        let mut log = std::fs::read_to_string(self.node_dir(i).join("log")).unwrap_or_default();
        if self.spec.heartbeat == Some(i) {
            // Heartbeat dumps refused messages with their binary fields: not always UTF-8.
            let bytes = std::fs::read(self.node_dir(i).join("varlib").join("ha-log"));
            log.push_str(&String::from_utf8_lossy(&bytes.unwrap_or_default()));
        }
        log
    }

    /// Both nodes' status and the last `n` lines of their logs, for failure messages.
    pub fn logs(&self, n: usize) -> String {
        format!(
            "--- ha01\n{}\n{}\n--- ha02\n{}\n{}",
            self.status(0),
            tail(&self.log(0), n),
            self.status(1),
            tail(&self.log(1), n)
        )
    }

    /// Runs a program inside Heartbeat node `i` (`/usr/share/heartbeat/hb_standby`, ...).
    pub fn heartbeat_command(&self, i: usize, args: &[&str]) -> Result<String> {
        let c = self
            .nodes
            .get(i)
            .and_then(Option::as_ref)
            .context("node not running")?;
        crate::hbnode::enter(crate::hbnode::init_pid(c.id())?, args)
    }

    /// How many packets node `i` refused for `reason` (from its status file).
    pub fn rejected(&self, i: usize, reason: &str) -> u64 {
        self.status(i)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("rejected {reason} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until both nodes run, node `owner` holds the VIP (and reports the group active)
    /// and the other does not.
    pub fn wait_settled(&self, owner: usize, limit: Duration) -> Result<Duration> {
        let other = 1 - owner;
        wait_for(limit, || {
            self.holds(owner)
                && !self.holds(other)
                && self.reports(owner, true)
                && self.reports(other, false)
        })
        .with_context(|| {
            format!(
                "pair did not settle with {} owning the VIP within {limit:?}\n--- ha01\n{}\n--- ha02\n{}\n--- ha01 log\n{}\n--- ha02 log\n{}",
                NODES[owner].0,
                self.status(0),
                self.status(1),
                tail(&self.log(0), 30),
                tail(&self.log(1), 30)
            )
        })
    }

    /// Pings the VIP from the client every 10 ms until it answers (or `limit` passes);
    /// returns how long that took and the client's neighbour entry for the VIP then.
    pub fn client_answer(&self, limit: Duration) -> Result<(Duration, String)> {
        self.client_answer_after(Instant::now(), limit)
    }

    /// As [`Pair::client_answer`], timed from `start`.
    pub fn client_answer_after(
        &self,
        start: Instant,
        limit: Duration,
    ) -> Result<(Duration, String)> {
        self.client_answer_from(start, limit, None)
    }

    /// As [`Pair::client_answer_after`], but only an answer while the client's neighbour
    /// entry for the VIP is `mac` counts (when given).
    pub fn client_answer_from(
        &self,
        start: Instant,
        limit: Duration,
        mac: Option<String>,
    ) -> Result<(Duration, String)> {
        let vip: std::net::IpAddr = VIP.parse()?;
        let ns = self.lab.ns(CLIENT.0);
        let took = self.lab.block_in(CLIENT.0, move || async move {
            let mut p = failover::ping::Pinger::new()?;
            // With `mac`, the entry must point there before the echo is sent (so the request
            // went to that node) and still after the reply.
            let points_there = |want: &str| {
                run("ip", &["-n", &ns, "neigh", "show", VIP])
                    .map(|seen| seen.contains(want))
                    .unwrap_or(false)
            };
            while start.elapsed() < limit {
                if let Some(want) = &mac {
                    if !points_there(want) {
                        // Ask anyway: an echo to the old owner keeps the entry in use.
                        let _ = p.probe(vip, Duration::from_millis(5)).await?;
                        continue;
                    }
                }
                if p.probe(vip, Duration::from_millis(10)).await? {
                    let at = start.elapsed();
                    match &mac {
                        None => return Ok(Some(at)),
                        Some(want) if points_there(want) => return Ok(Some(at)),
                        Some(_) => {}
                    }
                }
            }
            Ok(None)
        })?;
        let took =
            took.with_context(|| format!("the VIP did not answer the client within {limit:?}"))?;
        let mac = self.lab.neigh(CLIENT.0, VIP)?.unwrap_or_default();
        Ok((took, mac))
    }

    /// The MAC of node `i`'s eth0.
    pub fn mac(&self, i: usize) -> Result<String> {
        self.lab.mac(NODES.get(i).context("node index")?.1)
    }

    /// VIP add (`true`) / delete (`false`) events seen on node `i`, in order.
    pub fn vip_events(&self, i: usize) -> Vec<(Instant, bool)> {
        let Some(m) = self.monitors.get(i) else {
            return Vec::new();
        };
        let Ok(ev) = m.events.lock() else {
            return Vec::new();
        };
        ev.iter()
            .filter(|(_, l)| l.contains(&format!("inet {VIP}/")))
            .map(|(t, l)| (*t, !l.starts_with("Deleted")))
            .collect()
    }

    /// The first VIP add (`add`) or delete event on node `i` at or after `after`.
    pub fn first_event(&self, i: usize, add: bool, after: Instant) -> Option<Instant> {
        self.vip_events(i)
            .into_iter()
            .find(|(t, a)| *a == add && *t >= after)
            .map(|(t, _)| t)
    }

    /// Waits up to `limit` for [`Pair::first_event`].
    pub fn wait_event(
        &self,
        i: usize,
        add: bool,
        after: Instant,
        limit: Duration,
    ) -> Option<Instant> {
        let mut found = None;
        wait_for(limit, || {
            found = self.first_event(i, add, after);
            found.is_some()
        });
        found
    }

    /// The longest time both nodes had the VIP at once, from the monitors' events (a node
    /// holds it from an add to the next delete). Zero when never.
    pub fn max_overlap(&self, until: Instant) -> Duration {
        let spans = |i| {
            let mut out = Vec::new();
            let mut since: Option<Instant> = None;
            for (t, add) in self.vip_events(i) {
                match (add, since) {
                    (true, None) => since = Some(t),
                    (false, Some(s)) => {
                        out.push((s, t));
                        since = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = since {
                out.push((s, until));
            }
            out
        };
        let (a, b) = (spans(0), spans(1));
        let mut worst = Duration::ZERO;
        for (s1, e1) in &a {
            for (s2, e2) in &b {
                let s = (*s1).max(*s2);
                let e = (*e1).min(*e2);
                if e > s {
                    worst = worst.max(e - s);
                }
            }
        }
        worst
    }

    /// Cuts (`true`) or restores (`false`) heartbeats to and from node `i` (nftables).
    pub fn partition(&self, i: usize, cut: bool) -> Result<()> {
        let host = NODES.get(i).context("node index")?.1;
        if cut {
            self.nft(
                host,
                "table inet hbcut {\n chain in {\n type filter hook input priority 0;\n udp dport 694 drop\n }\n\
                 chain out {\n type filter hook output priority 0;\n udp dport 694 drop\n }\n}\n",
            )
        } else {
            self.lab
                .exec(host, "nft", &["delete", "table", "inet", "hbcut"])
                .map(|_| ())
        }
    }

    /// Loads an nftables ruleset (file syntax) into `host`.
    pub fn nft(&self, host: &str, rules: &str) -> Result<()> {
        let file = self.dir.join(format!("{host}.nft"));
        std::fs::write(&file, rules)?;
        let path = file.display().to_string();
        self.lab.exec(host, "nft", &["-f", &path]).map(|_| ())
    }
}

/// Splits `[YYYY-MM-DDTHH:MM:SS.ffffff] rest` (`ip -ts`, TZ=UTC) into the time and the rest.
pub fn stamped(line: &str) -> Option<(std::time::SystemTime, &str)> {
    let rest = line.strip_prefix('[')?;
    let (ts, text) = rest.split_once("] ")?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<u64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let micros: u64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    Some((
        std::time::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros),
        text,
    ))
}

pub(crate) fn set_mode(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join("\n")
}

/// Median and maximum of `v` (sorted in place); `None` when empty.
pub fn median_max(v: &mut [Duration]) -> Option<(Duration, Duration)> {
    v.sort();
    let max = *v.last()?;
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        *v.get(mid)?
    } else {
        (*v.get(mid - 1)? + *v.get(mid)?) / 2
    };
    Some((median, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_ts_stamps() {
        let (t, rest) =
            stamped("[2026-11-25T04:42:19.177467] Deleted 1: lo    inet 192.0.2.200/32")
                .unwrap_or((std::time::UNIX_EPOCH, ""));
        assert_eq!(rest, "Deleted 1: lo    inet 192.0.2.200/32");
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // date -u -d 2026-11-25T04:42:19 +%s
        assert_eq!(d.as_secs(), 1_795_581_739);
        assert_eq!(d.subsec_micros(), 177_467);
        assert!(stamped("no stamp").is_none());
        assert!(stamped("[garbage] x").is_none());
    }
}
