//! Running an ipvsadm command line against an `Ipvs` (ipvsadm's `main`, `process_options`
//! and `restore_table`), with its messages and exit codes.

use std::io::{Read, Write};

use super::args::{self, addr_of, fmt, opt, Cmd, Parsed, Stop, AF_INET6};
use super::inet;
use super::names::Resolver;
use super::render;
use super::restore::ConfigStream;
use crate::ipvs::{
    Change, Dest, DestKey, Family, Forward, Ipvs, IpvsCmd, IpvsError, Protocol, Service,
    ServiceKey, SyncDaemon, SyncState, Timeouts, TunnelType,
};

/// Where the command reads and writes. Everything is a parameter so `run` is testable.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// The text of /proc/net/ip_vs_conn (None: cannot be opened).
    pub conn: &'a mut dyn FnMut() -> Option<String>,
    pub names: &'a dyn Resolver,
}

/// The libipvs function an error came from (`ipvs_func`), which words ipvsadm's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    StartDaemon,
    StopDaemon,
    GetServices,
    Other,
}

fn func_of(op: IpvsCmd) -> Func {
    match op {
        IpvsCmd::NewService => Func::AddService,
        IpvsCmd::SetService => Func::UpdateService,
        IpvsCmd::DelService => Func::DelService,
        IpvsCmd::Zero => Func::ZeroService,
        IpvsCmd::NewDest => Func::AddDest,
        IpvsCmd::SetDest => Func::UpdateDest,
        IpvsCmd::DelDest => Func::DelDest,
        IpvsCmd::NewDaemon => Func::StartDaemon,
        IpvsCmd::DelDaemon => Func::StopDaemon,
        IpvsCmd::GetService | IpvsCmd::GetDest => Func::GetServices,
        _ => Func::Other,
    }
}

