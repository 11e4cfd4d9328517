//! Traffic for the lab's connection scenarios (`tests/lab/scenarios/connections.sh`,
//! `tests/lab/bench/connections.sh`): a real-server line echo and a client that holds
//! long-lived TCP connections through a VIP and counts, per phase, the ones that broke.
//!
//! ```text
//! conn_traffic server NAME ADDR:PORT
//!     Answers every line received with "NAME\n", on every connection, until killed.
//!
//! conn_traffic client VIP:PORT CONTROL [--active N] [--idle N] [--interval-ms MS]
//!                     [--new-per-sec N] [--stall-ms MS] [--new-timeout-ms MS]
//! ```
//!
//! The client opens `--active` (30) connections that send a line every `--interval-ms` (100)
//! and `--idle` (10) that send a line only when a phase ends, plus `--new-per-sec` (10) short
//! connections a second (connect, one line, its answer, close). It prints `ready: ...` once
//! every long-lived connection has been answered, then counts in phase `steady` and follows
//! CONTROL, a file the scenario
//! appends lines to: `phase NAME` ends the current phase and starts NAME, `end` ends the
//! current phase and the run. At the end of a phase every idle connection sends one line and
//! must be answered (so an idle connection is checked across whatever happened in the phase),
//! then the phase's counts are printed in one line:
//!
//! ```text
//! phase NAME: broken B (reset R, eof E, other-rs O, stalled S, idle-failed I), held H of N,
//!     new OK ok F failed (slowest MS ms), longest wait MS ms
//! ```
//!
//! A long-lived connection is broken when it is reset, closed by the other side, answered by
//! another real server than its first answer, or waits longer than `--stall-ms` (1500) for an
//! answer; it is then replaced by a new one (so every phase tests the whole set). A new
//! connection fails when it cannot connect or is not answered within `--new-timeout-ms`
//! (10000). At `end` a table of every phase is printed; the exit status is 1 if anything
//! broke or failed, else 0. Every break and failure is also logged on stderr with its time
//! (a break with the connection's local port: `conn ID port PORT broken in phase NAME: ...`).
//! Only std: it runs inside the lab VM's namespaces.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") if args.len() == 3 => server(&args[1], &args[2]),
        Some("client") if args.len() >= 3 => client(&args[1..]),
        _ => Err(usage()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conn_traffic: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> String {
    "usage: conn_traffic server NAME ADDR:PORT | conn_traffic client VIP:PORT CONTROL \
     [--active N] [--idle N] [--interval-ms MS] [--new-per-sec N] [--stall-ms MS] \
     [--new-timeout-ms MS]"
        .to_string()
}

// ---------------------------------------------------------------- the real server

fn server(name: &str, addr: &str) -> Result<ExitCode, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let answer: Arc<[u8]> = format!("{name}\n").into_bytes().into();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let answer = answer.clone();
        thread::spawn(move || echo(stream, &answer));
    }
    Ok(ExitCode::SUCCESS)
}

