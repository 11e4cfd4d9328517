//! director: an LVS director appliance in one binary.
//!
//! - `control`: the root-only control socket (status, standby, takeover, reload)
//! - `metrics`: Prometheus text exposition on GET /metrics
//! - `status`: what `director status` shows (serde + human rendering), assembled (pure) from
//!   the files' statuses and the failover node's snapshot
//! - `pair`: the pair mode's decisions (ldirectord resources, sync plan, reload plan), pure
//! - `traffic`: IPVS counters per service and real server under director's names, rates
//! - `top`: `director top`, the live terminal view (control socket -> ratatui)
//! - `daemon`: the I/O loops (checks, kernel table, failover, control socket, signals)
//! - `lvs`: the ldirectord behaviour of one file (pure core: `Core::step`, desired table)
//! - `ipvs`: IPVS over generic netlink (model, plan, codec, client)
//! - `command`: director's own command line (clap), its manual pages and completions
//! - `cli`: the ipvsadm-compatible command (argument parsing and rendering, both pure)
//! - `invocation`: ldirectord's command line (pure; the daemon side is `daemon::ldirectord`)
//! - `logging`: ldirectord's `logfile=` targets (file, syslog) as a tracing layer
//! - `config`: ldirectord's file formats -> typed config, errors with `file:line`
//! - `announce`: scale-out, the VIPs announced through BIRD (what to announce, BIRD's socket)
//! - `import`: `director import keepalived`: keepalived.conf -> director's files

pub mod announce;
pub mod app;
pub mod cli;
pub mod command;
pub mod config;
pub mod control;
pub mod daemon;
pub mod import;
pub mod invocation;
pub mod ipvs;
pub mod logging;
pub mod lvs;
pub mod metrics;
pub mod pair;
pub mod status;
pub mod top;
pub mod traffic;
