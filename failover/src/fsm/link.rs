//! The media as the machine sees them: the order of director's packets (a full status
//! older than one already taken is dropped), and each link up when heard, dead when silent
//! for a deadtime (Heartbeat's `Link PEER:IF up.` / `dead.`).

use tokio::time::Instant;

use crate::packet::Message;

use super::machine::log;
use super::{Action, Fsm, Level, LinkState, Origin};

impl Fsm {
    /// Whether `msg` is newer than every message taken from its sender; if so it is the
    /// newest now, otherwise it is dropped.
    pub(super) fn newer(&mut self, msg: &Message, out: &mut Vec<Action>) -> bool {
        let id = (msg.generation, msg.seq);
        if self.newest.get(&msg.node).is_some_and(|n| id <= *n) {
            log(
                out,
                Level::Debug,
                format!(
                    "older status from {} (generation {}, seq {}) than one already seen: dropped",
                    msg.node, msg.generation, msg.seq
                ),
            );
            out.push(Action::Dropped("out_of_order"));
            return false;
        }
        self.newest.insert(msg.node.clone(), id);
        true
    }

    /// A packet from `peer` came in on `origin.iface`: the link is up.
    pub(super) fn link_heard(
        &mut self,
        origin: &Origin,
        peer: &str,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let l = self
            .links
            .entry(origin.iface.clone())
            .or_insert_with(|| LinkState::unheard(&origin.iface));
        if !l.up {
            log(
                out,
                Level::Info,
                format!("Link {peer}:{} up.", origin.iface),
            );
        }
        l.from = Some(origin.from);
        l.last_heard = Some(now);
        l.up = true;
    }

    /// Links silent for a deadtime are dead.
    pub(super) fn check_links(&mut self, now: Instant, out: &mut Vec<Action>) {
        let dead_after = self.cfg.deadtime;
        let peer = self.peer_name();
        for (iface, l) in self.links.iter_mut() {
            let silent = l
                .last_heard
                .is_some_and(|at| now.saturating_duration_since(at) >= dead_after);
            if l.up && silent {
                l.up = false;
                log(out, Level::Warn, format!("Link {peer}:{iface} dead."));
            }
        }
    }
}

impl LinkState {
    pub(super) fn unheard(iface: &str) -> LinkState {
        LinkState {
            iface: iface.to_string(),
            from: None,
            last_heard: None,
            up: false,
        }
    }
}
