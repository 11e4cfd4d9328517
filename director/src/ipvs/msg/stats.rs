//! `IPVS_STATS_ATTR_*`: the counters inside `*_ATTR_STATS` and `*_ATTR_STATS64`.
//!
//! The 32-bit `STATS` block mixes widths (`INBYTES`/`OUTBYTES` are u64, the rest u32) and
//! `STATS64` is all u64, so each value is a [`Counter`] that remembers the width it came with:
//! decoding accepts either width and emitting gives the same bytes back.

use netlink_packet_core::{
    emit_u32, emit_u64, parse_u32, parse_u64, DecodeError, DefaultNla, ErrorContext, Nla,
    NlaBuffer, NlasIterator, Parseable,
};

use crate::ipvs::model::Stats;

pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
pub const IPVS_STATS_ATTR_CPS: u16 = 6;
pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
/// Zero-length alignment padding before 64-bit values on some architectures; kept as `Other`.
pub const IPVS_STATS_ATTR_PAD: u16 = 11;

/// One counter value, 32 or 64 bits wide on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    U32(u32),
    U64(u64),
}

impl Counter {
    /// The value, widened.
    pub fn get(self) -> u64 {
        match self {
            Counter::U32(v) => u64::from(v),
            Counter::U64(v) => v,
        }
    }

    fn len(self) -> usize {
        match self {
            Counter::U32(_) => 4,
            Counter::U64(_) => 8,
        }
    }

    fn emit(self, buffer: &mut [u8]) {
        // The buffer is exactly `len()` bytes (the Nla emitter sized it), so these cannot fail.
        let _ = match self {
            Counter::U32(v) => emit_u32(buffer, v),
            Counter::U64(v) => emit_u64(buffer, v),
        };
    }

    fn parse(payload: &[u8]) -> Result<Counter, DecodeError> {
        match payload.len() {
            4 => parse_u32(payload).map(Counter::U32),
            8 => parse_u64(payload).map(Counter::U64),
            n => Err(DecodeError::from(format!(
                "a counter has 4 or 8 bytes, not {n}"
            ))),
        }
    }
}

/// One attribute of a statistics block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsAttr {
    Conns(Counter),
    InPkts(Counter),
    OutPkts(Counter),
    InBytes(Counter),
    OutBytes(Counter),
    Cps(Counter),
    InPps(Counter),
    OutPps(Counter),
    InBps(Counter),
    OutBps(Counter),
    /// `PAD` and anything a newer kernel adds.
    Other(DefaultNla),
}

impl StatsAttr {
    fn counter(&self) -> Option<(u16, Counter)> {
        use StatsAttr::*;
        Some(match self {
            Conns(c) => (IPVS_STATS_ATTR_CONNS, *c),
            InPkts(c) => (IPVS_STATS_ATTR_INPKTS, *c),
            OutPkts(c) => (IPVS_STATS_ATTR_OUTPKTS, *c),
            InBytes(c) => (IPVS_STATS_ATTR_INBYTES, *c),
            OutBytes(c) => (IPVS_STATS_ATTR_OUTBYTES, *c),
            Cps(c) => (IPVS_STATS_ATTR_CPS, *c),
            InPps(c) => (IPVS_STATS_ATTR_INPPS, *c),
            OutPps(c) => (IPVS_STATS_ATTR_OUTPPS, *c),
            InBps(c) => (IPVS_STATS_ATTR_INBPS, *c),
            OutBps(c) => (IPVS_STATS_ATTR_OUTBPS, *c),
            Other(_) => return None,
        })
    }
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::Other(nla) => nla.value_len(),
            attr => attr.counter().map_or(0, |(_, c)| c.len()),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            StatsAttr::Other(nla) => nla.kind(),
            attr => attr.counter().map_or(0, |(kind, _)| kind),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            StatsAttr::Other(nla) => nla.emit_value(buffer),
            attr => {
                if let Some((_, c)) = attr.counter() {
                    c.emit(buffer)
                }
            }
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatsAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        let counter = |name: &str| Counter::parse(payload).context(name.to_string());
        Ok(match buf.kind() {
            IPVS_STATS_ATTR_CONNS => StatsAttr::Conns(counter("IPVS_STATS_ATTR_CONNS")?),
            IPVS_STATS_ATTR_INPKTS => StatsAttr::InPkts(counter("IPVS_STATS_ATTR_INPKTS")?),
            IPVS_STATS_ATTR_OUTPKTS => StatsAttr::OutPkts(counter("IPVS_STATS_ATTR_OUTPKTS")?),
            IPVS_STATS_ATTR_INBYTES => StatsAttr::InBytes(counter("IPVS_STATS_ATTR_INBYTES")?),
            IPVS_STATS_ATTR_OUTBYTES => StatsAttr::OutBytes(counter("IPVS_STATS_ATTR_OUTBYTES")?),
            IPVS_STATS_ATTR_CPS => StatsAttr::Cps(counter("IPVS_STATS_ATTR_CPS")?),
            IPVS_STATS_ATTR_INPPS => StatsAttr::InPps(counter("IPVS_STATS_ATTR_INPPS")?),
            IPVS_STATS_ATTR_OUTPPS => StatsAttr::OutPps(counter("IPVS_STATS_ATTR_OUTPPS")?),
            IPVS_STATS_ATTR_INBPS => StatsAttr::InBps(counter("IPVS_STATS_ATTR_INBPS")?),
            IPVS_STATS_ATTR_OUTBPS => StatsAttr::OutBps(counter("IPVS_STATS_ATTR_OUTBPS")?),
            _ => StatsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parse the attributes inside a statistics container.
pub fn parse_stats_attrs(payload: &[u8]) -> Result<Vec<StatsAttr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| StatsAttr::parse(&nla)))
        .collect()
}

/// The counters of a statistics block (missing ones are 0).
pub fn stats_from_attrs(attrs: &[StatsAttr]) -> Stats {
    let mut stats = Stats::default();
    for attr in attrs {
        use StatsAttr::*;
        match attr {
            Conns(c) => stats.conns = c.get(),
            InPkts(c) => stats.inpkts = c.get(),
            OutPkts(c) => stats.outpkts = c.get(),
            InBytes(c) => stats.inbytes = c.get(),
            OutBytes(c) => stats.outbytes = c.get(),
            Cps(c) => stats.cps = c.get(),
            InPps(c) => stats.inpps = c.get(),
            OutPps(c) => stats.outpps = c.get(),
            InBps(c) => stats.inbps = c.get(),
            OutBps(c) => stats.outbps = c.get(),
            Other(_) => {}
        }
    }
    stats
}
