//! Which transport a probe of a UDP-or-TCP service uses (dns, sip): ldirectord takes
//! the virtual service's `protocol`.

pub use crate::negotiate::Transport;
