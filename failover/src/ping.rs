//! ICMP echo to `ping` / `ping_group` nodes: is this host still reachable?
//!
//! The echo codec is pure ([`echo_request`], [`parse_echo_reply`]); [`Pinger`] sends over a
//! raw ICMP socket and waits for the matching reply. Heartbeat puts a signed `NS_st` message
//! in the echo payload; director sends a plain payload (only reachability matters here).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;

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

/// Sends echo requests and matches replies (IPv4).
pub struct Pinger {
    // A raw ICMP socket driven through tokio's datagram socket type: recvfrom/sendto are
    // the same calls, and this needs no unsafe registration.
    sock: UdpSocket,
    id: u16,
    seq: u16,
}

impl Pinger {
    /// Opens a raw ICMP socket (needs CAP_NET_RAW) on the current tokio runtime.
    pub fn new() -> io::Result<Pinger> {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
        s.set_nonblocking(true)?;
        let id = (std::process::id() & 0xffff) as u16;
        Ok(Pinger {
            sock: UdpSocket::from_std(s.into())?,
            id,
            seq: 0,
        })
    }

    /// Whether `host` answers one echo request within `timeout`.
    pub async fn probe(&mut self, host: IpAddr, timeout: Duration) -> io::Result<bool> {
        let IpAddr::V4(target) = host else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "ping6 is not implemented",
            ));
        };
        self.seq = self.seq.wrapping_add(1);
        let (id, seq) = (self.id, self.seq);
        let msg = echo_request(id, seq, b"director ping");
        let dest: SocketAddr = SocketAddrV4::new(target, 0).into();
        self.sock.send_to(&msg, dest).await?;
        let wait = async {
            let mut buf = [0u8; 1500];
            loop {
                let (n, _) = self.sock.recv_from(&mut buf).await?;
                if parse_echo_reply(buf.get(..n).unwrap_or_default()) == Some((target, id, seq)) {
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

    #[tokio::test]
    async fn loopback_answers() {
        let Ok(mut p) = Pinger::new() else { return }; // needs CAP_NET_RAW
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
        }
    }
}
