//! Heartbeat transport between two namespaces over each medium kind.
#![cfg(feature = "netns")]

use std::time::Duration;

use anyhow::{bail, Context, Result};
use failover::peer::{Medium, Transport};
use tests::netns::Lab;

const PORT: u16 = 694;

/// Opens `media` in `to` and waits for a datagram from `from`; meanwhile `from` sends
/// "hb N" every 100 ms (bounded). Returns what `to` received and who it came from.
fn exchange(
    lab: &Lab,
    from: &str,
    to: &str,
    media: Vec<Medium>,
) -> Result<(Vec<u8>, String, String)> {
    let rx_media = media.clone();
    let receiver = lab.spawn_in(to, move || async move {
        let mut t = Transport::open(&rx_media)?;
        let got = tokio::time::timeout(Duration::from_secs(3), async {
            // Skip our own datagrams (bcast / ucast to self loop back, as in Heartbeat).
            loop {
                let r = t.recv().await.context("transport closed")?;
                if !r.data.starts_with(b"self") {
                    return Ok::<_, anyhow::Error>(r);
                }
            }
        })
        .await
        .context("no heartbeat received within 3 s")??;
        Ok((got.data, got.iface, got.from.ip().to_string()))
    })?;
    lab.block_in(from, move || async move {
        let t = Transport::open(&media)?;
        for n in 0..20 {
            t.send(format!("hb {n}").as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })?;
    match receiver.join() {
        Ok(r) => r,
        Err(_) => bail!("receiver panicked"),
    }
}

#[test]
fn ucast_both_ways_with_identical_media() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    let media = vec![
        Medium::Ucast {
            iface: "eth0".into(),
            peer: "192.0.2.11".parse()?,
            port: PORT,
        },
        Medium::Ucast {
            iface: "eth0".into(),
            peer: "192.0.2.12".parse()?,
            port: PORT,
        },
    ];
    let (data, iface, from) = exchange(&lab, "a", "b", media.clone())?;
    assert!(data.starts_with(b"hb "), "{data:?}");
    assert_eq!((iface.as_str(), from.as_str()), ("eth0", "192.0.2.11"));
    let (_, _, from) = exchange(&lab, "b", "a", media)?;
    assert_eq!(from, "192.0.2.12");
    Ok(())
}

#[test]
fn bcast_reaches_peer() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    let (data, iface, from) = exchange(
        &lab,
        "a",
        "b",
        vec![Medium::Bcast {
            iface: "eth0".into(),
            port: PORT,
        }],
    )?;
    assert!(data.starts_with(b"hb "));
    assert_eq!((iface.as_str(), from.as_str()), ("eth0", "192.0.2.11"));
    Ok(())
}

#[test]
fn mcast_reaches_peer() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    let media = vec![Medium::Mcast {
        iface: "eth0".into(),
        group: "225.0.0.1".parse()?,
        port: 694,
        ttl: 1,
        looped: false,
    }];
    let (_, iface, from) = exchange(&lab, "a", "b", media)?;
    assert_eq!((iface.as_str(), from.as_str()), ("eth0", "192.0.2.11"));
    Ok(())
}

#[test]
fn ucast6_reaches_peer() -> Result<()> {
    let lab = Lab::new(&[("a", 11), ("b", 12)])?;
    lab.ip(
        "a",
        &["addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad"],
    )?;
    lab.ip(
        "b",
        &["addr", "add", "2001:db8::12/64", "dev", "eth0", "nodad"],
    )?;
    let media = vec![Medium::Ucast {
        iface: "eth0".into(),
        peer: "2001:db8::12".parse()?,
        port: PORT,
    }];
    let (_, _, from) = exchange(&lab, "a", "b", media)?;
    assert_eq!(from, "2001:db8::11");
    Ok(())
}
