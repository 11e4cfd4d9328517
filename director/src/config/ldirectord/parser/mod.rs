//! The line machine: ldirectord's file syntax (ref ldirectord.md sections 2-4).
//!
//! Lines are read in one pass into raw global settings and raw blocks; names are resolved and
//! effective values computed at the end, once every global is known (ldirectord also applies
//! globals to blocks only after the whole file is read).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use super::model::*;
use super::text::{
    comment_start, first_digits, first_word, hash_in_quotes, indent_columns, inet_aton, is_word,
    take_while,
};
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::resolve::Resolver;
use crate::ipvs::Family;

mod block;
mod build;
mod global;
mod real;
mod value;

use block::doubled_colon_hint;
pub(crate) use real::dedup_reals;

/// Schedulers the Linux kernel provides (`ip_vs_*.ko`).
pub const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Largest address range a `real=a->b` line may expand to.
pub const MAX_RANGE: u32 = 65536;

/// Persistence timeouts ipvsadm accepts (`-p`): 1 s .. 31 days.
pub(crate) const MAX_PERSISTENT: u32 = 86400 * 31;
/// Weights ipvsadm 1.31 accepts (`-w`).
const MAX_WEIGHT: u32 = 65535;
/// Connection thresholds ipvsadm accepts (`-x` / `-y`).
const MAX_THRESHOLD: u32 = i32::MAX as u32;

/// Directives accepted only inside a virtual block.
const BLOCK_ONLY: [&str; 24] = [
    "real",
    "real6",
    "request",
    "receive",
    "checktype",
    "checkcommand",
    "checkport",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
    "scheduler",
    "persistent",
    "schedflags",
    "netmask",
    "protocol",
    "ops",
    "service",
    "httpmethod",
    "virtualhost",
    "monitorfile",
    "servicename",
    "comment",
];

/// Directives accepted both globally and inside a block.
const BOTH: [&str; 16] = [
    "checktimeout",
    "negotiatetimeout",
    "connecttimeout",
    "checkcount",
    "failurecount",
    "checkinterval",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "quiescent",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "smtp",
    "cleanstop",
    "tlsverify",
];

/// Directives accepted only at global level.
const GLOBAL_ONLY: [&str; 10] = [
    "autoreload",
    "callback",
    "logfile",
    "execute",
    "fork",
    "supervised",
    "readdquiescent",
    "emailalertfrom",
    "maintenancedir",
    "timeout",
];

fn is_global(name: &str) -> bool {
    GLOBAL_ONLY.contains(&name) || BOTH.contains(&name)
}

fn is_block(name: &str) -> bool {
    BLOCK_ONLY.contains(&name) || BOTH.contains(&name)
}

/// Parse the text of an ldirectord configuration file. `file` names it in diagnostics.
/// Returns the configuration and its warnings, or every error (with the warnings) found.
pub fn parse(
    text: &str,
    file: &str,
    resolver: &dyn Resolver,
) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    let mut p = Parser::new(file, resolver);
    p.read(text);
    let config = p.finish();
    let mut diags = p.diags;
    diags.sort_by_key(|d| if d.line == 0 { usize::MAX } else { d.line });
    if diags.iter().any(Diagnostic::is_error) {
        Err(Diagnostics::new(diags))
    } else {
        Ok((config, diags))
    }
}

/// One directive line, split and cleaned.
struct Val {
    line: usize,
    name: String,
    /// The value as director reads it: comment removed, trailing blanks trimmed.
    clean: String,
    /// The value as ldirectord 1.186 sees it (no comment removal at global level,
    /// trailing blanks kept).
    ld_view: String,
    /// A trailing comment was removed from a global line.
    global_comment: bool,
}

#[derive(Debug, Clone)]
struct RawFallback {
    line: usize,
    host: String,
    port: Option<String>,
    method: Method,
}

#[derive(Debug, Clone)]
enum BlockAddr {
    Host {
        host: String,
        port: String,
    },
    Fwmark(u32),
    /// The virtual line was wrong (already reported).
    Invalid,
}

#[derive(Debug, Clone)]
struct RawReal {
    line: usize,
    text: String,
}

/// A virtual block as written.
#[derive(Debug, Clone)]
struct Block {
    line: usize,
    family: Family,
    addr: BlockAddr,
    protocol: Protocol,
    reals: Vec<RawReal>,
    fallback: Option<RawFallback>,
    fallbackcommand: Option<String>,
    service: Option<Service>,
    checktype: CheckType,
    checkcommand: String,
    checkport: Option<u16>,
    checktimeout: Option<u32>,
    negotiatetimeout: Option<u32>,
    checkcount: Option<u32>,
    failurecount: Option<u32>,
    checkinterval: Option<(usize, u32)>,
    request: String,
    receive: String,
    httpmethod: HttpMethod,
    virtualhost: Option<String>,
    login: String,
    passwd: String,
    database: String,
    secret: String,
    load: Option<String>,
    scheduler: String,
    persistent: Option<u32>,
    netmask: Option<Netmask>,
    schedflags: Option<(usize, String)>,
    netmask_line: usize,
    ops: Option<(usize, bool)>,
    quiescent: Option<bool>,
    cleanstop: Option<bool>,
    tlsverify: Option<TlsVerify>,
    emailalert: Option<Vec<String>>,
    emailalertfreq: Option<u32>,
    emailalertstatus: Option<AlertStatus>,
    smtp: Option<String>,
    monitorfile: Option<MonitorFile>,
    servicename: Option<String>,
    comment: Option<String>,
}

