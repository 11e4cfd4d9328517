//! Starting a node ([`Node::start`]: its own OS thread and runtimes) and controlling it
//! ([`NodeHandle`]: status, standby, takeover, new keys, shutdown).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::config::authkeys::AuthKeys;
use crate::fsm::{Event, Fsm};
use crate::packet::{Encoder, Receiver, Shared};
use crate::peer::{Medium, Transport};
use crate::vip::NetlinkVip;
use crate::watchdog::Watchdog;

use super::config::{build_resources, check_authkeys, next_generation, script_env};
use super::heartbeat::heartbeat_session;
use super::ping::resolve_ping_nodes;
use super::reload::spawn_ping;
use super::run::{run, Clients, LoopParts, Tracks};
use super::status::{configured_links, initial_status};
use super::track::{track_links, Notifier};
use super::{NodeConfig, NodeError, NodeStatus};

/// How the node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeExit {
    /// Graceful shutdown: everything released, the peer told.
    Stopped,
    /// A resource could not be stopped and [`SelfFence::Exit`](super::SelfFence::Exit) is configured.
    Fenced,
}

/// An operator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Standby,
    Takeover,
    Stop,
}

/// What the loop waits for besides packets and time.
#[derive(Debug)]
pub(crate) enum Input {
    Event(Event),
    Command(Command),
    /// authkeys re-read on reload: sign with, and verify against, these from now on.
    Keys(AuthKeys),
    /// ha.cf, haresources and director.conf re-read on reload ([`super::reload`]).
    Reconfigure(Box<NodeConfig>),
    /// The operator's state this node shares with the peer from now on.
    Share(Shared),
}

type NodeThread = std::thread::JoinHandle<Result<NodeExit, NodeError>>;

/// Controls a running node; cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    tx: mpsc::UnboundedSender<Input>,
    status: Arc<Mutex<NodeStatus>>,
    thread: Arc<Mutex<Option<NodeThread>>>,
    peer_shared: watch::Receiver<Option<Shared>>,
}

impl NodeHandle {
    /// The latest snapshot (updated after every event).
    pub fn status(&self) -> NodeStatus {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Operator standby: give every group to the peer (`hb_standby`).
    pub fn standby(&self) {
        let _ = self.tx.send(Input::Command(Command::Standby));
    }

    /// Operator takeover: take every group from the peer (`hb_takeover`).
    pub fn takeover(&self) {
        let _ = self.tx.send(Input::Command(Command::Takeover));
    }

    /// authkeys re-read (reload): the next message is signed with the new `auth N` key, and
    /// every key line of the new file verifies what comes in. Replay windows are kept.
    pub fn set_keys(&self, keys: AuthKeys) {
        let _ = self.tx.send(Input::Keys(keys));
    }

    /// ha.cf, haresources and director.conf re-read and valid (reload): the node applies
    /// what [`super::reload::plan`] says it applies, and keeps the rest as it runs.
    pub fn reconfigure(&self, new: NodeConfig) {
        let _ = self.tx.send(Input::Reconfigure(Box::new(new)));
    }

    /// The operator's state this node holds from now on ([`crate::shared`]): sent to the
    /// peer (director's protocol only; a Heartbeat peer has no such thing).
    pub fn share(&self, state: Shared) {
        let _ = self.tx.send(Input::Share(state));
    }

    /// The peer's operator state each time this node takes it (it was written later than
    /// this node's).
    pub fn peer_shared(&self) -> watch::Receiver<Option<Shared>> {
        self.peer_shared.clone()
    }

    /// Graceful shutdown: release right to left, tell the peer, end. Returns at once; see
    /// [`NodeHandle::wait`].
    pub fn shutdown(&self) {
        let _ = self.tx.send(Input::Command(Command::Stop));
    }

    /// Whether the node's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread
            .lock()
            .ok()
            .and_then(|t| t.as_ref().map(std::thread::JoinHandle::is_finished))
            .unwrap_or(true)
    }

    /// Waits for the node to end (blocking; call from a plain thread or `spawn_blocking`).
    /// Only the first caller gets the result.
    pub fn wait(&self) -> Result<NodeExit, NodeError> {
        let t = self.thread.lock().ok().and_then(|mut t| t.take());
        match t {
            Some(t) => t.join().map_err(|_| NodeError::Panicked)?,
            None => Ok(NodeExit::Stopped),
        }
    }
}

/// Starts nodes.
pub struct Node;

