//! `director run`: the files, the kernel table, the failover node or the single director's
//! loops, the control socket, metrics and signals, until SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::lvs::{self, Kernel, LvsOptions, LvsStatus, ReloadCause};
use super::operator_side::{peer_record, real_request, OperatorPeer, OperatorSide};
use super::options::{Backend, DaemonError, Options};
use super::reload::{reload_all, RunFiles, SingleFiles};
use super::set::{start_all, LvsSet};
use super::status::{build_status, log_to_hacf_targets, log_to_logfile_of};
use super::traffic::TrafficReader;
use super::{announcer, heap, operator, pair, sdwatchdog, signals};
use crate::config::{locate, DEFAULT_NAME};
use crate::control::{self, Request, Response};
use crate::ipvs::client::Client;
use crate::ipvs::memory::MemoryIpvs;
use crate::logging;
use crate::metrics;
use crate::traffic::Names;

/// Run the daemon until SIGTERM/SIGINT.
pub fn run(opts: Options) -> Result<(), DaemonError> {
    heap::few_arenas();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    rt.block_on(run_async(opts))
}

/// The files `director run` runs: `--ldirectord` ones, else `ldirectord.cf` of the directory.
pub fn files(opts: &Options) -> Result<Vec<PathBuf>, String> {
    let names: Vec<String> = if opts.ldirectord.is_empty() {
        vec![DEFAULT_NAME.to_string()]
    } else {
        opts.ldirectord
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    };
    names
        .iter()
        .map(|n| {
            locate(n, &opts.config_dir)
                .map(|l| l.path)
                .ok_or_else(|| format!("Config file {n} not found"))
        })
        .collect()
}

/// Connect to the chosen table.
pub fn open_kernel(backend: Backend) -> Result<Kernel, String> {
    match backend {
        Backend::Kernel => Client::connect_or_load().map(lvs::kernel).map_err(|e| {
            format!("cannot open the IPVS table: {e} (modprobe ip_vs did not make it available)")
        }),
        Backend::Memory => {
            tracing::warn!("test mode: programming an in-memory IPVS table, not the kernel's");
            Ok(lvs::kernel(MemoryIpvs::new()))
        }
    }
}

/// The handle the traffic counters are read through: for the kernel a netlink socket of its
/// own (a dump never waits for, nor holds up, the loops' changes), for the in-memory table
/// the table itself (it has no other copy).
pub fn open_traffic_kernel(backend: Backend, kernel: &Kernel) -> Result<Kernel, String> {
    match backend {
        Backend::Kernel => Client::connect_or_load()
            .map(lvs::kernel)
            .map_err(|e| format!("cannot open the IPVS table for its counters: {e}")),
        Backend::Memory => Ok(Arc::clone(kernel)),
    }
}

/// The names of every file's services and real servers, for their traffic.
pub(super) fn names_of(watches: &[watch::Receiver<LvsStatus>]) -> Names {
    let mut names = Names::default();
    for w in watches {
        names.extend(&w.borrow().names);
    }
    names
}

/// The standard probes (every service this build can check), run on the check thread.
pub fn lvs_options(log: &logging::Routing) -> LvsOptions {
    let mut options = LvsOptions::new(Arc::new(healthcheck::runner::standard()));
    options.log = log.clone();
    match healthcheck::runner::check_thread() {
        Ok(handle) => options.checks_on = Some(handle),
        Err(e) => tracing::warn!("cannot start the check thread, checks share the daemon's: {e}"),
    }
    options
}

