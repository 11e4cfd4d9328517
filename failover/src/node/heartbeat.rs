//! The loop's side of a peer that runs Heartbeat (`director.conf` `[peer] protocol =
//! "heartbeat"`): the [`Session`] is pure; here its messages are signed, sent and received,
//! and a peer that moved to director's protocol ends it.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::config::settings;
use crate::fsm::{Action, Event, Fsm, Origin};
use crate::heartbeat::session::{self as hb, Identity, Session};
use crate::heartbeat::wire;
use crate::peer::Received;

use super::reject::log_rejection;
use super::run::{accept, Book, Link, LoopParts};
use super::NodeConfig;

/// The Heartbeat session of a node whose peer runs Heartbeat (`None`: director's protocol).
/// The UUID Heartbeat knows us by is kept in the state dir (`hb_uuid`), as Heartbeat keeps
/// its own in `/var/lib/heartbeat/hb_uuid`.
pub(super) fn heartbeat_session(cfg: &NodeConfig, fsm: &Fsm, generation: u64) -> Option<Session> {
    if cfg.settings.peer.protocol != settings::Protocol::Heartbeat {
        return None;
    }
    let path = cfg.state_dir.join("hb_uuid");
    let uuid = match std::fs::read(&path) {
        Ok(b) if b.len() == 16 => b.try_into().unwrap_or_default(),
        _ => {
            let fresh: [u8; 16] = rand::random();
            if let Err(e) = std::fs::write(&path, fresh) {
                tracing::warn!(error = %e, "cannot keep our Heartbeat uuid in {}: {e}", path.display());
            }
            fresh
        }
    };
    tracing::info!("the peer speaks Heartbeat's protocol (director.conf [peer] protocol)");
    Some(Session::new(
        Identity {
            node: cfg.node_name.clone(),
            uuid,
            generation,
        },
        fsm,
        cfg.hacf.nodes.clone(),
        cfg.hacf.hopfudge,
        rand::random::<u8>() % 10,
    ))
}

pub(super) fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs and sends Heartbeat messages on every medium.
pub(super) async fn send_heartbeat<L: Link>(
    parts: &LoopParts,
    link: &L,
    msgs: Vec<wire::HeartbeatMessage>,
) {
    for m in msgs {
        match wire::emit(&m, &parts.keys) {
            Ok(bytes) => {
                link.send(&bytes).await;
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a Heartbeat message: {e}"),
        }
    }
}

/// With a Heartbeat peer: the Fsm's sends become Heartbeat messages (sent here), and
/// hand-over releases wait for the peer's agreement; returns the actions left to carry out.
pub(super) async fn heartbeat_outgoing<L: Link>(
    parts: &mut LoopParts,
    link: &L,
    actions: Vec<Action>,
    now: Instant,
) -> Vec<Action> {
    let Some(hb) = parts.heartbeat.as_mut() else {
        return actions;
    };
    let (run, msgs) = hb.outgoing(actions, &parts.fsm, now, wall_secs());
    let sent = !msgs.is_empty();
    send_heartbeat(parts, link, msgs).await;
    if sent {
        if let Some(w) = parts.watchdog.as_mut() {
            w.tickle();
        }
    }
    run
}

/// A short, stable name for why a Heartbeat packet was refused (`None`: not counted).
fn heartbeat_rejection_reason(r: &HeartbeatRejection) -> Option<&'static str> {
    use hb::Rejection as R;
    use wire::DecodeError as D;
    Some(match r {
        HeartbeatRejection::Decode(d) => match d {
            D::BadAuth(_) => "bad_auth",
            D::UnknownKey(_) => "unknown_key",
            D::Unsigned => "unsigned",
            D::NotHeartbeat => "bad_magic",
            D::TooLong(_) | D::Field { .. } | D::Trailer(_) => "malformed",
        },
        HeartbeatRejection::Session(s) => match s {
            R::Own | R::NotForUs(_) => return None,
            R::Missing(_) => "malformed",
            R::UnknownNode(_) => "unknown_node",
            R::OldGeneration { .. } => "old_generation",
            R::Replay { .. } => "replay",
            R::Source { .. } => "source",
        },
    })
}

/// Why a packet from a Heartbeat peer was refused.
#[derive(Debug, thiserror::Error)]
enum HeartbeatRejection {
    #[error(transparent)]
    Decode(#[from] wire::DecodeError),
    #[error(transparent)]
    Session(#[from] hb::Rejection),
}

/// With a Heartbeat peer: checks one datagram, sends what it calls for, and returns the
/// Fsm's events (the link heard, then what the message says) and the actions it releases.
pub(super) async fn accept_heartbeat<L: Link>(
    parts: &mut LoopParts,
    book: &mut Book,
    link: &L,
    r: Received,
) -> (Vec<Event>, Vec<Action>) {
    let now = Instant::now();
    let source_allowed = parts.sources.allows(&r.iface, r.from.ip(), now);
    let result = wire::parse(&r.data, &parts.keys)
        .map_err(HeartbeatRejection::from)
        .and_then(|(msg, _)| {
            let Some(hb) = parts.heartbeat.as_mut() else {
                return Err(hb::Rejection::Missing("session").into());
            };
            hb.receive(&msg, source_allowed, &parts.fsm, now, wall_secs())
                .map_err(HeartbeatRejection::from)
        });
    match result {
        Err(HeartbeatRejection::Decode(wire::DecodeError::NotHeartbeat)) => {
            switch_to_director(parts, book, r)
        }
        Err(HeartbeatRejection::Session(ref rej @ hb::Rejection::Replay { .. })) => {
            // Heartbeat drops copies silently: a retransmission we asked for may cross the
            // late original. Counted; a replay shows in the count.
            tracing::debug!(from = %r.from, "{rej}");
            book.rejects.count("replay");
            (Vec::new(), Vec::new())
        }
        Ok(out) => {
            send_heartbeat(parts, link, out.send).await;
            let origin = Origin {
                iface: r.iface,
                from: r.from,
            };
            let heard = std::iter::once(Event::LinkHeard(origin)).chain(out.event);
            (heard.collect(), out.run)
        }
        Err(rej) => {
            if let Some(reason) = heartbeat_rejection_reason(&rej) {
                log_rejection(&mut book.rejects, &r, reason, &rej.to_string(), now);
            }
            (Vec::new(), Vec::new())
        }
    }
}

/// The last step of a rolling migration: the peer restarted with `[peer] protocol =
/// "director"`. An authentic director packet from it, of a newer generation than its
/// Heartbeat messages (so not one replayed from before), ends the Heartbeat session: from now
/// on this node speaks director's protocol too, until it restarts with its own setting.
fn switch_to_director(
    parts: &mut LoopParts,
    book: &mut Book,
    r: Received,
) -> (Vec<Event>, Vec<Action>) {
    let peer = parts.fsm.config().peer.clone().unwrap_or_default();
    let newer = match (crate::packet::parse(&r.data, &parts.keys), &parts.heartbeat) {
        (Ok(msg), Some(hb)) => {
            msg.node == peer && hb.peer_generation().is_none_or(|g| msg.generation > g)
        }
        _ => false,
    };
    if !newer {
        book.rejects.count("bad_magic");
        return (Vec::new(), Vec::new());
    }
    tracing::warn!(
        "{peer} now speaks director's protocol: switching to it (set [peer] protocol = \
         \"director\" in director.conf before this node restarts)"
    );
    let run = parts
        .heartbeat
        .take()
        .map(|mut hb| hb.abandon())
        .unwrap_or_default();
    (accept(parts, book, r).into_iter().collect(), run)
}
