//! Pair mode (`ha.cf` in the configuration directory): the failover node does Heartbeat's job
//! and `ldirectord::NAME` resources are the integrated director.
//!
//! The ldirectord files named in haresources run on **both** nodes from the start: their
//! health checks and IPVS tables are warm on the standby too (an IPVS service without its
//! VIP receives no traffic), so a takeover only moves addresses. The `ldirectord` resource
//! itself marks which node is active for that file. Both nodes run both IPVS sync daemons
//! (master and backup); the node holding the group hands its whole table over when the peer
//! joins and when it gives the group up, and a node taking the group from a live peer waits,
//! bounded, until its kernel holds what was handed over ([`super::catchup`]): established
//! connections survive a failover and the failback. See docs/protocol.md.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use failover::config::haresources::Haresources;
use failover::resources::{NativeResource, Op, Takeover};

use crate::config::{locate, DEFAULT_NAME};
use crate::ipvs::{IpvsError, SyncDaemon, SyncState};
pub use crate::pair::{ldirectord_names, plan_reload, PairReload, SyncPlan};

use tokio::sync::watch;

use super::catchup::{kernel_conns, Catchup, Outcome};
use super::lvs::{Kernel, Progress};

/// The files a running pair node runs with: what a reload compares with.
pub struct PairFiles {
    pub stonith_command: Option<Vec<String>>,
    /// `ha.cf`, `authkeys`, `haresources` and `director.conf` as they run (a change that
    /// waits for a restart is not in it).
    pub running: failover::node::NodeConfig,
    /// How ldirectord files named by a reloaded haresources are started (`None`: the pair
    /// runs no `ldirectord` resource, so no IPVS).
    pub lvs: Option<PairLvs>,
}

/// What starting an ldirectord file at a reload needs.
pub struct PairLvs {
    pub native: Arc<LdirectordResource>,
    pub kernel: Kernel,
    pub options: super::lvs::LvsOptions,
}

impl PairFiles {
    /// Reads the four files again, as at start (authkeys' owner and mode included). Valid
    /// files: what the running node can apply is handed to it ([`plan_reload`]), ldirectord
    /// files haresources now names are started in `set` first (their tables before their
    /// groups' addresses) and those it no longer names stopped after; the rest is reported
    /// as needing a restart. Invalid files (a new ldirectord file included): nothing is
    /// applied and every problem is reported.
    pub async fn reload(
        &mut self,
        node: &failover::node::NodeHandle,
        set: &mut super::LvsSet,
    ) -> PairReload {
        let dir = self.running.config_dir.clone();
        let mut errors = Vec::new();
        if let Err(e) = failover::node::check_authkeys(&dir.join("authkeys")) {
            errors.extend(e.to_string().lines().map(str::to_string));
        }
        let new = match failover::node::NodeConfig::load_with(
            &dir,
            &self.running.state_dir,
            self.stonith_command.clone(),
        ) {
            Err(e) => {
                errors.extend(e.to_string().lines().map(str::to_string));
                None
            }
            Ok(cfg) => Some(cfg),
        };
        let new = match new {
            Some(cfg) if errors.is_empty() => cfg,
            _ => {
                return PairReload {
                    errors,
                    ..PairReload::default()
                }
            }
        };
        let steps = plan_reload(&self.running, &new, self.lvs.is_some());
        let mut started = Vec::new();
        if let Some(lvs) = &self.lvs {
            for name in &steps.start_files {
                let Some(path) = locate(name, &dir).map(|l| l.path) else {
                    errors.push(format!(
                        "Config file {name} not found (named by haresources)"
                    ));
                    continue;
                };
                match super::lvs::Lvs::start(&path, Arc::clone(&lvs.kernel), lvs.options.clone())
                    .await
                {
                    Ok(l) => {
                        lvs.native.watch_progress(name, l.progress());
                        started.push(l);
                    }
                    Err(diags) => errors.extend(diags.to_string().lines().map(str::to_string)),
                }
            }
        }
        if !errors.is_empty() {
            for l in started {
                l.stop().await;
            }
            return PairReload {
                errors,
                ..PairReload::default()
            };
        }
        for l in started {
            set.add(l);
        }
        if let Some(keys) = steps.keys {
            node.set_keys(keys);
        }
        if let Some(cfg) = steps.reconfigure {
            node.reconfigure(cfg);
        }
        for name in &steps.stop_files {
            if let Some(path) = locate(name, &dir).map(|l| l.path) {
                if let Some(l) = set.remove(&path) {
                    l.stop().await;
                }
            }
        }
        self.running = steps.running;
        steps.report
    }
}

