//! ICMP echo to `ping` / `ping6` / `ping_group` nodes: is this host still reachable?
//!
//! The echo codec is pure ([`echo_request`], [`parse_echo_reply`] for IPv4;
//! [`echo_request_v6`], [`parse_echo_reply_v6`] for ICMPv6); [`Pinger`] sends over a raw ICMP
//! socket of the address's family and waits for the matching reply. Heartbeat puts a signed
//! `NS_st` message in the echo payload; director sends a plain payload (only reachability
//! matters here).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

/// Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| match c {
            [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
            [a] => u32::from(u16::from_be_bytes([*a, 0])),
            _ => 0,
        })
        .fold(0u32, |s, w| s.wrapping_add(w));
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request with identifier `id`, sequence `seq` and `payload`.
pub fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + payload.len());
    m.extend_from_slice(&[ICMP_ECHO_REQUEST, 0, 0, 0]);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let sum = checksum(&m).to_be_bytes();
    if let Some(slot) = m.get_mut(2..4) {
        slot.copy_from_slice(&sum);
    }
    m
}

/// From a raw-socket datagram (IPv4 header + ICMP): source, identifier and sequence of an
/// echo reply with a valid checksum; `None` for anything else.
pub fn parse_echo_reply(datagram: &[u8]) -> Option<(Ipv4Addr, u16, u16)> {
    let first = *datagram.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let src: [u8; 4] = datagram.get(12..16)?.try_into().ok()?;
    let icmp = datagram.get(ihl..)?;
    if icmp.len() < 8 || *icmp.first()? != ICMP_ECHO_REPLY || checksum(icmp) != 0 {
        return None;
    }
    let id = u16::from_be_bytes(icmp.get(4..6)?.try_into().ok()?);
    let seq = u16::from_be_bytes(icmp.get(6..8)?.try_into().ok()?);
    Some((Ipv4Addr::from(src), id, seq))
}

/// An ICMPv6 echo request (`ping6`). The checksum is left 0: the kernel computes it for
/// ICMPv6 sockets (it covers the IPv6 pseudo-header, which only the kernel knows).
pub fn echo_request_v6(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + payload.len());
    m.extend_from_slice(&[ICMPV6_ECHO_REQUEST, 0, 0, 0]);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// From an ICMPv6 socket's datagram (the ICMPv6 message, no IPv6 header; the kernel has
/// checked the checksum): identifier and sequence of an echo reply; `None` for anything else
/// (neighbour discovery, our own requests, ...).
pub fn parse_echo_reply_v6(message: &[u8]) -> Option<(u16, u16)> {
    if message.len() < 8 || *message.first()? != ICMPV6_ECHO_REPLY || *message.get(1)? != 0 {
        return None;
    }
    let id = u16::from_be_bytes(message.get(4..6)?.try_into().ok()?);
    let seq = u16::from_be_bytes(message.get(6..8)?.try_into().ok()?);
    Some((id, seq))
}

/// One family's socket.
struct Icmp {
    // A raw ICMP socket driven through tokio's datagram socket type: recvfrom/sendto are
    // the same calls, and this needs no unsafe registration.
    sock: UdpSocket,
    /// An unprivileged "ping" socket (`SOCK_DGRAM`): the kernel owns the identifier, so
    /// replies are matched on sequence and source only.
    kernel_id: bool,
}

impl Icmp {
    /// A raw socket (CAP_NET_RAW), else an unprivileged ping socket (`ping_group_range`).
    fn open(domain: Domain, protocol: Protocol) -> io::Result<Icmp> {
        let (s, kernel_id) = match Socket::new(domain, Type::RAW, Some(protocol)) {
            Ok(s) => (s, false),
            Err(raw) => match Socket::new(domain, Type::DGRAM, Some(protocol)) {
                Ok(s) => (s, true),
                Err(_) => return Err(raw),
            },
        };
        s.set_nonblocking(true)?;
        Ok(Icmp {
            sock: UdpSocket::from_std(s.into())?,
            kernel_id,
        })
    }
}

/// An IPv4 ICMP echo reply without the IP header (as a ping socket returns it): identifier
/// and sequence when the checksum is valid.
fn parse_icmp_echo_reply(icmp: &[u8]) -> Option<(u16, u16)> {
    if icmp.len() < 8 || *icmp.first()? != ICMP_ECHO_REPLY || checksum(icmp) != 0 {
        return None;
    }
    let id = u16::from_be_bytes(icmp.get(4..6)?.try_into().ok()?);
    let seq = u16::from_be_bytes(icmp.get(6..8)?.try_into().ok()?);
    Some((id, seq))
}

/// Sends echo requests and matches replies (IPv4 and IPv6).
pub struct Pinger {
    v4: Result<Icmp, io::Error>,
    v6: Result<Icmp, io::Error>,
    id: u16,
    seq: u16,
}