/// Answers every line on `stream` with `answer` until the peer closes it.
fn echo(stream: TcpStream, answer: &[u8]) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if out.write_all(answer).is_err() {
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------- the client

struct Options {
    vip: SocketAddr,
    control: String,
    active: usize,
    idle: usize,
    interval: Duration,
    new_per_sec: u32,
    stall: Duration,
    new_timeout: Duration,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let vip = args[0]
        .parse()
        .map_err(|e| format!("VIP:PORT {}: {e}", args[0]))?;
    let mut o = Options {
        vip,
        control: args[1].clone(),
        active: 30,
        idle: 10,
        interval: Duration::from_millis(100),
        new_per_sec: 10,
        stall: Duration::from_millis(1500),
        new_timeout: Duration::from_millis(10_000),
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
        match flag.as_str() {
            "--active" => o.active = n as usize,
            "--idle" => o.idle = n as usize,
            "--interval-ms" => o.interval = Duration::from_millis(n),
            "--new-per-sec" => o.new_per_sec = n as u32,
            "--stall-ms" => o.stall = Duration::from_millis(n),
            "--new-timeout-ms" => o.new_timeout = Duration::from_millis(n),
            _ => return Err(format!("unknown option {flag}\n{}", usage())),
        }
    }
    if o.active + o.idle == 0 {
        return Err("no long-lived connections (--active 0 --idle 0)".into());
    }
    Ok(o)
}

/// Why a long-lived connection broke.
#[derive(Clone, Copy, Debug)]
enum Break {
    Reset,
    Eof,
    OtherServer,
    Stalled,
    IdleFailed,
}

#[derive(Default, Clone)]
struct Counts {
    reset: u32,
    eof: u32,
    other: u32,
    stalled: u32,
    idle_failed: u32,
    new_ok: u32,
    new_failed: u32,
    slowest_new: Duration,
    longest_wait: Duration,
}

impl Counts {
    fn broken(&self) -> u32 {
        self.reset + self.eof + self.other + self.stalled + self.idle_failed
    }
    fn add_break(&mut self, why: Break) {
        match why {
            Break::Reset => self.reset += 1,
            Break::Eof => self.eof += 1,
            Break::OtherServer => self.other += 1,
            Break::Stalled => self.stalled += 1,
            Break::IdleFailed => self.idle_failed += 1,
        }
    }
}

/// The phases and their counts; events go to the current (last) phase.
struct Tally {
    start: Instant,
    phases: Mutex<Vec<(String, Counts)>>,
}

impl Tally {
    fn with<R>(&self, f: impl FnOnce(&mut Counts) -> R) -> R {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        let last = phases.len() - 1;
        f(&mut phases[last].1)
    }
    fn elapsed(&self) -> String {
        format!("{:.2}s", self.start.elapsed().as_secs_f64())
    }
    fn phase(&self) -> String {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases[phases.len() - 1].0.clone()
    }
}

/// One line out, one line back. Ok(answer) or why the connection broke; `waited` is how long
/// the answer took (also on a stall).
fn exchange(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    stall: Duration,
    waited: &mut Duration,
) -> Result<String, Break> {
    let sent = Instant::now();
    if let Err(e) = stream.write_all(b"ping\n") {
        return Err(io_break(&e));
    }
    let mut line = Vec::new();
    loop {
        let left = stall.saturating_sub(sent.elapsed());
        if left.is_zero() {
            *waited = sent.elapsed();
            return Err(Break::Stalled);
        }
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(left.min(Duration::from_millis(200))));
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Err(Break::Eof),
            Ok(_) if line.ends_with(b"\n") => {
                *waited = sent.elapsed();
                return Ok(String::from_utf8_lossy(&line).trim().to_string());
            }
            Ok(_) => return Err(Break::Eof),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(io_break(&e)),
        }
    }
}

fn io_break(e: &std::io::Error) -> Break {
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe => Break::Eof,
        _ => Break::Reset,
    }
}

/// A long-lived connection, opened and answered once: (stream, reader, first server).
type Conn = (TcpStream, BufReader<TcpStream>, String);

fn open(vip: SocketAddr, stall: Duration) -> Result<Conn, String> {
    let mut stream =
        TcpStream::connect_timeout(&vip, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut waited = Duration::ZERO;
    let server = exchange(&mut stream, &mut reader, stall, &mut waited)
        .map_err(|b| format!("first answer: {b:?}"))?;
    Ok((stream, reader, server))
}

/// Opens a replacement for a broken connection: tries for at most 20 s.
fn reopen(vip: SocketAddr, stall: Duration, id: usize, tally: &Tally) -> Option<Conn> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        match open(vip, stall) {
            Ok(c) => return Some(c),
            Err(e) if Instant::now() >= until => {
                eprintln!("{} conn {id}: cannot reopen: {e}", tally.elapsed());
                return None;
            }
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Logs a break with the connection's local port (the scenarios find the director a flow
/// went through by it, in that director's connection table).
fn broke(tally: &Tally, id: usize, stream: &TcpStream, why: Break, detail: &str) {
    let phase = tally.phase();
    let port = stream.local_addr().map(|a| a.port()).unwrap_or(0);
    eprintln!(
        "{} conn {id} port {port} broken in phase {phase}: {why:?} {detail}",
        tally.elapsed()
    );
    tally.with(|c| c.add_break(why));
}

/// An active connection: a line every `interval`, until `stop`.
fn active(id: usize, mut conn: Conn, o: Arc<Options>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        next += o.interval;
        let mut waited = Duration::ZERO;
        let result = exchange(&mut conn.0, &mut conn.1, o.stall, &mut waited);
        tally.with(|c| c.longest_wait = c.longest_wait.max(waited));
        let why = match result {
            Ok(server) if server == conn.2 => None,
            Ok(server) => Some((
                Break::OtherServer,
                format!("{server} answered, first {}", conn.2),
            )),
            Err(b) => Some((
                b,
                format!("(first answered by {}, waited {waited:?})", conn.2),
            )),
        };
        if let Some((why, detail)) = why {
            broke(&tally, id, &conn.0, why, &detail);
            match reopen(o.vip, o.stall, id, &tally) {
                Some(c) => conn = c,
                None => return,
            }
            next = Instant::now() + o.interval;
        }
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            thread::sleep(d);
        }
    }
}

