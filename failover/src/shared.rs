//! State the operator set that both nodes of a pair hold (pure): director's drained,
//! disabled and reweighted real servers, opaque here. Each node sends its version (with the
//! node that wrote it) in a [`Kind::Shared`](crate::packet::Kind::Shared) message every
//! keepalive, and the state itself while the peer's last message showed another version; a
//! node takes the peer's state when it was written later (`(version, writer)` order: last
//! writer wins, whole). A node with nothing to share (version 0) stays silent until it hears
//! the peer's, so a pair that never uses it sends nothing new, and a restarted node with an
//! empty state still gets the peer's.

use crate::packet::Shared;

/// What this node shares and what it knows of the peer's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedBook {
    /// This node's state (`None`: the caller shares nothing).
    own: Option<Shared>,
    /// The peer's `(version, writer)` as its last message said.
    peer: Option<(u64, String)>,
}

impl SharedBook {
    /// This node's state from now on (a local change, or the peer's taken by the caller).
    pub fn set(&mut self, own: Shared) {
        self.own = Some(own);
    }

    /// The message to send at a keepalive: this node's version, with its state when the peer
    /// does not show the same version; `None` when there is nothing to say.
    pub fn outgoing(&self) -> Option<Shared> {
        let own = self.own.as_ref()?;
        if own.version == 0 && self.peer.is_none() {
            return None;
        }
        let in_step = self
            .peer
            .as_ref()
            .is_some_and(|(v, w)| *v == own.version && *w == own.writer);
        Some(Shared {
            version: own.version,
            writer: own.writer.clone(),
            data: if in_step { None } else { own.data.clone() },
        })
    }

    /// A message from the peer: its state when it was written after this node's and carries
    /// it (the caller takes it; it is this node's from now on).
    pub fn heard(&mut self, theirs: Shared) -> Option<Shared> {
        self.peer = Some((theirs.version, theirs.writer.clone()));
        let own = self.own.as_ref()?;
        if theirs.data.is_some() && theirs.newer_than(own.version, &own.writer) {
            self.own = Some(theirs.clone());
            return Some(theirs);
        }
        None
    }

    /// The peer's `(version, writer)` as last heard.
    pub fn peer(&self) -> Option<&(u64, String)> {
        self.peer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: u64, writer: &str, data: &str) -> Shared {
        Shared {
            version,
            writer: writer.into(),
            data: Some(data.as_bytes().to_vec()),
        }
    }

    /// Two books exchange messages until neither sends state: how many rounds it took.
    fn converge(a: &mut SharedBook, b: &mut SharedBook) -> usize {
        for round in 1..10 {
            let from_a = a.outgoing();
            let from_b = b.outgoing();
            let quiet = from_a.as_ref().is_none_or(|s| s.data.is_none())
                && from_b.as_ref().is_none_or(|s| s.data.is_none());
            if quiet && round > 1 {
                return round;
            }
            if let Some(m) = from_a {
                b.heard(m);
            }
            if let Some(m) = from_b {
                a.heard(m);
            }
        }
        panic!("no convergence: {a:?} {b:?}");
    }

    #[test]
    fn the_later_writer_wins_and_the_pair_goes_quiet() {
        let (mut a, mut b) = (SharedBook::default(), SharedBook::default());
        a.set(state(0, "ha01", "{}"));
        b.set(state(0, "ha02", "{}"));
        // nothing shared yet: nothing sent
        assert_eq!(a.outgoing(), None);
        assert_eq!(b.outgoing(), None);
        a.set(state(1, "ha01", "drain rs2"));
        converge(&mut a, &mut b);
        assert_eq!(b.own, Some(state(1, "ha01", "drain rs2")));
        // in step: the version only
        assert_eq!(b.outgoing().and_then(|s| s.data), None);
        // both change at once: the same version, the higher node name wins on both
        a.set(state(2, "ha01", "a's"));
        b.set(state(2, "ha02", "b's"));
        converge(&mut a, &mut b);
        assert_eq!(a.own, Some(state(2, "ha02", "b's")));
        assert_eq!(b.own, Some(state(2, "ha02", "b's")));
    }

    #[test]
    fn a_node_restarted_empty_gets_the_peers_state() {
        let (mut a, mut b) = (SharedBook::default(), SharedBook::default());
        a.set(state(3, "ha01", "drain rs2"));
        b.set(state(3, "ha01", "drain rs2"));
        converge(&mut a, &mut b);
        // b restarts without its state file
        let mut b = SharedBook::default();
        b.set(state(0, "ha02", "{}"));
        assert_eq!(b.outgoing(), None, "silent until it hears a");
        converge(&mut a, &mut b);
        assert_eq!(b.own, Some(state(3, "ha01", "drain rs2")));
        // an older state never wins
        assert_eq!(a.heard(state(1, "ha02", "old")), None);
    }
}
