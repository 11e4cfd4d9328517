//! The connection table handed to another director in the kernel's own sync format.
//!
//! The kernel's sync daemons only send a connection when it sees traffic (and state changes),
//! so a director that comes back after a reboot learns of an idle long-lived connection only
//! when a packet of it passes the active node again: it may take the VIP before then and
//! reset it. This module lets the active node send its whole table at once, as sync messages
//! (protocol version 1, `net/netfilter/ipvs/ip_vs_sync.c`) that the returning node's *backup*
//! sync daemon takes in like any other: a complete catch-up in milliseconds.
//!
//! - [`parse_conns`]: `/proc/net/ip_vs_conn` -> [`Conn`]s (pure; lines it cannot use are
//!   counted, never guessed at);
//! - [`encode`]: [`Conn`]s + the IPVS table (forwarding method, firewall marks) -> datagrams
//!   of at most `maxlen` bytes (pure);
//! - [`handover`]: the same, stamped as a hand-over ([`HANDOVER_SYNC_ID`]) and closed by an
//!   empty message, so the receiving *director* (not only its kernel) sees where it ends;
//! - [`decode`]: one datagram -> its sync id and [`Conn`]s (pure; what the receiving director
//!   reads to check that its kernel took every connection);
//! - [`Assembler`]: datagrams from the wire -> complete [`Handover`]s, bounded (pure);
//! - [`send`]: the datagrams to the sync group on an interface (I/O).
//!
//! # The hand-over mark
//! The kernel's master daemon sends with its own sync id (0 here) and never an empty message.
//! A hand-over is sent with sync id [`HANDOVER_SYNC_ID`] and ends with an empty message of
//! that id. A backup daemon whose own sync id is 0 (director's) takes every id, and an empty
//! message adds nothing (`ip_vs_process_message` loops over zero connections), so the kernel
//! reads a hand-over as ordinary sync messages while the director listening beside it on the
//! same group (the kernel's receiving socket allows that: `sk_reuse`) knows which connections
//! were handed over and when the last one was sent.
//!
//! Not sent: persistence templates (their client port is 0: the kernel's daemon syncs them as
//! traffic flows) and SCTP connections. The connection timeout is sent as 0, so the receiving
//! kernel applies its own timeout for the state, as for any synced connection.
//!
//! Written here rather than taken from a crate: no maintained crate speaks this format.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::model::{Forward, Protocol, ServiceKey, Table};

/// The kernel's default sync group and port (`IP_VS_SYNC_GROUP`, `IP_VS_SYNC_PORT`).
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
pub const DEFAULT_PORT: u16 = 8848;
/// The kernel's default largest sync message (1500 - 20 - 8).
pub const DEFAULT_MAXLEN: usize = 1472;

const HEADER: usize = 8;
const CONN_V4: usize = 36;
const CONN_V6: usize = 72;
const PROTO_VERSION: u8 = 1;
const STYPE_F_INET6: u8 = 1;
const F_INACTIVE: u32 = 0x0100;

/// The sync id that marks a hand-over (see the module documentation).
pub const HANDOVER_SYNC_ID: u8 = 0xd1;
/// The most connections one hand-over may announce to the receiving director (what it
/// remembers of a larger one is cut there, and the check covers the part kept).
pub const HANDOVER_MAX_CONNS: usize = 1 << 20;

/// One connection of the table, as `/proc/net/ip_vs_conn` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conn {
    pub protocol: Protocol,
    pub client: SocketAddr,
    pub virt: SocketAddr,
    pub dest: SocketAddr,
    /// The kernel's state number for the protocol (TCP: 1 ESTABLISHED, ...; UDP: 0).
    pub state: u16,
}

impl Conn {
    /// An established TCP connection counts as active; any other as inactive (as the
    /// kernel counts them).
    fn inactive(&self) -> bool {
        !(self.protocol == Protocol::Tcp && self.state == TCP_ESTABLISHED)
    }
}

