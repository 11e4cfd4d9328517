//! IPVS: the table model, the plan (desired vs actual), the generic netlink codec and the client.
//!
//! - `model`: services, dests, stats, changes (pure data)
//! - `plan`: `plan(&desired, &actual) -> Vec<Change>` (pure)
//! - `msg`: the "IPVS" generic netlink family codec (pure, `Emitable` / `Parseable`)
//! - `client`: a netlink socket that dumps the table and applies changes (I/O)
//! - `sync`: the connection table sent to another director in the kernel's sync format
//! - `kernel`: the [`Ipvs`] trait: what director asks of a kernel (`client`) or of `memory`
//! - `memory`: an in-memory kernel with the kernel's rules, for tests of everything above I/O

#[cfg(test)]
pub(crate) mod arb;
pub mod client;
pub mod error;
mod kernel;
pub mod memory;
pub mod model;
pub mod msg;
pub mod plan;
pub mod sync;

pub use error::{IpvsCmd, IpvsError};
pub use kernel::Ipvs;
pub use model::*;
