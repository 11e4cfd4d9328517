//! What a node is configured with: Heartbeat's files, `director.conf` and the knobs that are
//! in neither ([`NodeOptions`]), loaded together so every error of the three files is
//! reported at once; the generation counter kept in the state dir; the environment of
//! resource scripts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::authkeys::{self, AuthKeys};
use crate::config::hacf::{self, HaCf};
use crate::config::haresources::{self, Haresources};
use crate::config::settings::{self, Settings};
use crate::config::{cluster, nodeinfo, ConfigError, Diagnostic};
use crate::fsm::FsmConfig;
use crate::peer::PeerError;
use crate::resources::{NativeResource, Resource, Resources, ScriptEnv};
use crate::vip::{Announce, Vip};

use super::{PeerReset, SelfFence};

/// The generation counter file in the state dir.
const GENERATION_FILE: &str = "generation";

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
        if let (Some(r), Some(s)) = (&res, &settings) {
            for n in &s.notify {
                let Some(g) = &n.group else { continue };
                if !r.groups.iter().any(|h| h.key() == g) {
                    let keys: Vec<&str> = r.groups.iter().map(|h| h.key()).collect();
                    diagnostics.push(Diagnostic::error(
                        &config_dir.join(settings::FILE_NAME),
                        n.line,
                        format!(
                            "notify: group \"{g}\" is not a group of haresources (its groups: {})",
                            keys.join(", ")
                        ),
                    ));
                }
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
        c.tracks = self.settings.tracks.clone();
        c.failback_hold = self.settings.failback.hold;
        c
    }

    pub(super) fn groups(&self) -> Vec<Vec<Resource>> {
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

/// The `HA_*` environment of resource scripts and respawned programs.
pub(super) fn script_env(cfg: &NodeConfig) -> ScriptEnv {
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

pub(super) fn build_resources<V: Vip>(cfg: &NodeConfig, vip: Arc<V>) -> Resources<V> {
    let mut r = Resources::new(vip, script_env(cfg));
    for (name, native) in &cfg.natives {
        r.register_native(name.clone(), native.clone());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;

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
    fn notify_groups_must_be_haresources_groups_and_tracks_reach_the_fsm() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap_or_default();
        w("authkeys", "auth 1\n1 sha1 secret\n");
        w("haresources", "ha01 192.0.2.100 httpd\n");
        w("nodeinfo", "ha01\n");
        w(
            "ha.cf",
            "keepalive 1\nnode ha01\nnode ha02\nucast eth0 192.0.2.12\nauto_failback on\n",
        );
        w(
            "director.conf",
            "[[notify]]\ngroup = \"192.0.2.100\"\nmaster = \"/m\"\n\n[[notify]]\n\
             group = \"192.0.2.101\"\nmaster = \"/m\"\n",
        );
        assert_eq!(
            load_error(d).replace(&format!("{}/", d.display()), ""),
            "director.conf:5: notify: group \"192.0.2.101\" is not a group of haresources \
             (its groups: 192.0.2.100)"
        );
        w(
            "director.conf",
            "[track.script.chk]\nscript = \"true\"\n[failback]\nhold = \"5s\"\n",
        );
        let cfg = NodeConfig::load(d, &d.join("state")).unwrap_or_else(|e| panic!("{e}"));
        let fsm = cfg.fsm_config();
        assert_eq!(fsm.tracks.len(), 1);
        assert_eq!(fsm.failback_hold, Duration::from_secs(5));
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
