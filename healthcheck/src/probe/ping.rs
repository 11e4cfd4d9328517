//! `checktype=ping` (and `connect` on UDP services): ICMP / ICMPv6 echo, `checkcount`
//! attempts, each bounded by `checktimeout`; the first reply is success (ldirectord's
//! `check_ping` with Net::Ping "icmp").
//!
//! Uses an unprivileged ICMP datagram socket when `net.ipv4.ping_group_range` allows it, else
//! a raw socket (root or CAP_NET_RAW). Both are driven as a tokio `UdpSocket` (plain
//! `sendto`/`recvfrom`), so no `unsafe` is needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::ProbeError;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const MAGIC: &[u8; 8] = b"director";

/// How the socket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_DGRAM` + `IPPROTO_ICMP(V6)`: the kernel owns the identifier.
    Datagram,
    /// `SOCK_RAW`: IPv4 replies arrive with their IP header.
    Raw,
}

/// One echo message (request or reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub kind: u8,
    pub ident: u16,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// An echo request; the checksum is filled for ICMPv4 (the kernel computes ICMPv6's).
pub fn emit_request(v6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if v6 {
        ICMPV6_ECHO_REQUEST
    } else {
        ICMP_ECHO_REQUEST
    };
    let mut buf = Vec::with_capacity(8 + payload.len());
    buf.extend_from_slice(&[kind, 0, 0, 0]);
    buf.extend_from_slice(&ident.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&buf).to_be_bytes();
        buf[2] = sum[0];
        buf[3] = sum[1];
    }
    buf
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parse a received datagram; `ip_header` when it starts with an IPv4 header (raw v4 socket).
/// `None` for anything too short or malformed.
pub fn parse(buf: &[u8], ip_header: bool) -> Option<Echo> {
    let icmp = if ip_header {
        let first = *buf.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        if ihl < 20 {
            return None;
        }
        buf.get(ihl..)?
    } else {
        buf
    };
    let header = icmp.get(..8)?;
    Some(Echo {
        kind: header[0],
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
        payload: icmp.get(8..).unwrap_or(&[]).to_vec(),
    })
}

/// Open an ICMP socket for `ip`'s family: datagram if permitted, else raw.
pub fn open(ip: IpAddr) -> Result<(UdpSocket, SocketKind), ProbeError> {
    let (domain, proto) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => (s, SocketKind::Datagram),
        Err(dgram_err) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => (s, SocketKind::Raw),
            Err(raw_err) => {
                return Err(ProbeError::Io(std::io::Error::new(
                    raw_err.kind(),
                    format!(
                        "cannot open an ICMP socket (datagram: {dgram_err}; raw: {raw_err}); \
                         run as root or allow ping in net.ipv4.ping_group_range"
                    ),
                )))
            }
        },
    };
    socket.set_nonblocking(true)?;
    let std_socket: std::net::UdpSocket = socket.into();
    Ok((UdpSocket::from_std(std_socket)?, kind))
}

static SEQ: AtomicU16 = AtomicU16::new(1);
static NONCE: AtomicU64 = AtomicU64::new(1);

/// Up to `attempts` echoes to `ip`, each waiting `per_attempt` for its reply.
pub async fn probe(ip: IpAddr, attempts: u32, per_attempt: Duration) -> Result<(), ProbeError> {
    let (socket, kind) = open(ip)?;
    let ident = (std::process::id() & 0xffff) as u16;
    let mut last = ProbeError::Timeout;
    for _ in 0..attempts.max(1) {
        match tokio::time::timeout(per_attempt, echo_on(&socket, kind, ip, ident)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = ProbeError::Timeout,
        }
    }
    Err(last)
}