const TCP_ESTABLISHED: u16 = 1;

/// The kernel's TCP state names (`tcp_state_name_table`), by state number.
const TCP_STATES: [&str; 11] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

/// What [`parse_conns`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub conns: Vec<Conn>,
    /// Lines left out: persistence templates, protocols not synced here, lines not understood.
    pub skipped: usize,
}

/// Reads the text of `/proc/net/ip_vs_conn` (the header line is skipped).
pub fn parse_conns(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(c) => out.conns.push(c),
            None => out.skipped += 1,
        }
    }
    out
}

fn parse_line(line: &str) -> Option<Conn> {
    let mut w = line.split_whitespace();
    let protocol = match w.next()? {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        _ => return None,
    };
    let (caddr, cport) = (addr(w.next()?)?, port(w.next()?)?);
    let (vaddr, vport) = (addr(w.next()?)?, port(w.next()?)?);
    let (daddr, dport) = (addr(w.next()?)?, port(w.next()?)?);
    let state_name = w.next()?;
    // A persistence template: client port 0. Left to the kernel's daemon.
    if cport == 0 {
        return None;
    }
    let state = match protocol {
        Protocol::Tcp => u16::try_from(TCP_STATES.iter().position(|s| *s == state_name)?).ok()?,
        _ if state_name == "UDP" => 0,
        _ => return None,
    };
    Some(Conn {
        protocol,
        client: SocketAddr::new(caddr, cport),
        virt: SocketAddr::new(vaddr, vport),
        dest: SocketAddr::new(daddr, dport),
        state,
    })
}

/// `C0000214` (IPv4, host order hex) or `2001:0db8:...` (IPv6, `%pI6`).
fn addr(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16)
        .ok()
        .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
}

fn port(s: &str) -> Option<u16> {
    if s.len() != 4 {
        return None;
    }
    u16::from_str_radix(s, 16).ok()
}

/// Where a connection belongs in the table: the forwarding method of its real server and the
/// firewall mark of its service (0 for an address service).
fn placement(index: &Index, c: &Conn) -> (Forward, u32) {
    let by_addr = ServiceKey::Addr {
        protocol: c.protocol,
        addr: c.virt.ip(),
        port: c.virt.port(),
    };
    if let Some(f) = index.addr.get(&(by_addr, c.dest)) {
        return (*f, 0);
    }
    match index.fwmark.get(&c.dest) {
        Some((f, mark)) => (*f, *mark),
        // Not in the table (a service removed meanwhile): the receiver looks it up itself.
        None => (Forward::Masq, 0),
    }
}

struct Index {
    addr: HashMap<(ServiceKey, SocketAddr), Forward>,
    fwmark: HashMap<SocketAddr, (Forward, u32)>,
}

fn index(table: &Table) -> Index {
    let mut addr = HashMap::new();
    let mut fwmark = HashMap::new();
    for (key, svc) in &table.services {
        for d in svc.dests.values() {
            let dest = SocketAddr::new(d.addr, d.port);
            match key {
                ServiceKey::Addr { .. } => {
                    addr.insert((*key, dest), d.forward);
                }
                ServiceKey::Fwmark { mark, .. } => {
                    fwmark.entry(dest).or_insert((d.forward, *mark));
                }
            }
        }
    }
    Index { addr, fwmark }
}

