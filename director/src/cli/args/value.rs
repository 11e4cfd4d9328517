//! ipvsadm's value parsers: service addresses, timeouts, scheduler flags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::inet;
use super::super::names::Resolver;
use super::command::{AF_INET, AF_INET6, IPVS_SVC_PERSISTENT_TIMEOUT};
use super::parsed::{fail, Stop, SvcArgs};
use crate::ipvs::Protocol;

/// `SERVICE_ADDR` / `SERVICE_PORT` result bits of `parse_service`.
pub(super) const SERVICE_ADDR: u32 = 1;
pub(super) const SERVICE_PORT: u32 = 2;

pub(super) fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn proto_of(n: u16) -> Protocol {
    Protocol::from_number(n)
}

/// ipvsadm's `parse_service` on a copy of the service: returns the result bits and writes
/// af/addr/port/netmask the way the C code does (partially, before failing).
pub(super) fn parse_service(buf: &str, svc: &mut SvcArgs, names: &dyn Resolver) -> u32 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host = buf;
    let mut portp: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return 0;
        };
        let after = &inner[close + 1..];
        if !after.starts_with(':') {
            return 0;
        }
        host = &inner[..close];
        portp = Some(&after[1..]);
    }
    if let Some(a6) = inet::inet_pton6(host) {
        svc.addr = a6.octets();
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        portp = None;
        if let Some(p) = host.rfind(':') {
            portp = Some(&host[p + 1..]);
            host = &host[..p];
        }
        let a4 = match inet::inet_aton(host) {
            Some(a) => a,
            None => match crate::cli::names::host_v4(names, host) {
                Some(a) => a,
                None => return 0,
            },
        };
        svc.addr = [0; 16];
        svc.addr[..4].copy_from_slice(&a4.octets());
        svc.af = AF_INET;
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = portp {
        result |= SERVICE_PORT;
        if let Some(n) = inet::string_to_number(p, 0, 65535) {
            svc.port = n as u16;
        } else if let Some(n) = crate::cli::names::proto_name(proto_of(svc.protocol))
            .and_then(|proto| names.service(p, Some(proto)))
        {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

pub(super) fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Stop> {
    let Some(buf) = buf else {
        return Ok(IPVS_SVC_PERSISTENT_TIMEOUT);
    };
    match inet::string_to_number(buf, min, max) {
        Some(n) => Ok(n as u32),
        None => fail(format!("invalid timeout value `{buf}' specified")),
    }
}

pub(super) const SCHED1: u32 = 0x0008;
pub(super) const SCHED2: u32 = 0x0010;
pub(super) const SCHED3: u32 = 0x0020;

pub(super) fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Stop> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, need) = match flag {
            "flag-1" => (SCHED1, None),
            "flag-2" => (SCHED2, None),
            "flag-3" => (SCHED3, None),
            "sh-fallback" => (SCHED1, Some("sh")),
            "sh-port" => (SCHED2, Some("sh")),
            "mh-fallback" => (SCHED1, Some("mh")),
            "mh-port" => (SCHED2, Some("mh")),
            _ => return fail(format!("invalid scheduler flag `{flag}'")),
        };
        flags |= bit;
        if need.is_some_and(|n| n != sched) {
            return fail(format!("incompatible scheduler flag `{flag}'"));
        }
    }
    if !any {
        return Err(Stop::Crash);
    }
    Ok(flags)
}

/// C `strncpy` into a buffer of `n` bytes that ipvsadm treats as a string of at most `n`.
pub(super) fn truncate(s: &str, n: usize) -> String {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // strncpy stops at an embedded NUL; Rust strings from argv have none.
    s[..end].to_string()
}

/// The service address of parsed arguments as an `IpAddr` (by `af`).
pub fn addr_of(af: u16, addr: &[u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*addr))
    } else {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    }
}
