//! A reload of `ha.cf`, `haresources` and `director.conf` while the node runs: what a new,
//! valid set of files changes ([`plan`], pure), and how the loop applies it ([`apply`]).
//!
//! Applied at once: the groups of haresources (added, removed, changed: see
//! [`crate::fsm`]'s `reconfigure`), `keepalive`, `deadtime`, `warntime`, `initdead`,
//! `auto_failback`, the ping nodes (`ping`, `ping_group`, `deadping`: the ping loop starts
//! again with the new list), `respawn` and `env` (the respawned programs are stopped and
//! started again), and `director.conf` `[monitor]`. What the running process cannot change
//! without opening its sockets or its devices again is reported as needing a restart and
//! left as it runs: the node list, the media and `udpport`, `watchdog`, the log targets,
//! `realtime`/`rtprio`, `stonith`, `debug`, and `director.conf` `[peer]`, `[sync]` and
//! `[admin]` (`[announce]` is not used in a pair). A node whose peer speaks Heartbeat's
//! protocol applies none of it (its session negotiates the resources itself): every change
//! needs a restart there, but for the keys and `[drain]`, the director's own (its ldirectord
//! side applies it: `merge` keeps it, the director hands it to every file).

use crate::config::hacf::HaCf;
use crate::config::haresources::Haresources;
use crate::config::settings::Protocol;
use crate::fsm::Event;

use super::ping::{ping_loop, resolve_ping_nodes};
use super::run::{Clients, LoopParts};
use super::NodeConfig;
use crate::resources::Resource;

/// What a reload changes, in words for the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Changes the running node applies ([`super::NodeHandle::reconfigure`]).
    pub applied: Vec<String>,
    /// Valid changes that only a restart applies; they are not applied.
    pub restart: Vec<String>,
}

impl ReloadPlan {
    /// Whether the node has anything to apply.
    pub fn reconfigures(&self) -> bool {
        !self.applied.is_empty()
    }
}

/// The configuration that runs once `new` is applied to `running`: the parts [`plan`] says
/// apply taken from `new`, the rest kept from `running` (so the next reload still reports a
/// change that waits for a restart).
pub fn merge(running: &NodeConfig, new: &NodeConfig) -> NodeConfig {
    let mut next = running.clone();
    next.authkeys = new.authkeys.clone();
    // The drains are the director's own (its ldirectord side), whatever the peer speaks.
    next.settings.drain = new.settings.drain.clone();
    if running.settings.peer.protocol == Protocol::Heartbeat {
        return next;
    }
    let (h, n) = (&mut next.hacf, &new.hacf);
    h.keepalive = n.keepalive;
    h.deadtime = n.deadtime;
    h.warntime = n.warntime;
    h.initdead = n.initdead;
    h.auto_failback = n.auto_failback;
    h.auto_failback_explicit = n.auto_failback_explicit;
    h.ping_nodes = n.ping_nodes.clone();
    h.deadping = n.deadping;
    h.respawn = n.respawn.clone();
    h.env = n.env.clone();
    next.haresources = new.haresources.clone();
    next.settings.monitor = new.settings.monitor;
    next.settings.tracks = new.settings.tracks.clone();
    next.settings.notify = new.settings.notify.clone();
    next.settings.failback = new.settings.failback;
    next.options.monitor = crate::monitor::Policy::from_settings(&new.settings.monitor);
    next
}

