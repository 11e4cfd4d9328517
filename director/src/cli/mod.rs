//! The ipvsadm-compatible command: `director ipvsadm ARGS...`, or the binary run as `ipvsadm`.
//!
//! Behaves as ipvsadm 1.31 (Debian 1:1.31-1+b1): same option syntax (popt), same checks,
//! messages and exit codes, same listings byte for byte, same `-R` line reader.
//!
//! - `popt`: the libpopt option scanner subset ipvsadm uses (pure)
//! - `args`: ipvsadm's option parsing and checks (pure, given a `Resolver`)
//! - `render`: listings (pure)
//! - `sort`: glibc's merge sort with ipvsadm's comparators (pure)
//! - `restore`: the `-R` line reader (pure)
//! - `inet`: glibc number/address parsing and printing (pure)
//! - `names`: host/service name lookups (`Resolver`; the system one is the only `unsafe` code)
//! - `exec`: runs a command line against an `Ipvs`

pub mod args;
pub mod exec;
pub mod inet;
pub mod names;
pub mod popt;
pub mod render;
pub mod restore;
pub mod sort;

pub use crate::ipvs::Protocol as Proto;
pub use exec::{run, Io};
pub use names::{NoNames, Resolver, SystemNames};

#[cfg(test)]
mod tests;
