//! `[[service]]`: what director adds to one virtual service of an ldirectord file, the things
//! keepalived users rely on and ldirectord has no directive for (quorum, status codes and page
//! digests in HTTP checks).
//!
//! ```toml
//! [[service]]
//! file = "www.cf"             # the ldirectord file (www and www.cf name the same file)
//! virtual = "192.0.2.132:80"  # as its virtual= line; a firewall mark: "7"
//! quorum = 2                  # the weights of the up real servers must add up to 2
//! hysteresis = 1
//! quorum_up = "/etc/ha.d/vip-on-lo add"
//! quorum_down = "/etc/ha.d/vip-on-lo del"
//!
//! [[service.url]]             # the HTTP check fetches these pages instead of request=
//! path = "/index.html"
//! status_code = "200-299 302"
//! digest = "d5d2ff66a8f30775df81b68c7ab2f9a4"
//!
//! [[service.check]]           # a further check of every real server: up when all pass
//! checktype = "connect"       # connect, ping, negotiate or external
//! port = 8080
//!
//! [service.tunnel]            # its ipip real servers reached over GUE (tunnel.rs)
//! type = "gue"
//! port = 5555
//! ```
//!
//! The ldirectord file itself stays as ldirectord reads it; whether the named file and virtual
//! service exist is checked by whoever loads that file (`director check`, the daemon), with
//! this file's line.

use std::net::SocketAddr;

use std::time::Duration;

use healthcheck::page::{Page, PageDigest, StatusCodes};
use healthcheck::spec::{CheckType, Service as HcService};
use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, Span};
use super::tunnel::{tunnel_table, RawTunnel, Tunnel};
use crate::config::Collector;

/// One `[[service]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The line of its `virtual` key (what errors about the entry point at).
    pub line: usize,
    /// The ldirectord file as named (`www`, `www.cf`, or a path).
    pub file: String,
    /// The virtual service of that file.
    pub target: Target,
    /// `protocol`: only needed when the file has the address for tcp and udp.
    pub protocol: Option<ServiceProtocol>,
    /// What director adds to it.
    pub extra: ServiceExtra,
}

/// `virtual =`: an address and port, or a firewall mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Addr(SocketAddr),
    Fwmark(u32),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Addr(a) => write!(f, "{a}"),
            Target::Fwmark(m) => write!(f, "{m}"),
        }
    }
}

/// `protocol = "tcp" | "udp"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProtocol {
    Tcp,
    Udp,
}

/// What director adds to a virtual service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceExtra {
    /// `[[service.url]]`: the pages its HTTP check fetches instead of `request=`.
    pub pages: Vec<Page>,
    /// `quorum` / `hysteresis` (any of the four quorum keys sets it; quorum 1 and hysteresis
    /// 0 by default, keepalived's).
    pub quorum: Option<Quorum>,
    /// Run (through the shell) when the service gains its quorum.
    pub quorum_up: Option<String>,
    /// Run (through the shell) when the service loses its quorum.
    pub quorum_down: Option<String>,
    /// `[[service.check]]`: further checks every real server must pass too.
    pub checks: Vec<ExtraCheck>,
    /// `[service.tunnel]`: the encapsulation of its `ipip` real servers (else IPVS's ipip).
    pub tunnel: Option<Tunnel>,
}

/// A further check of each real server of a service (keepalived's second checker), in
/// ldirectord's words; what it does not set is the file's check's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraCheck {
    /// `connect`, `ping`, `negotiate` or `external`.
    pub checktype: CheckType,
    /// The negotiate check's service (`http`, `https`, `smtp`, ...).
    pub service: Option<HcService>,
    /// The port it checks (else the file's check port rule).
    pub port: Option<u16>,
    /// `request` / `receive` as in ldirectord.
    pub request: Option<String>,
    pub receive: Option<String>,
    /// An http/https check's pages (`[[service.check.url]]`).
    pub pages: Vec<Page>,
    /// Its time limit (else the file's).
    pub timeout: Option<Duration>,
}

