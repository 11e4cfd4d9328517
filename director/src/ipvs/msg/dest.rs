//! `IPVS_DEST_ATTR_*`: the attributes inside `IPVS_CMD_ATTR_DEST`.

use netlink_packet_core::{
    emit_u16, emit_u32, parse_u16, parse_u16_be, parse_u32, parse_u8, DecodeError, DefaultNla,
    Emitable, ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
};

use super::parse_addr;
use super::stats::{parse_stats_attrs, StatsAttr};

pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

/// One attribute of a destination (real server).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestAttr {
    /// Network order; IPv4 in the first 4 bytes, zero-filled when shorter.
    Addr([u8; 16]),
    /// Port (network order on the wire).
    Port(u16),
    /// `IP_VS_CONN_F_*` forwarding method.
    FwdMethod(u32),
    Weight(u32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    Stats(Vec<StatsAttr>),
    /// `AF_INET` / `AF_INET6` of this destination (host order).
    AddrFamily(u16),
    Stats64(Vec<StatsAttr>),
    TunType(u8),
    /// GUE port (network order on the wire).
    TunPort(u16),
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*` (host order).
    TunFlags(u16),
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(_) => 16,
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            FwdMethod(_) | Weight(_) | UThresh(_) | LThresh(_) | ActiveConns(_) | InactConns(_)
            | PersistConns(_) => 4,
            TunType(_) => 1,
            Stats(attrs) | Stats64(attrs) => attrs.as_slice().buffer_len(),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UThresh(_) => IPVS_DEST_ATTR_U_THRESH,
            LThresh(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS,
            AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64,
            TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use DestAttr::*;
        // Every buffer is exactly `value_len()` bytes long, so the emit_* calls cannot fail.
        match self {
            Addr(a) => buffer.copy_from_slice(a),
            Port(p) | TunPort(p) => buffer.copy_from_slice(&p.to_be_bytes()),
            FwdMethod(v) | Weight(v) | UThresh(v) | LThresh(v) | ActiveConns(v) | InactConns(v)
            | PersistConns(v) => {
                let _ = emit_u32(buffer, *v);
            }
            AddrFamily(v) | TunFlags(v) => {
                let _ = emit_u16(buffer, *v);
            }
            TunType(v) => buffer.copy_from_slice(&[*v]),
            Stats(attrs) | Stats64(attrs) => attrs.as_slice().emit(buffer),
            Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DestAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        let u32_of = |name: &'static str| parse_u32(payload).context(name);
        use DestAttr::*;
        Ok(match buf.kind() {
            IPVS_DEST_ATTR_ADDR => Addr(parse_addr(payload).context("IPVS_DEST_ATTR_ADDR")?),
            IPVS_DEST_ATTR_PORT => Port(parse_u16_be(payload).context("IPVS_DEST_ATTR_PORT")?),
            IPVS_DEST_ATTR_FWD_METHOD => FwdMethod(u32_of("IPVS_DEST_ATTR_FWD_METHOD")?),
            IPVS_DEST_ATTR_WEIGHT => Weight(u32_of("IPVS_DEST_ATTR_WEIGHT")?),
            IPVS_DEST_ATTR_U_THRESH => UThresh(u32_of("IPVS_DEST_ATTR_U_THRESH")?),
            IPVS_DEST_ATTR_L_THRESH => LThresh(u32_of("IPVS_DEST_ATTR_L_THRESH")?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => ActiveConns(u32_of("IPVS_DEST_ATTR_ACTIVE_CONNS")?),
            IPVS_DEST_ATTR_INACT_CONNS => InactConns(u32_of("IPVS_DEST_ATTR_INACT_CONNS")?),
            IPVS_DEST_ATTR_PERSIST_CONNS => PersistConns(u32_of("IPVS_DEST_ATTR_PERSIST_CONNS")?),
            IPVS_DEST_ATTR_STATS => {
                Stats(parse_stats_attrs(payload).context("IPVS_DEST_ATTR_STATS")?)
            }
            IPVS_DEST_ATTR_ADDR_FAMILY => {
                AddrFamily(parse_u16(payload).context("IPVS_DEST_ATTR_ADDR_FAMILY")?)
            }
            IPVS_DEST_ATTR_STATS64 => {
                Stats64(parse_stats_attrs(payload).context("IPVS_DEST_ATTR_STATS64")?)
            }
            IPVS_DEST_ATTR_TUN_TYPE => {
                TunType(parse_u8(payload).context("IPVS_DEST_ATTR_TUN_TYPE")?)
            }
            IPVS_DEST_ATTR_TUN_PORT => {
                TunPort(parse_u16_be(payload).context("IPVS_DEST_ATTR_TUN_PORT")?)
            }
            IPVS_DEST_ATTR_TUN_FLAGS => {
                TunFlags(parse_u16(payload).context("IPVS_DEST_ATTR_TUN_FLAGS")?)
            }
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parse the attributes inside `IPVS_CMD_ATTR_DEST`.
pub fn parse_dest_attrs(payload: &[u8]) -> Result<Vec<DestAttr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| DestAttr::parse(&nla)))
        .collect()
}
