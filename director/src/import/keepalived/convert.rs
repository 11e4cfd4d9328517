//! The statement tree -> [`Model`], with a [`Note`] for every statement that has no
//! equivalent. Each block is walked with a `match` on its keywords whose last arm reports the
//! keyword as not carried over, so nothing is dropped without a line in the output.
//!
//! The mapping, and why (keepalived 2.2.7's keepalived.conf(5), ldirectord 1.186):
//! - vrrp_instance -> one haresources group: its VIPs as `IPaddr2::IP/PREFIX/DEV` (keepalived
//!   adds a VIP without a prefix as /32, /128 for IPv6), preferred node = this node when
//!   `state MASTER` (or priority 255), else the peer; `nopreempt` -> `auto_failback off`;
//!   `advert_int` -> `keepalive`, and 4 × advert_int -> `deadtime` (keepalived's master-down
//!   interval, 3 × advert_int + (256 − priority) × advert_int / 256, is below it at any
//!   priority); `auth_pass` -> the sha1 key of authkeys (none: crc, which authenticates
//!   nothing, as keepalived without authentication); `unicast_peer` -> `ucast IFACE PEER`, multicast -> `bcast IFACE` (both
//!   stay on the link, as VRRP's 224.0.0.18 with TTL 255 does).
//! - virtual_server -> one `virtual=` block (a group: one per member, ranges expanded, as
//!   keepalived programs one IPVS service per member); lb_algo/lvs_sched -> scheduler,
//!   lb_kind/lvs_method -> the method of every real (keepalived's default NAT -> masq),
//!   persistence -> persistent/netmask, sorry_server -> fallback, inhibit_on_failure ->
//!   quiescent=yes, delay_loop -> checkinterval, retry -> failurecount = retry + 1,
//!   connect_timeout -> checktimeout/negotiatetimeout.
//! - one checker per virtual (ldirectord has one check per virtual service): HTTP_GET ->
//!   negotiate http (keepalived's default status 200-299 is ldirectord's "2xx"), SSL_GET ->
//!   https, TCP_CHECK -> connect, SMTP_CHECK -> smtp, DNS_CHECK type A -> dns with
//!   receive ".", PING_CHECK -> ping, MISC_CHECK without arguments -> external.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::*;
use super::parse::{Loc, Stmt, Tree};
use super::{Note, Options};

/// The most addresses one group range may expand to.
pub const MAX_RANGE: u32 = 1024;

struct Ctx<'a> {
    tree: &'a Tree,
    notes: &'a mut Vec<Note>,
}

impl Ctx<'_> {
    fn file(&self, loc: Loc) -> &str {
        &self.tree.files[loc.file]
    }

    fn not_carried(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::not_carried(&f, loc.line, message));
    }

    fn note(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::info(&f, loc.line, message));
    }

    fn error(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::error(&f, loc.line, message));
    }

    /// `what` followed by the statement as written.
    fn unsupported(&mut self, s: &Stmt, context: &str, why: &str) {
        let words = s.words.join(" ");
        let tail = if let Some(id) = s.key().strip_prefix('@') {
            format!(
                " (a line for `keepalived -i {}` only: write the configuration of this node \
                 without conditional lines, then import it)",
                id.trim_start_matches('^')
            )
        } else if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        self.not_carried(s.loc, format!("{words} in {context}{tail}"));
    }

    /// The one argument of `s`, or an error.
    fn one<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        match s.args() {
            [a] => Some(a),
            _ => {
                self.error(s.loc, format!("{} takes one value", s.key()));
                None
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, s: &Stmt) -> Option<T> {
        let v = self.one(s)?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(s.loc, format!("{}: invalid number {v}", s.key()));
                None
            }
        }
    }

    /// keepalived's time values: seconds, possibly with a fraction.
    fn seconds(&mut self, s: &Stmt) -> Option<f64> {
        let v = self.one(s)?;
        match v.parse::<f64>() {
            Ok(n) if (0.0..1e6).contains(&n) => Some(n),
            _ => {
                self.error(s.loc, format!("{}: invalid time {v}", s.key()));
                None
            }
        }
    }
}

/// Whole seconds for ldirectord, which takes no fraction (rounded up, at least 1).
fn whole(secs: f64) -> u32 {
    (secs.ceil() as u32).max(1)
}

