//! Heartbeat-compatible failover of virtual IPs (and other resources) between two directors.
//!
//! The pure core (no I/O, no clock reads):
//! - [`config`]: `ha.cf`, `authkeys`, `haresources`, the local node name; errors as
//!   `file:line: message`
//! - [`packet`]: director's heartbeat protocol on UDP: codec, HMAC authentication, replay window
//!   (wire format in `docs/protocol.md`)
//! - [`heartbeat`]: Heartbeat 3.0.6's own protocol (netstring messages and MACs, and its
//!   resource negotiation translated to and from the [`fsm`]), for a peer still running
//!   Heartbeat (`docs/migrating-from-heartbeat.md`)
//! - [`fsm`]: roles and transitions per resource group: `Fsm::step(event, now) -> Vec<Action>`
//! - [`shared`]: the operator's state both nodes hold (director's drained real servers):
//!   what to send, what to take from the peer
//! - [`monitor`]: restart or move a held resource that failed its monitor
//!   ([`monitor::Tracker::observe`])
//!
//! The I/O shell:
//! - [`vip`]: virtual addresses over rtnetlink (IPaddr / IPaddr2 / IPv6addr), behind [`vip::Vip`]
//! - [`garp`]: gratuitous ARP and unsolicited neighbour advertisements
//! - [`resources`]: haresources scripts and native resources, group acquire / release
//! - [`peer`]: UDP transport over the ha.cf media
//! - [`sources`]: which source addresses the media allow a peer's packets from
//! - [`ping`]: ICMP echo to ping nodes
//! - [`respawn`]: ha.cf's `respawn` programs, started with the node and restarted as
//!   Heartbeat does (the restart decision is pure: [`respawn::Tracker::observe`])
//! - [`stonith`]: resetting a dead peer before a takeover (cluster-glue's `stonith` tool)
//! - [`watchdog`]: ha.cf's `watchdog` device, written every keepalive, disarmed on a clean stop
//! - [`node`]: the loop wiring them together: [`node::Node::start`] -> [`node::NodeHandle`]

pub mod config;
pub mod fsm;
pub mod heartbeat;
pub mod monitor;
pub mod packet;
pub mod shared;

pub mod garp;
pub mod node;
pub mod peer;
pub mod ping;
pub mod realtime;
pub mod resources;
pub mod respawn;
pub mod sources;
pub mod stonith;
pub mod vip;
pub mod watchdog;
