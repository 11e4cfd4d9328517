//! virtual_server, virtual_server_group, real_server and checkers -> ldirectord blocks.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::model::*;
use super::super::parse::{Loc, Stmt};
use super::{flag, whole, Ctx, Mail};

/// The most addresses one group range may expand to.
pub const MAX_RANGE: u32 = 1024;

/// Settings of a virtual_server block (and the defaults its real servers inherit).
#[derive(Clone)]
struct VsSettings {
    scheduler: Option<String>,
    schedflags: Vec<String>,
    method: Method,
    persistent: Option<u32>,
    netmask: Option<String>,
    udp: bool,
    ops: bool,
    quiescent: bool,
    delay_loop: f64,
    sorry: Option<(IpAddr, Option<u16>)>,
    sorry_method: Option<Method>,
    virtualhost: Option<String>,
    /// `ip_family inet6` for firewall marks (`None`: not written).
    v6_fwmark: Option<bool>,
}

/// A checker as read.
#[derive(Debug, Clone, PartialEq)]
struct Checker {
    loc: Loc,
    check: Check,
    port: Option<u16>,
    timeout: f64,
    retry: u32,
    delay_loop: Option<f64>,
}

/// A real_server as read.
struct RealServer {
    loc: Loc,
    real: Real,
    quiescent: Option<bool>,
    /// `lvs_method` of the real server (else the virtual server's).
    own_method: Option<Method>,
    checkers: Vec<Checker>,
}

fn method(cx: &mut Ctx<'_>, s: &Stmt) -> Option<Method> {
    match s.args() {
        [m] if m == "NAT" => Some(Method::Masq),
        [m] if m == "DR" => Some(Method::Gate),
        [m] if m == "TUN" => Some(Method::Ipip),
        [m, ..] if m == "TUN" => {
            cx.not_carried(
                s.loc,
                format!(
                    "{}: ldirectord's ipip has no tunnel type or checksum option (ipip is used)",
                    s.words.join(" ")
                ),
            );
            Some(Method::Ipip)
        }
        _ => {
            cx.error(
                s.loc,
                format!("{}: expected NAT, DR or TUN", s.words.join(" ")),
            );
            None
        }
    }
}

fn port(cx: &mut Ctx<'_>, loc: Loc, text: &str) -> Option<u16> {
    match text.parse::<u16>() {
        Ok(p) => Some(p),
        Err(_) => {
            cx.error(loc, format!("invalid port {text}"));
            None
        }
    }
}

