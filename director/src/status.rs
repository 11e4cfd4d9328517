//! What `director status` shows: this node's role, the peer and each link, every resource,
//! recent transitions, and every virtual service with its real servers. Plain data (serde) and
//! a human rendering; the daemon fills it, the control socket carries it.

use std::fmt::Write as _;
use std::time::SystemTime;

use failover::node::NodeStatus;
use serde::{Deserialize, Serialize};

use crate::pair::split_transition;

/// The whole status of a running daemon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// This node's name (`uname -n` or nodeinfo).
    pub node: String,
    /// "pair" with ha.cf, "single" without.
    pub mode: String,
    pub config_dir: String,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    pub reloads: u64,
    /// The last reload that was refused, with its errors (the old config kept running).
    pub last_reload_error: Option<String>,
    pub failover: Option<FailoverStatus>,
    pub virtuals: Vec<VirtualStatus>,
    /// Scale-out: what this director announces through BIRD (`[announce]` on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<AnnounceStatus>,
    /// What the operator asked of real servers (`director real ...`): its record's version,
    /// and whether the peer holds the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorStatus>,
}

/// The operator's record (`director real ...`) of this node, and the peer's copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorStatus {
    /// Raised by every change.
    pub version: u64,
    /// The node that made the last change.
    pub node: String,
    /// How many real servers are drained, disabled or reweighted.
    pub reals: usize,
    /// The peer's copy in words: `same version`, `peer shows version N by NODE`, `not
    /// heard yet`, `not shared: the peer runs Heartbeat`; none for a single director.
    pub peer: Option<String>,
}

/// The VIPs announced through BIRD, and BIRD's protocols.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnounceStatus {
    /// The static-route file director writes.
    pub file: String,
    /// What BIRD has now (the last file it accepted).
    pub announced: Vec<String>,
    /// What this director can serve now (differs from `announced` while BIRD refuses).
    pub wanted: Vec<String>,
    /// Operator standby: nothing announced.
    pub standby: bool,
    /// The last failure to publish, while it lasts.
    pub error: Option<String>,
    /// BIRD's protocols (`show protocols`, every 5 s): BGP sessions, BFD, the static ones.
    pub protocols: Vec<BirdProtocolStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BirdProtocolStatus {
    pub name: String,
    pub proto: String,
    /// `up`, `down`, `start`, ...
    pub state: String,
    /// BGP: the session state (`Established`, ...) and its last error.
    pub info: String,
}

/// The failover side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverStatus {
    /// This node's role (e.g. "active", "standby", "initdead").
    pub role: String,
    pub peer: Option<PeerStatus>,
    pub links: Vec<LinkStatus>,
    pub resources: Vec<ResourceStatus>,
    pub transitions: Vec<TransitionStatus>,
    /// Heartbeat packets refused since the start, by reason (`bad_auth`, `replay`,
    /// `old_generation`, `unknown_node`, `malformed`, ...).
    #[serde(default)]
    pub rejected: std::collections::BTreeMap<String, u64>,
    /// The tracked scripts and interfaces (`director.conf` `[track]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<TrackStatus>,
}

/// One tracked script or interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackStatus {
    /// `track script chk_nginx`, `track interface eth0`.
    pub name: String,
    /// `passing`, `failing`, `unknown` (no result yet).
    pub state: String,
    /// What its failure counts against this node.
    pub weight: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub name: String,
    /// "up", "dead", "unknown", "gone".
    pub state: String,
    /// The peer's role from its last heartbeat ("active", "standby", "partial", "init",
    /// "stopping", with " (operator standby)"); none unless it is up.
    pub role: Option<String>,
    /// Milliseconds since a valid heartbeat was last heard from it.
    pub last_heard_ms: Option<u64>,
}

