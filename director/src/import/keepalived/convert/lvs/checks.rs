//! real_server blocks and their checkers -> ldirectord's real lines and one check per
//! virtual service.

use std::net::IpAddr;

use super::super::super::model::*;
use super::super::super::parse::{Loc, Stmt};
use super::super::ctx::{whole, Ctx};
use super::virtual_server::{method, port, Checker, RealServer, VsSettings};

pub(super) fn real_server(cx: &mut Ctx<'_>, s: &Stmt) -> Option<RealServer> {
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
            let mut pages = Vec::new();
            for u in &urls {
                if let Some(p) = page(cx, u, kind, &mut d) {
                    pages.push(p);
                }
            }
            // ldirectord's request= holds the first path (what a rollback to ldirectord
            // checks); director.conf's pages say the rest whenever request= alone would not:
            // status codes, a digest, a second url.
            let request = pages.first().map(|p| p.path.clone());
            let plain = pages.len() == 1
                && pages
                    .iter()
                    .all(|p| p.digest.is_none() && p.status_code.is_none());
            if plain {
                pages.clear();
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
                pages,
            }
        }
        "TCP_CHECK" => Check::Connect,
        "PING_CHECK" => Check::Ping,
        "SMTP_CHECK" => Check::Negotiate {
            service: "smtp",
            request: None,
            receive: None,
            virtualhost: None,
            pages: Vec::new(),
        },
        "DNS_CHECK" => {
            if dns_type == "A" {
                Check::Negotiate {
                    service: "dns",
                    request: Some(dns_name),
                    receive: Some(".".to_string()),
                    virtualhost: None,
                    pages: Vec::new(),
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
            Some((_, words)) if words.len() == 1 && super::super::ctx::plain(&words[0]) => {
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

/// One url block: its path, status codes and digest (checked as director.conf will read
/// them); a `virtualhost` in it sets the checker's.
fn page(cx: &mut Ctx<'_>, u: &Stmt, kind: &str, d: &mut CheckerDefaults) -> Option<Page> {
    let mut path = None;
    let mut status_code = None;
    let mut digest = None;
    let mut fine = true;
    for c in u.children() {
        match c.key() {
            "path" => path = cx.word(c).map(str::to_string),
            "status_code" => {
                let codes = c.args().join(" ");
                match healthcheck::page::StatusCodes::parse(&codes) {
                    // keepalived's default needs no words.
                    Ok(s) if s == healthcheck::page::StatusCodes::default() => {}
                    Ok(s) => status_code = Some(s.to_string()),
                    Err(e) => {
                        cx.error(c.loc, format!("status_code in {kind}: {e}"));
                        fine = false;
                    }
                }
            }
            "digest" => match cx.one(c).map(healthcheck::page::PageDigest::parse) {
                Some(Ok(sum)) => digest = Some(sum.to_string()),
                Some(Err(e)) => {
                    cx.error(c.loc, format!("{e} in {kind}"));
                    fine = false;
                }
                None => fine = false,
            },
            "virtualhost" => d.virtualhost = cx.word(c).map(str::to_string),
            _ => cx.unsupported(c, &format!("{kind} url"), ""),
        }
    }
    let Some(path) = path else {
        cx.error(u.loc, format!("url without path in {kind}"));
        return None;
    };
    fine.then(|| Page {
        origin: format!("{}:{}", cx.file(u.loc), u.loc.line),
        path,
        status_code,
        digest,
    })
}

type CheckOf = (Check, Option<u16>, u32, u32, u32);

/// The one check of a virtual service: the first checker of its real servers; whatever
/// differs from it is reported.
pub(super) fn check_of(
    cx: &mut Ctx<'_>,
    context: &str,
    reals: &[RealServer],
    set: &VsSettings,
) -> CheckOf {
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
    }
    (
        first.check.clone(),
        first.port,
        whole(first.timeout),
        first.retry + 1,
        interval,
    )
}

/// The checkers after the first one, when every real server has the same ones (director runs
/// them as further checks of each real: up when all pass); otherwise each is reported.
pub(super) fn further_of(cx: &mut Ctx<'_>, context: &str, reals: &[RealServer]) -> Vec<Further> {
    let Some(model) = reals
        .first()
        .map(|r| r.checkers.get(1..).unwrap_or_default())
    else {
        return Vec::new();
    };
    let alike = reals.iter().all(|r| {
        let rest = r.checkers.get(1..).unwrap_or_default();
        rest.len() == model.len() && rest.iter().zip(model).all(|(a, b)| same_check(a, b))
    });
    if !alike {
        for r in reals {
            for extra in r.checkers.iter().skip(1) {
                cx.not_carried(
                    extra.loc,
                    format!(
                        "{context}: a further checker that the other real servers do not all \
                         have (director runs the same further checks on every real server of \
                         a virtual service; this one runs the first)"
                    ),
                );
            }
        }
        return Vec::new();
    }
    let first = reals.iter().find_map(|r| r.checkers.first());
    model
        .iter()
        .filter(|k| k.check != Check::On)
        .map(|k| {
            if first.is_some_and(|f| f.retry != k.retry || f.delay_loop != k.delay_loop) {
                cx.note(
                    k.loc,
                    format!(
                        "{context}: director counts the failures of a real server's checks \
                         together, with the first checker's retry and delay_loop"
                    ),
                );
            }
            Further {
                origin: format!("{}:{}", cx.file(k.loc), k.loc.line),
                check: k.check.clone(),
                port: k.port,
                timeout_ms: (k.timeout * 1000.0).ceil().max(1.0) as u64,
            }
        })
        .collect()
}

fn same_check(a: &Checker, b: &Checker) -> bool {
    a.check == b.check
        && a.port == b.port
        && a.timeout == b.timeout
        && a.retry == b.retry
        && a.delay_loop == b.delay_loop
}