impl Pinger {
    /// Opens an ICMP and an ICMPv6 socket on the current tokio runtime (raw sockets need
    /// CAP_NET_RAW). Fails only when neither family can be pinged; [`Pinger::probe`] of the
    /// other family then returns the reason.
    pub fn new() -> io::Result<Pinger> {
        let v4 = Icmp::open(Domain::IPV4, Protocol::ICMPV4);
        let v6 = Icmp::open(Domain::IPV6, Protocol::ICMPV6);
        if let (Err(e), Err(_)) = (&v4, &v6) {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let id = (std::process::id() & 0xffff) as u16;
        Ok(Pinger { v4, v6, id, seq: 0 })
    }

    /// Whether `host` answers one echo request within `timeout`.
    pub async fn probe(&mut self, host: IpAddr, timeout: Duration) -> io::Result<bool> {
        match host {
            IpAddr::V4(target) => self.probe_v4(target, timeout).await,
            IpAddr::V6(target) => self.probe_v6(target, timeout).await,
        }
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    async fn probe_v6(&mut self, target: Ipv6Addr, timeout: Duration) -> io::Result<bool> {
        let seq = self.next_seq();
        let id = self.id;
        let icmp = self
            .v6
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), format!("no ICMPv6 socket: {e}")))?;
        let msg = echo_request_v6(id, seq, b"director ping");
        let dest: SocketAddr = SocketAddrV6::new(target, 0, 0, 0).into();
        icmp.sock.send_to(&msg, dest).await?;
        let wait = async {
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = icmp.sock.recv_from(&mut buf).await?;
                let Some((rid, rseq)) = parse_echo_reply_v6(buf.get(..n).unwrap_or_default())
                else {
                    continue;
                };
                if from.ip() == IpAddr::V6(target) && rseq == seq && (icmp.kernel_id || rid == id) {
                    return Ok::<bool, io::Error>(true);
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Ok(false),
        }
    }

    async fn probe_v4(&mut self, target: Ipv4Addr, timeout: Duration) -> io::Result<bool> {
        let seq = self.next_seq();
        let id = self.id;
        let icmp = self
            .v4
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), format!("no ICMP socket: {e}")))?;
        let msg = echo_request(id, seq, b"director ping");
        let dest: SocketAddr = SocketAddrV4::new(target, 0).into();
        icmp.sock.send_to(&msg, dest).await?;
        let wait = async {
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = icmp.sock.recv_from(&mut buf).await?;
                let data = buf.get(..n).unwrap_or_default();
                let hit = if icmp.kernel_id {
                    // A ping socket hands over the ICMP message alone.
                    parse_icmp_echo_reply(data).is_some_and(|(_, s)| s == seq)
                        && from.ip() == IpAddr::V4(target)
                } else {
                    parse_echo_reply(data) == Some((target, id, seq))
                };
                if hit {
                    return Ok::<bool, io::Error>(true);
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_checksums_to_zero() {
        let m = echo_request(0x1234, 7, b"abc");
        assert_eq!(&m[..2], &[8, 0]);
        assert_eq!(checksum(&m), 0);
    }

    #[test]
    fn parses_reply() {
        let mut icmp = echo_request(0x1234, 7, b"abcd");
        icmp[0] = ICMP_ECHO_REPLY;
        icmp[2] = 0;
        icmp[3] = 0;
        let sum = checksum(&icmp).to_be_bytes();
        icmp[2..4].copy_from_slice(&sum);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 12, 192, 0, 2, 11,
        ];
        ip.extend_from_slice(&icmp);
        assert_eq!(
            parse_echo_reply(&ip),
            Some((Ipv4Addr::new(192, 0, 2, 12), 0x1234, 7))
        );
        ip[25] ^= 1; // corrupt
        assert_eq!(parse_echo_reply(&ip), None);
    }

    #[test]
    fn v6_request_and_reply() {
        let m = echo_request_v6(0x1234, 9, b"ab");
        assert_eq!(m, [128, 0, 0, 0, 0x12, 0x34, 0, 9, b'a', b'b']);
        let mut reply = m.clone();
        reply[0] = ICMPV6_ECHO_REPLY;
        assert_eq!(parse_echo_reply_v6(&reply), Some((0x1234, 9)));
        // Our own request (the raw socket sees it on loopback) and short or other messages.
        assert_eq!(parse_echo_reply_v6(&m), None);
        assert_eq!(parse_echo_reply_v6(&reply[..7]), None);
        assert_eq!(parse_echo_reply_v6(&[135, 0, 0, 0, 0, 0, 0, 0]), None);
        reply[1] = 1;
        assert_eq!(parse_echo_reply_v6(&reply), None);
    }

    /// A pinger, or `None` where this process may not open ICMP sockets (not root, and outside
    /// `net.ipv4.ping_group_range`). As root (CI) it must open.
    fn pinger() -> Option<Pinger> {
        match Pinger::new() {
            Ok(p) => Some(p),
            Err(e) => {
                assert!(
                    !nix::unistd::geteuid().is_root(),
                    "root cannot open ICMP sockets: {e}"
                );
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
                None
            }
        }
    }

    #[tokio::test]
    #[allow(clippy::disallowed_types)] // times a real ping on the wall clock
    async fn v6_loopback_answers_and_a_silent_address_does_not() {
        let Some(mut p) = pinger() else { return };
        if let Err(e) = &p.v6 {
            assert!(
                !nix::unistd::geteuid().is_root(),
                "root cannot ping ::1: {e}"
            );
            return;
        }
        let up = p
            .probe("::1".parse().unwrap(), Duration::from_secs(2))
            .await
            .unwrap();
        assert!(up, "::1 did not answer");
        // 2001:db8::/32 is documentation space: nothing answers (no route, or silence).
        let start = std::time::Instant::now();
        let ghost = p
            .probe("2001:db8::99".parse().unwrap(), Duration::from_millis(300))
            .await
            .unwrap_or(false);
        assert!(!ghost);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn loopback_answers() {
        let Some(mut p) = pinger() else { return };
        let up = p
            .probe("127.0.0.1".parse().unwrap(), Duration::from_secs(2))
            .await
            .unwrap();
        assert!(up);
    }

    proptest! {
        #[test]
        fn parse_never_panics(d in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_echo_reply(&d);
            let _ = parse_echo_reply_v6(&d);
            let _ = parse_icmp_echo_reply(&d);
        }
    }
}