/// keepalived's `quorum` and `hysteresis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quorum {
    /// The total weight of up real servers the service needs.
    pub quorum: u32,
    /// Gained at `quorum + hysteresis`, lost below `quorum - hysteresis`.
    pub hysteresis: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    file: Spanned<String>,
    #[serde(rename = "virtual")]
    target: Spanned<String>,
    protocol: Option<ServiceProtocol>,
    quorum: Option<Spanned<u32>>,
    hysteresis: Option<u32>,
    quorum_up: Option<Spanned<String>>,
    quorum_down: Option<Spanned<String>>,
    #[serde(default)]
    url: Vec<RawUrl>,
    #[serde(default)]
    check: Vec<RawCheck>,
    tunnel: Option<RawTunnel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    checktype: Spanned<String>,
    service: Option<Spanned<String>>,
    port: Option<u16>,
    request: Option<String>,
    receive: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    timeout: Option<Spanned<Span>>,
    #[serde(default)]
    url: Vec<RawUrl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUrl {
    path: Spanned<String>,
    status_code: Option<Spanned<Codes>>,
    digest: Option<Spanned<String>>,
}

/// `status_code = 200` or `status_code = "200-299 302"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Codes {
    One(i64),
    Words(String),
}

fn target(text: &str) -> Option<Target> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(Target::Addr(a));
    }
    text.parse::<u32>()
        .ok()
        .filter(|m| *m > 0)
        .map(Target::Fwmark)
}

pub(super) fn service_tables(raw: Vec<RawService>, text: &str, c: &mut Collector) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::new();
    for r in raw {
        let line = line_of(text, r.target.span().start);
        let file = r.file.get_ref().trim().to_string();
        if file.is_empty() {
            c.error(
                line_of(text, r.file.span().start),
                "service: file is empty: name the ldirectord file (such as \"www.cf\")",
            );
        }
        let Some(target) = target(r.target.get_ref().trim()) else {
            c.error(
                line,
                format!(
                    "service: virtual \"{}\" is neither ADDRESS:PORT (\"192.0.2.1:80\", \
                     \"[2001:db8::1]:80\") nor a firewall mark",
                    r.target.get_ref()
                ),
            );
            continue;
        };
        if let Some(twin) = out
            .iter()
            .find(|s| s.file == file && s.target == target && s.protocol == r.protocol)
        {
            c.error(
                line,
                format!(
                    "service: {file} {target} is already set at line {}",
                    twin.line
                ),
            );
            continue;
        }
        let mut extra = ServiceExtra::default();
        for (key, cmd) in [("quorum_up", &r.quorum_up), ("quorum_down", &r.quorum_down)] {
            if cmd.as_ref().is_some_and(|v| v.get_ref().trim().is_empty()) {
                let at = cmd.as_ref().map_or(line, |v| line_of(text, v.span().start));
                c.error(at, format!("service: {key} is empty"));
            }
        }
        if let Some(q) = &r.quorum {
            if *q.get_ref() == 0 {
                c.error(
                    line_of(text, q.span().start),
                    "service: quorum must be at least 1 (the weight the up real servers add up to)",
                );
            }
        }
        if r.quorum.is_some()
            || r.hysteresis.is_some()
            || r.quorum_up.is_some()
            || r.quorum_down.is_some()
        {
            extra.quorum = Some(Quorum {
                quorum: r.quorum.as_ref().map_or(1, |q| *q.get_ref()),
                hysteresis: r.hysteresis.unwrap_or(0),
            });
        }
        extra.quorum_up = r.quorum_up.map(Spanned::into_inner);
        extra.quorum_down = r.quorum_down.map(Spanned::into_inner);
        for u in r.url {
            if let Some(page) = page(u, text, c) {
                extra.pages.push(page);
            }
        }
        for k in r.check {
            if let Some(check) = extra_check(k, text, c) {
                extra.checks.push(check);
            }
        }
        extra.tunnel = r.tunnel.and_then(|t| tunnel_table(t, text, c));
        out.push(Service {
            line,
            file,
            target,
            protocol: r.protocol,
            extra,
        });
    }
    out
}