pub(super) fn virtual_server(
    cx: &mut Ctx<'_>,
    s: &Stmt,
    groups: &BTreeMap<String, (Loc, Vec<Stmt>)>,
    mail: &Mail,
) -> Vec<Virtual> {
    let origin = format!("{}:{}", cx.file(s.loc), s.loc.line);
    let context = s.words.join(" ");
    let mut set = VsSettings {
        scheduler: None,
        schedflags: Vec::new(),
        method: Method::Masq,
        persistent: None,
        netmask: None,
        udp: false,
        ops: false,
        quiescent: false,
        delay_loop: 60.0,
        sorry: None,
        sorry_method: None,
        virtualhost: None,
        v6_fwmark: None,
    };
    let mut reals = Vec::new();
    let mut sctp = false;
    let mut alert = None;
    for c in s.children() {
        match c.key() {
            "lb_algo" | "lvs_sched" => match cx.one(c) {
                Some(v) if crate::config::ldirectord::SCHEDULERS.contains(&v) => {
                    set.scheduler = Some(v.to_string())
                }
                Some(v) => cx.error(c.loc, format!("{}: invalid scheduler {v:?}", c.key())),
                None => {}
            },
            "lb_kind" | "lvs_method" => {
                if let Some(m) = method(cx, c) {
                    set.method = m;
                }
            }
            "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" => set.schedflags.push(c.key().to_string()),
            "ops" => set.ops = true,
            "persistence_timeout" => match c.args() {
                [] => set.persistent = Some(360),
                _ => {
                    let max = crate::config::ldirectord::MAX_PERSISTENT;
                    set.persistent = cx.number(c).filter(|n| {
                        let fits = (1..=max).contains(n);
                        if !fits {
                            cx.error(
                                c.loc,
                                format!("persistence_timeout {n}: out of range 1..{max}"),
                            );
                        }
                        fits
                    });
                }
            },
            "persistence_granularity" => set.netmask = cx.word(c).map(str::to_string),
            "protocol" => match cx.one(c) {
                Some("TCP") => set.udp = false,
                Some("UDP") => set.udp = true,
                Some("SCTP") => sctp = true,
                Some(p) => cx.error(c.loc, format!("protocol must be TCP, UDP or SCTP, not {p}")),
                None => {}
            },
            "delay_loop" => {
                if let Some(d) = cx.seconds(c) {
                    set.delay_loop = d;
                }
            }
            "sorry_server" => match c.args() {
                [ip] | [ip, _] => match ip.parse::<IpAddr>() {
                    Ok(addr) => {
                        let p = c.args().get(1).and_then(|p| port(cx, c.loc, p));
                        set.sorry = Some((addr, p));
                    }
                    Err(_) => cx.error(c.loc, format!("sorry_server: invalid address {ip}")),
                },
                _ => cx.error(c.loc, "sorry_server takes an address and a port"),
            },
            "sorry_server_lvs_method" => set.sorry_method = method(cx, c),
            "inhibit_on_failure" => {
                set.quiescent = !matches!(c.args(), [v] if v == "false" || v == "no" || v == "off")
            }
            "virtualhost" => set.virtualhost = cx.word(c).map(str::to_string),
            "ip_family" => match cx.one(c) {
                Some("inet6") => set.v6_fwmark = Some(true),
                Some("inet") => set.v6_fwmark = Some(false),
                Some(f) => cx.error(c.loc, format!("ip_family must be inet or inet6, not {f}")),
                None => {}
            },
            "smtp_alert" => {
                alert = Some(flag(c));
                cx.note(
                    c.loc,
                    "smtp_alert: ldirectord mails each real server added, removed or quiesced \
                     (keepalived: each checker's failure and recovery, and quorum changes)",
                );
            }
            "ha_suspend" => cx.note(
                c.loc,
                "ha_suspend: the ldirectord resource runs only on the node that holds its group, \
                 so checks are suspended on the other node",
            ),
            "quorum" => {
                if cx.number::<u32>(c).is_some_and(|q| q != 1) {
                    cx.unsupported(
                        c,
                        &context,
                        "ldirectord brings the fallback in when no real server is up (quorum 1)",
                    );
                }
            }
            "hysteresis" => {
                if cx.number::<u32>(c).is_some_and(|h| h != 0) {
                    cx.unsupported(c, &context, "no hysteresis in ldirectord");
                }
            }
            "alpha" => cx.note(
                c.loc,
                "alpha: director adds a real server once its first check passes (as alpha does)",
            ),
            "real_server" => {
                if let Some(r) = real_server(cx, c) {
                    reals.push(r);
                }
            }
            _ => cx.unsupported(c, &context, ""),
        }
    }
    if sctp {
        cx.not_carried(
            s.loc,
            format!("{context}: protocol SCTP (ldirectord knows tcp and udp)"),
        );
        return Vec::new();
    }
    if reals.is_empty() {
        // keepalived 2.2.7: "Virtual server ... has no real servers - ignoring".
        cx.note(
            s.loc,
            format!("{context} has no real_server: keepalived ignores it, and so does the import"),
        );
        return Vec::new();
    }
    for r in &mut reals {
        r.real.method = r.own_method.unwrap_or(set.method);
    }
    // keepalived: a firewall mark without ip_family takes its real servers' family when they
    // all have the same.
    if set.v6_fwmark.is_none() && reals.iter().all(|r| r.real.addr.is_ipv6()) {
        set.v6_fwmark = Some(true);
    }
    let addrs = vs_addresses(cx, s, groups, &set);
    if addrs.is_empty() {
        return Vec::new();
    }
    // ldirectord keeps a virtual service and its servers in one family.
    let v6 = |a: &VAddr| match a {
        VAddr::Ip(ip, _) => ip.is_ipv6(),
        VAddr::Fwmark { v6, .. } => *v6,
    };
    let mut refused = false;
    for a in &addrs {
        for r in reals.iter().filter(|r| r.real.addr.is_ipv6() != v6(a)) {
            cx.error(
                r.loc,
                "real_server of another address family than its virtual server (ldirectord keeps \
                 one family per virtual service)",
            );
            refused = true;
        }
        if set.sorry.is_some_and(|(ip, _)| ip.is_ipv6() != v6(a)) {
            cx.error(
                s.loc,
                "sorry_server of another address family than its virtual server",
            );
            refused = true;
        }
        // keepalived's persistence_granularity: a dotted netmask for IPv4, a prefix length
        // for IPv6 (what ldirectord's `netmask` takes for each family).
        if let Some(m) = &set.netmask {
            let fits = if v6(a) {
                m.parse::<u8>().is_ok_and(|n| (1..=128).contains(&n))
            } else {
                m.parse::<std::net::Ipv4Addr>().is_ok()
            };
            if !fits {
                cx.error(
                    s.loc,
                    format!(
                        "persistence_granularity {m}: {} is required",
                        if v6(a) {
                            "a prefix length between 1 and 128"
                        } else {
                            "a dotted netmask such as 255.255.255.0"
                        }
                    ),
                );
                refused = true;
            }
        }
        if refused {
            return Vec::new();
        }
    }
    let (check, checkport, timeout, failurecount, interval) = check_of(cx, &context, &reals, &set);
    let mut quiescent = set.quiescent;
    if let Some(r) = reals
        .iter()
        .find(|r| r.quiescent.is_some_and(|q| q != set.quiescent))
    {
        cx.not_carried(
            r.loc,
            "inhibit_on_failure differs from the other real servers: ldirectord's quiescent is \
             one setting per virtual service",
        );
        quiescent = quiescent || r.quiescent == Some(true);
    }
    let scheduler = set.scheduler.clone().unwrap_or_else(|| {
        cx.note(
            s.loc,
            format!("{context}: no lb_algo: wlc, keepalived's and ipvsadm's default"),
        );
        "wlc".to_string()
    });
    // A flag named for another scheduler is written as its bit (`flag-1`, `flag-2`): the
    // same bits keepalived gives the kernel, in a form ldirectord and ipvsadm take with any
    // scheduler.
    let flags: Vec<String> = set
        .schedflags
        .iter()
        .map(|f| match f.split_once('-') {
            Some((owner @ ("sh" | "mh"), kind)) if owner != scheduler => if kind == "fallback" {
                "flag-1"
            } else {
                "flag-2"
            }
            .to_string(),
            _ => f.clone(),
        })
        .collect();
    let fallback = set
        .sorry
        .map(|(ip, p)| (ip, p, set.sorry_method.unwrap_or(set.method)));
    addrs
        .into_iter()
        .map(|addr| Virtual {
            origin: origin.clone(),
            addr,
            udp: set.udp,
            scheduler: scheduler.clone(),
            schedflags: flags.clone(),
            persistent: set.persistent,
            netmask: set.netmask.clone(),
            ops: set.ops,
            quiescent,
            fallback,
            check: check.clone(),
            checkport,
            timeout,
            failurecount,
            checkinterval: interval,
            alert: alert.or(mail.checker_alert).or(mail.alert).unwrap_or(false),
            reals: reals.iter().map(|r| r.real.clone()).collect(),
        })
        .collect()
}