/// The sync messages (version 1) for `conns`, each at most `maxlen` bytes and 255
/// connections, stamped with `syncid` (the receiving backup daemon's, or 0).
pub fn encode(conns: &[Conn], table: &Table, syncid: u8, maxlen: usize) -> Vec<Vec<u8>> {
    let maxlen = maxlen.clamp(HEADER + CONN_V6, usize::from(u16::MAX));
    let index = index(table);
    let mut out = Vec::new();
    let mut msg = Vec::new();
    let mut count = 0u8;
    for c in conns {
        let size = if c.client.is_ipv6() { CONN_V6 } else { CONN_V4 };
        if count == u8::MAX || (count > 0 && msg.len() + size > maxlen) {
            out.push(finish(msg, count));
            msg = Vec::new();
            count = 0;
        }
        if msg.is_empty() {
            msg.extend_from_slice(&[0, syncid, 0, 0, 0, PROTO_VERSION, 0, 0]);
        }
        let (forward, mark) = placement(&index, c);
        let mut flags = forward.number() & 0x7;
        if c.inactive() {
            flags |= F_INACTIVE;
        }
        let v6 = c.client.is_ipv6();
        msg.push(if v6 { STYPE_F_INET6 } else { 0 });
        msg.push(u8::try_from(c.protocol.number()).unwrap_or(0));
        // Version 0 of the connection format in the top 4 bits, the size below.
        msg.extend_from_slice(&u16::try_from(size).unwrap_or(0).to_be_bytes());
        msg.extend_from_slice(&flags.to_be_bytes());
        msg.extend_from_slice(&c.state.to_be_bytes());
        msg.extend_from_slice(&c.client.port().to_be_bytes());
        msg.extend_from_slice(&c.virt.port().to_be_bytes());
        msg.extend_from_slice(&c.dest.port().to_be_bytes());
        msg.extend_from_slice(&mark.to_be_bytes());
        // Timeout 0: the receiver applies its own for the state.
        msg.extend_from_slice(&0u32.to_be_bytes());
        for a in [c.client.ip(), c.virt.ip(), c.dest.ip()] {
            match a {
                IpAddr::V4(a) if !v6 => msg.extend_from_slice(&a.octets()),
                IpAddr::V4(a) => msg.extend_from_slice(&a.to_ipv6_mapped().octets()),
                IpAddr::V6(a) => msg.extend_from_slice(&a.octets()),
            }
        }
        count += 1;
    }
    if count > 0 {
        out.push(finish(msg, count));
    }
    out
}

/// A hand-over: the messages of [`encode`] with [`HANDOVER_SYNC_ID`], then the empty message
/// that ends it (sent even when there is no connection: the receiver then knows there is
/// nothing to wait for).
pub fn handover(conns: &[Conn], table: &Table, maxlen: usize) -> Vec<Vec<u8>> {
    let mut out = encode(conns, table, HANDOVER_SYNC_ID, maxlen);
    out.push(finish(
        vec![0, HANDOVER_SYNC_ID, 0, 0, 0, PROTO_VERSION, 0, 0],
        0,
    ));
    out
}

/// Why a datagram is not a version 1 sync message this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its header or than it says.
    Truncated,
    /// The header's size is not the datagram's.
    Size,
    /// Version 0, or a reserved field set: the kernel would not read it as version 1 either.
    Version,
    /// A connection with an unknown layout or version.
    Conn,
}

/// One decoded sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub syncid: u8,
    pub conns: Vec<Conn>,
}

/// Reads one sync datagram (protocol version 1) as the kernel's backup daemon does:
/// `ip_vs_process_message` and `ip_vs_proc_sync_conn`. Options after a connection (sequence
/// data, persistence engine data) are skipped over by its size.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let header = bytes.get(..HEADER).ok_or(DecodeError::Truncated)?;
    let size = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if size != bytes.len() {
        return Err(DecodeError::Size);
    }
    if header[0] != 0 || header[5] != PROTO_VERSION || header[6] != 0 || header[7] != 0 {
        return Err(DecodeError::Version);
    }
    let count = usize::from(header[4]);
    let mut conns = Vec::with_capacity(count);
    let mut at = HEADER;
    for _ in 0..count {
        let head = bytes.get(at..at + 4).ok_or(DecodeError::Truncated)?;
        let ver_size = u16::from_be_bytes([head[2], head[3]]);
        let len = usize::from(ver_size & 0x0fff);
        if ver_size >> 12 != 0 {
            return Err(DecodeError::Conn);
        }
        let body = bytes.get(at..at + len).ok_or(DecodeError::Truncated)?;
        conns.push(conn(body)?);
        at += len;
    }
    Ok(Message {
        syncid: header[1],
        conns,
    })
}

