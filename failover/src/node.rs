//! The node: the loop that wires the pure [`Fsm`] to the network, the clock and the resources.
//!
//! [`Node::start`] runs the loop on a dedicated OS thread with its own single-threaded tokio
//! runtime, so heartbeats are never delayed by other work of the process (health checks, IPVS
//! reconciliation, ...). It reads peer packets ([`Receiver`]: forged, replayed and wrong-key
//! packets are dropped, counted by reason and logged once per sender per minute), ping results,
//! timers (an [`Event::Tick`] at [`Fsm::next_deadline`]) and operator commands, feeds them to
//! [`Fsm::step`] and carries out the actions:
//!
//! - `Send`: signed by the [`Encoder`] (generation persisted in the state dir, larger at every
//!   start) and sent on every medium at once;
//! - `Probe` / `Acquire` / `Release` / `Monitor` / `Restart`: run as tasks on a separate worker
//!   runtime that report back as events, so heartbeats keep flowing while scripts run
//!   (`Monitor`: [`Resources::monitor`] of each resource of a held group, every
//!   `director.conf` `[monitor] interval`; `Restart`: [`Resources::restart`] in place);
//! - `ResetPeer`: STONITH of the dead peer ([`crate::stonith`]: ha.cf's devices through
//!   cluster-glue's `stonith` tool, or the operator's command);
//! - `FenceSelf`: the configured [`SelfFence`] (default: reboot, as Heartbeat; tests pass a
//!   non-reboot action);
//! - `Log`: `tracing`, in Heartbeat's words.
//!
//! ha.cf's `respawn` programs run beside the loop ([`crate::respawn::Supervisor`], on the
//! worker runtime) from the moment the node joins the cluster (Heartbeat starts them when
//! communication comes up: the peer heard or initdead passed) until the node ends, after its
//! resources are released.
//!
//! The loop itself ([`run`]) is generic over the [`Link`] and [`Vip`] so it is tested in-process
//! with fakes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::authkeys::{self, AuthKeys};
use crate::config::hacf::{self, HaCf, Host};
use crate::config::haresources::{self, Haresources};
use crate::config::settings::{self, Settings};
use crate::config::{cluster, nodeinfo, ConfigError, Diagnostic};
use crate::fsm::{Action, Event, FenceAction, Fsm, FsmConfig, Level, NodePhase, PeerLife};
use crate::heartbeat::session::{self as hb, Identity, Session};
use crate::heartbeat::wire;
use crate::packet::{Encoder, GroupState, Phase, Receiver, Rejection};
use crate::peer::{Medium, PeerError, Received, Transport};
use crate::resources::{NativeResource, Resource, Resources, ScriptEnv, Takeover};
use crate::vip::{Announce, NetlinkVip, Vip};
use crate::watchdog::Watchdog;

/// How many state changes [`NodeStatus::transitions`] keeps.
const TRANSITIONS_KEPT: usize = 64;
/// Rejected packets from one sender are logged at most this often.
const REJECT_LOG_EVERY: Duration = Duration::from_secs(60);
/// The generation counter file in the state dir.
const GENERATION_FILE: &str = "generation";

/// What to do to this node when a resource cannot be stopped after every retry.
///
/// `director run --fence ACTION` chooses it ([`SelfFence::from_str`]); the default is
/// Heartbeat's (`ResourceManager:RecoverFromFailedStop`): reboot at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SelfFence {
    /// `reboot -nf` (then `init 6` if that cannot run), as Heartbeat's ResourceManager.
    #[default]
    Reboot,
    /// `poweroff -nf`.
    PowerOff,
    /// Log, stop sending heartbeats and end the node ([`NodeExit::Fenced`]): the peer takes
    /// over after deadtime while the stuck resource stays up here. For tests and for setups
    /// where a supervisor outside director fences the machine.
    Exit,
    /// Run this program (absolute path, then its arguments), then end the node as
    /// [`SelfFence::Exit`] does (e.g. a command that asks a power switch to cut this machine).
    Command(Vec<String>),
    /// Only log; the group stays "releasing" here and the peer never takes it.
    Ignore,
}

impl std::str::FromStr for SelfFence {
    type Err = String;

    /// `reboot`, `poweroff`, `exit`, `ignore`, or an absolute path with arguments
    /// (`/usr/local/sbin/fence-me --now`).
    fn from_str(text: &str) -> Result<SelfFence, String> {
        let text = text.trim();
        match text {
            "reboot" => Ok(SelfFence::Reboot),
            "poweroff" => Ok(SelfFence::PowerOff),
            "exit" => Ok(SelfFence::Exit),
            "ignore" => Ok(SelfFence::Ignore),
            cmd if cmd.starts_with('/') => Ok(SelfFence::Command(
                cmd.split_whitespace().map(str::to_string).collect(),
            )),
            other => Err(format!(
                "invalid fencing action [{other}]: reboot, poweroff, exit, ignore, or an \
                 absolute path to a command"
            )),
        }
    }
}

impl SelfFence {
    /// What the state machine is told (it only logs it).
    pub fn action(&self) -> FenceAction {
        match self {
            SelfFence::Reboot => FenceAction::Reboot,
            SelfFence::PowerOff => FenceAction::PowerOff,
            SelfFence::Exit => FenceAction::Exit,
            SelfFence::Command(_) => FenceAction::Command,
            SelfFence::Ignore => FenceAction::None,
        }
    }
}

pub use crate::stonith::PeerReset;

/// Knobs that are not in Heartbeat's files.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// See [`SelfFence`].
    pub fence: SelfFence,
    /// How a dead peer is reset before a takeover ([`PeerReset`]); [`NodeConfig::load`]
    /// fills it from ha.cf's `stonith` / `stonith_host` lines for this node.
    pub stonith: PeerReset,
    /// Where scripts not in `resource.d` are looked up (`/etc/init.d`).
    pub init_dir: PathBuf,
    /// Re-probe groups not held here this often and stop strays (`None`: only at start).
    pub probe_interval: Option<Duration>,
    /// Stop attempts before fencing, and the pause between them (Heartbeat: 10, 1 s).
    pub stop_retries: u32,
    /// See `stop_retries`.
    pub stop_retry_interval: Duration,
    /// Gratuitous ARP / unsolicited NA after taking an address.
    pub announce: Announce,
    /// Warn about resource scripts also started at boot, looking under this root (`/`).
    pub boot_root: Option<PathBuf>,
    /// Run the heartbeat thread under `SCHED_RR` at this priority (Heartbeat's `realtime on`,
    /// its default), so a busy CPU cannot delay heartbeats into a false failover. `None`:
    /// normal scheduling.
    pub realtime: Option<i32>,
    /// Monitoring of held resources; `None`: none. [`NodeConfig::load`] takes it from
    /// `director.conf` (on by default there).
    pub monitor: Option<crate::monitor::Policy>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            fence: SelfFence::default(),
            stonith: PeerReset::default(),
            init_dir: PathBuf::from("/etc/init.d"),
            probe_interval: Some(Duration::from_secs(60)),
            stop_retries: 10,
            stop_retry_interval: Duration::from_secs(1),
            announce: Announce::default(),
            boot_root: Some(PathBuf::from("/")),
            realtime: Some(10),
            monitor: None,
        }
    }
}

