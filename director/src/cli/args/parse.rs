//! `parse_options`: popt's table of ipvsadm's options and the walk over the command line.

use std::net::IpAddr;

use super::super::inet;
use super::super::names::Resolver;
use super::super::popt::{ArgKind, Context, Next, OptDef};
use super::check::{generic_opt_check, tunnel_opt_check};
use super::command::{
    fmt, opt, Cmd, AF_INET, AF_INET6, CONN_F_DROUTE, CONN_F_MASQ, CONN_F_TUNNEL, MAX_TIMEOUT,
    OPTNAMES, TUNNAMES,
};
use super::parsed::{fail, DaemonArgs, DestArgs, Parsed, Stop, SvcArgs};
use super::value::{
    parse_sched_flags, parse_service, parse_timeout, truncate, SCHED1, SCHED2, SCHED3, SERVICE_ADDR,
};

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
                    let m = inet::inet_aton(a).or_else(|| crate::cli::names::host_v4(names, a));
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