impl Block {
    fn new(line: usize, family: Family, addr: BlockAddr, protocol: Protocol) -> Block {
        Block {
            line,
            family,
            service: matches!(addr, BlockAddr::Fwmark(_)).then_some(Service::None),
            addr,
            protocol,
            reals: Vec::new(),
            fallback: None,
            fallbackcommand: None,
            checktype: CheckType::Negotiate,
            checkcommand: "/bin/true".to_string(),
            checkport: None,
            checktimeout: None,
            negotiatetimeout: None,
            checkcount: None,
            failurecount: None,
            checkinterval: None,
            request: "/".to_string(),
            receive: String::new(),
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            login: String::new(),
            passwd: String::new(),
            database: String::new(),
            secret: String::new(),
            load: None,
            scheduler: "wrr".to_string(),
            persistent: None,
            netmask: None,
            schedflags: None,
            netmask_line: 0,
            ops: None,
            quiescent: None,
            cleanstop: None,
            tlsverify: None,
            emailalert: None,
            emailalertfreq: None,
            emailalertstatus: None,
            smtp: None,
            monitorfile: None,
            servicename: None,
            comment: None,
        }
    }
}

/// Where the reader is relative to the last virtual block.
#[derive(Debug, Default)]
struct BlockState {
    /// A blank line inside the current block (ldirectord ends the block there).
    gap: Option<usize>,
    /// A global line after the current block (ldirectord ends the block there).
    interrupted: Option<usize>,
}