pub fn convert(tree: &Tree, options: &Options, notes: &mut Vec<Note>) -> Model {
    let mut cx = Ctx { tree, notes };
    let mut instances = Vec::new();
    let mut sync_groups = Vec::new();
    let mut vs_groups: BTreeMap<String, (Loc, Vec<Stmt>)> = BTreeMap::new();
    let mut servers = Vec::new();
    let mut mail = Mail::default();
    for s in tree.stmts.iter().filter(|s| s.key() == "global_defs") {
        global_defs(&mut cx, s, &mut mail);
    }
    for s in &tree.stmts {
        match s.key() {
            "global_defs" => {}
            "vrrp_instance" => instances.push(s),
            "vrrp_sync_group" => sync_groups.push(s),
            "virtual_server_group" => match s.args() {
                [name] => {
                    vs_groups.insert(name.clone(), (s.loc, s.children().to_vec()));
                }
                _ => cx.error(s.loc, "virtual_server_group takes one name"),
            },
            "virtual_server" => servers.push(s),
            "vrrp_script" => cx.unsupported(
                s,
                "the file",
                "Heartbeat has no tracked scripts that change a node's priority",
            ),
            _ => cx.unsupported(s, "the file", ""),
        }
    }
    let pair = if instances.is_empty() {
        for g in &sync_groups {
            cx.unsupported(g, "the file", "no vrrp_instance");
        }
        None
    } else {
        pair(&mut cx, &instances, &sync_groups, options)
    };
    let mut virtuals: Vec<(Loc, Vec<Virtual>)> = Vec::new();
    for s in servers {
        let vs = virtual_server(&mut cx, s, &vs_groups, &mail);
        virtuals.push((s.loc, vs));
    }
    for (name, (loc, _)) in &vs_groups {
        let used = tree.stmts.iter().any(|s| {
            s.key() == "virtual_server" && matches!(s.args(), [g, n] if g == "group" && n == name)
        });
        if !used {
            cx.note(
                *loc,
                format!("virtual_server_group {name} is used by no virtual_server (keepalived ignores it too)"),
            );
        }
    }
    let alerting = virtuals.iter().any(|(_, vs)| vs.iter().any(|v| v.alert));
    let mut ldirectord = place(&mut cx, pair.as_ref(), virtuals);
    mail_settings(&mut cx, &mail, alerting, &mut ldirectord);
    Model { pair, ldirectord }
}

/// global_defs' mail settings (keepalived mails only where `smtp_alert` is on).
#[derive(Default)]
struct Mail {
    to: Vec<String>,
    from: Option<String>,
    server: Option<String>,
    /// A port of smtp_server other than 25.
    port: Option<(Loc, String)>,
    /// `smtp_alert`, `smtp_alert_checker` of global_defs.
    alert: Option<bool>,
    checker_alert: Option<bool>,
    /// Every mail statement, for a note when no mail is sent.
    stmts: Vec<(Loc, String)>,
}

/// `smtp_alert` / `smtp_alert_checker`: bare means on.
fn flag(c: &Stmt) -> bool {
    !matches!(c.args(), [v] if matches!(v.as_str(), "false" | "no" | "off" | "0"))
}

/// Puts the mail settings into the ldirectord files (`emailalert` per alerting virtual,
/// `emailalertfrom`, `smtp`), or says why they are unused.
fn mail_settings(cx: &mut Ctx<'_>, mail: &Mail, alerting: bool, files: &mut [LdFile]) {
    if !alerting || mail.to.is_empty() {
        let why = if alerting {
            "no notification_email: keepalived sends no mail either"
        } else {
            "no virtual_server has smtp_alert on: keepalived sends no checker mail either"
        };
        for (loc, what) in &mail.stmts {
            cx.note(*loc, format!("{what}: {why}"));
        }
        for f in files.iter_mut() {
            for v in &mut f.virtuals {
                v.alert = false;
            }
        }
        return;
    }
    if let Some((loc, port)) = &mail.port {
        cx.not_carried(
            *loc,
            format!("port {port} of smtp_server: ldirectord's smtp= is a host (port 25)"),
        );
    }
    for f in files.iter_mut() {
        if f.virtuals.iter().any(|v| v.alert) {
            f.emailalert = mail.to.clone();
            f.emailalertfrom = mail.from.clone();
            f.smtp = mail.server.clone();
        }
    }
}