/// The addresses of a virtual_server line: one, or every member of its group.
fn vs_addresses(
    cx: &mut Ctx<'_>,
    s: &Stmt,
    groups: &BTreeMap<String, (Loc, Vec<Stmt>)>,
    set: &VsSettings,
) -> Vec<VAddr> {
    let persistent = set.persistent.is_some();
    match s.args() {
        [f, mark] if f == "fwmark" => match mark.parse::<u32>() {
            Ok(m) if m > 0 => vec![VAddr::Fwmark {
                mark: m,
                v6: set.v6_fwmark.unwrap_or(false),
            }],
            _ => {
                cx.error(s.loc, format!("invalid fwmark {mark}"));
                Vec::new()
            }
        },
        [g, name] if g == "group" => {
            let Some((_, members)) = groups.get(name) else {
                cx.error(s.loc, format!("no virtual_server_group {name}"));
                return Vec::new();
            };
            let mut out = Vec::new();
            for m in members {
                out.extend(group_member(cx, m, set));
            }
            out
        }
        [ip] | [ip, _] => {
            let Ok(addr) = ip.parse::<IpAddr>() else {
                cx.error(s.loc, format!("virtual_server: invalid address {ip}"));
                return Vec::new();
            };
            let p = match s.args().get(1) {
                Some(p) => match port(cx, s.loc, p) {
                    Some(p) => p,
                    None => return Vec::new(),
                },
                None if persistent => 0,
                None => {
                    cx.error(
                        s.loc,
                        "virtual_server: a port is needed unless the service is persistent",
                    );
                    return Vec::new();
                }
            };
            vec![VAddr::Ip(addr, p)]
        }
        _ => {
            cx.error(
                s.loc,
                "virtual_server takes ADDRESS [PORT], fwmark N or group NAME",
            );
            Vec::new()
        }
    }
}

