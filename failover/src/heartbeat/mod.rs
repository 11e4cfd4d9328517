//! Heartbeat 3.0.6's own protocol, so a director node can pair with a node still running
//! Heartbeat (haresources mode) during a rolling migration. Two director nodes keep
//! director's protocol ([`crate::packet`]); `director.conf` `[peer] protocol = "heartbeat"`
//! selects this one.
//!
//! Pure, like the rest of the core:
//! - [`auth`]: the MACs (HMAC-SHA1, HMAC-MD5, CRC) in Heartbeat's `"N hex"` spelling
//! - [`wire`]: the netstring (and classic) message codec with both MACs
//!
//! Read from Heartbeat 3.0.6 and cluster-glue 1.0.12's sources and checked against packets
//! captured from the real daemons (`wire/captures.txt`); no code was copied.

pub mod auth;
pub mod session;
pub mod wire;
