//! vrrp_instance and vrrp_sync_group -> the pair: ha.cf, authkeys, haresources groups.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::super::model::{Group, Medium, NotifyTable, Pair};
use super::super::parse::{Loc, Stmt};
use super::super::Options;
use super::ctx::Ctx;
use super::track::{failback_hold, notify, track_refs, tracks, TrackRef};

/// One vrrp_instance as read.
pub(super) struct Instance {
    pub(super) name: String,
    pub(super) loc: Loc,
    master: bool,
    priority: u32,
    advert: f64,
    iface: Option<String>,
    preempt: bool,
    key: Option<String>,
    peers: Vec<IpAddr>,
    resources: Vec<String>,
    addresses: Vec<IpAddr>,
    notify: NotifyTable,
    /// track_script / track_interface entries.
    pub(super) tracks: Vec<TrackRef>,
    /// preempt_delay, seconds.
    pub(super) preempt_delay: Option<(Loc, f64)>,
}

fn instance(cx: &mut Ctx<'_>, s: &Stmt) -> Instance {
    let name = s.args().first().cloned().unwrap_or_default();
    let context = format!("vrrp_instance {name}");
    let mut i = Instance {
        name,
        loc: s.loc,
        master: false,
        priority: 100,
        advert: 1.0,
        iface: None,
        preempt: true,
        key: None,
        peers: Vec::new(),
        resources: Vec::new(),
        addresses: Vec::new(),
        notify: NotifyTable::default(),
        tracks: Vec::new(),
        preempt_delay: None,
    };
    let mut vips = Vec::new();
    let mut notifies = Vec::new();
    for c in s.children() {
        match c.key() {
            "state" => match cx.one(c) {
                Some("MASTER") => i.master = true,
                Some("BACKUP") => i.master = false,
                Some(v) => cx.error(c.loc, format!("state must be MASTER or BACKUP, not {v}")),
                None => {}
            },
            "interface" => match cx.one(c) {
                Some(name) if iface_name(name) => i.iface = Some(name.to_string()),
                Some(name) => cx.error(c.loc, format!("interface: invalid interface name {name:?}")),
                None => {}
            },
            "priority" => {
                if let Some(p) = cx.number::<u32>(c) {
                    if (1..=255).contains(&p) {
                        i.priority = p;
                    } else {
                        cx.error(c.loc, format!("priority {p} is not in 1..255"));
                    }
                }
            }
            "advert_int" => {
                if let Some(a) = cx.seconds(c) {
                    if a > 0.0 {
                        i.advert = a;
                    } else {
                        cx.error(c.loc, "advert_int must be above 0");
                    }
                }
            }
            "nopreempt" => i.preempt = false,
            "preempt" => i.preempt = true,
            "virtual_router_id" => cx.note(
                c.loc,
                format!(
                    "virtual_router_id in {context} is not needed: Heartbeat tells pairs apart by \
                     their authkeys and udpport"
                ),
            ),
            "authentication" => {
                let mut kind = None;
                for a in c.children() {
                    match a.key() {
                        "auth_type" => kind = cx.one(a).map(str::to_string),
                        "auth_pass" => i.key = cx.word(a).map(str::to_string),
                        _ => cx.unsupported(a, &format!("{context} authentication"), ""),
                    }
                }
                if kind.as_deref() == Some("AH") {
                    cx.note(
                        c.loc,
                        "auth_type AH: the pass becomes an HMAC-SHA1 key in authkeys (Heartbeat \
                         signs every packet with it)",
                    );
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => vips.extend(c.children()),
            "unicast_peer" => {
                for p in c.children() {
                    match p.key().parse::<IpAddr>() {
                        Ok(ip) if p.args().is_empty() => i.peers.push(ip),
                        Ok(_) => cx.unsupported(
                            p,
                            &format!("{context} unicast_peer"),
                            "options of a peer",
                        ),
                        Err(_) => {
                            cx.error(p.loc, format!("unicast_peer: invalid address {}", p.key()))
                        }
                    }
                }
            }
            "unicast_src_ip" => match cx.one(c).map(str::parse::<IpAddr>) {
                Some(Ok(ip)) => i.peers.push(ip),
                Some(Err(_)) => cx.error(c.loc, "unicast_src_ip: invalid address"),
                None => {}
            },
            "mcast_src_ip" => cx.note(
                c.loc,
                format!("mcast_src_ip in {context}: Heartbeat broadcasts from the interface's own address"),
            ),
            "track_script" | "track_interface" => track_refs(cx, c, &context, &mut i.tracks),
            "track_process" | "track_file" | "track_bfd" => cx.unsupported(
                c,
                &context,
                "director.conf's [track] has scripts and interfaces: a track script can test \
                 the same thing",
            ),
            "preempt_delay" => {
                if let Some(d) = cx.seconds(c) {
                    i.preempt_delay = Some((c.loc, d));
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                notifies.push(c)
            }
            _ => cx.unsupported(c, &context, ""),
        }
    }
    let mut n = NotifyTable {
        name: i.name.clone(),
        origin: format!("{}:{}", cx.file(s.loc), s.loc.line),
        ..NotifyTable::default()
    };
    for c in notifies {
        notify(cx, c, &context, "INSTANCE", &mut n);
    }
    i.notify = n;
    let iface = i.iface.clone();
    for v in vips {
        vip(cx, v, iface.as_deref(), &context, &mut i);
    }
    if i.priority == 255 {
        i.master = true;
    }
    i
}

/// One line of virtual_ipaddress: `ADDR[/PREFIX] [dev IF] [label L] ...`.
fn vip(cx: &mut Ctx<'_>, s: &Stmt, iface: Option<&str>, context: &str, i: &mut Instance) {
    let (addr, prefix) = match s.key().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.key(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        cx.error(
            s.loc,
            format!("virtual_ipaddress: invalid address {}", s.key()),
        );
        return;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix.map(str::parse::<u8>) {
        None => max,
        Some(Ok(p)) if p <= max => p,
        Some(_) => {
            cx.error(
                s.loc,
                format!("virtual_ipaddress: invalid prefix in {}", s.key()),
            );
            return;
        }
    };
    let mut dev = iface.map(str::to_string);
    let mut brd = None;
    let mut args = s.args().iter();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("dev", Some(d)) if iface_name(d) => dev = Some(d.clone()),
            ("dev", Some(d)) => cx.error(s.loc, format!("dev: invalid interface name {d:?}")),
            ("brd" | "broadcast", Some(b)) if ip.is_ipv4() => match b.parse::<Ipv4Addr>() {
                Ok(b) => brd = Some(b),
                Err(_) => cx.error(s.loc, format!("virtual_ipaddress: invalid broadcast {b}")),
            },
            ("label", Some(l)) => cx.not_carried(
                s.loc,
                format!(
                    "label {l} of {} in {context} (IPaddr2 adds the address without a label)",
                    s.key()
                ),
            ),
            (opt, value) => cx.not_carried(
                s.loc,
                format!(
                    "{opt} {} of {} in {context}",
                    value.map(String::as_str).unwrap_or(""),
                    s.key()
                ),
            ),
        }
    }
    let Some(dev) = dev else {
        cx.error(
            s.loc,
            format!(
                "{}: no interface (dev, or the instance's interface)",
                s.key()
            ),
        );
        return;
    };
    let resource = match ip {
        IpAddr::V4(v4) => match brd {
            Some(b) => format!("IPaddr2::{v4}/{prefix}/{dev}/{b}"),
            None => format!("IPaddr2::{v4}/{prefix}/{dev}"),
        },
        IpAddr::V6(v6) => format!("IPv6addr::{v6}/{prefix}/{dev}"),
    };
    if i.addresses.contains(&ip) {
        cx.note(
            s.loc,
            format!("{ip} is listed twice in {context}: one address, one resource"),
        );
        return;
    }
    i.resources.push(resource);
    i.addresses.push(ip);
}

pub(super) fn pair(
    cx: &mut Ctx<'_>,
    stmts: &[&Stmt],
    syncs: &[&Stmt],
    scripts: &[&Stmt],
    options: &Options,
) -> Option<Pair> {
    let instances: Vec<Instance> = stmts.iter().map(|s| instance(cx, s)).collect();
    let Some(peer) = options.peer.clone() else {
        cx.error(
            stmts[0].loc,
            "vrrp_instance: keepalived.conf does not name the other node: give its name (uname -n \
             there) with --peer NAME",
        );
        return None;
    };
    if peer == options.node {
        cx.error(
            stmts[0].loc,
            format!("vrrp_instance: the peer's name is this node's ({peer}): --peer names the other node"),
        );
        return None;
    }
    let mut sources = Vec::new();
    let first = &instances[0];
    // Timing: the fastest instance sets the pace.
    let advert = instances.iter().map(|i| i.advert).fold(f64::MAX, f64::min);
    let slow = instances.iter().find(|i| i.advert != advert);
    if let Some(i) = slow {
        cx.note(
            i.loc,
            format!(
                "vrrp_instance {}: advert_int {} s; ha.cf has one keepalive for every group: {} s",
                i.name, i.advert, advert
            ),
        );
    }
    let keepalive_ms = (advert * 1000.0).round() as u64;
    // keepalived's backup takes over after its master-down interval, 3 × advert_int plus a
    // skew of (256 − priority) × advert_int / 256: under 4 × advert_int at any priority. The
    // backup's priority is not in the master's file, and both ha.cf should agree: 4 × advert_int.
    let deadtime_ms = 4 * keepalive_ms;
    sources.push(format!(
        "keepalive: advert_int ({advert} s); deadtime: 4 × advert_int, the longest master-down \
         interval of keepalived (3 × advert_int + (256 − priority) × advert_int / 256)"
    ));
    // Media.
    let mut media = Vec::new();
    for i in &instances {
        let Some(iface) = &i.iface else {
            cx.error(i.loc, format!("vrrp_instance {}: no interface", i.name));
            continue;
        };
        // unicast_src_ip is listed too, so the two nodes' ha.cf are the same (Heartbeat
        // ignores what it hears from itself).
        if i.peers.is_empty() {
            media.push(Medium::Bcast(iface.clone()));
        } else {
            media.extend(i.peers.iter().map(|p| Medium::Ucast(iface.clone(), *p)));
        }
    }
    media.sort();
    media.dedup();
    // Failback.
    let auto_failback = first.preempt;
    for i in &instances[1..] {
        if i.preempt != auto_failback {
            cx.not_carried(
                i.loc,
                format!(
                    "vrrp_instance {}: {} while {} says the opposite: ha.cf's auto_failback is one \
                     setting for every group ({})",
                    i.name,
                    if i.preempt { "preempt" } else { "nopreempt" },
                    first.name,
                    if auto_failback { "on" } else { "off" }
                ),
            );
        }
    }
    // Signing.
    let key = first.key.clone();
    for i in &instances[1..] {
        if i.key != key {
            cx.not_carried(
                i.loc,
                format!(
                    "authentication of vrrp_instance {}: authkeys signs with one key, the one of {}",
                    i.name, first.name
                ),
            );
        }
    }
    if key.is_none() {
        cx.note(
            first.loc,
            "no authentication: authkeys uses crc, which authenticates nothing (as keepalived \
             without authentication); put the same sha1 key on both nodes",
        );
    }
    // Groups: a sync group's members share one haresources line.
    let mut member_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for g in syncs {
        let name = g.args().first().cloned().unwrap_or_default();
        let mut members = Vec::new();
        let mut group_notify = NotifyTable {
            name: name.clone(),
            origin: format!("{}:{}", cx.file(g.loc), g.loc.line),
            ..NotifyTable::default()
        };
        let context = format!("vrrp_sync_group {name}");
        for c in g.children() {
            match c.key() {
                "group" => {
                    members.extend(c.children().iter().map(|m| (m.loc, m.key().to_string())))
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    notify(cx, c, &context, "GROUP", &mut group_notify)
                }
                _ => cx.unsupported(c, &context, ""),
            }
        }
        let mut group: Option<Group> = None;
        for (loc, m) in members {
            let Some(i) = instances.iter().find(|i| i.name == m) else {
                cx.error(loc, format!("vrrp_sync_group {name}: no vrrp_instance {m}"));
                continue;
            };
            member_of.insert(m.clone(), groups.len());
            match &mut group {
                None => {
                    group = Some(Group {
                        name: name.clone(),
                        loc: g.loc,
                        local_preferred: i.master,
                        resources: i.resources.clone(),
                        addresses: i.addresses.clone(),
                        notify: [group_notify.clone(), i.notify.clone()]
                            .into_iter()
                            .filter(|n| !n.is_empty())
                            .collect(),
                    });
                }
                Some(gr) => {
                    gr.resources.extend(i.resources.iter().cloned());
                    gr.addresses.extend(i.addresses.iter().copied());
                    if !i.notify.is_empty() {
                        gr.notify.push(i.notify.clone());
                    }
                }
            }
        }
        groups.extend(group);
    }
    for i in &instances {
        if member_of.contains_key(&i.name) {
            continue;
        }
        groups.push(Group {
            name: i.name.clone(),
            loc: i.loc,
            local_preferred: i.master,
            resources: i.resources.clone(),
            addresses: i.addresses.clone(),
            notify: [i.notify.clone()]
                .into_iter()
                .filter(|n| !n.is_empty())
                .collect(),
        });
    }
    // haresources: a resource (a VIP) belongs to one group only.
    let mut holder: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for g in &groups {
        for a in &g.addresses {
            if let Some(first) = holder.insert(*a, &g.name) {
                cx.error(
                    g.loc,
                    format!("{}: {a} is already a VIP of {first} (haresources holds a resource in one group)", g.name),
                );
            }
        }
    }
    for g in &groups {
        let owner = if g.local_preferred {
            &options.node
        } else {
            &peer
        };
        cx.note(
            g.loc,
            format!(
                "{}: preferred node {owner} ({}); haresources must be the same on both nodes",
                g.name,
                if g.local_preferred {
                    "this file says state MASTER"
                } else {
                    "this file says state BACKUP: the peer's should say MASTER"
                }
            ),
        );
        if g.resources.is_empty() {
            cx.not_carried(
                g.loc,
                format!("{}: no virtual_ipaddress: an empty group", g.name),
            );
        }
    }
    let tracks = tracks(cx, &instances, scripts);
    let failback_hold = failback_hold(cx, &instances, auto_failback);
    Some(Pair {
        node: options.node.clone(),
        peer,
        keepalive_ms,
        deadtime_ms,
        media,
        auto_failback,
        key,
        groups,
        sources,
        tracks,
        failback_hold,
    })
}

/// A name Linux takes for an interface (`dev_valid_name`): 1 to 15 bytes, not `.` or `..`,
/// no `/`, `:` or blank (and nothing unprintable, which ha.cf could not hold either); and not
/// starting with a digit, which haresources' `IPaddr2::IP/CIDR/FIELD` reads as a broadcast.
pub(super) fn iface_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.len() < 16
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != ':')
}
