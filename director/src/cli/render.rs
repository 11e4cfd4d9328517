//! ipvsadm 1.31's listings, byte for byte: `list_all`, `list_service`, `-S`, `--timeout`,
//! `--daemon` and `-c`. Pure: the table, the options and a `Resolver` in, text out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::args::fmt;
use super::inet;
use super::names::Resolver;
use super::sort;
use crate::ipvs::{
    flags, DestEntry, Family, Forward, Info, Protocol, ServiceEntry, ServiceKey, Snapshot, Stats,
    SyncDaemon, SyncState, Timeouts, TunnelType,
};

/// `printf("%-Ns", s)`: pad with blanks to `w` bytes.
fn lpad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    while out.len() < w {
        out.push(' ');
    }
    out
}

/// Cut a C string at byte `n` (ipvsadm writes a NUL there).
fn cut(s: &mut String, n: usize) {
    if s.len() > n {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `IP_VS_VERSION_CODE` as `a.b.c`.
fn nversion(v: u32) -> String {
    format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
}

/// `addrport_to_anyname`: `addr:port`, `[v6]:port`, names unless `-n`; at most 59 bytes.
pub fn addrport_to_anyname(
    addr: &IpAddr,
    port: u16,
    proto: Protocol,
    format: u32,
    names: &dyn Resolver,
) -> String {
    let (open, close) = if addr.is_ipv4() { ("", "") } else { ("[", "]") };
    let mut s = if format & fmt::NUMERIC != 0 {
        format!("{open}{}{close}:{port}", inet::inet_ntop(addr))
    } else {
        let host = names
            .reverse(*addr)
            .unwrap_or_else(|| inet::inet_ntop(addr));
        let svc = crate::cli::names::proto_name(proto)
            .and_then(|p| names.port_name(port, p))
            .unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{svc}")
    };
    cut(&mut s, 59);
    s
}

/// `print_largenum`.
fn largenum(out: &mut String, i: u64, format: u32) {
    if format & fmt::EXACT != 0 {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        out.push_str(&format!("{i:>w$}"));
        return;
    }
    if i < 100_000_000 {
        out.push_str(&format!("{i:>9}"));
    } else if i < 1_000_000_000 {
        out.push_str(&format!("{:>8}K", i / 1000));
    } else if i < 100_000_000_000 {
        out.push_str(&format!("{:>8}M", i / 1_000_000));
    } else if i < 100_000_000_000_000 {
        out.push_str(&format!("{:>8}G", i / 1_000_000_000));
    } else {
        out.push_str(&format!("{:>8}T", i / 1_000_000_000_000));
    }
}

/// `print_title`.
pub fn title(format: u32) -> String {
    if format & fmt::STATS != 0 {
        format!(
            "{} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            lpad("Prot LocalAddress:Port", 33),
            "Conns",
            "InPkts",
            "OutPkts",
            "InBytes",
            "OutBytes"
        )
    } else if format & fmt::RATE != 0 {
        format!(
            "{} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            lpad("Prot LocalAddress:Port", 33),
            "CPS",
            "InPPS",
            "OutPPS",
            "InBPS",
            "OutBPS"
        )
    } else if format & fmt::THRESHOLDS != 0 {
        format!(
            "{} {} {} {} {}\n  -> RemoteAddress:Port\n",
            lpad("Prot LocalAddress:Port", 33),
            lpad("Uthreshold", 10),
            lpad("Lthreshold", 10),
            lpad("ActiveConn", 10),
            lpad("InActConn", 10)
        )
    } else if format & fmt::PERSISTENTCONN != 0 {
        format!(
            "{} {} {} {} {}\n  -> RemoteAddress:Port\n",
            lpad("Prot LocalAddress:Port", 33),
            lpad("Weight", 9),
            lpad("PersistConn", 11),
            lpad("ActiveConn", 10),
            lpad("InActConn", 10)
        )
    } else if format & fmt::TUN_INFO != 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_string()
    } else if format & fmt::RULE == 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string()
    } else {
        String::new()
    }
}

const SCHED_MASK: u32 =
    flags::IP_VS_SVC_F_SCHED1 | flags::IP_VS_SVC_F_SCHED2 | flags::IP_VS_SVC_F_SCHED3;

