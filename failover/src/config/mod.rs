//! Heartbeat's configuration files, parsed into typed values.
//!
//! - [`hacf`] - `/etc/ha.d/ha.cf` (timing, media, nodes, ping nodes, failback policy, ...)
//! - [`authkeys`] - `/etc/ha.d/authkeys` (the packet signing method and keys)
//! - [`haresources`] - `/etc/ha.d/haresources` (resource groups and their preferred nodes)
//! - [`nodeinfo`] - the local node name (`uname -n` or `/etc/ha.d/nodeinfo`)
//! - [`cluster`] - checks that span the files (local node listed, haresources nodes known)
//! - [`settings`] - `director.conf`, director's own settings (TOML), which Heartbeat never reads
//!
//! Every parser here is pure: it takes the file name (only for messages) and its text, and
//! returns the typed value plus warnings, or a [`ConfigError`] holding **every** problem found,
//! each as `file:line: message`. Reading the files (and `stat`ing `authkeys`) is the caller's job.

pub mod authkeys;
pub mod cluster;
mod diagnostic;
pub mod hacf;
pub mod haresources;
mod line;
pub mod nodeinfo;
pub mod settings;

pub(crate) use diagnostic::Collector;
pub use diagnostic::{ConfigError, Diagnostic, Parsed, Severity};
pub(crate) use line::strip_comment;
