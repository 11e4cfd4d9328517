//! The daemon: the I/O loops around the pure cores (`crate::lvs`, `failover::fsm`): the
//! configuration files, the health checks, the IPVS table, failover, the control socket,
//! signals and metrics.
//!
//! - `mail`: sends alert mails (lettre: SMTP relay or sendmail), off the loop and bounded
//! - `lane`: runs fallbackcommand, callback and execute= commands, each kind apart, bounded
//! - `monitor`: appends `monitorfile` lines, off the loop
//! - `sdwatchdog`: systemd's service watchdog, notified while the loops that matter turn
//! - `traffic`: the IPVS counters for `/metrics` and `director top` (one dump per scrape, on
//!   a handle of its own)
//! - `lvs`: one ldirectord file at work (`Lvs::start`, `reload`, `status`, `stop`): the loop
//!   that drives `lvs::Core`
//! - `ldirectord`: the `ldirectord` command line (start/stop/status/... with its pid file)
//! - `announcer`: scale-out, keeps BIRD announcing the VIPs this director can serve
//! - `operator`: what the operator asked of real servers (`director real ...`), kept in the
//!   state directory
//! - `catchup`: a takeover from a live peer waits, bounded, for the connections it handed over
//! - `pair`: pair mode (ha.cf): the files haresources names, the native ldirectord resource
//!   (connection-sync role), failover status
//! - `set`: every ldirectord file the daemon runs (`LvsSet`), started and reloaded together
//! - `reload`: `director reload` / SIGHUP of every file, what applied and what waits
//! - `operator_side`: `director real ...` requests and the peer's record in the control loop
//! - `heap`: the C library's heap tuned for a daemon holding every real server of a big file
//! - `options`: `director run`'s options and the errors it ends with
//! - `status`: `director status` put together from the loops' watches; where logs go
//!
//! `run` (in `run.rs`) is `director run`: with ha.cf in the configuration directory a failover pair member
//! (the failover node plus the ldirectord files haresources names), without it a single
//! director (the ldirectord files of the directory); the control socket, metrics, signals,
//! sd_notify.

pub mod announcer;
pub mod catchup;
mod heap;
pub mod lane;
pub mod ldirectord;
pub mod lvs;
pub mod mail;
pub mod monitor;
pub mod operator;
mod operator_side;
mod options;
pub mod pair;
mod reload;
mod run;
pub mod sdwatchdog;
mod set;
pub mod signals;
mod status;
pub mod traffic;

pub use options::{Backend, DaemonError, Options};
pub use run::{files, lvs_options, open_kernel, open_traffic_kernel, run};
pub use set::{start_all, LvsSet};
pub use status::{build_status, log_to_hacf_targets, log_to_logfile_of, set_log_target};
