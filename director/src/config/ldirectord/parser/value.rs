//! Value rules shared by the directives: yes/no, numbers, quoted strings, the comment and
//! exact-match quirks, and the values several directives share (fallback, email alerts, smtp).

use super::super::model::{AlertStatus, Method, TlsVerify};
use super::super::text::{first_digits, first_word, take_while};
use super::line::Parser;
use super::raw::{RawFallback, Val};

impl Parser<'_> {
    /// A value ldirectord compares exactly: warn when only blanks/comments make it differ.
    pub(super) fn exact_quirk(&mut self, v: &Val) {
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
    pub(super) fn comment_quirk(&mut self, v: &Val) {
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
    pub(super) fn tlsverify(&mut self, v: &Val) -> Option<TlsVerify> {
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

    pub(super) fn yes_no(&mut self, v: &Val) -> Option<bool> {
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
    pub(super) fn number(&mut self, v: &Val, nonzero: bool, what: &str) -> Option<u32> {
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
    pub(super) fn quoted(&mut self, v: &Val) -> Option<String> {
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
    pub(super) fn maybe_quoted(&mut self, v: &Val) -> String {
        match v.clean.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner.to_string(),
            None => v.clean.clone(),
        }
    }

    pub(super) fn non_empty(&mut self, v: &Val, value: String, what: &str) -> Option<String> {
        if value.is_empty() {
            self.error(v.line, format!("no {what} given for {}", v.name));
            None
        } else {
            Some(value)
        }
    }

    pub(super) fn emailalert(&mut self, v: &Val) -> Option<Vec<String>> {
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

    pub(super) fn emailalertfreq(&mut self, v: &Val) -> Option<u32> {
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

    pub(super) fn emailalertstatus(&mut self, v: &Val) -> Option<AlertStatus> {
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

    pub(super) fn smtp(&mut self, v: &Val) -> Option<String> {
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
    pub(super) fn fallback(&mut self, v: &Val) -> Option<RawFallback> {
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

    pub(super) fn comment_quirk_exact(&mut self, v: &Val, set: impl FnOnce(&mut Self, bool)) {
        if let Some(b) = self.yes_no(v) {
            set(self, b);
        }
    }
}

/// `host[:port]` split as ldirectord does: the port is a trailing `:[A-Za-z0-9_-]+`.
pub(super) fn split_host_port(s: &str) -> (&str, Option<&str>) {
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
pub(super) fn is_port_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

pub(super) fn parse_dotted_quad(s: &str) -> Option<std::net::Ipv4Addr> {
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
