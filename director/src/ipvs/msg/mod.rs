//! The "IPVS" generic netlink family: commands, attributes and their wire format.
//!
//! Pure codec, no I/O. [`IpvsMessage`] is the genetlink payload (`GenlMessage<IpvsMessage>`),
//! built like netlink-packet-generic's `ctrl` module: [`CmdAttr`] at the top level, nested
//! [`ServiceAttr`], [`DestAttr`], [`DaemonAttr`] and [`StatsAttr`] below.
//!
//! Wire rules (see the IPVS reference): ports and addresses are big endian, everything else
//! host order; an IPv4 service netmask is the mask's network-order bytes, an IPv6 one a
//! host-order prefix length. Kernel replies start nests without `NLA_F_NESTED`, so nests are
//! recognised by their type (the type is always masked with `NLA_TYPE_MASK`). Attributes this
//! code does not know are kept as `Other(DefaultNla)`.
//!
//! - [`request`]: model -> request messages (`IpvsMessage::new_service`, `from_change`, ...)
//! - [`reply`]: reply messages -> model (`service_entry`, `dest_entry`, `timeouts`, ...)

//! - `command`: [`IpvsCmd`], [`CmdAttr`], [`IpvsMessage`] and the family's constants
//! - `wire`: shared helpers (addresses, strings, the nlctrl family id)

mod command;
pub mod daemon;
pub mod dest;
pub mod reply;
pub mod request;
pub mod service;
pub mod stats;
mod wire;

#[cfg(test)]
mod tests;

pub use command::*;
pub use daemon::DaemonAttr;
pub use dest::DestAttr;
pub use service::{ServiceAttr, SvcFlags};
pub use stats::{Counter, StatsAttr};
pub use wire::parse_family_id;
pub(crate) use wire::{emit_string, parse_addr, parse_nul_string, parse_raw4};
