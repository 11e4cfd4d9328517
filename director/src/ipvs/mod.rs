//! IPVS: the table model, the plan (desired vs actual), the generic netlink codec and the client.
//!
//! - `model`: services, dests, stats, changes (pure data)
//! - `plan`: `plan(&desired, &actual) -> Vec<Change>` (pure)
//! - `msg`: the "IPVS" generic netlink family codec (pure, `Emitable` / `Parseable`)
//! - `client`: a netlink socket that dumps the table and applies changes (I/O)

pub mod model;

pub use model::*;
