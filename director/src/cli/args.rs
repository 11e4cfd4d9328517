//! ipvsadm 1.31's command line: `parse_options` + the checks of `process_options`, with its
//! exact messages. Pure apart from the name lookups of the `Resolver` it is given.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::inet;
use super::names::Resolver;
use super::popt::{ArgKind, Context, Next, OptDef};
use crate::ipvs::Protocol;

/// ipvsadm's commands (`CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn index(self) -> usize {
        self as usize
    }
}

const CMDNAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// Option bits (`OPTC_*` positions).
pub mod opt {
    pub const NUMERIC: u32 = 0;
    pub const CONNECTION: u32 = 1;
    pub const SERVICE: u32 = 2;
    pub const SCHEDULER: u32 = 3;
    pub const PERSISTENT: u32 = 4;
    pub const NETMASK: u32 = 5;
    pub const SERVER: u32 = 6;
    pub const FORWARD: u32 = 7;
    pub const WEIGHT: u32 = 8;
    pub const UTHRESHOLD: u32 = 9;
    pub const LTHRESHOLD: u32 = 10;
    pub const MCAST: u32 = 11;
    pub const TIMEOUT: u32 = 12;
    pub const DAEMON: u32 = 13;
    pub const STATS: u32 = 14;
    pub const RATE: u32 = 15;
    pub const THRESHOLDS: u32 = 16;
    pub const PERSISTENTCONN: u32 = 17;
    pub const NOSORT: u32 = 18;
    pub const SYNCID: u32 = 19;
    pub const EXACT: u32 = 20;
    pub const ONEPACKET: u32 = 21;
    pub const PERSISTENCE_ENGINE: u32 = 22;
    pub const SCHED_FLAGS: u32 = 23;
    pub const MCAST_GROUP: u32 = 24;
    pub const MCAST_PORT: u32 = 25;
    pub const MCAST_TTL: u32 = 26;
    pub const SYNC_MAXLEN: u32 = 27;
    pub const TUN_INFO: u32 = 28;
    pub const TUN_TYPE: u32 = 29;
    pub const TUN_PORT: u32 = 30;
    pub const TUN_NOCSUM: u32 = 31;
    pub const TUN_CSUM: u32 = 32;
    pub const TUN_REMCSUM: u32 = 33;
}

const OPTNAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// `commands_v_options`: '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
const COMMANDS_V_OPTIONS: [[u8; 34]; 14] = [
    *b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // ADD
    *b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // EDIT
    *b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // DEL
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // FLUSH
    *b" 11xxxxxxxxx11       xxxxxxx xxxxx", // LIST
    *b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // ADDSRV
    *b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // DELSRV
    *b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // EDITSRV
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // TIMEOUT
    *b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // STARTD
    *b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // STOPD
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // RESTORE
    *b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // SAVE
    *b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // ZERO
];

const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUNOPTS: [u32; 4] = [
    opt::TUN_PORT,
    opt::TUN_NOCSUM,
    opt::TUN_CSUM,
    opt::TUN_REMCSUM,
];
/// `tunnel_types_v_options`.
const TUNNEL_TYPES_V_OPTIONS: [[u8; 4]; 3] = [*b"xxxx", *b"+111", *b"x11x"];

/// Printing format flags (`FMT_*`).
pub mod fmt {
    pub const NUMERIC: u32 = 0x0001;
    pub const RULE: u32 = 0x0002;
    pub const STATS: u32 = 0x0004;
    pub const RATE: u32 = 0x0008;
    pub const THRESHOLDS: u32 = 0x0010;
    pub const PERSISTENTCONN: u32 = 0x0020;
    pub const NOSORT: u32 = 0x0040;
    pub const EXACT: u32 = 0x0080;
    pub const TUN_INFO: u32 = 0x0100;
}

/// Forwarding methods (`IP_VS_CONN_F_*`).
pub const CONN_F_MASQ: u32 = 0;
pub const CONN_F_TUNNEL: u32 = 2;
pub const CONN_F_DROUTE: u32 = 3;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
const MAX_TIMEOUT: i64 = 86400 * 31;
/// ipvsadm's libipvs/ip_vs.h: `(6*60)`, the timeout of a bare `-p` (the lab: `persistent 360`).
const IPVS_SVC_PERSISTENT_TIMEOUT: u32 = 360;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Short(char),
    Set,
    StartDaemon,
    StopDaemon,
    McastInterface,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    Sort,
    NoSort,
    PersistenceEngine,
    SctpService,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
}

