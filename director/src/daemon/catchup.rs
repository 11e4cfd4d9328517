//! The catch-up before a takeover: a node taking a group from a live peer waits, bounded,
//! until its kernel holds every connection the peer handed over.
//!
//! The peer sends its whole connection table as it gives the group up
//! ([`crate::ipvs::sync::handover`], marked and closed by an empty message). The kernel's
//! backup daemon takes those messages in; this module listens beside it on the same sync
//! group ([`Catchup::listen`]), assembles each hand-over ([`crate::ipvs::sync::Assembler`])
//! and, when the failover node is about to take the group ([`Catchup::wait`]), checks the
//! kernel's own table (`/proc/net/ip_vs_conn`) until every connection handed over is in it.
//! Only then does the group start here, its addresses included. The wait is bounded by
//! `director.conf` `[sync] catch_up_timeout`: a peer that handed nothing over (an old
//! director, a Heartbeat node, a sync interface down) delays the takeover by that much at
//! most, and never blocks it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::ipvs::sync::{self, Assembler, Conn, Handover};

/// How a wait ended, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every connection of the peer's hand-over is in the kernel's table.
    CaughtUp {
        conns: usize,
        from: IpAddr,
        waited: Duration,
    },
    /// No hand-over arrived within the bound.
    NoHandover { limit: Duration },
    /// The hand-over arrived but the kernel still lacks some of it at the bound.
    Missing {
        missing: usize,
        of: usize,
        limit: Duration,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = failover::config::settings::words;
        match self {
            Outcome::CaughtUp {
                conns,
                from,
                waited,
            } => write!(
                f,
                "IPVS connection sync: caught up with the {conns} connections {from} handed \
                 over (waited {} ms)",
                waited.as_millis()
            ),
            Outcome::NoHandover { limit } => write!(
                f,
                "IPVS connection sync: no hand-over from the peer within catch_up_timeout {}: \
                 taking over with the connections synced so far",
                words(*limit)
            ),
            Outcome::Missing { missing, of, limit } => write!(
                f,
                "IPVS connection sync: {missing} of the {of} connections handed over are still \
                 not in the table after catch_up_timeout {}: taking over anyway",
                words(*limit)
            ),
        }
    }
}

/// The latest complete hand-over received, and the wait on it.
#[derive(Debug)]
pub struct Catchup {
    latest: watch::Sender<Option<Arc<Handover<Instant>>>>,
}

/// Pause between two reads of the kernel's table while a hand-over is being taken in.
const POLL: Duration = Duration::from_millis(5);

impl Default for Catchup {
    fn default() -> Self {
        Catchup {
            latest: watch::channel(None).0,
        }
    }
}

impl Catchup {
    /// Records a complete hand-over.
    pub fn received(&self, h: Handover<Instant>) {
        tracing::info!(
            "IPVS connection sync: {} handed {} connections over{}",
            h.from,
            h.conns.len(),
            if h.cut {
                " (more than this node checks)"
            } else {
                ""
            }
        );
        self.latest.send_replace(Some(Arc::new(h)));
    }

    /// Waits, at most `limit`, for a hand-over completed no longer than `limit` ago (one
    /// sent as the peer released the group, just before this takeover) and then until
    /// `table()` (the kernel's connections) holds all of it.
    pub async fn wait(&self, limit: Duration, mut table: impl FnMut() -> Vec<Conn>) -> Outcome {
        let start = Instant::now();
        let deadline = start + limit;
        let since = start.checked_sub(limit).unwrap_or(start);
        let mut rx = self.latest.subscribe();
        let handover = loop {
            let fresh = rx.borrow_and_update().clone().filter(|h| h.at >= since);
            if let Some(h) = fresh {
                break h;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Outcome::NoHandover { limit },
            }
        };
        loop {
            let missing = sync::missing(&handover.conns, &table());
            if missing == 0 {
                return Outcome::CaughtUp {
                    conns: handover.conns.len(),
                    from: handover.from,
                    waited: Instant::now().saturating_duration_since(start),
                };
            }
            if Instant::now() >= deadline {
                return Outcome::Missing {
                    missing,
                    of: handover.conns.len(),
                    limit,
                };
            }
            tokio::time::sleep_until((Instant::now() + POLL).min(deadline)).await;
        }
    }

    /// Listens on the kernel's sync group on `iface` beside its backup daemon (the kernel's
    /// socket allows it) and records every complete hand-over. The task ends with the
    /// runtime.
    pub fn listen(self: &Arc<Self>, iface: &str) -> std::io::Result<()> {
        let socket = group_socket(iface)?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut assembler = Assembler::default();
            // The largest datagram the kernel sends (sync_maxlen is at most 64 KiB).
            let mut buf = vec![0u8; 65_536];
            loop {
                let (n, from) = match socket.recv_from(&mut buf).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!("IPVS connection sync: the hand-over listener stopped: {e}");
                        return;
                    }
                };
                let bytes = buf.get(..n).unwrap_or(&[]);
                if let Some(h) = assembler.feed(from.ip(), bytes, Instant::now()) {
                    me.received(h);
                }
            }
        });
        Ok(())
    }
}

