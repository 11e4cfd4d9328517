//! Reply messages -> model. Errors name the attribute path that was wrong.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::DecodeError;

use super::stats::stats_from_attrs;
use super::{CmdAttr, DaemonAttr, DestAttr, IpvsMessage, ServiceAttr};
use crate::ipvs::model::{
    flags::IP_VS_SVC_F_HASHED, Dest, DestEntry, Family, Forward, Info, Protocol, Service,
    ServiceEntry, ServiceKey, SyncDaemon, SyncState, Timeouts, TunnelType,
};

/// `AF_INET` / `AF_INET6` -> family.
pub fn family_from_af(af: u16) -> Result<Family, DecodeError> {
    if af == Family::V4.af() {
        Ok(Family::V4)
    } else if af == Family::V6.af() {
        Ok(Family::V6)
    } else {
        Err(DecodeError::from(format!("unknown address family {af}")))
    }
}

/// The address in a 16-byte `union nf_inet_addr` of the given family.
pub fn addr_from_bytes(family: Family, bytes: &[u8; 16]) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(*bytes)),
    }
}

/// A service netmask from its raw bytes (see `request::netmask_bytes`).
pub fn netmask_from_bytes(family: Family, raw: [u8; 4]) -> u32 {
    match family {
        Family::V4 => u32::from_be_bytes(raw),
        Family::V6 => u32::from_ne_bytes(raw),
    }
}

fn missing(what: &str) -> DecodeError {
    DecodeError::from(format!("{what} is missing"))
}

fn context(path: &str, e: DecodeError) -> DecodeError {
    DecodeError::from(format!("{path}: {e}"))
}

