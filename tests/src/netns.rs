//! Network-namespace topology for failover tests (root only), after the reference lab's
//! `peer-lab/net.sh`: a "switch" namespace with bridge `br0`, and one namespace per host
//! whose `eth0` is a veth into the bridge. Only TEST-NET-1 (192.0.2.0/24) addresses.
//!
//! Every namespace is deleted when the [`Lab`] is dropped, also when a test panics.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sched::{setns, CloneFlags};

/// Address of host `n` on the test bridge: 192.0.2.N.
pub fn host_ip(n: u8) -> String {
    format!("192.0.2.{n}")
}

/// A bridged set of namespaces; dropping it removes all of them.
pub struct Lab {
    prefix: String,
    hosts: Vec<String>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs a command, failing with its stderr.
pub fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Lab {
    /// Builds the switch and hosts `(name, last octet)`; each gets eth0 = 192.0.2.N/24.
    pub fn new(hosts: &[(&str, u8)]) -> Result<Lab> {
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("fo{}x{seq}", std::process::id());
        let mut lab = Lab {
            prefix,
            hosts: Vec::new(),
        };
        let sw = lab.ns("sw");
        run("ip", &["netns", "add", &sw])?;
        lab.hosts.push(sw.clone());
        run("ip", &["-n", &sw, "link", "set", "lo", "up"])?;
        run("ip", &["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        )?;
        run("ip", &["-n", &sw, "link", "set", "br0", "up"])?;
        for (i, (name, octet)) in hosts.iter().enumerate() {
            let ns = lab.ns(name);
            run("ip", &["netns", "add", &ns])?;
            lab.hosts.push(ns.clone());
            let port = format!("p{i}");
            run(
                "ip",
                &[
                    "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            run(
                "ip",
                &["-n", &sw, "link", "set", &port, "master", "br0", "up"],
            )?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", host_ip(*octet)),
                    "brd",
                    "+",
                    "dev",
                    "eth0",
                ],
            )?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(lab)
    }

    /// The full namespace name of host `name`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `ip -n NS ARGS…`.
    pub fn ip(&self, host: &str, args: &[&str]) -> Result<String> {
        let ns = self.ns(host);
        let mut all = vec!["-n", ns.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `ip netns exec NS CMD ARGS…`.
    pub fn exec(&self, host: &str, cmd: &str, args: &[&str]) -> Result<String> {
        let ns = self.ns(host);
        let mut all = vec!["netns", "exec", ns.as_str(), cmd];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Whether `addr` is configured on any interface of `host`.
    pub fn has_addr(&self, host: &str, addr: &str) -> Result<bool> {
        let out = self.ip(host, &["-o", "addr", "show"])?;
        Ok(out
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(addr)))
    }

    /// The MAC of `host`'s eth0.
    pub fn mac(&self, host: &str) -> Result<String> {
        let out = self.ip(host, &["-o", "link", "show", "eth0"])?;
        let mut words = out.split_whitespace();
        words
            .find(|w| *w == "link/ether")
            .and_then(|_| words.next())
            .map(str::to_string)
            .context("eth0 has no MAC")
    }

    /// The link-layer address `host` has cached for `ip`, if any.
    pub fn neigh(&self, host: &str, ip: &str) -> Result<Option<String>> {
        let out = self.ip(host, &["neigh", "show", ip])?;
        let mut words = out.split_whitespace();
        Ok(words
            .find(|w| *w == "lladdr")
            .and_then(|_| words.next())
            .map(str::to_string))
    }

    /// Sends one UDP datagram from `host` to `ip` port 9 (discard) and waits up to 2 s for
    /// `host` to resolve `ip`'s link-layer address; returns it.
    pub fn resolve(&self, host: &str, ip: &str) -> Result<String> {
        let target: std::net::IpAddr = ip.parse()?;
        self.block_in(host, move || async move {
            let bind: std::net::SocketAddr = if target.is_ipv4() {
                "0.0.0.0:0".parse()?
            } else {
                "[::]:0".parse()?
            };
            let sock = std::net::UdpSocket::bind(bind)?;
            sock.send_to(b"x", (target, 9))?;
            Ok(())
        })?;
        let mut found = None;
        wait_for(Duration::from_secs(2), || {
            found = self.neigh(host, ip).ok().flatten();
            found.is_some()
        });
        found.with_context(|| format!("{host} could not resolve {ip}"))
    }

    /// Runs `f` on a new thread that has entered `host`'s network namespace, inside a
    /// current-thread tokio runtime, and returns its join handle.
    pub fn spawn_in<F, Fut, T>(
        &self,
        host: &str,
        f: F,
    ) -> Result<std::thread::JoinHandle<Result<T>>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>>,
        T: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.ns(host));
        let file = File::open(&path).with_context(|| format!("opening {path}"))?;
        Ok(std::thread::Builder::new()
            .name(format!("ns-{host}"))
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).context("setns")?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(f())
            })?)
    }

    /// Runs `f` inside `host`'s namespace and waits for it.
    pub fn block_in<F, Fut, T>(&self, host: &str, f: F) -> Result<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>>,
        T: Send + 'static,
    {
        match self.spawn_in(host, f)?.join() {
            Ok(r) => r,
            Err(_) => bail!("thread in namespace {host} panicked"),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.hosts.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Polls `cond` every 10 ms until it is true or `limit` passes; returns the time it took.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