/// An idle connection: sends a line only when asked, answers whether it held.
fn idle(
    id: usize,
    mut conn: Conn,
    o: Arc<Options>,
    tally: Arc<Tally>,
    pokes: mpsc::Receiver<mpsc::Sender<bool>>,
) {
    for reply in pokes {
        let mut waited = Duration::ZERO;
        let result = exchange(&mut conn.0, &mut conn.1, o.stall, &mut waited);
        tally.with(|c| c.longest_wait = c.longest_wait.max(waited));
        let why = match result {
            Ok(server) if server == conn.2 => None,
            Ok(server) => Some(format!("{server} answered, first {}", conn.2)),
            Err(b) => Some(format!(
                "{b:?} (first answered by {}, waited {waited:?})",
                conn.2
            )),
        };
        let held = why.is_none();
        if let Some(detail) = why {
            broke(
                &tally,
                id,
                &conn.0,
                Break::IdleFailed,
                &format!("idle: {detail}"),
            );
            match reopen(o.vip, o.stall, id, &tally) {
                Some(c) => conn = c,
                None => {
                    let _ = reply.send(false);
                    return;
                }
            }
        }
        let _ = reply.send(held);
    }
}

/// One short connection: connect, a line, its answer, close.
fn new_connection(vip: SocketAddr, timeout: Duration, tally: &Tally) {
    let started = Instant::now();
    let result = (|| -> Result<String, String> {
        let stream =
            TcpStream::connect_timeout(&vip, timeout).map_err(|e| format!("connect: {e}"))?;
        let mut w = stream.try_clone().map_err(|e| e.to_string())?;
        w.write_all(b"new\n").map_err(|e| format!("send: {e}"))?;
        let left = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        BufReader::new(stream.take(256))
            .read_line(&mut answer)
            .map_err(|e| format!("answer: {e}"))?;
        if answer.ends_with('\n') {
            Ok(answer)
        } else {
            Err("closed without an answer".into())
        }
    })();
    let took = started.elapsed();
    match result {
        Ok(_) => tally.with(|c| {
            c.new_ok += 1;
            c.slowest_new = c.slowest_new.max(took);
        }),
        Err(e) => {
            eprintln!(
                "{} new connection failed in phase {} after {took:?}: {e}",
                tally.elapsed(),
                tally.phase()
            );
            tally.with(|c| {
                c.new_failed += 1;
                c.slowest_new = c.slowest_new.max(took);
            });
        }
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn summary(name: &str, c: &Counts, held: usize, total: usize) -> String {
    format!(
        "phase {name}: broken {} (reset {}, eof {}, other-rs {}, stalled {}, idle-failed {}), \
         held {held} of {total}, new {} ok {} failed (slowest {} ms), longest wait {} ms",
        c.broken(),
        c.reset,
        c.eof,
        c.other,
        c.stalled,
        c.idle_failed,
        c.new_ok,
        c.new_failed,
        ms(c.slowest_new),
        ms(c.longest_wait)
    )
}

fn client(args: &[String]) -> Result<ExitCode, String> {
    let o = Arc::new(parse_options(args)?);
    let tally = Arc::new(Tally {
        start: Instant::now(),
        phases: Mutex::new(vec![("steady".to_string(), Counts::default())]),
    });
    let total = o.active + o.idle;
    let mut servers: BTreeMap<String, usize> = BTreeMap::new();
    let mut conns = Vec::new();
    for id in 0..total {
        let c = open(o.vip, o.stall).map_err(|e| format!("long-lived connection {id}: {e}"))?;
        *servers.entry(c.2.clone()).or_default() += 1;
        conns.push(c);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut pokers = Vec::new();
    let mut threads = Vec::new();
    for (id, conn) in conns.into_iter().enumerate() {
        let (o, tally) = (o.clone(), tally.clone());
        if id < o.active {
            let stop = stop.clone();
            threads.push(thread::spawn(move || active(id, conn, o, tally, stop)));
        } else {
            let (tx, rx) = mpsc::channel();
            pokers.push(tx);
            threads.push(thread::spawn(move || idle(id, conn, o, tally, rx)));
        }
    }
    // The short connections, each in its own thread, started at a steady rate.
    let spawner = {
        let (o, tally, stop) = (o.clone(), tally.clone(), stop.clone());
        thread::spawn(move || {
            let mut workers = Vec::new();
            if o.new_per_sec == 0 {
                return workers;
            }
            let every = Duration::from_secs(1) / o.new_per_sec;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let tally = tally.clone();
                let (vip, timeout) = (o.vip, o.new_timeout);
                workers.push(thread::spawn(move || new_connection(vip, timeout, &tally)));
                workers.retain(|w| !w.is_finished());
                next += every;
                match next.checked_duration_since(Instant::now()) {
                    Some(d) => thread::sleep(d),
                    // Late (a stalled machine): no burst to catch up, the rate stays the rate.
                    None => next = Instant::now(),
                }
            }
            workers
        })
    };
    let per_server: Vec<String> = servers.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "ready: {total} long-lived connections ({} active every {} ms, {} idle; first answers: {}), {} new a second",
        o.active,
        ms(o.interval),
        o.idle,
        per_server.join(", "),
        o.new_per_sec
    );
    let _ = std::io::stdout().flush();

    // Follow the control file.
    let mut offset = 0usize;
    let mut pending = String::new();
    let mut held_by_phase: Vec<usize> = Vec::new();
    'control: loop {
        thread::sleep(Duration::from_millis(50));
        let text = std::fs::read(&o.control).unwrap_or_default();
        if text.len() <= offset {
            continue;
        }
        pending.push_str(&String::from_utf8_lossy(&text[offset..]));
        offset = text.len();
        while let Some(nl) = pending.find('\n') {
            let line: String = pending.drain(..=nl).collect();
            let line = line.trim();
            let next = match line.split_once(' ') {
                Some(("phase", name)) => Some(name.trim().to_string()),
                _ if line == "end" => None,
                _ if line.is_empty() => continue,
                _ => {
                    eprintln!("conn_traffic: ignored control line {line:?}");
                    continue;
                }
            };
            // End the current phase: every idle connection must still be answered.
            let mut replies = Vec::new();
            for p in &pokers {
                let (tx, rx) = mpsc::channel();
                if p.send(tx).is_ok() {
                    replies.push(rx);
                }
            }
            let deadline = Instant::now() + o.stall + Duration::from_secs(25);
            for rx in replies {
                // A false or missing answer is already counted as broken.
                let _ = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
            }
            let (name, counts) = {
                let phases = tally.phases.lock().unwrap_or_else(|e| e.into_inner());
                phases[phases.len() - 1].clone()
            };
            let held = total - (counts.broken() as usize).min(total);
            held_by_phase.push(held);
            println!("{}", summary(&name, &counts, held, total));
            let _ = std::io::stdout().flush();
            match next {
                Some(name) => {
                    let mut phases = tally.phases.lock().unwrap_or_else(|e| e.into_inner());
                    phases.push((name, Counts::default()));
                }
                None => break 'control,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(pokers);
    if let Ok(workers) = spawner.join() {
        for w in workers {
            let _ = w.join();
        }
    }
    let _ = threads; // the long-lived connections end with the process

    let phases = tally.phases.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "{:<16} {:>6} {:>6} {:>4} {:>8} {:>7} {:>11} {:>6} {:>6} {:>10} {:>12} {:>8}",
        "phase",
        "broken",
        "reset",
        "eof",
        "other-rs",
        "stalled",
        "idle-failed",
        "new",
        "failed",
        "slowest-ms",
        "longest-wait",
        "held"
    );
    let mut bad = false;
    for ((name, c), held) in phases.iter().zip(&held_by_phase) {
        bad |= c.broken() > 0 || c.new_failed > 0;
        println!(
            "{:<16} {:>6} {:>6} {:>4} {:>8} {:>7} {:>11} {:>6} {:>6} {:>10} {:>12} {:>8}",
            name,
            c.broken(),
            c.reset,
            c.eof,
            c.other,
            c.stalled,
            c.idle_failed,
            c.new_ok + c.new_failed,
            c.new_failed,
            ms(c.slowest_new),
            ms(c.longest_wait),
            format!("{held}/{total}")
        );
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