/// Everything a node needs: the parsed files and where things live.
#[derive(Clone)]
pub struct NodeConfig {
    /// Heartbeat's config dir (`/etc/ha.d`): `authkeys` (permissions checked at start),
    /// `resource.d/`.
    pub config_dir: PathBuf,
    /// Where the generation counter is kept (`/var/lib/director`).
    pub state_dir: PathBuf,
    pub hacf: HaCf,
    pub authkeys: AuthKeys,
    pub haresources: Haresources,
    /// `director.conf` (every default when the file is absent).
    pub settings: Settings,
    /// The local node name (lower case), as [`nodeinfo::local_node_name`] gives it.
    pub node_name: String,
    /// Resources carried out in-process, by name (`("ldirectord", ...)` for
    /// `ldirectord::www`); the rest are scripts.
    pub natives: Vec<(String, Arc<dyn NativeResource>)>,
    pub options: NodeOptions,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("config_dir", &self.config_dir)
            .field("state_dir", &self.state_dir)
            .field("node_name", &self.node_name)
            .field("groups", &self.haresources.groups.len())
            .field(
                "natives",
                &self.natives.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Why a node could not start, or how it failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A configuration file was refused (every problem, `file:line: message`).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The generation counter could not be kept.
    #[error("cannot update the generation counter {path}: {source}")]
    Generation {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The media could not be opened.
    #[error("{0}")]
    Peer(#[from] PeerError),
    /// Netlink (virtual addresses) or the runtime could not be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The virtual address backend could not be opened.
    #[error("{0}")]
    Vip(#[from] crate::vip::VipError),
    /// The node's thread died.
    #[error("the failover thread panicked")]
    Panicked,
}

impl NodeConfig {
    /// Reads `ha.cf`, `authkeys`, `haresources` and the optional `director.conf` from
    /// `config_dir` (the node name from `nodeinfo` there or `uname -n`), checks them together
    /// and returns every error at once.
    /// Warnings are logged. Default [`NodeOptions`], no natives; a dead peer is reset with
    /// ha.cf's STONITH devices for this node (cluster-glue's tool must be installed).
    pub fn load(config_dir: &Path, state_dir: &Path) -> Result<NodeConfig, NodeError> {
        NodeConfig::load_with(config_dir, state_dir, None)
    }

    /// As [`NodeConfig::load`]; `stonith_command` (program and arguments, the peer's name
    /// appended) resets a dead peer instead of ha.cf's devices, and makes the reset required
    /// even without `stonith` lines.
    pub fn load_with(
        config_dir: &Path,
        state_dir: &Path,
        stonith_command: Option<Vec<String>>,
    ) -> Result<NodeConfig, NodeError> {
        let read = |name: &str| {
            let path = config_dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| NodeError::Read { path, source })
        };
        let hacf_path = config_dir.join("ha.cf");
        let keys_path = config_dir.join("authkeys");
        let res_path = config_dir.join("haresources");
        let (hacf_text, keys_text, res_text) =
            (read("ha.cf")?, read("authkeys")?, read("haresources")?);
        let settings_text = read_settings(config_dir)?;
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        let settings = match &settings_text {
            Some(text) => take(
                settings::parse(&config_dir.join(settings::FILE_NAME), text),
                &mut diagnostics,
            ),
            None => Some(Settings::default()),
        };
        let hacf = take(hacf::parse(&hacf_path, &hacf_text), &mut diagnostics);
        let keys = take(authkeys::parse(&keys_path, &keys_text), &mut diagnostics);
        let res = take(haresources::parse(&res_path, &res_text), &mut diagnostics);
        let uname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nodeinfo = std::fs::read_to_string(config_dir.join("nodeinfo")).ok();
        let node_name = nodeinfo::local_node_name(&uname, nodeinfo.as_deref());
        if node_name.is_none() {
            diagnostics.push(Diagnostic::error(
                &hacf_path,
                0,
                "cannot determine this node's name (uname -n is empty and no nodeinfo)",
            ));
        }
        if let (Some(h), Some(r), Some(n)) = (&hacf, &res, &node_name) {
            diagnostics.extend(cluster::check(&hacf_path, h, &res_path, r, n));
        }
        if let Some(h) = &hacf {
            diagnostics.extend(crate::respawn::check(&hacf_path, &h.respawn));
        }
        if let (Some(h), Some(s)) = (&hacf, &settings) {
            if s.peer.protocol == settings::Protocol::Heartbeat
                && h.auto_failback == hacf::AutoFailback::Legacy
            {
                diagnostics.push(Diagnostic::error(
                    &config_dir.join(settings::FILE_NAME),
                    0,
                    "peer protocol \"heartbeat\" needs auto_failback on or off in ha.cf: the \
                     legacy ip-request protocol is not spoken",
                ));
            }
        }
        let stonith = match (&hacf, &node_name) {
            (Some(h), Some(n)) => {
                let dirs = crate::stonith::search_dirs(std::env::var_os("PATH"));
                match crate::stonith::resolve(&hacf_path, h, n, stonith_command, &dirs) {
                    Ok(r) => r,
                    Err(d) => {
                        diagnostics.extend(d);
                        PeerReset::None
                    }
                }
            }
            _ => PeerReset::None,
        };
        for d in diagnostics.iter().filter(|d| !d.is_error()) {
            tracing::warn!("{d}");
        }
        match (hacf, keys, res, settings, node_name) {
            (Some(hacf), Some(authkeys), Some(haresources), Some(settings), Some(node_name))
                if !diagnostics.iter().any(Diagnostic::is_error) =>
            {
                let realtime = hacf.realtime.then(|| hacf.rtprio.unwrap_or(10));
                Ok(NodeConfig {
                    config_dir: config_dir.to_path_buf(),
                    state_dir: state_dir.to_path_buf(),
                    hacf,
                    authkeys,
                    haresources,
                    node_name,
                    natives: Vec::new(),
                    options: NodeOptions {
                        realtime,
                        stonith,
                        monitor: crate::monitor::Policy::from_settings(&settings.monitor),
                        ..NodeOptions::default()
                    },
                    settings,
                })
            }
            _ => Err(NodeError::Config(ConfigError { diagnostics })),
        }
    }

    /// The state machine's configuration for this node.
    pub fn fsm_config(&self) -> FsmConfig {
        let mut c = FsmConfig::new(&self.hacf, &self.haresources, &self.node_name);
        c.fence = self.options.fence.action();
        c.stonith = self.options.stonith.is_configured();
        c.probe_interval = self.options.probe_interval;
        c.stop_retries = self.options.stop_retries.max(1);
        c.stop_retry_interval = self.options.stop_retry_interval;
        c.monitor = self.options.monitor;
        c
    }

    fn groups(&self) -> Vec<Vec<Resource>> {
        self.haresources
            .groups
            .iter()
            .map(|g| g.resources.iter().map(Resource::from).collect())
            .collect()
    }
}

/// `director.conf` of `config_dir`, `None` when there is none.
pub fn read_settings(config_dir: &Path) -> Result<Option<String>, NodeError> {
    let path = config_dir.join(settings::FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(NodeError::Read { path, source }),
    }
}

/// Reads and parses `director.conf` of `config_dir` alone (a single director has no ha.cf):
/// every default when it is absent.
pub fn load_settings(config_dir: &Path) -> Result<Settings, NodeError> {
    match read_settings(config_dir)? {
        None => Ok(Settings::default()),
        Some(text) => {
            let parsed = settings::parse(&config_dir.join(settings::FILE_NAME), &text)?;
            for w in &parsed.warnings {
                tracing::warn!("{w}");
            }
            Ok(parsed.value)
        }
    }
}

fn take<T>(
    r: Result<crate::config::Parsed<T>, ConfigError>,
    out: &mut Vec<Diagnostic>,
) -> Option<T> {
    match r {
        Ok(p) => {
            out.extend(p.warnings);
            Some(p.value)
        }
        Err(e) => {
            out.extend(e.diagnostics);
            None
        }
    }
}

/// Refuses an `authkeys` file that group or others may read, or that root does not own.
pub fn check_authkeys(path: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| NodeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    authkeys::check_permissions(path, meta.mode(), meta.uid()).map_err(|d| {
        NodeError::Config(ConfigError {
            diagnostics: vec![d],
        })
    })
}

/// Reads the generation counter in `state_dir`, stores the next one (fsync'd) and returns it.
/// The value is also never below the wall clock in seconds, so a lost state dir does not make
/// the peer take our packets for a replay.
pub fn next_generation(state_dir: &Path, now: SystemTime) -> Result<u64, NodeError> {
    let path = state_dir.join(GENERATION_FILE);
    let err = |source| NodeError::Generation {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let stored = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let clock = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let next = stored.saturating_add(1).max(clock);
    let tmp = state_dir.join(format!("{GENERATION_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    writeln!(f, "{next}").map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(next)
}

/// A peer link: one interface of ha.cf's media, listed from the start (Heartbeat's
/// `Link PEER:IF up.` / `dead.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// Interface.
    pub iface: String,
    /// The media on it, as ha.cf names them (`ucast eth0`, `bcast+mcast eth1`).
    pub medium: String,
    /// Last sender address seen on it (`None`: never heard).
    pub from: Option<SocketAddr>,
    /// Heard within the peer's deadtime.
    pub up: bool,
    /// When the last accepted packet came in (`None`: never).
    pub last_heard: Option<SystemTime>,
}

impl LinkStatus {
    /// `up`, `dead` (heard before, silent for a deadtime) or `unknown` (never heard).
    pub fn state(&self) -> &'static str {
        match (self.up, self.last_heard) {
            (true, _) => "up",
            (false, Some(_)) => "dead",
            (false, None) => "unknown",
        }
    }
}

/// The peer, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub name: String,
    /// `unknown` (never heard), `alive`, `dead`, `gone` (said it was leaving).
    pub life: &'static str,
    pub last_heard: Option<SystemTime>,
    /// The peer's role from its last message, as [`NodeStatus::role`] words it (`active`,
    /// `standby`, `partial`, `init`, `stopping`); `None` unless it is alive.
    pub role: Option<&'static str>,
    /// The peer is in operator standby.
    pub standby: bool,
}

/// The peer's role from what it reported: its phase, then how many groups it holds.
pub fn peer_role(phase: Phase, held: usize, groups: usize) -> &'static str {
    match phase {
        Phase::Init => "init",
        Phase::Stopping => "stopping",
        Phase::Running => match held {
            0 => "standby",
            n if n == groups => "active",
            _ => "partial",
        },
    }
}

/// ha.cf's media grouped by interface, in file order: (interface, description).
pub fn configured_links(cf: &HaCf) -> Vec<(String, String)> {
    use crate::config::hacf::Medium as M;
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for m in &cf.media {
        let (iface, kind) = match m {
            M::Bcast { iface, .. } => (iface, "bcast"),
            M::Mcast { iface, .. } => (iface, "mcast"),
            M::Mcast6 { iface, .. } => (iface, "mcast6"),
            M::Ucast { iface, .. } => (iface, "ucast"),
            M::Ucast6 { iface, .. } => (iface, "ucast6"),
        };
        match out.iter_mut().find(|(i, _)| i == iface) {
            Some((_, kinds)) => {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            None => out.push((iface.clone(), vec![kind])),
        }
    }
    out.into_iter()
        .map(|(iface, kinds)| {
            let d = format!("{} {iface}", kinds.join("+"));
            (iface, d)
        })
        .collect()
}

/// One resource group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// haresources key.
    pub key: String,
    /// Preferred node.
    pub preferred: String,
    /// Resources as written.
    pub resources: Vec<String>,
    /// Our state: `unknown`, `standby`, `acquiring`, `active`, `releasing`, `failed`,
    /// `cleaning`.
    pub local: &'static str,
    /// The peer's last reported state.
    pub peer: &'static str,
}

/// One state change, for `director status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: SystemTime,
    pub what: String,
}

/// A snapshot for `director status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: String,
    /// `created`, `init`, `running`, `stopping`, `stopped`, `fenced`.
    pub phase: &'static str,
    /// Operator standby is in force here.
    pub standby: bool,
    pub generation: u64,
    pub ping_reachable: u16,
    pub ping_nodes: u16,
    pub peer: Option<PeerStatus>,
    pub links: Vec<LinkStatus>,
    pub groups: Vec<GroupInfo>,
    /// Most recent last.
    pub transitions: Vec<Transition>,
    /// Refused packets by reason (`bad_auth`, `unknown_key`, `replay`, `old_generation`,
    /// `unknown_node`, `malformed`, ...).
    pub rejected: BTreeMap<&'static str, u64>,
    /// When the node's loop last turned (it turns at every event, and at least every
    /// keepalive): what systemd's watchdog watches.
    pub updated: tokio::time::Instant,
}