const fn o(long: &'static str, short: Option<char>, kind: ArgKind, val: Tag) -> OptDef<Tag> {
    OptDef {
        long,
        short,
        kind,
        val,
    }
}

use ArgKind::{None as N, Optional as Opt, Required as R};

const TABLE: [OptDef<Tag>; 56] = [
    o("add-service", Some('A'), N, Tag::Short('A')),
    o("edit-service", Some('E'), N, Tag::Short('E')),
    o("delete-service", Some('D'), N, Tag::Short('D')),
    o("clear", Some('C'), N, Tag::Short('C')),
    o("list", Some('L'), N, Tag::Short('L')),
    o("list", Some('l'), N, Tag::Short('l')),
    o("zero", Some('Z'), N, Tag::Short('Z')),
    o("add-server", Some('a'), N, Tag::Short('a')),
    o("edit-server", Some('e'), N, Tag::Short('e')),
    o("delete-server", Some('d'), N, Tag::Short('d')),
    o("set", None, N, Tag::Set),
    o("help", Some('h'), N, Tag::Short('h')),
    o("version", Some('v'), N, Tag::Short('v')),
    o("restore", Some('R'), N, Tag::Short('R')),
    o("save", Some('S'), N, Tag::Short('S')),
    o("start-daemon", None, R, Tag::StartDaemon),
    o("stop-daemon", None, R, Tag::StopDaemon),
    o("tcp-service", Some('t'), R, Tag::Short('t')),
    o("udp-service", Some('u'), R, Tag::Short('u')),
    o("sctp-service", None, R, Tag::SctpService),
    o("fwmark-service", Some('f'), R, Tag::Short('f')),
    o("scheduler", Some('s'), R, Tag::Short('s')),
    o("persistent", Some('p'), Opt, Tag::Short('p')),
    o("netmask", Some('M'), R, Tag::Short('M')),
    o("real-server", Some('r'), R, Tag::Short('r')),
    o("masquerading", Some('m'), N, Tag::Short('m')),
    o("ipip", Some('i'), N, Tag::Short('i')),
    o("gatewaying", Some('g'), N, Tag::Short('g')),
    o("weight", Some('w'), R, Tag::Short('w')),
    o("u-threshold", Some('x'), R, Tag::Short('x')),
    o("l-threshold", Some('y'), R, Tag::Short('y')),
    o("numeric", Some('n'), N, Tag::Short('n')),
    o("connection", Some('c'), N, Tag::Short('c')),
    o("mcast-interface", None, R, Tag::McastInterface),
    o("syncid", None, R, Tag::Short('I')),
    o("timeout", None, N, Tag::Timeout),
    o("daemon", None, N, Tag::Daemon),
    o("stats", None, N, Tag::Stats),
    o("rate", None, N, Tag::Rate),
    o("thresholds", None, N, Tag::Thresholds),
    o("persistent-conn", None, N, Tag::PersistentConn),
    o("nosort", None, N, Tag::NoSort),
    o("sort", None, N, Tag::Sort),
    o("exact", Some('X'), N, Tag::Short('X')),
    o("ipv6", Some('6'), N, Tag::Short('6')),
    o("ops", Some('o'), N, Tag::Short('o')),
    o("pe", None, R, Tag::PersistenceEngine),
    o("sched-flags", Some('b'), R, Tag::Short('b')),
    o("mcast-group", None, R, Tag::McastGroup),
    o("mcast-port", None, R, Tag::McastPort),
    o("mcast-ttl", None, R, Tag::McastTtl),
    o("sync-maxlen", None, R, Tag::SyncMaxlen),
    o("tun-info", None, N, Tag::TunInfo),
    o("tun-type", None, R, Tag::TunType),
    o("tun-port", None, R, Tag::TunPort),
    o("tun-nocsum", None, N, Tag::TunNocsum),
];

