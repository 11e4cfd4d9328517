//! What the notify commands are told ([`Action::Notify`]): each group's role here in
//! keepalived's words, announced once per change, in the order the changes happen.

use super::{Action, Fsm, GroupId, NodePhase, Notice, Role};

impl Fsm {
    /// The group's role to notify, `None` while it is moving or undecided (the role before
    /// stands until it arrives).
    fn notice(&self, g: GroupId) -> Option<Notice> {
        match self.phase {
            NodePhase::Stopped => return Some(Notice::Stop),
            NodePhase::Running | NodePhase::Stopping => {}
            NodePhase::Created | NodePhase::Init | NodePhase::Fenced => return None,
        }
        match self.roles.get(g)? {
            Role::Active => Some(Notice::Master),
            Role::Failed { .. } => Some(Notice::Fault),
            Role::Standby if self.phase == NodePhase::Running => Some(if self.track_fault() > 0 {
                Notice::Fault
            } else {
                Notice::Backup
            }),
            _ => None,
        }
    }

    /// Appends a [`Action::Notify`] for each group whose role changed since the last one,
    /// before [`Action::Exit`] if the step ends the node (so STOP is run before it exits).
    pub(super) fn notices(&mut self, out: &mut Vec<Action>) {
        let mut new = Vec::new();
        for g in 0..self.roles.len() {
            let Some(n) = self.notice(g) else { continue };
            if let Some(last) = self.notified.get_mut(g) {
                if *last != Some(n) {
                    *last = Some(n);
                    new.push(Action::Notify { group: g, state: n });
                }
            }
        }
        let at = out
            .iter()
            .position(|a| *a == Action::Exit)
            .unwrap_or(out.len());
        out.splice(at..at, new);
    }
}
