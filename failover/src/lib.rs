//! Heartbeat-compatible failover of virtual IPs between two directors.
//!
//! I/O modules: [`vip`] (rtnetlink addresses), [`garp`] (gratuitous ARP / unsolicited NA).
pub mod garp;
pub mod peer;
pub mod resources;
pub mod vip;