/// `ipvs_strerror(errno)` with `ipvs_func` = `func`.
fn ipvs_strerror(func: Func, errno: i32) -> String {
    use Func::*;
    let specific: &[(Func, i32, &str)] = &[
        (AddService, libc::EEXIST, "Service already exists"),
        (
            AddService,
            libc::ENOENT,
            "Scheduler or persistence engine not found",
        ),
        (UpdateService, libc::ESRCH, "No such service"),
        (
            UpdateService,
            libc::ENOENT,
            "Scheduler or persistence engine not found",
        ),
        (DelService, libc::ESRCH, "No such service"),
        (ZeroService, libc::ESRCH, "No such service"),
        (AddDest, libc::ESRCH, "Service not defined"),
        (AddDest, libc::EEXIST, "Destination already exists"),
        (UpdateDest, libc::ESRCH, "Service not defined"),
        (UpdateDest, libc::ENOENT, "No such destination"),
        (DelDest, libc::ESRCH, "Service not defined"),
        (DelDest, libc::ENOENT, "No such destination"),
        (StartDaemon, libc::EEXIST, "Daemon has already run"),
        (StopDaemon, libc::ESRCH, "No daemon is running"),
        (GetServices, libc::ESRCH, "No such service"),
    ];
    if let Some((_, _, m)) = specific.iter().find(|(f, e, _)| *f == func && *e == errno) {
        return (*m).to_string();
    }
    let generic: &[(i32, &str)] = &[
        (libc::EPERM, "Permission denied (you must be root)"),
        (
            libc::EINVAL,
            "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        ),
        (libc::ENOPROTOOPT, "Protocol not available"),
        (libc::ENOMEM, "Memory allocation problem"),
        (libc::EOPNOTSUPP, "Operation not supported with IPv6"),
        (
            libc::EAFNOSUPPORT,
            "Operation not supported with specified address family",
        ),
        (libc::EMSGSIZE, "Module is wrong version"),
    ];
    if let Some((_, m)) = generic.iter().find(|(e, _)| *e == errno) {
        return (*m).to_string();
    }
    inet::strerror(errno)
}

/// The errno and calling function ipvsadm would see for an error.
fn error_text(e: &IpvsError, default: Func) -> String {
    match e {
        IpvsError::Kernel { op, errno, .. } => {
            let f = match func_of(*op) {
                Func::Other => default,
                f => f,
            };
            ipvs_strerror(f, *errno)
        }
        IpvsError::Unavailable => ipvs_strerror(default, libc::ENOPROTOOPT),
        IpvsError::Io(io) => ipvs_strerror(default, io.raw_os_error().unwrap_or(libc::EIO)),
        IpvsError::Decode(_) => ipvs_strerror(default, libc::EINVAL),
    }
}

/// How many `-R` lines travel together: the parser thread hands them over in chunks of this
/// size, and a run of edits this long is sent to the kernel before the next is parsed.
const RESTORE_BATCH: usize = 256;

/// One `-R` line after parsing: a table edit to batch, or any other command line.
enum Line {
    Edit((Change, Func)),
    Other(Vec<String>, Result<Parsed, Stop>),
}

/// How `process_options` ended: returned a value, or called `exit()`.
enum Flow {
    Return(i32),
    Exit(i32),
}

struct Runner<'a, 'b> {
    ipvs: &'a mut dyn Ipvs,
    io: &'a mut Io<'b>,
    info: crate::ipvs::Info,
}

impl Runner<'_, '_> {
    fn out(&mut self, s: &str) {
        let _ = self.io.stdout.write_all(s.as_bytes());
    }
    fn err(&mut self, s: &str) {
        let _ = self.io.stderr.write_all(s.as_bytes());
    }

    fn list_all(&mut self, format: u32) -> Flow {
        if format & fmt::RULE == 0 {
            let h = render::header(&self.info);
            self.out(&h);
        }
        match self.ipvs.dump() {
            Ok(snap) => {
                let text = render::list_all(&snap, format, self.io.names);
                self.out(&text);
                Flow::Return(0)
            }
            Err(e) => {
                let m = error_text(&e, Func::GetServices);
                self.err(&format!("{m}\n"));
                Flow::Exit(1)
            }
        }
    }

    fn process_options(&mut self, argv: &[String], reading_stdin: bool) -> Flow {
        let parsed = args::parse(argv, self.io.names);
        self.process_parsed(argv, parsed, reading_stdin)
    }

    /// `process_options` after the parse (`-R` parses each line once, to batch edits).
    fn process_parsed(
        &mut self,
        argv: &[String],
        parsed: Result<Parsed, Stop>,
        reading_stdin: bool,
    ) -> Flow {
        let prog = argv
            .first()
            .map(String::as_str)
            .unwrap_or("ipvsadm")
            .to_string();
        let p = match parsed {
            Ok(p) => p,
            Err(stop) => return self.stop(stop, &prog),
        };
        let fail = |r: &mut Self, e: &IpvsError, f: Func| -> Flow {
            let m = error_text(e, f);
            r.err(&format!("{m}\n"));
            Flow::Return(-1)
        };
        match p.cmd {
            Cmd::List => {
                if p.has(opt::CONNECTION) {
                    let text = (self.io.conn)();
                    let l = render::list_conn(text.as_deref(), p.format, self.io.names);
                    self.out(&l.stdout);
                    self.err(&l.stderr);
                    if l.failed {
                        return Flow::Exit(1);
                    }
                } else if p.has(opt::SERVICE) {
                    match self.ipvs.service(&svc_key(&p)) {
                        Ok(se) => {
                            let t = render::list_service(&se, p.format, self.io.names);
                            self.out(&t);
                        }
                        Err(e) => {
                            let m = error_text(&e, Func::GetServices);
                            self.err(&format!("{m}\n"));
                            return Flow::Exit(1);
                        }
                    }
                } else if p.has(opt::TIMEOUT) {
                    match self.ipvs.timeouts() {
                        Ok(t) => self.out(&render::timeouts(&t)),
                        Err(_) => return Flow::Exit(1),
                    }
                } else if p.has(opt::DAEMON) {
                    match self.ipvs.daemons() {
                        Ok(d) => self.out(&render::daemons(&d)),
                        Err(_) => return Flow::Exit(1),
                    }
                } else {
                    return self.list_all(p.format);
                }
                Flow::Return(0)
            }
            Cmd::Restore => self.restore(&prog, reading_stdin),
            Cmd::Save => self.list_all(p.format | fmt::RULE),
            Cmd::Flush => match self.ipvs.flush() {
                Ok(()) => Flow::Return(0),
                Err(e) => fail(self, &e, Func::Other),
            },
            Cmd::Add | Cmd::Edit | Cmd::Del | Cmd::AddDest | Cmd::EditDest | Cmd::DelDest => {
                let Some((change, f)) = change_of(&p) else {
                    return Flow::Return(0);
                };
                match self.ipvs.apply(&[change]) {
                    Ok(()) => Flow::Return(0),
                    Err(e) => fail(self, &e, f),
                }
            }
            Cmd::Zero => {
                let all = p.svc.fwmark == 0 && p.svc.addr == [0; 16] && p.svc.port == 0;
                let key = svc_key(&p);
                let r = self.ipvs.zero(if all { None } else { Some(&key) });
                match r {
                    Ok(()) => Flow::Return(0),
                    Err(e) => fail(self, &e, Func::ZeroService),
                }
            }
            Cmd::Timeout => {
                let t = Timeouts {
                    tcp: p.timeouts.0,
                    tcp_fin: p.timeouts.1,
                    udp: p.timeouts.2,
                };
                match self.ipvs.set_timeouts(&t) {
                    Ok(()) => Flow::Return(0),
                    Err(e) => fail(self, &e, Func::Other),
                }
            }
            Cmd::StartDaemon => match self.ipvs.start_daemon(&daemon(&p)) {
                Ok(()) => Flow::Return(0),
                Err(e) => fail(self, &e, Func::StartDaemon),
            },
            Cmd::StopDaemon => match self.ipvs.stop_daemon(state(p.daemon.state)) {
                Ok(()) => Flow::Return(0),
                Err(e) => fail(self, &e, Func::StopDaemon),
            },
        }
    }

    fn stop(&mut self, stop: Stop, prog: &str) -> Flow {
        match stop {
            Stop::TryHelp => {
                self.err(&format!(
                    "Try `{prog} -h' or '{prog} --help' for more information.\n"
                ));
                Flow::Exit(255)
            }
            Stop::Help => {
                self.out(&args::usage(prog));
                Flow::Exit(0)
            }
            Stop::Version => {
                self.out(&args::version_line());
                Flow::Exit(0)
            }
            Stop::Fail(m) => {
                self.err(&format!("{m}\n"));
                Flow::Exit(2)
            }
            Stop::Popt(m) => {
                self.err(&format!("{m}\n"));
                Flow::Return(-1)
            }
            Stop::Crash => Flow::Exit(139),
        }
    }

    fn restore(&mut self, prog: &str, reading_stdin: bool) -> Flow {
        if reading_stdin {
            return self.stop(Stop::TryHelp, prog);
        }
        let mut input = Vec::new();
        let _ = self.io.stdin.read_to_end(&mut input);
        let names = self.io.names;
        // A second thread splits and parses the lines (pure work) while this one talks to
        // the kernel; parsing never depends on what earlier lines did, so the results are
        // the same as ipvsadm's line-by-line loop. Consecutive table edits are sent together
        // (pipelined); the kernel handles each on its own, so every line still gets its own
        // result and message, in order.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Line>>(4);
            let input = &input;
            scope.spawn(move || {
                let mut stream = ConfigStream::new(input);
                let mut chunk = Vec::with_capacity(RESTORE_BATCH);
                while let Some(argv) = stream.next_line(prog) {
                    if argv.len() <= 1 {
                        continue;
                    }
                    let parsed = args::parse(&argv, names);
                    chunk.push(match parsed.as_ref().ok().and_then(change_of) {
                        Some(edit) => Line::Edit(edit),
                        None => Line::Other(argv, parsed),
                    });
                    if chunk.len() >= RESTORE_BATCH {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(RESTORE_BATCH));
                        if tx.send(full).is_err() {
                            return; // the restore stopped (exit)
                        }
                    }
                }
                let _ = tx.send(chunk);
            });
            let mut result = 0;
            let mut batch: Vec<(Change, Func)> = Vec::new();
            for chunk in rx.iter() {
                for line in chunk {
                    match line {
                        Line::Edit(edit) => batch.push(edit),
                        Line::Other(argv, parsed) => {
                            if !batch.is_empty() {
                                self.apply_batch(&mut batch);
                            }
                            match self.process_parsed(&argv, parsed, true) {
                                Flow::Return(r) => result = r,
                                Flow::Exit(c) => return Flow::Exit(c),
                            }
                        }
                    }
                }
                if batch.len() >= RESTORE_BATCH {
                    result = self.apply_batch(&mut batch);
                }
            }
            if !batch.is_empty() {
                result = self.apply_batch(&mut batch);
            }
            Flow::Return(result)
        })
    }

    /// Apply the pending `-R` edits; print each refusal as ipvsadm would have for its line.
    /// Returns the last line's result (0 or -1) and empties the batch.
    fn apply_batch(&mut self, batch: &mut Vec<(Change, Func)>) -> i32 {
        let changes: Vec<Change> = batch.iter().map(|(c, _)| c.clone()).collect();
        let mut result = 0;
        match self.ipvs.apply_each(&changes) {
            Ok(results) => {
                for (r, (_, f)) in results.iter().zip(batch.iter()) {
                    result = match r {
                        Ok(()) => 0,
                        Err(e) => {
                            let m = error_text(e, *f);
                            self.err(&format!("{m}\n"));
                            -1
                        }
                    };
                }
            }
            Err(e) => {
                // The channel failed: nothing is known of these lines; ipvsadm would have
                // printed the same error for each of them.
                for (_, f) in batch.iter() {
                    let m = error_text(&e, *f);
                    self.err(&format!("{m}\n"));
                }
                result = -1;
            }
        }
        batch.clear();
        result
    }
}