/// One echo on an open socket; waits until the matching reply arrives (the caller bounds it).
async fn echo_on(
    socket: &UdpSocket,
    kind: SocketKind,
    ip: IpAddr,
    ident: u16,
) -> Result<(), ProbeError> {
    let v6 = ip.is_ipv6();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut payload = MAGIC.to_vec();
    payload.extend_from_slice(&NONCE.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let request = emit_request(v6, ident, seq, &payload);
    socket.send_to(&request, SocketAddr::new(ip, 0)).await?;
    let reply_kind = if v6 {
        ICMPV6_ECHO_REPLY
    } else {
        ICMP_ECHO_REPLY
    };
    let mut buf = vec![0u8; 1500];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        if !same_host(from.ip(), ip) {
            continue;
        }
        let raw_v4 = kind == SocketKind::Raw && !v6;
        let Some(echo) = parse(buf.get(..n).unwrap_or(&[]), raw_v4) else {
            continue;
        };
        // Datagram sockets: the kernel rewrites and filters the identifier.
        let ident_ok = kind == SocketKind::Datagram || echo.ident == ident;
        if echo.kind == reply_kind && ident_ok && echo.seq == seq && echo.payload == payload {
            return Ok(());
        }
    }
}

fn same_host(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    canon(a) == canon(b)
}

/// The loopback address of a family, for tests and examples.
pub fn loopback(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_roundtrips_and_checksums() {
        let req = emit_request(false, 0x1234, 7, b"abcdefg");
        assert_eq!(checksum(&req), 0, "a packet with its checksum sums to zero");
        let echo = parse(&req, false).unwrap();
        assert_eq!(
            echo,
            Echo {
                kind: ICMP_ECHO_REQUEST,
                ident: 0x1234,
                seq: 7,
                payload: b"abcdefg".to_vec()
            }
        );
        let mut with_ip = vec![0x45u8];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&req);
        assert_eq!(parse(&with_ip, true), Some(echo));
        assert_eq!(parse(&req[..7], false), None);
        assert_eq!(parse(&[0x41], true), None);
    }

    #[test]
    fn checksum_known_value() {
        // RFC 1071 example.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2u16
        );
    }

    /// Whether this process may open an ICMP socket for that family (root, CAP_NET_RAW, or a
    /// `net.ipv4.ping_group_range` that includes its group). CI runs as root: there every
    /// echo below must succeed.
    fn icmp_permitted(v6: bool) -> bool {
        open(loopback(v6)).is_ok()
    }

    /// The probe's verdict when it may not ping: a failure that says what to change.
    fn assert_not_permitted(r: Result<(), ProbeError>) {
        let e = r.expect_err("pinged without permission to open an ICMP socket");
        assert!(e.to_string().contains("net.ipv4.ping_group_range"), "{e}");
    }

    async fn ping_loopback(v6: bool) {
        let r = probe(loopback(v6), 2, Duration::from_secs(2)).await;
        if icmp_permitted(v6) {
            r.unwrap_or_else(|e| panic!("ICMP echo of {} failed: {e}", loopback(v6)));
        } else {
            assert_not_permitted(r);
        }
    }

    #[tokio::test]
    async fn ping_ipv4_loopback() {
        ping_loopback(false).await;
    }

    #[tokio::test]
    async fn ping_ipv6_loopback() {
        ping_loopback(true).await;
    }

    #[tokio::test]
    async fn concurrent_pings_do_not_steal_replies() {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let v6 = i % 2 == 1;
            set.spawn(async move { (v6, probe(loopback(v6), 1, Duration::from_secs(2)).await) });
        }
        while let Some(r) = set.join_next().await {
            let (v6, r) = r.unwrap();
            if icmp_permitted(v6) {
                r.unwrap();
            } else {
                assert_not_permitted(r);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(buf in proptest::collection::vec(proptest::num::u8::ANY, 0..128), ip in proptest::bool::ANY) {
            let _ = parse(&buf, ip);
        }

        #[test]
        fn emit_parse_roundtrip(v6 in proptest::bool::ANY, ident in 0u16.., seq in 0u16.., payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let echo = parse(&emit_request(v6, ident, seq, &payload), false).unwrap();
            proptest::prop_assert_eq!(echo.ident, ident);
            proptest::prop_assert_eq!(echo.seq, seq);
            proptest::prop_assert_eq!(echo.payload, payload);
        }
    }
}