/// One interface of ha.cf's media, listed whether or not the peer was heard on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// The media on the interface, e.g. "bcast eth1", "ucast eth0", "bcast+mcast eth1".
    pub medium: String,
    /// "up", "dead" (silent for a deadtime), "unknown" (never heard).
    pub state: String,
    /// The peer's address last heard on it.
    #[serde(default)]
    pub from: Option<String>,
    pub last_heard_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceStatus {
    /// The haresources group's preferred node.
    pub group: String,
    /// e.g. "IPaddr::192.0.2.132/24/eth0", "ldirectord::www".
    pub resource: String,
    /// "running", "stopped", "starting", "stopping", "failed".
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransitionStatus {
    /// Seconds since the daemon started.
    pub at_s: f64,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualStatus {
    /// ldirectord's `<VID>`: `tcp:192.0.2.132:80`, `fwm:7`.
    pub name: String,
    pub scheduler: String,
    pub fallback_active: bool,
    /// `director.conf`'s quorum of the service, in words: `up (weight 5, quorum 3,
    /// hysteresis 1)`, `down (...)`, `undecided (...)` until the first verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<String>,
    pub reals: Vec<RealStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RealStatus {
    /// `ip:port` as configured.
    pub address: String,
    /// "up", "down", "unknown".
    pub health: String,
    /// Weight in the kernel table now, if present.
    pub weight: Option<u32>,
    /// Why the last check failed, if it did.
    pub reason: Option<String>,
    /// What the operator asked (`director real ...`): `draining, 3 connections`, `drained`,
    /// `disabled`, `weight 5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl Status {
    /// The human rendering of `director status`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "node {} ({} mode), up {}s, config {}, {} reload(s)",
            self.node, self.mode, self.uptime_s, self.config_dir, self.reloads
        );
        if let Some(err) = &self.last_reload_error {
            let _ = writeln!(
                s,
                "last reload refused, running config kept:\n  {}",
                err.replace('\n', "\n  ")
            );
        }
        if let Some(f) = &self.failover {
            let _ = writeln!(s, "role: {}", f.role);
            match &f.peer {
                Some(p) => {
                    let _ = writeln!(
                        s,
                        "peer {}: {}{}{}",
                        p.name,
                        p.state,
                        p.role
                            .as_deref()
                            .map(|r| format!(", {r}"))
                            .unwrap_or_default(),
                        p.last_heard_ms
                            .map(|ms| format!(", last heard {ms} ms ago"))
                            .unwrap_or_default()
                    );
                }
                None => {
                    let _ = writeln!(s, "peer: none configured");
                }
            }
            for l in &f.links {
                let _ = writeln!(
                    s,
                    "  link {}: {}{}{}",
                    l.medium,
                    l.state,
                    l.from
                        .as_deref()
                        .map(|a| format!(", from {a}"))
                        .unwrap_or_default(),
                    l.last_heard_ms
                        .map(|ms| format!(", last heard {ms} ms ago"))
                        .unwrap_or_else(|| ", never heard".to_string())
                );
            }
            if !f.rejected.is_empty() {
                let counts: Vec<String> =
                    f.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
                let _ = writeln!(s, "  refused packets: {}", counts.join(", "));
            }
            for t in &f.tracks {
                let _ = writeln!(s, "{}: {} (weight {})", t.name, t.state, t.weight);
            }
            if !f.resources.is_empty() {
                let _ = writeln!(s, "resources:");
                for r in &f.resources {
                    let _ = writeln!(
                        s,
                        "  {:<40} {:<10} (group of {})",
                        r.resource, r.state, r.group
                    );
                }
            }
            if !f.transitions.is_empty() {
                let _ = writeln!(s, "recent transitions:");
                for t in &f.transitions {
                    let _ = writeln!(s, "  +{:.3}s {} -> {}: {}", t.at_s, t.from, t.to, t.reason);
                }
            }
        }
        if let Some(a) = &self.announce {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "nothing".to_string()
                } else {
                    v.join(", ")
                }
            };
            let _ = writeln!(
                s,
                "announced through BIRD: {}{}",
                list(&a.announced),
                if a.standby { " (operator standby)" } else { "" }
            );
            if a.wanted != a.announced {
                let _ = writeln!(s, "  to announce: {}", list(&a.wanted));
            }
            if let Some(e) = &a.error {
                let _ = writeln!(s, "  BIRD: {e}");
            }
            for p in &a.protocols {
                let _ = writeln!(s, "  bird {} {}: {} {}", p.proto, p.name, p.state, p.info);
            }
        }
        if let Some(o) = &self.operator {
            let _ = writeln!(
                s,
                "operator: {} real server(s) drained, disabled or reweighted (version {}{}){}",
                o.reals,
                o.version,
                if o.node.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", o.node)
                },
                o.peer
                    .as_deref()
                    .map(|p| format!("; peer: {p}"))
                    .unwrap_or_default()
            );
        }
        for v in &self.virtuals {
            let _ = writeln!(
                s,
                "virtual {} ({}){}{}",
                v.name,
                v.scheduler,
                if v.fallback_active {
                    ", fallback active"
                } else {
                    ""
                },
                v.quorum
                    .as_deref()
                    .map(|q| format!(", quorum {q}"))
                    .unwrap_or_default()
            );
            for r in &v.reals {
                let weight = r
                    .weight
                    .map(|w| format!("weight {w}"))
                    .unwrap_or_else(|| "not in table".into());
                let _ = writeln!(
                    s,
                    "  real {:<28} {:<8} {}{}{}",
                    r.address,
                    r.health,
                    weight,
                    r.operator
                        .as_deref()
                        .map(|x| format!(", operator: {x}"))
                        .unwrap_or_default(),
                    r.reason
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                );
            }
        }
        s
    }
}