fn extra_check(k: RawCheck, text: &str, c: &mut Collector) -> Option<ExtraCheck> {
    let at = line_of(text, k.checktype.span().start);
    let service = match &k.service {
        None => None,
        Some(s) => match s.get_ref().parse::<HcService>() {
            Ok(v) => Some(v),
            Err(e) => {
                c.error(
                    line_of(text, s.span().start),
                    format!("service: check: {e}"),
                );
                return None;
            }
        },
    };
    let checktype = match (k.checktype.get_ref().as_str(), &k.command) {
        ("connect", None) => CheckType::Connect,
        ("ping", None) => CheckType::Ping,
        ("negotiate", None) if service.is_some() => CheckType::Negotiate,
        ("negotiate", None) => {
            c.error(
                at,
                "service: check: a negotiate check needs its service (\"http\", ...)",
            );
            return None;
        }
        ("external", Some(cmd)) if !cmd.get_ref().trim().is_empty() => CheckType::External {
            cmd: cmd.get_ref().trim().into(),
        },
        ("external", _) => {
            c.error(at, "service: check: an external check needs its command");
            return None;
        }
        ("connect" | "ping" | "negotiate", Some(cmd)) => {
            c.error(
                line_of(text, cmd.span().start),
                "service: check: command is for an external check",
            );
            return None;
        }
        (other, _) => {
            c.error(
                at,
                format!(
                    "service: check: checktype \"{other}\": expected connect, ping, negotiate \
                     or external"
                ),
            );
            return None;
        }
    };
    if let Some(r) = &k.receive {
        if let Err(e) = healthcheck::negotiate::Receive::compile(r.get_ref()) {
            c.error(
                line_of(text, r.span().start),
                format!("service: check: receive is not a regular expression: {e}"),
            );
        }
    }
    let mut pages = Vec::new();
    for u in k.url {
        pages.push(page(u, text, c)?);
    }
    let http_negotiate = checktype == CheckType::Negotiate
        && matches!(service, Some(HcService::Http | HcService::Https));
    if !pages.is_empty() && !http_negotiate {
        c.error(
            at,
            "service: check: url is for a negotiate check of http or https",
        );
    }
    let timeout = k.timeout.as_ref().map(|t| t.get_ref().0);
    if timeout.is_some_and(|t| t < Duration::from_millis(1)) {
        c.error(at, "service: check: timeout must be at least 1ms");
    }
    Some(ExtraCheck {
        checktype,
        service,
        port: k.port,
        request: k.request,
        receive: k.receive.map(Spanned::into_inner),
        pages,
        timeout,
    })
}

fn page(u: RawUrl, text: &str, c: &mut Collector) -> Option<Page> {
    let path = u.path.get_ref().trim().to_string();
    if path.is_empty() {
        c.error(
            line_of(text, u.path.span().start),
            "service: url path is empty",
        );
        return None;
    }
    let status = match &u.status_code {
        None => StatusCodes::default(),
        Some(codes) => {
            let words = match codes.get_ref() {
                Codes::One(n) => n.to_string(),
                Codes::Words(w) => w.clone(),
            };
            match StatusCodes::parse(&words) {
                Ok(s) => s,
                Err(e) => {
                    c.error(line_of(text, codes.span().start), format!("service: {e}"));
                    return None;
                }
            }
        }
    };
    let digest = match &u.digest {
        None => None,
        Some(d) => match PageDigest::parse(d.get_ref().trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                c.error(line_of(text, d.span().start), format!("service: {e}"));
                return None;
            }
        },
    };
    Some(Page {
        path,
        status,
        digest,
    })
}