/// What changes from the running files to the new ones (both already valid).
pub fn plan(running: &NodeConfig, new: &NodeConfig) -> ReloadPlan {
    let mut p = ReloadPlan::default();
    let (a, b) = (&running.hacf, &new.hacf);
    let live = live_directives(a, b);
    let fixed = restart_directives(a, b);
    let heartbeat_peer = running.settings.peer.protocol == Protocol::Heartbeat;
    let groups = group_changes(&running.haresources, &new.haresources);
    let monitor = running.settings.monitor != new.settings.monitor;
    let (sa, sb) = (&running.settings, &new.settings);
    let tables: Vec<&str> = [
        ("[monitor]", monitor),
        ("[track]", sa.tracks != sb.tracks),
        ("[[notify]]", sa.notify != sb.notify),
        ("[failback]", sa.failback != sb.failback),
    ]
    .into_iter()
    .filter_map(|(t, changed)| changed.then_some(t))
    .collect();
    if heartbeat_peer {
        let mut what: Vec<String> = live.iter().map(|d| format!("ha.cf {d}")).collect();
        if !groups.is_empty() {
            what.push("haresources".into());
        }
        if !tables.is_empty() {
            what.push(format!("director.conf {}", tables.join(", ")));
        }
        if !what.is_empty() {
            p.restart.push(format!(
                "{} changed: the peer speaks Heartbeat's protocol, which negotiates the \
                 resources at start: restart director to apply it (the running settings are kept)",
                what.join(", ")
            ));
        }
    } else {
        if !live.is_empty() {
            p.applied
                .push(format!("ha.cf: {} applied", live.join(", ")));
        }
        if !groups.is_empty() {
            p.applied
                .push(format!("haresources: {}", groups.join("; ")));
        }
        if !tables.is_empty() {
            p.applied
                .push(format!("director.conf: {} applied", tables.join(", ")));
        }
    }
    if !fixed.is_empty() {
        p.restart.push(format!(
            "ha.cf: {} changed: restart director to apply {} (the running ones are kept)",
            fixed.join(", "),
            if fixed.len() == 1 { "it" } else { "them" }
        ));
    }
    if sa.drain != sb.drain {
        p.applied.push("director.conf: [drain] applied".into());
    }
    for (table, changed) in [
        ("[peer]", sa.peer != sb.peer),
        ("[sync]", sa.sync != sb.sync),
        ("[admin]", sa.admin != sb.admin),
    ] {
        if changed {
            p.restart.push(format!(
                "director.conf: {table} changed: restart director to apply it (the running \
                 settings are kept)"
            ));
        }
    }
    p
}

/// The ha.cf directives the running node applies, that differ.
fn live_directives(a: &HaCf, b: &HaCf) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    check("keepalive", a.keepalive != b.keepalive);
    check("deadtime", a.deadtime != b.deadtime);
    check("warntime", a.warntime != b.warntime);
    check("initdead", a.initdead != b.initdead);
    check("auto_failback", a.auto_failback != b.auto_failback);
    check("ping/ping_group", a.ping_nodes != b.ping_nodes);
    check("deadping", a.deadping != b.deadping);
    check("respawn", a.respawn != b.respawn);
    check("env", a.env != b.env);
    out
}

/// The ha.cf directives only a restart applies, that differ.
fn restart_directives(a: &HaCf, b: &HaCf) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    check("node", a.nodes != b.nodes);
    check("the media (bcast/mcast/ucast)", a.media != b.media);
    check("udpport", a.udpport != b.udpport);
    check("serial/baud", a.serial != b.serial);
    check("watchdog", a.watchdog != b.watchdog);
    check(
        "logfile/debugfile/logfacility/use_logd",
        a.logfile != b.logfile
            || a.debugfile != b.debugfile
            || a.logfacility != b.logfacility
            || a.use_logd != b.use_logd,
    );
    check(
        "realtime/rtprio",
        a.realtime != b.realtime || a.rtprio != b.rtprio,
    );
    check("stonith/stonith_host", a.stonith != b.stonith);
    check("debug", a.debug != b.debug);
    check("hopfudge", a.hopfudge != b.hopfudge);
    out
}

/// The groups added and removed, by key (a changed line is both).
fn group_changes(a: &Haresources, b: &Haresources) -> Vec<String> {
    let mut out = Vec::new();
    let removed: Vec<&str> = a
        .groups
        .iter()
        .filter(|g| !b.groups.contains(g))
        .map(|g| g.key())
        .collect();
    let added: Vec<&str> = b
        .groups
        .iter()
        .filter(|g| !a.groups.contains(g))
        .map(|g| g.key())
        .collect();
    if !removed.is_empty() {
        out.push(format!("released and removed: {}", removed.join(", ")));
    }
    if !added.is_empty() {
        out.push(format!(
            "added, started where they belong once both nodes have them: {}",
            added.join(", ")
        ));
    }
    if out.is_empty() && a.groups != b.groups {
        out.push("the groups' order changed (nothing moves)".into());
    }
    out
}

