//! The failover state machine: who holds each resource group, and when it moves.
//!
//! Pure: [`Fsm::step`] takes an [`Event`] and the current time and returns the [`Action`]s for
//! the I/O loop to carry out (send a message, probe / acquire / release a group, fence, log).
//! It never reads the clock; [`Fsm::next_deadline`] says when the loop should send the next
//! [`Event::Tick`].
//!
//! # Model (two nodes)
//! Each haresources line is a group with its own role: `Init` (not probed / not decided yet),
//! `Standby`, `Acquiring`, `Active`, `Releasing`, `Failed`. Every message carries the sender's
//! phase, operator-standby flag, ping reachability and every group's state, so each node knows
//! what the other holds. Both run the same rule ([`Fsm`] `desired owner`) on the same facts:
//!
//! 1. a node that is starting, stopping, dead, or failed the group is not a candidate;
//! 2. a node in operator standby yields to one that is not;
//! 3. the node whose failing tracks weigh less wins (`director.conf` `[track]`, keepalived's
//!    track_script / track_interface);
//! 4. the node that reaches more ping nodes wins (ipfail);
//! 5. `auto_failback off`: the node holding the group keeps it;
//! 6. otherwise (`on`, `legacy`, or nobody / both hold it): the preferred node of haresources;
//!    a holder that must give a group back to its preferred node first waits the failback
//!    hold (`[failback] hold`, keepalived's preempt_delay), counted from the moment it could.
//!
//! A node acquires a group only when it is the desired owner **and** the peer's last report
//! shows it neither holds nor is stopping it (or the peer is dead / gone). The holder releases
//! first, then says so (`Released`), then the new owner acquires: release -> ack -> acquire,
//! never both. When both hold a group (a healed partition) the same rule picks one; the
//! loser releases and the winner keeps it, so service never stops.
//!
//! At start every group is probed (`status` of each resource) before the node takes part;
//! resources found running on a node that does not become their owner are stopped (the seed's
//! "httpd on both nodes" bug). A failed stop is retried, then the node fences itself.
//!
//! While a group is active here and monitoring is on ([`FsmConfig::monitor`]), every
//! interval its resources are monitored ([`Action::Monitor`]); a failed resource is restarted
//! in place ([`Action::Restart`]) while [`crate::monitor::Tracker`] allows, then the group
//! is given up and marked failed here, as after a failed start, so the peer takes it.
//!
//! The media are the machine's too: a packet of director's protocol ([`Event::Packet`]) older
//! than one already taken from its sender is dropped, each link is up when heard and dead
//! after a silent deadtime (`Link PEER:IF up.` / `dead.`), the peer's return is told to the
//! resources that follow it ([`Action::PeerJoined`]), and a group the peer stops claiming
//! after a healed partition is announced again ([`Action::Announce`]).
//!
//! Each change of a group's role here is announced once ([`Action::Notify`], keepalived's
//! MASTER / BACKUP / FAULT / STOP) for the notify commands.
//!
//! Rooms: [`FsmConfig`] (`config`); [`Event`] in, [`Action`] out (`event`); the states
//! (`state`); [`Fsm`] and its clock (`machine`); the peer (`peer`); each group's moves
//! (`group`); who should own a group (`owner`); monitoring of held resources (`watch`);
//! packet order and the links (`link`); tracked scripts and interfaces (`track`); the roles
//! notified (`notice`); a new configuration while running (`reconfigure`).

mod config;
mod event;
mod group;
mod link;
mod machine;
mod notice;
mod owner;
mod peer;
mod reconfigure;
mod state;
mod track;
mod watch;

pub use config::{FenceAction, FsmConfig, GroupId, GroupSpec};
pub use event::{Action, Event, Level, Notice, Origin};
pub use machine::Fsm;
pub use state::{LinkState, NodePhase, PeerLife, ReleaseWhy, Role, Status};

#[cfg(test)]
mod tests;