impl NodeStatus {
    /// The node's role in one word: its phase until it runs, then `active` when it holds
    /// every group, `standby` when it holds none, `partial` otherwise.
    pub fn role(&self) -> &'static str {
        if self.phase != "running" {
            return self.phase;
        }
        let held = self.groups.iter().filter(|g| g.local == "active").count();
        match held {
            0 => "standby",
            n if n == self.groups.len() => "active",
            _ => "partial",
        }
    }

    /// Whether this node holds group `key` (state `active`).
    pub fn holds(&self, key: &str) -> bool {
        self.groups
            .iter()
            .any(|g| g.key == key && g.local == "active")
    }
}

/// How the node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeExit {
    /// Graceful shutdown: everything released, the peer told.
    Stopped,
    /// A resource could not be stopped and [`SelfFence::Exit`] is configured.
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
}

type NodeThread = std::thread::JoinHandle<Result<NodeExit, NodeError>>;

/// Controls a running node; cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    tx: mpsc::UnboundedSender<Input>,
    status: Arc<Mutex<NodeStatus>>,
    thread: Arc<Mutex<Option<NodeThread>>>,
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
                    Ok((hb, worker, transport, vip))
                };
                let (hb, worker, transport, vip) = match setup() {
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
                if !ping_hosts.is_empty() {
                    let interval = cfg
                        .hacf
                        .keepalive
                        .clamp(Duration::from_millis(10), Duration::from_secs(1));
                    hb.spawn(ping_loop(
                        ping_hosts,
                        interval,
                        cfg.hacf.deadping,
                        loop_tx.clone(),
                    ));
                }
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
                    status: loop_status,
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
        })
    }
}

/// Opens ha.cf's `watchdog` device; a device that cannot be opened is logged and the node
/// runs without it, as Heartbeat does.
fn open_watchdog(cfg: &NodeConfig) -> Option<Watchdog> {
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

/// The `HA_*` environment of resource scripts and respawned programs.
fn script_env(cfg: &NodeConfig) -> ScriptEnv {
    let mut env = ScriptEnv::new(&cfg.config_dir, cfg.node_name.clone());
    env.init_dir = cfg.options.init_dir.clone();
    // The state machine retries failed stops (and fences); one attempt per Release here.
    env.stop_retries = 1;
    env.vars.push((
        "NICEFAILBACK".into(),
        if cfg.hacf.auto_failback == hacf::AutoFailback::Off {
            "yes".into()
        } else {
            "no".into()
        },
    ));
    // Heartbeat exports its log settings to the scripts (ha_log.sh uses them).
    let cf = &cfg.hacf;
    let log_vars = [
        (
            "LOGFILE",
            cf.logfile.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "DEBUGLOG",
            cf.debugfile.as_ref().map(|p| p.display().to_string()),
        ),
        ("LOGFACILITY", cf.logfacility.clone()),
        ("debug", (cf.debug > 0).then(|| cf.debug.to_string())),
    ];
    env.vars.extend(
        log_vars
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    env.vars.extend(cfg.hacf.env.iter().cloned());
    env
}

fn build_resources<V: Vip>(cfg: &NodeConfig, vip: Arc<V>) -> Resources<V> {
    let mut r = Resources::new(vip, script_env(cfg));
    for (name, native) in &cfg.natives {
        r.register_native(name.clone(), native.clone());
    }
    r
}

fn resolve_ping_nodes(cf: &HaCf) -> Vec<(String, Vec<IpAddr>)> {
    use std::net::ToSocketAddrs;
    cf.ping_nodes
        .iter()
        .map(|p| {
            let hosts = p
                .hosts
                .iter()
                .flat_map(|h| match h {
                    Host::Ip(ip) => vec![*ip],
                    Host::Name(n) => match (n.as_str(), 0).to_socket_addrs() {
                        Ok(a) => a.map(|s| s.ip()).collect(),
                        Err(e) => {
                            tracing::error!(ping = %n, error = %e, "cannot resolve ping node {n}");
                            Vec::new()
                        }
                    },
                })
                .collect();
            (p.name.clone(), hosts)
        })
        .collect()
}

/// Pings every ping node each `interval`; a node (or ping_group) is reachable while one of
/// its hosts answered within `deadping`. Reports the count when it changes.
async fn ping_loop(
    nodes: Vec<(String, Vec<IpAddr>)>,
    interval: Duration,
    deadping: Duration,
    tx: mpsc::UnboundedSender<Input>,
) {
    let mut pinger = match crate::ping::Pinger::new() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot open ICMP socket: ping nodes are not watched");
            return;
        }
    };
    let start = Instant::now();
    let mut last_ok: Vec<Instant> = vec![start; nodes.len()];
    let mut reachable = vec![true; nodes.len()];
    let mut reported = u16::try_from(nodes.len()).unwrap_or(u16::MAX);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    loop {
        tick.tick().await;
        for (i, (name, hosts)) in nodes.iter().enumerate() {
            let mut ok = false;
            for h in hosts {
                match pinger.probe(*h, interval).await {
                    Ok(up) => {
                        failing.remove(h);
                        if up {
                            ok = true;
                            break;
                        }
                    }
                    // Logged once until it works again (e.g. no route, no ICMPv6 socket).
                    Err(e) => {
                        if failing.insert(*h) {
                            tracing::error!(ping = %h, "cannot ping {h} (ping node {name}): {e}");
                        }
                    }
                }
            }
            let now = Instant::now();
            if let (Some(last), Some(up)) = (last_ok.get_mut(i), reachable.get_mut(i)) {
                if ok {
                    *last = now;
                }
                let is_up = now.saturating_duration_since(*last) < deadping;
                if is_up != *up {
                    *up = is_up;
                    if is_up {
                        tracing::info!(ping = %name, "Link {name}:{name} up.");
                    } else {
                        tracing::warn!(ping = %name, "node {name}: is dead");
                    }
                }
            }
        }
        let n = u16::try_from(reachable.iter().filter(|u| **u).count()).unwrap_or(u16::MAX);
        if n != reported {
            reported = n;
            if tx.send(Input::Event(Event::PingReachable(n))).is_err() {
                return;
            }
        }
    }
}

/// The media as the loop sees them: send to all, receive from any.
pub trait Link {
    /// Sends on every medium; returns how many took it.
    fn send(&self, data: &[u8]) -> impl Future<Output = usize>;
    /// The next datagram (`None`: no more will come).
    fn recv(&mut self) -> impl Future<Output = Option<Received>>;
}

impl Link for Transport {
    fn send(&self, data: &[u8]) -> impl Future<Output = usize> {
        Transport::send(self, data)
    }
    fn recv(&mut self) -> impl Future<Output = Option<Received>> {
        Transport::recv(self)
    }
}

/// A short, stable name for why a packet was refused (`None`: our own packet, not counted).
pub fn rejection_reason(r: &Rejection) -> Option<&'static str> {
    use crate::packet::DecodeError as D;
    Some(match r {
        Rejection::Own => return None,
        Rejection::UnknownNode(_) => "unknown_node",
        Rejection::OldGeneration { .. } => "old_generation",
        Rejection::Replay { .. } => "replay",
        Rejection::Unverified { .. } => "unverified",
        Rejection::Source { .. } => "source",
        Rejection::Decode(d) => match d {
            D::BadAuth(_) => "bad_auth",
            D::UnknownKey(_) => "unknown_key",
            D::BadMagic => "bad_magic",
            D::BadVersion(_) => "bad_version",
            D::Short(_) | D::TooLong(_) | D::UnknownKind(_) | D::Malformed(_) => "malformed",
        },
    })
}

