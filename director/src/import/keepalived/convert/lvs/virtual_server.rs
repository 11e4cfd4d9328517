//! A virtual_server block -> ldirectord virtual services: its settings, its real servers and
//! their checkers as read, the quorum keys.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::super::super::model::{Check, Method, Quorum, Real, VAddr, Virtual};
use super::super::super::parse::{Loc, Stmt};
use super::super::ctx::Ctx;
use super::super::mail::{flag, Mail};
use super::addresses::vs_addresses;
use super::checks::{check_of, further_of, real_server};
use failover::config::settings::{Checksum, Tunnel};

/// Settings of a virtual_server block (and the defaults its real servers inherit).
#[derive(Clone)]
pub(super) struct VsSettings {
    pub(super) scheduler: Option<String>,
    pub(super) schedflags: Vec<String>,
    pub(super) method: Method,
    /// The tunnel of `lb_kind TUN type gue ...`.
    pub(super) tunnel: Option<Tunnel>,
    pub(super) persistent: Option<u32>,
    pub(super) netmask: Option<String>,
    pub(super) udp: bool,
    pub(super) ops: bool,
    pub(super) quiescent: bool,
    pub(super) delay_loop: f64,
    pub(super) sorry: Option<(IpAddr, Option<u16>)>,
    pub(super) sorry_method: Option<Method>,
    pub(super) virtualhost: Option<String>,
    /// `ip_family inet6` for firewall marks (`None`: not written).
    pub(super) v6_fwmark: Option<bool>,
}

/// A checker as read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Checker {
    pub(super) loc: Loc,
    pub(super) check: Check,
    pub(super) port: Option<u16>,
    pub(super) timeout: f64,
    pub(super) retry: u32,
    pub(super) delay_loop: Option<f64>,
}

/// A real_server as read.
pub(super) struct RealServer {
    pub(super) loc: Loc,
    pub(super) real: Real,
    pub(super) quiescent: Option<bool>,
    /// `lvs_method` of the real server, with its tunnel (else the virtual server's).
    pub(super) own_method: Option<(Method, Option<Tunnel>)>,
    pub(super) checkers: Vec<Checker>,
}

