//! The line machine: ldirectord's file syntax (ref ldirectord.md sections 2-4).
//!
//! Lines are read in one pass into raw global settings and raw blocks; names are resolved and
//! effective values computed at the end, once every global is known (ldirectord also applies
//! globals to blocks only after the whole file is read).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use super::model::*;
use super::table::dest;
use super::text::{
    comment_start, first_digits, first_word, hash_in_quotes, indent_columns, inet_aton, is_word,
    take_while,
};
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::resolve::Resolver;
use crate::ipvs::{DestKey, Family};

/// Schedulers the Linux kernel provides (`ip_vs_*.ko`).
pub const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Largest address range a `real=a->b` line may expand to.
pub const MAX_RANGE: u32 = 65536;

/// Persistence timeouts ipvsadm accepts (`-p`): 1 s .. 31 days.
const MAX_PERSISTENT: u32 = 86400 * 31;
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
    diags.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
    if diags.iter().any(Diagnostic::is_error) {
        Err(Diagnostics(diags))
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
        self.diags
            .push(Diagnostic::error(self.file, Some(line), msg));
    }

    fn warn(&mut self, line: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, Some(line), msg));
    }

    // ---------------------------------------------------------------- lines

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

    // ---------------------------------------------------------------- value rules

    /// A value ldirectord compares exactly: warn when only blanks/comments make it differ.
    fn exact_quirk(&mut self, v: &Val) {
        if v.ld_view != v.clean {
            let why = if v.global_comment {
                "a trailing comment"
            } else {
                "trailing blanks"
            };
            self.warn(
                v.line,
                format!(
                    "ldirectord 1.186 rejects `{}={}` because of {why}; read as `{}`",
                    v.name, v.ld_view, v.clean
                ),
            );
        }
    }

    /// Rest-of-line values at global level keep a trailing comment in ldirectord.
    fn comment_quirk(&mut self, v: &Val) {
        if v.global_comment {
            self.warn(
                v.line,
                format!(
                    "trailing comment removed from `{}`; ldirectord 1.186 only knows whole-line \
                     comments outside virtual blocks and would read it as part of the value",
                    v.name
                ),
            );
        }
    }

    /// `tlsverify = chain | yes | no` (director's own directive).
    fn tlsverify(&mut self, v: &Val) -> Option<TlsVerify> {
        match first_word(&v.clean).map(str::to_ascii_lowercase).as_deref() {
            Some("chain") => Some(TlsVerify::Chain),
            Some("yes") => Some(TlsVerify::Full),
            Some("no") => Some(TlsVerify::None),
            _ => {
                self.error(
                    v.line,
                    format!(
                        "tlsverify must be chain (the certificate chain), yes (chain and \
                         name) or no (any certificate), not `{}`",
                        v.clean
                    ),
                );
                None
            }
        }
    }

    fn yes_no(&mut self, v: &Val) -> Option<bool> {
        let r = match v.clean.as_str() {
            "yes" => true,
            "no" => false,
            _ => {
                self.error(
                    v.line,
                    format!("{} must be 'yes' or 'no', not `{}`", v.name, v.clean),
                );
                return None;
            }
        };
        self.exact_quirk(v);
        Some(r)
    }

    /// ldirectord's numbers: the first run of digits anywhere in the value.
    fn number(&mut self, v: &Val, nonzero: bool, what: &str) -> Option<u32> {
        let Some(digits) = first_digits(&v.clean) else {
            self.error(
                v.line,
                format!("invalid {what} `{}`: a number is required", v.clean),
            );
            return None;
        };
        let Ok(n) = digits.parse::<u32>() else {
            self.error(
                v.line,
                format!("invalid {what} `{}`: number too large", v.clean),
            );
            return None;
        };
        if nonzero && n == 0 {
            self.error(
                v.line,
                format!("invalid {what} `{}`: must not be 0", v.clean),
            );
            return None;
        }
        if digits != v.clean {
            self.warn(
                v.line,
                format!(
                    "{} `{}` read as {n} (ldirectord uses the first number)",
                    v.name, v.clean
                ),
            );
        }
        Some(n)
    }

    /// A `"quoted"` value (ldirectord: `"(.*)"`, first to last quote).
    fn quoted(&mut self, v: &Val) -> Option<String> {
        let inner = v.clean.strip_prefix('"').and_then(|s| {
            let end = s.rfind('"')?;
            Some((s.get(..end)?, s.get(end + 1..)?))
        });
        match inner {
            Some((value, rest)) => {
                if !rest.trim().is_empty() {
                    self.warn(
                        v.line,
                        format!(
                            "`{}` after the closing quote of {} ignored",
                            rest.trim(),
                            v.name
                        ),
                    );
                }
                Some(value.to_string())
            }
            None => {
                self.error(
                    v.line,
                    format!(
                        "{} must be in double quotes: {}=\"...\" (ldirectord: Unknown command)",
                        v.name, v.name
                    ),
                );
                None
            }
        }
    }

    /// `"quoted"` or bare; quotes are stripped.
    fn maybe_quoted(&mut self, v: &Val) -> String {
        match v.clean.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner.to_string(),
            None => v.clean.clone(),
        }
    }

    fn non_empty(&mut self, v: &Val, value: String, what: &str) -> Option<String> {
        if value.is_empty() {
            self.error(v.line, format!("no {what} given for {}", v.name));
            None
        } else {
            Some(value)
        }
    }

    fn emailalert(&mut self, v: &Val) -> Option<Vec<String>> {
        let value = self.maybe_quoted(v);
        let list: Vec<String> = value
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if list.is_empty() {
            self.error(v.line, "no email address specified");
            return None;
        }
        Some(list)
    }

    fn emailalertfreq(&mut self, v: &Val) -> Option<u32> {
        // ldirectord: `emailalertfreq\s*=\s*(\d*)`: the digits must start the value.
        let (digits, rest) = take_while(&v.clean, |c| c.is_ascii_digit());
        if digits.is_empty() {
            self.error(
                v.line,
                format!("invalid email alert frequency `{}`", v.clean),
            );
            return None;
        }
        let Ok(n) = digits.parse::<u32>() else {
            self.error(
                v.line,
                format!("invalid email alert frequency `{}`: too large", v.clean),
            );
            return None;
        };
        if !rest.is_empty() {
            self.warn(v.line, format!("emailalertfreq `{}` read as {n}", v.clean));
        }
        Some(n)
    }

    fn emailalertstatus(&mut self, v: &Val) -> Option<AlertStatus> {
        let words: Vec<&str> = v.clean.split(',').map(str::trim).collect();
        let has_none = words.contains(&"none");
        let mut status = AlertStatus::NONE;
        let mut ok = true;
        for w in &words {
            match *w {
                "none" => continue,
                "all" => status = AlertStatus::ALL,
                "starting" => status.starting = true,
                "running" => status.running = true,
                "stopping" => status.stopping = true,
                "reloading" => status.reloading = true,
                other => {
                    self.error(
                        v.line,
                        format!("invalid email alert status at: \"{other}\""),
                    );
                    ok = false;
                    continue;
                }
            }
            if has_none {
                self.error(
                    v.line,
                    format!("invalid email alert status: \"{w}\" specified with \"none\""),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let ld_words: Vec<&str> = v.ld_view.split(',').map(str::trim_start).collect();
        if ld_words.iter().zip(&words).any(|(a, b)| a != b) || ld_words.len() != words.len() {
            self.exact_quirk(v);
        }
        Some(status)
    }

    fn smtp(&mut self, v: &Val) -> Option<String> {
        let (host, _) = take_while(&v.clean, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
        });
        if host.is_empty() {
            self.error(v.line, format!("invalid SMTP server address `{}`", v.clean));
            return None;
        }
        Some(host.to_string())
    }

    /// `host[:port] [gate|masq|ipip]` (ldirectord's `parse_fallback`).
    fn fallback(&mut self, v: &Val) -> Option<RawFallback> {
        let mut words = v.clean.split_whitespace();
        let Some(hostport) = words.next() else {
            self.error(v.line, "invalid fallback server: no address given");
            return None;
        };
        let method = match words.next() {
            None => Method::Gate,
            Some(w) => match Method::from_word(w) {
                Some(m) => m,
                None => {
                    self.error(
                        v.line,
                        format!("forward method must be gate, masq or ipip, not `{w}`"),
                    );
                    return None;
                }
            },
        };
        if let Some(extra) = words.next() {
            self.error(
                v.line,
                format!("invalid fallback server: unexpected `{extra}`"),
            );
            return None;
        }
        let (host, port) = split_host_port(hostport);
        if host.is_empty() {
            self.error(v.line, format!("invalid fallback server: {}", v.clean));
            return None;
        }
        Some(RawFallback {
            line: v.line,
            host: host.to_string(),
            port: port.map(str::to_string),
            method,
        })
    }

    // ---------------------------------------------------------------- global lines

    fn global_line(&mut self, no: usize, name: &str, after_name: &str) {
        if name == "supervised" && after_name.trim().is_empty() {
            self.warn(
                no,
                "please update your config not to use a bare supervised directive",
            );
            self.globals.supervised = true;
            return;
        }
        if !is_global(name) {
            if is_block(name) {
                self.error(
                    no,
                    format!(
                        "`{name}` is only valid inside a virtual block (ldirectord: Unknown command)"
                    ),
                );
            } else {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
            return;
        }
        let Some(v) = self.value(no, name, after_name, true) else {
            return;
        };
        match name {
            "checktimeout" => {
                self.globals.checktimeout = self.number(&v, true, "check timeout value");
            }
            "negotiatetimeout" => {
                self.globals.negotiatetimeout = self.number(&v, true, "negotiate timeout value");
            }
            "checkinterval" => {
                if let Some(n) = self.number(&v, true, "check interval value") {
                    self.globals.checkinterval = n;
                }
            }
            "checkcount" => {
                if let Some(n) = self.number(&v, true, "check count value") {
                    self.globals.checkcount = n;
                }
                self.warn(
                    no,
                    "checkcount option is deprecated and slated for removal.  please see \
                     'failurecount'",
                );
            }
            "failurecount" => {
                if let Some(n) = self.number(&v, true, "failure count value") {
                    self.globals.failurecount = n;
                }
            }
            "connecttimeout" => {
                self.error(
                    no,
                    "connecttimeout directive deprecated in favour of negotiatetimeout",
                );
            }
            "timeout" => self.error(
                no,
                "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
            ),
            "fallback" | "fallback6" => {
                self.comment_quirk(&v);
                if let Some(f) = self.fallback(&v) {
                    if name == "fallback" {
                        self.global_fallback = Some(f);
                    } else {
                        self.global_fallback6 = Some(f);
                    }
                }
            }
            "fallbackcommand" => {
                self.comment_quirk(&v);
                let c = v.clean.clone();
                self.globals.fallbackcommand = self.non_empty(&v, c, "command");
            }
            "autoreload" => {
                self.comment_quirk_exact(&v, |p, b| p.globals.autoreload = b);
            }
            "fork" => self.comment_quirk_exact(&v, |p, b| p.globals.fork = b),
            "supervised" => self.comment_quirk_exact(&v, |p, b| p.globals.supervised = b),
            "quiescent" => self.comment_quirk_exact(&v, |p, b| p.globals.quiescent = b),
            "readdquiescent" => {
                self.comment_quirk_exact(&v, |p, b| p.globals.readdquiescent = b);
            }
            "cleanstop" => self.comment_quirk_exact(&v, |p, b| p.globals.cleanstop = b),
            "tlsverify" => {
                if let Some(t) = self.tlsverify(&v) {
                    self.globals.tlsverify = Some(t);
                }
            }
            "callback" => {
                if let Some(c) = self.quoted(&v) {
                    self.globals.callback = Some(c);
                }
            }
            "logfile" => {
                if let Some(l) = self.quoted(&v) {
                    if l.starts_with('/') {
                        self.globals.logfile = LogTarget::File(PathBuf::from(l));
                        self.globals.logfile_line = Some(no);
                    } else if SYSLOG_FACILITIES.contains(&l.as_str()) {
                        self.globals.logfile = LogTarget::Syslog(l);
                        self.globals.logfile_line = Some(no);
                    } else {
                        self.error(
                            no,
                            format!(
                                "logfile `{l}` is neither an absolute path nor a syslog facility"
                            ),
                        );
                    }
                }
            }
            "execute" => {
                self.comment_quirk(&v);
                let c = v.clean.clone();
                if let Some(e) = self.non_empty(&v, c, "configuration") {
                    if !self.globals.execute.contains(&e) {
                        self.globals.execute.push(e);
                    }
                }
            }
            "emailalert" => {
                self.comment_quirk(&v);
                if let Some(a) = self.emailalert(&v) {
                    self.globals.emailalert = a;
                }
            }
            "emailalertfreq" => {
                if let Some(n) = self.emailalertfreq(&v) {
                    self.globals.emailalertfreq = n;
                }
            }
            "emailalertstatus" => {
                if let Some(s) = self.emailalertstatus(&v) {
                    self.globals.emailalertstatus = s;
                }
            }
            "emailalertfrom" => {
                self.comment_quirk(&v);
                let c = v.clean.clone();
                self.globals.emailalertfrom = self.non_empty(&v, c, "email from address");
            }
            "smtp" => self.globals.smtp = self.smtp(&v),
            "maintenancedir" => {
                self.comment_quirk(&v);
                let c = v.clean.clone();
                self.globals.maintenancedir = self
                    .non_empty(&v, c, "maintenance directory")
                    .map(PathBuf::from);
            }
            _ => {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
        }
    }

    fn comment_quirk_exact(&mut self, v: &Val, set: impl FnOnce(&mut Self, bool)) {
        if let Some(b) = self.yes_no(v) {
            set(self, b);
        }
    }

    // ---------------------------------------------------------------- virtual lines

    fn virtual_line(&mut self, no: usize, name: &str, value: &str) {
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

    fn virtual_addr(&mut self, no: usize, family: Family, value: &str) -> BlockAddr {
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

    fn trailing_virtual(&mut self, no: usize, trailing: &str) {
        let t = trailing.trim();
        if !t.is_empty() {
            self.warn(no, format!("`{t}` after the virtual address ignored"));
        }
    }

    // ---------------------------------------------------------------- block lines

    fn block_line(&mut self, no: usize, name: &str, after_name: &str) {
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
            "real" | "real6" | "fallback" | "fallback6" => {
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
                } else if let Some(f) = self.fallback(&v) {
                    self.with_block(|b| b.fallback = Some(f));
                }
            }
            "request" | "receive" | "login" | "passwd" | "database" | "secret" => {
                let Some(q) = self.quoted(&v) else { return };
                let what = match name {
                    "request" => "request string",
                    "receive" => "receive string",
                    "passwd" => "password",
                    other => other,
                };
                let Some(q) = self.non_empty(&v, q, what) else {
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
            "load" => {
                let Some(q) = self.quoted(&v) else { return };
                match first_word(&q) {
                    Some(w) => {
                        let w = w.to_string();
                        self.with_block(|b| b.load = Some(w));
                    }
                    None => self.error(no, "invalid string for load testing"),
                }
            }
            "checktype" => {
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
                        "external" => Some(CheckType::External),
                        "external-perl" => Some(CheckType::ExternalPerl),
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
            "checkcommand" | "fallbackcommand" | "monitorfile" => {
                let c = self.maybe_quoted(&v);
                let what = if name == "monitorfile" {
                    "file"
                } else {
                    "command"
                };
                let Some(c) = self.non_empty(&v, c, what) else {
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
            "checktimeout" => {
                let n = self.number(&v, true, "check timeout");
                self.with_block(|b| b.checktimeout = n.or(b.checktimeout));
            }
            "negotiatetimeout" => {
                let n = self.number(&v, true, "negotiate timeout");
                self.with_block(|b| b.negotiatetimeout = n.or(b.negotiatetimeout));
            }
            "checkcount" => {
                let n = self.number(&v, true, "check count");
                self.with_block(|b| b.checkcount = n.or(b.checkcount));
                self.warn(
                    no,
                    "checkcount option is deprecated and slated for removal.  please see \
                     'failurecount'",
                );
            }
            "failurecount" => {
                let n = self.number(&v, true, "failure count");
                self.with_block(|b| b.failurecount = n.or(b.failurecount));
            }
            "checkinterval" => {
                if let Some(n) = self.number(&v, true, "checkinterval") {
                    self.with_block(|b| b.checkinterval = Some((no, n)));
                }
            }
            "connecttimeout" => {
                self.error(
                    no,
                    "connecttimeout directive deprecated in favour of negotiatetimeout",
                );
            }
            "checkport" => {
                if let Some(n) = self.number(&v, false, "port") {
                    match u16::try_from(n) {
                        Ok(p) if p > 0 => self.with_block(|b| b.checkport = Some(p)),
                        _ => {
                            self.error(no, format!("checkport must be in range 1..65535, not {n}"))
                        }
                    }
                }
            }
            "scheduler" => {
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
            "persistent" => {
                if let Some(n) = self.number(&v, false, "persistent timeout") {
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
            "schedflags" => {
                let Some(word) = v.clean.split_whitespace().next().map(str::to_string) else {
                    self.error(no, "invalid sched-flags");
                    return;
                };
                let bad: Vec<&str> = word
                    .split(',')
                    .filter(|f| super::table::sched_flag_bit(f).is_none())
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
            "netmask" => {
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
                    self.exact_quirk(&v);
                    self.with_block(|b| {
                        b.netmask = Some(nm);
                        b.netmask_line = no;
                    });
                }
            }
            "protocol" => {
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
            "ops" => {
                if let Some(b) = self.yes_no(&v) {
                    self.with_block(|blk| blk.ops = Some((no, b)));
                }
            }
            "quiescent" => {
                if let Some(b) = self.yes_no(&v) {
                    self.with_block(|blk| blk.quiescent = Some(b));
                }
            }
            "cleanstop" => {
                if let Some(b) = self.yes_no(&v) {
                    self.with_block(|blk| blk.cleanstop = Some(b));
                }
            }
            "tlsverify" => {
                if let Some(t) = self.tlsverify(&v) {
                    self.with_block(|blk| blk.tlsverify = Some(t));
                }
            }
            "service" => {
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
            "httpmethod" => match first_word(&v.clean).map(str::to_ascii_uppercase).as_deref() {
                Some("GET") => self.with_block(|b| b.httpmethod = HttpMethod::Get),
                Some("HEAD") => self.with_block(|b| b.httpmethod = HttpMethod::Head),
                _ => self.error(
                    no,
                    format!("httpmethod must be GET or HEAD, not `{}`", v.clean),
                ),
            },
            "virtualhost" => {
                let s = v.clean.strip_prefix('"').unwrap_or(&v.clean);
                let host = s.split('"').next().unwrap_or("").to_string();
                if host.is_empty() {
                    self.warn(no, "empty virtualhost ignored");
                } else {
                    self.with_block(|b| b.virtualhost = Some(host));
                }
            }
            "emailalert" => {
                if let Some(a) = self.emailalert(&v) {
                    self.with_block(|b| b.emailalert = Some(a));
                }
            }
            "emailalertfreq" => {
                if let Some(n) = self.emailalertfreq(&v) {
                    self.with_block(|b| b.emailalertfreq = Some(n));
                }
            }
            "emailalertstatus" => {
                if let Some(s) = self.emailalertstatus(&v) {
                    self.with_block(|b| b.emailalertstatus = Some(s));
                }
            }
            "smtp" => {
                if let Some(s) = self.smtp(&v) {
                    self.with_block(|b| b.smtp = Some(s));
                }
            }
            "servicename" => {
                let s = v.clean.clone();
                self.with_block(|b| b.servicename = Some(s));
            }
            "comment" => {
                let s = v.clean.clone();
                self.with_block(|b| b.comment = Some(s));
            }
            _ => {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
        }
    }

    fn with_block(&mut self, f: impl FnOnce(&mut Block)) {
        if let Some(b) = self.blocks.last_mut() {
            f(b);
        }
    }

    // ---------------------------------------------------------------- resolution

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

    fn resolve_fallback(
        &mut self,
        f: &RawFallback,
        family: Family,
        protocol: Option<&str>,
        report: bool,
    ) -> Option<FallbackSpec> {
        let Some(addr) = self.host(&f.host, family) else {
            if report {
                let v = if family == Family::V6 { "IPv6" } else { "IPv4" };
                self.error(
                    f.line,
                    format!(
                        "invalid {v} address or could not resolve for fallback server: {}",
                        f.host
                    ),
                );
            }
            return None;
        };
        let port = match &f.port {
            None => None,
            Some(p) => match self.port(p, protocol) {
                Some(n) => Some(n),
                None => {
                    if report {
                        self.error(f.line, format!("invalid port `{p}` for fallback server"));
                    }
                    return None;
                }
            },
        };
        Some(FallbackSpec {
            addr,
            port,
            method: f.method,
        })
    }

    // ---------------------------------------------------------------- finish

    fn finish(&mut self) -> Config {
        let mut globals = std::mem::take(&mut self.globals);
        for (raw, family) in [
            (self.global_fallback.take(), Family::V4),
            (self.global_fallback6.take(), Family::V6),
        ] {
            let Some(raw) = raw else { continue };
            if self.host(&raw.host, family).is_none() {
                let v = if family == Family::V6 { "IPv6" } else { "IPv4" };
                self.error(
                    raw.line,
                    format!(
                        "invalid {v} address or could not resolve for fallback server: {}",
                        raw.host
                    ),
                );
                continue;
            }
            let tcp = self.resolve_fallback(&raw, family, Some("tcp"), false);
            let udp = self.resolve_fallback(&raw, family, Some("udp"), false);
            if tcp.is_none() && udp.is_none() {
                let p = raw.port.clone().unwrap_or_default();
                self.error(raw.line, format!("invalid port `{p}` for fallback server"));
                continue;
            }
            let g = GlobalFallback {
                line: raw.line,
                tcp,
                udp,
            };
            if family == Family::V4 {
                globals.fallback = Some(g);
            } else {
                globals.fallback6 = Some(g);
            }
        }

        let blocks = std::mem::take(&mut self.blocks);
        if blocks.is_empty() {
            // Valid, as in ldirectord, and dangerous: a reload to an empty or truncated file
            // removes every service the running configuration has.
            self.diags.push(Diagnostic::warning(
                self.file,
                None,
                "no virtual service in this file: it manages no service, and a reload to it \
                 removes every virtual service of the running configuration (ldirectord does \
                 the same)",
            ));
        }
        let mut virtuals: Vec<Built> = Vec::new();
        // Where each virtual service was first defined: duplicates are found in one pass.
        let mut first_lines: HashMap<VirtualAddress, usize> = HashMap::new();
        let mut warned_missing_proto = [false, false];
        for block in blocks {
            let Some(vs) = self.build(&globals, block, &mut warned_missing_proto) else {
                continue;
            };
            if let Some(&first_line) = first_lines.get(&vs.address) {
                self.error(
                    vs.line,
                    format!(
                        "duplicate virtual server {} (first defined at line {first_line})",
                        vs.address
                    ),
                );
                continue;
            }
            first_lines.insert(vs.address, vs.line);
            virtuals.push(vs);
        }
        // A global fallback whose port name exists for one protocol only: ldirectord rejects
        // the whole file; director only minds when a service of the other protocol needs it.
        for (g, idx) in [(&globals.fallback, 0), (&globals.fallback6, 1)] {
            if let Some(g) = g {
                if (g.tcp.is_none() || g.udp.is_none()) && !warned_missing_proto[idx] {
                    let missing = if g.tcp.is_none() { "tcp" } else { "udp" };
                    self.warn(
                        g.line,
                        format!(
                            "the fallback port has no {missing} entry in /etc/services: \
                             ldirectord 1.186 rejects this line; director uses the fallback \
                             for the other protocol only"
                        ),
                    );
                }
            }
        }
        if !globals.fork {
            for vs in &virtuals {
                if let Some(line) = vs.checkinterval_line {
                    self.warn(
                        line,
                        format!(
                            "checkinterval in virtual service {} ignored when fork=no",
                            vs.address
                        ),
                    );
                }
            }
        }
        Config {
            globals,
            virtuals: virtuals.into_iter().map(|v| v.vs).collect(),
        }
    }

    fn build(
        &mut self,
        globals: &Globals,
        b: Block,
        warned_missing_proto: &mut [bool; 2],
    ) -> Option<Built> {
        let proto_name = match b.protocol {
            Protocol::Tcp => Some("tcp"),
            Protocol::Udp => Some("udp"),
            Protocol::Fwm => None,
        };
        // The virtual address, resolved with the block's final protocol.
        let address = match &b.addr {
            BlockAddr::Invalid => None,
            BlockAddr::Fwmark(mark) => Some(VirtualAddress::Fwmark {
                family: b.family,
                mark: *mark,
            }),
            BlockAddr::Host { host, port } => {
                let addr = self.host(host, b.family);
                let p = self.port(port, proto_name);
                match (addr, p) {
                    (Some(addr), Some(p)) => Some(VirtualAddress::Addr {
                        protocol: b.protocol,
                        addr,
                        port: p,
                    }),
                    (None, _) => {
                        let fam = if b.family == Family::V6 {
                            "IPv6"
                        } else {
                            "IPv4"
                        };
                        self.error(
                            b.line,
                            format!(
                                "invalid address for virtual service: could not resolve `{host}` \
                                 to an {fam} address"
                            ),
                        );
                        None
                    }
                    (Some(_), None) => {
                        self.error(
                            b.line,
                            format!(
                                "invalid address for virtual service: unknown port `{port}` for \
                                 {}",
                                b.protocol.name()
                            ),
                        );
                        None
                    }
                }
            }
        };
        if let Some(VirtualAddress::Addr { port: 0, .. }) = address {
            if b.persistent.is_none() {
                self.error(
                    b.line,
                    "port 0 is only allowed for persistent services (ipvsadm: Zero port \
                     specified for non-persistent service)",
                );
            }
        }
        if let Some((line, true)) = b.ops {
            if b.protocol != Protocol::Udp {
                self.warn(line, "ops=yes only applies to udp services; ignored");
            }
        }
        if b.netmask.is_some() && b.persistent.is_none() {
            self.warn(
                b.netmask_line,
                "netmask is only used with persistent; ignored",
            );
        }
        if let Some((flags_line, flags)) = &b.schedflags {
            for f in flags.split(',') {
                let needs = if f.starts_with("sh-") {
                    Some("sh")
                } else if f.starts_with("mh-") {
                    Some("mh")
                } else {
                    None
                };
                if let Some(sched) = needs {
                    if b.scheduler != sched {
                        self.error(
                            *flags_line,
                            format!(
                                "sched-flag `{f}` needs scheduler {sched}, not {} (ipvsadm: \
                                 incompatible scheduler flag)",
                                b.scheduler
                            ),
                        );
                    }
                }
            }
        }

        let vport = address.map(|a| a.port());
        // Real servers.
        let mut reals: Vec<Real> = Vec::new();
        for raw in &b.reals {
            self.real(raw, b.family, &mut reals);
        }
        let (reals, dups) = dedup_reals(reals);
        for (line, msg) in dups {
            self.warn(line, msg);
        }

        // Fallback: the block's own, else the global one for the family and protocol.
        let global_fallback = if b.family == Family::V6 {
            &globals.fallback6
        } else {
            &globals.fallback
        };
        let fallback_line = b
            .fallback
            .as_ref()
            .map(|f| f.line)
            .or_else(|| global_fallback.as_ref().map(|g| g.line));
        let fallback = if let Some(f) = &b.fallback {
            self.resolve_fallback(f, b.family, proto_name, true)
                .and_then(|s| vport.map(|vp| fallback_with_port(s, vp)))
        } else {
            match (global_fallback, b.protocol) {
                (None, _) => None,
                (Some(g), Protocol::Fwm) => {
                    self.warn(
                        b.line,
                        format!(
                            "the global fallback (line {}) does not apply to firewall-mark \
                             services (ldirectord 1.186 programs a broken one); give this block \
                             its own fallback=",
                            g.line
                        ),
                    );
                    None
                }
                (Some(g), proto) => {
                    let spec = if proto == Protocol::Udp { g.udp } else { g.tcp };
                    match spec {
                        Some(s) => vport.map(|vp| fallback_with_port(s, vp)),
                        None => {
                            let idx = usize::from(b.family == Family::V6);
                            if let Some(flag) = warned_missing_proto.get_mut(idx) {
                                *flag = true;
                            }
                            self.error(
                                g.line,
                                format!(
                                    "the fallback port has no {} entry in /etc/services, but \
                                     the virtual service at line {} needs it",
                                    proto.name(),
                                    b.line
                                ),
                            );
                            None
                        }
                    }
                }
            }
        };

        let address = address?;
        let service = b
            .service
            .unwrap_or_else(|| Service::from_port(address.port()));
        let checktimeout = b
            .checktimeout
            .or(b.negotiatetimeout)
            .or(globals.checktimeout)
            .or(globals.negotiatetimeout)
            .unwrap_or(5);
        let negotiatetimeout = b
            .negotiatetimeout
            .or(b.checktimeout)
            .or(globals.negotiatetimeout)
            .or(globals.checktimeout)
            .unwrap_or(30);
        let checkinterval = match b.checkinterval {
            Some((_, n)) if globals.fork => n,
            _ => globals.checkinterval,
        };
        let vs = VirtualService {
            line: b.line,
            address,
            reals,
            fallback,
            fallbackcommand: b
                .fallbackcommand
                .or_else(|| globals.fallbackcommand.clone()),
            service,
            checktype: b.checktype,
            checkcommand: b.checkcommand,
            checkport: b.checkport,
            timing: Timing {
                checktimeout,
                negotiatetimeout,
                checkinterval,
                checkcount: b.checkcount.unwrap_or(globals.checkcount),
                failurecount: b.failurecount.unwrap_or(globals.failurecount),
            },
            request: b.request,
            receive: b.receive,
            httpmethod: b.httpmethod,
            virtualhost: b.virtualhost,
            login: b.login,
            passwd: b.passwd,
            database: b.database,
            secret: b.secret,
            load: b.load,
            scheduler: b.scheduler,
            persistent: b.persistent,
            netmask: b.netmask,
            schedflags: b.schedflags.map(|(_, f)| f),
            ops: b.ops.is_some_and(|(_, o)| o),
            quiescent: b.quiescent.unwrap_or(globals.quiescent),
            cleanstop: b.cleanstop.unwrap_or(globals.cleanstop),
            tlsverify: b.tlsverify.or(globals.tlsverify),
            alert: Alert {
                to: b.emailalert.unwrap_or_else(|| globals.emailalert.clone()),
                freq: b.emailalertfreq.unwrap_or(globals.emailalertfreq),
                status: b.emailalertstatus.unwrap_or(globals.emailalertstatus),
                from: globals.emailalertfrom.clone(),
                smtp: b.smtp.or_else(|| globals.smtp.clone()),
            },
            monitorfile: b.monitorfile,
            servicename: b.servicename,
            comment: b.comment,
        };
        if let Some(line) = fallback_line {
            self.real_is_fallback(&vs, line);
        }
        Some(Built {
            line: vs.line,
            address: vs.address,
            checkinterval_line: b.checkinterval.map(|(l, _)| l),
            vs,
        })
    }

    /// A real server that is also its virtual's fallback (`fallback_line`) is one kernel
    /// destination. ldirectord 1.186 takes its fallback out by address and port whenever a real
    /// server comes up, so it deletes that real each time (ref ldirectord.md 6.2, 6.3); director
    /// keeps the real while its check passes, and says so here. Not for `checktype=off`, whose
    /// reals never come up.
    fn real_is_fallback(&mut self, vs: &VirtualService, fallback_line: usize) {
        let Some(f) = vs.fallback else { return };
        if vs.checktype == CheckType::Off {
            return;
        }
        let in_kernel = dest(vs, f.addr, f.port, f.method, 1).key();
        // ldirectord looks for the fallback at its address and port as configured first.
        let configured = DestKey {
            addr: f.addr,
            port: f.port,
        };
        for r in &vs.reals {
            let k = dest(vs, r.addr, r.port, r.method, r.weight).key();
            if k != in_kernel && k != configured {
                continue;
            }
            let shown = match k.addr {
                IpAddr::V6(a) => format!("[{a}]:{}", k.port),
                IpAddr::V4(a) => format!("{a}:{}", k.port),
            };
            self.warn(
                r.line,
                format!(
                    "real server {shown} is also the fallback server of virtual service {} \
                     (line {fallback_line}): ldirectord 1.186 deletes it from the table whenever \
                     a real server of this virtual comes up (it takes the fallback out by \
                     address); director keeps it while its check passes",
                    vs.address
                ),
            );
        }
    }

    /// One `real=` line: `ADDR[->ADDR][:PORT] METHOD [WEIGHT] ["REQUEST","RECEIVE"] [l:N] [u:N]`.
    fn real(&mut self, raw: &RawReal, family: Family, out: &mut Vec<Real>) {
        let no = raw.line;
        let text = raw.text.as_str();
        let Some((first, rest)) = real_addr(text) else {
            self.error(
                no,
                format!("invalid address for real server (wrong format): `{text}`"),
            );
            return;
        };
        let (last, rest) = match rest.strip_prefix("->") {
            Some(r) => match real_addr(r) {
                Some((l, r)) => (Some(l), r),
                None => {
                    self.error(
                        no,
                        format!("invalid address for real server (wrong format): `{text}`"),
                    );
                    return;
                }
            },
            None => (None, rest),
        };
        let (port, rest) = match rest.strip_prefix(':') {
            Some(r) => {
                let (p, r) = take_while(r, is_port_char);
                if p.is_empty() {
                    let hint = doubled_colon_hint(text, r, family);
                    self.error(
                        no,
                        format!("invalid address for real server (wrong format): `{text}`{hint}"),
                    );
                    return;
                }
                (Some(p), r)
            }
            None => (None, rest),
        };
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            self.error(
                no,
                format!("invalid address for real server (wrong format) around `{rest}`"),
            );
            return;
        }
        let flags = rest.trim_start();

        let Some(addr1) = self.host(first, family) else {
            self.error(
                no,
                format!("invalid address ({first}) for real server (could not resolve host)"),
            );
            return;
        };
        let port = match port {
            None => 0,
            Some(p) => match self.port(p, None) {
                Some(n) => n,
                None => {
                    self.error(
                        no,
                        format!("invalid port ({p}) for real server (could not resolve port)"),
                    );
                    return;
                }
            },
        };
        let Some(template) = self.real_flags(no, flags) else {
            return;
        };
        let mk = |addr: IpAddr| Real {
            line: no,
            addr,
            port,
            ..template.clone()
        };
        let Some(last) = last else {
            out.push(mk(addr1));
            return;
        };
        let Some(addr2) = self.host(last, family) else {
            self.error(
                no,
                format!("invalid address ({last}) for real server (could not resolve end host)"),
            );
            return;
        };
        let (IpAddr::V4(a), IpAddr::V4(z)) = (addr1, addr2) else {
            self.error(no, "Address range for IPv6 is not supported yet");
            return;
        };
        let (a, z) = (u32::from(a), u32::from(z));
        if a > z {
            self.error(
                no,
                format!(
                    "Invalid Range: {addr1}-{addr2}: First value must be greater than or equal \
                     to the second value"
                ),
            );
            return;
        }
        if z - a >= MAX_RANGE {
            self.error(
                no,
                format!(
                    "range {addr1}->{addr2} has {} addresses; at most {MAX_RANGE} are allowed",
                    u64::from(z - a) + 1
                ),
            );
            return;
        }
        if a.to_string().len() != z.to_string().len() {
            self.warn(
                no,
                format!(
                    "ldirectord 1.186 compares this range as text and stops it early; director \
                     uses every address from {addr1} to {addr2}"
                ),
            );
        }
        for i in a..=z {
            out.push(mk(IpAddr::V4(i.into())));
        }
    }

    /// The part of a real line after the address: method, weight, request/receive,
    /// thresholds. Returns a `Real` template (address and port are filled in by the caller).
    fn real_flags(&mut self, no: usize, flags: &str) -> Option<Real> {
        let (method_word, mut rest) = take_while(flags, is_word);
        let Some(method) = Method::from_word(method_word) else {
            let shown = if method_word.is_empty() {
                flags
            } else {
                method_word
            };
            self.error(
                no,
                format!("forward method must be gate, masq or ipip, not `{shown}`"),
            );
            return None;
        };
        let mut real = Real {
            line: no,
            addr: IpAddr::V4(0.into()),
            port: 0,
            method,
            weight: 1,
            request: None,
            receive: None,
            lower: 0,
            upper: 0,
        };
        let mut weight_seen = false;
        // Weight: blank(s) then digits.
        if let Some((n, r)) = blank_then(rest, |s| {
            let (d, r) = take_while(s, |c| c.is_ascii_digit());
            (!d.is_empty()).then_some((d, r))
        }) {
            rest = r;
            weight_seen = true;
            real.weight = self.weight(no, n)?;
        }
        // "request"(,| )"receive"
        if let Some(((req, rec), r)) = blank_then(rest, split_request_receive) {
            rest = r;
            if rec.contains([' ', '\t'])
                && rec
                    .split_whitespace()
                    .skip(1)
                    .any(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            {
                self.warn(
                    no,
                    "ldirectord 1.186 rejects a receive string with a blank before digits \
                     (it takes them as the weight); director reads it as written",
                );
            }
            if req.starts_with('/') {
                self.warn(
                    no,
                    "ldirectord 1.186 ignores a per-real request/receive whose request starts \
                     with `/` and checks this real with the virtual's; director uses the ones \
                     given here",
                );
            }
            real.request = Some(if req.starts_with('/') {
                req.to_string()
            } else {
                format!("/{req}")
            });
            real.receive = Some(rec.to_string());
            if !weight_seen {
                if let Some((n, r)) = blank_then(rest, |s| {
                    let (d, r) = take_while(s, |c| c.is_ascii_digit());
                    (!d.is_empty() && (r.is_empty() || r.starts_with([' ', '\t'])))
                        .then_some((d, r))
                }) {
                    rest = r;
                    real.weight = self.weight(no, n)?;
                    self.warn(
                        no,
                        "weight after the request/receive: ldirectord 1.186 takes the weight but \
                         drops the request/receive; director keeps both",
                    );
                }
            }
        }
        if let Some((n, r)) = blank_then(rest, |s| threshold(s, "l:")) {
            rest = r;
            real.lower = self.threshold(no, n)?;
        }
        if let Some((n, r)) = blank_then(rest, |s| threshold(s, "u:")) {
            rest = r;
            real.upper = self.threshold(no, n)?;
        }
        if !rest.trim().is_empty() {
            self.error(
                no,
                format!("Invalid real server line, around \"{}\"", rest.trim()),
            );
            return None;
        }
        Some(real)
    }

    fn weight(&mut self, no: usize, digits: &str) -> Option<u32> {
        match digits.parse::<u32>() {
            Ok(w) if w <= MAX_WEIGHT => Some(w),
            _ => {
                self.error(no, format!("weight {digits} out of range 0..{MAX_WEIGHT}"));
                None
            }
        }
    }

    fn threshold(&mut self, no: usize, digits: &str) -> Option<u32> {
        match digits.parse::<u32>() {
            Ok(w) if w <= MAX_THRESHOLD => Some(w),
            _ => {
                self.error(
                    no,
                    format!("threshold {digits} out of range 0..{MAX_THRESHOLD}"),
                );
                None
            }
        }
    }
}

/// A built virtual with what `finish` still needs.
struct Built {
    line: usize,
    address: VirtualAddress,
    checkinterval_line: Option<usize>,
    vs: VirtualService,
}

/// Syslog facilities (`logfile="local0"`).
const SYSLOG_FACILITIES: [&str; 20] = [
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

fn fallback_with_port(s: FallbackSpec, vport: u16) -> Fallback {
    Fallback {
        addr: s.addr,
        port: s.port.unwrap_or(vport),
        method: s.method,
    }
}

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

/// `ADDR::PORT` (a doubled colon; `after` is what follows the first one): the likely fix, and
/// for IPv4 what ldirectord 1.186 makes of the line (its unanchored pattern skips to the port
/// and takes it as the address, with port 0). Empty when the line is wrong in another way.
fn doubled_colon_hint(text: &str, after: &str, family: Family) -> String {
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

/// One address of a real line: `[v6]` or a run of `[A-Za-z0-9.-]`, and what follows.
fn real_addr(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let inner = s.get(1..end)?;
        if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return None;
        }
        return Some((s.get(..=end)?, s.get(end + 1..)?));
    }
    // Stop before "->" so that a range splits correctly.
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c == '-' && s.get(i..).is_some_and(|r| r.starts_with("->")) {
            break;
        }
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    if end == 0 {
        return None;
    }
    Some((s.get(..end)?, s.get(end..)?))
}

/// At least one blank, then whatever `f` parses.
fn blank_then<'s, T>(
    s: &'s str,
    f: impl Fn(&'s str) -> Option<(T, &'s str)>,
) -> Option<(T, &'s str)> {
    let t = s.trim_start_matches([' ', '\t']);
    if t.len() == s.len() {
        return None;
    }
    f(t)
}

/// `"request"(,| )\s*"receive"`: the request ends at the first `"` followed by `,` or a
/// blank and another `"`; the receive ends at the last `"` of the line.
fn split_request_receive(s: &str) -> Option<((&str, &str), &str)> {
    let body = s.strip_prefix('"')?;
    let mut search = 0;
    loop {
        let q = body.get(search..)?.find('"')? + search;
        let after = body.get(q + 1..)?;
        if let Some(sep) = after.strip_prefix([',', ' ']) {
            if let Some(recv) = sep.trim_start_matches([' ', '\t']).strip_prefix('"') {
                let end = recv.rfind('"')?;
                return Some(((body.get(..q)?, recv.get(..end)?), recv.get(end + 1..)?));
            }
        }
        search = q + 1;
    }
}

fn threshold<'s>(s: &'s str, prefix: &str) -> Option<(&'s str, &'s str)> {
    let r = s.strip_prefix(prefix)?;
    let (d, r) = take_while(r, |c| c.is_ascii_digit());
    (!d.is_empty()).then_some((d, r))
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

/// Duplicate `real=` lines collapse into one destination (ldirectord does the same);
/// a second line for the same address and port with other settings replaces the first (and
/// takes its place at the end). Returns the reals kept and a warning `(line, message)` for
/// each line dropped or replaced. Linear: a map from address and port to the slot of the real
/// kept for them.
pub(super) fn dedup_reals(reals: Vec<Real>) -> (Vec<Real>, Vec<(usize, String)>) {
    let mut warnings = Vec::new();
    let mut slots: Vec<Option<Real>> = Vec::with_capacity(reals.len());
    let mut index: HashMap<(IpAddr, u16), usize> = HashMap::with_capacity(reals.len());
    for r in reals {
        let key = (r.addr, r.port);
        if let Some(&pos) = index.get(&key) {
            if let Some(slot) = slots.get_mut(pos) {
                if let Some(prev) = slot.as_ref() {
                    let same = Real {
                        line: prev.line,
                        ..r.clone()
                    } == *prev;
                    let addr = match r.addr {
                        IpAddr::V6(a) => format!("[{a}]:{}", r.port),
                        IpAddr::V4(a) => format!("{a}:{}", r.port),
                    };
                    if same {
                        warnings.push((
                            r.line,
                            format!(
                                "real server {addr} already listed at line {}; listed once",
                                prev.line
                            ),
                        ));
                        continue;
                    }
                    warnings.push((
                        r.line,
                        format!(
                            "real server {addr} already listed at line {} with other settings; \
                             this line replaces it",
                            prev.line
                        ),
                    ));
                }
                *slot = None;
            }
        }
        index.insert(key, slots.len());
        slots.push(Some(r));
    }
    (slots.into_iter().flatten().collect(), warnings)
}