/// Counts refused packets by reason and says when one should be logged: once per sender per
/// minute, with how many were refused since. At most [`REJECT_LOG_SENDERS`] senders are
/// followed one by one; refusals from any further address (a spoofing flood) share one
/// "other senders" line a minute, so neither the log nor the memory grows with the number of
/// forged source addresses.
#[derive(Debug, Default, Clone)]
pub struct RejectLog {
    counts: BTreeMap<&'static str, u64>,
    /// Per sender: when last logged, and refusals since then.
    senders: HashMap<IpAddr, (Instant, u64)>,
    /// Every sender beyond the followed ones: when last logged, and refusals since then.
    others: Option<(Instant, u64)>,
}

/// How many sender addresses [`RejectLog`] follows one by one.
pub const REJECT_LOG_SENDERS: usize = 64;

/// A refusal that should be logged now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogNow {
    /// Refusals from the same sender (or, with `others`, from unfollowed senders) that were
    /// not logged since the last line.
    pub suppressed: u64,
    /// The sender is not followed one by one: the line speaks for every unfollowed sender.
    pub others: bool,
}

impl RejectLog {
    /// Records one refusal from `from`; returns `Some` when it should be logged.
    pub fn observe(&mut self, from: IpAddr, reason: &'static str, now: Instant) -> Option<LogNow> {
        *self.counts.entry(reason).or_insert(0) += 1;
        if !self.senders.contains_key(&from) && self.senders.len() >= REJECT_LOG_SENDERS {
            // Forget senders that have been quiet for the whole period before giving up on
            // following this one.
            self.senders
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < REJECT_LOG_EVERY);
        }
        let followed = self.senders.contains_key(&from) || self.senders.len() < REJECT_LOG_SENDERS;
        let slot = if followed {
            self.senders.entry(from).or_insert((now, u64::MAX))
        } else {
            self.others.get_or_insert((now, u64::MAX))
        };
        let log = match slot {
            // A new slot: log at once.
            (_, since) if *since == u64::MAX => Some(0),
            (at, since) if now.saturating_duration_since(*at) >= REJECT_LOG_EVERY => Some(*since),
            (_, since) => {
                *since += 1;
                None
            }
        };
        if let Some(suppressed) = log {
            *slot = (now, 0);
            return Some(LogNow {
                suppressed,
                others: !followed,
            });
        }
        None
    }

    /// How many senders are followed one by one (at most [`REJECT_LOG_SENDERS`]).
    pub fn followed(&self) -> usize {
        self.senders.len()
    }

    /// Counts a packet dropped without logging it (e.g. an older status arriving late).
    pub fn count(&mut self, reason: &'static str) {
        *self.counts.entry(reason).or_insert(0) += 1;
    }

    /// Refusals by reason.
    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }
}

/// The loop's state, apart from the I/O handles.
pub(crate) struct LoopParts {
    pub fsm: Fsm,
    /// The peer runs Heartbeat (`director.conf` `[peer] protocol = "heartbeat"`): its
    /// protocol replaces the encoder and receiver.
    pub heartbeat: Option<Session>,
    pub encoder: Encoder,
    pub receiver: Receiver,
    pub keys: AuthKeys,
    /// Resources of each group, in haresources order.
    pub groups: Vec<Vec<Resource>>,
    pub fence: SelfFence,
    pub stonith: PeerReset,
    /// ha.cf's `watchdog`, written at every heartbeat sent; disarmed on a clean stop only.
    pub watchdog: Option<Watchdog>,
    /// ha.cf's media by interface ([`configured_links`]), shown before anything is heard.
    pub links: Vec<(String, String)>,
    /// Which source addresses the media allow the peer's packets from.
    pub sources: crate::sources::OnLink,
    /// ha.cf's `respawn` programs: started when the node joins, stopped when the loop ends.
    pub clients: Clients,
    status: Arc<Mutex<NodeStatus>>,
}

/// ha.cf's `respawn` programs of a node: not started until the node joins the cluster, as
/// Heartbeat starts its client children in `comm_now_up()`.
pub(crate) struct Clients {
    children: Vec<crate::config::hacf::Respawn>,
    env: Vec<(String, String)>,
    policy: crate::respawn::Policy,
    running: Option<crate::respawn::Supervisor>,
}

impl Clients {
    fn new(cfg: &NodeConfig) -> Clients {
        Clients {
            children: cfg.hacf.respawn.clone(),
            env: script_env(cfg).environment(),
            policy: crate::respawn::Policy::default(),
            running: None,
        }
    }

    /// Starts the programs on `worker` the first time the node is seen running.
    fn join(&mut self, phase: NodePhase, worker: &tokio::runtime::Handle) {
        if self.running.is_some() || self.children.is_empty() || phase != NodePhase::Running {
            return;
        }
        let _rt = worker.enter();
        self.running = Some(crate::respawn::Supervisor::start(
            &self.children,
            &self.env,
            self.policy,
        ));
    }

    /// Stops the programs, last first (Heartbeat stops its children once the resources are
    /// released).
    async fn stop(&mut self) {
        if let Some(s) = self.running.take() {
            s.stop().await;
        }
    }
}

struct LinkSeen {
    medium: String,
    from: Option<SocketAddr>,
    at: Option<Instant>,
    wall: Option<SystemTime>,
    up: bool,
}

impl LinkSeen {
    fn configured(medium: String) -> LinkSeen {
        LinkSeen {
            medium,
            from: None,
            at: None,
            wall: None,
            up: false,
        }
    }
}

struct Book {
    /// Newest (generation, seq) fed to the state machine, per peer: each message is a full
    /// status, so an older one arriving later (reordered, or a delayed replay the window has
    /// not seen) is dropped rather than let it roll the peer's state back.
    newest: HashMap<String, (u64, u64)>,
    links: BTreeMap<String, LinkSeen>,
    peer_heard: Option<SystemTime>,
    transitions: VecDeque<Transition>,
    rejects: RejectLog,
    /// When the current challenge nonce was chosen.
    challenge_since: Instant,
}

/// The node loop: runs until graceful shutdown completes or the node fences itself.
/// Resource work is spawned on `worker`; its results come back through `tx` / `rx`.
pub(crate) async fn run<L: Link, V: Vip>(
    mut parts: LoopParts,
    mut link: L,
    resources: Arc<Resources<V>>,
    worker: tokio::runtime::Handle,
    tx: mpsc::UnboundedSender<Input>,
    mut rx: mpsc::UnboundedReceiver<Input>,
) -> NodeExit {
    let mut book = Book {
        newest: HashMap::new(),
        links: parts
            .links
            .iter()
            .map(|(iface, medium)| (iface.clone(), LinkSeen::configured(medium.clone())))
            .collect(),
        peer_heard: None,
        transitions: VecDeque::new(),
        rejects: RejectLog::default(),
        challenge_since: Instant::now(),
    };
    let mut pending = vec![Event::Start];
    let mut link_open = true;
    loop {
        for ev in pending.drain(..) {
            let now = Instant::now();
            let before = parts.fsm.status();
            let actions = parts.fsm.step(ev, now);
            let actions = heartbeat_outgoing(&mut parts, &link, actions, now).await;
            let exit = carry_out(&mut parts, &link, &resources, &worker, &tx, actions).await;
            let after = parts.fsm.status();
            if joined(&before, &after) {
                resources.peer_joined();
            }
            parts.clients.join(after.phase, &worker);
            for g in regained(&before, &after) {
                reannounce(&parts, g, &resources, &worker);
            }
            note_transitions(&parts, &before, &mut book);
            publish(&parts, &book);
            if let Some(exit) = exit {
                parts.clients.stop().await;
                if exit == NodeExit::Stopped {
                    if let Some(w) = parts.watchdog.take() {
                        w.close();
                    }
                }
                return exit;
            }
        }
        let hb_deadline = parts.heartbeat.as_ref().and_then(Session::next_deadline);
        let deadline = match (parts.fsm.next_deadline(), hb_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            biased;
            r = link.recv(), if link_open => match r {
                Some(r) if parts.heartbeat.is_some() => {
                    let (ev, run) = accept_heartbeat(&mut parts, &mut book, &link, r).await;
                    if !run.is_empty() {
                        carry_out(&mut parts, &link, &resources, &worker, &tx, run).await;
                    }
                    pending.extend(ev);
                }
                Some(r) => {
                    if let Some(ev) = accept(&mut parts, &mut book, r) {
                        pending.push(ev);
                    }
                }
                None => {
                    tracing::error!("every heartbeat medium closed: the peer cannot be heard");
                    link_open = false;
                }
            },
            _ = sleep_until(deadline) => {
                if let Some(hb) = parts.heartbeat.as_mut() {
                    let msgs = hb.tick(Instant::now(), wall_secs());
                    send_heartbeat(&parts, &link, msgs).await;
                }
                check_links(&parts, &mut book);
                rotate_challenge(&mut parts, &mut book);
                pending.push(Event::Tick);
            }
            i = rx.recv() => match i {
                Some(Input::Event(ev)) => pending.push(ev),
                Some(Input::Keys(keys)) => {
                    tracing::info!(index = keys.active, "authkeys reloaded: signing with key {}", keys.active);
                    parts.receiver.set_keys(keys.clone());
                    parts.keys = keys;
                }
                Some(Input::Command(c)) => pending.push(match c {
                    Command::Standby => Event::Standby,
                    Command::Takeover => Event::Takeover,
                    Command::Stop => Event::Stop,
                }),
                // Every handle is gone: shut down gracefully.
                None => pending.push(Event::Stop),
            },
        }
    }
}

