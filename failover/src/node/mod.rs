//! The node: the loop that wires the pure [`Fsm`](crate::fsm::Fsm) to the network, the clock and the resources.
//!
//! [`Node::start`] runs the loop on a dedicated OS thread with its own single-threaded tokio
//! runtime, so heartbeats are never delayed by other work of the process (health checks, IPVS
//! reconciliation, ...). It reads peer packets ([`Receiver`](crate::packet::Receiver): forged, replayed and wrong-key
//! packets are dropped, counted by reason and logged once per sender per minute), ping results,
//! timers (an [`Event::Tick`](crate::fsm::Event::Tick) at
//! [`Fsm::next_deadline`](crate::fsm::Fsm::next_deadline)) and operator commands, feeds them to
//! [`Fsm::step`](crate::fsm::Fsm::step) and carries out the actions:
//!
//! - `Send`: signed by the [`Encoder`](crate::packet::Encoder) (generation persisted in the state dir, larger at every
//!   start) and sent on every medium at once;
//! - `Probe` / `Acquire` / `Release` / `Monitor` / `Restart`: run as tasks on a separate worker
//!   runtime that report back as events, so heartbeats keep flowing while scripts run
//!   (`Monitor`: [`Resources::monitor`](crate::resources::Resources::monitor) of each
//!   resource of a held group, every `director.conf` `[monitor] interval`; `Restart`:
//!   [`Resources::restart`](crate::resources::Resources::restart) in place);
//! - `ResetPeer`: STONITH of the dead peer ([`crate::stonith`]: ha.cf's devices through
//!   cluster-glue's `stonith` tool, or the operator's command);
//! - `FenceSelf`: the configured [`SelfFence`] (default: reboot, as Heartbeat; tests pass a
//!   non-reboot action);
//! - `Announce`: the group's addresses announced again (a healed partition);
//! - `PeerJoined`: [`Resources::peer_joined`](crate::resources::Resources::peer_joined);
//! - `Dropped`: counted in [`NodeStatus::rejected`];
//! - `Track`: a `director.conf` `[track]` script run (`/bin/sh -c`, within its timeout) or an
//!   interface's flags read (up and running), on the worker runtime, answered as an event;
//! - `Notify`: the `[[notify]]` commands of the group's new role, queued and run one at a
//!   time in order on the worker runtime (the queue is emptied before the node ends);
//! - `Log`: `tracing`, in Heartbeat's words.
//!
//! ha.cf's `respawn` programs run beside the loop ([`crate::respawn::Supervisor`], on the
//! worker runtime) from the moment the node joins the cluster (Heartbeat starts them when
//! communication comes up: the peer heard or initdead passed) until the node ends, after its
//! resources are released.
//!
//! The loop itself (`run`) is generic over the [`Link`] and [`Vip`](crate::vip::Vip) so it is tested in-process
//! with fakes.
//!
//! Rooms:
//! - [`config`](NodeConfig): the files loaded together, [`NodeOptions`], the generation counter
//! - [`handle`](Node): starting the thread and runtimes, [`NodeHandle`]
//! - `run`: the loop and `carry_out`, the [`Link`] it is generic over
//! - `heartbeat`: the loop's side of a peer that runs Heartbeat
//! - [`status`](NodeStatus): what `director status` shows, published after every event
//! - [`fence`](SelfFence): fencing this node
//! - `ping`: the ping-node loop
//! - [`reload`](ReloadPlan): a reload of the files applied to the running node
//! - `track`: checking a track once, and the notify commands' runner
//! - [`reject`](RejectLog): refused packets, counted and logged once a minute per sender

mod config;
mod fence;
mod handle;
mod heartbeat;
mod ping;
mod reject;
mod reload;
mod run;
mod status;
mod track;

pub use crate::stonith::PeerReset;
pub use config::{
    check_authkeys, load_settings, next_generation, read_settings, NodeConfig, NodeError,
    NodeOptions,
};
pub use fence::SelfFence;
pub use handle::{Node, NodeExit, NodeHandle};
pub use reject::{rejection_reason, LogNow, RejectLog, REJECT_LOG_SENDERS};
pub use reload::{merge as merge_reload, plan as plan_reload, ReloadPlan};
pub use run::Link;
pub use status::{
    configured_links, peer_role, track_infos, GroupInfo, LinkStatus, NodeStatus, PeerStatus,
    TrackInfo, Transition,
};

#[cfg(test)]
mod tests;
