//! `virtual=` lines and the directives of a virtual block, one method each (`block_line`
//! dispatches).

use std::net::Ipv6Addr;
use std::path::PathBuf;

use super::super::model::{CheckType, HttpMethod, MonitorFile, Netmask, Protocol, Service};
use super::super::text::{comment_start, first_digits, first_word, inet_aton, is_word, take_while};
use super::directive::{is_block, GLOBAL_ONLY, MAX_PERSISTENT, SCHEDULERS};
use super::line::Parser;
use super::raw::{Block, BlockAddr, BlockState, RawReal, Val};
use super::value::{is_port_char, parse_dotted_quad};
use crate::ipvs::Family;

impl Parser<'_> {
    pub(super) fn virtual_line(&mut self, no: usize, name: &str, value: &str) {
        self.state = BlockState::default();
        let family = if name == "virtual6" {
            Family::V6
        } else {
            Family::V4
        };
        let cut = comment_start(value).map_or(value, |i| value.get(..i).unwrap_or(value));
        let value = cut.trim_end();
        let addr = self.virtual_addr(no, family, value);
        let protocol = match &addr {
            BlockAddr::Fwmark(_) => Protocol::Fwm,
            BlockAddr::Host { port, .. } if port == "53" || port == "domain" => Protocol::Udp,
            _ => Protocol::Tcp,
        };
        self.blocks.push(Block::new(no, family, addr, protocol));
    }

    pub(super) fn virtual_addr(&mut self, no: usize, family: Family, value: &str) -> BlockAddr {
        let port_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if let Some(v6) = value.strip_prefix('[') {
            let (addr, rest) = take_while(v6, |c| c.is_ascii_hexdigit() || c == ':');
            let port = rest.strip_prefix("]:").map(|r| take_while(r, port_char));
            match port {
                Some((port, trailing)) if !port.is_empty() && !addr.is_empty() => {
                    if family == Family::V4 {
                        self.error(
                            no,
                            "cannot specify an IPv6 address here. please use \"virtual6\" instead.",
                        );
                        return BlockAddr::Invalid;
                    }
                    if addr.parse::<Ipv6Addr>().is_err() {
                        self.error(
                            no,
                            format!("invalid ipv6 address for virtual server: {addr}"),
                        );
                        return BlockAddr::Invalid;
                    }
                    self.trailing_virtual(no, trailing);
                    return BlockAddr::Host {
                        host: format!("[{addr}]"),
                        port: port.to_string(),
                    };
                }
                _ => {
                    self.error(
                        no,
                        format!("invalid address for virtual server `{value}`: use [ADDRESS]:PORT"),
                    );
                    return BlockAddr::Invalid;
                }
            }
        }
        let (host, rest) = take_while(value, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
        });
        if let Some(after) = rest.strip_prefix(':') {
            let (port, trailing) = take_while(after, port_char);
            if !host.is_empty() && !port.is_empty() {
                self.trailing_virtual(no, trailing);
                return BlockAddr::Host {
                    host: host.to_string(),
                    port: port.to_string(),
                };
            }
        }
        let (digits, trailing) = take_while(value, |c| c.is_ascii_digit());
        if !digits.is_empty() {
            if trailing.is_empty() || trailing.starts_with([' ', '\t']) {
                return match digits.parse::<u32>() {
                    Ok(mark) if mark > 0 => {
                        self.trailing_virtual(no, trailing);
                        BlockAddr::Fwmark(mark)
                    }
                    _ => {
                        self.error(
                            no,
                            format!("invalid firewall mark `{digits}`: must be 1..4294967295"),
                        );
                        BlockAddr::Invalid
                    }
                };
            }
            self.error(
                no,
                format!(
                    "invalid address for virtual server `{value}`: an address needs a port \
                     (ADDRESS:PORT); ldirectord 1.186 would silently read this as firewall mark \
                     {digits}"
                ),
            );
            return BlockAddr::Invalid;
        }
        self.error(no, format!("invalid address for virtual server `{value}`"));
        BlockAddr::Invalid
    }

    pub(super) fn trailing_virtual(&mut self, no: usize, trailing: &str) {
        let t = trailing.trim();
        if !t.is_empty() {
            self.warn(no, format!("`{t}` after the virtual address ignored"));
        }
    }

    pub(super) fn block_line(&mut self, no: usize, name: &str, after_name: &str) {
        if GLOBAL_ONLY.contains(&name) {
            self.error(
                no,
                format!(
                    "`{name}` is a global directive; it is not allowed inside a virtual block \
                     (ldirectord: Unknown command)"
                ),
            );
            return;
        }
        if !is_block(name) {
            let full = format!("{name}{after_name}");
            self.unknown(no, &full);
            return;
        }
        let Some(v) = self.value(no, name, after_name, false) else {
            return;
        };
        let Some(family) = self.blocks.last().map(|b| b.family) else {
            return;
        };
        let is_fwm = self
            .blocks
            .last()
            .is_some_and(|b| b.protocol == Protocol::Fwm);
        let hostname = self.resolver.hostname();
        match name {
            "real" | "real6" | "fallback" | "fallback6" => self.block_real(no, name, &v, family),
            "request" | "receive" | "login" | "passwd" | "database" | "secret" => {
                self.block_request(name, &v)
            }
            "load" => self.block_load(no, &v),
            "checktype" => self.block_checktype(no, &v),
            "checkcommand" | "fallbackcommand" | "monitorfile" => {
                self.block_checkcommand(no, name, &v)
            }
            "checktimeout" => self.block_checktimeout(&v),
            "negotiatetimeout" => self.block_negotiatetimeout(&v),
            "checkcount" => self.block_checkcount(no, &v),
            "failurecount" => self.block_failurecount(&v),
            "checkinterval" => self.block_checkinterval(no, &v),
            "connecttimeout" => self.block_connecttimeout(no),
            "checkport" => self.block_checkport(no, &v),
            "scheduler" => self.block_scheduler(no, &v),
            "persistent" => self.block_persistent(no, &v),
            "schedflags" => self.block_schedflags(no, &v),
            "netmask" => self.block_netmask(no, &v, family),
            "protocol" => self.block_protocol(no, &v, is_fwm),
            "ops" => self.block_ops(no, &v),
            "quiescent" => self.block_quiescent(&v),
            "cleanstop" => self.block_cleanstop(&v),
            "tlsverify" => self.block_tlsverify(&v),
            "service" => self.block_service(no, &v, &hostname),
            "httpmethod" => self.block_httpmethod(no, &v),
            "virtualhost" => self.block_virtualhost(no, &v),
            "emailalert" => self.block_emailalert(&v),
            "emailalertfreq" => self.block_emailalertfreq(&v),
            "emailalertstatus" => self.block_emailalertstatus(&v),
            "smtp" => self.block_smtp(&v),
            "servicename" => self.block_servicename(&v),
            "comment" => self.block_comment(&v),
            _ => {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
        }
    }

    /// `real`, `real6`, `fallback`, `fallback6`.
    pub(super) fn block_real(&mut self, no: usize, name: &str, v: &Val, family: Family) {
        let six = name.ends_with('6');
        if six != (family == Family::V6) {
            let base = name.trim_end_matches('6');
            let want = if family == Family::V6 {
                format!("{base}6")
            } else {
                base.to_string()
            };
            self.error(
                no,
                format!("cannot specify \"{name}\" here.  please use \"{want}\" instead"),
            );
            return;
        }
        if name.starts_with("real") {
            let text = v.clean.clone();
            self.with_block(|b| b.reals.push(RawReal { line: no, text }));
        } else if let Some(f) = self.fallback(v) {
            self.with_block(|b| b.fallback = Some(f));
        }
    }

    /// `request`, `receive`, `login`, `passwd`, `database`, `secret`.
    pub(super) fn block_request(&mut self, name: &str, v: &Val) {
        let Some(q) = self.quoted(v) else { return };
        let what = match name {
            "request" => "request string",
            "receive" => "receive string",
            "passwd" => "password",
            other => other,
        };
        let Some(q) = self.non_empty(v, q, what) else {
            return;
        };
        self.with_block(|b| match name {
            "request" => {
                b.request = if q.starts_with('/') {
                    q
                } else {
                    format!("/{q}")
                };
            }
            "receive" => b.receive = q,
            "login" => b.login = q,
            "passwd" => b.passwd = q,
            "database" => b.database = q,
            _ => b.secret = q,
        });
    }

    /// `load`.
    pub(super) fn block_load(&mut self, no: usize, v: &Val) {
        let Some(q) = self.quoted(v) else { return };
        match first_word(&q) {
            Some(w) => {
                let w = w.to_string();
                self.with_block(|b| b.load = Some(w));
            }
            None => self.error(no, "invalid string for load testing"),
        }
    }

    /// `checktype`.
    pub(super) fn block_checktype(&mut self, no: usize, v: &Val) {
        let ct = if let Some(d) = first_digits(&v.clean) {
            match d.parse::<u32>() {
                Ok(n) => Some(CheckType::Combined(n)),
                Err(_) => None,
            }
        } else {
            let (word, _) = take_while(
                v.clean
                    .trim_start_matches(|c: char| !is_word(c) && c != '-'),
                |c| is_word(c) || c == '-',
            );
            match word {
                "connect" => Some(CheckType::Connect),
                "negotiate" => Some(CheckType::Negotiate),
                "ping" => Some(CheckType::Ping),
                // the command is the block's checkcommand, filled in by `build`
                "external" => Some(CheckType::External {
                    cmd: Default::default(),
                }),
                "external-perl" => Some(CheckType::ExternalPerl {
                    cmd: Default::default(),
                }),
                "on" => Some(CheckType::On),
                "off" => Some(CheckType::Off),
                _ => None,
            }
        };
        match ct {
            Some(ct) => self.with_block(|b| b.checktype = ct),
            None => self.error(
                no,
                format!(
                    "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \
                     \"ping\", \"external\", \"external-perl\" or a positive number, not \
                     `{}`",
                    v.clean
                ),
            ),
        }
    }

    /// `checkcommand`, `fallbackcommand`, `monitorfile`.
    pub(super) fn block_checkcommand(&mut self, no: usize, name: &str, v: &Val) {
        let c = self.maybe_quoted(v);
        let what = if name == "monitorfile" {
            "file"
        } else {
            "command"
        };
        let Some(c) = self.non_empty(v, c, what) else {
            return;
        };
        self.with_block(|b| match name {
            "checkcommand" => b.checkcommand = c,
            "fallbackcommand" => b.fallbackcommand = Some(c),
            _ => {
                b.monitorfile = Some(MonitorFile {
                    path: PathBuf::from(c),
                    line: no,
                })
            }
        });
    }

    /// `checktimeout`.
    pub(super) fn block_checktimeout(&mut self, v: &Val) {
        let n = self.number(v, true, "check timeout");
        self.with_block(|b| b.checktimeout = n.or(b.checktimeout));
    }

    /// `negotiatetimeout`.
    pub(super) fn block_negotiatetimeout(&mut self, v: &Val) {
        let n = self.number(v, true, "negotiate timeout");
        self.with_block(|b| b.negotiatetimeout = n.or(b.negotiatetimeout));
    }

    /// `checkcount`.
    pub(super) fn block_checkcount(&mut self, no: usize, v: &Val) {
        let n = self.number(v, true, "check count");
        self.with_block(|b| b.checkcount = n.or(b.checkcount));
        self.warn(
            no,
            "checkcount option is deprecated and slated for removal.  please see \
             'failurecount'",
        );
    }

    /// `failurecount`.
    pub(super) fn block_failurecount(&mut self, v: &Val) {
        let n = self.number(v, true, "failure count");
        self.with_block(|b| b.failurecount = n.or(b.failurecount));
    }

    /// `checkinterval`.
    pub(super) fn block_checkinterval(&mut self, no: usize, v: &Val) {
        if let Some(n) = self.number(v, true, "checkinterval") {
            self.with_block(|b| b.checkinterval = Some((no, n)));
        }
    }

    /// `connecttimeout`.
    pub(super) fn block_connecttimeout(&mut self, no: usize) {
        self.error(
            no,
            "connecttimeout directive deprecated in favour of negotiatetimeout",
        );
    }

    /// `checkport`.
    pub(super) fn block_checkport(&mut self, no: usize, v: &Val) {
        if let Some(n) = self.number(v, false, "port") {
            match u16::try_from(n) {
                Ok(p) if p > 0 => self.with_block(|b| b.checkport = Some(p)),
                _ => self.error(no, format!("checkport must be in range 1..65535, not {n}")),
            }
        }
    }

    /// `scheduler`.
    pub(super) fn block_scheduler(&mut self, no: usize, v: &Val) {
        let (word, _) = take_while(
            v.clean
                .trim_start_matches(|c: char| !c.is_ascii_lowercase()),
            |c| c.is_ascii_lowercase(),
        );
        if word.is_empty() {
            self.error(
                no,
                format!(
                    "invalid scheduler `{}`, should be only lowercase letters (a-z)",
                    v.clean
                ),
            );
        } else if !SCHEDULERS.contains(&word) {
            self.error(
                no,
                format!(
                    "unknown scheduler `{word}` (the kernel has {})",
                    SCHEDULERS.join(", ")
                ),
            );
        } else {
            if word != v.clean {
                self.warn(no, format!("scheduler `{}` read as `{word}`", v.clean));
            }
            let w = word.to_string();
            self.with_block(|b| b.scheduler = w);
        }
    }

    /// `persistent`.
    pub(super) fn block_persistent(&mut self, no: usize, v: &Val) {
        if let Some(n) = self.number(v, false, "persistent timeout") {
            if n == 0 || n > MAX_PERSISTENT {
                self.error(
                    no,
                    format!(
                        "persistent timeout {n} out of range 1..{MAX_PERSISTENT} \
                         (ipvsadm refuses it)"
                    ),
                );
            } else {
                self.with_block(|b| b.persistent = Some(n));
            }
        }
    }

    /// `schedflags`.
    pub(super) fn block_schedflags(&mut self, no: usize, v: &Val) {
        let Some(word) = v.clean.split_whitespace().next().map(str::to_string) else {
            self.error(no, "invalid sched-flags");
            return;
        };
        let bad: Vec<&str> = word
            .split(',')
            .filter(|f| crate::config::ldirectord::table::sched_flag_bit(f).is_none())
            .collect();
        if bad.is_empty() {
            self.with_block(|b| b.schedflags = Some((no, word)));
        } else {
            self.error(
                no,
                format!(
                    "invalid sched-flags `{}`: known flags are flag-1, flag-2, flag-3, \
                     sh-fallback, sh-port, mh-fallback, mh-port",
                    bad.join(",")
                ),
            );
        }
    }

    /// `netmask`.
    pub(super) fn block_netmask(&mut self, no: usize, v: &Val, family: Family) {
        let nm = if family == Family::V6 {
            match v.clean.parse::<u8>() {
                Ok(n) if (1..=128).contains(&n) => Some(Netmask::V6Prefix(n)),
                _ => {
                    self.error(
                        no,
                        "invalid netmask: a prefix length between 1 and 128 is required",
                    );
                    None
                }
            }
        } else {
            let dotted = v.clean.split('.').count() == 4
                && v.clean
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            match (dotted, parse_dotted_quad(&v.clean)) {
                (true, Some(a)) => Some(Netmask::V4(a)),
                (true, None) => {
                    self.error(
                        no,
                        format!("invalid netmask `{}`: octet out of range", v.clean),
                    );
                    None
                }
                _ => {
                    self.error(
                        no,
                        format!(
                            "invalid netmask `{}`: dotted quad notation is required",
                            v.clean
                        ),
                    );
                    None
                }
            }
        };
        if let Some(nm) = nm {
            self.exact_quirk(v);
            self.with_block(|b| {
                b.netmask = Some(nm);
                b.netmask_line = no;
            });
        }
    }

    /// `protocol`.
    pub(super) fn block_protocol(&mut self, no: usize, v: &Val, is_fwm: bool) {
        let Some(word) = first_word(&v.clean) else {
            self.error(no, "invalid protocol");
            return;
        };
        if is_fwm {
            if word != "fwm" {
                self.error(
                    no,
                    "protocol must be fwm if the virtual service is a fwmark (a number)",
                );
            }
        } else {
            match word {
                "tcp" => self.with_block(|b| b.protocol = Protocol::Tcp),
                "udp" => self.with_block(|b| b.protocol = Protocol::Udp),
                other => self.error(
                    no,
                    format!(
                        "protocol must be tcp or udp if the virtual service is an address \
                         and port, not `{other}`"
                    ),
                ),
            }
        }
    }

    /// `ops`.
    pub(super) fn block_ops(&mut self, no: usize, v: &Val) {
        if let Some(b) = self.yes_no(v) {
            self.with_block(|blk| blk.ops = Some((no, b)));
        }
    }

    /// `quiescent`.
    pub(super) fn block_quiescent(&mut self, v: &Val) {
        if let Some(b) = self.yes_no(v) {
            self.with_block(|blk| blk.quiescent = Some(b));
        }
    }

    /// `cleanstop`.
    pub(super) fn block_cleanstop(&mut self, v: &Val) {
        if let Some(b) = self.yes_no(v) {
            self.with_block(|blk| blk.cleanstop = Some(b));
        }
    }

    /// `tlsverify`.
    pub(super) fn block_tlsverify(&mut self, v: &Val) {
        if let Some(t) = self.tlsverify(v) {
            self.with_block(|blk| blk.tlsverify = Some(t));
        }
    }

    /// `service`.
    pub(super) fn block_service(&mut self, no: usize, v: &Val, hostname: &str) {
        let service = first_word(&v.clean).and_then(|w| w.parse::<Service>().ok());
        match service {
            Some(s) => self.with_block(|b| {
                b.service = Some(s);
                match s {
                    Service::Ftp => {
                        if b.login.is_empty() {
                            b.login = "anonymous".to_string();
                        }
                        if b.passwd.is_empty() {
                            b.passwd = format!("ldirectord@{hostname}");
                        }
                    }
                    Service::Sip if b.login.is_empty() => {
                        b.login = format!("ldirectord@{hostname}");
                    }
                    _ => {}
                }
            }),
            None => self.error(
                no,
                format!(
                    "unknown service `{}`: service must be dns, ftp, http, https, \
                     http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, \
                     pop, pops, radius, pgsql, simpletcp, sip, smtp or submission",
                    v.clean
                ),
            ),
        }
    }

    /// `httpmethod`.
    pub(super) fn block_httpmethod(&mut self, no: usize, v: &Val) {
        match first_word(&v.clean).map(str::to_ascii_uppercase).as_deref() {
            Some("GET") => self.with_block(|b| b.httpmethod = HttpMethod::Get),
            Some("HEAD") => self.with_block(|b| b.httpmethod = HttpMethod::Head),
            _ => self.error(
                no,
                format!("httpmethod must be GET or HEAD, not `{}`", v.clean),
            ),
        };
    }

    /// `virtualhost`.
    pub(super) fn block_virtualhost(&mut self, no: usize, v: &Val) {
        let s = v.clean.strip_prefix('"').unwrap_or(&v.clean);
        let host = s.split('"').next().unwrap_or("").to_string();
        if host.is_empty() {
            self.warn(no, "empty virtualhost ignored");
        } else {
            self.with_block(|b| b.virtualhost = Some(host));
        }
    }

    /// `emailalert`.
    pub(super) fn block_emailalert(&mut self, v: &Val) {
        if let Some(a) = self.emailalert(v) {
            self.with_block(|b| b.emailalert = Some(a));
        }
    }

    /// `emailalertfreq`.
    pub(super) fn block_emailalertfreq(&mut self, v: &Val) {
        if let Some(n) = self.emailalertfreq(v) {
            self.with_block(|b| b.emailalertfreq = Some(n));
        }
    }

    /// `emailalertstatus`.
    pub(super) fn block_emailalertstatus(&mut self, v: &Val) {
        if let Some(s) = self.emailalertstatus(v) {
            self.with_block(|b| b.emailalertstatus = Some(s));
        }
    }

    /// `smtp`.
    pub(super) fn block_smtp(&mut self, v: &Val) {
        if let Some(s) = self.smtp(v) {
            self.with_block(|b| b.smtp = Some(s));
        }
    }

    /// `servicename`.
    pub(super) fn block_servicename(&mut self, v: &Val) {
        let s = v.clean.clone();
        self.with_block(|b| b.servicename = Some(s));
    }

    /// `comment`.
    pub(super) fn block_comment(&mut self, v: &Val) {
        let s = v.clean.clone();
        self.with_block(|b| b.comment = Some(s));
    }
}

/// `ADDR::PORT` (a doubled colon; `after` is what follows the first one): the likely fix, and
/// for IPv4 what ldirectord 1.186 makes of the line (its unanchored pattern skips to the port
/// and takes it as the address, with port 0). Empty when the line is wrong in another way.
pub(super) fn doubled_colon_hint(text: &str, after: &str, family: Family) -> String {
    let Some(port_on) = after.strip_prefix(':') else {
        return String::new();
    };
    let (port, _) = take_while(port_on, is_port_char);
    let addr = text
        .len()
        .checked_sub(after.len() + 1)
        .and_then(|end| text.get(..end));
    let (Some(addr), false) = (addr, port.is_empty()) else {
        return String::new();
    };
    let read_as = match (family, inet_aton(port)) {
        (Family::V6, _) => return format!(": did you mean {addr}:{port}?"),
        (Family::V4, Some(a)) => format!("the address {a}"),
        (Family::V4, None) => "a host name".to_string(),
    };
    format!(": did you mean {addr}:{port}? (ldirectord 1.186 reads `{port}` as {read_as}, port 0)")
}
