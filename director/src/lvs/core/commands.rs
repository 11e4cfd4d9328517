//! The commands a table change runs: keepalived's quorum_up / quorum_down as a service gains
//! or loses its quorum, and ldirectord's fallbackcommand as the fallback comes and goes.

use tracing::Level;

use super::{Core, Edge, Effect};
use crate::lvs::engine::{About, Health};
use crate::lvs::mapping;

impl Core {
    /// The quorum decisions since the last pass (`director.conf`): keepalived's log line, and
    /// `quorum_up` / `quorum_down` in the virtual's command lane.
    pub(super) fn quorum_decisions(&mut self, out: &mut Vec<Effect>) {
        for (i, d) in self.reconciler.update_quorum() {
            let (Some(spec), Some(x)) = (self.mapped.virtuals.get(i), self.mapped.extras.get(i))
            else {
                continue;
            };
            let Some(q) = spec.quorum else {
                continue;
            };
            out.push(Effect::Log {
                level: Level::INFO,
                text: crate::lvs::quorum::describe(q, d, &x.address.to_string()),
                reason: None,
                about: Some(About {
                    vs: crate::traffic::service_name(&spec.service.key),
                    rs: None,
                }),
            });
            let cmd = if d.up { &x.quorum_up } else { &x.quorum_down };
            if let Some(cmd) = cmd {
                out.push(Effect::Fallback {
                    address: x.address,
                    line: cmd.clone(),
                });
            }
        }
    }

    /// Run `fallbackcommand start|stop` when a virtual loses its last real server or gets one
    /// back (edge-triggered, as ldirectord); a virtual with a quorum (`director.conf`) when it
    /// loses or gains its quorum.
    pub(super) fn fallback_commands(&mut self, out: &mut Vec<Effect>) {
        for (spec, x) in self.mapped.virtuals.iter().zip(&self.mapped.extras) {
            let Some(cmd) = &x.fallbackcommand else {
                continue;
            };
            let healths: Vec<Health> = x
                .reals
                .iter()
                .map(|r| self.reconciler.health(r.check))
                .collect();
            let quorum = spec
                .quorum
                .map(|_| self.reconciler.quorum(&spec.service.key));
            let want = if let Some(has) = quorum {
                match has {
                    Some(true) => Edge::Stop,
                    Some(false) => Edge::Start,
                    None => continue,
                }
            } else if healths.contains(&Health::Up) {
                Edge::Stop
            } else if healths.iter().all(|h| *h == Health::Down) {
                Edge::Start
            } else {
                continue;
            };
            if self.fallback_edge.get(&x.address) == Some(&want) {
                continue;
            }
            self.fallback_edge.insert(x.address, want);
            let word = if want == Edge::Start { "start" } else { "stop" };
            out.push(Effect::Fallback {
                address: x.address,
                line: format!("{cmd} {word} {}", mapping::fallbackcommand_args(&x.address)),
            });
        }
    }
}
