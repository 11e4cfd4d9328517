//! The last step of docs/migrating-from-keepalived.md, "Switch over", end to end: a running
//! keepalived 2.2.7 pair (Debian's package, VRRP only: this kernel has no IPVS) holds a VIP on
//! its MASTER in namespaces `a` and `b`; each node's keepalived.conf goes through `director
//! import keepalived`; keepalived is stopped on both nodes, then `director run` starts on the
//! imported files, the MASTER's node first. The VIP ends on the node keepalived held it on,
//! never on both nodes at once, and the client `c` on the bridge reaches it there; then a
//! crash of that node moves it to the other, as the imported pair should.
//!
//! `cargo test -p tests --features netns --test keepalived_cutover -- --test-threads=1`
//! (skipped, with a message, when keepalived is not installed).
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![cfg(feature = "netns")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::netns::{wait_for, Lab};

const VIP: &str = "192.0.2.100";
/// (node name, namespace, own address, peer address, state, priority)
const NODES: [(&str, &str, &str, &str, &str, u8); 2] = [
    ("ha01", "a", "192.0.2.11", "192.0.2.12", "MASTER", 150),
    ("ha02", "b", "192.0.2.12", "192.0.2.11", "BACKUP", 100),
];

fn keepalived_conf(i: usize) -> String {
    let (name, _, own, peer, state, prio) = NODES[i];
    format!(
        "global_defs {{\n  router_id {name}\n}}\n\
         vrrp_instance VI_1 {{\n  state {state}\n  interface eth0\n  virtual_router_id 51\n  \
         priority {prio}\n  advert_int 1\n  unicast_src_ip {own}\n  unicast_peer {{\n    {peer}\n  }}\n  \
         authentication {{\n    auth_type PASS\n    auth_pass TestNet1\n  }}\n  \
         virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n"
    )
}

/// Every child is killed and the directory removed, whatever happens.
struct Cutover {
    lab: Lab,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Cutover {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cutover {
    fn holds(&self, i: usize) -> bool {
        self.lab.has_addr(NODES[i].1, VIP).unwrap_or(false)
    }

    fn spawn(&mut self, i: usize, program: &Path, args: &[&str], log: &str) -> Result<usize> {
        let log = std::fs::File::create(self.dir.join(log))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.lab.ns(NODES[i].1)])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.children.push(child);
        Ok(self.children.len() - 1)
    }

    /// SIGTERM, then wait (bounded) for the exit.
    fn stop(&mut self, child: usize) -> Result<()> {
        let c = &mut self.children[child];
        let pid = nix::unistd::Pid::from_raw(i32::try_from(c.id())?);
        // `ip netns exec` execs the program: the pid is the program's.
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let start = Instant::now();
        while c.try_wait()?.is_none() {
            ensure!(
                start.elapsed() < Duration::from_secs(20),
                "no exit 20 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

#[test]
fn a_keepalived_pair_cut_over_to_the_imported_files_keeps_its_vip_where_it_was() -> Result<()> {
    if !Path::new("/usr/sbin/keepalived").exists() {
        eprintln!("skipped: Debian's keepalived package is not installed");
        return Ok(());
    }
    let bin = tests::pair::director_bin()?;
    let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 13)])?;
    let dir = std::env::temp_dir().join(lab.ns("kcut"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut t = Cutover {
        lab,
        dir,
        children: Vec::new(),
    };

    // keepalived, as it runs today: VRRP only (-P), one pid file set per node.
    let mut keepalived = Vec::new();
    for (i, node) in NODES.iter().enumerate() {
        let conf = t.dir.join(format!("keepalived-{}.conf", node.0));
        std::fs::write(&conf, keepalived_conf(i))?;
        let pid = |k: &str| t.dir.join(format!("{k}-{}.pid", node.0));
        let (main_pid, vrrp_pid) = (pid("keepalived"), pid("vrrp"));
        let args = [
            "-n",
            "-l",
            "-D",
            "-P",
            "-f",
            conf.to_str().context("path")?,
            "-p",
            main_pid.to_str().context("path")?,
            "-r",
            vrrp_pid.to_str().context("path")?,
        ];
        keepalived.push(t.spawn(
            i,
            Path::new("/usr/sbin/keepalived"),
            &args,
            &format!("keepalived-{}.log", node.0),
        )?);
    }
    wait_for(Duration::from_secs(20), || t.holds(0) && !t.holds(1)).with_context(|| {
        format!(
            "keepalived's MASTER never held the VIP alone\n{}",
            t.log("keepalived-ha01.log")
        )
    })?;

    // Step 1: import each node's file (the doc's commands).
    for i in 0..2 {
        let (name, _, _, _, _, _) = NODES[i];
        let peer = NODES[1 - i].0;
        let etc = t.dir.join(name).join("etc");
        let out = Command::new(&bin)
            .args(["import", "keepalived"])
            .arg(t.dir.join(format!("keepalived-{name}.conf")))
            .arg("--out")
            .arg(&etc)
            .args(["--node", name, "--peer", peer])
            .output()?;
        ensure!(
            out.status.success(),
            "import of {name}'s file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(etc.join("nodeinfo"), format!("{name}\n"))?;
        for d in ["run", "state"] {
            std::fs::create_dir_all(t.dir.join(name).join(d))?;
        }
    }
    // Step 4: the shared files agree (the preferred node comes from the MASTER's file).
    for f in ["haresources", "authkeys"] {
        let body = |n: &str| -> Result<String> {
            let text = std::fs::read_to_string(t.dir.join(n).join("etc").join(f))?;
            Ok(text.lines().filter(|l| !l.starts_with('#')).collect())
        };
        ensure!(
            body("ha01")? == body("ha02")?,
            "{f} differs between the nodes"
        );
    }

    // Watch the VIP on both nodes from here on: never on both.
    let both = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (both, done) = (both.clone(), done.clone());
        let ns: Vec<String> = NODES.iter().map(|n| t.lab.ns(n.1)).collect();
        std::thread::spawn(move || {
            let has = |ns: &str| {
                Command::new("ip")
                    .args(["-n", ns, "-4", "addr", "show", "dev", "eth0"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{VIP}/")))
                    .unwrap_or(false)
            };
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                if has(&ns[0]) && has(&ns[1]) {
                    both.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // Step 5: stop keepalived on both nodes (it removes the VIP), then start director, the
    // MASTER's node first.
    let cut = Instant::now();
    for k in keepalived {
        t.stop(k)?;
    }
    ensure!(!t.holds(0) && !t.holds(1), "keepalived left the VIP behind");
    let mut directors = Vec::new();
    for (i, n) in NODES.iter().enumerate() {
        let node = t.dir.join(n.0);
        let (etc, run, state) = (node.join("etc"), node.join("run"), node.join("state"));
        let args = [
            "run",
            "--config-dir",
            etc.to_str().context("path")?,
            "--run-dir",
            run.to_str().context("path")?,
            "--state-dir",
            state.to_str().context("path")?,
            "--metrics",
            "off",
            "--fence",
            "exit",
        ];
        directors.push(t.spawn(i, &bin, &args, &format!("director-{}.log", n.0))?);
    }
    let took =
        wait_for(Duration::from_secs(30), || t.holds(0) && !t.holds(1)).with_context(|| {
            format!(
                "the VIP is not on ha01 alone after the cut-over\n{}\n{}",
                t.log("director-ha01.log"),
                t.log("director-ha02.log")
            )
        })?;
    eprintln!(
        "VIP back on ha01 {:?} after keepalived was stopped ({took:?} after director started)",
        cut.elapsed()
    );
    // The client reaches it there.
    let mac_a = t.lab.mac("a")?;
    let seen = wait_for(Duration::from_secs(10), || {
        let _ = t
            .lab
            .exec("c", "ping", &["-c", "1", "-W", "1", VIP])
            .is_ok();
        t.lab
            .neigh("c", VIP)
            .ok()
            .flatten()
            .is_some_and(|m| m.eq_ignore_ascii_case(&mac_a))
    });
    ensure!(seen.is_some(), "the client does not reach the VIP at ha01");
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    ensure!(
        !both.load(Ordering::SeqCst),
        "the VIP was on both nodes at once during the cut-over"
    );
    // The imported pair fails over: ha01 crashes (director killed, link down).
    let crashed = directors[0];
    t.children[crashed].kill()?;
    t.children[crashed].wait()?;
    t.lab.ip("a", &["link", "set", "eth0", "down"])?;
    let _ = t
        .lab
        .ip("a", &["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
    wait_for(Duration::from_secs(15), || t.holds(1))
        .with_context(|| format!("ha02 never took the VIP\n{}", t.log("director-ha02.log")))?;
    Ok(())
}