/// `print_sched_flags`.
fn sched_flags(sched: &str, f: u32) -> String {
    let mut v: Vec<&str> = Vec::new();
    let (n1, n2, n3) = match sched {
        "sh" => ("sh-fallback", "sh-port", ""),
        "mh" => ("mh-fallback", "mh-port", ""),
        _ => ("flag-1", "flag-2", "flag-3"),
    };
    if f & flags::IP_VS_SVC_F_SCHED1 != 0 {
        v.push(n1);
    }
    if f & flags::IP_VS_SVC_F_SCHED2 != 0 {
        v.push(n2);
    }
    if f & flags::IP_VS_SVC_F_SCHED3 != 0 && !n3.is_empty() {
        v.push(n3);
    }
    v.join(",")
}

fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel => "Tunnel",
        Forward::Route => "Route",
        Forward::Other(_) => "(null)",
    }
}

fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Local | Forward::Route => "-g",
        Forward::Other(_) => "(null)",
    }
}

const TUNFLAGS: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAGS_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

fn tun_info(d: &DestEntry) -> Option<String> {
    if d.dest.forward != Forward::Tunnel {
        return None;
    }
    let fl = TUNFLAGS
        .get(usize::from(d.dest.tun_flags))
        .copied()
        .unwrap_or("(null)");
    let mut s = match d.dest.tun_type {
        TunnelType::Ipip => "ipip".to_string(),
        TunnelType::Gue => format!("gue:{}:{}", d.dest.tun_port, fl),
        TunnelType::Gre => format!("gre:{fl}"),
        TunnelType::Other(_) => return None,
    };
    cut(&mut s, 15);
    Some(s)
}

fn service_stats(se: &ServiceEntry) -> Stats {
    se.stats64.unwrap_or(se.stats)
}

/// ipvsadm reads a destination's `STATS64` with its 32-bit parser: all but the byte counters
/// are cut to 32 bits.
fn dest_stats(d: &DestEntry) -> Stats {
    let s = d.stats64.unwrap_or(d.stats);
    let t = |v: u64| v & 0xffff_ffff;
    Stats {
        conns: t(s.conns),
        inpkts: t(s.inpkts),
        outpkts: t(s.outpkts),
        inbytes: s.inbytes,
        outbytes: s.outbytes,
        cps: t(s.cps),
        inpps: t(s.inpps),
        outpps: t(s.outpps),
        inbps: t(s.inbps),
        outbps: t(s.outbps),
    }
}

fn svc_protocol(se: &ServiceEntry) -> Protocol {
    match se.service.key {
        ServiceKey::Addr { protocol, .. } => protocol,
        ServiceKey::Fwmark { .. } => Protocol::Other(0),
    }
}