struct Parser<'a> {
    file: &'a str,
    resolver: &'a dyn Resolver,
    diags: Vec<Diagnostic>,
    globals: Globals,
    global_fallback: Option<RawFallback>,
    global_fallback6: Option<RawFallback>,
    blocks: Vec<Block>,
    state: BlockState,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, resolver: &'a dyn Resolver) -> Parser<'a> {
        Parser {
            file,
            resolver,
            diags: Vec::new(),
            globals: Globals::default(),
            global_fallback: None,
            global_fallback6: None,
            blocks: Vec::new(),
            state: BlockState::default(),
        }
    }

    fn error(&mut self, line: usize, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(
            std::path::Path::new(self.file),
            line,
            msg,
        ));
    }

    fn warn(&mut self, line: usize, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(
            std::path::Path::new(self.file),
            line,
            msg,
        ));
    }

    fn read(&mut self, text: &str) {
        let mut cr_warned = false;
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let count = lines.len();
        for (i, raw) in lines.into_iter().enumerate() {
            let no = i + 1;
            let mut line = raw.to_string();
            if line.ends_with('\r') {
                line.pop();
                if !cr_warned {
                    cr_warned = true;
                    self.warn(
                        no,
                        "CRLF (DOS) line ends: ldirectord 1.186 misreads yes/no values on such \
                         lines; read as plain line ends",
                    );
                }
            }
            if line.contains(['\u{201c}', '\u{201d}']) {
                line = line.replace(['\u{201c}', '\u{201d}'], "\"");
                self.warn(
                    no,
                    "typographic quotes (\u{201c} \u{201d}) read as plain double quotes; \
                     ldirectord 1.186 rejects them",
                );
            }
            let blocks = self.blocks.len();
            self.line(no, &line);
            if no == count && self.blocks.len() > blocks {
                self.warn(
                    no,
                    "a virtual line as the last line of the file: ldirectord 1.186 reads it \
                     twice and fails with \"duplicate virtual server\"",
                );
            }
        }
    }

    fn line(&mut self, no: usize, line: &str) {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.trim().is_empty() {
            if !self.blocks.is_empty() && self.state.interrupted.is_none() {
                if self.state.gap.is_none() && indent_columns(line) >= 5 {
                    self.warn(
                        no,
                        "line of only blanks inside a virtual block: ldirectord 1.186 rejects it",
                    );
                }
                self.state.gap.get_or_insert(no);
            }
            return;
        }
        if trimmed.starts_with('#') {
            return;
        }
        let indent = indent_columns(line);
        let (name, after_name) = take_while(trimmed, |c| is_word(c) || c == '-');
        let name = name.to_string();

        if name == "virtual" || name == "virtual6" {
            if let Some(value) = after_name.trim_start().strip_prefix('=') {
                if indent > 0 {
                    self.warn(
                        no,
                        format!(
                            "`{name}=` is indented: ldirectord 1.186 needs it in column 0 \
                             (Unknown command)"
                        ),
                    );
                }
                self.virtual_line(no, &name, value.trim_start());
                return;
            }
        }

        if indent == 0 {
            if is_global(&name) || !is_block(&name) || self.blocks.is_empty() {
                if !self.blocks.is_empty() {
                    self.state.interrupted.get_or_insert(no);
                }
                self.global_line(no, &name, after_name);
            } else {
                self.warn(
                    no,
                    format!(
                        "`{name}` is not indented: read as part of the virtual block at line {}; \
                         ldirectord 1.186 needs block lines indented by 4 or more columns \
                         (Unknown command)",
                        self.blocks.last().map_or(0, |b| b.line)
                    ),
                );
                self.block_line(no, &name, after_name);
            }
            return;
        }

        // Indented line.
        if self.blocks.is_empty() {
            if is_global(&name) {
                self.warn(
                    no,
                    format!(
                        "`{name}` is indented outside a virtual block: read as a global \
                         directive; ldirectord 1.186 needs it in column 0 (Unknown command)"
                    ),
                );
                self.global_line(no, &name, after_name);
            } else if is_block(&name) {
                self.error(
                    no,
                    format!("`{name}` is only valid inside a virtual block, and there is none before it"),
                );
            } else {
                self.unknown(no, trimmed);
            }
            return;
        }
        let block_line = self.blocks.last().map_or(0, |b| b.line);
        if indent < 4 {
            self.warn(
                no,
                format!(
                    "indented by {indent} columns: read as part of the virtual block at line \
                     {block_line}; ldirectord 1.186 needs 4 or more (Unknown command)"
                ),
            );
        }
        if let Some(gap) = self.state.gap.take() {
            self.warn(
                no,
                format!(
                    "read as part of the virtual block at line {block_line}, although the blank \
                     line {gap} ends that block for ldirectord 1.186 (Unknown command)"
                ),
            );
        }
        if let Some(global) = self.state.interrupted.take() {
            self.warn(
                no,
                format!(
                    "read as part of the virtual block at line {block_line}, although the global \
                     directive at line {global} ends that block for ldirectord 1.186 (Unknown \
                     command)"
                ),
            );
        }
        self.block_line(no, &name, after_name);
    }

    fn unknown(&mut self, no: usize, text: &str) {
        let text = text.trim_end();
        let hint = if text.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            " (directive names are lowercase)"
        } else {
            ""
        };
        self.error(no, format!("unknown command `{text}`{hint}"));
    }

    /// Split `name = value` and build the cleaned and ldirectord views of the value.
    fn value(&mut self, no: usize, name: &str, after_name: &str, global: bool) -> Option<Val> {
        let Some(raw) = after_name.trim_start_matches([' ', '\t']).strip_prefix('=') else {
            let full = format!("{name}{after_name}");
            self.unknown(no, &full);
            return None;
        };
        let raw = raw.trim_start();
        let (clean, ld_view, global_comment) = if global {
            let cut = comment_start(raw).map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            (
                cut.trim_end().to_string(),
                raw.to_string(),
                cut.len() != raw.len(),
            )
        } else {
            if hash_in_quotes(raw) {
                self.warn(
                    no,
                    "`#` inside double quotes kept as part of the value; ldirectord 1.186 cuts \
                     block lines at any `#`",
                );
            }
            let cut = comment_start(raw).map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            let ld_cut = raw.find('#').map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            (
                cut.trim_end().to_string(),
                ld_cut.replace('\t', "    "),
                false,
            )
        };
        Some(Val {
            line: no,
            name: name.to_string(),
            clean,
            ld_view,
            global_comment,
        })
    }

    fn with_block(&mut self, f: impl FnOnce(&mut Block)) {
        if let Some(b) = self.blocks.last_mut() {
            f(b);
        }
    }

    /// ldirectord's `ld_gethostbyname`: numeric forms first, then the resolver.
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        match family {
            Family::V4 => {
                if let Some(a) = inet_aton(bare) {
                    return Some(IpAddr::V4(a));
                }
                if bare.contains(':') {
                    return None;
                }
            }
            Family::V6 => {
                if let Ok(a) = bare.parse::<Ipv6Addr>() {
                    return Some(IpAddr::V6(a));
                }
                if bare.contains(':') || inet_aton(bare).is_some() {
                    return None;
                }
            }
        }
        self.resolver.host(bare, family)
    }

    /// ldirectord's `ld_getservbyname`: numbers 0..65535 as they are, names via the resolver.
    fn port(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return name.parse::<u16>().ok();
        }
        self.resolver.service(name, protocol)
    }
}

/// Syslog facilities (`logfile="local0"`).
const SYSLOG_FACILITIES: [&str; 20] = [
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// `host[:port]` split as ldirectord does: the port is a trailing `:[A-Za-z0-9_-]+`.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(i) = s.rfind(':') {
        let (host, port) = (s.get(..i).unwrap_or(""), s.get(i + 1..).unwrap_or(""));
        let port_ok = !port.is_empty()
            && port
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        // `[v6]` without a port has a `:` inside the brackets only.
        if port_ok && (!host.starts_with('[') || host.ends_with(']')) {
            return (host, Some(port));
        }
    }
    (s, None)
}

/// A character of a port number or service name in a `real=` line.
fn is_port_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn parse_dotted_quad(s: &str) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        *o = parts.next()?.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(octets.into())
}