/// The table edit of an `-A/-E/-D/-a/-e/-d` command line, with the libipvs function that
/// words its errors; None for every other command.
fn change_of(p: &Parsed) -> Option<(Change, Func)> {
    Some(match p.cmd {
        Cmd::Add => (Change::AddService(service(p)), Func::AddService),
        Cmd::Edit => (Change::EditService(service(p)), Func::UpdateService),
        Cmd::Del => (Change::DelService(svc_key(p)), Func::DelService),
        Cmd::AddDest => (Change::AddDest(svc_key(p), dest(p)), Func::AddDest),
        Cmd::EditDest => (Change::EditDest(svc_key(p), dest(p)), Func::UpdateDest),
        Cmd::DelDest => {
            let d = dest(p);
            (
                Change::DelDest(
                    svc_key(p),
                    DestKey {
                        addr: d.addr,
                        port: d.port,
                    },
                ),
                Func::DelDest,
            )
        }
        _ => return None,
    })
}

fn state(n: u32) -> SyncState {
    if n == 2 {
        SyncState::Backup
    } else {
        SyncState::Master
    }
}

/// The service key of parsed arguments.
pub fn svc_key(p: &Parsed) -> ServiceKey {
    if p.svc.fwmark != 0 {
        ServiceKey::Fwmark {
            family: if p.svc.af == AF_INET6 {
                Family::V6
            } else {
                Family::V4
            },
            mark: p.svc.fwmark,
        }
    } else {
        ServiceKey::Addr {
            protocol: Protocol::from_number(p.svc.protocol),
            addr: addr_of(p.svc.af, &p.svc.addr),
            port: p.svc.port,
        }
    }
}

