//! The loop in-process: two nodes joined by memory links, a fake [`Vip`], paused time.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::config::{build_resources, script_env};
use super::handle::{open_watchdog, Command, Input};
use super::run::{run, Clients, Link, LoopParts, Tracks};
use super::status::{configured_links, initial_status};
use super::track::Notifier;
use super::{NodeConfig, NodeExit, NodeOptions, NodeStatus, SelfFence};
use crate::config::authkeys::{AuthKeys, AuthMethod};
use crate::config::settings::Settings;
use crate::config::{hacf, haresources};
use crate::fsm::Fsm;
use crate::packet::{Encoder, Receiver};
use crate::packet::{Kind, Message, Payload, Phase};
use crate::peer::{Medium, Received};
use crate::resources::NativeResource;
use crate::vip::{Placement, Vip, VipError, VipSpec};
use std::sync::atomic::{AtomicBool, Ordering};

/// A [`Vip`] that records what is up.
#[derive(Default)]
struct FakeVip {
    up: Mutex<Vec<IpAddr>>,
    adds: std::sync::atomic::AtomicUsize,
}

impl Vip for FakeVip {
    async fn add(&self, s: &VipSpec) -> Result<Placement, VipError> {
        self.adds.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut up) = self.up.lock() {
            if !up.contains(&s.addr) {
                up.push(s.addr);
            }
        }
        Ok(Placement {
            index: 1,
            ifname: "eth0".into(),
            prefix: 24,
            label: None,
        })
    }
    async fn remove(&self, s: &VipSpec) -> Result<(), VipError> {
        if let Ok(mut up) = self.up.lock() {
            up.retain(|a| *a != s.addr);
        }
        Ok(())
    }
    async fn is_present(&self, s: &VipSpec) -> Result<bool, VipError> {
        Ok(self.up.lock().map(|u| u.contains(&s.addr)).unwrap_or(false))
    }
}

impl FakeVip {
    fn holds(&self) -> bool {
        self.up.lock().map(|u| !u.is_empty()).unwrap_or(false)
    }
}

/// An in-memory medium to the other node; `cut` drops everything sent.
struct MemLink {
    to: mpsc::UnboundedSender<Received>,
    rx: mpsc::UnboundedReceiver<Received>,
    cut: Arc<AtomicBool>,
    from: SocketAddr,
}

impl Link for MemLink {
    async fn send(&self, data: &[u8]) -> usize {
        if self.cut.load(Ordering::SeqCst) {
            return 0;
        }
        let _ = self.to.send(Received {
            data: data.to_vec(),
            iface: "eth0".into(),
            from: self.from,
        });
        1
    }
    async fn recv(&mut self) -> Option<Received> {
        self.rx.recv().await
    }
}

fn keys() -> AuthKeys {
    AuthKeys::single(1, AuthMethod::Sha1(b"TestNetOnlySecret".to_vec()))
}

fn config(dir: &Path, local: &str, af: &str) -> NodeConfig {
    let hacf = hacf::parse(
        Path::new("ha.cf"),
        &format!(
            "keepalive 20ms\ndeadtime 80ms\nwarntime 60ms\ninitdead 300ms\n\
             ucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nauto_failback {af}\n\
             node ha01\nnode ha02\n"
        ),
    )
    .map(|p| p.value)
    .unwrap_or_default();
    let haresources = haresources::parse(
        Path::new("haresources"),
        "ha01 IPaddr::192.0.2.100/24/eth0\n",
    )
    .map(|p| p.value)
    .unwrap_or_default();
    NodeConfig {
        config_dir: dir.to_path_buf(),
        state_dir: dir.join("state"),
        hacf,
        authkeys: keys(),
        haresources,
        settings: Settings::default(),
        node_name: local.into(),
        natives: Vec::new(),
        options: NodeOptions {
            boot_root: None,
            // Never the default (reboot) in a test.
            fence: SelfFence::Exit,
            ..NodeOptions::default()
        },
    }
}

struct Running {
    vip: Arc<FakeVip>,
    tx: mpsc::UnboundedSender<Input>,
    status: Arc<Mutex<NodeStatus>>,
    task: tokio::task::JoinHandle<NodeExit>,
}