async fn run_async(opts: Options) -> Result<(), DaemonError> {
    let pair_mode = opts.ldirectord.is_empty() && opts.config_dir.join("ha.cf").is_file();
    let mut node_config = None;
    let mut pair_files = None;
    let mut announce_settings = None;
    let mut single_files = None;
    let drain;
    let admin_settings;
    let files = if pair_mode {
        match failover::node::NodeConfig::load_with(
            &opts.config_dir,
            &opts.state_dir,
            opts.stonith_command.clone(),
        ) {
            Ok(cfg) => {
                let files = pair::ldirectord_files(&cfg.haresources, &opts.config_dir);
                log_to_hacf_targets(&opts.log, &cfg);
                pair_files = Some(pair::PairFiles {
                    stonith_command: opts.stonith_command.clone(),
                    running: cfg.clone(),
                    lvs: None,
                });
                drain = cfg.settings.drain.clone();
                admin_settings = cfg.settings.admin.clone();
                node_config = Some(cfg);
                files
            }
            Err(e) => return Err(DaemonError::Config(e.to_string())),
        }
    } else {
        // A single director uses [announce] (scale-out); the rest of the file is checked here
        // as in a pair, so that it is never found broken only at the next change of mode.
        match failover::node::load_settings(&opts.config_dir) {
            Ok(settings) => {
                drain = settings.drain.clone();
                admin_settings = settings.admin.clone();
                announce_settings = settings
                    .announce
                    .enabled
                    .then_some(settings.announce.clone());
                single_files = Some(SingleFiles {
                    config_dir: opts.config_dir.clone(),
                    running: settings,
                    sysctls: opts.backend == Backend::Kernel,
                });
            }
            Err(e) => return Err(DaemonError::Config(e.to_string())),
        }
        files(&opts)
    };
    let files = files.map_err(DaemonError::Missing)?;
    // The admin API's token, read before anything starts: a missing or readable one is a
    // refused configuration.
    let admin_token = if admin_settings.enabled {
        let path = admin_settings
            .token_file
            .clone()
            .unwrap_or_else(|| opts.config_dir.join("admin.token"));
        if opts.metrics.is_none() {
            tracing::warn!("director.conf [admin] is enabled but --metrics is off: no admin API");
        }
        Some(metrics::admin::load_token(&path).map_err(DaemonError::Config)?)
    } else {
        None
    };
    let log_cfgname = files.first().map(|first| {
        let name = first
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        log_to_logfile_of(&opts.log, first, &name);
        name
    });
    // IPVS only where it is used: a pair whose haresources names no ldirectord resource (the
    // seed's own httpd pair) runs on a kernel without it.
    let kernel = if files.is_empty() {
        None
    } else {
        Some(open_kernel(opts.backend).map_err(DaemonError::Ipvs)?)
    };
    if announce_settings.is_some() && kernel.is_some() && opts.backend == Backend::Kernel {
        announcer::set_scale_out_sysctls(std::path::Path::new("/proc/sys")).await;
    }
    tracing::info!(
        "Starting Linux Director v{}-director with pid: {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    // Pair mode: the failover node starts first, so that it heartbeats while the ldirectord
    // files are read and their tables programmed (a restart in place must be heard within
    // deadtime); a group with an ldirectord resource waits for them before its first
    // resource starts (`LdirectordResource::set_ready`).
    let node_name = match &node_config {
        Some(cfg) => cfg.node_name.clone(),
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default(),
    };
    let mut operator = operator::OperatorStore::load(&opts.state_dir, &node_name).await;
    // A Heartbeat peer has nowhere to keep the operator's record: it stays on this node.
    let shares = node_config
        .as_ref()
        .map(|cfg| cfg.settings.peer.protocol == failover::config::settings::Protocol::Director);
    let mut ldirectord = None;
    let node = match node_config {
        Some(mut cfg) => {
            if let Some(kernel) = &kernel {
                let mut sync = pair::SyncPlan::new(&cfg.settings.sync, &cfg.hacf);
                if opts.backend == Backend::Memory {
                    // No kernel: no sync daemons, nothing to hand over or wait for.
                    sync.iface = None;
                }
                let native = pair::LdirectordResource::new(Arc::clone(kernel), sync);
                ldirectord = Some((
                    Arc::clone(&native),
                    pair::ldirectord_names(&cfg.haresources),
                ));
                cfg.natives.push(("ldirectord".to_string(), native));
            }
            cfg.options.fence = opts.fence.clone();
            Some(failover::node::Node::start(cfg).map_err(|e| DaemonError::Config(e.to_string()))?)
        }
        None => None,
    };
    let mut options = lvs_options(&opts.log);
    options.operator = operator.record().clone();
    options.drain_on_removal = drain.on_removal.then_some(drain.timeout);
    let mut set = match &kernel {
        Some(kernel) => match start_all(&files, kernel, options.clone(), log_cfgname).await {
            Ok(set) => set,
            Err(e) => {
                if let Some(node) = node {
                    node.shutdown();
                    let _ = tokio::task::spawn_blocking(move || node.wait()).await;
                }
                return Err(e);
            }
        },
        None => LvsSet::new(Vec::new()),
    };
    if let (Some((native, _)), Some(kernel), Some(files)) = (&ldirectord, &kernel, &mut pair_files)
    {
        files.lvs = Some(pair::PairLvs {
            native: Arc::clone(native),
            kernel: Arc::clone(kernel),
            options,
        });
    }
    if let Some((native, names)) = &ldirectord {
        // Each ldirectord::NAME resource's monitor watches its file's checks.
        for name in names {
            let path = locate(name, &opts.config_dir).map(|l| l.path);
            if let Some(lvs) = set.all.iter().find(|l| Some(l.path()) == path.as_deref()) {
                native.watch_progress(name, lvs.progress());
            }
        }
        native.set_ready();
    }
    let listener = match control::bind(&opts.run_dir) {
        Ok(l) => l,
        Err(source) => {
            set.stop().await;
            return Err(DaemonError::ControlSocket {
                dir: opts.run_dir.clone(),
                source,
            });
        }
    };
    let started = Instant::now();
    let reader = match &kernel {
        Some(k) => match open_traffic_kernel(opts.backend, k) {
            Ok(k) => Some(Arc::new(TrafficReader::new(k, started))),
            Err(e) => {
                tracing::warn!("{e}: no traffic in the metrics nor in director top");
                None
            }
        },
        None => None,
    };
    let (req_tx, mut req_rx) = mpsc::channel::<(Request, oneshot::Sender<Response>)>(16);
    let admin = admin_token.map(|token| metrics::AdminApi {
        token: token.into(),
        control: req_tx.clone(),
    });
    let control_reader = reader.clone();
    let control_watches = set.live_watches();
    let control_task = tokio::spawn(control::serve(listener, move |req| {
        let tx = req_tx.clone();
        let reader = control_reader.clone();
        let names = (req == Request::Traffic).then(|| names_of(&control_watches.borrow()));
        async move {
            // Traffic is answered here, beside the loop: a dump never delays a reload or a
            // standby waiting in the loop.
            if let Some(names) = names {
                return match reader {
                    Some(r) => match r.read(&names).await {
                        Ok(t) => Response::Traffic {
                            traffic: Box::new(t),
                        },
                        Err(message) => Response::Error { message },
                    },
                    None => Response::Error {
                        message: "this daemon programs no IPVS table: no traffic to show".into(),
                    },
                };
            }
            let (reply, rx) = oneshot::channel();
            if tx.send((req, reply)).await.is_err() {
                return Response::Error {
                    message: "the daemon is stopping".into(),
                };
            }
            rx.await.unwrap_or(Response::Error {
                message: "the daemon is stopping".into(),
            })
        }
    }));
    let config_dir = opts.config_dir.display().to_string();
    // Scale-out: announced once the table is programmed, withdrawn before it is cleared.
    let mut announcer = announce_settings.map(|a| {
        tracing::info!(
            "announce: the VIPs this director can serve go to BIRD through {} ({})",
            a.file.display(),
            a.socket.display()
        );
        announcer::Announcer::start(a, set.watches())
    });
    let metrics_task = match &opts.metrics {
        Some(addr) => match addr.parse::<std::net::SocketAddr>() {
            Ok(addr) => {
                let watches = set.live_watches();
                let config_dir = config_dir.clone();
                let node = node.clone();
                let announced = announcer.as_ref().map(announcer::Announcer::watch);
                let reader = reader.clone();
                let admin = admin.clone();
                if admin.is_some() {
                    tracing::info!("admin API on http://{addr}/admin/ (director.conf [admin])");
                }
                Some(tokio::spawn(async move {
                    let source = move || {
                        let statuses: Vec<LvsStatus> = watches
                            .borrow()
                            .iter()
                            .map(|w| w.borrow().clone())
                            .collect();
                        let node_status = node.as_ref().map(failover::node::NodeHandle::status);
                        let (mut status, counters) =
                            build_status(&statuses, node_status.as_ref(), started, &config_dir);
                        status.announce = announced.as_ref().map(|a| a.borrow().clone());
                        let names = names_of(&watches.borrow());
                        let reader = reader.clone();
                        async move {
                            let traffic = match &reader {
                                Some(r) => match r.read(&names).await {
                                    Ok(t) => Some(t),
                                    Err(e) => {
                                        tracing::warn!("metrics without traffic: {e}");
                                        None
                                    }
                                },
                                None => None,
                            };
                            // 100,000 real servers make a large text: off the runtime's threads.
                            tokio::task::spawn_blocking(move || {
                                metrics::render(&status, &counters, traffic.as_ref())
                            })
                            .await
                            .unwrap_or_default()
                        }
                    };
                    if let Err(e) = metrics::serve(addr, source, admin).await {
                        tracing::error!("metrics on {addr}: {e}");
                    }
                }))
            }
            Err(e) => {
                tracing::error!("--metrics {addr}: {e}");
                None
            }
        },
        None => None,
    };
    let mut run_files = match (pair_files, single_files) {
        (Some(p), _) => RunFiles::Pair(Box::new(p)),
        (None, Some(s)) => RunFiles::Single(Box::new(s)),
        (None, None) => RunFiles::Ldirectord,
    };
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let pair_share = match (&node, shares) {
        (Some(n), Some(true)) => {
            n.share(operator.shared());
            Some(n.peer_shared())
        }
        _ => None,
    };
    let operator_peer = match shares {
        None => OperatorPeer::Single,
        Some(false) => OperatorPeer::Heartbeat,
        Some(true) => OperatorPeer::Director,
    };

    let signal_name = wait_loop(
        &mut set,
        node.as_ref(),
        &mut run_files,
        &mut announcer,
        OperatorSide {
            store: &mut operator,
            drain_timeout: drain.timeout,
            peer: operator_peer,
            from_peer: pair_share,
        },
        &mut req_rx,
        Daemon {
            started,
            config_dir: &config_dir,
        },
    )
    .await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("Linux Director Daemon terminated on signal: {signal_name}");
    control_task.abort();
    if let Some(t) = metrics_task {
        t.abort();
    }
    let mut result = Ok(());
    if let Some(node) = node {
        // Graceful: the resources are released right to left and the peer told, before the
        // director's own table is cleaned up.
        node.shutdown();
        let waited = tokio::task::spawn_blocking(move || node.wait()).await;
        match waited {
            Ok(Ok(failover::node::NodeExit::Stopped)) => {}
            Ok(Ok(failover::node::NodeExit::Fenced)) => {
                result = Err(DaemonError::Stopped(
                    "failover node fenced itself: a resource could not be stopped".into(),
                ));
            }
            Ok(Err(e)) => result = Err(DaemonError::Stopped(format!("failover node: {e}"))),
            Err(e) => result = Err(DaemonError::Stopped(format!("failover node: {e}"))),
        }
    }
    if let Some(a) = announcer {
        a.stop().await;
    }
    set.stop().await;
    let _ = std::fs::remove_file(control::socket_path(&opts.run_dir));
    result
}

/// What the status of the daemon says of it beside its parts: when it started, where its
/// files are.
struct Daemon<'a> {
    started: Instant,
    config_dir: &'a str,
}

