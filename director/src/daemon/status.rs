//! `director status` from the loops' watches (the host's name and the clocks; the assembly is
//! `crate::status::assemble`, pure), and where the logs go.

use std::path::Path;

use tokio::time::Instant;

use super::lvs::LvsStatus;
use crate::logging;
use crate::metrics::Counters;
use crate::status::Status;

/// `director status` and the metrics counters from the files' statuses: this host's name
/// (when no failover node names it) and the clocks, then [`crate::status::assemble`].
pub fn build_status(
    statuses: &[LvsStatus],
    node_status: Option<&failover::node::NodeStatus>,
    started: Instant,
    config_dir: &str,
) -> (Status, Counters) {
    let host = || {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    };
    let node = node_status.map_or_else(host, |n| n.node.clone());
    let now = std::time::SystemTime::now();
    let wall_start = now
        .checked_sub(started.elapsed())
        .unwrap_or(std::time::UNIX_EPOCH);
    crate::status::assemble(
        statuses,
        node_status,
        crate::status::Clocks {
            node,
            uptime_s: started.elapsed().as_secs(),
            wall_start,
            now,
        },
        config_dir,
    )
}

/// ha.cf's `logfile`, `debugfile`, `logfacility` and `debug`: the failover node's messages go
/// there (besides stderr), as Heartbeat's would.
pub fn log_to_hacf_targets(log: &logging::Routing, cfg: &failover::node::NodeConfig) {
    let target = logging::HeartbeatTarget {
        logfile: cfg.hacf.logfile.clone(),
        debugfile: cfg.hacf.debugfile.clone(),
        facility: cfg.hacf.logfacility.clone(),
        host: cfg.node_name.clone(),
    };
    if target.is_set() {
        log.set_heartbeat_target(Some(target));
    }
    crate::app::heartbeat_debug(log, cfg.hacf.debug);
}

/// Route log lines to the `logfile=` of `path`, or to stdout alone with `supervised=yes`
/// (a file that does not parse keeps stderr).
pub fn log_to_logfile_of(log: &logging::Routing, path: &Path, cfgname: &str) {
    let resolver = crate::config::SystemResolver::new();
    if let Ok((config, _)) = crate::config::ldirectord::load(path, &resolver) {
        set_log_target(log, &config.globals, cfgname);
    }
}

/// Make `globals`' `logfile=` / `supervised=` the log target (start and reload).
pub fn set_log_target(
    log: &logging::Routing,
    globals: &crate::config::ldirectord::Globals,
    cfgname: &str,
) {
    log.set_stderr(!globals.supervised);
    log.set_target(Some(logging::Target {
        target: globals.logfile.clone(),
        cfgname: cfgname.to_string(),
        supervised: globals.supervised,
    }));
}
