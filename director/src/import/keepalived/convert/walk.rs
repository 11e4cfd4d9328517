//! The walk over the file: each top-level statement to its converter, the virtual services
//! checked for doubles, and the mail settings applied.

use std::collections::BTreeMap;

use super::super::model::{Model, VAddr, Virtual};
use super::super::parse::{Loc, Stmt, Tree};
use super::super::{Note, Options};
use super::ctx::Ctx;
use super::lvs::virtual_server;
use super::mail::{global_defs, mail_settings, Mail};
use super::place::place;
use super::vrrp::pair;

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