/// The ldirectord files haresources names, located as ldirectord does, in haresources order
/// without repeats.
pub fn ldirectord_files(har: &Haresources, config_dir: &Path) -> Result<Vec<PathBuf>, String> {
    ldirectord_names(har)
        .iter()
        .map(|n| {
            locate(n, config_dir)
                .map(|l| l.path)
                .ok_or_else(|| format!("Config file {n} not found (named by haresources)"))
        })
        .collect()
}

/// The longest a group waits for the ldirectord files to start.
const READY_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The native `ldirectord::NAME` resource.
pub struct LdirectordResource {
    kernel: Kernel,
    sync: SyncPlan,
    /// The hand-overs received (`None`: no sync, or no listener could be opened).
    catchup: Option<Arc<Catchup>>,
    active: Mutex<BTreeSet<String>>,
    /// Each file's health-check loop ([`super::lvs::Lvs::progress`]), by resource name.
    progress: Mutex<HashMap<String, watch::Receiver<Progress>>>,
    /// Whether the ldirectord files have been started (their tables programmed): the node
    /// starts, and heartbeats, before that; a group waits for it before its first resource.
    ready: watch::Sender<bool>,
}

impl LdirectordResource {
    /// Starts both IPVS sync daemons, master and backup (when there is an interface to sync
    /// on), and listens for the peer's hand-overs beside the backup daemon. Must run inside
    /// the tokio runtime.
    pub fn new(kernel: Kernel, sync: SyncPlan) -> Arc<LdirectordResource> {
        let catchup = sync.iface.as_deref().and_then(|iface| {
            start_daemons(&kernel, iface);
            let c = Arc::new(Catchup::default());
            match c.listen(iface) {
                Ok(()) => Some(c),
                Err(e) => {
                    tracing::warn!(
                        "IPVS connection sync: cannot listen for the peer's hand-over on {iface}: {e}; takeovers will not wait for it"
                    );
                    None
                }
            }
        });
        Arc::new(LdirectordResource {
            kernel,
            sync,
            catchup,
            active: Mutex::new(BTreeSet::new()),
            progress: Mutex::new(HashMap::new()),
            ready: watch::Sender::new(false),
        })
    }

    /// The ldirectord files are started: groups may start from now on.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Waits (at most `limit`) until [`LdirectordResource::set_ready`]; whether it was.
    async fn wait_ready(&self, limit: std::time::Duration) -> bool {
        let mut rx = self.ready.subscribe();
        let ready = tokio::time::timeout(limit, rx.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok());
        ready
    }

