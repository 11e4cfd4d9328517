//! What the generated files say, before it is written as text.

use std::net::IpAddr;

use super::parse::Loc;

/// Everything an import produces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    /// The failover pair (`ha.cf`, `authkeys`, `haresources`); `None` without vrrp_instance.
    pub pair: Option<Pair>,
    /// The ldirectord files, in order.
    pub ldirectord: Vec<LdFile>,
}

/// The pair: both nodes, timing, media, signing, resource groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub node: String,
    pub peer: String,
    /// `keepalive`, milliseconds.
    pub keepalive_ms: u64,
    /// `deadtime`, milliseconds.
    pub deadtime_ms: u64,
    pub media: Vec<Medium>,
    pub auto_failback: bool,
    /// `None`: crc (keepalived without authentication).
    pub key: Option<String>,
    pub groups: Vec<Group>,
    /// Where each ha.cf line comes from (comment lines in the file).
    pub sources: Vec<String>,
    /// director.conf's `[track]`.
    pub tracks: Vec<Track>,
    /// director.conf's `[failback] hold`, ms, and the `FILE:LINE` it comes from.
    pub failback_hold: Option<(u64, String)>,
}

/// A heartbeat medium.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Medium {
    Bcast(String),
    Ucast(String, IpAddr),
}

/// One haresources line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The vrrp_instance (or vrrp_sync_group) it comes from.
    pub name: String,
    pub loc: Loc,
    /// True: this node is the preferred node; false: the peer.
    pub local_preferred: bool,
    /// Resources as written in haresources (`IPaddr2::...`, `IPv6addr::...`).
    pub resources: Vec<String>,
    /// The VIPs of the group (for placing virtual servers).
    pub addresses: Vec<IpAddr>,
    /// keepalived's notify scripts: `[[notify]]` tables of director.conf for this group.
    pub notify: Vec<NotifyTable>,
}

/// One `[[notify]]` table: the notify scripts of one vrrp_instance or vrrp_sync_group, for
/// the group that holds its addresses. Each command is written for `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyTable {
    /// The instance's (or sync group's) name: `name =`, what `command` passes.
    pub name: String,
    /// `FILE:LINE` of the instance or sync group.
    pub origin: String,
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
    /// keepalived's generic `notify`.
    pub command: Option<String>,
}

impl NotifyTable {
    /// No command at all.
    pub fn is_empty(&self) -> bool {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.command,
        ]
        .iter()
        .all(|c| c.is_none())
    }
}

/// What a track checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// A vrrp_script: its command (for `/bin/sh -c`) and timeout, ms.
    Script {
        command: String,
        timeout_ms: u64,
    },
    Interface,
}

/// One `[track.script.NAME]` / `[track.interface.NAME]` of director.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub name: String,
    pub kind: TrackKind,
    /// `None`: director's default (1 s).
    pub interval_ms: Option<u64>,
    pub fall: Option<u32>,
    pub rise: Option<u32>,
    pub weight: u8,
    /// `FILE:LINE` of the vrrp_script or track_interface line.
    pub origin: String,
}

/// One ldirectord file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdFile {
    pub name: String,
    /// The group whose haresources line runs it (index into `Pair::groups`).
    pub group: Option<usize>,
    pub checkinterval: u32,
    /// Per-virtual check intervals need `fork=yes` in ldirectord.
    pub fork: bool,
    /// keepalived's notification_email: `emailalert=` of the virtuals that alert.
    pub emailalert: Vec<String>,
    /// `emailalertfrom=` (notification_email_from).
    pub emailalertfrom: Option<String>,
    /// `smtp=` (smtp_server).
    pub smtp: Option<String>,
    pub virtuals: Vec<Virtual>,
}

/// How a virtual service is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VAddr {
    Ip(IpAddr, u16),
    Fwmark { mark: u32, v6: bool },
}

/// Forwarding method (ldirectord's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Gate,
    Masq,
    Ipip,
}

impl Method {
    pub fn word(self) -> &'static str {
        match self {
            Method::Gate => "gate",
            Method::Masq => "masq",
            Method::Ipip => "ipip",
        }
    }
}

/// The one check of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No checker: every real server is up (`checktype=on`).
    On,
    Connect,
    Ping,
    /// `checktype=negotiate` with a service and its request/receive.
    Negotiate {
        service: &'static str,
        request: Option<String>,
        receive: Option<String>,
        virtualhost: Option<String>,
        /// keepalived's url blocks when `request=` alone does not say them (status codes, a
        /// digest, several urls): `director.conf`'s `[[service.url]]`.
        pages: Vec<Page>,
    },
    External(String),
}

/// One url block of an HTTP_GET / SSL_GET, as `director.conf` writes it (two pages are equal
/// when they ask the same, wherever they were read).
#[derive(Debug, Clone, Eq)]
pub struct Page {
    /// Where it was read (`FILE:LINE`).
    pub origin: String,
    pub path: String,
    /// keepalived's words (`200-299 302`); `None`: its default, 200-299.
    pub status_code: Option<String>,
    /// 32 hex digits, lowercase.
    pub digest: Option<String>,
}

impl PartialEq for Page {
    fn eq(&self, other: &Page) -> bool {
        (&self.path, &self.status_code, &self.digest)
            == (&other.path, &other.status_code, &other.digest)
    }
}

/// keepalived's quorum of a virtual_server, as `director.conf` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    /// Where it was read (`FILE:LINE`).
    pub origin: String,
    pub quorum: u32,
    pub hysteresis: u32,
    /// The scripts as keepalived splits them into words.
    pub up: Option<Vec<String>>,
    pub down: Option<Vec<String>>,
}

/// One `virtual=` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Virtual {
    /// The virtual_server line.
    pub origin: String,
    pub addr: VAddr,
    pub udp: bool,
    pub scheduler: String,
    pub schedflags: Vec<String>,
    pub persistent: Option<u32>,
    pub netmask: Option<String>,
    pub ops: bool,
    pub quiescent: bool,
    pub fallback: Option<(IpAddr, Option<u16>, Method)>,
    pub check: Check,
    pub checkport: Option<u16>,
    /// Seconds.
    pub timeout: u32,
    pub failurecount: u32,
    pub checkinterval: u32,
    /// keepalived's smtp_alert for this virtual server (mail on real server changes).
    pub alert: bool,
    pub reals: Vec<Real>,
    /// `quorum`, `hysteresis`, `quorum_up`, `quorum_down` when they differ from ldirectord's
    /// rule (`director.conf`).
    pub quorum: Option<Quorum>,
    /// The checkers after the first one of every real server (`director.conf`'s
    /// `[[service.check]]`).
    pub further: Vec<Further>,
    /// `lb_kind TUN type gue port N`: the ipip real servers' tunnel (`director.conf`'s
    /// `[service.tunnel]`; `None`: plain ipip).
    pub tunnel: Option<failover::config::settings::Tunnel>,
}

/// A further checker of each real server of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Further {
    /// Where it was read (`FILE:LINE`, of the first real server's).
    pub origin: String,
    pub check: Check,
    pub port: Option<u16>,
    /// Milliseconds.
    pub timeout_ms: u64,
}

/// One `real=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Real {
    pub addr: IpAddr,
    pub port: u16,
    pub method: Method,
    pub weight: u32,
    pub lower: u32,
    pub upper: u32,
}
