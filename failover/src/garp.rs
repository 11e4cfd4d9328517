//! Announcing a moved address: gratuitous ARP (IPv4) and unsolicited neighbour
//! advertisement (IPv6), what Heartbeat's `send_arp` and `IPv6addr` send after takeover.
//!
//! Frame building is pure ([`arp_frame`], [`na_message`]). The only `unsafe` of the crate's
//! I/O lives here: building the `sockaddr_ll` an `AF_PACKET` socket sends to.
#![allow(unsafe_code)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

/// Ethernet type of ARP.
const ETH_P_ARP: u16 = 0x0806;
/// ARP operation "request": a gratuitous ARP is a request for one's own address.
const ARPOP_REQUEST: u16 = 1;
/// ICMPv6 neighbour advertisement.
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// NA "override" flag: replace cached link-layer addresses.
const ND_NA_FLAG_OVERRIDE: u8 = 0x20;
/// ND option "target link-layer address".
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// Length of a gratuitous ARP Ethernet frame (no padding: the driver pads to 60).
pub const ARP_FRAME_LEN: usize = 42;

/// A broadcast Ethernet frame carrying a gratuitous ARP request for `ip` from `mac`
/// (sender and target protocol address both `ip`).
pub fn arp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    let ip = ip.octets();
    let mut w = Writer {
        buf: &mut f,
        pos: 0,
    };
    w.put(&[0xff; 6]); // destination: broadcast
    w.put(&mac);
    w.put(&ETH_P_ARP.to_be_bytes());
    w.put(&1u16.to_be_bytes()); // hardware type: Ethernet
    w.put(&0x0800u16.to_be_bytes()); // protocol type: IPv4
    w.put(&[6, 4]);
    w.put(&ARPOP_REQUEST.to_be_bytes());
    w.put(&mac);
    w.put(&ip);
    w.put(&[0; 6]);
    w.put(&ip);
    f
}

/// An unsolicited ICMPv6 neighbour advertisement for `target` with the override flag and a
/// target link-layer address option. The checksum is left zero: the kernel fills it in for
/// `IPPROTO_ICMPV6` raw sockets.
pub fn na_message(mac: [u8; 6], target: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    let mut w = Writer {
        buf: &mut m,
        pos: 0,
    };
    w.put(&[ND_NEIGHBOR_ADVERT, 0, 0, 0]);
    w.put(&[ND_NA_FLAG_OVERRIDE, 0, 0, 0]);
    w.put(&target.octets());
    w.put(&[ND_OPT_TARGET_LINKADDR, 1]);
    w.put(&mac);
    m
}

/// Sequential writer into a fixed buffer; writes past the end are dropped (never panics).
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        for b in bytes {
            if let Some(slot) = self.buf.get_mut(self.pos) {
                *slot = *b;
            }
            self.pos += 1;
        }
    }
}

/// The link-layer address an `AF_PACKET` socket sends a broadcast ARP frame to.
fn packet_addr(ifindex: u32) -> io::Result<SockAddr> {
    let index = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index out of range"))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `SockAddrStorage` is a zeroed `sockaddr_storage`, which is larger than and
    // suitably aligned for `sockaddr_ll`; we only write plain integer fields of it.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_protocol = ETH_P_ARP.to_be();
    ll.sll_ifindex = index;
    ll.sll_halen = 6;
    for (dst, src) in ll.sll_addr.iter_mut().zip([0xffu8; 6]) {
        *dst = src;
    }
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the family is AF_PACKET and the storage holds an initialised `sockaddr_ll` of
    // exactly `len` bytes, as `SockAddr::new` requires.
    Ok(unsafe { SockAddr::new(storage, len) })
}

/// Sends one gratuitous ARP for `ip` out of interface `ifindex`.
pub fn send_garp(ifindex: u32, mac: [u8; 6], ip: Ipv4Addr) -> io::Result<()> {
    // Protocol 0: this socket only sends, it receives nothing.
    let sock = Socket::new(Domain::PACKET, Type::RAW, None)?;
    sock.send_to(&arp_frame(mac, ip), &packet_addr(ifindex)?)?;
    Ok(())
}

/// Sends one unsolicited neighbour advertisement for `ip` to ff02::1 on `ifindex`.
pub fn send_unsolicited_na(ifindex: u32, mac: [u8; 6], ip: Ipv6Addr) -> io::Result<()> {
    let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    // RFC 4861: neighbour discovery messages must carry hop limit 255.
    sock.set_multicast_hops_v6(255)?;
    sock.set_unicast_hops_v6(255)?;
    sock.set_multicast_if_v6(ifindex)?;
    // Source the advert from the moved address itself when the kernel lets us.
    let _ = sock.bind(&SocketAddrV6::new(ip, 0, 0, ifindex).into());
    let all_nodes = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, ifindex);
    sock.send_to(&na_message(mac, ip), &all_nodes.into())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];

    #[test]
    fn arp_frame_layout() {
        let f = arp_frame(MAC, Ipv4Addr::new(192, 0, 2, 100));
        let expect: [u8; ARP_FRAME_LEN] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x11, 0x08, 0x06, // ethernet
            0, 1, 8, 0, 6, 4, 0, 1, // htype ptype hlen plen op
            2, 0, 0, 0, 0, 0x11, 192, 0, 2, 100, // sender
            0, 0, 0, 0, 0, 0, 192, 0, 2, 100, // target
        ];
        assert_eq!(f, expect);
    }

    #[test]
    fn na_layout() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = na_message(MAC, ip);
        assert_eq!(&m[..8], &[136, 0, 0, 0, 0x20, 0, 0, 0]);
        assert_eq!(&m[8..24], &ip.octets());
        assert_eq!(&m[24..], &[2, 1, 2, 0, 0, 0, 0, 0x11]);
    }
}
