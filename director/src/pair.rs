//! The pair mode's decisions, pure (the loops that carry them out are `daemon::pair`): which
//! ldirectord resources haresources names, how connections are synced, what a reload of the
//! Heartbeat files changes, and how the node's transitions read in `director status`.

use failover::config::authkeys::AuthKeys;
use failover::config::hacf::{HaCf, Medium};
use failover::config::haresources::{Haresources, ResourceKind};

use crate::config::DEFAULT_NAME;

/// What a reload of `ha.cf`, `authkeys` and `haresources` did, in words for the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PairReload {
    /// Applied to the running node.
    pub applied: Vec<String>,
    /// Changed in the files, valid, but not applied: it needs a restart.
    pub restart: Vec<String>,
    /// The files were refused (every problem, `file:line: message`); nothing of them applied.
    pub errors: Vec<String>,
}

/// What changes between the running files and valid new ones: the new keys when authkeys
/// changed (applied live), and the files that changed in a way only a restart applies.
pub fn plan_reload(
    running: (&HaCf, &Haresources, &AuthKeys),
    new: (&HaCf, &Haresources, &AuthKeys),
) -> (Option<AuthKeys>, Vec<String>) {
    let keys = (running.2 != new.2).then(|| new.2.clone());
    let mut restart = Vec::new();
    if running.0 != new.0 {
        restart.push(
            "ha.cf changed: it is applied at start only; restart director to apply it (the running settings are kept)"
                .to_string(),
        );
    }
    if running.1 != new.1 {
        restart.push(
            "haresources changed: it is applied at start only; restart director to apply it (the running groups are kept)"
                .to_string(),
        );
    }
    (keys, restart)
}