/// Applies new files to the loop's side (ping loop, respawned programs, the resources of
/// new groups) and returns the event that gives them to the Fsm. `None` with a Heartbeat
/// peer (see the module documentation).
pub(super) async fn apply(
    parts: &mut LoopParts,
    new: NodeConfig,
    tx: &tokio::sync::mpsc::UnboundedSender<super::handle::Input>,
    worker: &tokio::runtime::Handle,
) -> Option<Event> {
    if parts.heartbeat.is_some() {
        tracing::error!(
            "reload: the peer speaks Heartbeat's protocol: ha.cf and haresources apply at the \
             next start only"
        );
        return None;
    }
    let next = merge(&parts.cfg, &new);
    let old = &parts.cfg.hacf;
    if old.ping_nodes != next.hacf.ping_nodes
        || old.deadping != next.hacf.deadping
        || old.keepalive != next.hacf.keepalive
    {
        if let Some(p) = parts.ping.take() {
            p.abort();
        }
        // Names are resolved off the loop (getaddrinfo blocks).
        let hacf = next.hacf.clone();
        let hosts = tokio::task::spawn_blocking(move || resolve_ping_nodes(&hacf))
            .await
            .unwrap_or_default();
        parts.ping = spawn_ping(hosts, &next.hacf, tx.clone());
    }
    if old.respawn != next.hacf.respawn || old.env != next.hacf.env {
        // Stopped now, started again by the loop with the new list (the node has joined).
        parts.clients.stop().await;
        parts.clients = Clients::new(&next);
    }
    if parts.cfg.settings.tracks != next.settings.tracks {
        parts.tracks.specs = next.settings.tracks.clone();
        if parts.tracks.links.is_none() {
            parts.tracks.links = super::track::track_links(&next, worker);
        }
    }
    if parts.cfg.settings.notify != next.settings.notify {
        // The notifications already queued run with the old commands, then the new ones.
        parts.notifier.finish().await;
        parts.notifier = super::track::Notifier::new(
            next.settings.notify.clone(),
            super::config::script_env(&next).environment(),
            worker,
        );
    }
    let event = Event::Reconfigure(Box::new(next.fsm_config()));
    parts.cfg = next;
    Some(event)
}

/// Starts the ping loop for ha.cf's ping nodes (none: no loop).
pub(super) fn spawn_ping(
    hosts: Vec<(String, Vec<std::net::IpAddr>)>,
    hacf: &HaCf,
    tx: tokio::sync::mpsc::UnboundedSender<super::handle::Input>,
) -> Option<tokio::task::JoinHandle<()>> {
    if hosts.is_empty() {
        return None;
    }
    let interval = hacf.keepalive.clamp(
        std::time::Duration::from_millis(10),
        std::time::Duration::from_secs(1),
    );
    Some(tokio::spawn(ping_loop(hosts, interval, hacf.deadping, tx)))
}

/// Gives every slot the Fsm added at a reload its resources (from the latest haresources,
/// matched by what they are), so a probe or an acquire of it finds them.
pub(super) fn sync_groups(parts: &mut LoopParts) {
    let slots = parts.fsm.config().groups.len();
    if parts.groups.len() >= slots {
        return;
    }
    let catalog = parts.cfg.groups();
    while parts.groups.len() < slots {
        let g = parts.groups.len();
        let want = &parts.fsm.config().groups[g].resources;
        let found = catalog
            .iter()
            .find(|rs| rs.iter().map(Resource::display).eq(want.iter().cloned()))
            .cloned()
            .unwrap_or_default();
        parts.groups.push(found);
    }
}
