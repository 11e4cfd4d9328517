//! UDP transport over the media `ha.cf` lists: `bcast`, `mcast`, `ucast`, `ucast6`.
//!
//! [`Transport::open`] makes one send socket per medium (bound to its interface with
//! `SO_BINDTODEVICE`) and one receive socket per interface and kind. Each receive socket is
//! read by its own task that only forwards datagrams into a channel, so reception never
//! waits on other work; sending is a plain non-blocking `send_to` on every medium. This
//! module moves bytes only: the heartbeat codec (signing, parsing) is applied by the node.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Heartbeat's port (`ha-cluster/udp`).
pub const DEFAULT_UDPPORT: u16 = 694;
/// Largest datagram accepted (Heartbeat's `MAXMSG` is 256 KiB, UDP caps at 64 KiB).
const MAX_DATAGRAM: usize = 65_535;
/// IPTOS_LOWDELAY, as the ucast plugin sets.
const IPTOS_LOWDELAY: u32 = 0x10;

/// One communication medium, as ha.cf spells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Medium {
    /// `bcast IFACE`: to the interface's broadcast address on udpport.
    Bcast {
        /// Interface.
        iface: String,
        /// udpport in force.
        port: u16,
    },
    /// `mcast IFACE GROUP PORT TTL LOOP`.
    Mcast {
        /// Interface.
        iface: String,
        /// Multicast group.
        group: IpAddr,
        /// Port (mcast ignores udpport).
        port: u16,
        /// TTL / hop limit.
        ttl: u8,
        /// Multicast loopback.
        looped: bool,
    },
    /// `ucast IFACE PEER` / `ucast6 IFACE PEER`: to one peer on udpport.
    Ucast {
        /// Interface.
        iface: String,
        /// Peer address.
        peer: IpAddr,
        /// udpport in force.
        port: u16,
    },
}

impl Medium {
    /// The interface the medium uses.
    pub fn iface(&self) -> &str {
        match self {
            Medium::Bcast { iface, .. }
            | Medium::Mcast { iface, .. }
            | Medium::Ucast { iface, .. } => iface,
        }
    }
}

impl Medium {
    /// The transport's view of an ha.cf medium; host names are resolved here (the only
    /// I/O). Errors name the host that did not resolve.
    pub fn from_config(m: &crate::config::hacf::Medium) -> Result<Medium, PeerError> {
        use crate::config::hacf::{Host, Medium as Cfg};
        Ok(match m {
            Cfg::Bcast { iface, port } => Medium::Bcast {
                iface: iface.clone(),
                port: *port,
            },
            Cfg::Mcast {
                iface,
                group,
                port,
                ttl,
                looped,
            } => Medium::Mcast {
                iface: iface.clone(),
                group: IpAddr::V4(*group),
                port: *port,
                ttl: *ttl,
                looped: *looped,
            },
            Cfg::Mcast6 {
                iface,
                group,
                port,
                hops,
                looped,
            } => Medium::Mcast {
                iface: iface.clone(),
                group: IpAddr::V6(*group),
                port: *port,
                ttl: *hops,
                looped: *looped,
            },
            Cfg::Ucast { iface, peer, port } => {
                let peer = match peer {
                    Host::Ip(ip) => *ip,
                    Host::Name(name) => {
                        use std::net::ToSocketAddrs;
                        (name.as_str(), *port)
                            .to_socket_addrs()
                            .ok()
                            .and_then(|mut a| a.next())
                            .map(|a| a.ip())
                            .ok_or_else(|| PeerError::Unresolved(name.clone()))?
                    }
                };
                Medium::Ucast {
                    iface: iface.clone(),
                    peer,
                    port: *port,
                }
            }
            Cfg::Ucast6 {
                iface, peer, port, ..
            } => Medium::Ucast {
                iface: iface.clone(),
                peer: IpAddr::V6(*peer),
                port: *port,
            },
        })
    }
}

/// A datagram received on some medium.
#[derive(Debug, Clone)]
pub struct Received {
    /// Payload.
    pub data: Vec<u8>,
    /// Interface it came in on (the "link" in `Link ha02:eth0 up`).
    pub iface: String,
    /// Sender address.
    pub from: SocketAddr,
}

/// Errors opening the media.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The interface has no usable address / broadcast address.
    #[error("interface {0}: no IPv4 broadcast address (bcast needs one)")]
    NoBroadcast(String),
    /// A ucast peer name did not resolve.
    #[error("cannot resolve ucast peer {0}")]
    Unresolved(String),
    /// The interface does not exist.
    #[error("interface {0} not found")]
    NoInterface(String),
    /// A socket operation failed.
    #[error("{what} on {iface}: {source}")]
    Socket {
        /// What was being done.
        what: &'static str,
        /// Interface.
        iface: String,
        /// Cause.
        source: io::Error,
    },
}

struct Out {
    sock: UdpSocket,
    dest: SocketAddr,
    iface: String,
}

