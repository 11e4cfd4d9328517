//! Model -> request messages. Attribute order follows ipvsadm 1.31, so a request for the same
//! service or destination is byte-identical to what ipvsadm sends where ipvsadm sends the
//! same fields (full services on NEW/SET_SERVICE, all dest fields on NEW/SET_DEST); for
//! lookups and deletes only the identifying fields are sent.

use std::net::IpAddr;

use super::{CmdAttr, DaemonAttr, DestAttr, IpvsCmd, IpvsMessage, ServiceAttr, SvcFlags};
use crate::ipvs::model::{
    flags::IP_VS_SVC_F_HASHED, Change, Dest, DestKey, Family, Service, ServiceKey, SyncDaemon,
    SyncState, Timeouts,
};

/// An address as the kernel's 16-byte `union nf_inet_addr` (IPv4 in the first 4 bytes,
/// the rest zero).
pub fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            for (dst, src) in out.iter_mut().zip(a.octets()) {
                *dst = src;
            }
        }
        IpAddr::V6(a) => out = a.octets(),
    }
    out
}

/// The raw `NETMASK` bytes of a service: an IPv4 mask in network order, an IPv6 prefix
/// length in host order.
pub fn netmask_bytes(family: Family, netmask: u32) -> [u8; 4] {
    match family {
        Family::V4 => netmask.to_be_bytes(),
        Family::V6 => netmask.to_ne_bytes(),
    }
}

/// The identifying attributes of a service: `AF` + (`FWMARK` or `PROTOCOL`, `ADDR`, `PORT`).
pub fn service_key_attrs(key: &ServiceKey) -> Vec<ServiceAttr> {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => vec![
            ServiceAttr::Af(Family::of(addr).af()),
            ServiceAttr::Protocol(protocol.number()),
            ServiceAttr::Addr(addr_bytes(addr)),
            ServiceAttr::Port(*port),
        ],
        ServiceKey::Fwmark { family, mark } => {
            vec![ServiceAttr::Af(family.af()), ServiceAttr::Fwmark(*mark)]
        }
    }
}

/// Every attribute of a service, as NEW/SET_SERVICE need them. `FLAGS` carries mask
/// `0xffffffff` (full replace) and never `IP_VS_SVC_F_HASHED`.
pub fn service_attrs(service: &Service) -> Vec<ServiceAttr> {
    let mut attrs = service_key_attrs(&service.key);
    attrs.push(ServiceAttr::SchedName(service.scheduler.clone()));
    if let Some(pe) = &service.pe_name {
        attrs.push(ServiceAttr::PeName(pe.clone()));
    }
    attrs.push(ServiceAttr::Flags(SvcFlags {
        flags: service.flags & !IP_VS_SVC_F_HASHED,
        mask: u32::MAX,
    }));
    attrs.push(ServiceAttr::Timeout(service.timeout));
    attrs.push(ServiceAttr::Netmask(netmask_bytes(
        service.key.family(),
        service.netmask,
    )));
    attrs
}

/// The identifying attributes of a destination; `ADDR_FAMILY` is always sent.
pub fn dest_key_attrs(key: &DestKey) -> Vec<DestAttr> {
    vec![
        DestAttr::AddrFamily(Family::of(&key.addr).af()),
        DestAttr::Addr(addr_bytes(&key.addr)),
        DestAttr::Port(key.port),
    ]
}

/// Every attribute of a destination, as NEW/SET_DEST need them (tunnel settings included:
/// the kernel resets absent ones to 0 on SET_DEST).
pub fn dest_attrs(dest: &Dest) -> Vec<DestAttr> {
    let mut attrs = dest_key_attrs(&dest.key());
    attrs.extend([
        DestAttr::FwdMethod(dest.forward.number()),
        DestAttr::Weight(dest.weight),
        DestAttr::TunType(dest.tun_type.number()),
        DestAttr::TunPort(dest.tun_port),
        DestAttr::TunFlags(dest.tun_flags),
        DestAttr::UThresh(dest.u_threshold),
        DestAttr::LThresh(dest.l_threshold),
    ]);
    attrs
}

/// The attributes of a sync daemon for NEW_DAEMON (optional ones only when set).
pub fn daemon_attrs(daemon: &SyncDaemon) -> Vec<DaemonAttr> {
    let mut attrs = vec![
        DaemonAttr::State(daemon.state.number()),
        DaemonAttr::McastIfn(daemon.mcast_ifn.clone()),
        DaemonAttr::SyncId(daemon.sync_id),
    ];
    if let Some(maxlen) = daemon.sync_maxlen {
        attrs.push(DaemonAttr::SyncMaxlen(maxlen));
    }
    match daemon.mcast_group {
        Some(IpAddr::V4(group)) => attrs.push(DaemonAttr::McastGroup(group)),
        Some(IpAddr::V6(group)) => attrs.push(DaemonAttr::McastGroup6(group)),
        None => {}
    }
    if let Some(port) = daemon.mcast_port {
        attrs.push(DaemonAttr::McastPort(port));
    }
    if let Some(ttl) = daemon.mcast_ttl {
        attrs.push(DaemonAttr::McastTtl(ttl));
    }
    attrs
}

impl IpvsMessage {
    fn with(cmd: IpvsCmd, nlas: Vec<CmdAttr>) -> IpvsMessage {
        IpvsMessage { cmd, nlas }
    }