impl Running {
    fn status(&self) -> NodeStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

fn spawn_node(cfg: &NodeConfig, generation: u64, link: MemLink) -> Running {
    let vip = Arc::new(FakeVip::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(initial_status(cfg, generation)));
    let parts = LoopParts {
        fsm: Fsm::new(cfg.fsm_config()),
        heartbeat: None,
        encoder: Encoder::new(cfg.node_name.clone(), generation),
        receiver: Receiver::new(
            &cfg.node_name,
            cfg.hacf.nodes.clone(),
            cfg.authkeys.clone(),
            rand::random(),
        ),
        keys: cfg.authkeys.clone(),
        groups: cfg.groups(),
        fence: cfg.options.fence.clone(),
        stonith: cfg.options.stonith.clone(),
        watchdog: open_watchdog(cfg),
        links: configured_links(&cfg.hacf),
        sources: crate::sources::OnLink::new(
            &cfg.hacf
                .media
                .iter()
                .filter_map(|m| Medium::from_config(m).ok())
                .collect::<Vec<_>>(),
        ),
        clients: Clients::new(cfg),
        tracks: Tracks {
            specs: cfg.settings.tracks.clone(),
            links: None,
            env: Vec::new(),
        },
        notifier: Notifier::new(
            cfg.settings.notify.clone(),
            Vec::new(),
            &tokio::runtime::Handle::current(),
        ),
        status: status.clone(),
        cfg: cfg.clone(),
        ping: None,
        shared: crate::shared::SharedBook::default(),
        peer_shared: tokio::sync::watch::channel(None).0,
    };
    let resources = Arc::new(build_resources(cfg, vip.clone()));
    let task = tokio::spawn(run(
        parts,
        link,
        resources,
        tokio::runtime::Handle::current(),
        tx.clone(),
        rx,
    ));
    Running {
        vip,
        tx,
        status,
        task,
    }
}

/// Two nodes joined by memory links; `cut` partitions them.
fn pair(
    af: &str,
    dir: &Path,
) -> (
    Running,
    Running,
    Arc<AtomicBool>,
    mpsc::UnboundedSender<Received>,
) {
    pair_with(af, dir, |_| {})
}

/// As [`pair`], with `tweak` applied to ha01's configuration.
fn pair_with(
    af: &str,
    dir: &Path,
    tweak: impl FnOnce(&mut NodeConfig),
) -> (
    Running,
    Running,
    Arc<AtomicBool>,
    mpsc::UnboundedSender<Received>,
) {
    let mut ca = config(dir, "ha01", af);
    tweak(&mut ca);
    let (to_a, rx_a) = mpsc::unbounded_channel();
    let (to_b, rx_b) = mpsc::unbounded_channel();
    let cut = Arc::new(AtomicBool::new(false));
    let a_addr: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let b_addr: SocketAddr = "192.0.2.12:694".parse().unwrap_or_else(|_| unreachable!());
    let a = spawn_node(
        &ca,
        10,
        MemLink {
            to: to_b.clone(),
            rx: rx_a,
            cut: cut.clone(),
            from: a_addr,
        },
    );
    let b = spawn_node(
        &config(dir, "ha02", af),
        20,
        MemLink {
            to: to_a,
            rx: rx_b,
            cut: cut.clone(),
            from: b_addr,
        },
    );
    (a, b, cut, to_b)
}

async fn settle(ms: u64) {
    // Paused time: sleeping lets every timer and task run in order.
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn pair_settles_crash_takes_over_and_fails_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, _cut, _) = pair("on", dir.path());
    settle(500).await;
    assert!(a.vip.holds() && !b.vip.holds());
    assert!(a.status().holds("IPaddr::192.0.2.100/24/eth0"));
    assert_eq!(
        (a.status().role(), b.status().role()),
        ("active", "standby")
    );
    assert_eq!(b.status().peer.map(|p| p.life), Some("alive"));
    // ha01 dies: ha02 takes over after deadtime (80 ms), not before.
    a.task.abort();
    settle(60).await;
    assert!(!b.vip.holds(), "took over before deadtime");
    settle(60).await;
    assert!(b.vip.holds(), "no takeover after deadtime");
    assert!(b
        .status()
        .transitions
        .iter()
        .any(|t| t.what == "peer ha01: alive -> dead"));
}