    fn active(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        match self.active.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The monitor of `ldirectord::NAME` watches this file's health-check loop.
    pub fn watch_progress(&self, name: &str, progress: watch::Receiver<Progress>) {
        let mut p = match self.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        p.insert(name.to_string(), progress);
    }

    /// The monitor's verdict at `now`: active here and its checks running.
    pub fn check(&self, name: &str, now: tokio::time::Instant) -> Result<bool, String> {
        if !self.active().contains(name) {
            return Ok(false);
        }
        let progress = match self.progress.lock() {
            Ok(g) => g.get(name).map(|rx| *rx.borrow()),
            Err(p) => p.into_inner().get(name).map(|rx| *rx.borrow()),
        };
        match progress {
            Some(p) if p.stalled(now) => Err(format!(
                "the health checks of {name} have stalled: none started for {}s (limit {}s)",
                now.saturating_duration_since(p.at).as_secs(),
                p.stall_after.as_secs()
            )),
            _ => Ok(true),
        }
    }
}

/// Starts the kernel's master and backup sync daemons on `iface` (both run on both nodes:
/// the master sends what passes this node, the backup takes what passes the peer, and nothing
/// moves at a failover). One already running is left as it is (a restart adopts them).
/// Failures are logged: connection sync is never a reason to refuse the resource.
fn start_daemons(kernel: &Kernel, iface: &str) {
    let mut ipvs = match kernel.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    for state in [SyncState::Master, SyncState::Backup] {
        let daemon = SyncDaemon {
            state,
            mcast_ifn: iface.to_string(),
            sync_id: 0,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        };
        match ipvs.start_daemon(&daemon) {
            Ok(()) => tracing::info!("IPVS connection sync: {state:?} daemon on {iface}"),
            Err(IpvsError::Kernel {
                errno: libc::EEXIST,
                ..
            }) => tracing::info!("IPVS connection sync: {state:?} daemon already running"),
            Err(e) => tracing::warn!("cannot start the IPVS {state:?} sync daemon on {iface}: {e}"),
        }
    }
}

/// Sends the whole connection table to the peer's backup sync daemon in the kernel's own
/// format, as a hand-over ([`crate::ipvs::sync::handover`]): when this node gives the group
/// up (the peer acquires only after this node has released everything, and waits until its
/// kernel holds what was sent, [`Catchup`]), and when the peer joins (so that it holds
/// every connection, idle long-lived ones included, which the kernel's daemons sync only when
/// they see traffic). Failures are logged: never a reason to hold the group.
fn hand_over(kernel: &Kernel, iface: &str, why: &str) {
    use crate::ipvs::sync;
    let text = match std::fs::read_to_string("/proc/net/ip_vs_conn") {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("IPVS connection sync: cannot read /proc/net/ip_vs_conn: {e}");
            return;
        }
    };
    let table = {
        let mut ipvs = match kernel.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match ipvs.dump() {
            Ok(s) => s.table(),
            Err(e) => {
                tracing::warn!("IPVS connection sync: cannot read the table: {e}");
                return;
            }
        }
    };
    let parsed = sync::parse_conns(&text);
    let messages = sync::handover(&parsed.conns, &table, sync::DEFAULT_MAXLEN);
    let group = std::net::SocketAddr::new(sync::DEFAULT_GROUP.into(), sync::DEFAULT_PORT);
    match sync::send(&messages, iface, group) {
        Ok(n) => tracing::info!(
            "IPVS connection sync: handed {} connections over to the peer on {iface} ({why}; {n} messages)",
            parsed.conns.len()
        ),
        Err(e) => tracing::warn!("IPVS connection sync: cannot send on {iface}: {e}"),
    }
}