fn global_defs(cx: &mut Ctx<'_>, s: &Stmt, mail: &mut Mail) {
    for c in s.children() {
        let what = c.words.join(" ");
        match c.key() {
            "router_id" => cx.note(
                c.loc,
                "router_id is not needed: Heartbeat names nodes by uname -n (ha.cf's node lines)",
            ),
            "notification_email" => {
                mail.to
                    .extend(c.children().iter().map(|m| m.key().to_string()));
                mail.stmts.push((c.loc, "notification_email".into()));
            }
            "notification_email_from" => {
                mail.from = cx.one(c).map(str::to_string);
                mail.stmts.push((c.loc, what));
            }
            "smtp_server" => {
                match c.args() {
                    [host] => mail.server = Some(host.clone()),
                    [host, port] => {
                        mail.server = Some(host.clone());
                        if port != "25" {
                            mail.port = Some((c.loc, port.clone()));
                        }
                    }
                    _ => cx.error(c.loc, "smtp_server takes a host and a port"),
                }
                mail.stmts.push((c.loc, what));
            }
            "smtp_connect_timeout" | "smtp_helo_name" => mail.stmts.push((c.loc, what)),
            "smtp_alert" => {
                mail.alert = Some(flag(c));
                mail.stmts.push((c.loc, what));
            }
            "smtp_alert_checker" => {
                mail.checker_alert = Some(flag(c));
                mail.stmts.push((c.loc, what));
            }
            _ => cx.unsupported(c, "global_defs", ""),
        }
    }
}

/// One vrrp_instance as read.
struct Instance {
    name: String,
    loc: Loc,
    master: bool,
    priority: u32,
    advert: f64,
    iface: Option<String>,
    preempt: bool,
    key: Option<String>,
    peers: Vec<IpAddr>,
    resources: Vec<String>,
    addresses: Vec<IpAddr>,
    notify: Notify,
}

/// `notify_master` / `notify_backup` / `notify` of an instance (`kind` INSTANCE) or a sync
/// group (GROUP) into `n`; `notify_fault` and `notify_stop` have no Heartbeat event.
fn notify(
    cx: &mut Ctx<'_>,
    c: &Stmt,
    context: &str,
    kind: &str,
    name: &str,
    priority: u32,
    n: &mut Notify,
) {
    let words: Vec<String> = match c.args() {
        [cmd] => cmd.split_whitespace().map(str::to_string).collect(),
        [cmd, ..] => {
            cx.not_carried(
                c.loc,
                format!(
                    "the user and group of {} in {context}: the resource script runs it as root",
                    c.key()
                ),
            );
            cmd.split_whitespace().map(str::to_string).collect()
        }
        [] => Vec::new(),
    };
    if words.is_empty() {
        cx.error(c.loc, format!("{} needs a script", c.key()));
        return;
    }
    let origin = format!("{}:{}", cx.file(c.loc), c.loc.line);
    let with = |state: &str| {
        let mut w = words.clone();
        w.extend([
            kind.to_string(),
            name.to_string(),
            state.to_string(),
            priority.to_string(),
        ]);
        w
    };
    match c.key() {
        "notify_master" => n.start.push(words.clone()),
        "notify_backup" => n.stop.push(words.clone()),
        "notify" => {
            n.start.push(with("MASTER"));
            n.stop.push(with("BACKUP"));
        }
        "notify_fault" => {
            cx.unsupported(c, context, "Heartbeat has no fault state");
            return;
        }
        _ => {
            cx.unsupported(
                c,
                context,
                "run when keepalived stops; the resource script runs notify_backup when the group is released",
            );
            return;
        }
    }
    n.origins.push(origin);
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
        notify: Notify::default(),
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
            "interface" => i.iface = cx.one(c).map(str::to_string),
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
                        "auth_pass" => i.key = cx.one(a).map(str::to_string),
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
            "track_script" | "track_interface" | "track_process" | "track_file" | "track_bfd" => cx
                .unsupported(
                    c,
                    &context,
                    "Heartbeat has no tracking that lowers a node's priority; director's \
                     [monitor] in director.conf watches the resources of a held group instead",
                ),
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                notifies.push(c)
            }
            _ => cx.unsupported(c, &context, ""),
        }
    }
    // After the loop: `notify` passes the final priority.
    let mut n = Notify::default();
    for c in notifies {
        notify(cx, c, &context, "INSTANCE", &i.name, i.priority, &mut n);
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
            ("dev", Some(d)) => dev = Some(d.clone()),
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

fn pair(cx: &mut Ctx<'_>, stmts: &[&Stmt], syncs: &[&Stmt], options: &Options) -> Option<Pair> {
    let instances: Vec<Instance> = stmts.iter().map(|s| instance(cx, s)).collect();
    let Some(peer) = options.peer.clone() else {
        cx.error(
            stmts[0].loc,
            "vrrp_instance: keepalived.conf does not name the other node: give its name (uname -n \
             there) with --peer NAME",
        );
        return None;
    };
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
        let mut group_notify = Notify::default();
        let context = format!("vrrp_sync_group {name}");
        for c in g.children() {
            match c.key() {
                "group" => {
                    members.extend(c.children().iter().map(|m| (m.loc, m.key().to_string())))
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    // keepalived passes no meaningful priority for a group: 0.
                    notify(cx, c, &context, "GROUP", &name, 0, &mut group_notify)
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
                        notify: group_notify.clone(),
                    });
                    if let Some(gr) = &mut group {
                        gr.notify.extend(&i.notify);
                    }
                }
                Some(gr) => {
                    gr.resources.extend(i.resources.iter().cloned());
                    gr.addresses.extend(i.addresses.iter().copied());
                    gr.notify.extend(&i.notify);
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
            notify: i.notify.clone(),
        });
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
    })
}

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
    v6_fwmark: bool,
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