/// Groups we held all along that the peer has just stopped claiming (a healed partition:
/// it had taken them, and clients and routers may have followed its gratuitous ARP).
pub(crate) fn regained(before: &crate::fsm::Status, after: &crate::fsm::Status) -> Vec<usize> {
    before
        .groups
        .iter()
        .zip(after.groups.iter())
        .enumerate()
        .filter(|(_, ((_, b_local, b_peer), (_, a_local, a_peer)))| {
            *b_local == GroupState::Active
                && *a_local == GroupState::Active
                && b_peer.claims()
                && !a_peer.claims()
        })
        .map(|(g, _)| g)
        .collect()
}

/// Whether the peer has just become alive (it was dead, gone or not heard yet).
pub(crate) fn joined(before: &crate::fsm::Status, after: &crate::fsm::Status) -> bool {
    let alive = |s: &crate::fsm::Status| matches!(s.peer, Some((_, PeerLife::Alive)));
    !alive(before) && alive(after)
}

/// Announces a group's addresses again (gratuitous ARP / unsolicited NA), so neighbours that
/// followed the peer's announcements come back here.
fn reannounce<V: Vip>(
    parts: &LoopParts,
    g: usize,
    resources: &Arc<Resources<V>>,
    worker: &tokio::runtime::Handle,
) {
    let vips: Vec<Resource> = parts
        .groups
        .get(g)
        .map(|rs| {
            rs.iter()
                .filter(|r| matches!(r, Resource::Vip(_)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if vips.is_empty() {
        return;
    }
    let peer = parts.fsm.config().peer.clone().unwrap_or_default();
    let r = resources.clone();
    worker.spawn(async move {
        for v in &vips {
            tracing::info!(resource = %v.display(), "{peer} gave up {}: announcing it again", v.display());
            // Adding a present address only sends the announcements.
            if let Err(e) = r.run(v, crate::resources::Op::Start).await {
                tracing::error!(error = %e, "{e}");
            }
        }
    });
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn accept(parts: &mut LoopParts, book: &mut Book, r: Received) -> Option<Event> {
    let now = Instant::now();
    let source_allowed = parts.sources.allows(&r.iface, r.from.ip(), now);
    match parts.receiver.accept_from(&r.data, source_allowed) {
        Ok((msg, _fresh)) => {
            let id = (msg.generation, msg.seq);
            if book.newest.get(&msg.node).is_some_and(|n| id <= *n) {
                tracing::debug!(from = %r.from, generation = msg.generation, seq = msg.seq, "older status than one already seen: dropped");
                book.rejects.count("out_of_order");
                return None;
            }
            book.newest.insert(msg.node.clone(), id);
            note_link(book, &r, &msg.node, now);
            Some(Event::Heard(msg))
        }
        Err(rej @ Rejection::Unverified { .. }) => {
            // Normal once after either node starts or a partition heals (the peer has not
            // heard our latest nonce yet); counted, and refused like any stale packet.
            tracing::debug!(from = %r.from, iface = %r.iface, "{rej}");
            book.rejects.count("unverified");
            None
        }
        Err(rej) => {
            if let Some(reason) = rejection_reason(&rej) {
                let hint = if r.data.starts_with(b"###\n") || r.data.starts_with(b">>>\n") {
                    "; it is Heartbeat's: set [peer] protocol = \"heartbeat\" in director.conf \
                     to pair with a Heartbeat node"
                } else {
                    ""
                };
                log_rejection(book, &r, reason, &format!("{rej}{hint}"), now);
            }
            None
        }
    }
}

/// Counts a refused packet and logs it when [`RejectLog`] says so.
fn log_rejection(book: &mut Book, r: &Received, reason: &'static str, what: &str, now: Instant) {
    let Some(LogNow { suppressed, others }) = book.rejects.observe(r.from.ip(), reason, now) else {
        return;
    };
    let more = if others {
        format!(
            "{suppressed} more from other addresses not logged in the last minute; \
             more than {REJECT_LOG_SENDERS} addresses send refused packets"
        )
    } else {
        format!("{suppressed} more not logged in the last minute")
    };
    tracing::warn!(
        from = %r.from,
        iface = %r.iface,
        reason,
        suppressed,
        "packet from {} on {} rejected: {what} ({more})",
        r.from,
        r.iface
    );
}

/// The Heartbeat session of a node whose peer runs Heartbeat (`None`: director's protocol).
/// The UUID Heartbeat knows us by is kept in the state dir (`hb_uuid`), as Heartbeat keeps
/// its own in `/var/lib/heartbeat/hb_uuid`.
fn heartbeat_session(cfg: &NodeConfig, fsm: &Fsm, generation: u64) -> Option<Session> {
    if cfg.settings.peer.protocol != settings::Protocol::Heartbeat {
        return None;
    }
    let path = cfg.state_dir.join("hb_uuid");
    let uuid = match std::fs::read(&path) {
        Ok(b) if b.len() == 16 => b.try_into().unwrap_or_default(),
        _ => {
            let fresh: [u8; 16] = rand::random();
            if let Err(e) = std::fs::write(&path, fresh) {
                tracing::warn!(error = %e, "cannot keep our Heartbeat uuid in {}: {e}", path.display());
            }
            fresh
        }
    };
    tracing::info!("the peer speaks Heartbeat's protocol (director.conf [peer] protocol)");
    Some(Session::new(
        Identity {
            node: cfg.node_name.clone(),
            uuid,
            generation,
        },
        fsm,
        cfg.hacf.nodes.clone(),
        cfg.hacf.hopfudge,
        rand::random::<u8>() % 10,
    ))
}

fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs and sends Heartbeat messages on every medium.
async fn send_heartbeat<L: Link>(parts: &LoopParts, link: &L, msgs: Vec<wire::HeartbeatMessage>) {
    for m in msgs {
        match wire::emit(&m, &parts.keys) {
            Ok(bytes) => {
                link.send(&bytes).await;
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a Heartbeat message: {e}"),
        }
    }
}

/// With a Heartbeat peer: the Fsm's sends become Heartbeat messages (sent here), and
/// hand-over releases wait for the peer's agreement; returns the actions left to carry out.
async fn heartbeat_outgoing<L: Link>(
    parts: &mut LoopParts,
    link: &L,
    actions: Vec<Action>,
    now: Instant,
) -> Vec<Action> {
    let Some(hb) = parts.heartbeat.as_mut() else {
        return actions;
    };
    let (run, msgs) = hb.outgoing(actions, &parts.fsm, now, wall_secs());
    let sent = !msgs.is_empty();
    send_heartbeat(parts, link, msgs).await;
    if sent {
        if let Some(w) = parts.watchdog.as_mut() {
            w.tickle();
        }
    }
    run
}

/// A short, stable name for why a Heartbeat packet was refused (`None`: not counted).
fn heartbeat_rejection_reason(r: &HeartbeatRejection) -> Option<&'static str> {
    use hb::Rejection as R;
    use wire::DecodeError as D;
    Some(match r {
        HeartbeatRejection::Decode(d) => match d {
            D::BadAuth(_) => "bad_auth",
            D::UnknownKey(_) => "unknown_key",
            D::Unsigned => "unsigned",
            D::NotHeartbeat => "bad_magic",
            D::TooLong(_) | D::Field { .. } | D::Trailer(_) => "malformed",
        },
        HeartbeatRejection::Session(s) => match s {
            R::Own | R::NotForUs(_) => return None,
            R::Missing(_) => "malformed",
            R::UnknownNode(_) => "unknown_node",
            R::OldGeneration { .. } => "old_generation",
            R::Replay { .. } => "replay",
            R::Source { .. } => "source",
        },
    })
}

/// Why a packet from a Heartbeat peer was refused.
#[derive(Debug, thiserror::Error)]
enum HeartbeatRejection {
    #[error(transparent)]
    Decode(#[from] wire::DecodeError),
    #[error(transparent)]
    Session(#[from] hb::Rejection),
}

/// With a Heartbeat peer: checks one datagram, sends what it calls for, and returns the
/// Fsm's event and the actions it releases.
async fn accept_heartbeat<L: Link>(
    parts: &mut LoopParts,
    book: &mut Book,
    link: &L,
    r: Received,
) -> (Option<Event>, Vec<Action>) {
    let now = Instant::now();
    let source_allowed = parts.sources.allows(&r.iface, r.from.ip(), now);
    let result = wire::parse(&r.data, &parts.keys)
        .map_err(HeartbeatRejection::from)
        .and_then(|(msg, _)| {
            let Some(hb) = parts.heartbeat.as_mut() else {
                return Err(hb::Rejection::Missing("session").into());
            };
            hb.receive(&msg, source_allowed, &parts.fsm, now, wall_secs())
                .map_err(HeartbeatRejection::from)
        });
    match result {
        Err(HeartbeatRejection::Decode(wire::DecodeError::NotHeartbeat)) => {
            switch_to_director(parts, book, r)
        }
        Err(HeartbeatRejection::Session(ref rej @ hb::Rejection::Replay { .. })) => {
            // Heartbeat drops copies silently: a retransmission we asked for may cross the
            // late original. Counted; a replay shows in the count.
            tracing::debug!(from = %r.from, "{rej}");
            book.rejects.count("replay");
            (None, Vec::new())
        }
        Ok(out) => {
            send_heartbeat(parts, link, out.send).await;
            let peer = parts.fsm.config().peer.clone().unwrap_or_default();
            note_link(book, &r, &peer, now);
            (out.event, out.run)
        }
        Err(rej) => {
            if let Some(reason) = heartbeat_rejection_reason(&rej) {
                log_rejection(book, &r, reason, &rej.to_string(), now);
            }
            (None, Vec::new())
        }
    }
}

/// The last step of a rolling migration: the peer restarted with `[peer] protocol =
/// "director"`. An authentic director packet from it, of a newer generation than its
/// Heartbeat messages (so not one replayed from before), ends the Heartbeat session: from now
/// on this node speaks director's protocol too, until it restarts with its own setting.
fn switch_to_director(
    parts: &mut LoopParts,
    book: &mut Book,
    r: Received,
) -> (Option<Event>, Vec<Action>) {
    let peer = parts.fsm.config().peer.clone().unwrap_or_default();
    let newer = match (crate::packet::parse(&r.data, &parts.keys), &parts.heartbeat) {
        (Ok(msg), Some(hb)) => {
            msg.node == peer && hb.peer_generation().is_none_or(|g| msg.generation > g)
        }
        _ => false,
    };
    if !newer {
        book.rejects.count("bad_magic");
        return (None, Vec::new());
    }
    tracing::warn!(
        "{peer} now speaks director's protocol: switching to it (set [peer] protocol = \
         \"director\" in director.conf before this node restarts)"
    );
    let run = parts
        .heartbeat
        .take()
        .map(|mut hb| hb.abandon())
        .unwrap_or_default();
    (accept(parts, book, r), run)
}

/// A packet from the peer came in on `r.iface`: the link is up.
fn note_link(book: &mut Book, r: &Received, peer: &str, now: Instant) {
    let wall = SystemTime::now();
    book.peer_heard = Some(wall);
    let l = book
        .links
        .entry(r.iface.clone())
        .or_insert_with(|| LinkSeen::configured(r.iface.clone()));
    if !l.up {
        tracing::info!(link = %r.iface, "Link {peer}:{} up.", r.iface);
    }
    l.from = Some(r.from);
    l.at = Some(now);
    l.wall = Some(wall);
    l.up = true;
}

/// A new challenge nonce every deadtime: a message is taken only if it echoes the current
/// or the previous one, so none older than about two deadtimes is ([`Receiver::rotate`]).
fn rotate_challenge(parts: &mut LoopParts, book: &mut Book) {
    let now = Instant::now();
    if now.saturating_duration_since(book.challenge_since) >= parts.fsm.config().deadtime {
        parts.receiver.rotate(rand::random());
        book.challenge_since = now;
    }
}

fn check_links(parts: &LoopParts, book: &mut Book) {
    let now = Instant::now();
    let dead_after = parts.fsm.config().deadtime;
    let peer = parts.fsm.config().peer.clone().unwrap_or_default();
    for (iface, l) in book.links.iter_mut() {
        let silent =
            l.at.is_some_and(|at| now.saturating_duration_since(at) >= dead_after);
        if l.up && silent {
            l.up = false;
            tracing::warn!(link = %iface, "Link {peer}:{iface} dead.");
        }
    }
}

/// Carries out actions in order; returns how the node ends, if it does.
async fn carry_out<L: Link, V: Vip>(
    parts: &mut LoopParts,
    link: &L,
    resources: &Arc<Resources<V>>,
    worker: &tokio::runtime::Handle,
    tx: &mpsc::UnboundedSender<Input>,
    actions: Vec<Action>,
) -> Option<NodeExit> {
    let mut exit = None;
    for a in actions {
        match a {
            Action::Send(payload) => {
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                match parts
                    .encoder
                    .encode(&payload, ts, parts.receiver.stamp(), &parts.keys)
                {
                    Ok(bytes) => {
                        if link.send(&bytes).await == 0 {
                            tracing::debug!("heartbeat not sent on any medium");
                        }
                        // The loop is alive and sending: keep the machine up.
                        if let Some(w) = parts.watchdog.as_mut() {
                            w.tickle();
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot encode heartbeat: {e}"),
                }
            }
            Action::Probe(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let mut running = false;
                    for res in &group {
                        if r.is_running(res).await {
                            tracing::info!(resource = %res.display(), "Resource {} is running here", res.display());
                            running = true;
                        }
                    }
                    let _ = tx.send(Input::Event(Event::Probed { group: g, running }));
                });
            }
            Action::Acquire(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                let takeover = Takeover {
                    from_live_peer: parts.fsm.peer_life() == Some(PeerLife::Alive),
                };
                worker.spawn(async move {
                    let ok = match r.acquire_group(&group, takeover).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Acquired { group: g, ok }));
                });
            }
            Action::Release(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let ok = match r.release_group(&group).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Released { group: g, ok }));
                });
            }
            Action::Monitor(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let mut failed = Vec::new();
                    for (i, res) in group.iter().enumerate() {
                        match r.monitor(res).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(resource = %res.display(), "Resource {} is not running (monitor)", res.display());
                                failed.push(i);
                            }
                            Err(e) => {
                                tracing::warn!(resource = %res.display(), error = %e, "Resource {} monitor failed: {e}", res.display());
                                failed.push(i);
                            }
                        }
                    }
                    let _ = tx.send(Input::Event(Event::Monitored { group: g, failed }));
                });
            }
            Action::Restart {
                group: g,
                resources: which,
            } => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let ok = match r.restart(&group, &which).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Restarted { group: g, ok }));
                });
            }
            Action::ResetPeer(name) => {
                let stonith = parts.stonith.clone();
                let tx = tx.clone();
                worker.spawn(async move {
                    let ok = crate::stonith::reset(&stonith, &name).await;
                    let _ = tx.send(Input::Event(Event::PeerReset { ok }));
                });
            }
            Action::FenceSelf(_) => {
                exit = fence_self(&parts.fence).await.or(exit);
            }
            Action::Log(level, text) => log(level, &text),
            Action::Exit => exit = Some(NodeExit::Stopped),
        }
    }
    exit
}