    /// `NEW_SERVICE` with the full service.
    pub fn new_service(service: &Service) -> IpvsMessage {
        Self::with(
            IpvsCmd::NewService,
            vec![CmdAttr::Service(service_attrs(service))],
        )
    }

    /// `SET_SERVICE` with the full service (replaces scheduler, flags, timeout, netmask, PE).
    pub fn set_service(service: &Service) -> IpvsMessage {
        Self::with(
            IpvsCmd::SetService,
            vec![CmdAttr::Service(service_attrs(service))],
        )
    }

    /// `DEL_SERVICE`.
    pub fn del_service(key: &ServiceKey) -> IpvsMessage {
        Self::with(
            IpvsCmd::DelService,
            vec![CmdAttr::Service(service_key_attrs(key))],
        )
    }

    /// `GET_SERVICE` for one service (doit; `ESRCH` when missing).
    pub fn get_service(key: &ServiceKey) -> IpvsMessage {
        Self::with(
            IpvsCmd::GetService,
            vec![CmdAttr::Service(service_key_attrs(key))],
        )
    }

    /// `GET_SERVICE` for a dump (send with `NLM_F_DUMP`).
    pub fn get_services() -> IpvsMessage {
        Self::with(IpvsCmd::GetService, Vec::new())
    }

    /// `NEW_DEST`.
    pub fn new_dest(service: &ServiceKey, dest: &Dest) -> IpvsMessage {
        Self::with(
            IpvsCmd::NewDest,
            vec![
                CmdAttr::Service(service_key_attrs(service)),
                CmdAttr::Dest(dest_attrs(dest)),
            ],
        )
    }

    /// `SET_DEST`.
    pub fn set_dest(service: &ServiceKey, dest: &Dest) -> IpvsMessage {
        Self::with(
            IpvsCmd::SetDest,
            vec![
                CmdAttr::Service(service_key_attrs(service)),
                CmdAttr::Dest(dest_attrs(dest)),
            ],
        )
    }

    /// `DEL_DEST`.
    pub fn del_dest(service: &ServiceKey, dest: &DestKey) -> IpvsMessage {
        Self::with(
            IpvsCmd::DelDest,
            vec![
                CmdAttr::Service(service_key_attrs(service)),
                CmdAttr::Dest(dest_key_attrs(dest)),
            ],
        )
    }

    /// `GET_DEST` dump of one service (send with `NLM_F_DUMP`).
    pub fn get_dests(service: &ServiceKey) -> IpvsMessage {
        Self::with(
            IpvsCmd::GetDest,
            vec![CmdAttr::Service(service_key_attrs(service))],
        )
    }

    /// `NEW_DAEMON`.
    pub fn new_daemon(daemon: &SyncDaemon) -> IpvsMessage {
        Self::with(
            IpvsCmd::NewDaemon,
            vec![CmdAttr::Daemon(daemon_attrs(daemon))],
        )
    }

    /// `DEL_DAEMON` (only `STATE` is needed).
    pub fn del_daemon(state: SyncState) -> IpvsMessage {
        Self::with(
            IpvsCmd::DelDaemon,
            vec![CmdAttr::Daemon(vec![DaemonAttr::State(state.number())])],
        )
    }

    /// `GET_DAEMON` dump (send with `NLM_F_DUMP`).
    pub fn get_daemons() -> IpvsMessage {
        Self::with(IpvsCmd::GetDaemon, Vec::new())
    }

    /// `SET_CONFIG` with all three timeouts (0 leaves one unchanged), as ipvsadm sends it.
    pub fn set_config(timeouts: &Timeouts) -> IpvsMessage {
        Self::with(
            IpvsCmd::SetConfig,
            vec![
                CmdAttr::TimeoutTcp(timeouts.tcp),
                CmdAttr::TimeoutTcpFin(timeouts.tcp_fin),
                CmdAttr::TimeoutUdp(timeouts.udp),
            ],
        )
    }

    /// `GET_CONFIG`.
    pub fn get_config() -> IpvsMessage {
        Self::with(IpvsCmd::GetConfig, Vec::new())
    }

    /// `GET_INFO`.
    pub fn get_info() -> IpvsMessage {
        Self::with(IpvsCmd::GetInfo, Vec::new())
    }

    /// `ZERO` of one service, or of all when `key` is `None`.
    pub fn zero(key: Option<&ServiceKey>) -> IpvsMessage {
        let nlas = key
            .map(|key| vec![CmdAttr::Service(service_key_attrs(key))])
            .unwrap_or_default();
        Self::with(IpvsCmd::Zero, nlas)
    }

    /// `FLUSH`.
    pub fn flush() -> IpvsMessage {
        Self::with(IpvsCmd::Flush, Vec::new())
    }

    /// The request that carries out one change.
    pub fn from_change(change: &Change) -> IpvsMessage {
        match change {
            Change::AddService(s) => Self::new_service(s),
            Change::EditService(s) => Self::set_service(s),
            Change::DelService(key) => Self::del_service(key),
            Change::AddDest(key, d) => Self::new_dest(key, d),
            Change::EditDest(key, d) => Self::set_dest(key, d),
            Change::DelDest(key, d) => Self::del_dest(key, d),
        }
    }
}
