//! Small text helpers that reproduce ldirectord's regex-based value rules.

use std::net::Ipv4Addr;

/// Columns of leading blanks, with a TAB counted as 4 (ldirectord replaces each TAB by 4
/// spaces before it looks at indentation).
pub(super) fn indent_columns(line: &str) -> usize {
    let mut cols = 0;
    for c in line.chars() {
        match c {
            ' ' => cols += 1,
            '\t' => cols += 4,
            _ => break,
        }
    }
    cols
}

/// Where a `#` outside double quotes starts, if any.
pub(super) fn comment_start(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether the line has a `#` between double quotes (ldirectord cuts block lines at any `#`).
pub(super) fn hash_in_quotes(s: &str) -> bool {
    let mut in_quotes = false;
    for c in s.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if in_quotes => return true,
            _ => {}
        }
    }
    false
}

/// The first run of ASCII digits anywhere in `s` (Perl `/(\d+)/`), as text.
pub(super) fn first_digits(s: &str) -> Option<&str> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let rest = s.get(start..)?;
    let len = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest.get(..len)
}

/// The leading run of characters matching `pred`, and what follows it.
pub(super) fn take_while(s: &str, pred: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c: char| !pred(c)).unwrap_or(s.len());
    (s.get(..end).unwrap_or(""), s.get(end..).unwrap_or(""))
}

/// Perl's `\w`.
pub(super) fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first run of `\w` characters (Perl `/(\w+)/`).
pub(super) fn first_word(s: &str) -> Option<&str> {
    let start = s.find(is_word)?;
    let rest = s.get(start..)?;
    Some(take_while(rest, is_word).0)
}

/// `inet_aton`, which `getaddrinfo(AF_INET)` uses for numeric names: 1 to 4 parts, each
/// decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
pub(super) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        values.push(aton_part(p)?);
    }
    let (last, head) = values.split_last()?;
    let mut addr: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        addr |= v << (24 - 8 * i as u32);
    }
    let room_bits = 32 - 8 * head.len() as u32;
    if room_bits < 32 && *last >= (1u64 << room_bits) as u32 {
        return None;
    }
    Some(Ipv4Addr::from(addr | last))
}

fn aton_part(p: &str) -> Option<u32> {
    if p.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = p.strip_prefix('0').filter(|o| !o.is_empty()) {
        (o, 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // "0x" alone is 0 for glibc.
        return if radix == 16 { Some(0) } else { None };
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indentation_counts_tabs_as_four() {
        assert_eq!(indent_columns("    real=x"), 4);
        assert_eq!(indent_columns("\treal=x"), 4);
        assert_eq!(indent_columns("  \treal=x"), 6);
        assert_eq!(indent_columns("real=x"), 0);
    }

    #[test]
    fn comments_outside_quotes() {
        assert_eq!(comment_start("a=b # c"), Some(4));
        assert_eq!(comment_start("a=\"b#c\" # d"), Some(8));
        assert_eq!(comment_start("a=\"b#c\""), None);
        assert!(hash_in_quotes("receive=\"a#b\""));
        assert!(!hash_in_quotes("receive=\"ab\" # x"));
    }

    #[test]
    fn digit_and_word_runs() {
        assert_eq!(first_digits("3s"), Some("3"));
        assert_eq!(first_digits(" abc 12 # 5"), Some("12"));
        assert_eq!(first_digits("none"), None);
        assert_eq!(first_word("  GET x"), Some("GET"));
        assert_eq!(first_word("---"), None);
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("192.0.2.1"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(inet_aton("5060"), Some(Ipv4Addr::new(0, 0, 19, 196)));
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("256.0.0.1"), None);
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("1.2.65536"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("09"), None);
        assert_eq!(inet_aton("host"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1..2"), None);
    }
}