/// `print_service_entry`.
pub fn service_entry(out: &mut String, se: &ServiceEntry, format: u32, names: &dyn Resolver) {
    let s = &se.service;
    let v6 = s.key.family() == Family::V6;
    let rule = format & fmt::RULE != 0;
    let svc_name = match s.key {
        ServiceKey::Fwmark { family, mark } => {
            let m = mark as i32;
            match (rule, family) {
                (true, Family::V6) => format!("-f {m} -6"),
                (true, Family::V4) => format!("-f {m}"),
                (false, Family::V6) => format!("FWM  {m} IPv6"),
                (false, Family::V4) => format!("FWM  {m}"),
            }
        }
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport_to_anyname(&addr, port, protocol, format, names);
            if rule {
                let stype = match protocol {
                    Protocol::Tcp => "-t",
                    Protocol::Udp => "-u",
                    Protocol::Sctp => "--sctp-service",
                    Protocol::Other(_) => "--xxx-service",
                };
                format!("{stype} {vname}")
            } else {
                let stype = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                    Protocol::Other(_) => "?",
                };
                let mut n = format!("{} {}", lpad(stype, 4), vname);
                if !v6 {
                    cut(&mut n, 33);
                }
                n
            }
        }
    };
    let persistent = s.flags & flags::IP_VS_SVC_F_PERSISTENT != 0;
    let pe = s.pe_name.as_deref().unwrap_or("");
    let mask = |out: &mut String, word: &str| {
        if v6 {
            if s.netmask != 128 {
                out.push_str(&format!(" {word} {}", s.netmask as i32));
            }
        } else if s.netmask != 0xffff_ffff {
            out.push_str(&format!(" {word} {}", Ipv4Addr::from(s.netmask)));
        }
    };
    if rule {
        out.push_str(&format!("-A {} -s {}", svc_name, s.scheduler));
        if persistent {
            out.push_str(&format!(" -p {}", s.timeout));
            mask(out, "-M");
        }
        if !pe.is_empty() {
            out.push_str(&format!(" --pe {pe}"));
        }
        if s.flags & flags::IP_VS_SVC_F_ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if s.flags & SCHED_MASK != 0 {
            out.push_str(" -b ");
            out.push_str(&sched_flags(&s.scheduler, s.flags));
        }
    } else if format & (fmt::STATS | fmt::RATE) != 0 {
        let st = service_stats(se);
        out.push_str(&lpad(&svc_name, 33));
        let v = if format & fmt::STATS != 0 {
            [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes]
        } else {
            [st.cps, st.inpps, st.outpps, st.inbps, st.outbps]
        };
        for x in v {
            largenum(out, x, format);
        }
    } else {
        out.push_str(&format!("{} {}", svc_name, s.scheduler));
        if s.flags & SCHED_MASK != 0 {
            out.push_str(&format!(" ({})", sched_flags(&s.scheduler, s.flags)));
        }
        if persistent {
            out.push_str(&format!(" persistent {}", s.timeout));
            mask(out, "mask");
            if !pe.is_empty() {
                out.push_str(&format!(" pe {pe}"));
            }
        }
        if s.flags & flags::IP_VS_SVC_F_ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut dests = se.dests.clone();
    if format & fmt::NOSORT == 0 {
        sort::msort(&mut dests, &|a: &DestEntry, b: &DestEntry| {
            sort::cmp_dests((&a.dest.addr, a.dest.port), (&b.dest.addr, b.dest.port))
        });
    }
    let proto = svc_protocol(se);
    for e in &dests {
        let d = &e.dest;
        let mut dname = addrport_to_anyname(&d.addr, d.port, proto, format, names);
        if !rule && d.addr.is_ipv4() {
            cut(&mut dname, 28);
        }
        let weight = d.weight as i32;
        if rule {
            let sw = fwd_switch(d.forward);
            if d.forward == Forward::Tunnel {
                let fo = TUN_FLAGS_OPTS
                    .get(usize::from(d.tun_flags))
                    .copied()
                    .unwrap_or("(null)");
                match d.tun_type {
                    TunnelType::Gre => out.push_str(&format!(
                        "-a {svc_name} -r {dname} {sw} -w {weight} --tun-type gre {fo}\n"
                    )),
                    TunnelType::Gue => out.push_str(&format!(
                        "-a {svc_name} -r {dname} {sw} -w {weight} --tun-type gue --tun-port {} {fo}\n",
                        d.tun_port
                    )),
                    TunnelType::Ipip => out.push_str(&format!(
                        "-a {svc_name} -r {dname} {sw} -w {weight} --tun-type ipip\n"
                    )),
                    TunnelType::Other(_) => {
                        out.push_str(&format!("-a {svc_name} -r {dname} {sw} -w {weight}\n"))
                    }
                }
            } else {
                out.push_str(&format!("-a {svc_name} -r {dname} {sw} -w {weight}\n"));
            }
        } else if format & fmt::STATS != 0 {
            let st = dest_stats(e);
            out.push_str(&format!("  -> {}", lpad(&dname, 28)));
            for x in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                largenum(out, x, format);
            }
            out.push('\n');
        } else if format & fmt::RATE != 0 {
            let st = dest_stats(e);
            out.push_str(&format!(
                "  -> {} {:>8} {:>8} {:>8}",
                lpad(&dname, 28),
                st.cps,
                st.inpps,
                st.outpps
            ));
            largenum(out, st.inbps, format);
            largenum(out, st.outbps, format);
            out.push('\n');
        } else if format & fmt::THRESHOLDS != 0 {
            out.push_str(&format!(
                "  -> {} {} {} {} {}\n",
                lpad(&dname, 28),
                lpad(&d.u_threshold.to_string(), 10),
                lpad(&d.l_threshold.to_string(), 10),
                lpad(&e.active_conns.to_string(), 10),
                lpad(&e.inact_conns.to_string(), 10)
            ));
        } else if format & fmt::PERSISTENTCONN != 0 {
            out.push_str(&format!(
                "  -> {} {} {} {} {}\n",
                lpad(&dname, 28),
                lpad(&d.weight.to_string(), 9),
                lpad(&e.persist_conns.to_string(), 11),
                lpad(&e.active_conns.to_string(), 10),
                lpad(&e.inact_conns.to_string(), 10)
            ));
        } else if format & fmt::TUN_INFO != 0 {
            let ti = tun_info(e).unwrap_or_else(|| "n/a".to_string());
            out.push_str(&format!(
                "  -> {} {} {} {} {} {}\n",
                lpad(&dname, 28),
                lpad(fwd_name(d.forward), 7),
                lpad(&ti, 13),
                lpad(&weight.to_string(), 6),
                lpad(&e.active_conns.to_string(), 10),
                lpad(&e.inact_conns.to_string(), 10)
            ));
        } else {
            out.push_str(&format!(
                "  -> {} {} {} {} {}\n",
                lpad(&dname, 28),
                lpad(fwd_name(d.forward), 7),
                lpad(&weight.to_string(), 6),
                lpad(&e.active_conns.to_string(), 10),
                lpad(&e.inact_conns.to_string(), 10)
            ));
        }
    }
}

