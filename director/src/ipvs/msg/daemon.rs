//! `IPVS_DAEMON_ATTR_*`: the attributes inside `IPVS_CMD_ATTR_DAEMON`.

use std::net::{Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    emit_u16, emit_u32, parse_u16, parse_u32, parse_u8, DecodeError, DefaultNla, ErrorContext, Nla,
    NlaBuffer, NlasIterator, Parseable,
};

use super::{emit_string, parse_nul_string};

pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

/// One attribute of a connection-sync daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonAttr {
    /// `IP_VS_STATE_MASTER` (1) / `IP_VS_STATE_BACKUP` (2).
    State(u32),
    McastIfn(String),
    SyncId(u32),
    SyncMaxlen(u16),
    /// IPv4 group (network order on the wire).
    McastGroup(Ipv4Addr),
    McastGroup6(Ipv6Addr),
    /// Port in **host** order (the kernel converts it itself).
    McastPort(u16),
    McastTtl(u8),
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => s.len() + 1,
            SyncMaxlen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => IPVS_DAEMON_ATTR_STATE,
            McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            SyncMaxlen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use DaemonAttr::*;
        // Every buffer is exactly `value_len()` bytes long, so the emit_* calls cannot fail.
        match self {
            State(v) | SyncId(v) => {
                let _ = emit_u32(buffer, *v);
            }
            McastIfn(s) => emit_string(buffer, s),
            SyncMaxlen(v) | McastPort(v) => {
                let _ = emit_u16(buffer, *v);
            }
            McastGroup(a) => buffer.copy_from_slice(&a.octets()),
            McastGroup6(a) => buffer.copy_from_slice(&a.octets()),
            McastTtl(v) => buffer.copy_from_slice(&[*v]),
            Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DaemonAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        use DaemonAttr::*;
        Ok(match buf.kind() {
            IPVS_DAEMON_ATTR_STATE => State(parse_u32(payload).context("IPVS_DAEMON_ATTR_STATE")?),
            IPVS_DAEMON_ATTR_MCAST_IFN => {
                McastIfn(parse_nul_string(payload).context("IPVS_DAEMON_ATTR_MCAST_IFN")?)
            }
            IPVS_DAEMON_ATTR_SYNC_ID => {
                SyncId(parse_u32(payload).context("IPVS_DAEMON_ATTR_SYNC_ID")?)
            }
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => {
                SyncMaxlen(parse_u16(payload).context("IPVS_DAEMON_ATTR_SYNC_MAXLEN")?)
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP => match <[u8; 4]>::try_from(payload) {
                Ok(b) => McastGroup(Ipv4Addr::from(b)),
                Err(_) => {
                    return Err(DecodeError::from(format!(
                        "IPVS_DAEMON_ATTR_MCAST_GROUP has {} bytes, not 4",
                        payload.len()
                    )))
                }
            },
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => match <[u8; 16]>::try_from(payload) {
                Ok(b) => McastGroup6(Ipv6Addr::from(b)),
                Err(_) => {
                    return Err(DecodeError::from(format!(
                        "IPVS_DAEMON_ATTR_MCAST_GROUP6 has {} bytes, not 16",
                        payload.len()
                    )))
                }
            },
            IPVS_DAEMON_ATTR_MCAST_PORT => {
                McastPort(parse_u16(payload).context("IPVS_DAEMON_ATTR_MCAST_PORT")?)
            }
            IPVS_DAEMON_ATTR_MCAST_TTL => {
                McastTtl(parse_u8(payload).context("IPVS_DAEMON_ATTR_MCAST_TTL")?)
            }
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parse the attributes inside `IPVS_CMD_ATTR_DAEMON`.
pub fn parse_daemon_attrs(payload: &[u8]) -> Result<Vec<DaemonAttr>, DecodeError> {
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|nla| DaemonAttr::parse(&nla)))
        .collect()
}