/// Serve control requests and SIGHUP until SIGTERM/SIGINT/SIGQUIT; the signal's name.
async fn wait_loop(
    set: &mut LvsSet,
    node: Option<&failover::node::NodeHandle>,
    files: &mut RunFiles,
    announcer: &mut Option<announcer::Announcer>,
    mut operator: OperatorSide<'_>,
    requests: &mut mpsc::Receiver<(Request, oneshot::Sender<Response>)>,
    daemon: Daemon<'_>,
) -> &'static str {
    let Daemon {
        started,
        config_dir,
    } = daemon;
    let mut signals = match signals::Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return "ERROR";
        }
    };
    let mut node_watch = tokio::time::interval(std::time::Duration::from_millis(200));
    // systemd's watchdog: the failover node's loop turns at least every keepalive.
    let sd_every = sdwatchdog::interval();
    let mut sd_tick =
        tokio::time::interval(sd_every.unwrap_or(std::time::Duration::from_secs(3600)));
    let node_limit = match &*files {
        RunFiles::Pair(p) => (p.running.hacf.keepalive * 3).max(std::time::Duration::from_secs(2)),
        _ => std::time::Duration::from_secs(10),
    };
    let mut sd_last = None;
    loop {
        tokio::select! {
            _ = sd_tick.tick(), if sd_every.is_some() => {
                let checks = set.progress();
                let live = sdwatchdog::Liveness {
                    node: node.map(|n| (n.status().updated, node_limit)),
                    checks: &checks,
                };
                let verdict = sdwatchdog::verdict(&live, Instant::now());
                sdwatchdog::round(verdict, &mut sd_last);
            }
            _ = node_watch.tick(), if node.is_some() => {
                if node.is_some_and(failover::node::NodeHandle::is_finished) {
                    tracing::error!("the failover node ended: stopping");
                    return "NODE";
                }
            }
            Some(theirs) = peer_record(operator.from_peer.as_mut()) => {
                if operator.store.merge(&theirs).await {
                    tracing::info!(
                        "operator: the peer's record (version {} by {}) is this node's now",
                        theirs.version,
                        theirs.node
                    );
                    set.operator(operator.store.record()).await;
                }
            }
            sig = signals.next() => match sig {
                signals::Sig::Reload => {
                    let before = set.paths();
                    let _ = reload_all(set, node, files, announcer, ReloadCause::Signal).await;
                    after_reload(set, files, &before, &mut operator).await;
                }
                signals::Sig::Stop(name) => return name,
            },
            req = requests.recv() => {
                let Some((req, reply)) = req else { continue };
                let response = match req {
                    Request::Status => {
                        let node_status = node.map(failover::node::NodeHandle::status);
                        let (mut status, _) =
                            build_status(&set.statuses(), node_status.as_ref(), started, config_dir);
                        status.announce = announcer.as_ref().map(announcer::Announcer::status);
                        status.operator = Some(operator.status(node_status.as_ref()));
                        Response::Status { status: Box::new(status) }
                    }
                    // Answered beside the loop (run_async); here only if that changes.
                    Request::Traffic => Response::Error {
                        message: "traffic is answered by the control socket's task".into(),
                    },
                    Request::Real { op, virtual_name, real } => {
                        match real_request(set, operator.store, op, &virtual_name, &real, operator.drain_timeout).await {
                            Ok(message) => {
                                if let (Some(n), OperatorPeer::Director) = (node, operator.peer) {
                                    n.share(operator.store.shared());
                                }
                                Response::Ok { message }
                            }
                            Err(message) => Response::Error { message },
                        }
                    }
                    Request::Reload => {
                        // A file the reload starts takes the operator's record as it is now.
                        let before = set.paths();
                        let reloaded = reload_all(set, node, files, announcer, ReloadCause::Request).await;
                        after_reload(set, files, &before, &mut operator).await;
                        match reloaded {
                            Ok(message) => Response::Ok { message },
                            Err(message) => Response::Error { message },
                        }
                    }
                    Request::Standby | Request::Takeover => match node {
                        None if announcer.is_some() => {
                            let on = req == Request::Standby;
                            if let Some(a) = announcer.as_ref() {
                                a.set_standby(on);
                            }
                            Response::Ok {
                                message: if on {
                                    "standby: withdrawing every VIP from BIRD".into()
                                } else {
                                    "takeover: announcing again the VIPs this director can serve".into()
                                },
                            }
                        }
                        Some(n) => {
                            if req == Request::Standby {
                                n.standby();
                                Response::Ok { message: "standby: giving the resources to the peer".into() }
                            } else {
                                n.takeover();
                                Response::Ok { message: "takeover: taking the resources from the peer".into() }
                            }
                        }
                        None => Response::Error {
                            message: "single-director mode (no ha.cf): there is no peer to hand over to".into(),
                        },
                    },
                };
                let _ = reply.send(response);
            }
        }
    }
}

/// What follows every reload of the files: a file the reload started takes the operator's
/// record as it is now (it started with the one of the daemon's start), and `director.conf`'s
/// `[drain]` as it runs now goes to every file and to `director real drain`.
async fn after_reload(
    set: &LvsSet,
    files: &RunFiles,
    before: &[PathBuf],
    operator: &mut OperatorSide<'_>,
) {
    set.operator_to_new(before, operator.store.record()).await;
    if let Some(drain) = files.drain() {
        set.drain_on_removal(drain.on_removal.then_some(drain.timeout))
            .await;
        operator.drain_timeout = drain.timeout;
    }
}