impl Node {
    /// Checks `authkeys` (mode 600, owned by root), bumps the generation, opens the media and
    /// starts the loop on its own thread (in the caller's network namespace). Errors opening
    /// anything are returned here, before the node takes part.
    pub fn start(cfg: NodeConfig) -> Result<NodeHandle, NodeError> {
        check_authkeys(&cfg.config_dir.join("authkeys"))?;
        let media = cfg
            .hacf
            .media
            .iter()
            .map(Medium::from_config)
            .collect::<Result<Vec<_>, _>>()?;
        let ping_hosts = resolve_ping_nodes(&cfg.hacf);
        let generation = next_generation(&cfg.state_dir, SystemTime::now())?;
        if let Some(root) = &cfg.options.boot_root {
            crate::resources::warn_boot_enabled(root, &cfg.groups());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(initial_status(&cfg, generation)));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), NodeError>>();
        let loop_tx = tx.clone();
        let loop_status = status.clone();
        let (shared_tx, shared_rx) = watch::channel(None);
        let thread = std::thread::Builder::new().name("failover".into()).spawn(
            move || -> Result<NodeExit, NodeError> {
                if let Some(prio) = cfg.options.realtime {
                    match crate::realtime::make_current_thread_realtime(prio) {
                        Ok(()) => tracing::debug!(priority = prio, "heartbeat thread runs SCHED_RR"),
                        Err(e) => tracing::warn!(
                            error = %e,
                            "cannot give the heartbeat thread real-time priority: heartbeats may be \
                             late on a busy machine"
                        ),
                    }
                }
                let setup = || -> Result<_, NodeError> {
                    let hb = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let worker = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .thread_name("failover-res")
                        .enable_all()
                        .build()?;
                    let transport = hb.block_on(async { Transport::open(&media) })?;
                    let vip = worker.block_on(async { NetlinkVip::new(cfg.options.announce) })?;
                    let links = track_links(&cfg, worker.handle());
                    Ok((hb, worker, transport, vip, links))
                };
                let (hb, worker, transport, vip, links) = match setup() {
                    Ok(x) => {
                        let _ = ready_tx.send(Ok(()));
                        x
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(NodeExit::Stopped);
                    }
                };
                let resources = build_resources(&cfg, Arc::new(vip));
                // Armed only once the node is sure to run (a failed start must not leave it
                // armed: the machine would reset).
                let watchdog = open_watchdog(&cfg);
                let ping = {
                    let _rt = hb.enter();
                    spawn_ping(ping_hosts, &cfg.hacf, loop_tx.clone())
                };
                let fsm = Fsm::new(cfg.fsm_config());
                let heartbeat = heartbeat_session(&cfg, &fsm, generation);
                let parts = LoopParts {
                    heartbeat,
                    fsm,
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
                    watchdog,
                    links: configured_links(&cfg.hacf),
                    sources: crate::sources::OnLink::new(&media),
                    clients: Clients::new(&cfg),
                    tracks: Tracks {
                        specs: cfg.settings.tracks.clone(),
                        links,
                        env: script_env(&cfg).environment(),
                    },
                    notifier: Notifier::new(
                        cfg.settings.notify.clone(),
                        script_env(&cfg).environment(),
                        worker.handle(),
                    ),
                    status: loop_status,
                    cfg: cfg.clone(),
                    ping,
                    shared: crate::shared::SharedBook::default(),
                    peer_shared: shared_tx,
                };
                let span = tracing::info_span!("node", node = %cfg.node_name);
                let exit = hb.block_on(
                    run(
                        parts,
                        transport,
                        Arc::new(resources),
                        worker.handle().clone(),
                        loop_tx,
                        rx,
                    )
                    .instrument(span),
                );
                worker.shutdown_timeout(Duration::from_secs(1));
                Ok(exit)
            },
        )?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(NodeError::Panicked);
            }
        }
        Ok(NodeHandle {
            tx,
            status,
            thread: Arc::new(Mutex::new(Some(thread))),
            peer_shared: shared_rx,
        })
    }
}

/// Opens ha.cf's `watchdog` device; a device that cannot be opened is logged and the node
/// runs without it, as Heartbeat does.
pub(super) fn open_watchdog(cfg: &NodeConfig) -> Option<Watchdog> {
    let path = cfg.hacf.watchdog.as_ref()?;
    match Watchdog::open(path, cfg.hacf.deadtime) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(
                device = %path.display(),
                "ERROR: Cannot open watchdog device {}: {e} (modprobe softdog?): running \
                 without it",
                path.display()
            );
            None
        }
    }
}