/// The `IP Virtual Server version ...` header of `list_all`.
pub fn header(info: &Info) -> String {
    format!(
        "IP Virtual Server version {} (size={})\n",
        nversion(info.version),
        info.conn_tab_size as i32
    )
}

/// `list_all` after the header: sort (unless `--nosort`), title, every service.
pub fn list_all(snapshot: &Snapshot, format: u32, names: &dyn Resolver) -> String {
    let mut services = snapshot.services.clone();
    if format & fmt::NOSORT == 0 {
        sort::msort(&mut services, &sort::cmp_services);
    }
    let mut out = title(format);
    for se in &services {
        service_entry(&mut out, se, format, names);
    }
    out
}

/// `list_service`: title and one service.
pub fn list_service(se: &ServiceEntry, format: u32, names: &dyn Resolver) -> String {
    let mut out = title(format);
    service_entry(&mut out, se, format, names);
    out
}

/// `list_timeout`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `list_daemon`.
pub fn daemons(list: &[SyncDaemon]) -> String {
    let mut out = String::new();
    for d in list.iter().take(2) {
        let kind = match d.state {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        };
        out.push_str(&format!(
            "{kind} sync daemon (mcast={}, syncid={}",
            d.mcast_ifn, d.sync_id as i32
        ));
        if let Some(m) = d.sync_maxlen.filter(|m| *m != 0) {
            out.push_str(&format!(", maxlen={m}"));
        }
        if let Some(g) = d.mcast_group {
            out.push_str(&format!(", group={}", inet::inet_ntop(&g)));
        }
        if let Some(p) = d.mcast_port.filter(|p| *p != 0) {
            out.push_str(&format!(", port={p}"));
        }
        if let Some(t) = d.mcast_ttl.filter(|t| *t != 0) {
            out.push_str(&format!(", ttl={t}"));
        }
        out.push_str(")\n");
    }
    out
}

/// Split text the way repeated `fgets(buf, 256, f)` reads it.
fn fgets_chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && j - i < 255 {
            j += 1;
            if b[j - 1] == b'\n' {
                break;
            }
        }
        while !text.is_char_boundary(j) {
            j += 1;
        }
        out.push(&text[i..j]);
        i = j;
    }
    out
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A tiny `sscanf` for `%s`, `%hX` and `%d`.
struct Scan<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn skip_ws(&mut self) -> bool {
        let b = self.s.as_bytes();
        while self.pos < b.len() && is_c_space(b[self.pos]) {
            self.pos += 1;
        }
        self.pos < b.len()
    }
    fn word(&mut self) -> Option<&'a str> {
        if !self.skip_ws() {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && !is_c_space(b[self.pos]) {
            self.pos += 1;
        }
        self.s.get(start..self.pos)
    }
    fn number(&mut self, hex: bool) -> Option<i64> {
        if !self.skip_ws() {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if hex
            && i + 2 < b.len() + 1
            && b.get(i) == Some(&b'0')
            && b.get(i + 1).is_some_and(|c| c | 0x20 == b'x')
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 2;
        }
        let ds = i;
        while i < b.len()
            && (if hex {
                b[i].is_ascii_hexdigit()
            } else {
                b[i].is_ascii_digit()
            })
        {
            i += 1;
        }
        if i == ds {
            return None;
        }
        let text = self.s.get(start..i)?;
        self.pos = i;
        if hex {
            inet::scan_hex_u16(text).map(i64::from)
        } else {
            inet::scan_int(text).map(i64::from)
        }
    }
}