/// Sends on every medium; cheap to clone.
#[derive(Clone)]
pub struct PeerSender {
    outs: Arc<Vec<Out>>,
}

/// The open media: send to all, receive from a channel.
pub struct Transport {
    sender: PeerSender,
    rx: mpsc::Receiver<Received>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Transport {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn sock_err<'a>(what: &'static str, iface: &'a str) -> impl FnOnce(io::Error) -> PeerError + 'a {
    move |source| PeerError::Socket {
        what,
        iface: iface.to_string(),
        source,
    }
}

fn ifindex(iface: &str) -> Result<u32, PeerError> {
    nix::net::if_::if_nametoindex(iface).map_err(|_| PeerError::NoInterface(iface.to_string()))
}

/// The IPv4 broadcast address of `iface` (SIOCGIFBRDADDR's answer), or, when the address
/// was configured without one, the highest address of its subnet.
pub fn broadcast_of(iface: &str) -> Result<Ipv4Addr, PeerError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| PeerError::Socket {
        what: "getifaddrs",
        iface: iface.to_string(),
        source: e.into(),
    })?;
    let mut fallback = None;
    for a in addrs.filter(|a| a.interface_name == iface) {
        let Some(ip) = a
            .address
            .as_ref()
            .and_then(|x| x.as_sockaddr_in())
            .map(|s| s.ip())
        else {
            continue;
        };
        if let Some(b) = a
            .broadcast
            .as_ref()
            .and_then(|b| b.as_sockaddr_in())
            .map(|s| s.ip())
        {
            if !b.is_unspecified() {
                return Ok(b);
            }
        }
        let mask = a
            .netmask
            .as_ref()
            .and_then(|m| m.as_sockaddr_in())
            .map(|s| s.ip());
        if let Some(mask) = mask {
            let prefix = u8::try_from(u32::from(mask).leading_ones()).unwrap_or(32);
            fallback = fallback.or(crate::vip::default_broadcast(ip, prefix));
        }
    }
    fallback.ok_or_else(|| PeerError::NoBroadcast(iface.to_string()))
}

fn udp(v6: bool, iface: &str) -> Result<Socket, PeerError> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s =
        Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(sock_err("socket", iface))?;
    s.bind_device(Some(iface.as_bytes()))
        .map_err(sock_err("SO_BINDTODEVICE", iface))?;
    s.set_nonblocking(true)
        .map_err(sock_err("nonblocking", iface))?;
    Ok(s)
}

fn into_tokio(s: Socket, iface: &str) -> Result<UdpSocket, PeerError> {
    UdpSocket::from_std(s.into()).map_err(sock_err("register", iface))
}

fn receiver(v6: bool, iface: &str, bind: SocketAddr) -> Result<Socket, PeerError> {
    let s = udp(v6, iface)?;
    s.set_reuse_address(true)
        .map_err(sock_err("SO_REUSEADDR", iface))?;
    s.set_reuse_port(true)
        .map_err(sock_err("SO_REUSEPORT", iface))?;
    if v6 {
        s.set_only_v6(true)
            .map_err(sock_err("IPV6_V6ONLY", iface))?;
    }
    s.bind(&bind.into()).map_err(sock_err("bind", iface))?;
    Ok(s)
}

