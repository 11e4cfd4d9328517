//! virtual_server, virtual_server_group, real_server and checkers -> ldirectord blocks.
//!
//! - `virtual_server`: the block, its settings, real servers and quorum keys
//! - `addresses`: the addresses of a virtual_server (groups, ranges)
//! - `checks`: real_server and its checkers -> ldirectord reals and checks

mod addresses;
mod checks;
mod virtual_server;

#[cfg(test)]
pub use addresses::{range, MAX_RANGE};
pub(super) use virtual_server::virtual_server;