/// Heartbeat starts its `respawn` clients when communication comes up (`comm_now_up()`:
/// here, the peer heard or initdead passed), not when the daemon starts, and stops them
/// when it ends.
#[tokio::test]
async fn respawn_clients_start_when_the_node_joins_and_stop_with_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pids = dir.path().join("pids");
    let client = dir.path().join("client");
    std::fs::write(
        &client,
        format!("#!/bin/sh\necho $$ >> {}\nexec sleep 60\n", pids.display()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".to_string(), |u| u.name);
    let mut cfg = config(dir.path(), "ha01", "on");
    cfg.hacf.initdead = Duration::from_millis(800);
    cfg.hacf.respawn.push(hacf::Respawn {
        user: me,
        command: client.display().to_string(),
        program: client.clone(),
        line: 1,
    });
    let (to_b, _rx_b) = mpsc::unbounded_channel();
    let (_to_a, rx_a) = mpsc::unbounded_channel();
    let a = spawn_node(
        &cfg,
        10,
        MemLink {
            to: to_b,
            rx: rx_a,
            cut: Arc::new(AtomicBool::new(false)),
            from: "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!()),
        },
    );
    // Alone, the peer never heard: nothing is started before initdead.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !pids.exists(),
        "respawn client started before the node joined"
    );
    let mut pid = None;
    for _ in 0..500 {
        pid = std::fs::read_to_string(&pids)
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
        if pid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = nix::unistd::Pid::from_raw(pid.unwrap_or_else(|| panic!("never started")));
    assert_eq!(a.status().role(), "active");
    let _ = a.tx.send(Input::Command(Command::Stop));
    let exit = tokio::time::timeout(Duration::from_secs(10), a.task)
        .await
        .unwrap_or_else(|_| panic!("the node did not stop"));
    assert!(matches!(exit, Ok(NodeExit::Stopped)), "{exit:?}");
    // The client is gone (reaped by its supervisor) once the node has ended.
    assert!(
        nix::sys::signal::kill(pid, None).is_err(),
        "the respawn client outlived the node"
    );
    assert_eq!(
        std::fs::read_to_string(&pids)
            .map(|s| s.lines().count())
            .ok(),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn status_lists_configured_links_at_once_and_the_peers_role() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (to_a, rx_a) = mpsc::unbounded_channel();
    let cut = Arc::new(AtomicBool::new(true));
    let a_addr: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let b_addr: SocketAddr = "192.0.2.12:694".parse().unwrap_or_else(|_| unreachable!());
    let (to_b, rx_b) = mpsc::unbounded_channel();
    // ha01 alone first: nothing heard, the link is listed anyway.
    let a = spawn_node(
        &config(dir.path(), "ha01", "on"),
        10,
        MemLink {
            to: to_b,
            rx: rx_a,
            cut: cut.clone(),
            from: a_addr,
        },
    );
    settle(50).await;
    let s = a.status();
    assert_eq!(s.links.len(), 1, "{:?}", s.links);
    let l = &s.links[0];
    assert_eq!(
        (l.iface.as_str(), l.medium.as_str()),
        ("eth0", "ucast eth0")
    );
    assert_eq!((l.state(), l.from, l.last_heard), ("unknown", None, None));
    assert_eq!(s.peer.as_ref().map(|p| p.role), Some(None));
    cut.store(false, Ordering::SeqCst);
    let b = spawn_node(
        &config(dir.path(), "ha02", "on"),
        20,
        MemLink {
            to: to_a,
            rx: rx_b,
            cut: cut.clone(),
            from: b_addr,
        },
    );
    settle(500).await;
    let (sa, sb) = (a.status(), b.status());
    assert_eq!(sa.links[0].state(), "up");
    assert_eq!(sa.links[0].from, Some(b_addr));
    assert_eq!(sa.role(), "active");
    assert_eq!(sa.peer.as_ref().and_then(|p| p.role), Some("standby"));
    assert_eq!(sb.peer.as_ref().and_then(|p| p.role), Some("active"));
    // Silent peer: the link goes dead, the peer has no role.
    cut.store(true, Ordering::SeqCst);
    settle(200).await;
    let sb = b.status();
    assert_eq!(sb.links[0].state(), "dead");
    assert_eq!(sb.peer.as_ref().and_then(|p| p.role), None);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_flow_while_a_group_is_acquired_slowly() {
    // A native resource that takes 1 s to start: the peer must not think us dead.
    struct Slow;
    impl NativeResource for Slow {
        fn run<'a>(
            &'a self,
            _args: &'a [String],
            op: crate::resources::Op,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
            Box::pin(async move {
                match op {
                    crate::resources::Op::Status => Ok(false),
                    _ => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Ok(true)
                    }
                }
            })
        }
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (to_a, rx_a) = mpsc::unbounded_channel();
    let (to_b, rx_b) = mpsc::unbounded_channel();
    let cut = Arc::new(AtomicBool::new(false));
    let mut ca = config(dir.path(), "ha01", "on");
    let mut cb = config(dir.path(), "ha02", "on");
    for c in [&mut ca, &mut cb] {
        c.haresources = haresources::parse(Path::new("haresources"), "ha01 slow\n")
            .map(|p| p.value)
            .unwrap_or_default();
        c.natives.push(("slow".into(), Arc::new(Slow)));
    }
    let addr: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let a = spawn_node(
        &ca,
        1,
        MemLink {
            to: to_b,
            rx: rx_a,
            cut: cut.clone(),
            from: addr,
        },
    );
    let b = spawn_node(
        &cb,
        1,
        MemLink {
            to: to_a,
            rx: rx_b,
            cut,
            from: addr,
        },
    );
    settle(600).await;
    assert_eq!(
        a.status().groups.first().map(|g| g.local),
        Some("acquiring")
    );
    assert_eq!(b.status().peer.map(|p| p.life), Some("alive"));
    settle(600).await;
    assert_eq!(a.status().groups.first().map(|g| g.local), Some("active"));
    assert!(!b
        .status()
        .transitions
        .iter()
        .any(|t| t.what.contains("dead")));
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_hands_over_and_exits() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, _cut, _) = pair("on", dir.path());
    settle(500).await;
    assert!(a.vip.holds());
    let _ = a.tx.send(Input::Command(Command::Stop));
    settle(30).await;
    // No deadtime wait: the leave notice lets ha02 take over at once.
    assert!(!a.vip.holds() && b.vip.holds());
    assert_eq!(a.task.await.ok(), Some(NodeExit::Stopped));
    assert_eq!(b.status().peer.map(|p| p.life), Some("gone"));
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_is_written_every_keepalive_and_disarmed_on_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wd = dir.path().join("watchdog");
    let _ = std::fs::write(&wd, "");
    let path = wd.clone();
    let (a, _b, _cut, _) = pair_with("on", dir.path(), |c| c.hacf.watchdog = Some(path));
    settle(500).await;
    let n = std::fs::read(&wd).unwrap_or_default().len();
    // keepalive 20 ms: about 25 heartbeats in 500 ms, plus those sent on changes.
    assert!(n >= 20, "{n} writes in 500 ms");
    settle(100).await;
    let m = std::fs::read(&wd).unwrap_or_default();
    assert!(m.len() >= n + 4 && m.iter().all(|b| *b == 0), "{m:?}");
    let _ = a.tx.send(Input::Command(Command::Stop));
    assert_eq!(a.task.await.ok(), Some(NodeExit::Stopped));
    assert_eq!(std::fs::read(&wd).unwrap_or_default().last(), Some(&b'V'));
}

#[tokio::test(start_paused = true)]
async fn standby_and_takeover_commands() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, _cut, _) = pair("on", dir.path());
    settle(500).await;
    let _ = a.tx.send(Input::Command(Command::Standby));
    settle(100).await;
    assert!(!a.vip.holds() && b.vip.holds());
    assert!(a.status().standby);
    let _ = a.tx.send(Input::Command(Command::Takeover));
    settle(100).await;
    assert!(a.vip.holds() && !b.vip.holds());
}

