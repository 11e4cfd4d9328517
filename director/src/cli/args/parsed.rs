//! What a command line parses to: ipvsadm's service, server and daemon structs, or a stop.

use std::net::IpAddr;

use super::command::Cmd;

/// `ipvs_service_t` as ipvsadm fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcArgs {
    /// 0 until an address or `-f` sets it.
    pub af: u16,
    pub protocol: u16,
    /// IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub flags: u32,
    pub timeout: u32,
    /// IPv4: host-order mask; IPv6: prefix length.
    pub netmask: u32,
    pub pe_name: String,
}

/// `ipvs_dest_t` as ipvsadm fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestArgs {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i64,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// `ipvs_daemon_t` as ipvsadm fills it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonArgs {
    /// 1 master, 2 backup.
    pub state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// A parsed and checked command line: `struct ipvs_command_entry` plus options and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub cmd: Cmd,
    /// `OPT_*` bits.
    pub options: u64,
    /// `FMT_*` bits.
    pub format: u32,
    pub svc: SvcArgs,
    pub dest: DestArgs,
    /// tcp, tcpfin, udp for `--set`.
    pub timeouts: (u32, u32, u32),
    pub daemon: DaemonArgs,
}

impl Parsed {
    pub fn has(&self, o: u32) -> bool {
        self.options & (1u64 << o) != 0
    }
}

/// How ipvsadm stops instead of running a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `tryhelp_exit(argv[0], -1)`: "Try `P -h' ..." on stderr, exit 255.
    TryHelp,
    /// `usage_exit(argv[0], 0)`: usage on stdout, exit 0.
    Help,
    /// `version_exit(0)`.
    Version,
    /// `fail(2, ...)`: the message and a newline on stderr, exit 2.
    Fail(String),
    /// A popt error after the command: "BADOPT: error" on stderr; `process_options` returns -1
    /// (exit 255, or the next line of a restore).
    Popt(String),
    /// ipvsadm crashes (strtok returned NULL for `-b ,`): SIGSEGV.
    Crash,
}

pub(super) fn fail<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(msg.into()))
}