impl NativeResource for LdirectordResource {
    /// A takeover from a live peer waits, at most `[sync] catch_up_timeout`, until this
    /// kernel holds every connection the peer handed over as it released the group.
    fn prepare<'a>(
        &'a self,
        _args: &'a [String],
        takeover: Takeover,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            // The table first, then the addresses: a group waits until its files run (the
            // node heartbeats from the start, before the files are read and programmed, so
            // that a restart in place is heard within deadtime).
            if !self.wait_ready(READY_LIMIT).await {
                tracing::warn!(
                    "the ldirectord files did not start within {}s: starting the group anyway",
                    READY_LIMIT.as_secs()
                );
            }
            let Some(catchup) = &self.catchup else {
                return;
            };
            if !takeover.from_live_peer || self.sync.catch_up.is_zero() || !self.active().is_empty()
            {
                return;
            }
            let outcome = catchup.wait(self.sync.catch_up, kernel_conns).await;
            match outcome {
                Outcome::CaughtUp { .. } => tracing::info!("{outcome}"),
                _ => tracing::warn!("{outcome}"),
            }
        })
    }

    /// The peer (re)joined: if this node holds the group, hand the table over now, so the
    /// peer holds every connection before it might have to take over.
    fn peer_joined(&self) {
        let Some(iface) = self.sync.iface.clone() else {
            return;
        };
        if self.active().is_empty() {
            return;
        }
        let kernel = Arc::clone(&self.kernel);
        tokio::task::spawn_blocking(move || hand_over(&kernel, &iface, "the peer joined"));
    }

    fn monitor<'a>(
        &'a self,
        args: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            let name = args
                .first()
                .cloned()
                .unwrap_or_else(|| DEFAULT_NAME.to_string());
            self.check(&name, tokio::time::Instant::now())
        })
    }

    fn run<'a>(
        &'a self,
        args: &'a [String],
        op: Op,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            let name = args
                .first()
                .cloned()
                .unwrap_or_else(|| DEFAULT_NAME.to_string());
            match op {
                Op::Status => Ok(self.active().contains(&name)),
                Op::Start => {
                    self.active().insert(name.clone());
                    tracing::info!("ldirectord::{name}: this director is active");
                    Ok(true)
                }
                Op::Stop => {
                    let last = {
                        let mut a = self.active();
                        a.remove(&name);
                        a.is_empty()
                    };
                    if let (true, Some(iface)) = (last, &self.sync.iface) {
                        hand_over(&self.kernel, iface, "giving the group up");
                    }
                    tracing::info!("ldirectord::{name}: this director is standby");
                    Ok(true)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ipvs::memory::MemoryIpvs;
    use std::time::Duration;

    fn har(text: &str) -> Haresources {
        failover::config::haresources::parse(Path::new("haresources"), text)
            .map(|p| p.value)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn haresources_names_the_ldirectord_files() {
        let dir = std::env::temp_dir().join(format!("director-pair-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(dir.join("www.cf"), "").unwrap();
        std::fs::write(dir.join("ldirectord.cf"), "").unwrap();
        std::fs::write(dir.join("conf/mail"), "").unwrap();
        let h = har("a IPaddr::192.0.2.100/24 ldirectord::www.cf\nb IPaddr::192.0.2.101 ldirectord ldirectord::mail ldirectord::www.cf\n");
        let files = ldirectord_files(&h, &dir).unwrap();
        assert_eq!(
            files,
            vec![
                dir.join("www.cf"),
                dir.join("ldirectord.cf"),
                dir.join("conf/mail")
            ]
        );
        let h = har("a ldirectord::nope\n");
        assert!(ldirectord_files(&h, &dir).unwrap_err().contains("nope"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn status_shows_unheard_links_and_the_peers_role() {
        use failover::node::{
            GroupInfo, LinkStatus as Link, NodeStatus, PeerStatus as Peer, TrackInfo,
        };
        let now = std::time::SystemTime::now();
        let node = NodeStatus {
            shared_peer: None,
            updated: tokio::time::Instant::now(),
            node: "ha01".into(),
            phase: "running",
            standby: false,
            generation: 1,
            ping_reachable: 0,
            ping_nodes: 0,
            peer: Some(Peer {
                name: "ha02".into(),
                life: "alive",
                last_heard: Some(now),
                role: Some("standby"),
                standby: true,
            }),
            links: vec![
                Link {
                    iface: "eth0".into(),
                    medium: "ucast eth0".into(),
                    from: Some("192.0.2.12:694".parse().unwrap()),
                    up: true,
                    last_heard: Some(now),
                },
                Link {
                    iface: "eth1".into(),
                    medium: "bcast eth1".into(),
                    from: None,
                    up: false,
                    last_heard: None,
                },
            ],
            groups: vec![GroupInfo {
                key: "IPaddr::192.0.2.100/24/eth0".into(),
                preferred: "ha01".into(),
                resources: vec!["IPaddr::192.0.2.100/24/eth0".into()],
                local: "active",
                peer: "standby",
            }],
            tracks: vec![TrackInfo {
                name: "track interface eth2".into(),
                state: "failing",
                weight: 3,
            }],
            transitions: Vec::new(),
            rejected: Default::default(),
        };
        let f = crate::status::failover_status(&node, now, now);
        let peer = f.peer.clone().unwrap();
        assert_eq!(peer.role.as_deref(), Some("standby (operator standby)"));
        assert_eq!(f.links.len(), 2);
        assert_eq!(f.links[0].state, "up");
        assert_eq!(f.links[0].from.as_deref(), Some("192.0.2.12:694"));
        assert_eq!(
            (
                f.links[1].medium.as_str(),
                f.links[1].state.as_str(),
                f.links[1].from.clone()
            ),
            ("bcast eth1", "unknown", None)
        );
        assert_eq!(f.links[1].last_heard_ms, None);
        assert_eq!(
            f.tracks,
            vec![crate::status::TrackStatus {
                name: "track interface eth2".into(),
                state: "failing".into(),
                weight: 3,
            }]
        );
    }

    /// A stalled health-check loop fails the monitor of the resource held here; a standby
    /// resource fails it too (not running); checks that run again make it pass.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_health_check_loop_fails_the_monitor() {
        use tokio::time::{advance, Instant};
        let r = LdirectordResource::new(
            super::super::lvs::kernel(MemoryIpvs::new()),
            SyncPlan {
                iface: None,
                catch_up: Duration::from_secs(2),
            },
        );
        let www = vec!["www".to_string()];
        let start = Progress {
            at: Instant::now(),
            stall_after: Duration::from_secs(6),
            started: 0,
        };
        let (tx, rx) = watch::channel(start);
        r.watch_progress("www", rx);
        assert_eq!(r.monitor(&www).await, Ok(false), "standby here");
        assert!(r.run(&www, Op::Start).await.unwrap());
        assert_eq!(r.monitor(&www).await, Ok(true));
        // Rounds where checks start keep it alive.
        for n in 1..=5 {
            advance(Duration::from_secs(2)).await;
            tx.send_modify(|p| *p = p.round(Instant::now(), n, 1));
            assert_eq!(r.monitor(&www).await, Ok(true));
        }
        // Rounds without a started check: stalled after 6 s.
        for _ in 0..2 {
            advance(Duration::from_secs(2)).await;
            tx.send_modify(|p| *p = p.round(Instant::now(), 5, 1));
            assert_eq!(r.monitor(&www).await, Ok(true));
        }
        advance(Duration::from_secs(2)).await;
        tx.send_modify(|p| *p = p.round(Instant::now(), 5, 1));
        let e = r.monitor(&www).await.unwrap_err();
        assert!(e.contains("the health checks of www have stalled"), "{e}");
        // A loop that stops ticking at all stalls the same way.
        tx.send_modify(|p| *p = p.round(Instant::now(), 6, 1));
        assert_eq!(r.monitor(&www).await, Ok(true));
        advance(Duration::from_secs(6)).await;
        assert!(r.monitor(&www).await.is_err());
        // No checks configured: never stalled while the loop ticks.
        tx.send_modify(|p| *p = p.round(Instant::now(), 6, 0));
        advance(Duration::from_secs(5)).await;
        tx.send_modify(|p| *p = p.round(Instant::now(), 6, 0));
        assert_eq!(r.monitor(&www).await, Ok(true));
    }

    /// The node starts before the ldirectord files: a group's `prepare` waits until they run
    /// (the table before the addresses), bounded by READY_LIMIT.
    #[tokio::test(start_paused = true)]
    async fn a_group_waits_until_the_files_run() {
        use tokio::time::advance;
        let r = LdirectordResource::new(
            super::super::lvs::kernel(MemoryIpvs::new()),
            SyncPlan {
                iface: None,
                catch_up: Duration::from_secs(2),
            },
        );
        let www = vec!["www.cf".to_string()];
        let takeover = Takeover {
            from_live_peer: false,
        };
        let waiting = {
            let r = Arc::clone(&r);
            let www = www.clone();
            tokio::spawn(async move { r.prepare(&www, takeover).await })
        };
        advance(Duration::from_secs(5)).await;
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "prepare went on before the files ran"
        );
        r.set_ready();
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("prepare ends once the files run")
            .unwrap();
        // Once ready, at once; and never longer than the limit.
        r.prepare(&www, takeover).await;
        let late = LdirectordResource::new(
            super::super::lvs::kernel(MemoryIpvs::new()),
            SyncPlan {
                iface: None,
                catch_up: Duration::from_secs(2),
            },
        );
        let started = tokio::time::Instant::now();
        late.prepare(&www, takeover).await;
        assert_eq!(started.elapsed(), READY_LIMIT);
    }

    /// Both daemons run from the start on both nodes and do not move with the group; a
    /// restart finds them running and keeps them.
    #[tokio::test]
    async fn both_sync_daemons_run_from_the_start_and_stay() {
        let kernel = super::super::lvs::kernel(MemoryIpvs::new());
        let plan = SyncPlan {
            iface: Some("lo".into()),
            catch_up: Duration::from_secs(2),
        };
        let r = LdirectordResource::new(kernel.clone(), plan.clone());
        let roles = |k: &Kernel| -> Vec<(SyncState, String)> {
            k.lock()
                .unwrap()
                .daemons()
                .unwrap()
                .iter()
                .map(|d| (d.state, d.mcast_ifn.clone()))
                .collect()
        };
        let both = vec![
            (SyncState::Master, "lo".to_string()),
            (SyncState::Backup, "lo".to_string()),
        ];
        assert_eq!(roles(&kernel), both);
        let www = vec!["www".to_string()];
        assert!(!r.run(&www, Op::Status).await.unwrap());
        assert!(r.run(&www, Op::Start).await.unwrap());
        assert!(r.run(&www, Op::Status).await.unwrap());
        assert_eq!(roles(&kernel), both);
        assert!(r.run(&www, Op::Stop).await.unwrap());
        assert!(!r.run(&www, Op::Status).await.unwrap());
        assert_eq!(roles(&kernel), both);
        let _again = LdirectordResource::new(kernel.clone(), plan);
        assert_eq!(roles(&kernel), both);
    }
}
