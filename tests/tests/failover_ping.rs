//! Ping-node reachability between namespaces.
#![cfg(feature = "netns")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use failover::ping::Pinger;
use tests::netns::Lab;

#[test]
fn ping_node_up_and_down() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    lab.block_in("a", || async {
        let mut p = Pinger::new()?;
        ensure!(
            p.probe("192.0.2.12".parse()?, Duration::from_secs(2))
                .await?,
            "b does not answer"
        );
        let start = Instant::now();
        ensure!(
            !p.probe("192.0.2.99".parse()?, Duration::from_millis(300))
                .await?,
            "ghost answered"
        );
        ensure!(
            start.elapsed() < Duration::from_secs(1),
            "timeout not honoured"
        );
        Ok(())
    })?;
    // b's link down: no answer any more.
    lab.ip("b", &["link", "set", "eth0", "down"])?;
    lab.block_in("a", || async {
        let mut p = Pinger::new()?;
        ensure!(
            !p.probe("192.0.2.12".parse()?, Duration::from_millis(500))
                .await?,
            "down host answered"
        );
        Ok(())
    })?;
    Ok(())
}

/// `ping6`: ICMPv6 echo between namespaces (2001:db8::/32 documentation addresses).
#[test]
fn ping6_node_up_and_down() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    for (host, addr) in [("a", "2001:db8::11/64"), ("b", "2001:db8::12/64")] {
        lab.ip(host, &["-6", "addr", "add", addr, "dev", "eth0", "nodad"])?;
    }
    lab.block_in("a", || async {
        let mut p = Pinger::new()?;
        // The first echo also resolves b's link-layer address (neighbour discovery).
        ensure!(
            p.probe("2001:db8::12".parse()?, Duration::from_secs(2))
                .await?,
            "b does not answer ICMPv6 echo"
        );
        let start = Instant::now();
        ensure!(
            !p.probe("2001:db8::99".parse()?, Duration::from_millis(300))
                .await?,
            "ghost answered"
        );
        ensure!(
            start.elapsed() < Duration::from_secs(1),
            "timeout not honoured"
        );
        Ok(())
    })?;
    lab.ip("b", &["link", "set", "eth0", "down"])?;
    lab.block_in("a", || async {
        let mut p = Pinger::new()?;
        ensure!(
            !p.probe("2001:db8::12".parse()?, Duration::from_millis(500))
                .await
                .unwrap_or(false),
            "down host answered"
        );
        Ok(())
    })?;
    Ok(())
}
