//! `[peer]`: what the other node speaks.

use serde::Deserialize;

/// `[peer]`: the protocol of the other node's heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer {
    pub protocol: Protocol,
}

/// `protocol = "director" | "heartbeat"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// director's own (`docs/protocol.md`): between two director nodes (the default).
    #[default]
    Director,
    /// Heartbeat 3.0.6's, so the other node may still run Heartbeat (rolling migration).
    Heartbeat,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    pub(super) protocol: Option<Protocol>,
}
