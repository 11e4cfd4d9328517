//! The addresses of a virtual_server: its own, a virtual_server_group's members, ranges.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::super::model::*;
use super::super::super::parse::{Loc, Stmt};
use super::super::ctx::Ctx;
use super::virtual_server::{port, VsSettings};

/// The most addresses one group range may expand to.
pub const MAX_RANGE: u32 = 1024;

/// The addresses of a virtual_server line: one, or every member of its group.
pub(super) fn vs_addresses(
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
                Some(p) => match service_port(cx, s.loc, p, persistent) {
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
        [p] => match service_port(cx, m.loc, p, set.persistent.is_some()) {
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

/// The port of a virtual service: 0 only for a persistent one (ipvsadm and the kernel refuse
/// "Zero port specified for non-persistent service"; keepalived's add fails the same way).
fn service_port(cx: &mut Ctx<'_>, loc: Loc, text: &str, persistent: bool) -> Option<u16> {
    let p = port(cx, loc, text)?;
    if p == 0 && !persistent {
        cx.error(
            loc,
            "port 0 is only allowed for a persistent service (persistence_timeout)",
        );
        return None;
    }
    Some(p)
}