fn conn(b: &[u8]) -> Result<Conn, DecodeError> {
    let v6 = match b.first() {
        Some(0) => false,
        Some(&STYPE_F_INET6) => true,
        _ => return Err(DecodeError::Conn),
    };
    let need = if v6 { CONN_V6 } else { CONN_V4 };
    if b.len() < need {
        return Err(DecodeError::Conn);
    }
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let protocol = match b[1] {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        _ => return Err(DecodeError::Conn),
    };
    let ips: Vec<IpAddr> = if v6 {
        (0..3)
            .map(|k| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&b[24 + 16 * k..40 + 16 * k]);
                IpAddr::V6(Ipv6Addr::from(o))
            })
            .collect()
    } else {
        (0..3)
            .map(|k| {
                IpAddr::V4(Ipv4Addr::new(
                    b[24 + 4 * k],
                    b[25 + 4 * k],
                    b[26 + 4 * k],
                    b[27 + 4 * k],
                ))
            })
            .collect()
    };
    Ok(Conn {
        protocol,
        state: u16_at(8),
        client: SocketAddr::new(ips[0], u16_at(10)),
        virt: SocketAddr::new(ips[1], u16_at(12)),
        dest: SocketAddr::new(ips[2], u16_at(14)),
    })
}

/// A connection's identity in a table: protocol, client and virtual address (the real
/// server and state may differ between two tables without the connection being another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub protocol: u16,
    pub client: SocketAddr,
    pub virt: SocketAddr,
}

impl Conn {
    /// Its identity.
    pub fn key(&self) -> ConnKey {
        ConnKey {
            protocol: self.protocol.number(),
            client: self.client,
            virt: self.virt,
        }
    }
}

/// A complete hand-over as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover<T> {
    /// When its end arrived.
    pub at: T,
    /// Who sent it.
    pub from: IpAddr,
    /// The connections handed over (at most [`HANDOVER_MAX_CONNS`]).
    pub conns: Vec<ConnKey>,
    /// Whether some were cut at [`HANDOVER_MAX_CONNS`].
    pub cut: bool,
}

/// Gathers hand-over datagrams, by sender, into complete [`Handover`]s. Pure: the time of
/// arrival is given. Other sync messages (the kernel's own) are ignored; a sender may have one
/// hand-over under way, and a datagram that cannot be read is dropped as the kernel drops it.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: HashMap<IpAddr, (Vec<ConnKey>, bool)>,
}

/// At most this many senders with a hand-over under way (more: the oldest is forgotten).
const MAX_SENDERS: usize = 16;

impl Assembler {
    /// Takes one datagram from `from`; returns the hand-over it completes, if it does.
    pub fn feed<T>(&mut self, from: IpAddr, bytes: &[u8], now: T) -> Option<Handover<T>> {
        let msg = decode(bytes).ok()?;
        if msg.syncid != HANDOVER_SYNC_ID {
            return None;
        }
        if msg.conns.is_empty() {
            let (conns, cut) = self.pending.remove(&from).unwrap_or_default();
            return Some(Handover {
                at: now,
                from,
                conns,
                cut,
            });
        }
        if !self.pending.contains_key(&from) && self.pending.len() >= MAX_SENDERS {
            if let Some(k) = self.pending.keys().next().copied() {
                self.pending.remove(&k);
            }
        }
        let (conns, cut) = self.pending.entry(from).or_default();
        for c in &msg.conns {
            if conns.len() >= HANDOVER_MAX_CONNS {
                *cut = true;
                break;
            }
            conns.push(c.key());
        }
        None
    }
}