async fn fence_self(how: &SelfFence) -> Option<NodeExit> {
    let (prog, args): (&str, Vec<String>) = match how {
        SelfFence::Ignore => return None,
        SelfFence::Exit => {
            tracing::error!(
                "CRIT: fencing this node: the failover node stops (configured action: exit)"
            );
            return Some(NodeExit::Fenced);
        }
        SelfFence::Reboot => ("reboot", vec!["-nf".into()]),
        SelfFence::PowerOff => ("poweroff", vec!["-nf".into()]),
        SelfFence::Command(argv) => match argv.split_first() {
            Some((p, a)) => (p.as_str(), a.to_vec()),
            None => {
                tracing::error!("CRIT: fencing this node: empty fencing command; the node stops");
                return Some(NodeExit::Fenced);
            }
        },
    };
    let line = std::iter::once(prog.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::error!("CRIT: fencing this node: {line}");
    let run = tokio::process::Command::new(prog)
        .args(&args)
        .kill_on_drop(true)
        .status();
    let ok = match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(s)) if s.success() => true,
        Ok(Ok(s)) => {
            tracing::error!("fencing command {line} failed ({s})");
            false
        }
        Ok(Err(e)) => {
            tracing::error!("cannot run {line}: {e}");
            false
        }
        Err(_) => {
            tracing::error!("fencing command {line} did not finish within 60 s");
            false
        }
    };
    if !ok && matches!(how, SelfFence::Reboot) {
        // Heartbeat's fallback when reboot cannot run.
        if let Err(e) = tokio::process::Command::new("init").arg("6").status().await {
            tracing::error!("cannot run init 6: {e}");
        }
    }
    Some(NodeExit::Fenced)
}

fn log(level: Level, text: &str) {
    match level {
        Level::Info => tracing::info!("{text}"),
        Level::Warn => tracing::warn!("WARN: {text}"),
        Level::Error => tracing::error!("ERROR: {text}"),
        Level::Crit => tracing::error!("CRIT: {text}"),
    }
}

