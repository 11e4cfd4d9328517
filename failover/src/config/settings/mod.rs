//! `director.conf`: director's own settings, the ones Heartbeat and ldirectord do not know.
//!
//! They live in a file of their own so that `ha.cf`, `haresources` and the ldirectord files
//! stay readable by Heartbeat and ldirectord (a rollback, or a Heartbeat peer, reads the same
//! files). The file is TOML, one table per concern; it is optional (absent: every default).
//! Every key is documented in `docs/director-conf.md`.
//!
//! ```toml
//! [peer]
//! protocol = "heartbeat"
//!
//! [monitor]
//! enabled = true
//! interval = "10s"
//! restarts = 3
//! window = "10min"
//!
//! [sync]
//! enabled = true
//! interface = "eth1"
//! catch_up_timeout = "2s"
//!
//! [track.script.chk_nginx]
//! script = "pidof nginx"
//! interval = "2s"
//! fall = 2
//!
//! [track.interface.eth0]
//!
//! [[notify]]
//! command = "/etc/ha.d/notify.sh"
//!
//! [failback]
//! hold = "30s"
//!
//! [[service]]
//! file = "www.cf"
//! virtual = "192.0.2.132:80"
//! quorum = 2
//!
//! [service.tunnel]
//! type = "gue"
//! port = 5555
//!
//! [drain]
//! timeout = "5min"
//! on_removal = true
//! ```
//!
//! Durations are strings with a unit: `ms`, `s`, `min`, `h` (`"500ms"`, `"2s"`, `"10min"`).
//! Unknown tables and keys are errors, as unknown directives are in `ha.cf`. A syntax error or
//! a wrong key stops the parse at its line (TOML's parser and serde report the first one);
//! the checks of the values that follow report every problem.

mod admin;
mod announce;
mod drain;
mod duration;
mod failback;
mod file;
mod monitor;
mod notify;
mod peer;
mod service;
mod sync;
#[cfg(test)]
mod tests;
mod track;
mod tunnel;

pub use admin::Admin;
pub use announce::Announce;
pub use drain::Drain;
pub use duration::{parse_duration, words};
pub use failback::{Failback, MAX_HOLD};
pub use file::{parse, Settings};
pub use monitor::Monitor;
pub use notify::Notify;
pub use peer::{Peer, Protocol};
pub use service::{ExtraCheck, Quorum, Service, ServiceExtra, ServiceProtocol, Target};
pub use sync::{Sync, MAX_CATCH_UP};
pub use track::{Probe, Track, MAX_WEIGHT};
pub use tunnel::{Checksum, Tunnel};

/// The file's name in the configuration directory.
pub const FILE_NAME: &str = "director.conf";