/// The names of the `ldirectord[::NAME]` resources of haresources (`ldirectord` alone is
/// `ldirectord.cf`), in haresources order without repeats.
pub fn ldirectord_names(har: &Haresources) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for group in &har.groups {
        for r in &group.resources {
            if let ResourceKind::Ldirectord { config } = &r.kind {
                let name = config.clone().unwrap_or_else(|| DEFAULT_NAME.to_string());
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// The interface the IPVS sync daemon uses: the first heartbeat medium's.
pub fn sync_interface(hacf: &HaCf) -> Option<String> {
    hacf.media.first().map(|m| match m {
        Medium::Bcast { iface, .. }
        | Medium::Mcast { iface, .. }
        | Medium::Mcast6 { iface, .. }
        | Medium::Ucast { iface, .. }
        | Medium::Ucast6 { iface, .. } => iface.clone(),
    })
}

/// How the pair syncs connections: from `director.conf` `[sync]` and ha.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// The interface of the sync daemons and the hand-over; `None`: no sync at all.
    pub iface: Option<String>,
    /// The longest a takeover from a live peer waits for its hand-over.
    pub catch_up: std::time::Duration,
}

impl SyncPlan {
    /// `[sync]` as set, the interface defaulting to the first heartbeat medium's.
    pub fn new(settings: &failover::config::settings::Sync, hacf: &HaCf) -> SyncPlan {
        SyncPlan {
            iface: if settings.enabled {
                settings.interface.clone().or_else(|| sync_interface(hacf))
            } else {
                None
            },
            catch_up: settings.catch_up_timeout,
        }
    }
}

/// The node's `SUBJECT: FROM -> TO` transition text as (from, to, subject); any other text is
/// the reason alone.
pub fn split_transition(what: &str) -> (String, String, String) {
    what.rsplit_once(": ")
        .and_then(|(subject, change)| {
            change
                .split_once(" -> ")
                .map(|(from, to)| (from.to_string(), to.to_string(), subject.to_string()))
        })
        .unwrap_or_else(|| (String::new(), String::new(), what.to_string()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn hacf_text(text: &str) -> HaCf {
        failover::config::hacf::parse(Path::new("ha.cf"), text)
            .map(|p| p.value)
            .unwrap()
    }

    fn har(text: &str) -> Haresources {
        failover::config::haresources::parse(Path::new("haresources"), text)
            .map(|p| p.value)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn haresources_names_its_ldirectord_resources_once_in_order() {
        let h = har("a IPaddr::192.0.2.100/24 ldirectord::www.cf\nb IPaddr::192.0.2.101 ldirectord ldirectord::mail ldirectord::www.cf\n");
        assert_eq!(
            ldirectord_names(&h),
            vec!["www.cf", "ldirectord.cf", "mail"]
        );
        assert!(ldirectord_names(&har("a IPaddr::192.0.2.100/24\n")).is_empty());
    }

    #[test]
    fn a_reload_applies_keys_and_names_what_needs_a_restart() {
        let h = hacf_text("keepalive 2\ndeadtime 30\nbcast eth1\nnode a\nnode b\n");
        let r = har("a IPaddr::192.0.2.1/24/eth0\n");
        let k = failover::config::authkeys::parse(Path::new("authkeys"), "auth 1\n1 sha1 old\n")
            .map(|p| p.value)
            .unwrap();
        let k2 = failover::config::authkeys::parse(
            Path::new("authkeys"),
            "auth 2\n1 sha1 old\n2 sha1 new\n",
        )
        .map(|p| p.value)
        .unwrap();
        // Nothing changed (comments do not count): nothing to do.
        let h_same =
            hacf_text("# a comment\nkeepalive 2\ndeadtime 30\nbcast eth1\nnode a\nnode b\n");
        assert_eq!(plan_reload((&h, &r, &k), (&h_same, &r, &k)), (None, vec![]));
        // A new key is applied; nothing needs a restart.
        assert_eq!(
            plan_reload((&h, &r, &k), (&h, &r, &k2)),
            (Some(k2.clone()), vec![])
        );
        // A timing change and a new group need a restart, and say so.
        let h3 = hacf_text("keepalive 1\ndeadtime 30\nbcast eth1\nnode a\nnode b\n");
        let r3 = har("a IPaddr::192.0.2.1/24/eth0\nb IPaddr::192.0.2.2/24/eth0\n");
        let (keys, restart) = plan_reload((&h, &r, &k), (&h3, &r3, &k));
        assert_eq!(keys, None);
        assert_eq!(restart.len(), 2);
        assert!(
            restart[0].starts_with("ha.cf changed")
                && restart[1].starts_with("haresources changed")
        );
    }

    #[test]
    fn transitions_split_into_from_to_and_subject() {
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            split_transition("peer dir1: alive -> dead"),
            t("alive", "dead", "peer dir1")
        );
        assert_eq!(
            split_transition("IPaddr::192.0.2.100/24/eth0: standby -> acquiring"),
            t("standby", "acquiring", "IPaddr::192.0.2.100/24/eth0")
        );
        assert_eq!(
            split_transition("something else"),
            t("", "", "something else")
        );
        assert_eq!(split_transition("a: b"), t("", "", "a: b"));
    }

    proptest::proptest! {
        #[test]
        fn split_transition_never_panics_and_keeps_the_subject(s in ".*") {
            let (from, to, subject) = split_transition(&s);
            proptest::prop_assert!(s.contains(&subject));
            proptest::prop_assert!(s.contains(&from) && s.contains(&to));
        }
    }

    #[test]
    fn the_sync_plan_follows_director_conf_then_ha_cf() {
        use failover::config::settings::Sync;
        let hacf = failover::config::hacf::parse(
            std::path::Path::new("ha.cf"),
            "ucast eth2 192.0.2.12\nnode a b\n",
        )
        .unwrap()
        .value;
        let mut s = Sync::default();
        assert_eq!(SyncPlan::new(&s, &hacf).iface.as_deref(), Some("eth2"));
        s.interface = Some("eth1".into());
        assert_eq!(SyncPlan::new(&s, &hacf).iface.as_deref(), Some("eth1"));
        s.enabled = false;
        assert_eq!(SyncPlan::new(&s, &hacf).iface, None);
    }
}
