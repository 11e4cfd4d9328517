//! ldirectord-style health checks of real servers.
//!
//! - `probe`: the I/O of one check, one module per service

pub mod probe;
