//! The IPVS table ldirectord programs once every real server has passed its check
//! (ref ldirectord.md 6.2 and 6.7). Backs `director check --print-ipvs`.

use std::net::IpAddr;

use failover::config::settings::{Checksum, Tunnel};

use super::model::{CheckType, Config, Method, Netmask, Protocol, VirtualAddress, VirtualService};
use crate::ipvs::{
    self, flags, tun_flags, Dest, Forward, ServiceConfig, ServiceKey, Table, TunnelType,
};

/// `ipvsadm -b` flag names and the `IP_VS_SVC_F_SCHED*` bit each sets.
pub(super) fn sched_flag_bit(name: &str) -> Option<u32> {
    match name {
        "flag-1" | "sh-fallback" | "mh-fallback" => Some(flags::IP_VS_SVC_F_SCHED1),
        "flag-2" | "sh-port" | "mh-port" => Some(flags::IP_VS_SVC_F_SCHED2),
        "flag-3" => Some(flags::IP_VS_SVC_F_SCHED3),
        _ => None,
    }
}

/// The kernel key of a virtual service.
pub fn service_key(address: &VirtualAddress) -> ServiceKey {
    match *address {
        VirtualAddress::Addr {
            protocol,
            addr,
            port,
        } => ServiceKey::Addr {
            protocol: match protocol {
                Protocol::Udp => ipvs::Protocol::Udp,
                Protocol::Tcp | Protocol::Fwm => ipvs::Protocol::Tcp,
            },
            addr,
            port,
        },
        VirtualAddress::Fwmark { family, mark } => ServiceKey::Fwmark { family, mark },
    }
}

/// The service as `ipvsadm -A ... -s SCHED [-p T [-M MASK]] [-b FLAGS] [-o]` creates it.
pub fn service(vs: &VirtualService) -> ipvs::Service {
    let mut s = ipvs::Service::new(service_key(&vs.address));
    s.scheduler = vs.scheduler.clone();
    if let Some(timeout) = vs.persistent {
        s.flags |= flags::IP_VS_SVC_F_PERSISTENT;
        s.timeout = timeout;
        match vs.netmask {
            Some(Netmask::V4(mask)) => s.netmask = u32::from(mask),
            Some(Netmask::V6Prefix(len)) => s.netmask = u32::from(len),
            None => {}
        }
    }
    if let Some(names) = &vs.schedflags {
        for name in names.split(',') {
            s.flags |= sched_flag_bit(name).unwrap_or(0);
        }
    }
    if vs.ops && vs.address.protocol() == Protocol::Udp {
        s.flags |= flags::IP_VS_SVC_F_ONEPACKET;
    }
    s
}

/// The destination with the port as configured, its forwarding method and, for an `ipip`
/// real, the encapsulation `director.conf`'s `[service.tunnel]` sets for the service.
pub fn configured_dest(
    vs: &VirtualService,
    addr: IpAddr,
    port: u16,
    method: Method,
    weight: u32,
) -> Dest {
    let mut d = Dest::new(addr, port);
    d.weight = weight;
    d.forward = match method {
        Method::Gate => Forward::Route,
        Method::Masq => Forward::Masq,
        Method::Ipip => Forward::Tunnel,
    };
    if method == Method::Ipip {
        (d.tun_type, d.tun_port, d.tun_flags) = tunnel(vs.director.tunnel);
    }
    d
}

/// `[service.tunnel]` as IPVS's tunnel type, port and flags (ipip when not set).
pub fn tunnel(set: Option<Tunnel>) -> (TunnelType, u16, u16) {
    match set {
        None | Some(Tunnel::Ipip) => (TunnelType::Ipip, 0, 0),
        Some(Tunnel::Gue { port, checksum }) => (
            TunnelType::Gue,
            port,
            match checksum {
                Checksum::Nocsum => tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
                Checksum::Csum => tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
                Checksum::Remcsum => tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
            },
        ),
    }
}

/// The destination as the kernel stores it: for gate and ipip on a tcp/udp service ipvsadm
/// replaces the port by the service's port.
pub fn dest(vs: &VirtualService, addr: IpAddr, port: u16, method: Method, weight: u32) -> Dest {
    let port = match (vs.address, method) {
        (VirtualAddress::Addr { port: vport, .. }, Method::Gate | Method::Ipip) => vport,
        _ => port,
    };
    configured_dest(vs, addr, port, method, weight)
}

/// What one virtual service looks like in the kernel once every real server passed its check:
/// each real at its weight; the fallback only when no real can be up (no `real=` lines, or
/// `checktype=off`, where reals are absent or at weight 0 with quiescent=yes).
pub fn service_config(vs: &VirtualService) -> ServiceConfig {
    let mut sc = ServiceConfig {
        service: service(vs),
        dests: Default::default(),
    };
    let never_up = vs.checktype == CheckType::Off;
    for r in &vs.reals {
        if never_up && !vs.quiescent {
            continue;
        }
        let weight = if never_up { 0 } else { r.weight };
        let mut d = dest(vs, r.addr, r.port, r.method, weight);
        d.u_threshold = r.upper;
        d.l_threshold = r.lower;
        sc.dests.insert(d.key(), d);
    }
    if vs.reals.is_empty() || never_up {
        if let Some(f) = vs.fallback {
            let d = dest(vs, f.addr, f.port, f.method, 1);
            sc.dests.insert(d.key(), d);
        }
    }
    sc
}

/// The desired IPVS table of a configuration (every real server healthy).
pub fn desired_table(config: &Config) -> Table {
    let mut table = Table::default();
    for vs in &config.virtuals {
        let sc = service_config(vs);
        table.services.insert(sc.service.key, sc);
    }
    table
}
