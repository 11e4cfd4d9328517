//! `MemoryIpvs`: an in-memory IPVS table with the kernel's rules (errno for errno), for tests
//! of everything above the netlink client.
//!
//! Rules kept (ip_vs_ctl.c, 6.1): NEW_SERVICE on an existing key -> EEXIST; unknown scheduler or
//! persistence engine -> ENOENT; IPv6 netmask outside 1..=128 -> EINVAL; any command on a missing
//! service -> ESRCH; NEW_DEST on an existing (addr, port) -> EEXIST; SET/DEL_DEST on a missing
//! dest -> ENOENT; dest address not unicast or mixed family without tunnelling -> EINVAL;
//! l_threshold > u_threshold -> ERANGE; GUE with port 0 -> EINVAL; NEW_DAEMON for a running role
//! -> EEXIST; DEL_DAEMON for a stopped role -> ESRCH. Services dump in insertion order (the real
//! kernel's order is a hash order); dests dump newest first, as the kernel does.

use std::net::IpAddr;

use super::error::{IpvsCmd, IpvsError};
use super::model::*;
use super::Ipvs;

const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "none",
];

/// An in-memory kernel table.
#[derive(Debug, Clone)]
pub struct MemoryIpvs {
    pub info: Info,
    pub services: Vec<ServiceEntry>,
    pub timeouts: Timeouts,
    pub daemons: Vec<SyncDaemon>,
    /// Interfaces that exist (for `--start-daemon`); empty means any name is accepted.
    pub interfaces: Vec<String>,
}

impl Default for MemoryIpvs {
    fn default() -> Self {
        MemoryIpvs::new()
    }
}

fn err(op: IpvsCmd, errno: i32, what: impl Into<String>) -> IpvsError {
    IpvsError::Kernel {
        op,
        errno,
        what: what.into(),
    }
}

fn unicast(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => {
            !(a.is_unspecified() || a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

impl MemoryIpvs {
    /// An empty table: IPVS 1.2.1, 4096 connection buckets, timeouts 900 120 300.
    pub fn new() -> MemoryIpvs {
        MemoryIpvs {
            info: Info {
                version: 0x01_02_01,
                conn_tab_size: 4096,
            },
            services: Vec::new(),
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            daemons: Vec::new(),
            interfaces: Vec::new(),
        }
    }

    fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.service.key == *key)
    }

    fn check_service(op: IpvsCmd, s: &Service) -> Result<(), IpvsError> {
        if !SCHEDULERS.contains(&s.scheduler.as_str()) {
            return Err(err(op, libc::ENOENT, format!("scheduler {}", s.scheduler)));
        }
        if let Some(pe) = &s.pe_name {
            if pe != "sip" {
                return Err(err(op, libc::ENOENT, format!("persistence engine {pe}")));
            }
        }
        if s.key.family() == Family::V6 && !(1..=128).contains(&s.netmask) {
            return Err(err(op, libc::EINVAL, "IPv6 netmask"));
        }
        Ok(())
    }

    fn check_dest(op: IpvsCmd, svc: &Service, d: &Dest) -> Result<(), IpvsError> {
        if !unicast(&d.addr) {
            return Err(err(op, libc::EINVAL, "destination address not unicast"));
        }
        if Family::of(&d.addr) != svc.key.family() && d.forward != Forward::Tunnel {
            return Err(err(op, libc::EINVAL, "mixed address families"));
        }
        if d.weight > i32::MAX as u32 || (d.u_threshold != 0 && d.l_threshold > d.u_threshold) {
            return Err(err(op, libc::ERANGE, "weight or thresholds"));
        }
        if d.forward == Forward::Tunnel && d.tun_type == TunnelType::Gue && d.tun_port == 0 {
            return Err(err(op, libc::EINVAL, "GUE tunnel port 0"));
        }
        Ok(())
    }

    fn apply_one(&mut self, c: &Change) -> Result<(), IpvsError> {
        match c {
            Change::AddService(s) => {
                if self.find(&s.key).is_some() {
                    return Err(err(IpvsCmd::NewService, libc::EEXIST, "service exists"));
                }
                Self::check_service(IpvsCmd::NewService, s)?;
                self.services.push(ServiceEntry {
                    service: s.clone(),
                    stats: Stats::default(),
                    stats64: Some(Stats::default()),
                    dests: Vec::new(),
                });
            }
            Change::EditService(s) => {
                let i = self
                    .find(&s.key)
                    .ok_or_else(|| err(IpvsCmd::SetService, libc::ESRCH, "no service"))?;
                Self::check_service(IpvsCmd::SetService, s)?;
                self.services[i].service = s.clone();
            }
            Change::DelService(k) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| err(IpvsCmd::DelService, libc::ESRCH, "no service"))?;
                self.services.remove(i);
            }
            Change::AddDest(k, d) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| err(IpvsCmd::NewDest, libc::ESRCH, "no service"))?;
                let se = &mut self.services[i];
                Self::check_dest(IpvsCmd::NewDest, &se.service, d)?;
                if se.dests.iter().any(|e| e.dest.key() == d.key()) {
                    return Err(err(IpvsCmd::NewDest, libc::EEXIST, "dest exists"));
                }
                se.dests.insert(
                    0,
                    DestEntry {
                        dest: d.clone(),
                        active_conns: 0,
                        inact_conns: 0,
                        persist_conns: 0,
                        stats: Stats::default(),
                        stats64: Some(Stats::default()),
                    },
                );
            }
            Change::EditDest(k, d) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| err(IpvsCmd::SetDest, libc::ESRCH, "no service"))?;
                let se = &mut self.services[i];
                Self::check_dest(IpvsCmd::SetDest, &se.service, d)?;
                let e = se
                    .dests
                    .iter_mut()
                    .find(|e| e.dest.key() == d.key())
                    .ok_or_else(|| err(IpvsCmd::SetDest, libc::ENOENT, "no dest"))?;
                e.dest = d.clone();
            }
            Change::DelDest(k, dk) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| err(IpvsCmd::DelDest, libc::ESRCH, "no service"))?;
                let se = &mut self.services[i];
                let j = se
                    .dests
                    .iter()
                    .position(|e| e.dest.key() == *dk)
                    .ok_or_else(|| err(IpvsCmd::DelDest, libc::ENOENT, "no dest"))?;
                se.dests.remove(j);
            }
        }
        Ok(())
    }
}

