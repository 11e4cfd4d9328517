//! What the state machine is configured with ([`FsmConfig`], built from the parsed files).

use std::time::Duration;

use crate::config::hacf::{AutoFailback, HaCf};
use crate::config::haresources::Haresources;
use crate::config::settings::Track;
use crate::monitor::Policy;

/// Index of a group in haresources order.
pub type GroupId = usize;

/// What to do to this node when a resource cannot be stopped (Heartbeat reboots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceAction {
    /// Immediate reboot (`reboot -nf`), as Heartbeat's RecoverFromFailedStop.
    Reboot,
    /// Power off.
    PowerOff,
    /// Stop the failover node (no more heartbeats: the peer takes over after deadtime).
    Exit,
    /// Run the operator's fencing command, then stop the failover node.
    Command,
    /// Do nothing but log: the group stays "releasing" and the peer never takes it.
    None,
}

impl FenceAction {
    /// How the log line names it.
    pub fn words(self) -> &'static str {
        match self {
            FenceAction::Reboot => "reboot",
            FenceAction::PowerOff => "poweroff",
            FenceAction::Exit => "the failover node exits",
            FenceAction::Command => "the configured fencing command",
            FenceAction::None => "none",
        }
    }
}

/// A group as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// haresources key (first resource as written).
    pub key: String,
    /// Preferred node, lower case.
    pub preferred: String,
    /// Its resources as Heartbeat names them (`IPaddr::192.0.2.100/24/eth0`, `httpd`).
    pub resources: Vec<String>,
}

/// Everything the state machine needs from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct FsmConfig {
    pub local: String,
    /// The other node, if ha.cf lists one.
    pub peer: Option<String>,
    pub groups: Vec<GroupSpec>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub auto_failback: AutoFailback,
    /// Number of ping nodes and ping groups (0: no ipfail comparison).
    pub ping_nodes: u16,
    /// Stop attempts before fencing (Heartbeat: 10).
    pub stop_retries: u32,
    /// Pause between stop attempts (Heartbeat: 1 s).
    pub stop_retry_interval: Duration,
    pub fence: FenceAction,
    /// How long a group that failed to start here is left to the peer before we try again.
    pub failed_hold: Duration,
    /// Re-probe groups we do not hold this often, stopping strays (`None`: only at start).
    pub probe_interval: Option<Duration>,
    /// Reset a dead peer (STONITH) before taking its groups: ha.cf has a `stonith` or
    /// `stonith_host` line for this node (or the operator gave a reset command).
    pub stonith: bool,
    /// Pause before a failed reset is tried again (Heartbeat: 5 s). No takeover until one
    /// succeeds.
    pub stonith_retry: Duration,
    /// haresources digest, compared with the peer's.
    pub config_digest: u32,
    /// Monitoring of held resources (`director.conf` `[monitor]`); `None`: none, as Heartbeat.
    pub monitor: Option<Policy>,
    /// The interfaces of ha.cf's media, in file order: their links are known (and listed)
    /// before anything is heard on them.
    pub links: Vec<String>,
    /// Tracked scripts and interfaces (`director.conf` `[track]`): checked every interval
    /// ([`super::Action::Track`]); the weight of the failing ones counts against this node.
    pub tracks: Vec<Track>,
    /// How long the holder of a group keeps it once its preferred node can take it back
    /// (`director.conf` `[failback] hold`; zero: at once).
    pub failback_hold: Duration,
}

impl FsmConfig {
    /// Builds the configuration from parsed files, with Heartbeat's defaults for the rest
    /// (10 stop attempts 1 s apart then reboot, 60 s failed hold, re-probe every 60 s).
    /// `local` is the local node name (lower case). The first other node of ha.cf is the peer.
    pub fn new(hacf: &HaCf, haresources: &Haresources, local: &str) -> Self {
        let local = local.to_lowercase();
        let stonith = hacf.stonith.iter().any(|s| s.applies_to(&local));
        FsmConfig {
            peer: hacf.nodes.iter().find(|n| **n != local).cloned(),
            local,
            groups: haresources
                .groups
                .iter()
                .map(|g| GroupSpec {
                    key: g.key().to_string(),
                    preferred: g.preferred.clone(),
                    resources: g
                        .resources
                        .iter()
                        .map(|r| crate::resources::Resource::from(r).display())
                        .collect(),
                })
                .collect(),
            keepalive: hacf.keepalive,
            deadtime: hacf.deadtime,
            warntime: hacf.warntime,
            initdead: hacf.initdead,
            auto_failback: hacf.auto_failback,
            ping_nodes: u16::try_from(hacf.ping_nodes.len()).unwrap_or(u16::MAX),
            stop_retries: 10,
            stop_retry_interval: Duration::from_secs(1),
            fence: FenceAction::Reboot,
            failed_hold: Duration::from_secs(60),
            probe_interval: Some(Duration::from_secs(60)),
            stonith,
            stonith_retry: Duration::from_secs(5),
            config_digest: haresources.digest(),
            monitor: None,
            links: media_interfaces(hacf),
            tracks: Vec::new(),
            failback_hold: Duration::ZERO,
        }
    }
}

/// The interfaces of ha.cf's media, in file order, each once.
fn media_interfaces(hacf: &HaCf) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for iface in hacf.media.iter().map(|m| m.iface()) {
        if !out.iter().any(|i| i == iface) {
            out.push(iface.to_string());
        }
    }
    out
}
