//! Ping-node reachability between namespaces.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![cfg(feature = "netns")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use failover::ping::Pinger;
use tests::netns::Lab;

/// From a: `peer` (b's address) answers, `ghost` does not and the timeout is honoured; then
/// with b's link down, `peer` no longer answers.
fn up_and_down(lab: &Lab, peer: &'static str, ghost: &'static str) -> Result<()> {
    lab.block_in("a", move || async move {
        let mut p = Pinger::new()?;
        // The first echo also resolves b's link-layer address (ARP / neighbour discovery).
        ensure!(
            p.probe(peer.parse()?, Duration::from_secs(2)).await?,
            "b ({peer}) does not answer"
        );
        let start = Instant::now();
        ensure!(
            !p.probe(ghost.parse()?, Duration::from_millis(300)).await?,
            "ghost answered"
        );
        ensure!(
            start.elapsed() < Duration::from_secs(1),
            "timeout not honoured"
        );
        Ok(())
    })?;
    lab.ip("b", &["link", "set", "eth0", "down"])?;
    lab.block_in("a", move || async move {
        let mut p = Pinger::new()?;
        ensure!(
            !p.probe(peer.parse()?, Duration::from_millis(500))
                .await
                .unwrap_or(false),
            "down host answered"
        );
        Ok(())
    })
}

#[test]
fn ping_node_up_and_down() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    up_and_down(&lab, "192.0.2.12", "192.0.2.99")
}

/// `ping6`: ICMPv6 echo between namespaces (2001:db8::/32 documentation addresses).
#[test]
fn ping6_node_up_and_down() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    for (host, addr) in [("a", "2001:db8::11/64"), ("b", "2001:db8::12/64")] {
        lab.ip(host, &["-6", "addr", "add", addr, "dev", "eth0", "nodad"])?;
    }
    up_and_down(&lab, "2001:db8::12", "2001:db8::99")
}