const TABLE_TAIL: [OptDef<Tag>; 2] = [
    o("tun-csum", None, N, Tag::TunCsum),
    o("tun-remcsum", None, N, Tag::TunRemcsum),
];

fn fail<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(msg.into()))
}

fn set_option(options: &mut u64, optc: u32) -> Result<(), Stop> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return fail(format!(
            "multiple '{}' options specified",
            OPTNAMES[optc as usize]
        ));
    }
    *options |= bit;
    Ok(())
}

/// `SERVICE_ADDR` / `SERVICE_PORT` result bits of `parse_service`.
const SERVICE_ADDR: u32 = 1;
const SERVICE_PORT: u32 = 2;

fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn proto_of(n: u16) -> Protocol {
    Protocol::from_number(n)
}

/// ipvsadm's `parse_service` on a copy of the service: returns the result bits and writes
/// af/addr/port/netmask the way the C code does (partially, before failing).
fn parse_service(buf: &str, svc: &mut SvcArgs, names: &dyn Resolver) -> u32 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host = buf;
    let mut portp: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return 0;
        };
        let after = &inner[close + 1..];
        if !after.starts_with(':') {
            return 0;
        }
        host = &inner[..close];
        portp = Some(&after[1..]);
    }
    if let Some(a6) = inet::inet_pton6(host) {
        svc.addr = a6.octets();
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        portp = None;
        if let Some(p) = host.rfind(':') {
            portp = Some(&host[p + 1..]);
            host = &host[..p];
        }
        let a4 = match inet::inet_aton(host) {
            Some(a) => a,
            None => match names.host_to_addr(host) {
                Some(a) => a,
                None => return 0,
            },
        };
        svc.addr = [0; 16];
        svc.addr[..4].copy_from_slice(&a4.octets());
        svc.af = AF_INET;
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = portp {
        result |= SERVICE_PORT;
        if let Some(n) = inet::string_to_number(p, 0, 65535) {
            svc.port = n as u16;
        } else if let Some(n) = names.service_to_port(p, proto_of(svc.protocol)) {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Stop> {
    let Some(buf) = buf else {
        return Ok(IPVS_SVC_PERSISTENT_TIMEOUT);
    };
    match inet::string_to_number(buf, min, max) {
        Some(n) => Ok(n as u32),
        None => fail(format!("invalid timeout value `{buf}' specified")),
    }
}

const SCHED1: u32 = 0x0008;
const SCHED2: u32 = 0x0010;
const SCHED3: u32 = 0x0020;

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Stop> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, need) = match flag {
            "flag-1" => (SCHED1, None),
            "flag-2" => (SCHED2, None),
            "flag-3" => (SCHED3, None),
            "sh-fallback" => (SCHED1, Some("sh")),
            "sh-port" => (SCHED2, Some("sh")),
            "mh-fallback" => (SCHED1, Some("mh")),
            "mh-port" => (SCHED2, Some("mh")),
            _ => return fail(format!("invalid scheduler flag `{flag}'")),
        };
        flags |= bit;
        if need.is_some_and(|n| n != sched) {
            return fail(format!("incompatible scheduler flag `{flag}'"));
        }
    }
    if !any {
        return Err(Stop::Crash);
    }
    Ok(flags)
}

/// C `strncpy` into a buffer of `n` bytes that ipvsadm treats as a string of at most `n`.
fn truncate(s: &str, n: usize) -> String {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // strncpy stops at an embedded NUL; Rust strings from argv have none.
    s[..end].to_string()
}