/// `print_conn` for one line of /proc/net/ip_vs_conn. None where ipvsadm would `exit(1)`.
fn conn_line(line: &str, format: u32, names: &dyn Resolver) -> Option<String> {
    let mut sc = Scan { s: line, pos: 0 };
    let mut n = 0;
    let mut protocol = "";
    let (mut t1, mut t2, mut t3, mut state) = ("", "", "", "");
    let (mut cport, mut vport, mut dport, mut expires) = (0u16, 0u16, 0u16, 0i64);
    let (mut pe_name, mut pe_data) = ("", "");
    'scan: {
        macro_rules! word {
            ($v:ident) => {
                match sc.word() {
                    Some(w) => {
                        $v = w;
                        n += 1;
                    }
                    None => break 'scan,
                }
            };
        }
        macro_rules! num {
            ($v:ident, $hex:expr, $t:ty) => {
                match sc.number($hex) {
                    Some(x) => {
                        $v = x as $t;
                        n += 1;
                    }
                    None => break 'scan,
                }
            };
        }
        word!(protocol);
        word!(t1);
        num!(cport, true, u16);
        word!(t2);
        num!(vport, true, u16);
        word!(t3);
        num!(dport, true, u16);
        word!(state);
        num!(expires, false, i64);
        word!(pe_name);
        word!(pe_data);
    }
    if n == 0 && !line.bytes().any(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    let proto = match protocol {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => Protocol::Other(0),
    };
    let hex4 = |s: &str| IpAddr::V4(Ipv4Addr::from(inet::strtoul16(s) as u32));
    let (caddr, vaddr) = if let Some(c) = inet::inet_pton6(t1) {
        (
            IpAddr::V6(c),
            IpAddr::V6(inet::inet_pton6(t2).unwrap_or(Ipv6Addr::UNSPECIFIED)),
        )
    } else if let Some(c) = inet::inet_pton4(t1) {
        (
            IpAddr::V4(c),
            IpAddr::V4(inet::inet_pton4(t2).unwrap_or(Ipv4Addr::UNSPECIFIED)),
        )
    } else {
        (hex4(t1), hex4(t2))
    };
    let daddr = if let Some(d) = inet::inet_pton6(t3) {
        IpAddr::V6(d)
    } else if let Some(d) = inet::inet_pton4(t3) {
        IpAddr::V4(d)
    } else {
        hex4(t3)
    };
    let cname = addrport_to_anyname(&caddr, cport, proto, format, names);
    let vname = addrport_to_anyname(&vaddr, vport, proto, format, names);
    let dname = addrport_to_anyname(&daddr, dport, proto, format, names);
    let e = expires as u32;
    let expire = format!("{:02}:{:02}", (e / 60) as i32, (e % 60) as i32);
    Some(if format & fmt::PERSISTENTCONN != 0 && n == 11 {
        format!(
            "{} {} {} {} {} {} {} {}\n",
            lpad(protocol, 3),
            lpad(&expire, 6),
            lpad(state, 11),
            lpad(&cname, 18),
            lpad(&vname, 18),
            lpad(&dname, 16),
            lpad(pe_name, 18),
            pe_data
        )
    } else {
        format!(
            "{} {} {} {} {} {}\n",
            lpad(protocol, 3),
            lpad(&expire, 6),
            lpad(state, 11),
            lpad(&cname, 18),
            lpad(&vname, 18),
            dname
        )
    })
}

/// Result of `list_conn`: what was printed and whether ipvsadm stopped with `exit(1)`.
pub struct ConnListing {
    pub stdout: String,
    pub stderr: String,
    pub failed: bool,
}

/// `list_conn` over the text of /proc/net/ip_vs_conn (None: the file could not be opened).
pub fn list_conn(text: Option<&str>, format: u32, names: &dyn Resolver) -> ConnListing {
    const FILE: &str = "/proc/net/ip_vs_conn";
    let Some(text) = text else {
        return ConnListing {
            stdout: String::new(),
            stderr: format!("cannot open file {FILE}\n"),
            failed: true,
        };
    };
    let chunks = fgets_chunks(text);
    let Some((_, rest)) = chunks.split_first() else {
        return ConnListing {
            stdout: String::new(),
            stderr: format!("unexpected input from {FILE}\n"),
            failed: true,
        };
    };
    let mut out = String::from("IPVS connection entries\n");
    if format & fmt::PERSISTENTCONN != 0 {
        out.push_str(&format!(
            "pro expire {} {} {} {} {} pe_data\n",
            lpad("state", 11),
            lpad("source", 18),
            lpad("virtual", 18),
            lpad("destination", 18),
            lpad("pe name", 16)
        ));
    } else {
        out.push_str(&format!(
            "pro expire {} {} {} destination\n",
            lpad("state", 11),
            lpad("source", 18),
            lpad("virtual", 18)
        ));
    }
    for line in rest {
        match conn_line(line, format, names) {
            Some(l) => out.push_str(&l),
            None => {
                return ConnListing {
                    stdout: out,
                    stderr: String::new(),
                    failed: true,
                }
            }
        }
    }
    ConnListing {
        stdout: out,
        stderr: String::new(),
        failed: false,
    }
}
