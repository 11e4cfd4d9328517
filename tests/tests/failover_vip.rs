//! VIP add/remove over rtnetlink and its gratuitous ARP, seen from a client namespace.
#![cfg(feature = "netns")]

use std::time::Duration;

use anyhow::{ensure, Result};
use failover::vip::{Announce, NetlinkVip, Vip, VipKind, VipSpec};
use tests::netns::{wait_for, Lab};

const VIP: &str = "192.0.2.100";

fn spec(arg: &str) -> VipSpec {
    VipSpec::parse_ipaddr(VipKind::IpAddr, arg).expect("valid spec")
}

#[test]
fn vip_moves_and_client_follows_gratuitous_arp() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 50)])?;
    let (mac_a, mac_b) = (lab.mac("a")?, lab.mac("b")?);

    // On node a: no interface named, so it is found by subnet; IPaddr labels it eth0:0.
    let s = spec(VIP);
    let place = lab.block_in("a", move || async move {
        let vip = NetlinkVip::new(Announce::default())?;
        ensure!(!vip.is_present(&s).await?, "VIP present before add");
        let place = vip.add(&s).await?;
        ensure!(vip.is_present(&s).await?, "VIP absent after add");
        // Adding twice is harmless.
        vip.add(&s).await?;
        Ok(place)
    })?;
    assert_eq!(place.ifname, "eth0");
    assert_eq!(place.prefix, 24);
    assert_eq!(place.label.as_deref(), Some("eth0:0"));
    let shown = lab.ip("a", &["-o", "-4", "addr", "show", "dev", "eth0"])?;
    assert!(
        shown.contains("192.0.2.100/24 brd 192.0.2.255 scope global secondary eth0:0"),
        "{shown}"
    );

    // The client learns a's MAC for the VIP by talking to it.
    assert_eq!(lab.resolve("c", VIP)?, mac_a);

    // Move: remove on a, add on b; the client is told by b's gratuitous ARP alone.
    let s = spec(VIP);
    lab.block_in("a", move || async move {
        let vip = NetlinkVip::new(Announce::default())?;
        vip.remove(&s).await?;
        ensure!(!vip.is_present(&s).await?, "VIP still present after remove");
        vip.remove(&s).await?;
        Ok(())
    })?;
    assert!(!lab.has_addr("a", VIP)?);
    let s = spec(&format!("{VIP}/24/eth0"));
    lab.block_in("b", move || async move {
        let vip = NetlinkVip::new(Announce {
            repeat: 5,
            interval: Duration::from_millis(200),
        })?;
        vip.add(&s).await?;
        // Keep the runtime alive while the announcements go out.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        Ok(())
    })?;
    assert!(lab.has_addr("b", VIP)?);
    let took = wait_for(Duration::from_secs(2), || {
        lab.neigh("c", VIP).ok().flatten().as_deref() == Some(mac_b.as_str())
    });
    assert!(
        took.is_some(),
        "client still has {:?} for the VIP, b is {mac_b}",
        lab.neigh("c", VIP)?
    );
    Ok(())
}

/// A node that gives the VIP up soon after taking it stops announcing it: otherwise its
/// remaining gratuitous ARPs would send the client back to it after the new owner's.
#[test]
fn a_removed_vip_is_not_announced_any_more() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 50)])?;
    let mac_b = lab.mac("b")?;
    let s = spec(&format!("{VIP}/24/eth0"));
    // a: add (announcing 15 times, 100 ms apart), give it up 400 ms later, stay alive.
    let a = lab.spawn_in("a", move || async move {
        let vip = NetlinkVip::new(Announce {
            repeat: 15,
            interval: Duration::from_millis(100),
        })?;
        vip.add(&s).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        vip.remove(&s).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    })?;
    wait_for(Duration::from_secs(2), || {
        lab.has_addr("a", VIP).unwrap_or(false)
    });
    // The client talks to the VIP on a (a gratuitous ARP only updates an existing entry).
    ensure!(
        lab.resolve("c", VIP)? == lab.mac("a")?,
        "the client did not reach a"
    );
    wait_for(Duration::from_secs(2), || {
        !lab.has_addr("a", VIP).unwrap_or(true)
    });
    // b takes it and announces once.
    let s = spec(&format!("{VIP}/24/eth0"));
    lab.block_in("b", move || async move {
        let vip = NetlinkVip::new(Announce {
            repeat: 1,
            interval: Duration::from_millis(100),
        })?;
        vip.add(&s).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    })?;
    let on_b = || lab.neigh("c", VIP).ok().flatten().as_deref() == Some(mac_b.as_str());
    ensure!(
        wait_for(Duration::from_secs(2), on_b).is_some(),
        "the client did not follow b's announcement: {:?}",
        lab.neigh("c", VIP)?
    );
    // While a's announcements would have gone on, the client stays with b.
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        ensure!(
            on_b(),
            "a announced the VIP after removing it: the client has {:?}, b is {mac_b}",
            lab.neigh("c", VIP)?
        );
    }
    a.join().map_err(|_| anyhow::anyhow!("a panicked"))??;
    Ok(())
}

#[test]
fn ipv6_vip_with_unsolicited_na() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12), ("c", 50)])?;
    for (h, n) in [("a", 11), ("b", 12), ("c", 50)] {
        lab.ip(
            h,
            &[
                "addr",
                "add",
                &format!("2001:db8::{n}/64"),
                "dev",
                "eth0",
                "nodad",
            ],
        )?;
    }
    let vip6 = "2001:db8::100";
    let (mac_a, mac_b) = (lab.mac("a")?, lab.mac("b")?);
    let s = VipSpec::parse_ipv6addr(vip6).expect("valid");
    let s2 = s.clone();
    lab.block_in("a", move || async move {
        let vip = NetlinkVip::new(Announce::default())?;
        vip.add(&s2).await?;
        Ok(())
    })?;
    assert!(lab.has_addr("a", vip6)?);
    assert_eq!(lab.resolve("c", vip6)?, mac_a);
    let s2 = s.clone();
    lab.block_in("a", move || async move {
        Ok(NetlinkVip::new(Announce::default())?.remove(&s2).await?)
    })?;
    lab.block_in("b", move || async move {
        NetlinkVip::new(Announce::default())?.add(&s).await?;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        Ok(())
    })?;
    let took = wait_for(Duration::from_secs(2), || {
        lab.neigh("c", vip6).ok().flatten().as_deref() == Some(mac_b.as_str())
    });
    assert!(
        took.is_some(),
        "client still has {:?} for the IPv6 VIP",
        lab.neigh("c", vip6)?
    );
    Ok(())
}