/// `parse_options` followed by the checks of `process_options`.
pub fn parse(argv: &[String], names: &dyn Resolver) -> Result<Parsed, Stop> {
    let table: Vec<OptDef<Tag>> = TABLE.iter().chain(TABLE_TAIL.iter()).copied().collect();
    let mut ctx = Context::new(&table, argv);
    let mut svc = SvcArgs {
        af: 0,
        protocol: 0,
        addr: [0; 16],
        port: 0,
        fwmark: 0,
        sched_name: String::new(),
        flags: 0,
        timeout: 0,
        netmask: 0xffff_ffff,
        pe_name: String::new(),
    };
    let mut dest = DestArgs {
        af: 0,
        addr: [0; 16],
        port: 0,
        conn_flags: CONN_F_DROUTE,
        weight: 1,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: 0,
        tun_port: 0,
        tun_flags: 0,
    };
    let mut daemon = DaemonArgs::default();
    let mut options: u64 = 0;
    let mut format: u32 = 0;
    let mut sched_flags_arg = String::new();

    let (tag, arg) = match ctx.next_opt() {
        Next::Opt(t, a) => (t, a),
        Next::End | Next::Error(_) => return Err(Stop::TryHelp),
    };
    let cmd = match tag {
        Tag::Short('A') => Cmd::Add,
        Tag::Short('E') => Cmd::Edit,
        Tag::Short('D') => Cmd::Del,
        Tag::Short('a') => Cmd::AddDest,
        Tag::Short('e') => Cmd::EditDest,
        Tag::Short('d') => Cmd::DelDest,
        Tag::Short('C') => Cmd::Flush,
        Tag::Short('L') | Tag::Short('l') => Cmd::List,
        Tag::Short('Z') => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Short('R') => Cmd::Restore,
        Tag::Short('S') => Cmd::Save,
        Tag::StartDaemon | Tag::StopDaemon => {
            let state = match arg.as_deref() {
                Some("master") => 1,
                Some("backup") => 2,
                _ if tag == Tag::StartDaemon => {
                    return fail("illegal start-daemon parameter specified")
                }
                _ => return fail("illegal start_daemon specified"),
            };
            daemon.state = state;
            if tag == Tag::StartDaemon {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Short('h') => return Err(Stop::Help),
        Tag::Short('v') => return Err(Stop::Version),
        _ => return Err(Stop::TryHelp),
    };

    let popt_error;
    loop {
        let (tag, arg) = match ctx.next_opt() {
            Next::Opt(t, a) => (t, a),
            Next::End => {
                popt_error = None;
                break;
            }
            Next::Error(e) => {
                popt_error = Some(e);
                break;
            }
        };
        let a = arg.as_deref().unwrap_or("");
        match tag {
            Tag::Short('t') | Tag::Short('u') | Tag::SctpService => {
                set_option(&mut options, opt::SERVICE)?;
                svc.protocol = match tag {
                    Tag::Short('t') => 6,
                    Tag::Short('u') => 17,
                    _ => 132,
                };
                if parse_service(a, &mut svc, names) & SERVICE_ADDR == 0 {
                    return fail("illegal virtual server address[:port] specified");
                }
            }
            Tag::Short('f') => {
                set_option(&mut options, opt::SERVICE)?;
                svc.af = AF_INET;
                svc.protocol = 6;
                match inet::parse_fwmark(a) {
                    Some(m) => svc.fwmark = m,
                    None => return fail(format!("invalid fwmark value `{a}' specified")),
                }
            }
            Tag::Short('s') => {
                set_option(&mut options, opt::SCHEDULER)?;
                svc.sched_name = truncate(a, 15);
            }
            Tag::Short('p') => {
                set_option(&mut options, opt::PERSISTENT)?;
                svc.flags |= 0x0001;
                svc.timeout = parse_timeout(arg.as_deref(), 1, MAX_TIMEOUT)?;
            }
            Tag::Short('M') => {
                set_option(&mut options, opt::NETMASK)?;
                if svc.af != AF_INET6 {
                    let m = inet::inet_aton(a).or_else(|| names.host_to_addr(a));
                    match m {
                        Some(m) => svc.netmask = u32::from(m),
                        None => return fail("illegal virtual server persistent mask specified"),
                    }
                } else {
                    svc.netmask = inet::atoi(a) as u32;
                    if svc.netmask < 1 || svc.netmask > 128 {
                        return fail("illegal ipv6 netmask specified");
                    }
                }
            }
            Tag::Short('r') => {
                set_option(&mut options, opt::SERVER)?;
                let mut t = svc.clone();
                let parse = parse_service(a, &mut t, names);
                dest.af = t.af;
                dest.addr = t.addr;
                dest.port = t.port;
                if parse & SERVICE_ADDR == 0 {
                    return fail("illegal real server address[:port] specified");
                }
                if parse == SERVICE_ADDR {
                    dest.port = svc.port;
                }
            }
            Tag::Short('i') => {
                set_option(&mut options, opt::FORWARD)?;
                dest.conn_flags = CONN_F_TUNNEL;
            }
            Tag::Short('g') => {
                set_option(&mut options, opt::FORWARD)?;
                dest.conn_flags = CONN_F_DROUTE;
            }
            Tag::Short('m') => {
                set_option(&mut options, opt::FORWARD)?;
                dest.conn_flags = CONN_F_MASQ;
            }
            Tag::Short('w') => {
                set_option(&mut options, opt::WEIGHT)?;
                // Debian raises ipvsadm's limit from 65535 to INT_MAX.
                match inet::string_to_number(a, 0, i64::from(i32::MAX)) {
                    Some(w) => dest.weight = w,
                    None => return fail("illegal weight specified"),
                }
            }
            Tag::Short('x') => {
                set_option(&mut options, opt::UTHRESHOLD)?;
                match inet::string_to_number(a, 0, i64::from(i32::MAX)) {
                    Some(v) => dest.u_threshold = v as u32,
                    None => return fail("illegal u_threshold specified"),
                }
            }
            Tag::Short('y') => {
                set_option(&mut options, opt::LTHRESHOLD)?;
                match inet::string_to_number(a, 0, i64::from(i32::MAX)) {
                    Some(v) => dest.l_threshold = v as u32,
                    None => return fail("illegal l_threshold specified"),
                }
            }
            Tag::Short('c') => set_option(&mut options, opt::CONNECTION)?,
            Tag::Short('n') => {
                set_option(&mut options, opt::NUMERIC)?;
                format |= fmt::NUMERIC;
            }
            Tag::McastInterface => {
                set_option(&mut options, opt::MCAST)?;
                daemon.mcast_ifn = truncate(a, 15);
            }
            Tag::Short('I') => {
                set_option(&mut options, opt::SYNCID)?;
                match inet::string_to_number(a, 0, 255) {
                    Some(v) => daemon.syncid = v as u32,
                    None => return fail("illegal syncid specified"),
                }
            }
            Tag::Timeout => set_option(&mut options, opt::TIMEOUT)?,
            Tag::Daemon => set_option(&mut options, opt::DAEMON)?,
            Tag::Stats => {
                set_option(&mut options, opt::STATS)?;
                format |= fmt::STATS;
            }
            Tag::Rate => {
                set_option(&mut options, opt::RATE)?;
                format |= fmt::RATE;
            }
            Tag::Thresholds => {
                set_option(&mut options, opt::THRESHOLDS)?;
                format |= fmt::THRESHOLDS;
            }
            Tag::PersistentConn => {
                set_option(&mut options, opt::PERSISTENTCONN)?;
                format |= fmt::PERSISTENTCONN;
            }
            Tag::NoSort => {
                set_option(&mut options, opt::NOSORT)?;
                format |= fmt::NOSORT;
            }
            Tag::Sort => {}
            Tag::Short('X') => {
                set_option(&mut options, opt::EXACT)?;
                format |= fmt::EXACT;
            }
            Tag::Short('6') => {
                if svc.fwmark != 0 {
                    svc.af = AF_INET6;
                    svc.netmask = 128;
                } else {
                    return fail("-6 used before -f\n");
                }
            }
            Tag::Short('o') => {
                set_option(&mut options, opt::ONEPACKET)?;
                svc.flags |= 0x0004;
            }
            Tag::PersistenceEngine => {
                set_option(&mut options, opt::PERSISTENCE_ENGINE)?;
                svc.pe_name = truncate(a, 16);
            }
            Tag::Short('b') => {
                set_option(&mut options, opt::SCHED_FLAGS)?;
                sched_flags_arg = truncate(a, 127);
            }
            Tag::McastGroup => {
                set_option(&mut options, opt::MCAST_GROUP)?;
                if a.contains(':') {
                    match inet::inet_pton6(a) {
                        Some(g) if g.is_multicast() => daemon.mcast_group = Some(IpAddr::V6(g)),
                        _ => return fail(format!("invalid IPv6 mcast-group `{a}'")),
                    }
                } else {
                    match inet::inet_pton4(a) {
                        Some(g) if g.is_multicast() => daemon.mcast_group = Some(IpAddr::V4(g)),
                        _ => return fail(format!("invalid IPv4 mcast-group `{a}'")),
                    }
                }
            }
            Tag::McastPort => {
                set_option(&mut options, opt::MCAST_PORT)?;
                match inet::string_to_number(a, 1, 65535) {
                    Some(v) => daemon.mcast_port = v as u16,
                    None => return fail("illegal mcast-port specified"),
                }
            }
            Tag::McastTtl => {
                set_option(&mut options, opt::MCAST_TTL)?;
                match inet::string_to_number(a, 1, 255) {
                    Some(v) => daemon.mcast_ttl = v as u8,
                    None => return fail("illegal mcast-ttl specified"),
                }
            }
            Tag::SyncMaxlen => {
                set_option(&mut options, opt::SYNC_MAXLEN)?;
                match inet::string_to_number(a, 1, 65535 - 20 - 8) {
                    Some(v) => daemon.sync_maxlen = v as u16,
                    None => return fail("illegal sync-maxlen specified"),
                }
            }
            Tag::TunInfo => {
                set_option(&mut options, opt::TUN_INFO)?;
                format |= fmt::TUN_INFO;
            }
            Tag::TunType => {
                set_option(&mut options, opt::TUN_TYPE)?;
                match TUNNAMES.iter().position(|n| *n == a) {
                    Some(t) => dest.tun_type = t as u8,
                    None => return fail("illegal tunnel type specified"),
                }
            }
            Tag::TunPort => {
                set_option(&mut options, opt::TUN_PORT)?;
                match inet::string_to_number(a, 1, 65535) {
                    Some(v) => dest.tun_port = v as u16,
                    None => return fail("illegal tunnel port specified"),
                }
            }
            Tag::TunNocsum => {
                set_option(&mut options, opt::TUN_NOCSUM)?;
            }
            Tag::TunCsum => {
                set_option(&mut options, opt::TUN_CSUM)?;
                dest.tun_flags |= 1;
            }
            Tag::TunRemcsum => {
                set_option(&mut options, opt::TUN_REMCSUM)?;
                dest.tun_flags |= 2;
            }
            _ => {
                return fail(format!("invalid option `{}'", ctx.bad_option()));
            }
        }
    }

    if let Some(e) = popt_error {
        return Err(Stop::Popt(format!("{}: {}", ctx.bad_option(), e.text())));
    }

    let mut timeouts = (0, 0, 0);
    if cmd == Cmd::Timeout {
        let a = ctx.get_arg();
        let b = if a.is_some() { ctx.get_arg() } else { None };
        let c = if b.is_some() { ctx.get_arg() } else { None };
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => {
                timeouts = (
                    parse_timeout(Some(&a), 0, MAX_TIMEOUT)?,
                    parse_timeout(Some(&b), 0, MAX_TIMEOUT)?,
                    parse_timeout(Some(&c), 0, MAX_TIMEOUT)?,
                );
            }
            _ => return fail("--set option requires 3 timeout values"),
        }
    }
    if let Some(extra) = ctx.get_arg() {
        return fail(format!("unexpected argument {extra}"));
    }
    if !sched_flags_arg.is_empty() {
        svc.flags &= !(SCHED1 | SCHED2 | SCHED3);
        svc.flags |= parse_sched_flags(&svc.sched_name, &sched_flags_arg)?;
    }

    // process_options
    generic_opt_check(cmd, options)?;
    if cmd == Cmd::Add || cmd == Cmd::Edit {
        if svc.fwmark == 0 && svc.port == 0 && svc.flags & 0x0001 == 0 {
            return fail("Zero port specified for non-persistent service");
        }
        if svc.flags & 0x0004 != 0 && svc.fwmark == 0 && svc.protocol != 17 {
            return fail("One-Packet Scheduling is only for UDP virtual services");
        }
        if svc.sched_name.is_empty() {
            svc.sched_name = "wlc".to_string();
        }
    }
    if cmd == Cmd::StartDaemon && daemon.mcast_ifn.is_empty() {
        daemon.mcast_ifn = "eth0".to_string();
    }
    let fwd = dest.conn_flags & 0x7;
    if cmd == Cmd::AddDest || cmd == Cmd::EditDest {
        if svc.fwmark == 0 && (fwd == CONN_F_TUNNEL || fwd == CONN_F_DROUTE) {
            dest.port = svc.port;
        }
        if dest.af != svc.af && fwd != CONN_F_TUNNEL {
            return fail("Different address family is allowed only for tunneling servers");
        }
        let tun_opts = (1u64 << opt::TUN_TYPE)
            | (1u64 << opt::TUN_PORT)
            | (1u64 << opt::TUN_NOCSUM)
            | (1u64 << opt::TUN_CSUM)
            | (1u64 << opt::TUN_REMCSUM);
        if options & tun_opts != 0 && fwd != CONN_F_TUNNEL {
            return fail("Tunnel options conflict with forward method");
        }
        tunnel_opt_check(dest.tun_type, options)?;
    }
    let parsed = Parsed {
        cmd,
        options,
        format,
        svc,
        dest,
        timeouts,
        daemon,
    };
    if cmd == Cmd::List {
        let conn_etc =
            parsed.has(opt::CONNECTION) || parsed.has(opt::TIMEOUT) || parsed.has(opt::DAEMON);
        let stats_etc =
            parsed.has(opt::STATS) || parsed.has(opt::RATE) || parsed.has(opt::THRESHOLDS);
        let td = parsed.has(opt::TIMEOUT) || parsed.has(opt::DAEMON);
        if (conn_etc && stats_etc) || (td && parsed.has(opt::PERSISTENTCONN)) {
            return fail("options conflicts in the list command");
        }
    }
    Ok(parsed)
}

fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Stop> {
    let i = cmd.index();
    let row = &COMMANDS_V_OPTIONS[i];
    let mut last = 0usize;
    let mut count = 0;
    for (j, rule) in row.iter().enumerate() {
        if options & (1u64 << j) == 0 {
            if *rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPTNAMES[j], CMDNAMES[i]
                ));
            }
        } else {
            if *rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPTNAMES[j], CMDNAMES[i]
                ));
            }
            if *rule == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' command",
                    OPTNAMES[j], OPTNAMES[last], CMDNAMES[i]
                ));
            }
        }
    }
    Ok(())
}

fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Stop> {
    let i = usize::from(tun_type);
    let (Some(row), Some(tname)) = (TUNNEL_TYPES_V_OPTIONS.get(i), TUNNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0u32;
    let mut count = 0;
    for (j, rule) in row.iter().enumerate() {
        let k = TUNOPTS[j];
        if options & (1u64 << k) == 0 {
            if *rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPTNAMES[k as usize], tname
                ));
            }
        } else {
            if *rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPTNAMES[k as usize], tname
                ));
            }
            if *rule == b'1' {
                count += 1;
                if count == 1 {
                    last = k;
                    continue;
                }
                return fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                    OPTNAMES[k as usize], OPTNAMES[last as usize], tname
                ));
            }
        }
    }
    Ok(())
}

/// The service address of parsed arguments as an `IpAddr` (by `af`).
pub fn addr_of(af: u16, addr: &[u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*addr))
    } else {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    }
}

/// The usage text of `usage_exit` for program name `p`.
pub fn usage(p: &str) -> String {
    let mut s = version_line();
    s.push_str(&format!(
        "Usage:\n  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n  {p} -D virtual-service\n  {p} -C\n  {p} -R\n  {p} -S [-n]\n  {p} -a|e virtual-service -r server-address [options]\n  {p} -d virtual-service -r server-address\n  {p} -L|l [virtual-service] [options]\n  {p} -Z [virtual-service]\n  {p} --set tcp tcpfin udp\n  {p} --start-daemon {{master|backup}} [daemon-options]\n  {p} --stop-daemon {{master|backup}}\n  {p} -h\n\n"
    ));
    s.push_str(USAGE_REST);
    s
}

/// `version()`.
pub fn version_line() -> String {
    "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n".to_string()
}

const USAGE_REST: &str = "Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";