/// The connections of `handed` that `table` (the receiving kernel's, from
/// [`parse_conns`]) does not hold.
pub fn missing(handed: &[ConnKey], table: &[Conn]) -> usize {
    let have: std::collections::HashSet<ConnKey> = table.iter().map(Conn::key).collect();
    handed.iter().filter(|k| !have.contains(k)).count()
}

fn finish(mut msg: Vec<u8>, count: u8) -> Vec<u8> {
    let size = u16::try_from(msg.len()).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(s) = msg.get_mut(2..4) {
        s.copy_from_slice(&size);
    }
    if let Some(n) = msg.get_mut(4) {
        *n = count;
    }
    msg
}

/// Sends `messages` to the sync group (`group`:`port`) out of `iface`, TTL 1, without
/// looping them back to this host's own backup daemon. Returns how many were sent.
pub fn send(messages: &[Vec<u8>], iface: &str, group: SocketAddr) -> std::io::Result<usize> {
    use socket2::{Domain, Protocol as P, Socket, Type};
    let domain = if group.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::DGRAM, Some(P::UDP))?;
    s.bind_device(Some(iface.as_bytes()))?;
    if group.is_ipv6() {
        let ifindex = nix::net::if_::if_nametoindex(iface).map_err(std::io::Error::from)?;
        s.set_multicast_if_v6(ifindex)?;
        s.set_multicast_loop_v6(false)?;
        s.set_multicast_hops_v6(1)?;
    } else {
        // Bound to the device, the multicast leaves through it.
        s.set_multicast_loop_v4(false)?;
        s.set_multicast_ttl_v4(1)?;
    }
    let to = socket2::SockAddr::from(group);
    let mut sent = 0;
    for m in messages {
        s.send_to(m, &to)?;
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{Dest, Family, Service, ServiceConfig};

    const PROC: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C000020A 9C41 C0000264 0050 C0000215 0050 ESTABLISHED     897
TCP C000020A 9C42 C0000264 0050 C0000216 0050 FIN_WAIT         75
UDP C000020A 8235 C0000264 0035 C0000215 0035 UDP             293
TCP C000020A 0000 C0000264 0050 C0000215 0050 NONE            287
SCTP C000020A 9C43 C0000264 0050 C0000215 0050 ESTABLISHED    100
TCP 2001:0db8:0000:0000:0000:0000:0000:000a 9C44 2001:0db8:0000:0000:0000:0000:0000:0064 0050 2001:0db8:0000:0000:0000:0000:0000:0015 0050 SYN_RECV         55
garbage
";

    fn ip(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_proc_table_is_read_and_templates_left_out() {
        let p = parse_conns(PROC);
        assert_eq!(p.skipped, 3, "template, SCTP, garbage");
        assert_eq!(p.conns.len(), 4);
        assert_eq!(
            p.conns[0],
            Conn {
                protocol: Protocol::Tcp,
                client: ip("192.0.2.10:40001"),
                virt: ip("192.0.2.100:80"),
                dest: ip("192.0.2.21:80"),
                state: 1,
            }
        );
        assert_eq!(p.conns[1].state, 4);
        assert_eq!((p.conns[2].protocol, p.conns[2].state), (Protocol::Udp, 0));
        assert_eq!(p.conns[3].client, ip("[2001:db8::a]:40004"));
        assert_eq!(p.conns[3].state, 3);
    }

    fn table() -> Table {
        let mut t = Table::default();
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.100".parse().unwrap(),
            port: 80,
        };
        let mut dest = Dest::new("192.0.2.21".parse().unwrap(), 80);
        dest.forward = Forward::Masq;
        t.services.insert(
            key,
            ServiceConfig {
                service: Service::new(key),
                dests: [(dest.key(), dest)].into(),
            },
        );
        let fw = ServiceKey::Fwmark {
            family: Family::V4,
            mark: 7,
        };
        let dest = Dest::new("192.0.2.22".parse().unwrap(), 80);
        t.services.insert(
            fw,
            ServiceConfig {
                service: Service::new(fw),
                dests: [(dest.key(), dest)].into(),
            },
        );
        t
    }

    /// Byte for byte, as `ip_vs_sync.c` lays out a version 1 message with IPv4 connections.
    #[test]
    fn a_message_is_laid_out_as_the_kernel_reads_it() {
        let conns = parse_conns(PROC).conns;
        let msgs = encode(&conns[..2], &table(), 9, DEFAULT_MAXLEN);
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.len(), HEADER + 2 * CONN_V4);
        assert_eq!(&m[..8], &[0, 9, 0, 80, 2, 1, 0, 0]);
        let c = &m[8..8 + CONN_V4];
        assert_eq!(&c[..4], &[0, 6, 0, 36], "type v4, TCP, version 0 size 36");
        assert_eq!(&c[4..8], &0u32.to_be_bytes(), "masq, active");
        assert_eq!(&c[8..10], &1u16.to_be_bytes(), "ESTABLISHED");
        assert_eq!(&c[10..16], &[0x9c, 0x41, 0, 80, 0, 80]);
        assert_eq!(&c[16..24], &[0; 8], "no mark, timeout 0");
        assert_eq!(&c[24..36], &[192, 0, 2, 10, 192, 0, 2, 100, 192, 0, 2, 21]);
        // The second: to rs2, which is only in the fwmark service (route, mark 7), FIN_WAIT
        // (inactive).
        let c = &m[8 + CONN_V4..];
        assert_eq!(&c[4..8], &(3u32 | F_INACTIVE).to_be_bytes());
        assert_eq!(&c[8..10], &4u16.to_be_bytes());
        assert_eq!(&c[16..20], &7u32.to_be_bytes());
    }

    #[test]
    fn large_tables_are_split_within_maxlen_and_255_connections() {
        let one = parse_conns(PROC).conns[0].clone();
        let conns: Vec<Conn> = (0..1000u16)
            .map(|i| Conn {
                client: SocketAddr::new(one.client.ip(), 1024 + i),
                ..one.clone()
            })
            .collect();
        for maxlen in [DEFAULT_MAXLEN, 9000, 65_535] {
            let msgs = encode(&conns, &table(), 0, maxlen);
            let mut total = 0;
            for m in &msgs {
                assert!(m.len() <= maxlen);
                assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
                assert_eq!(m.len(), HEADER + usize::from(m[4]) * CONN_V4);
                total += usize::from(m[4]);
            }
            assert_eq!(total, 1000);
        }
        assert_eq!(encode(&conns, &table(), 0, DEFAULT_MAXLEN)[0][4], 40);
        assert_eq!(encode(&conns, &table(), 0, 65_535)[0][4], 255);
    }

    #[test]
    fn ipv6_connections_use_the_v6_layout() {
        let c = parse_conns(PROC).conns[3].clone();
        let m = &encode(&[c], &Table::default(), 0, DEFAULT_MAXLEN)[0];
        assert_eq!(m.len(), HEADER + CONN_V6);
        assert_eq!(&m[8..12], &[1, 6, 0, 72]);
        assert_eq!(
            &m[32..48],
            &"2001:db8::a".parse::<Ipv6Addr>().unwrap().octets()
        );
    }

    #[test]
    fn decode_reads_what_encode_wrote() {
        let conns = parse_conns(PROC).conns;
        let msgs = encode(&conns, &table(), 9, DEFAULT_MAXLEN);
        assert_eq!(msgs.len(), 1);
        let m = decode(&msgs[0]).unwrap();
        assert_eq!(m.syncid, 9);
        assert_eq!(m.conns, conns);
    }

    #[test]
    fn decode_refuses_what_the_kernel_would_not_read() {
        let conns = parse_conns(PROC).conns;
        let good = encode(&conns[..1], &table(), 0, DEFAULT_MAXLEN).remove(0);
        assert_eq!(decode(&good[..5]), Err(DecodeError::Truncated));
        assert_eq!(decode(&good[..good.len() - 1]), Err(DecodeError::Size));
        let mut v0 = good.clone();
        v0[5] = 0;
        assert_eq!(decode(&v0), Err(DecodeError::Version));
        let mut spare = good.clone();
        spare[7] = 1;
        assert_eq!(decode(&spare), Err(DecodeError::Version));
        let mut more = good.clone();
        more[4] = 2;
        assert_eq!(decode(&more), Err(DecodeError::Truncated));
        let mut ver = good.clone();
        ver[10] |= 0x10;
        assert_eq!(decode(&ver), Err(DecodeError::Conn));
    }

    #[test]
    fn a_handover_is_marked_and_ends_with_an_empty_message() {
        let conns = parse_conns(PROC).conns;
        let msgs = handover(&conns, &table(), DEFAULT_MAXLEN);
        assert_eq!(msgs.len(), 2);
        assert!(msgs.iter().all(|m| m[1] == HANDOVER_SYNC_ID));
        assert_eq!(msgs[1], vec![0, HANDOVER_SYNC_ID, 0, 8, 0, 1, 0, 0]);
        assert_eq!(decode(&msgs[1]).unwrap().conns, vec![]);
        // Nothing to hand over: the end alone.
        assert_eq!(handover(&[], &table(), DEFAULT_MAXLEN).len(), 1);
    }

    #[test]
    fn the_assembler_gathers_a_handover_per_sender_and_ignores_the_kernels_messages() {
        let one = parse_conns(PROC).conns[0].clone();
        let conns: Vec<Conn> = (0..100u16)
            .map(|i| Conn {
                client: SocketAddr::new(one.client.ip(), 2000 + i),
                ..one.clone()
            })
            .collect();
        let a: IpAddr = "192.0.2.11".parse().unwrap();
        let b: IpAddr = "192.0.2.12".parse().unwrap();
        let mut asm = Assembler::default();
        let from_a = handover(&conns, &table(), 400);
        assert!(from_a.len() > 3);
        let kernel = encode(&conns[..5], &table(), 0, DEFAULT_MAXLEN);
        let mut done = Vec::new();
        for (i, m) in from_a.iter().enumerate() {
            // Interleaved: the kernel's own messages and another sender's hand-over.
            assert_eq!(asm.feed(a, &kernel[0], i), None);
            assert_eq!(asm.feed(b, &[1, 2, 3], i), None);
            done.extend(asm.feed(a, m, i));
        }
        assert_eq!(done.len(), 1);
        let h = &done[0];
        assert_eq!((h.at, h.from, h.cut), (from_a.len() - 1, a, false));
        assert_eq!(h.conns, conns.iter().map(Conn::key).collect::<Vec<_>>());
        // A second, empty hand-over from b.
        let end = handover(&[], &table(), DEFAULT_MAXLEN);
        assert_eq!(asm.feed(b, &end[0], 7).map(|h| h.conns.len()), Some(0));
    }

    #[test]
    fn missing_counts_what_the_table_lacks_whatever_its_state_or_server() {
        let conns = parse_conns(PROC).conns;
        let keys: Vec<ConnKey> = conns.iter().map(Conn::key).collect();
        assert_eq!(missing(&keys, &conns), 0);
        let mut moved = conns.clone();
        moved[0].dest = "192.0.2.22:80".parse().unwrap();
        moved[0].state = 5;
        assert_eq!(missing(&keys, &moved), 0);
        assert_eq!(missing(&keys, &conns[1..]), 1);
        assert_eq!(missing(&keys, &[]), keys.len());
    }

    proptest::proptest! {
        #[test]
        fn any_datagram_is_decoded_or_refused_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = decode(&bytes);
            let mut asm = Assembler::default();
            let _ = asm.feed("192.0.2.1".parse::<IpAddr>().unwrap(), &bytes, 0u8);
        }

        #[test]
        fn any_proc_text_is_read_without_panic(text in "\\PC{0,400}") {
            let _ = parse_conns(&text);
        }
    }
}