impl Ipvs for MemoryIpvs {
    fn info(&mut self) -> Result<Info, IpvsError> {
        Ok(self.info)
    }

    fn dump(&mut self) -> Result<Snapshot, IpvsError> {
        Ok(Snapshot {
            services: self.services.clone(),
        })
    }

    fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError> {
        self.find(key)
            .and_then(|i| self.services.get(i).cloned())
            .ok_or_else(|| err(IpvsCmd::GetService, libc::ESRCH, "no service"))
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), IpvsError> {
        for c in changes {
            self.apply_one(c)?;
        }
        Ok(())
    }

    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        let clear = |se: &mut ServiceEntry| {
            se.stats = Stats::default();
            se.stats64 = se.stats64.map(|_| Stats::default());
            for d in &mut se.dests {
                d.stats = Stats::default();
                d.stats64 = d.stats64.map(|_| Stats::default());
            }
        };
        match key {
            None => self.services.iter_mut().for_each(clear),
            Some(k) => {
                let i = self
                    .find(k)
                    .ok_or_else(|| err(IpvsCmd::Zero, libc::ESRCH, "no service"))?;
                clear(&mut self.services[i]);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IpvsError> {
        self.services.clear();
        Ok(())
    }

    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        Ok(self.timeouts)
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        if [t.tcp, t.tcp_fin, t.udp]
            .iter()
            .any(|v| *v > i32::MAX as u32 / 1000)
        {
            return Err(err(IpvsCmd::SetConfig, libc::EINVAL, "timeout too large"));
        }
        if t.tcp != 0 {
            self.timeouts.tcp = t.tcp;
        }
        if t.tcp_fin != 0 {
            self.timeouts.tcp_fin = t.tcp_fin;
        }
        if t.udp != 0 {
            self.timeouts.udp = t.udp;
        }
        Ok(())
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let mut d = self.daemons.clone();
        d.sort_by_key(|x| x.state);
        Ok(d)
    }

    fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), IpvsError> {
        if self.daemons.iter().any(|d| d.state == daemon.state) {
            return Err(err(IpvsCmd::NewDaemon, libc::EEXIST, "daemon running"));
        }
        if !self.interfaces.is_empty() && !self.interfaces.contains(&daemon.mcast_ifn) {
            return Err(err(IpvsCmd::NewDaemon, libc::ENODEV, "no such interface"));
        }
        let mut d = daemon.clone();
        d.sync_maxlen = Some(d.sync_maxlen.unwrap_or(1472));
        d.mcast_port = Some(d.mcast_port.unwrap_or(8848));
        d.mcast_ttl = Some(d.mcast_ttl.unwrap_or(1));
        if d.mcast_group.is_none() {
            d.mcast_group = Some(IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, 81)));
        }
        self.daemons.push(d);
        Ok(())
    }

    fn stop_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        let i = self
            .daemons
            .iter()
            .position(|d| d.state == state)
            .ok_or_else(|| err(IpvsCmd::DelDaemon, libc::ESRCH, "no daemon"))?;
        self.daemons.remove(i);
        Ok(())
    }
}