#[tokio::test(start_paused = true)]
async fn partition_heal_keeps_the_preferred_owner() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, cut, _) = pair("off", dir.path());
    settle(500).await;
    cut.store(true, Ordering::SeqCst);
    settle(300).await;
    assert!(
        a.vip.holds() && b.vip.holds(),
        "split brain expected while cut"
    );
    let adds = a.vip.adds.load(Ordering::SeqCst);
    cut.store(false, Ordering::SeqCst);
    // Check often that the winner never lets go.
    for _ in 0..30 {
        settle(10).await;
        assert!(a.vip.holds(), "the winner dropped the VIP");
    }
    assert!(!b.vip.holds());
    // Once ha02 gave it up, ha01 announced it again (clients followed ha02's ARP).
    assert_eq!(a.vip.adds.load(Ordering::SeqCst), adds + 1);
}

/// The hardening issue's attack: ha02's takeover request, captured on the link, replayed
/// while ha01 restarts with ha02 down. ha01 must not believe it (no "Link ha02 up", no
/// operator standby) and, ha02 being dead, must take its VIP after initdead.
#[tokio::test(start_paused = true)]
async fn a_takeover_captured_before_a_restart_is_not_believed_after_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (to_a, rx_a) = mpsc::unbounded_channel();
    let (to_tap, mut tap) = mpsc::unbounded_channel::<Received>();
    let (to_b, rx_b) = mpsc::unbounded_channel();
    let cut = Arc::new(AtomicBool::new(false));
    let a_addr: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let b_addr: SocketAddr = "192.0.2.12:694".parse().unwrap_or_else(|_| unreachable!());
    let a = spawn_node(
        &config(dir.path(), "ha01", "on"),
        10,
        MemLink {
            to: to_b,
            rx: rx_a,
            cut: cut.clone(),
            from: a_addr,
        },
    );
    // ha02's packets pass a tap (the attacker's capture) on their way to ha01.
    let b = spawn_node(
        &config(dir.path(), "ha02", "on"),
        20,
        MemLink {
            to: to_tap,
            rx: rx_b,
            cut: cut.clone(),
            from: b_addr,
        },
    );
    let captured = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let (keep, forward) = (captured.clone(), to_a.clone());
    tokio::spawn(async move {
        while let Some(r) = tap.recv().await {
            let takeover = crate::packet::parse(&r.data, &keys())
                .is_ok_and(|m| m.payload.kind == Kind::Takeover);
            if takeover {
                keep.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(r.data.clone());
            }
            let _ = forward.send(r);
        }
    });
    settle(500).await;
    assert!(a.vip.holds());
    let _ = b.tx.send(Input::Command(Command::Takeover));
    settle(300).await;
    assert!(
        b.vip.holds() && !a.vip.holds(),
        "the operator's takeover worked"
    );
    let takeover = captured
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no takeover packet captured"));
    // Both go down; ha02 stays down. ha01 restarts (a fresh machine: no VIP, new
    // generation) while the captured takeover is replayed at it every 20 ms.
    a.task.abort();
    b.task.abort();
    let (to_a2, rx_a2) = mpsc::unbounded_channel();
    let (to_nowhere, _nowhere) = mpsc::unbounded_channel();
    let a2 = spawn_node(
        &config(dir.path(), "ha01", "on"),
        11,
        MemLink {
            to: to_nowhere,
            rx: rx_a2,
            cut: Arc::new(AtomicBool::new(false)),
            from: a_addr,
        },
    );
    // From the attacker's own address, and spoofing ha02's.
    let attacker: SocketAddr = "192.0.2.66:694".parse().unwrap_or_else(|_| unreachable!());
    for i in 0..50 {
        let from = if i % 2 == 0 { attacker } else { b_addr };
        let _ = to_a2.send(Received {
            data: takeover.clone(),
            iface: "eth0".into(),
            from,
        });
        settle(20).await;
        let s = a2.status();
        assert!(
            !s.standby,
            "the replayed takeover put ha01 in operator standby"
        );
        assert_ne!(
            s.peer.map(|p| p.life),
            Some("alive"),
            "the replay made ha02 look alive"
        );
    }
    // initdead (300 ms) has long passed with ha02 silent: ha01 holds its VIP.
    assert!(
        a2.vip.holds(),
        "ha01 did not take its VIP back: {:?}",
        a2.status()
    );
    let rejected = a2.status().rejected;
    assert_eq!(rejected.get("source"), Some(&25), "{rejected:?}");
    assert_eq!(rejected.get("unverified"), Some(&25), "{rejected:?}");
}