/// One line of a virtual_server_group: `ADDR[-END|/PREFIX] [PORT]` or `fwmark N [inet|inet6]`.
fn group_member(cx: &mut Ctx<'_>, m: &Stmt, set: &VsSettings) -> Vec<VAddr> {
    if m.key() == "fwmark" {
        return match m.args() {
            [n] | [n, _] => match n.parse::<u32>() {
                Ok(mark) if mark > 0 => {
                    let v6 = match m.args().get(1).map(String::as_str) {
                        Some("inet6") => true,
                        Some("inet") | None => set.v6_fwmark.unwrap_or(false),
                        Some(f) => {
                            cx.error(
                                m.loc,
                                format!("fwmark family must be inet or inet6, not {f}"),
                            );
                            return Vec::new();
                        }
                    };
                    vec![VAddr::Fwmark { mark, v6 }]
                }
                _ => {
                    cx.error(m.loc, format!("invalid fwmark {n}"));
                    Vec::new()
                }
            },
            _ => {
                cx.error(m.loc, "fwmark takes a number");
                Vec::new()
            }
        };
    }
    let p = match m.args() {
        [] if set.persistent.is_some() => 0,
        [] => {
            cx.error(m.loc, "a port is needed unless the service is persistent");
            return Vec::new();
        }
        [p] => match port(cx, m.loc, p) {
            Some(p) => p,
            None => return Vec::new(),
        },
        _ => {
            cx.error(m.loc, "a group member is ADDRESS[-END] [PORT]");
            return Vec::new();
        }
    };
    match range(m.key()) {
        Ok(addrs) if addrs.len() as u32 <= MAX_RANGE => {
            addrs.into_iter().map(|a| VAddr::Ip(a, p)).collect()
        }
        Ok(addrs) => {
            cx.error(
                m.loc,
                format!(
                    "{}: {} addresses, more than {MAX_RANGE}",
                    m.key(),
                    addrs.len()
                ),
            );
            Vec::new()
        }
        Err(e) => {
            cx.error(m.loc, format!("{}: {e}", m.key()));
            Vec::new()
        }
    }
}

