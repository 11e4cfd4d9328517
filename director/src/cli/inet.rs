//! The C library's number and address parsers and printers, with glibc's exact rules
//! (`strtol`, `atoi`, `inet_aton`, `inet_pton`, `inet_ntop`), as ipvsadm relies on them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol(s, &end, base)` for base 10 or 16: the value (saturated like glibc, with an overflow
/// flag) and the number of bytes consumed (0 when no digits were read).
fn strtol(s: &[u8], base: u32) -> (i64, bool, usize) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if base == 16
        && i + 1 < s.len()
        && s[i] == b'0'
        && (s[i + 1] | 0x20) == b'x'
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let start = i;
    let mut val: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|c| (*c as char).to_digit(base)) {
        match val
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => val = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, false, 0);
    }
    let limit = if neg { 1u64 << 63 } else { (1u64 << 63) - 1 };
    if overflow || val > limit {
        return (if neg { i64::MIN } else { i64::MAX }, true, i);
    }
    let v = if neg {
        (val as i64).wrapping_neg()
    } else {
        val as i64
    };
    (v, false, i)
}

/// ipvsadm's `string_to_number`: the whole string must be a base-10 `long` within min..=max.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (v, overflow, used) = strtol(s.as_bytes(), 10);
    if used == 0 || used != s.len() || overflow || v < min || v > max {
        return None;
    }
    Some(v)
}

/// ipvsadm's `parse_fwmark`: `strtol` then `l <= 0 || l > UINT_MAX` on an unsigned long.
pub fn parse_fwmark(s: &str) -> Option<u32> {
    let (v, overflow, used) = strtol(s.as_bytes(), 10);
    if used == 0 || used != s.len() || overflow || v <= 0 || v > i64::from(u32::MAX) {
        return None;
    }
    u32::try_from(v).ok()
}

/// `atoi`: leading blanks, sign, digits; anything after is ignored; no error.
pub fn atoi(s: &str) -> i32 {
    let (v, _, _) = strtol(s.as_bytes(), 10);
    v as i32
}

/// `strtoul(s, NULL, 16)` as used by ipvsadm on /proc addresses (no error reporting).
pub fn strtoul16(s: &str) -> u64 {
    let (v, _, _) = strtol(s.as_bytes(), 16);
    v as u64
}

/// sscanf `%hX`: a hexadecimal number truncated to 16 bits; None when no digits.
pub fn scan_hex_u16(s: &str) -> Option<u16> {
    let (v, _, used) = strtol(s.as_bytes(), 16);
    if used == 0 {
        return None;
    }
    Some(v as u16)
}

/// sscanf `%d`.
pub fn scan_int(s: &str) -> Option<i32> {
    let (v, _, used) = strtol(s.as_bytes(), 10);
    if used == 0 {
        return None;
    }
    Some(v as i32)
}

/// glibc `inet_aton`: 1 to 4 parts, each decimal, octal (`0`) or hex (`0x`); trailing blank
/// and anything after it is accepted.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts: Vec<u32> = Vec::new();
    let val;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (base, digits_start) = if b[i] == b'0'
            && b.get(i + 1).is_some_and(|c| (c | 0x20) == b'x')
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16, i + 2)
        } else if b[i] == b'0' {
            (8, i)
        } else {
            (10, i)
        };
        let mut v: u64 = 0;
        let mut j = digits_start;
        while let Some(d) = b.get(j).and_then(|c| (*c as char).to_digit(base)) {
            v = v
                .saturating_mul(u64::from(base))
                .saturating_add(u64::from(d));
            j += 1;
        }
        if v > 0xffff_ffff {
            return None;
        }
        i = j;
        if b.get(i) == Some(&b'.') {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v as u32);
            i += 1;
        } else {
            val = v as u32;
            break;
        }
    }
    if let Some(c) = b.get(i) {
        if !c.is_ascii() || !is_c_space(*c) {
            return None;
        }
    }
    let max: [u32; 4] = [0xffff_ffff, 0x00ff_ffff, 0xffff, 0xff];
    if val > max[parts.len()] {
        return None;
    }
    let mut word: u32 = 0;
    for (k, p) in parts.iter().enumerate() {
        word |= p << (24 - 8 * k);
    }
    Some(Ipv4Addr::from(word | val))
}

/// glibc `inet_pton(AF_INET, ...)`: exactly four decimal octets, no leading zeros.
pub fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// glibc `inet_pton(AF_INET6, ...)`.
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

/// glibc `inet_ntop`: IPv6 with the longest run (>= 2) of zero words compressed, and the
/// IPv4-compatible / IPv4-mapped forms printed with a dotted tail.
pub fn inet_ntop(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ntop6(a),
    }
}

fn ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let (mut cur_base, mut cur_len) = (None::<usize>, 0usize);
    for (i, word) in w.iter().enumerate() {
        if *word == 0 {
            if cur_base.is_none() {
                cur_base = Some(i);
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if let Some(cb) = cur_base {
            if best_base.is_none() || cur_len > best_len {
                best_base = Some(cb);
                best_len = cur_len;
            }
            cur_base = None;
        }
    }
    if let Some(cb) = cur_base {
        if best_base.is_none() || cur_len > best_len {
            best_base = Some(cb);
            best_len = cur_len;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(bb) = best_base {
            if i >= bb && i < bb + best_len {
                if i == bb {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base.is_some_and(|bb| bb + best_len == 8) {
        out.push(':');
    }
    out
}

/// glibc `strerror` text for an errno value.
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aton_forms() {
        assert_eq!(inet_aton("1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(inet_aton("1"), Some(Ipv4Addr::new(0, 0, 0, 1)));
        assert_eq!(inet_aton("1.2"), Some(Ipv4Addr::new(1, 0, 0, 2)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("1.2.3.4 junk"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(inet_aton("08.1.1.1"), None);
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("a.b"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1.2.3."), None);
    }

    #[test]
    fn ntop6_forms() {
        let p = |s: &str| inet_ntop(&IpAddr::V6(s.parse().unwrap()));
        assert_eq!(p("2001:db8::10"), "2001:db8::10");
        assert_eq!(p("::1"), "::1");
        assert_eq!(p("::"), "::");
        assert_eq!(p("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(p("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(p("1:0:1:0:1:0:1:0"), "1:0:1:0:1:0:1:0");
        assert_eq!(p("1::"), "1::");
        assert_eq!(p("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    }

    #[test]
    fn numbers() {
        assert_eq!(string_to_number(" 5", 0, 10), Some(5));
        assert_eq!(string_to_number("+5", 0, 10), Some(5));
        assert_eq!(string_to_number("5 ", 0, 10), None);
        assert_eq!(string_to_number("", 0, 10), None);
        assert_eq!(string_to_number("-1", 0, 10), None);
        assert_eq!(string_to_number("99999999999999999999", 0, 10), None);
        assert_eq!(parse_fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(parse_fwmark("0"), None);
        assert_eq!(parse_fwmark("-1"), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
    }
}