#[tokio::test(start_paused = true)]
async fn forged_and_replayed_packets_are_counted_not_believed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, _cut, to_b) = pair("on", dir.path());
    settle(500).await;
    // Spoofing ha01's address (the media allow it): each check below is what refuses.
    let from: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let leave = |generation, seq, keys: &AuthKeys| {
        let msg = Message {
            node: "ha01".into(),
            generation,
            seq,
            timestamp_ms: 0,
            nonce: 0,
            echo: 0,
            auth_index: 1,
            payload: Payload {
                kind: Kind::Leaving,
                phase: Phase::Stopping,
                standby: false,
                deadtime_ms: 80,
                ping_reachable: 0,
                track_fault: 0,
                config_digest: 0,
                groups: Vec::new(),
                shared: None,
            },
        };
        crate::packet::emit(&msg, keys).unwrap_or_default()
    };
    let wrong = AuthKeys::single(1, AuthMethod::Sha1(b"guess".to_vec()));
    for seq in 1..=5 {
        let _ = to_b.send(Received {
            data: leave(10, 1000 + seq, &wrong),
            iface: "eth0".into(),
            from,
        });
    }
    // Correct key, but an old generation (ha01 runs generation 10).
    let _ = to_b.send(Received {
        data: leave(9, 1, &keys()),
        iface: "eth0".into(),
        from,
    });
    // Correct key, current generation, an already used sequence number (after 2 s at
    // keepalive 20 ms, seq 1 is far behind the window: refused as a replay before its
    // echo is even looked at).
    settle(2_000).await;
    let _ = to_b.send(Received {
        data: leave(10, 1, &keys()),
        iface: "eth0".into(),
        from,
    });
    // The real ha01's packet, from an address the media do not allow.
    let _ = to_b.send(Received {
        data: leave(10, 1_000_000, &keys()),
        iface: "eth0".into(),
        from: "192.0.2.13:694".parse().unwrap_or_else(|_| unreachable!()),
    });
    settle(200).await;
    let s = b.status();
    assert_eq!(s.rejected.get("source"), Some(&1));
    assert_eq!(s.rejected.get("bad_auth"), Some(&5));
    assert_eq!(s.rejected.get("old_generation"), Some(&1));
    assert_eq!(s.rejected.get("replay"), Some(&1));
    assert_eq!(s.peer.map(|p| p.life), Some("alive"));
    assert!(a.vip.holds() && !b.vip.holds());
}