fn ago_ms(now: SystemTime, t: SystemTime) -> Option<u64> {
    now.duration_since(t)
        .ok()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `director status`'s failover part from the node's snapshot, at `now` on the wall clock;
/// `started`: when the daemon started (transitions are shown as seconds since).
pub fn failover_status(node: &NodeStatus, started: SystemTime, now: SystemTime) -> FailoverStatus {
    let role = if node.standby {
        format!("{} (operator standby)", node.role())
    } else {
        node.role().to_string()
    };
    let peer = node.peer.as_ref().map(|p| PeerStatus {
        name: p.name.clone(),
        state: match p.life {
            "alive" => "up".to_string(),
            other => other.to_string(),
        },
        role: p.role.map(|r| {
            if p.standby {
                format!("{r} (operator standby)")
            } else {
                r.to_string()
            }
        }),
        last_heard_ms: p.last_heard.and_then(|t| ago_ms(now, t)),
    });
    // Every link of ha.cf, heard or not.
    let links = node
        .links
        .iter()
        .map(|l| LinkStatus {
            medium: l.medium.clone(),
            state: l.state().to_string(),
            from: l.from.map(|f| f.to_string()),
            last_heard_ms: l.last_heard.and_then(|t| ago_ms(now, t)),
        })
        .collect();
    let resources = node
        .groups
        .iter()
        .flat_map(|g| {
            g.resources.iter().map(move |r| ResourceStatus {
                group: g.preferred.clone(),
                resource: r.clone(),
                state: match g.local {
                    "active" => "running",
                    "acquiring" => "starting",
                    "releasing" | "cleaning" => "stopping",
                    "failed" => "failed",
                    _ => "stopped",
                }
                .to_string(),
            })
        })
        .collect();
    let transitions = node
        .transitions
        .iter()
        .map(|t| {
            let (from, to, reason) = split_transition(&t.what);
            TransitionStatus {
                at_s: t
                    .at
                    .duration_since(started)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
                from,
                to,
                reason,
            }
        })
        .collect();
    FailoverStatus {
        role,
        peer,
        links,
        resources,
        transitions,
        rejected: node
            .rejected
            .iter()
            .map(|(r, n)| ((*r).to_string(), *n))
            .collect(),
        tracks: node
            .tracks
            .iter()
            .map(|t| TrackStatus {
                name: t.name.clone(),
                state: t.state.to_string(),
                weight: t.weight,
            })
            .collect(),
    }
}

/// This node's name and the clocks [`assemble`] reads (the daemon's, passed in: the
/// assembly itself is pure).
#[derive(Debug, Clone)]
pub struct Clocks {
    /// The failover node's name, else the host's.
    pub node: String,
    pub uptime_s: u64,
    /// When the daemon started, on the wall clock.
    pub wall_start: SystemTime,
    pub now: SystemTime,
}

/// `director status` and the metrics counters from the files' statuses and the failover
/// node's snapshot.
pub fn assemble(
    statuses: &[crate::lvs::LvsStatus],
    node_status: Option<&NodeStatus>,
    clocks: Clocks,
    config_dir: &str,
) -> (Status, crate::metrics::Counters) {
    let Clocks {
        node,
        uptime_s,
        wall_start,
        now,
    } = clocks;
    let errors: Vec<String> = statuses
        .iter()
        .filter_map(|s| s.last_reload_error.clone())
        .collect();
    let status = Status {
        node,
        mode: if node_status.is_some() {
            "pair"
        } else {
            "single"
        }
        .into(),
        config_dir: config_dir.to_string(),
        uptime_s,
        reloads: statuses.iter().map(|s| s.reloads).sum(),
        last_reload_error: (!errors.is_empty()).then(|| errors.join("\n")),
        failover: node_status.map(|n| failover_status(n, wall_start, now)),
        virtuals: statuses.iter().flat_map(|s| s.virtuals.clone()).collect(),
        announce: None,
        operator: None,
    };
    let counters = crate::metrics::Counters {
        reloads: status.reloads,
        reload_failures: statuses.iter().map(|s| s.reload_failures).sum(),
        ipvs_changes: statuses.iter().map(|s| s.ipvs_changes).sum(),
        ipvs_errors: statuses.iter().map(|s| s.ipvs_errors).sum(),
        checks: statuses.iter().map(|s| s.checks).sum(),
        check_failures: statuses.iter().map(|s| s.check_failures).sum(),
        heartbeat_rejected: node_status
            .map(|n| {
                n.rejected
                    .iter()
                    .map(|(reason, count)| ((*reason).to_string(), *count))
                    .collect()
            })
            .unwrap_or_default(),
        check_lag: statuses
            .first()
            .map(|s| s.check_lag.clone())
            .unwrap_or_default(),
    };
    (status, counters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_part_and_round_trips_as_json() {
        let st = Status {
            node: "director1".into(),
            mode: "pair".into(),
            config_dir: "/etc/ha.d".into(),
            uptime_s: 12,
            reloads: 1,
            last_reload_error: Some("www.cf:3: unknown directive 'foo'".into()),
            failover: Some(FailoverStatus {
                role: "active".into(),
                peer: Some(PeerStatus {
                    name: "director2".into(),
                    state: "up".into(),
                    role: Some("standby".into()),
                    last_heard_ms: Some(15),
                }),
                links: vec![
                    LinkStatus {
                        medium: "bcast eth1".into(),
                        state: "up".into(),
                        from: Some("192.0.2.2:694".into()),
                        last_heard_ms: Some(15),
                    },
                    LinkStatus {
                        medium: "ucast eth2".into(),
                        state: "unknown".into(),
                        from: None,
                        last_heard_ms: None,
                    },
                ],
                resources: vec![ResourceStatus {
                    group: "director1".into(),
                    resource: "IPaddr::192.0.2.132/24".into(),
                    state: "running".into(),
                }],
                transitions: vec![TransitionStatus {
                    at_s: 1.5,
                    from: "standby".into(),
                    to: "active".into(),
                    reason: "node director2 is dead".into(),
                }],
                rejected: [("bad_auth".to_string(), 3), ("replay".to_string(), 1)].into(),
                tracks: vec![TrackStatus {
                    name: "track script chk_nginx".into(),
                    state: "failing".into(),
                    weight: 2,
                }],
            }),
            virtuals: vec![VirtualStatus {
                name: "tcp:192.0.2.132:80".into(),
                scheduler: "rr".into(),
                fallback_active: false,
                quorum: Some("down (weight 1, quorum 3, hysteresis 1)".into()),
                reals: vec![RealStatus {
                    address: "198.51.100.1:80".into(),
                    health: "up".into(),
                    weight: Some(1),
                    reason: None,
                    operator: Some("draining, 3 connections".into()),
                }],
            }],
            operator: Some(OperatorStatus {
                version: 4,
                node: "director2".into(),
                reals: 1,
                peer: Some("same version".into()),
            }),
            announce: Some(AnnounceStatus {
                file: "/etc/bird/director-vips.conf".into(),
                announced: vec!["192.0.2.132".into()],
                wanted: vec![],
                standby: false,
                error: Some("BIRD refused \"configure\": 8002 x".into()),
                protocols: vec![BirdProtocolStatus {
                    name: "router1".into(),
                    proto: "BGP".into(),
                    state: "up".into(),
                    info: "Established".into(),
                }],
            }),
        };
        let text = st.render();
        for want in [
            "node director1 (pair mode)",
            "www.cf:3: unknown directive",
            "role: active",
            "peer director2: up, standby, last heard 15 ms ago",
            "link bcast eth1: up, from 192.0.2.2:694, last heard 15 ms ago",
            "link ucast eth2: unknown, never heard",
            "IPaddr::192.0.2.132/24",
            "node director2 is dead",
            "refused packets: bad_auth 3, replay 1",
            "track script chk_nginx: failing (weight 2)",
            "virtual tcp:192.0.2.132:80 (rr), quorum down (weight 1, quorum 3, hysteresis 1)",
            "real 198.51.100.1:80              up       weight 1, operator: draining, 3 connections",
            "operator: 1 real server(s) drained, disabled or reweighted (version 4 by director2); peer: same version",
            "announced through BIRD: 192.0.2.132\n  to announce: nothing\n  BIRD: BIRD refused",
            "  bird BGP router1: up Established",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let json = serde_json::to_string(&st).unwrap();
        assert!(
            json.contains(r#""rejected":{"bad_auth":3,"replay":1}"#),
            "{json}"
        );
        let back: Status = serde_json::from_str(&json).unwrap();
        assert_eq!(back, st);
    }

    #[test]
    fn assembled_from_the_files_and_the_clocks_alone() {
        let file = |reloads, error: Option<&str>| crate::lvs::LvsStatus {
            file: "www.cf".into(),
            reloads,
            reload_failures: u64::from(error.is_some()),
            last_reload_error: error.map(str::to_string),
            checks: 7,
            ..Default::default()
        };
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let clocks = Clocks {
            node: "director1".into(),
            uptime_s: 42,
            wall_start: now - std::time::Duration::from_secs(42),
            now,
        };
        let (st, counters) = assemble(
            &[file(2, None), file(1, Some("www.cf:3: unknown directive"))],
            None,
            clocks,
            "/etc/ha.d",
        );
        assert_eq!(
            (st.node.as_str(), st.mode.as_str(), st.uptime_s, st.reloads),
            ("director1", "single", 42, 3)
        );
        assert_eq!(
            st.last_reload_error.as_deref(),
            Some("www.cf:3: unknown directive")
        );
        assert!(st.failover.is_none());
        assert_eq!((counters.reload_failures, counters.checks), (1, 14));
    }
}
