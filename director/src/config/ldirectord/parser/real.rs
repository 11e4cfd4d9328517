//! `real=` lines: address (or range), port, method, weight, thresholds, request / receive;
//! duplicates merged.

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::model::{Method, Real};
use super::super::text::{is_word, take_while};
use super::block::doubled_colon_hint;
use super::directive::{MAX_RANGE, MAX_THRESHOLD, MAX_WEIGHT};
use super::line::Parser;
use super::raw::RawReal;
use super::value::is_port_char;
use crate::ipvs::Family;

impl Parser<'_> {
    /// One `real=` line: `ADDR[->ADDR][:PORT] METHOD [WEIGHT] ["REQUEST","RECEIVE"] [l:N] [u:N]`.
    pub(super) fn real(&mut self, raw: &RawReal, family: Family, out: &mut Vec<Real>) {
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
    pub(super) fn real_flags(&mut self, no: usize, flags: &str) -> Option<Real> {
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

    pub(super) fn weight(&mut self, no: usize, digits: &str) -> Option<u32> {
        match digits.parse::<u32>() {
            Ok(w) if w <= MAX_WEIGHT => Some(w),
            _ => {
                self.error(no, format!("weight {digits} out of range 0..{MAX_WEIGHT}"));
                None
            }
        }
    }

    pub(super) fn threshold(&mut self, no: usize, digits: &str) -> Option<u32> {
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

/// One address of a real line: `[v6]` or a run of `[A-Za-z0-9.-]`, and what follows.
pub(super) fn real_addr(s: &str) -> Option<(&str, &str)> {
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
pub(super) fn blank_then<'s, T>(
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
pub(super) fn split_request_receive(s: &str) -> Option<((&str, &str), &str)> {
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

pub(super) fn threshold<'s>(s: &'s str, prefix: &str) -> Option<(&'s str, &'s str)> {
    let r = s.strip_prefix(prefix)?;
    let (d, r) = take_while(r, |c| c.is_ascii_digit());
    (!d.is_empty()).then_some((d, r))
}

/// Duplicate `real=` lines collapse into one destination (ldirectord does the same);
/// a second line for the same address and port with other settings replaces the first (and
/// takes its place at the end). Returns the reals kept and a warning `(line, message)` for
/// each line dropped or replaced. Linear: a map from address and port to the slot of the real
/// kept for them.
pub(crate) fn dedup_reals(reals: Vec<Real>) -> (Vec<Real>, Vec<(usize, String)>) {
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
