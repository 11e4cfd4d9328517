//! The translation between a Heartbeat 3.0.6 peer and the [`Fsm`](crate::fsm::Fsm): pure,
//! like the Fsm.
//!
//! The Fsm expects every peer message to be a full status (phase, standby flag, the state of
//! every group). Heartbeat says less and says it in events: `status` every keepalive,
//! `resource rsc_hold=none|local|foreign|all isstable=0|1` when its holdings change
//! (`local` = the groups whose preferred node is the sender), `starting` when it joins,
//! the three-phase standby exchange `ask_resources info=me|other|done`, `hb_takeover`, and
//! `shutdone` when it leaves. [`Session`] keeps what the peer last said and turns each of its
//! messages into one synthesized [`Message`](crate::packet::Message) for
//! [`Event::Heard`](crate::fsm::Event::Heard); and it turns the Fsm's actions into Heartbeat
//! messages:
//!
//! | Heartbeat peer says | the Fsm hears |
//! |---|---|
//! | `status st=…` before its first `resource` since it (re)started, or `isstable=0` | phase `Init`: decide nothing new about it |
//! | `resource rsc_hold=X isstable=1` | phase `Running`, groups in X `Active`, the others `Standby` |
//! | `resource info=shutdown` | phase `Stopping` |
//! | `ask_resources info=done` after we answered its `me` | its groups released, operator standby (`Released`) |
//! | `hb_takeover` | `Takeover` |
//! | `shutdone` | `Leaving` |
//!
//! | the Fsm does | Heartbeat hears |
//! |---|---|
//! | `Send` (every keepalive, and after changes) | `status`; `resource` when our holdings or stability changed |
//! | first message after hearing the peer | `starting` (the peer answers with `resource`) |
//! | `Release` to hand a group over | held back: `ask_resources info=me` first; the release runs when the peer answers `other`, then `done` |
//! | acquisition after the peer's `done` | `ask_resources info=done`, then `resource … isstable=1` |
//! | `Send(Takeover)` | `hb_takeover rsc_hold=all` (the peer's rc.d script runs `hb_standby`) |
//! | `Send(Leaving)` | `resource rsc_hold=none info=shutdown` (at the start of the stop), `shutdone st=dead` |
//!
//! Heartbeat would ignore a `me` sent while we report ourselves unstable, so a group whose
//! release is held back is still reported held and stable until the peer answers.
//!
//! Reliability and replay, as Heartbeat: a lower generation (`hg`) is refused, a higher one is
//! a restart; within a generation each `seq` is taken once (gaps are remembered, asked for
//! with `NS_rexmit` and taken when they arrive late); `NS_rexmit` from the peer is answered
//! from the last [`HISTORY`] messages sent; `NS_ackmsg` is sent when an in-order `seq % 10`
//! equals a random trigger. `reqnodes` is answered with `repnodes` (without it the peer
//! never becomes active).
//!
//! Not carried over: `auto_failback legacy` (`ip-request`), partial standby sets (`hb_standby
//! local|foreign` from the peer is taken as `all`), and Heartbeat's restart after a healed
//! partition (the Fsm's own rule settles who keeps a group both hold).
//!
//! Rooms: what the session keeps and its clock (`state`), what the peer says (`receive`),
//! what we say (`send`).

mod receive;
mod send;
mod state;

use state::{Exchange, PeerTrack, MAX_MISSING};
pub use state::{
    Hold, Identity, Outcome, Rejection, Session, HISTORY, STANDBY_DONE, STANDBY_REPLY,
};

#[cfg(test)]
mod tests;