/// The service of parsed arguments (`-A`/`-E`).
pub fn service(p: &Parsed) -> Service {
    Service {
        key: svc_key(p),
        scheduler: p.svc.sched_name.clone(),
        flags: p.svc.flags,
        timeout: p.svc.timeout,
        netmask: p.svc.netmask,
        pe_name: if p.svc.pe_name.is_empty() {
            None
        } else {
            Some(p.svc.pe_name.clone())
        },
    }
}

/// The destination of parsed arguments (`-a`/`-e`/`-d`).
pub fn dest(p: &Parsed) -> Dest {
    Dest {
        addr: addr_of(p.dest.af, &p.dest.addr),
        port: p.dest.port,
        forward: Forward::from_number(p.dest.conn_flags),
        weight: p.dest.weight as u32,
        u_threshold: p.dest.u_threshold,
        l_threshold: p.dest.l_threshold,
        tun_type: TunnelType::from_number(p.dest.tun_type),
        tun_port: p.dest.tun_port,
        tun_flags: p.dest.tun_flags,
    }
}

/// The sync daemon of parsed arguments (`--start-daemon`).
pub fn daemon(p: &Parsed) -> SyncDaemon {
    let d = &p.daemon;
    SyncDaemon {
        state: state(d.state),
        mcast_ifn: d.mcast_ifn.clone(),
        sync_id: d.syncid,
        sync_maxlen: (d.sync_maxlen != 0).then_some(d.sync_maxlen),
        mcast_group: d.mcast_group,
        mcast_port: (d.mcast_port != 0).then_some(d.mcast_port),
        mcast_ttl: (d.mcast_ttl != 0).then_some(d.mcast_ttl),
    }
}

/// ipvsadm's `main`: initialise (GET_INFO), then list (no arguments) or run the command line.
/// `args[0]` is the program name as ipvsadm prints it. Returns the exit status.
pub fn run(args: &[String], ipvs: &mut dyn Ipvs, io: &mut Io<'_>) -> i32 {
    let info = match ipvs.info() {
        Ok(i) => i,
        Err(e) => {
            let m = error_text(&e, Func::Other);
            let _ = write!(
                io.stderr,
                "Can't initialize ipvs: {m}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
            );
            return 2;
        }
    };
    if info.version < 0x01_01_04 {
        let v = info.version;
        let _ = write!(
            io.stderr,
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    let mut r = Runner { ipvs, io, info };
    let flow = if args.len() <= 1 {
        r.list_all(0)
    } else {
        r.process_options(args, false)
    };
    match flow {
        Flow::Return(v) | Flow::Exit(v) => v & 0xff,
    }
}
