//! Scale-out: several active directors behind the routers' ECMP, each announcing the VIPs it
//! can serve through an existing BGP daemon, BIRD 2. director never speaks BGP itself: it
//! writes the VIPs into a file of static routes that the operator's `bird.conf` includes and
//! exports to the routers, and asks BIRD to reload it over its control socket.
//!
//! The pure part:
//! - [`announced`]: which VIPs this director announces: those with at least one service that
//!   can serve (a real server up, or the fallback), unless the operator put the node in
//!   standby;
//! - [`render`]: the static-route file for those VIPs (one `protocol static` per family);
//! - [`bird`]: BIRD's control-socket replies.
//! - [`ctl`]: the control socket itself (I/O) and [`ctl::publish`]: write the file, reload BIRD.
//!
//! The loop that publishes is `crate::daemon::announcer` (`director.conf` `[announce]`).

pub mod bird;
pub mod ctl;
mod vip;

pub use vip::{announced, render, services_of, ServiceHealth};