/// A service (with its counters) from the attributes of `IPVS_CMD_ATTR_SERVICE`.
/// `IP_VS_SVC_F_HASHED` is stripped from the flags. `dests` is left empty.
pub fn service_entry_from_attrs(attrs: &[ServiceAttr]) -> Result<ServiceEntry, DecodeError> {
    let (mut af, mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let mut scheduler = None;
    let mut flags = 0;
    let mut timeout = 0;
    let mut netmask = None;
    let mut pe_name = None;
    let mut stats = Default::default();
    let mut stats64 = None;
    for attr in attrs {
        match attr {
            ServiceAttr::Af(v) => af = Some(*v),
            ServiceAttr::Protocol(v) => protocol = Some(*v),
            ServiceAttr::Addr(v) => addr = Some(*v),
            ServiceAttr::Port(v) => port = Some(*v),
            ServiceAttr::Fwmark(v) => fwmark = Some(*v),
            ServiceAttr::SchedName(v) => scheduler = Some(v.clone()),
            ServiceAttr::Flags(f) => flags = f.flags & !IP_VS_SVC_F_HASHED,
            ServiceAttr::Timeout(v) => timeout = *v,
            ServiceAttr::Netmask(raw) => netmask = Some(*raw),
            ServiceAttr::Stats(s) => stats = stats_from_attrs(s),
            ServiceAttr::PeName(v) => pe_name = Some(v.clone()),
            ServiceAttr::Stats64(s) => stats64 = Some(stats_from_attrs(s)),
            ServiceAttr::Other(_) => {}
        }
    }
    let family = family_from_af(af.ok_or_else(|| missing("IPVS_SVC_ATTR_AF"))?)
        .map_err(|e| context("IPVS_SVC_ATTR_AF", e))?;
    let key = match (fwmark, protocol, addr, port) {
        (Some(mark), _, _, _) => ServiceKey::Fwmark { family, mark },
        (None, Some(protocol), Some(addr), Some(port)) => ServiceKey::Addr {
            protocol: Protocol::from_number(protocol),
            addr: addr_from_bytes(family, &addr),
            port,
        },
        (None, None, _, _) => return Err(missing("IPVS_SVC_ATTR_FWMARK or _PROTOCOL")),
        (None, _, None, _) => return Err(missing("IPVS_SVC_ATTR_ADDR")),
        (None, _, _, None) => return Err(missing("IPVS_SVC_ATTR_PORT")),
    };
    let mut service = Service::new(key);
    service.scheduler = scheduler.ok_or_else(|| missing("IPVS_SVC_ATTR_SCHED_NAME"))?;
    service.flags = flags;
    service.timeout = timeout;
    if let Some(raw) = netmask {
        service.netmask = netmask_from_bytes(family, raw);
    }
    service.pe_name = pe_name;
    Ok(ServiceEntry {
        service,
        stats,
        stats64,
        dests: Vec::new(),
    })
}

/// A destination (with its counters) from the attributes of `IPVS_CMD_ATTR_DEST`.
/// `service_family` is used when `ADDR_FAMILY` is absent or 0 (kernels before 3.18).
pub fn dest_entry_from_attrs(
    attrs: &[DestAttr],
    service_family: Family,
) -> Result<DestEntry, DecodeError> {
    let (mut addr, mut port, mut af) = (None, None, None);
    let mut forward = Forward::Masq;
    let (mut weight, mut u_threshold, mut l_threshold) = (0, 0, 0);
    let (mut tun_type, mut tun_port, mut tun_flags) = (0, 0, 0);
    let (mut active_conns, mut inact_conns, mut persist_conns) = (0, 0, 0);
    let mut stats = Default::default();
    let mut stats64 = None;
    for attr in attrs {
        match attr {
            DestAttr::Addr(v) => addr = Some(*v),
            DestAttr::Port(v) => port = Some(*v),
            DestAttr::FwdMethod(v) => forward = Forward::from_number(*v),
            DestAttr::Weight(v) => weight = *v,
            DestAttr::UThresh(v) => u_threshold = *v,
            DestAttr::LThresh(v) => l_threshold = *v,
            DestAttr::ActiveConns(v) => active_conns = *v,
            DestAttr::InactConns(v) => inact_conns = *v,
            DestAttr::PersistConns(v) => persist_conns = *v,
            DestAttr::Stats(s) => stats = stats_from_attrs(s),
            DestAttr::AddrFamily(v) => af = Some(*v),
            DestAttr::Stats64(s) => stats64 = Some(stats_from_attrs(s)),
            DestAttr::TunType(v) => tun_type = *v,
            DestAttr::TunPort(v) => tun_port = *v,
            DestAttr::TunFlags(v) => tun_flags = *v,
            DestAttr::Other(_) => {}
        }
    }
    let family = match af {
        None | Some(0) => service_family,
        Some(af) => family_from_af(af).map_err(|e| context("IPVS_DEST_ATTR_ADDR_FAMILY", e))?,
    };
    let addr = addr_from_bytes(family, &addr.ok_or_else(|| missing("IPVS_DEST_ATTR_ADDR"))?);
    let port = port.ok_or_else(|| missing("IPVS_DEST_ATTR_PORT"))?;
    Ok(DestEntry {
        dest: Dest {
            addr,
            port,
            forward,
            weight,
            u_threshold,
            l_threshold,
            tun_type: TunnelType::from_number(tun_type),
            tun_port,
            tun_flags,
        },
        active_conns,
        inact_conns,
        persist_conns,
        stats,
        stats64,
    })
}

/// A sync daemon from the attributes of `IPVS_CMD_ATTR_DAEMON`.
pub fn daemon_from_attrs(attrs: &[DaemonAttr]) -> Result<SyncDaemon, DecodeError> {
    let mut state = None;
    let mut daemon = SyncDaemon {
        state: SyncState::Master,
        mcast_ifn: String::new(),
        sync_id: 0,
        sync_maxlen: None,
        mcast_group: None,
        mcast_port: None,
        mcast_ttl: None,
    };
    for attr in attrs {
        match attr {
            DaemonAttr::State(v) => state = Some(*v),
            DaemonAttr::McastIfn(v) => daemon.mcast_ifn = v.clone(),
            DaemonAttr::SyncId(v) => daemon.sync_id = *v,
            DaemonAttr::SyncMaxlen(v) => daemon.sync_maxlen = Some(*v),
            DaemonAttr::McastGroup(v) => daemon.mcast_group = Some(IpAddr::V4(*v)),
            DaemonAttr::McastGroup6(v) => daemon.mcast_group = Some(IpAddr::V6(*v)),
            DaemonAttr::McastPort(v) => daemon.mcast_port = Some(*v),
            DaemonAttr::McastTtl(v) => daemon.mcast_ttl = Some(*v),
            DaemonAttr::Other(_) => {}
        }
    }
    daemon.state = match state {
        Some(1) => SyncState::Master,
        Some(2) => SyncState::Backup,
        Some(n) => {
            return Err(DecodeError::from(format!(
                "IPVS_DAEMON_ATTR_STATE: unknown state {n}"
            )))
        }
        None => return Err(missing("IPVS_DAEMON_ATTR_STATE")),
    };
    Ok(daemon)
}

impl IpvsMessage {
    fn in_cmd(&self, e: DecodeError) -> DecodeError {
        context(&format!("IPVS {:?} message", self.cmd), e)
    }

    /// The service of a `NEW_SERVICE` reply (service dump or `GET_SERVICE`).
    pub fn service_entry(&self) -> Result<ServiceEntry, DecodeError> {
        let attrs = self
            .nlas
            .iter()
            .find_map(|nla| match nla {
                CmdAttr::Service(attrs) => Some(attrs),
                _ => None,
            })
            .ok_or_else(|| self.in_cmd(missing("IPVS_CMD_ATTR_SERVICE")))?;
        service_entry_from_attrs(attrs)
            .map_err(|e| self.in_cmd(context("IPVS_CMD_ATTR_SERVICE", e)))
    }

    /// The destination of a `NEW_DEST` reply (dest dump).
    pub fn dest_entry(&self, service_family: Family) -> Result<DestEntry, DecodeError> {
        let attrs = self
            .nlas
            .iter()
            .find_map(|nla| match nla {
                CmdAttr::Dest(attrs) => Some(attrs),
                _ => None,
            })
            .ok_or_else(|| self.in_cmd(missing("IPVS_CMD_ATTR_DEST")))?;
        dest_entry_from_attrs(attrs, service_family)
            .map_err(|e| self.in_cmd(context("IPVS_CMD_ATTR_DEST", e)))
    }

    /// The daemon of a `NEW_DAEMON` reply (daemon dump).
    pub fn daemon(&self) -> Result<SyncDaemon, DecodeError> {
        let attrs = self
            .nlas
            .iter()
            .find_map(|nla| match nla {
                CmdAttr::Daemon(attrs) => Some(attrs),
                _ => None,
            })
            .ok_or_else(|| self.in_cmd(missing("IPVS_CMD_ATTR_DAEMON")))?;
        daemon_from_attrs(attrs).map_err(|e| self.in_cmd(context("IPVS_CMD_ATTR_DAEMON", e)))
    }

    /// The timeouts of a `SET_CONFIG` reply (absent ones are 0).
    pub fn timeouts(&self) -> Timeouts {
        let mut t = Timeouts::default();
        for nla in &self.nlas {
            match nla {
                CmdAttr::TimeoutTcp(v) => t.tcp = *v,
                CmdAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                CmdAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        t
    }

    /// The info of a `SET_INFO` reply.
    pub fn info(&self) -> Result<Info, DecodeError> {
        let (mut version, mut size) = (None, None);
        for nla in &self.nlas {
            match nla {
                CmdAttr::InfoVersion(v) => version = Some(*v),
                CmdAttr::InfoConnTabSize(v) => size = Some(*v),
                _ => {}
            }
        }
        Ok(Info {
            version: version.ok_or_else(|| self.in_cmd(missing("IPVS_INFO_ATTR_VERSION")))?,
            conn_tab_size: size
                .ok_or_else(|| self.in_cmd(missing("IPVS_INFO_ATTR_CONN_TAB_SIZE")))?,
        })
    }
}
