//! `IPVS_SVC_ATTR_*`: the attributes inside `IPVS_CMD_ATTR_SERVICE`.

use netlink_packet_core::{
    emit_u16, emit_u32, parse_u16, parse_u16_be, parse_u32, DecodeError, DefaultNla, Emitable,
    ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
};

use super::stats::{parse_stats_attrs, StatsAttr};
use super::{emit_string, parse_addr, parse_nul_string, parse_raw4};

pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

/// `struct ip_vs_flags`: the kernel sets `new = (old & !mask) | (flags & mask)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvcFlags {
    pub flags: u32,
    pub mask: u32,
}

/// One attribute of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceAttr {
    /// `AF_INET` / `AF_INET6` (host order).
    Af(u16),
    /// `IPPROTO_*` (host order).
    Protocol(u16),
    /// `union nf_inet_addr`, network order; IPv4 in the first 4 bytes. A shorter attribute is
    /// zero-filled, as the kernel does.
    Addr([u8; 16]),
    /// Port (network order on the wire).
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    Flags(SvcFlags),
    /// Persistence timeout, seconds.
    Timeout(u32),
    /// The raw 4 bytes: an IPv4 mask in network order, or an IPv6 prefix length in host order.
    Netmask([u8; 4]),
    Stats(Vec<StatsAttr>),
    PeName(String),
    Stats64(Vec<StatsAttr>),
    Other(DefaultNla),
}

impl Nla for ServiceAttr {
    fn value_len(&self) -> usize {
        use ServiceAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Addr(_) => 16,
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => s.len() + 1,
            Flags(_) => 8,
            Stats(attrs) | Stats64(attrs) => attrs.as_slice().buffer_len(),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use ServiceAttr::*;
        match self {
            Af(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Addr(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags(_) => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            // The kernel starts these nests without NLA_F_NESTED; so do we.
            Stats(_) => IPVS_SVC_ATTR_STATS,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use ServiceAttr::*;
        // Every buffer is exactly `value_len()` bytes long, so the emit_* calls cannot fail.
        match self {
            Af(v) | Protocol(v) => {
                let _ = emit_u16(buffer, *v);
            }
            Addr(a) => buffer.copy_from_slice(a),
            Port(p) => buffer.copy_from_slice(&p.to_be_bytes()),
            Fwmark(v) | Timeout(v) => {
                let _ = emit_u32(buffer, *v);
            }
            SchedName(s) | PeName(s) => emit_string(buffer, s),
            Flags(f) => {
                let _ = emit_u32(&mut buffer[..4], f.flags);
                let _ = emit_u32(&mut buffer[4..], f.mask);
            }
            Netmask(raw) => buffer.copy_from_slice(raw),
            Stats(attrs) | Stats64(attrs) => attrs.as_slice().emit(buffer),
            Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for ServiceAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        use ServiceAttr::*;
        Ok(match buf.kind() {
            IPVS_SVC_ATTR_AF => Af(parse_u16(payload).context("IPVS_SVC_ATTR_AF")?),
            IPVS_SVC_ATTR_PROTOCOL => {
                Protocol(parse_u16(payload).context("IPVS_SVC_ATTR_PROTOCOL")?)
            }
            IPVS_SVC_ATTR_ADDR => Addr(parse_addr(payload).context("IPVS_SVC_ATTR_ADDR")?),
            IPVS_SVC_ATTR_PORT => Port(parse_u16_be(payload).context("IPVS_SVC_ATTR_PORT")?),
            IPVS_SVC_ATTR_FWMARK => Fwmark(parse_u32(payload).context("IPVS_SVC_ATTR_FWMARK")?),
            IPVS_SVC_ATTR_SCHED_NAME => {
                SchedName(parse_nul_string(payload).context("IPVS_SVC_ATTR_SCHED_NAME")?)
            }
            IPVS_SVC_ATTR_FLAGS => Flags(parse_flags(payload).context("IPVS_SVC_ATTR_FLAGS")?),
            IPVS_SVC_ATTR_TIMEOUT => Timeout(parse_u32(payload).context("IPVS_SVC_ATTR_TIMEOUT")?),
            IPVS_SVC_ATTR_NETMASK => Netmask(parse_raw4(payload).context("IPVS_SVC_ATTR_NETMASK")?),
            IPVS_SVC_ATTR_STATS => {
                Stats(parse_stats_attrs(payload).context("IPVS_SVC_ATTR_STATS")?)
            }
            IPVS_SVC_ATTR_PE_NAME => {
                PeName(parse_nul_string(payload).context("IPVS_SVC_ATTR_PE_NAME")?)
            }
            IPVS_SVC_ATTR_STATS64 => {
                Stats64(parse_stats_attrs(payload).context("IPVS_SVC_ATTR_STATS64")?)
            }
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

fn parse_flags(payload: &[u8]) -> Result<SvcFlags, DecodeError> {
    match payload {
        [f0, f1, f2, f3, m0, m1, m2, m3] => Ok(SvcFlags {
            flags: u32::from_ne_bytes([*f0, *f1, *f2, *f3]),
            mask: u32::from_ne_bytes([*m0, *m1, *m2, *m3]),
        }),
        // A 4-byte FLAGS (mask missing) is what the kernel tolerates from old clients.
        [f0, f1, f2, f3] => Ok(SvcFlags {
            flags: u32::from_ne_bytes([*f0, *f1, *f2, *f3]),
            mask: 0,
        }),
        _ => Err(DecodeError::from(format!(
            "struct ip_vs_flags has 8 bytes, not {}",
            payload.len()
        ))),
    }
}

/// Parse the attributes inside `IPVS_CMD_ATTR_SERVICE`.
pub fn parse_service_attrs(payload: &[u8]) -> Result<Vec<ServiceAttr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| ServiceAttr::parse(&nla)))
        .collect()
}