impl Transport {
    /// Opens every medium. Receive tasks are spawned on the
    /// current tokio runtime.
    pub fn open(media: &[Medium]) -> Result<Transport, PeerError> {
        let mut outs = Vec::new();
        // One receiver per (interface, bind address); several ucast lines share one.
        let mut ins: HashMap<(String, SocketAddr), Socket> = HashMap::new();
        for m in media {
            let iface = m.iface();
            match m {
                Medium::Bcast { port: udpport, .. } => {
                    let udpport = *udpport;
                    let brd = broadcast_of(iface)?;
                    let s = udp(false, iface)?;
                    s.set_broadcast(true)
                        .map_err(sock_err("SO_BROADCAST", iface))?;
                    outs.push(Out {
                        sock: into_tokio(s, iface)?,
                        dest: SocketAddrV4::new(brd, udpport).into(),
                        iface: iface.to_string(),
                    });
                    let bind: SocketAddr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, udpport).into();
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        ins.entry((iface.to_string(), bind))
                    {
                        e.insert(receiver(false, iface, bind)?);
                    }
                }
                Medium::Ucast {
                    peer,
                    port: udpport,
                    ..
                } => {
                    let udpport = *udpport;
                    let v6 = peer.is_ipv6();
                    let s = udp(v6, iface)?;
                    let dest: SocketAddr = match peer {
                        IpAddr::V4(a) => {
                            let _ = s.set_tos_v4(IPTOS_LOWDELAY);
                            SocketAddrV4::new(*a, udpport).into()
                        }
                        IpAddr::V6(a) => {
                            let scope = if is_link_local(a) { ifindex(iface)? } else { 0 };
                            SocketAddrV6::new(*a, udpport, 0, scope).into()
                        }
                    };
                    outs.push(Out {
                        sock: into_tokio(s, iface)?,
                        dest,
                        iface: iface.to_string(),
                    });
                    let bind: SocketAddr = if v6 {
                        SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, udpport, 0, 0).into()
                    } else {
                        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, udpport).into()
                    };
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        ins.entry((iface.to_string(), bind))
                    {
                        e.insert(receiver(v6, iface, bind)?);
                    }
                }
                Medium::Mcast {
                    group,
                    port,
                    ttl,
                    looped,
                    ..
                } => {
                    let index = ifindex(iface)?;
                    let v6 = group.is_ipv6();
                    let s = udp(v6, iface)?;
                    let (dest, bind): (SocketAddr, SocketAddr) = match group {
                        IpAddr::V4(g) => {
                            s.set_multicast_ttl_v4(u32::from(*ttl))
                                .map_err(sock_err("IP_MULTICAST_TTL", iface))?;
                            s.set_multicast_loop_v4(*looped)
                                .map_err(sock_err("IP_MULTICAST_LOOP", iface))?;
                            (
                                SocketAddrV4::new(*g, *port).into(),
                                SocketAddrV4::new(*g, *port).into(),
                            )
                        }
                        IpAddr::V6(g) => {
                            s.set_multicast_hops_v6(u32::from(*ttl))
                                .map_err(sock_err("IPV6_MULTICAST_HOPS", iface))?;
                            s.set_multicast_loop_v6(*looped)
                                .map_err(sock_err("IPV6_MULTICAST_LOOP", iface))?;
                            s.set_multicast_if_v6(index)
                                .map_err(sock_err("IPV6_MULTICAST_IF", iface))?;
                            (
                                SocketAddrV6::new(*g, *port, 0, index).into(),
                                SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, *port, 0, 0).into(),
                            )
                        }
                    };
                    outs.push(Out {
                        sock: into_tokio(s, iface)?,
                        dest,
                        iface: iface.to_string(),
                    });
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        ins.entry((iface.to_string(), bind))
                    {
                        let r = receiver(v6, iface, bind)?;
                        match group {
                            IpAddr::V4(g) => r
                                .join_multicast_v4_n(g, &InterfaceIndexOrAddress::Index(index))
                                .map_err(sock_err("IP_ADD_MEMBERSHIP", iface))?,
                            IpAddr::V6(g) => r
                                .join_multicast_v6(g, index)
                                .map_err(sock_err("IPV6_JOIN_GROUP", iface))?,
                        }
                        e.insert(r);
                    }
                }
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        let mut tasks = Vec::new();
        for ((iface, _), s) in ins {
            let sock = Arc::new(into_tokio(s, &iface)?);
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_DATAGRAM];
                loop {
                    match sock.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            let data = buf.get(..n).unwrap_or_default().to_vec();
                            // A full channel drops the datagram, like a full socket buffer.
                            if let Err(mpsc::error::TrySendError::Closed(_)) =
                                tx.try_send(Received {
                                    data,
                                    iface: iface.clone(),
                                    from,
                                })
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(iface = %iface, error = %e, "receive error");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
        Ok(Transport {
            sender: PeerSender {
                outs: Arc::new(outs),
            },
            rx,
            tasks,
        })
    }

    /// Sends `data` on every medium (see [`PeerSender::send`]).
    pub async fn send(&self, data: &[u8]) -> usize {
        self.sender.send(data).await
    }

    /// A handle for sending from elsewhere.
    pub fn sender(&self) -> PeerSender {
        self.sender.clone()
    }

    /// Next datagram from any medium (`None` once all receive tasks have ended).
    pub async fn recv(&mut self) -> Option<Received> {
        self.rx.recv().await
    }
}

impl PeerSender {
    /// Sends `data` on every medium; returns how many media took it. Failures are logged,
    /// not fatal: another medium may still reach the peer.
    pub async fn send(&self, data: &[u8]) -> usize {
        let mut ok = 0;
        for o in self.outs.iter() {
            match o.sock.send_to(data, o.dest).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    tracing::debug!(iface = %o.iface, dest = %o.dest, error = %e, "send failed")
                }
            }
        }
        ok
    }
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn ucast_over_loopback() {
        // Two "nodes" on lo with ucast to 127.0.0.1: each also hears itself, as Heartbeat.
        let port = 40_000 + (std::process::id() % 20_000) as u16;
        let media = [Medium::Ucast {
            iface: "lo".into(),
            peer: "127.0.0.1".parse().unwrap(),
            port,
        }];
        let Ok(mut t) = Transport::open(&media) else {
            // SO_BINDTODEVICE needs CAP_NET_RAW; the netns tests cover the rest.
            return;
        };
        assert_eq!(t.send(b"hello").await, 1);
        let got = tokio::time::timeout(Duration::from_secs(2), t.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.data, b"hello");
        assert_eq!(got.iface, "lo");
    }

    #[test]
    fn link_local() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
    }
}