/// `A`, `A-LAST` (last part, or a whole address), `A/PREFIX`: the addresses, in order.
pub fn range(text: &str) -> Result<Vec<IpAddr>, String> {
    let limit = u128::from(MAX_RANGE) + 1;
    if let Some((a, prefix)) = text.split_once('/') {
        let ip: IpAddr = a.parse().map_err(|_| format!("invalid address {a}"))?;
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        let p: u32 = prefix
            .parse()
            .map_err(|_| format!("invalid prefix {prefix}"))?;
        if p > bits {
            return Err(format!("invalid prefix {prefix}"));
        }
        let host_bits = bits - p;
        let count: u128 = if host_bits >= 127 {
            u128::MAX
        } else {
            1u128 << host_bits
        };
        let start = num(ip) & !(count.wrapping_sub(1));
        return span(ip, start, count.min(limit));
    }
    let Some((a, last)) = text.split_once('-') else {
        return text
            .parse()
            .map(|ip| vec![ip])
            .map_err(|_| format!("invalid address {text}"));
    };
    let ip: IpAddr = a.parse().map_err(|_| format!("invalid address {a}"))?;
    let end: u128 = match last.parse::<IpAddr>() {
        Ok(e) if e.is_ipv4() == ip.is_ipv4() => num(e),
        Ok(_) => return Err("the ends of the range are of different families".into()),
        Err(_) => {
            // The last part only: a decimal byte (IPv4) or a hex group (IPv6).
            let (v, mask) = if ip.is_ipv4() {
                (
                    u128::from(
                        last.parse::<u8>()
                            .map_err(|_| format!("invalid range end {last}"))?,
                    ),
                    0xffu128,
                )
            } else {
                (
                    u128::from(
                        u16::from_str_radix(last, 16)
                            .map_err(|_| format!("invalid range end {last}"))?,
                    ),
                    0xffffu128,
                )
            };
            (num(ip) & !mask) | v
        }
    };
    let start = num(ip);
    if end < start {
        return Err("the range ends before it starts".into());
    }
    span(ip, start, (end - start + 1).min(limit))
}

fn num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn span(like: IpAddr, start: u128, count: u128) -> Result<Vec<IpAddr>, String> {
    (0..count)
        .map(|k| {
            let n = start.checked_add(k).ok_or("range overflows")?;
            Ok(match like {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(
                    u32::try_from(n).map_err(|_| "range overflows")?,
                )),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
            })
        })
        .collect()
}

fn real_server(cx: &mut Ctx<'_>, s: &Stmt) -> Option<RealServer> {
    let context = s.words.join(" ");
    let (addr, port_) = match s.args() {
        [ip] => (ip, None),
        [ip, p] => (ip, Some(p)),
        _ => {
            cx.error(s.loc, "real_server takes ADDRESS [PORT]");
            return None;
        }
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        cx.error(s.loc, format!("real_server: invalid address {addr}"));
        return None;
    };
    let port_ = match port_ {
        Some(p) => port(cx, s.loc, p)?,
        None => 0,
    };
    let mut r = RealServer {
        loc: s.loc,
        real: Real {
            addr,
            port: port_,
            method: Method::Masq,
            weight: 1,
            lower: 0,
            upper: 0,
        },
        quiescent: None,
        own_method: None,
        checkers: Vec::new(),
    };
    let mut own_method = None;
    let mut defaults = CheckerDefaults::default();
    for c in s.children() {
        match c.key() {
            "weight" => {
                if let Some(w) = cx.number::<u32>(c) {
                    r.real.weight = w;
                }
            }
            "lvs_method" => own_method = method(cx, c),
            "inhibit_on_failure" => {
                r.quiescent =
                    Some(!matches!(c.args(), [v] if v == "false" || v == "no" || v == "off"))
            }
            "uthreshold" => r.real.upper = cx.number(c).unwrap_or(0),
            "lthreshold" => r.real.lower = cx.number(c).unwrap_or(0),
            "connect_timeout" | "retry" | "nb_get_retry" | "delay_before_retry" | "delay_loop"
            | "virtualhost" | "warmup" => defaults.set(cx, c),
            "alpha" => cx.note(
                c.loc,
                "alpha: director adds a real server once its first check passes (as alpha does)",
            ),
            "HTTP_GET" | "SSL_GET" | "TCP_CHECK" | "SMTP_CHECK" | "DNS_CHECK" | "MISC_CHECK"
            | "PING_CHECK" => {
                if let Some(k) = checker(cx, c, &defaults) {
                    r.checkers.push(k);
                }
            }
            "notify_up" | "notify_down" => cx.unsupported(
                c,
                &context,
                "ldirectord runs no script when one real server changes state",
            ),
            k if k.ends_with("_CHECK") => cx.unsupported(
                c,
                &context,
                "ldirectord has no such check; a real server without a checker is always up",
            ),
            _ => cx.unsupported(c, &context, ""),
        }
    }
    r.own_method = own_method;
    Some(r)
}