fn virtual_server(
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
        v6_fwmark: false,
    };
    let mut reals = Vec::new();
    let mut sctp = false;
    let mut alert = None;
    for c in s.children() {
        match c.key() {
            "lb_algo" | "lvs_sched" => set.scheduler = cx.one(c).map(str::to_string),
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
                _ => set.persistent = cx.number(c),
            },
            "persistence_granularity" => set.netmask = cx.one(c).map(str::to_string),
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
            "virtualhost" => set.virtualhost = cx.one(c).map(str::to_string),
            "ip_family" => match cx.one(c) {
                Some("inet6") => set.v6_fwmark = true,
                Some("inet") => set.v6_fwmark = false,
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
    let addrs = vs_addresses(cx, s, groups, &set);
    if addrs.is_empty() {
        return Vec::new();
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
            schedflags: set.schedflags.clone(),
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
                v6: set.v6_fwmark,
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
                        Some("inet") | None => set.v6_fwmark,
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
            "virtualhost" => self.virtualhost = cx.one(c).map(str::to_string),
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
            ("DNS_CHECK", "name") => dns_name = cx.one(c).unwrap_or(".").to_string(),
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
                        "path" => request = cx.one(c).map(str::to_string),
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
                        "virtualhost" => d.virtualhost = cx.one(c).map(str::to_string),
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
            Some((_, words)) if words.len() == 1 && !words[0].contains(char::is_whitespace) => {
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

/// Puts the virtual services into ldirectord files: one per group, by VIP (fwmark services
/// and addresses that are no VIP go with the first group), or one file without a pair.
fn place(cx: &mut Ctx<'_>, pair: Option<&Pair>, virtuals: Vec<(Loc, Vec<Virtual>)>) -> Vec<LdFile> {
    let groups = pair.map(|p| p.groups.as_slice()).unwrap_or(&[]);
    let mut files: Vec<LdFile> = Vec::new();
    let mut by_group: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    for (loc, vs) in virtuals {
        for v in vs {
            let group = if groups.is_empty() {
                None
            } else {
                let found = match v.addr {
                    VAddr::Ip(ip, _) => groups.iter().position(|g| g.addresses.contains(&ip)),
                    VAddr::Fwmark { .. } => None,
                };
                if found.is_none() {
                    let what = match v.addr {
                        VAddr::Ip(ip, _) => format!("{ip} is no virtual_ipaddress"),
                        VAddr::Fwmark { mark, .. } => format!("fwmark {mark} has no address"),
                    };
                    cx.note(
                        loc,
                        format!(
                            "{what}: its virtual service runs with the group of {}",
                            groups[0].name
                        ),
                    );
                }
                Some(found.unwrap_or(0))
            };
            let index = *by_group.entry(group).or_insert_with(|| {
                files.push(LdFile {
                    name: String::new(),
                    group,
                    checkinterval: v.checkinterval,
                    fork: false,
                    emailalert: Vec::new(),
                    emailalertfrom: None,
                    smtp: None,
                    virtuals: Vec::new(),
                });
                files.len() - 1
            });
            files[index].virtuals.push(v);
        }
    }
    let single = files.len() == 1;
    for f in &mut files {
        f.name = match (single, f.group) {
            (false, Some(g)) => format!("ldirectord-{}.cf", file_word(&groups[g].name)),
            _ => "ldirectord.cf".to_string(),
        };
        f.fork = f
            .virtuals
            .iter()
            .any(|v| v.checkinterval != f.checkinterval);
    }
    files
}

/// A name safe in a file name and a haresources token.
fn file_word(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
