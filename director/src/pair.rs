//! The pair mode's decisions, pure (the loops that carry them out are `daemon::pair`): which
//! ldirectord resources haresources names, how connections are synced, what a reload of the
//! Heartbeat files changes, and how the node's transitions read in `director status`.

use failover::config::authkeys::AuthKeys;
use failover::config::hacf::{HaCf, Medium};
use failover::config::haresources::{Haresources, ResourceKind};
use failover::node::NodeConfig;

use crate::config::DEFAULT_NAME;

/// What a reload of `ha.cf`, `authkeys`, `haresources` and `director.conf` did, in words for
/// the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PairReload {
    /// Applied to the running node.
    pub applied: Vec<String>,
    /// Changed in the files, valid, but not applied: it needs a restart.
    pub restart: Vec<String>,
    /// The files were refused (every problem, `file:line: message`); nothing of them applied.
    pub errors: Vec<String>,
}

/// What a reload of valid files does to a running pair node.
#[derive(Debug)]
pub struct ReloadSteps {
    /// A new authkeys to hand to the node (signing and verifying).
    pub keys: Option<AuthKeys>,
    /// The files to hand to the node ([`failover::node::NodeHandle::reconfigure`]); `None`:
    /// nothing for it to apply.
    pub reconfigure: Option<NodeConfig>,
    /// What runs afterwards (what the next reload compares with).
    pub running: NodeConfig,
    /// `ldirectord::NAME` files haresources names now and did not: started (their tables
    /// programmed) before the node gets the new groups.
    pub start_files: Vec<String>,
    /// Files it no longer names: stopped once the node has the new groups.
    pub stop_files: Vec<String>,
    pub report: PairReload,
}

/// Plans a reload: the new keys, the node's part ([`failover::node::plan_reload`]), and the
/// ldirectord files haresources names: started and stopped with their groups when
/// `ldirectord_live` (the node runs the `ldirectord` resource), else (a pair started without
/// any, so without IPVS) a change there keeps the running groups and needs a restart.
pub fn plan_reload(running: &NodeConfig, new: &NodeConfig, ldirectord_live: bool) -> ReloadSteps {
    let mut report = PairReload::default();
    let keys = (running.authkeys != new.authkeys).then(|| new.authkeys.clone());
    if let Some(k) = &keys {
        report.applied.push(format!(
            "authkeys: signing with key {} from now on ({} key line(s) accepted)",
            k.active,
            k.keys.len()
        ));
    }
    let mut new = new.clone();
    let (mut start_files, mut stop_files) = (Vec::new(), Vec::new());
    let (was, now) = (
        ldirectord_names(&running.haresources),
        ldirectord_names(&new.haresources),
    );
    let same_set = was.iter().all(|n| now.contains(n)) && now.iter().all(|n| was.contains(n));
    if !same_set && ldirectord_live {
        start_files = now.iter().filter(|n| !was.contains(n)).cloned().collect();
        stop_files = was.iter().filter(|n| !now.contains(n)).cloned().collect();
        if !start_files.is_empty() {
            report.applied.push(format!(
                "ldirectord files started: {}",
                start_files.join(", ")
            ));
        }
        if !stop_files.is_empty() {
            report.applied.push(format!(
                "ldirectord files stopped: {}",
                stop_files.join(", ")
            ));
        }
    } else if !same_set {
        let added: Vec<&String> = now.iter().filter(|n| !was.contains(n)).collect();
        let removed: Vec<&String> = was.iter().filter(|n| !now.contains(n)).collect();
        let list = |v: &[&String]| v.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
        let mut what = Vec::new();
        if !added.is_empty() {
            what.push(format!("adds {}", list(&added)));
        }
        if !removed.is_empty() {
            what.push(format!("removes {}", list(&removed)));
        }
        report.restart.push(format!(
            "haresources {} (ldirectord files): restart director to apply it (the running \
             groups are kept)",
            what.join(" and ")
        ));
        new.haresources = running.haresources.clone();
    }
    let node = failover::node::plan_reload(running, &new);
    let reconfigure = node.reconfigures().then(|| new.clone());
    report.applied.extend(node.applied);
    report.restart.extend(node.restart);
    ReloadSteps {
        keys,
        reconfigure,
        running: failover::node::merge_reload(running, &new),
        start_files,
        stop_files,
        report,
    }
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

    fn node(hacf: &str, haresources: &str, keys: &str) -> NodeConfig {
        NodeConfig {
            config_dir: "/etc/ha.d".into(),
            state_dir: "/var/lib/director".into(),
            hacf: hacf_text(hacf),
            authkeys: failover::config::authkeys::parse(Path::new("authkeys"), keys)
                .map(|p| p.value)
                .unwrap(),
            haresources: har(haresources),
            settings: failover::config::settings::Settings::default(),
            node_name: "a".into(),
            natives: Vec::new(),
            options: failover::node::NodeOptions::default(),
        }
    }

    #[test]
    fn a_reload_applies_keys_timing_and_groups_and_names_what_needs_a_restart() {
        let hacf = "keepalive 2\ndeadtime 30\nbcast eth1\nnode a\nnode b\n";
        let keys = "auth 1\n1 sha1 old\n";
        let running = node(hacf, "a IPaddr::192.0.2.1/24/eth0\n", keys);
        // Nothing changed (comments do not count): nothing to do.
        let same = node(
            &format!("# a comment\n{hacf}"),
            "a IPaddr::192.0.2.1/24/eth0\n",
            keys,
        );
        let steps = plan_reload(&running, &same, true);
        assert!(steps.keys.is_none() && steps.reconfigure.is_none());
        assert_eq!(steps.report, PairReload::default());
        // A new key, a timing change and a new group are applied.
        let new = node(
            "keepalive 1\ndeadtime 30\nbcast eth1\nnode a\nnode b\n",
            "a IPaddr::192.0.2.1/24/eth0\nb IPaddr::192.0.2.2/24/eth0\n",
            "auth 2\n1 sha1 old\n2 sha1 new\n",
        );
        let steps = plan_reload(&running, &new, true);
        assert_eq!(steps.keys.map(|k| k.active), Some(2));
        assert!(steps.reconfigure.is_some());
        assert_eq!(steps.report.applied.len(), 3, "{:?}", steps.report.applied);
        assert!(steps.report.applied[1].starts_with("ha.cf: keepalive applied"));
        assert!(steps.report.restart.is_empty());
        assert_eq!(steps.running.haresources.groups.len(), 2);
        // A new ldirectord file is started before its group; a pair that runs none needs a
        // restart for it, and its groups stay as they run.
        let lvs = node(hacf, "a IPaddr::192.0.2.1/24/eth0 ldirectord::www\n", keys);
        let steps = plan_reload(&running, &lvs, true);
        assert_eq!(
            (steps.start_files, steps.stop_files),
            (vec!["www".to_string()], vec![])
        );
        assert!(steps.reconfigure.is_some());
        let back = plan_reload(&steps.running, &running, true);
        assert_eq!(
            (back.start_files, back.stop_files),
            (vec![], vec!["www".to_string()])
        );
        let steps = plan_reload(&running, &lvs, false);
        assert!(steps.reconfigure.is_none());
        assert_eq!(steps.running.haresources, running.haresources);
        assert!(
            steps.report.restart[0].starts_with("haresources adds www (ldirectord files)"),
            "{:?}",
            steps.report.restart
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