#[derive(Default, Clone)]
struct CheckerDefaults {
    timeout: Option<f64>,
    retry: Option<u32>,
    delay_before_retry: Option<(Loc, f64)>,
    delay_loop: Option<f64>,
    virtualhost: Option<String>,
}

impl CheckerDefaults {
    fn set(&mut self, cx: &mut Ctx<'_>, c: &Stmt) {
        match c.key() {
            "connect_timeout" => self.timeout = cx.seconds(c).or(self.timeout),
            "retry" | "nb_get_retry" => self.retry = cx.number(c).or(self.retry),
            "delay_before_retry" => {
                if let Some(d) = cx.seconds(c) {
                    self.delay_before_retry = Some((c.loc, d));
                }
            }
            "delay_loop" => self.delay_loop = cx.seconds(c).or(self.delay_loop),
            "virtualhost" => self.virtualhost = cx.word(c).map(str::to_string),
            "warmup" => cx.note(c.loc, "warmup: director spreads the first checks itself"),
            _ => {}
        }
    }
}

fn checker(cx: &mut Ctx<'_>, s: &Stmt, inherited: &CheckerDefaults) -> Option<Checker> {
    let kind = s.key();
    let mut d = inherited.clone();
    let mut port_ = None;
    let mut urls: Vec<&Stmt> = Vec::new();
    let mut dns_type = "SOA".to_string();
    let mut dns_name = ".".to_string();
    let mut misc_path = None;
    let mut misc_timeout = None;
    for c in s.children() {
        match (kind, c.key()) {
            (
                _,
                "connect_timeout" | "retry" | "nb_get_retry" | "delay_before_retry" | "delay_loop"
                | "warmup",
            ) => d.set(cx, c),
            ("HTTP_GET" | "SSL_GET", "virtualhost") => d.set(cx, c),
            (_, "connect_port") => port_ = cx.one(c).and_then(|p| port(cx, c.loc, p)),
            ("HTTP_GET" | "SSL_GET", "url") => urls.push(c),
            ("DNS_CHECK", "type") => dns_type = cx.one(c).unwrap_or("SOA").to_string(),
            ("DNS_CHECK", "name") => dns_name = cx.word(c).unwrap_or(".").to_string(),
            ("MISC_CHECK", "misc_path") => misc_path = Some((c.loc, c.args().to_vec())),
            ("MISC_CHECK", "misc_timeout") => misc_timeout = cx.seconds(c),
            ("SMTP_CHECK", "helo_name") => cx.not_carried(
                c.loc,
                "helo_name in SMTP_CHECK (director's smtp check greets with its own host name)",
            ),
            _ => cx.unsupported(c, kind, ""),
        }
    }
    if let Some((loc, d)) = d.delay_before_retry {
        cx.not_carried(
            loc,
            format!(
                "delay_before_retry {d} in {kind}: ldirectord retries at the next checkinterval"
            ),
        );
    }
    let check = match kind {
        "HTTP_GET" | "SSL_GET" => {
            let mut request = None;
            for (k, u) in urls.iter().enumerate() {
                if k > 0 {
                    cx.not_carried(
                        u.loc,
                        format!("a second url in {kind}: ldirectord checks one request per virtual service"),
                    );
                    continue;
                }
                for c in u.children() {
                    match c.key() {
                        "path" => request = cx.word(c).map(str::to_string),
                        "status_code" => {
                            let codes = c.args().join(" ");
                            if codes != "200-299" {
                                cx.not_carried(
                                    c.loc,
                                    format!(
                                        "status_code {codes} in {kind}: director's http check \
                                         accepts any 2xx status (keepalived's default, 200-299)"
                                    ),
                                );
                            }
                        }
                        "digest" => cx.not_carried(
                            c.loc,
                            format!(
                                "digest {} in {kind}: director's http check compares no MD5 of the \
                                 page (a receive= pattern can match its content instead)",
                                c.args().join(" ")
                            ),
                        ),
                        "virtualhost" => d.virtualhost = cx.word(c).map(str::to_string),
                        _ => cx.unsupported(c, &format!("{kind} url"), ""),
                    }
                }
            }
            if kind == "SSL_GET" {
                cx.not_carried(
                    s.loc,
                    "SSL_GET accepts any certificate; ldirectord's https check verifies the chain \
                     to a system CA (director's tlsverify=no, which ldirectord does not read, \
                     restores keepalived's behaviour)",
                );
            }
            Check::Negotiate {
                service: if kind == "SSL_GET" { "https" } else { "http" },
                request,
                receive: None,
                virtualhost: d.virtualhost.clone(),
            }
        }
        "TCP_CHECK" => Check::Connect,
        "PING_CHECK" => Check::Ping,
        "SMTP_CHECK" => Check::Negotiate {
            service: "smtp",
            request: None,
            receive: None,
            virtualhost: None,
        },
        "DNS_CHECK" => {
            if dns_type == "A" {
                Check::Negotiate {
                    service: "dns",
                    request: Some(dns_name),
                    receive: Some(".".to_string()),
                    virtualhost: None,
                }
            } else {
                cx.not_carried(
                    s.loc,
                    format!(
                        "DNS_CHECK type {dns_type}: ldirectord's dns check asks for A records; a \
                         TCP connect check is used instead"
                    ),
                );
                Check::Connect
            }
        }
        "MISC_CHECK" => match misc_path {
            Some((_, words)) if words.len() == 1 && super::plain(&words[0]) => {
                cx.note(
                    s.loc,
                    "MISC_CHECK: ldirectord's external check appends the virtual and real \
                     addresses and ports as four arguments",
                );
                if let Some(t) = misc_timeout {
                    d.timeout = Some(t);
                }
                Check::External(words[0].clone())
            }
            Some((loc, words)) => {
                cx.not_carried(
                    loc,
                    format!(
                        "misc_path {}: ldirectord's checkcommand is a program without arguments; \
                         a TCP connect check is used instead (wrap the command in a script)",
                        words.join(" ")
                    ),
                );
                Check::Connect
            }
            None => {
                cx.error(s.loc, "MISC_CHECK without misc_path");
                return None;
            }
        },
        _ => return None,
    };
    let default_retry = match kind {
        "DNS_CHECK" => 3,
        "MISC_CHECK" => 0,
        _ => 1,
    };
    Some(Checker {
        loc: s.loc,
        check,
        port: port_,
        timeout: d.timeout.unwrap_or(5.0),
        retry: d.retry.unwrap_or(default_retry),
        delay_loop: d.delay_loop,
    })
}