#[tokio::test(start_paused = true)]
async fn a_resource_that_will_not_stop_fences_the_node() {
    // Starts fine, never stops: standby makes ha01 release it, which fails every time.
    #[derive(Default)]
    struct Stuck {
        up: AtomicBool,
    }
    impl NativeResource for Stuck {
        fn run<'a>(
            &'a self,
            _args: &'a [String],
            op: crate::resources::Op,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
            Box::pin(async move {
                match op {
                    crate::resources::Op::Start => {
                        self.up.store(true, Ordering::SeqCst);
                        Ok(true)
                    }
                    crate::resources::Op::Status => Ok(self.up.load(Ordering::SeqCst)),
                    crate::resources::Op::Stop => Err("device busy".to_string()),
                }
            })
        }
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (to_a, rx_a) = mpsc::unbounded_channel();
    let (to_b, rx_b) = mpsc::unbounded_channel();
    let cut = Arc::new(AtomicBool::new(false));
    let mut ca = config(dir.path(), "ha01", "on");
    let mut cb = config(dir.path(), "ha02", "on");
    // The fenced node leaves its watchdog armed (the machine resets).
    let wd = dir.path().join("watchdog");
    let _ = std::fs::write(&wd, "");
    ca.hacf.watchdog = Some(wd.clone());
    for c in [&mut ca, &mut cb] {
        c.haresources = haresources::parse(Path::new("haresources"), "ha01 stuck\n")
            .map(|p| p.value)
            .unwrap_or_default();
        c.natives.push(("stuck".into(), Arc::new(Stuck::default())));
        c.options.stop_retries = 3;
        c.options.stop_retry_interval = Duration::from_millis(100);
    }
    let addr: SocketAddr = "192.0.2.11:694".parse().unwrap_or_else(|_| unreachable!());
    let a = spawn_node(
        &ca,
        1,
        MemLink {
            to: to_b,
            rx: rx_a,
            cut: cut.clone(),
            from: addr,
        },
    );
    let b = spawn_node(
        &cb,
        1,
        MemLink {
            to: to_a,
            rx: rx_b,
            cut,
            from: addr,
        },
    );
    settle(500).await;
    assert_eq!(a.status().groups.first().map(|g| g.local), Some("active"));
    let _ = a.tx.send(Input::Command(Command::Standby));
    settle(1000).await;
    assert!(a.task.is_finished(), "not fenced after 3 failed stops");
    assert_eq!(a.task.await.ok(), Some(NodeExit::Fenced));
    let written = std::fs::read(&wd).unwrap_or_default();
    assert!(
        !written.is_empty() && !written.contains(&b'V'),
        "{written:?}"
    );
    // Silent now: the peer declares it dead (and may take over: the stuck resource is
    // exactly why Heartbeat reboots instead).
    settle(200).await;
    assert_eq!(b.status().peer.map(|p| p.life), Some("dead"));
}

