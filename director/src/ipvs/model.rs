//! The IPVS table as director sees it: services, their real servers (dests) and the
//! counters the kernel reports. Pure data, no I/O.
//!
//! `Service` and `Dest` hold only what a user configures (what `plan` compares);
//! `ServiceEntry` / `DestEntry` add what the kernel reports back (connections, stats), and a
//! `Snapshot` is one full dump of the kernel table.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The kernel's `AF_INET` / `AF_INET6` value.
    pub fn af(self) -> u16 {
        match self {
            Family::V4 => libc::AF_INET as u16,
            Family::V6 => libc::AF_INET6 as u16,
        }
    }

    /// Family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// Transport protocol of an address-based virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    /// A value another tool put in the kernel; kept so listings never fail.
    Other(u16),
}

impl Protocol {
    /// The `IPPROTO_*` number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
            Protocol::Other(n) => n,
        }
    }

    /// From an `IPPROTO_*` number.
    pub fn from_number(n: u16) -> Protocol {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            132 => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// `-t` / `-u` / `--sctp-service ADDR:PORT`.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `-f MARK` (`-6` makes it IPv6).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    /// Address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`), as stored by the kernel.
pub mod flags {
    pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
    pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
    pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
    pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
    pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
    pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
}

/// A virtual service as configured. `flags` never contains `IP_VS_SVC_F_HASHED`
/// (the decoder strips it; it is kernel-internal).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`, ..., or `none`).
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` bits, without `HASHED`.
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with `IP_VS_SVC_F_PERSISTENT`).
    pub timeout: u32,
    /// Persistence granularity: for IPv4 the mask as a host-order integer
    /// (`0xffffff00` is 255.255.255.0); for IPv6 the prefix length (1..=128).
    pub netmask: u32,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: scheduler `wlc`, no flags, full netmask.
    pub fn new(key: ServiceKey) -> Service {
        let netmask = match key.family() {
            Family::V4 => 0xffff_ffff,
            Family::V6 => 128,
        };
        Service {
            key,
            scheduler: "wlc".to_string(),
            flags: 0,
            timeout: 0,
            netmask,
            pe_name: None,
        }
    }

    pub fn is_persistent(&self) -> bool {
        self.flags & flags::IP_VS_SVC_F_PERSISTENT != 0
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_*` & `FWD_MASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forward {
    /// NAT, `-m`, "Masq".
    Masq,
    /// Local node, "Local" (not settable by ipvsadm).
    Local,
    /// IP-IP / GUE / GRE tunnel, `-i`, "Tunnel".
    Tunnel,
    /// Direct routing, `-g` (the default), "Route".
    Route,
    /// Any other value the kernel reports.
    Other(u32),
}

impl Forward {
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
            Forward::Other(n) => n,
        }
    }

    pub fn from_number(n: u32) -> Forward {
        match n & 0x7 {
            0 => Forward::Masq,
            1 => Forward::Local,
            2 => Forward::Tunnel,
            3 => Forward::Route,
            n => Forward::Other(n),
        }
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
    Other(u8),
}

impl TunnelType {
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Other(n) => n,
        }
    }

    pub fn from_number(n: u8) -> TunnelType {
        match n {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tun_flags {
    pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
    pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1;
    pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 2;
}

/// What identifies a destination inside its service: (family, address, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

/// A real server as configured.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    /// 0..=i32::MAX (the kernel refuses negative weights).
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub u_threshold: u32,
    /// Lower connection threshold (0 = none).
    pub l_threshold: u32,
    pub tun_type: TunnelType,
    /// GUE destination port.
    pub tun_port: u16,
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*`.
    pub tun_flags: u16,
}

impl Dest {
    /// A destination with ipvsadm's defaults: gatewaying (`-g`), weight 1.
    pub fn new(addr: IpAddr, port: u16) -> Dest {
        Dest {
            addr,
            port,
            forward: Forward::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_port: 0,
            tun_flags: 0,
        }
    }

    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// Traffic counters (`IPVS_STATS_ATTR_*`), widened to 64 bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A destination as dumped: configuration plus what the kernel counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    /// The 32-bit `STATS` block (ipvsadm 1.31 shows these for destinations).
    pub stats: Stats,
    /// The `STATS64` block, when the kernel sent one.
    pub stats64: Option<Stats>,
}

/// A service as dumped, with its destinations in kernel dump order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
    pub stats64: Option<Stats>,
    pub dests: Vec<DestEntry>,
}

/// One full dump of the kernel's IPVS table, in kernel dump order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub services: Vec<ServiceEntry>,
}

impl Snapshot {
    /// The configuration part of the dump, as a `Table` for `plan`.
    pub fn table(&self) -> Table {
        let mut table = Table::default();
        for entry in &self.services {
            let dests = entry
                .dests
                .iter()
                .map(|d| (d.dest.key(), d.dest.clone()))
                .collect();
            table.services.insert(
                entry.service.key,
                ServiceConfig {
                    service: entry.service.clone(),
                    dests,
                },
            );
        }
        table
    }
}

/// A service and its destinations, keyed for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Dest>,
}

/// The configured table: what `plan` compares (desired vs actual).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, ServiceConfig>,
}

/// The global connection timeouts (`--set` / `--timeout`), in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// `GET_INFO`: IPVS version code and connection table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

/// Sync daemon role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    pub fn number(self) -> u32 {
        match self {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        }
    }
}

/// A connection-sync daemon (`--start-daemon`), as requested or as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

/// One edit of the kernel table. `plan` produces these; the client applies them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    AddService(Service),
    /// Replace scheduler, flags, timeout, netmask, persistence engine of an existing service.
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Dest),
    /// Replace forwarding, weight, thresholds and tunnel settings of an existing dest.
    EditDest(ServiceKey, Dest),
    DelDest(ServiceKey, DestKey),
}