fn state_name(s: GroupState) -> &'static str {
    match s {
        GroupState::Unknown => "unknown",
        GroupState::Standby => "standby",
        GroupState::Acquiring => "acquiring",
        GroupState::Active => "active",
        GroupState::Releasing => "releasing",
        GroupState::Failed => "failed",
        GroupState::Cleaning => "cleaning",
    }
}

fn phase_name(p: NodePhase) -> &'static str {
    match p {
        NodePhase::Created => "created",
        NodePhase::Init => "init",
        NodePhase::Running => "running",
        NodePhase::Stopping => "stopping",
        NodePhase::Stopped => "stopped",
        NodePhase::Fenced => "fenced",
    }
}

fn life_name(l: PeerLife) -> &'static str {
    match l {
        PeerLife::Unknown => "unknown",
        PeerLife::Alive => "alive",
        PeerLife::Dead => "dead",
        PeerLife::Gone => "gone",
    }
}

fn initial_status(cfg: &NodeConfig, generation: u64) -> NodeStatus {
    NodeStatus {
        updated: tokio::time::Instant::now(),
        node: cfg.node_name.clone(),
        phase: "created",
        standby: false,
        generation,
        ping_reachable: u16::try_from(cfg.hacf.ping_nodes.len()).unwrap_or(u16::MAX),
        ping_nodes: u16::try_from(cfg.hacf.ping_nodes.len()).unwrap_or(u16::MAX),
        peer: None,
        links: configured_links(&cfg.hacf)
            .into_iter()
            .map(|(iface, medium)| LinkStatus {
                iface,
                medium,
                from: None,
                up: false,
                last_heard: None,
            })
            .collect(),
        groups: Vec::new(),
        transitions: Vec::new(),
        rejected: BTreeMap::new(),
    }
}

fn note_transitions(parts: &LoopParts, before: &crate::fsm::Status, book: &mut Book) {
    let after = parts.fsm.status();
    let mut changes = Vec::new();
    if before.phase != after.phase {
        changes.push(format!(
            "node {}: {} -> {}",
            parts.fsm.config().local,
            phase_name(before.phase),
            phase_name(after.phase)
        ));
    }
    if let (Some((name, b)), Some((_, a))) = (&before.peer, &after.peer) {
        if a != b {
            changes.push(format!(
                "peer {name}: {} -> {}",
                life_name(*b),
                life_name(*a)
            ));
        }
    }
    for ((key, b, _), (_, a, _)) in before.groups.iter().zip(after.groups.iter()) {
        if a != b {
            changes.push(format!("{key}: {} -> {}", state_name(*b), state_name(*a)));
        }
    }
    let at = SystemTime::now();
    for what in changes {
        if book.transitions.len() >= TRANSITIONS_KEPT {
            book.transitions.pop_front();
        }
        book.transitions.push_back(Transition { at, what });
    }
}