/// `lb_kind` / `lvs_method`: the forwarding method and, for `TUN type gue port N [nocsum |
/// csum | remcsum]`, the tunnel `director.conf`'s `[service.tunnel]` carries.
pub(super) fn method(cx: &mut Ctx<'_>, s: &Stmt) -> Option<(Method, Option<Tunnel>)> {
    match s.args() {
        [m] if m == "NAT" => Some((Method::Masq, None)),
        [m] if m == "DR" => Some((Method::Gate, None)),
        [m] if m == "TUN" => Some((Method::Ipip, None)),
        [m, t, k] if m == "TUN" && t == "type" && k == "ipip" => Some((Method::Ipip, None)),
        [m, t, k, p, n, rest @ ..]
            if m == "TUN" && t == "type" && k == "gue" && p == "port" && rest.len() <= 1 =>
        {
            let checksum = match rest.first().map(String::as_str) {
                None | Some("nocsum") => Some(Checksum::Nocsum),
                Some("csum") => Some(Checksum::Csum),
                Some("remcsum") => Some(Checksum::Remcsum),
                Some(_) => None,
            };
            match (n.parse::<u16>().ok().filter(|n| *n > 0), checksum) {
                (Some(port), Some(checksum)) => {
                    Some((Method::Ipip, Some(Tunnel::Gue { port, checksum })))
                }
                _ => {
                    cx.error(
                        s.loc,
                        format!(
                            "{}: expected TUN type gue port 1-65535 [nocsum|csum|remcsum]",
                            s.words.join(" ")
                        ),
                    );
                    None
                }
            }
        }
        [m, ..] if m == "TUN" => {
            cx.not_carried(
                s.loc,
                format!(
                    "{}: director carries TUN's type ipip and gue (director.conf \
                     [service.tunnel]), not this one (ipip is used)",
                    s.words.join(" ")
                ),
            );
            Some((Method::Ipip, None))
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

/// The tunnel of the service's ipip real servers: director.conf sets one per virtual
/// service, so real servers that differ are said not carried (the first one's is used).
fn tunnel_of(cx: &mut Ctx<'_>, reals: &[RealServer], set: &VsSettings) -> Option<Tunnel> {
    let mut ipip = reals
        .iter()
        .filter(|r| r.real.method == Method::Ipip)
        .map(|r| (r.loc, r.own_method.map_or(set.tunnel, |(_, t)| t)));
    let (_, first) = ipip.next()?;
    if let Some((loc, _)) = ipip.find(|(_, t)| *t != first) {
        cx.not_carried(
            loc,
            "its tunnel differs from the virtual server's other TUN real servers: director.conf \
             sets one tunnel per virtual service (the first real server's is used)",
        );
    }
    first
}

/// The quorum keys of a virtual_server as read, with their lines.
#[derive(Default)]
pub(super) struct QuorumKeys {
    pub(super) quorum: Option<(Loc, u32)>,
    pub(super) hysteresis: Option<(Loc, u32)>,
    pub(super) up: Option<(Loc, Vec<String>)>,
    pub(super) down: Option<(Loc, Vec<String>)>,
}

impl QuorumKeys {
    /// What director.conf needs: nothing when ldirectord's own rule does the same (quorum 1,
    /// hysteresis 0, no script, no up real of weight 0 that keepalived would not count).
    pub(super) fn into_quorum(self, cx: &Ctx<'_>, zero_weight: bool) -> Option<Quorum> {
        let quorum = self.quorum.map_or(1, |(_, q)| q);
        let hysteresis = self.hysteresis.map_or(0, |(_, h)| h);
        let needed = quorum != 1
            || hysteresis != 0
            || self.up.is_some()
            || self.down.is_some()
            || zero_weight;
        let loc = [
            self.quorum.map(|q| q.0),
            self.hysteresis.map(|h| h.0),
            self.up.as_ref().map(|u| u.0),
            self.down.as_ref().map(|d| d.0),
        ]
        .into_iter()
        .flatten()
        .next();
        needed.then(|| Quorum {
            origin: loc.map_or_else(String::new, |l| format!("{}:{}", cx.file(l), l.line)),
            quorum,
            hysteresis,
            up: self.up.map(|(_, w)| w),
            down: self.down.map(|(_, w)| w),
        })
    }
}

/// `quorum_up` / `quorum_down SCRIPT [USER [GROUP]]`: the script's words (keepalived runs it
/// without a shell); a user and group are reported, director runs it as root.
pub(super) fn script(cx: &mut Ctx<'_>, c: &Stmt, context: &str) -> Option<Vec<String>> {
    let Some((cmd, user_group)) = c.args().split_first() else {
        cx.error(c.loc, format!("{} needs a script", c.key()));
        return None;
    };
    if !user_group.is_empty() {
        let key = c.key();
        cx.not_carried(
            c.loc,
            format!("the user and group of {key} in {context}: director runs it as root"),
        );
    }
    let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    (!words.is_empty()).then_some(words).or_else(|| {
        cx.error(c.loc, format!("{} needs a script", c.key()));
        None
    })
}

pub(super) fn port(cx: &mut Ctx<'_>, loc: Loc, text: &str) -> Option<u16> {
    match text.parse::<u16>() {
        Ok(p) => Some(p),
        Err(_) => {
            cx.error(loc, format!("invalid port {text}"));
            None
        }
    }
}

pub(crate) fn virtual_server(
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
        tunnel: None,
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
    let mut quorum = QuorumKeys::default();
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
                if let Some((m, t)) = method(cx, c) {
                    set.method = m;
                    set.tunnel = t;
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
            "sorry_server_lvs_method" => set.sorry_method = method(cx, c).map(|(m, _)| m),
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
                if let Some(q) = cx.number::<u32>(c) {
                    if q == 0 {
                        cx.error(c.loc, "quorum must be at least 1");
                    } else {
                        quorum.quorum = Some((c.loc, q));
                    }
                }
            }
            "hysteresis" => {
                if let Some(h) = cx.number::<u32>(c) {
                    quorum.hysteresis = Some((c.loc, h));
                }
            }
            "quorum_up" | "quorum_down" => {
                let words = script(cx, c, &context);
                if c.key() == "quorum_up" {
                    quorum.up = words.map(|w| (c.loc, w));
                } else {
                    quorum.down = words.map(|w| (c.loc, w));
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
        r.real.method = r.own_method.map_or(set.method, |(m, _)| m);
    }
    let tunnel = tunnel_of(cx, &reals, &set);
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
    let further = further_of(cx, &context, &reals);
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
    // keepalived's quorum counts weights: with its default (1) a weight-0 real that is up
    // leaves the service on its sorry server, where ldirectord's rule would count it as up.
    let zero_weight = fallback.is_some() && reals.iter().any(|r| r.real.weight == 0);
    let quorum = quorum.into_quorum(cx, zero_weight);
    if addrs.len() > 1
        && quorum
            .as_ref()
            .is_some_and(|q| q.up.is_some() || q.down.is_some())
    {
        cx.note(
            s.loc,
            format!(
                "{context}: each of the {} services of the group has its quorum, decided \
                 alike from the same real servers: quorum_up and quorum_down run once per \
                 service (keepalived: once for the group)",
                addrs.len()
            ),
        );
    }
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
            quorum: quorum.clone(),
            further: further.clone(),
            tunnel,
        })
        .collect()
}