#[test]
fn scripts_get_heartbeats_log_settings() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = config(dir.path(), "ha01", "on");
    let env = |cfg: &NodeConfig| script_env(cfg).environment();
    let names: Vec<String> = env(&cfg).into_iter().map(|(k, _)| k).collect();
    for absent in ["HA_LOGFILE", "HA_DEBUGLOG", "HA_LOGFACILITY", "HA_debug"] {
        assert!(
            !names.iter().any(|n| n == absent),
            "{absent} without ha.cf setting"
        );
    }
    cfg.hacf.logfile = Some("/var/log/ha-log".into());
    cfg.hacf.debugfile = Some("/var/log/ha-debug".into());
    cfg.hacf.logfacility = Some("local0".into());
    cfg.hacf.debug = 2;
    let e = env(&cfg);
    for (k, v) in [
        ("HA_LOGFILE", "/var/log/ha-log"),
        ("HA_DEBUGLOG", "/var/log/ha-debug"),
        ("HA_LOGFACILITY", "local0"),
        ("HA_debug", "2"),
        ("HA_CURHOST", "ha01"),
    ] {
        assert!(
            e.iter().any(|(a, b)| a == k && b == v),
            "{k}={v} missing: {e:?}"
        );
    }
}

/// A reload through the loop: the new group's resources are found for its new slot and it
/// starts on its preferred node once both nodes have it; the group that did not change is
/// never touched; a removed one is released.
#[tokio::test(start_paused = true)]
async fn a_reload_adds_and_removes_groups_and_leaves_the_rest_alone() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, _cut, _) = pair("on", dir.path());
    settle(500).await;
    let vip100: IpAddr = "192.0.2.100".parse().unwrap_or_else(|_| unreachable!());
    let vip101: IpAddr = "192.0.2.101".parse().unwrap_or_else(|_| unreachable!());
    let up = |r: &Running| r.vip.up.lock().map(|u| u.clone()).unwrap_or_default();
    assert_eq!(up(&a), [vip100]);
    let adds = a.vip.adds.load(Ordering::SeqCst);
    let reloaded = |local: &str, text: &str| {
        let mut c = config(dir.path(), local, "on");
        c.haresources = haresources::parse(Path::new("haresources"), text)
            .map(|p| p.value)
            .unwrap_or_default();
        c.hacf.deadtime = Duration::from_millis(160);
        Box::new(c)
    };
    let two = "ha01 IPaddr::192.0.2.100/24/eth0\nha02 IPaddr::192.0.2.101/24/eth0\n";
    let _ = a.tx.send(Input::Reconfigure(reloaded("ha01", two)));
    let _ = b.tx.send(Input::Reconfigure(reloaded("ha02", two)));
    settle(300).await;
    assert_eq!(up(&a), [vip100]);
    assert_eq!(up(&b), [vip101]);
    assert_eq!(
        a.vip.adds.load(Ordering::SeqCst),
        adds,
        "the unchanged group moved"
    );
    assert_eq!(
        b.status()
            .groups
            .iter()
            .map(|g| g.key.clone())
            .collect::<Vec<_>>(),
        ["IPaddr::192.0.2.100/24/eth0", "IPaddr::192.0.2.101/24/eth0"]
    );
    let one = "ha01 IPaddr::192.0.2.100/24/eth0\n";
    let _ = b.tx.send(Input::Reconfigure(reloaded("ha02", one)));
    settle(300).await;
    assert!(up(&b).is_empty(), "the removed group still runs");
    assert_eq!(up(&a), [vip100]);
    assert_eq!(b.status().groups.len(), 1);
}