type CheckOf = (Check, Option<u16>, u32, u32, u32);

/// The one check of a virtual service: the first checker of its real servers; whatever
/// differs from it is reported.
fn check_of(cx: &mut Ctx<'_>, context: &str, reals: &[RealServer], set: &VsSettings) -> CheckOf {
    let first = reals.iter().find_map(|r| r.checkers.first());
    let interval = whole(first.and_then(|c| c.delay_loop).unwrap_or(set.delay_loop));
    let Some(first) = first else {
        return (Check::On, None, 5, 1, whole(set.delay_loop));
    };
    for r in reals {
        match r.checkers.first() {
            None => cx.not_carried(
                r.loc,
                format!(
                    "{context}: this real server has no checker (always up in keepalived), the \
                     others have one; ldirectord checks every real server of a virtual service \
                     the same way"
                ),
            ),
            Some(c) if !same_check(c, first) => cx.not_carried(
                c.loc,
                format!(
                    "{context}: a checker that differs from the first one (line {}); ldirectord \
                     has one check per virtual service",
                    first.loc.line
                ),
            ),
            Some(_) => {}
        }
        for extra in r.checkers.iter().skip(1) {
            cx.not_carried(
                extra.loc,
                format!(
                    "{context}: a second checker for one real server (keepalived wants all to \
                     pass; director runs the first)"
                ),
            );
        }
    }
    (
        first.check.clone(),
        first.port,
        whole(first.timeout),
        first.retry + 1,
        interval,
    )
}

fn same_check(a: &Checker, b: &Checker) -> bool {
    a.check == b.check
        && a.port == b.port
        && a.timeout == b.timeout
        && a.retry == b.retry
        && a.delay_loop == b.delay_loop
}
