//! ha.cf's `ping` / `ping_group` nodes: resolved once at start, then pinged beside the loop,
//! which hears how many answer ([`Event::PingReachable`]).

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::hacf::{HaCf, Host};
use crate::fsm::Event;

use super::handle::Input;

pub(super) fn resolve_ping_nodes(cf: &HaCf) -> Vec<(String, Vec<IpAddr>)> {
    use std::net::ToSocketAddrs;
    cf.ping_nodes
        .iter()
        .map(|p| {
            let hosts = p
                .hosts
                .iter()
                .flat_map(|h| match h {
                    Host::Ip(ip) => vec![*ip],
                    Host::Name(n) => match (n.as_str(), 0).to_socket_addrs() {
                        Ok(a) => a.map(|s| s.ip()).collect(),
                        Err(e) => {
                            tracing::error!(ping = %n, error = %e, "cannot resolve ping node {n}");
                            Vec::new()
                        }
                    },
                })
                .collect();
            (p.name.clone(), hosts)
        })
        .collect()
}

/// Pings every ping node each `interval`; a node (or ping_group) is reachable while one of
/// its hosts answered within `deadping`. Reports the count when it changes.
pub(super) async fn ping_loop(
    nodes: Vec<(String, Vec<IpAddr>)>,
    interval: Duration,
    deadping: Duration,
    tx: mpsc::UnboundedSender<Input>,
) {
    let mut pinger = match crate::ping::Pinger::new() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot open ICMP socket: ping nodes are not watched");
            return;
        }
    };
    let start = Instant::now();
    let mut last_ok: Vec<Instant> = vec![start; nodes.len()];
    let mut reachable = vec![true; nodes.len()];
    let mut reported = u16::try_from(nodes.len()).unwrap_or(u16::MAX);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    loop {
        tick.tick().await;
        for (i, (name, hosts)) in nodes.iter().enumerate() {
            let mut ok = false;
            for h in hosts {
                match pinger.probe(*h, interval).await {
                    Ok(up) => {
                        failing.remove(h);
                        if up {
                            ok = true;
                            break;
                        }
                    }
                    // Logged once until it works again (e.g. no route, no ICMPv6 socket).
                    Err(e) => {
                        if failing.insert(*h) {
                            tracing::error!(ping = %h, "cannot ping {h} (ping node {name}): {e}");
                        }
                    }
                }
            }
            let now = Instant::now();
            if let (Some(last), Some(up)) = (last_ok.get_mut(i), reachable.get_mut(i)) {
                if ok {
                    *last = now;
                }
                let is_up = now.saturating_duration_since(*last) < deadping;
                if is_up != *up {
                    *up = is_up;
                    if is_up {
                        tracing::info!(ping = %name, "Link {name}:{name} up.");
                    } else {
                        tracing::warn!(ping = %name, "node {name}: is dead");
                    }
                }
            }
        }
        let n = u16::try_from(reachable.iter().filter(|u| **u).count()).unwrap_or(u16::MAX);
        if n != reported {
            reported = n;
            if tx.send(Input::Event(Event::PingReachable(n))).is_err() {
                return;
            }
        }
    }
}