/// What a reload applies, what waits for a restart, and what runs afterwards.
#[test]
fn a_reload_plan_names_what_applies_and_what_needs_a_restart() {
    use super::reload::{merge, plan};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let running = config(dir.path(), "ha01", "on");
    assert_eq!(plan(&running, &running), super::ReloadPlan::default());
    let mut new = running.clone();
    new.hacf.deadtime = Duration::from_secs(5);
    new.hacf.udpport = 695;
    new.haresources = haresources::parse(
        Path::new("haresources"),
        "ha01 IPaddr::192.0.2.100/24/eth0\nha02 IPaddr::192.0.2.101/24/eth0\n",
    )
    .map(|p| p.value)
    .unwrap_or_default();
    new.settings.sync.enabled = false;
    new.settings.drain.on_removal = true;
    let p = plan(&running, &new);
    assert_eq!(
        p.applied,
        [
            "ha.cf: deadtime applied",
            "haresources: added, started where they belong once both nodes have them: \
             IPaddr::192.0.2.101/24/eth0",
            "director.conf: [drain] applied"
        ]
    );
    assert_eq!(p.restart.len(), 2, "{:?}", p.restart);
    assert!(p.restart[0].starts_with("ha.cf: udpport changed: restart director"));
    assert!(p.restart[1].starts_with("director.conf: [sync] changed"));
    // What runs: the deadtime and the groups, not the port nor the sync setting; the next
    // reload of the same files still says the port waits for a restart.
    let next = merge(&running, &new);
    assert_eq!(next.hacf.deadtime, Duration::from_secs(5));
    assert_eq!(next.hacf.udpport, running.hacf.udpport);
    assert_eq!(next.haresources.groups.len(), 2);
    assert!(next.settings.sync.enabled);
    assert!(
        next.settings.drain.on_removal,
        "[drain] is the director's own: it applies"
    );
    let again = plan(&next, &new);
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert_eq!(again.restart, p.restart);
    // With a Heartbeat peer nothing but the keys and the director's own [drain] applies.
    let mut hb = running.clone();
    hb.settings.peer.protocol = crate::config::settings::Protocol::Heartbeat;
    let mut hb_new = new.clone();
    hb_new.settings.peer.protocol = crate::config::settings::Protocol::Heartbeat;
    let p = plan(&hb, &hb_new);
    assert_eq!(p.applied, ["director.conf: [drain] applied"]);
    assert!(
        p.restart[0].contains("speaks Heartbeat's protocol"),
        "{:?}",
        p.restart
    );
    assert_eq!(merge(&hb, &hb_new).haresources.groups.len(), 1);
}
