//! `director status` put together from the loops' watches, and where the logs go.

use std::path::Path;

use tokio::time::Instant;

use super::lvs::LvsStatus;
use super::pair;
use crate::logging;
use crate::metrics::Counters;
use crate::status::Status;

/// `director status` and the metrics counters from the files' statuses.
pub fn build_status(
    statuses: &[LvsStatus],
    node_status: Option<&failover::node::NodeStatus>,
    started: Instant,
    config_dir: &str,
) -> (Status, Counters) {
    let node = match node_status {
        Some(n) => n.node.clone(),
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default(),
    };
    let wall_start = std::time::SystemTime::now()
        .checked_sub(started.elapsed())
        .unwrap_or(std::time::UNIX_EPOCH);
    let errors: Vec<String> = statuses
        .iter()
        .filter_map(|s| s.last_reload_error.clone())
        .collect();
    let status = Status {
        node,
        mode: if node_status.is_some() {
            "pair"
        } else {
            "single"
        }
        .into(),
        config_dir: config_dir.to_string(),
        uptime_s: started.elapsed().as_secs(),
        reloads: statuses.iter().map(|s| s.reloads).sum(),
        last_reload_error: (!errors.is_empty()).then(|| errors.join("\n")),
        failover: node_status.map(|n| pair::failover_status(n, wall_start)),
        virtuals: statuses.iter().flat_map(|s| s.virtuals.clone()).collect(),
        announce: None,
        operator: None,
    };
    let counters = Counters {
        reloads: status.reloads,
        reload_failures: statuses.iter().map(|s| s.reload_failures).sum(),
        ipvs_changes: statuses.iter().map(|s| s.ipvs_changes).sum(),
        ipvs_errors: statuses.iter().map(|s| s.ipvs_errors).sum(),
        checks: statuses.iter().map(|s| s.checks).sum(),
        check_failures: statuses.iter().map(|s| s.check_failures).sum(),
        heartbeat_rejected: node_status
            .map(|n| {
                n.rejected
                    .iter()
                    .map(|(reason, count)| ((*reason).to_string(), *count))
                    .collect()
            })
            .unwrap_or_default(),
        check_lag: statuses
            .first()
            .map(|s| s.check_lag.clone())
            .unwrap_or_default(),
    };
    (status, counters)
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