/// A socket on the sync group and port, on `iface` only, sharing the port with the kernel's
/// backup daemon (both reuse the address).
fn group_socket(iface: &str) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind_device(Some(iface.as_bytes()))?;
    s.bind(&SocketAddr::new(sync::DEFAULT_GROUP.into(), sync::DEFAULT_PORT).into())?;
    let index = nix::net::if_::if_nametoindex(iface).map_err(std::io::Error::from)?;
    s.join_multicast_v4_n(&sync::DEFAULT_GROUP, &InterfaceIndexOrAddress::Index(index))?;
    s.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// The kernel's connections now (`/proc/net/ip_vs_conn` of this network namespace); an
/// unreadable table is an empty one.
pub fn kernel_conns() -> Vec<Conn> {
    std::fs::read_to_string("/proc/net/ip_vs_conn")
        .map(|t| sync::parse_conns(&t).conns)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::sync::ConnKey;
    use crate::ipvs::Protocol;
    use tokio::time::advance;

    fn conn(port: u16) -> Conn {
        Conn {
            protocol: Protocol::Tcp,
            client: SocketAddr::new("192.0.2.10".parse().unwrap(), port),
            virt: "192.0.2.100:80".parse().unwrap(),
            dest: "192.0.2.21:80".parse().unwrap(),
            state: 1,
        }
    }

    fn handover(conns: &[Conn]) -> Handover<Instant> {
        Handover {
            at: Instant::now(),
            from: "192.0.2.12".parse().unwrap(),
            conns: conns.iter().map(Conn::key).collect::<Vec<ConnKey>>(),
            cut: false,
        }
    }

    const LIMIT: Duration = Duration::from_secs(2);

    #[tokio::test(start_paused = true)]
    async fn a_fresh_handover_already_in_the_table_passes_at_once() {
        let c = Catchup::default();
        let conns = vec![conn(40001), conn(40002)];
        c.received(handover(&conns));
        advance(Duration::from_millis(300)).await;
        let out = c.wait(LIMIT, || conns.clone()).await;
        assert_eq!(
            out,
            Outcome::CaughtUp {
                conns: 2,
                from: "192.0.2.12".parse().unwrap(),
                waited: Duration::ZERO
            }
        );
    }

    /// The hand-over arrives during the wait; the kernel takes its connections in a little
    /// later: the wait ends when the last is there.
    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_when_the_kernel_holds_every_connection() {
        let c = Arc::new(Catchup::default());
        let conns = vec![conn(40001), conn(40002), conn(40003)];
        let c2 = c.clone();
        let sent = conns.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c2.received(handover(&sent));
        });
        let start = Instant::now();
        let table = || {
            // One more connection reaches the kernel every 20 ms after the hand-over.
            let since = Instant::now().saturating_duration_since(start);
            let n = since.saturating_sub(Duration::from_millis(100)).as_millis() / 20;
            conns.iter().take(n as usize).cloned().collect::<Vec<_>>()
        };
        let out = c.wait(LIMIT, table).await;
        match out {
            Outcome::CaughtUp {
                conns: 3, waited, ..
            } => {
                assert!(waited >= Duration::from_millis(160), "{waited:?}");
                assert!(waited < Duration::from_millis(200), "{waited:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// An old hand-over (the one sent when this node joined, minutes ago) does not count;
    /// with no new one the wait ends at the bound.
    #[tokio::test(start_paused = true)]
    async fn a_stale_handover_does_not_count_and_the_wait_is_bounded() {
        let c = Catchup::default();
        c.received(handover(&[conn(40001)]));
        advance(Duration::from_secs(300)).await;
        let start = Instant::now();
        let out = c.wait(LIMIT, Vec::new).await;
        assert_eq!(out, Outcome::NoHandover { limit: LIMIT });
        assert_eq!(Instant::now() - start, LIMIT);
        assert!(out.to_string().contains("catch_up_timeout 2s"), "{out}");
    }

    #[tokio::test(start_paused = true)]
    async fn connections_the_kernel_never_takes_end_the_wait_at_the_bound() {
        let c = Catchup::default();
        let conns = vec![conn(40001), conn(40002)];
        c.received(handover(&conns));
        let start = Instant::now();
        let out = c.wait(LIMIT, || vec![conn(40001)]).await;
        assert_eq!(
            out,
            Outcome::Missing {
                missing: 1,
                of: 2,
                limit: LIMIT
            }
        );
        assert_eq!(Instant::now() - start, LIMIT);
    }

    /// An empty hand-over (the peer held no connection) ends the wait at once.
    #[tokio::test(start_paused = true)]
    async fn an_empty_handover_ends_the_wait() {
        let c = Catchup::default();
        c.received(handover(&[]));
        let out = c.wait(LIMIT, Vec::new).await;
        assert!(matches!(out, Outcome::CaughtUp { conns: 0, .. }), "{out:?}");
    }
}
