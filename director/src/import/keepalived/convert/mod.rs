//! The statement tree -> [`Model`], with a [`Note`] for every statement that has no
//! equivalent. Each block is walked with a `match` on its keywords whose last arm reports the
//! keyword as not carried over, so nothing is dropped without a line in the output.
//!
//! - `vrrp`: vrrp_instance, vrrp_sync_group -> the pair (ha.cf, authkeys, haresources)
//! - `track`: an instance's track_script / track_interface, notify and preempt_delay ->
//!   director.conf's `[track]`, `[[notify]]` and `[failback]`
//! - `lvs`: virtual_server(_group), real_server, checkers -> ldirectord blocks
//! - here: the walk over the file, global_defs (mail), and which file each block goes to
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
//! - track_script (its vrrp_script) and track_interface -> director.conf's `[track]`, one set
//!   for the node (keepalived's weight: its size; none, keepalived's FAULT: the most, 127);
//!   notify_master / _backup / _fault / _stop / notify -> a `[[notify]]` table for the group
//!   (`name` = the instance, so scripts see their VI_1); preempt_delay -> `[failback] hold`.
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

mod lvs;
mod track;
mod vrrp;

use std::collections::BTreeMap;

use super::model::*;
use super::parse::{Loc, Stmt, Tree};
use super::{Note, Options};

use lvs::virtual_server;
#[cfg(test)]
#[cfg(test)]
pub(super) use lvs::{range, MAX_RANGE};
use vrrp::pair;

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

    /// The one argument of `s` when it can stand in a generated file as one word: printable
    /// ASCII, no blank, no `"` or `#` (ldirectord would read either as the end of the
    /// value); otherwise an error.
    fn word<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        let v = self.one(s)?;
        if plain(v) {
            Some(v)
        } else {
            self.error(
                s.loc,
                format!("{}: {v:?} cannot be written to the generated files (blank, quote, # or an unprintable character)", s.key()),
            );
            None
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

/// Printable ASCII without blank, `"` or `#`: safe as one word in every generated file.
fn plain(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '#')
}

/// Whole seconds for ldirectord, which takes no fraction (rounded up, at least 1).
fn whole(secs: f64) -> u32 {
    (secs.ceil() as u32).max(1)
}

pub fn convert(tree: &Tree, options: &Options, notes: &mut Vec<Note>) -> Model {
    let mut cx = Ctx { tree, notes };
    let mut instances = Vec::new();
    let mut sync_groups = Vec::new();
    let mut scripts = Vec::new();
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
            "vrrp_script" => scripts.push(s),
            _ => cx.unsupported(s, "the file", ""),
        }
    }
    let pair = if instances.is_empty() {
        for g in sync_groups.iter().chain(&scripts) {
            cx.unsupported(g, "the file", "no vrrp_instance");
        }
        None
    } else {
        pair(&mut cx, &instances, &sync_groups, &scripts, options)
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
    // One IPVS service per address, protocol (or mark and family): ldirectord refuses a
    // second block for the same one.
    let mut seen: BTreeMap<String, Loc> = BTreeMap::new();
    for (loc, vs) in &mut virtuals {
        let mut keep = Vec::with_capacity(vs.len());
        for v in vs.drain(..) {
            let key = match v.addr {
                VAddr::Ip(ip, port) => format!("{} {ip} {port}", if v.udp { "UDP" } else { "TCP" }),
                VAddr::Fwmark { mark, v6 } => {
                    format!("fwmark {mark}{}", if v6 { " inet6" } else { "" })
                }
            };
            if let Some(first) = seen.get(&key) {
                if first != loc {
                    let line = first.line;
                    cx.error(
                        *loc,
                        format!("virtual_server {key} is already defined at line {line}"),
                    );
                } else {
                    // A group naming one service twice (or in two overlapping ranges).
                    cx.note(
                        *loc,
                        format!("{key} is in the virtual_server_group more than once: one service"),
                    );
                }
            } else {
                seen.insert(key, *loc);
                keep.push(v);
            }
        }
        *vs = keep;
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
                mail.from = cx.word(c).map(str::to_string);
                mail.stmts.push((c.loc, what));
            }
            "smtp_server" => {
                match c.args() {
                    [host] if !plain(host) => {
                        cx.error(c.loc, format!("smtp_server: invalid host {host:?}"))
                    }
                    [host] => mail.server = Some(host.clone()),
                    [host, _] if !plain(host) => {
                        cx.error(c.loc, format!("smtp_server: invalid host {host:?}"))
                    }
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