fn publish(parts: &LoopParts, book: &Book) {
    let s = parts.fsm.status();
    let cfg = parts.fsm.config();
    let status = NodeStatus {
        updated: tokio::time::Instant::now(),
        node: cfg.local.clone(),
        phase: phase_name(s.phase),
        standby: s.standby,
        generation: parts.encoder.generation(),
        ping_reachable: s.ping_reachable,
        ping_nodes: cfg.ping_nodes,
        peer: s.peer.map(|(name, life)| PeerStatus {
            name,
            life: life_name(life),
            last_heard: book.peer_heard,
            role: s.peer_report.map(|(phase, _)| {
                let held = s
                    .groups
                    .iter()
                    .filter(|(_, _, peer)| *peer == GroupState::Active)
                    .count();
                peer_role(phase, held, s.groups.len())
            }),
            standby: s.peer_report.is_some_and(|(_, standby)| standby),
        }),
        links: parts
            .links
            .iter()
            .map(|(iface, _)| iface)
            .chain(
                book.links
                    .keys()
                    .filter(|k| !parts.links.iter().any(|(i, _)| i == *k)),
            )
            .filter_map(|iface| {
                let l = book.links.get(iface)?;
                Some(LinkStatus {
                    iface: iface.clone(),
                    medium: l.medium.clone(),
                    from: l.from,
                    up: l.up,
                    last_heard: l.wall,
                })
            })
            .collect(),
        groups: s
            .groups
            .iter()
            .enumerate()
            .map(|(i, (key, local, peer))| GroupInfo {
                key: key.clone(),
                preferred: cfg
                    .groups
                    .get(i)
                    .map(|g| g.preferred.clone())
                    .unwrap_or_default(),
                resources: parts
                    .groups
                    .get(i)
                    .map(|g| g.iter().map(Resource::display).collect())
                    .unwrap_or_default(),
                local: state_name(*local),
                peer: state_name(*peer),
            })
            .collect(),
        transitions: book.transitions.iter().cloned().collect(),
        rejected: book.rejects.counts().clone(),
    };
    // Never block the heartbeat thread on a reader (a normal-priority thread preempted while
    // holding the lock would delay heartbeats: priority inversion). A skipped update is
    // replaced by the next one, at most a keepalive later.
    match parts.status.try_lock() {
        Ok(mut g) => *g = status,
        Err(std::sync::TryLockError::Poisoned(p)) => *p.into_inner() = status,
        Err(std::sync::TryLockError::WouldBlock) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::authkeys::AuthMethod;
    use crate::packet::{Kind, Message, Payload, Phase};
    use crate::vip::{Placement, VipError, VipSpec};
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
            status: status.clone(),
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

    #[test]
    fn links_and_roles_in_words() {
        let cf = hacf::parse(
            Path::new("ha.cf"),
            "bcast eth1\nucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nmcast eth1 225.0.0.1 694 1 0\n\
             node a\nnode b\nauto_failback on\n",
        )
        .map(|p| p.value)
        .unwrap_or_default();
        assert_eq!(
            configured_links(&cf),
            vec![
                ("eth1".to_string(), "bcast+mcast eth1".to_string()),
                ("eth0".to_string(), "ucast eth0".to_string())
            ]
        );
        assert_eq!(peer_role(Phase::Running, 2, 2), "active");
        assert_eq!(peer_role(Phase::Running, 0, 2), "standby");
        assert_eq!(peer_role(Phase::Running, 1, 2), "partial");
        assert_eq!(peer_role(Phase::Init, 0, 2), "init");
        assert_eq!(peer_role(Phase::Stopping, 2, 2), "stopping");
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
            ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>
            {
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

    #[test]
    fn joined_only_when_the_peer_becomes_alive() {
        use crate::fsm::Status;
        let st = |life: Option<PeerLife>| Status {
            phase: NodePhase::Running,
            standby: false,
            ping_reachable: 0,
            groups: vec![],
            peer: life.map(|l| ("ha02".to_string(), l)),
            peer_report: None,
        };
        use PeerLife::*;
        assert!(joined(&st(Some(Unknown)), &st(Some(Alive))));
        assert!(joined(&st(Some(Dead)), &st(Some(Alive))));
        assert!(joined(&st(None), &st(Some(Alive))));
        assert!(!joined(&st(Some(Alive)), &st(Some(Alive))));
        assert!(!joined(&st(Some(Alive)), &st(Some(Dead))));
        assert!(!joined(&st(Some(Dead)), &st(Some(Dead))));
    }

    #[test]
    fn regained_only_when_the_peer_stops_claiming_what_we_kept() {
        use crate::fsm::Status;
        let st = |local, peer| Status {
            phase: NodePhase::Running,
            standby: false,
            ping_reachable: 0,
            groups: vec![("g".into(), local, peer)],
            peer: None,
            peer_report: None,
        };
        use GroupState::*;
        assert_eq!(
            regained(&st(Active, Releasing), &st(Active, Standby)),
            vec![0]
        );
        assert_eq!(regained(&st(Active, Active), &st(Active, Standby)), vec![0]);
        // Ordinary failback: we were acquiring, not holding.
        assert!(regained(&st(Acquiring, Standby), &st(Active, Standby)).is_empty());
        assert!(regained(&st(Active, Standby), &st(Active, Standby)).is_empty());
        assert!(regained(&st(Active, Active), &st(Releasing, Standby)).is_empty());
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
                    config_digest: 0,
                    groups: Vec::new(),
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
            ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>
            {
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

    #[test]
    fn fencing_actions_parse() {
        assert_eq!("reboot".parse::<SelfFence>(), Ok(SelfFence::Reboot));
        assert_eq!(" poweroff ".parse::<SelfFence>(), Ok(SelfFence::PowerOff));
        assert_eq!("exit".parse::<SelfFence>(), Ok(SelfFence::Exit));
        assert_eq!("ignore".parse::<SelfFence>(), Ok(SelfFence::Ignore));
        assert_eq!(
            "/usr/local/sbin/fence-me --now self".parse::<SelfFence>(),
            Ok(SelfFence::Command(vec![
                "/usr/local/sbin/fence-me".into(),
                "--now".into(),
                "self".into()
            ]))
        );
        let e = "halt".parse::<SelfFence>().err().unwrap_or_default();
        assert!(e.contains("invalid fencing action [halt]"), "{e}");
        assert!(
            "fence-me".parse::<SelfFence>().is_err(),
            "relative path accepted"
        );
        // Heartbeat reboots: so does the default.
        assert_eq!(NodeOptions::default().fence, SelfFence::Reboot);
        assert_eq!(SelfFence::default().action(), FenceAction::Reboot);
        assert_eq!(SelfFence::Ignore.action(), FenceAction::None);
    }

    #[tokio::test]
    async fn fencing_runs_the_configured_command_then_ends_the_node() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("fenced");
        let script = dir.path().join("fence-me");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$*\" > {}\n", out.display()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let how = SelfFence::Command(vec![script.display().to_string(), "self".into()]);
        assert_eq!(fence_self(&how).await, Some(NodeExit::Fenced));
        assert_eq!(
            std::fs::read_to_string(&out).ok().as_deref(),
            Some("self\n")
        );
        // A failing command still ends the node: it must stop claiming the group.
        let how = SelfFence::Command(vec![dir.path().join("missing").display().to_string()]);
        assert_eq!(fence_self(&how).await, Some(NodeExit::Fenced));
        assert_eq!(fence_self(&SelfFence::Exit).await, Some(NodeExit::Fenced));
        assert_eq!(fence_self(&SelfFence::Ignore).await, None);
    }

    #[test]
    fn generation_grows_and_survives_restarts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let t = UNIX_EPOCH + Duration::from_secs(1_000);
        let g1 = next_generation(dir.path(), t).unwrap_or_default();
        let g2 = next_generation(dir.path(), t).unwrap_or_default();
        assert_eq!((g1, g2), (1_000, 1_001));
        // The clock moved on: never below it.
        assert_eq!(
            next_generation(dir.path(), t + Duration::from_secs(50)).ok(),
            Some(1_050)
        );
        // A clock set back does not make the counter go back.
        assert_eq!(next_generation(dir.path(), UNIX_EPOCH).ok(), Some(1_051));
        // The file is corrupt: the clock still keeps it moving forward.
        let _ = std::fs::write(dir.path().join(GENERATION_FILE), "garbage");
        assert_eq!(
            next_generation(dir.path(), t + Duration::from_secs(60)).ok(),
            Some(1_060)
        );
    }

    #[test]
    fn rejections_are_logged_once_a_minute_per_sender() {
        let mut log = RejectLog::default();
        let t = Instant::now();
        let x: IpAddr = "192.0.2.13".parse().unwrap_or_else(|_| unreachable!());
        let y: IpAddr = "192.0.2.14".parse().unwrap_or_else(|_| unreachable!());
        let now = |suppressed| {
            Some(LogNow {
                suppressed,
                others: false,
            })
        };
        assert_eq!(log.observe(x, "bad_auth", t), now(0));
        assert_eq!(log.observe(x, "bad_auth", t + Duration::from_secs(1)), None);
        assert_eq!(log.observe(x, "replay", t + Duration::from_secs(2)), None);
        assert_eq!(log.observe(y, "replay", t + Duration::from_secs(2)), now(0));
        assert_eq!(
            log.observe(x, "bad_auth", t + Duration::from_secs(61)),
            now(2)
        );
        assert_eq!(log.counts().get("bad_auth"), Some(&3));
        assert_eq!(log.counts().get("replay"), Some(&2));
    }

    /// A flood from forged source addresses (IPv4 and IPv6): one line per followed sender,
    /// then one line a minute for all the others, and memory bounded by the followed count.
    #[test]
    fn a_spoofed_flood_is_logged_and_kept_in_bounded_space() {
        let mut log = RejectLog::default();
        let t = Instant::now();
        let mut lines = 0;
        for i in 0..100_000u32 {
            let from: IpAddr = if i % 2 == 0 {
                IpAddr::V4(std::net::Ipv4Addr::from(0xC000_0200 | (i & 0xff)))
            } else {
                IpAddr::V6(std::net::Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                ))
            };
            let at = t + Duration::from_micros(u64::from(i));
            if log.observe(from, "bad_auth", at).is_some() {
                lines += 1;
            }
        }
        assert_eq!(
            lines,
            REJECT_LOG_SENDERS + 1,
            "one line per followed sender and one for the rest"
        );
        assert_eq!(log.followed(), REJECT_LOG_SENDERS);
        assert_eq!(log.counts().get("bad_auth"), Some(&100_000));
        // A minute later the others get one more line, with what was not logged.
        let later = log.observe(
            "2001:db8::ffff".parse().unwrap_or_else(|_| unreachable!()),
            "bad_auth",
            t + Duration::from_secs(61),
        );
        // The flood's senders have been quiet for a minute: they are forgotten, and a new
        // sender is followed (and logged) on its own again.
        assert_eq!(
            later,
            Some(LogNow {
                suppressed: 0,
                others: false
            })
        );
        assert_eq!(log.followed(), 1);
    }

    #[test]
    fn rejection_reasons() {
        use crate::packet::DecodeError;
        assert_eq!(rejection_reason(&Rejection::Own), None);
        assert_eq!(
            rejection_reason(&Rejection::Decode(DecodeError::BadAuth(1))),
            Some("bad_auth")
        );
        assert_eq!(
            rejection_reason(&Rejection::Decode(DecodeError::Short(3))),
            Some("malformed")
        );
    }

    /// What loading the config dir `d` refuses, in words (empty when it loads).
    fn load_error(d: &Path) -> String {
        NodeConfig::load(d, &d.join("state"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_heartbeat_peer_needs_auto_failback_on_or_off() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap_or_default();
        w("authkeys", "auth 1\n1 sha1 secret\n");
        w("haresources", "ha01 192.0.2.100\n");
        w("nodeinfo", "ha01\n");
        w("director.conf", "[peer]\nprotocol = \"heartbeat\"\n");
        let hacf =
            |af: &str| format!("keepalive 1\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\n{af}");
        for af in ["", "auto_failback legacy\n"] {
            w("ha.cf", &hacf(af));
            let e = load_error(d);
            assert!(
                e.contains(
                    "director.conf: peer protocol \"heartbeat\" needs auto_failback on or off"
                ),
                "{af}: {e}"
            );
        }
        w("ha.cf", &hacf("auto_failback off\n"));
        let cfg = NodeConfig::load(d, &d.join("state")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.settings.peer.protocol, settings::Protocol::Heartbeat);
    }

    #[test]
    fn load_collects_every_error_and_start_checks_authkeys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap_or_default();
        w(
            "ha.cf",
            "keepalive 1\nbogus directive\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\n",
        );
        w("authkeys", "auth 3\n1 sha1 secret\n");
        w("haresources", "ha01 192.0.2.100\n");
        w("nodeinfo", "ha01\n");
        w("director.conf", "[monitor]\nrestart = 3\n");
        let e = NodeConfig::load(d, &d.join("state"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("ha.cf:2:"), "{e}");
        assert!(e.contains("authkeys"), "{e}");
        assert!(
            e.contains("director.conf:2: unknown field `restart`"),
            "{e}"
        );
        // director.conf is optional; its [monitor] reaches the state machine.
        std::fs::remove_file(d.join("director.conf")).unwrap_or_default();
        // Cross-file checks once each file parses.
        w(
            "ha.cf",
            "keepalive 1\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\nauto_failback on\n",
        );
        w("authkeys", "auth 1\n1 sha1 secret\n");
        w("haresources", "ha03 192.0.2.100\n");
        let e = NodeConfig::load(d, &d.join("state"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("haresources:1: node ha03 is not listed"), "{e}");
        // respawn programs must exist and be executable (Heartbeat checks at parse time).
        w(
            "ha.cf",
            "keepalive 1\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\nauto_failback on\n\
             respawn root /nonexistent/ipfail\n",
        );
        w("haresources", "ha01 192.0.2.100\n");
        let e = NodeConfig::load(d, &d.join("state"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains(
                "ha.cf:6: respawn: client child command [/nonexistent/ipfail] is not executable"
            ),
            "{e}"
        );
        w(
            "ha.cf",
            "keepalive 1\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\nauto_failback on\n",
        );
        let cfg = NodeConfig::load(d, &d.join("state"));
        assert!(cfg.is_ok(), "{cfg:?}");
        let monitor = cfg.as_ref().ok().and_then(|c| c.fsm_config().monitor);
        assert_eq!(monitor.map(|m| m.restarts), Some(3), "on by default");
        w("director.conf", "[monitor]\nenabled = false\n");
        let off = NodeConfig::load(d, &d.join("state")).map(|c| c.fsm_config().monitor);
        assert!(matches!(off, Ok(None)), "{off:?}");
        let _ =
            std::fs::set_permissions(d.join("authkeys"), std::fs::Permissions::from_mode(0o644));
        let e = check_authkeys(&d.join("authkeys"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("Bad permissions on keyfile"), "{e}");
        if let Ok(cfg) = cfg {
            assert!(
                Node::start(cfg).is_err(),
                "started with a world-readable authkeys"
            );
        }
    }
}
