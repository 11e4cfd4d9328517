//! The floor of the health-check benchmark (tests/bench/healthcheck.sh): the least a program
//! can do to check N HTTP reals every interval, measured in the same run as director.
//!
//! ```text
//! bench-floor --count N [--port 80] [--interval-ms 1000] [--timeout-ms 5000] --seconds S
//!             [--linger0] [--eager]
//! ```
//!
//! One thread, nonblocking sockets on epoll (mio), no task, no timer wheel, no allocation per
//! check once warm. Real i (`tests::bench::real_ip`, the addresses of bench-httpd and of the
//! benchmark's file) is due i × interval / N into every interval; at its due time: socket,
//! nonblocking connect, the request director's http probe sends (ldirectord's: libwww-perl's
//! headers in its order), read until the answer holds `Test Page` or the server closes, close.
//! A real still in flight at its next due time is skipped, as director's runner skips a slot.
//!
//! * `--linger0`: SO_LINGER 0 on every socket, so a close before the server's FIN sends a RST
//!   and leaves no TIME_WAIT on this side (one setsockopt more per check).
//! * `--eager`: write the request right after connect() instead of waiting for epoll to say
//!   the socket is writable (on loopback the handshake is over by then).
//!
//! Prints `started` once running and, every second, one line of counters:
//! `t=… checks=… ok=… failed=… failed_connect=… timed_out=… skipped=… inflight=… lag_p50_us=…
//! lag_p99_us=… lag_max_us=…`
//! (lag: due time to connect, what director_check_lag_seconds measures). Ends after --seconds
//! or on SIGTERM.

// No tokio here: the loop's clock is std's.
#![allow(clippy::disallowed_types)]

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};

use tests::bench::{real_ip, MAX_REALS};

const RECEIVE: &[u8] = b"Test Page";
/// What a nonblocking connect() says while the handshake goes on (Linux).
const EINPROGRESS: i32 = 115;
/// An answer longer than this fails the check.
const MAX_ANSWER: usize = 64 * 1024;
/// The lag histogram: 10 µs buckets up to 100 ms.
const LAG_BUCKET_US: u64 = 10;
const LAG_BUCKETS: usize = 10_000;

struct Options {
    count: u32,
    port: u16,
    interval: Duration,
    timeout: Duration,
    seconds: u64,
    linger0: bool,
    eager: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        count: 0,
        port: 80,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        seconds: 0,
        linger0: false,
        eager: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            v.parse().map_err(|e| format!("{what} {v}: {e}"))
        };
        match a.as_str() {
            "--count" => o.count = u32::try_from(value("--count")?).map_err(|e| e.to_string())?,
            "--port" => o.port = u16::try_from(value("--port")?).map_err(|e| e.to_string())?,
            "--interval-ms" => o.interval = Duration::from_millis(value("--interval-ms")?),
            "--timeout-ms" => o.timeout = Duration::from_millis(value("--timeout-ms")?),
            "--seconds" => o.seconds = value("--seconds")?,
            "--linger0" => o.linger0 = true,
            "--eager" => o.eager = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.count == 0 || o.count > MAX_REALS {
        return Err(format!("--count must be 1..={MAX_REALS}"));
    }
    if o.seconds == 0 || o.interval.is_zero() {
        return Err("--seconds and --interval-ms must be above 0".into());
    }
    Ok(o)
}

/// One check in flight.
#[derive(Default)]
struct Slot {
    stream: Option<TcpStream>,
    real: u32,
    started: Option<Instant>,
    /// The request (built in place: no allocation once the slot is warm) and how much of it
    /// has been written.
    request: Vec<u8>,
    sent: usize,
    answer: Vec<u8>,
}

#[derive(Default)]
struct Counters {
    checks: u64,
    ok: u64,
    failed: u64,
    /// Of the failures: connect() or socket() refused at once (EMFILE when the descriptors
    /// run out, ECONNREFUSED), and checks over --timeout-ms.
    failed_connect: u64,
    timed_out: u64,
    skipped: u64,
    lag: Vec<u64>,
    lag_max: Duration,
}

impl Counters {
    fn record_lag(&mut self, lag: Duration) {
        if self.lag.is_empty() {
            self.lag = vec![0; LAG_BUCKETS + 1];
        }
        let bucket = usize::try_from(lag.as_micros() as u64 / LAG_BUCKET_US).unwrap_or(usize::MAX);
        if let Some(b) = self.lag.get_mut(bucket.min(LAG_BUCKETS)) {
            *b += 1;
        }
        self.lag_max = self.lag_max.max(lag);
    }

    /// The upper edge of the bucket holding the `q` quantile, in µs.
    fn lag_quantile_us(&self, q: f64) -> u64 {
        let total: u64 = self.lag.iter().sum();
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.lag.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return (i as u64 + 1) * LAG_BUCKET_US;
            }
        }
        0
    }
}

struct Floor {
    opts: Options,
    poll: Poll,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// The slot of each real's check in flight, `usize::MAX` when none.
    inflight: Vec<usize>,
    counters: Counters,
}

impl Floor {
    fn start(&mut self, real: u32) {
        let addr = SocketAddr::new(real_ip(real).into(), self.opts.port);
        let idx = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        });
        match self.connect(idx, real, addr) {
            Ok(()) => {
                if let Some(r) = self.inflight.get_mut(real as usize) {
                    *r = idx;
                }
            }
            Err(_) => {
                self.counters.failed += 1;
                self.counters.failed_connect += 1;
                self.free.push(idx);
            }
        }
    }

    fn connect(&mut self, idx: usize, real: u32, addr: SocketAddr) -> std::io::Result<()> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None)?;
        if self.opts.linger0 {
            socket.set_linger(Some(Duration::ZERO))?;
        }
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e)
                if e.raw_os_error() == Some(EINPROGRESS) || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let mut stream = TcpStream::from_std(std::net::TcpStream::from(socket));
        let Some(slot) = self.slots.get_mut(idx) else {
            return Err(ErrorKind::NotFound.into());
        };
        slot.real = real;
        slot.started = Some(Instant::now());
        slot.sent = 0;
        slot.answer.clear();
        slot.request.clear();
        slot.request
            .extend_from_slice(b"GET /index.html HTTP/1.1\r\nTe: deflate,gzip;q=0.3\r\nConnection: TE, close\r\nHost: ");
        write!(slot.request, "{}", addr.ip())?;
        slot.request
            .extend_from_slice(b"\r\nUser-Agent: libwww-perl/6.68\r\n\r\n");
        if self.opts.eager {
            send(slot, &mut stream)?;
        }
        self.poll.registry().register(
            &mut stream,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        slot.stream = Some(stream);
        Ok(())
    }

    /// Carries on with the check in `idx` after epoll's word on it.
    fn advance(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        let Some(mut stream) = slot.stream.take() else {
            return;
        };
        let verdict = match send(slot, &mut stream) {
            Err(_) => Some(false),
            Ok(()) if slot.sent < slot.request.len() => None,
            Ok(()) => receive(slot, &mut stream),
        };
        match verdict {
            None => slot.stream = Some(stream),
            Some(ok) => {
                drop(stream);
                self.finish(idx, ok);
            }
        }
    }

    fn finish(&mut self, idx: usize, ok: bool) {
        if ok {
            self.counters.ok += 1;
        } else {
            self.counters.failed += 1;
        }
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.stream = None;
            slot.started = None;
            if let Some(r) = self.inflight.get_mut(slot.real as usize) {
                *r = usize::MAX;
            }
        }
        self.free.push(idx);
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.opts.timeout;
        let late: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.stream.is_some() && s.started.is_some_and(|t| now - t > timeout))
            .map(|(i, _)| i)
            .collect();
        for idx in late {
            self.counters.timed_out += 1;
            self.finish(idx, false);
        }
    }
}

/// Writes what is left of the request; `Ok` when written or when the socket is not ready.
fn send(slot: &mut Slot, stream: &mut TcpStream) -> std::io::Result<()> {
    while let Some(rest) = slot.request.get(slot.sent..).filter(|r| !r.is_empty()) {
        match stream.write(rest) {
            Ok(n) => slot.sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::NotConnected => {
                return Ok(())
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what has come; `Some(verdict)` when the check is over.
fn receive(slot: &mut Slot, stream: &mut TcpStream) -> Option<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(found(&slot.answer)),
            Ok(n) => {
                slot.answer
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                if found(&slot.answer) {
                    return Some(true);
                }
                if slot.answer.len() > MAX_ANSWER {
                    return Some(false);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Some(false),
        }
    }
}

fn found(answer: &[u8]) -> bool {
    answer.windows(RECEIVE.len()).any(|w| w == RECEIVE)
}

fn run(opts: Options) -> std::io::Result<()> {
    let n = u64::from(opts.count);
    let interval_ns = opts.interval.as_nanos();
    let mut floor = Floor {
        poll: Poll::new()?,
        slots: Vec::new(),
        free: Vec::new(),
        inflight: vec![usize::MAX; opts.count as usize],
        counters: Counters::default(),
        opts,
    };
    let mut events = Events::with_capacity(1024);
    let begin = Instant::now();
    let end = begin + Duration::from_secs(floor.opts.seconds);
    // The k-th check of the run (real k mod N) is due at begin + k × interval / N.
    let due_at = |k: u64| {
        let ns = interval_ns * u128::from(k) / u128::from(n);
        begin + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    };
    let mut k = 0u64;
    let mut next_sweep = begin;
    let mut next_report = begin + Duration::from_secs(1);
    println!("started");
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        loop {
            let due = due_at(k);
            if due > now {
                break;
            }
            let real = (k % n) as u32;
            k += 1;
            floor.counters.checks += 1;
            if floor.inflight.get(real as usize) != Some(&usize::MAX) {
                floor.counters.skipped += 1;
                continue;
            }
            floor.counters.record_lag(now - due);
            floor.start(real);
        }
        if now >= next_sweep {
            floor.expire(now);
            next_sweep = now + Duration::from_millis(100);
        }
        if now >= next_report {
            let c = &floor.counters;
            println!(
                "t={:.1} checks={} ok={} failed={} failed_connect={} timed_out={} skipped={} inflight={} lag_p50_us={} lag_p99_us={} lag_max_us={}",
                (now - begin).as_secs_f64(),
                c.checks,
                c.ok,
                c.failed,
                c.failed_connect,
                c.timed_out,
                c.skipped,
                floor.slots.len() - floor.free.len(),
                c.lag_quantile_us(0.5),
                c.lag_quantile_us(0.99),
                c.lag_max.as_micros()
            );
            next_report += Duration::from_secs(1);
        }
        let wake = due_at(k).min(end).min(next_report);
        match floor.poll.poll(
            &mut events,
            Some(wake.saturating_duration_since(Instant::now())),
        ) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            floor.advance(ev.token().0);
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let opts = match tests::bench::args("bench-floor", parse) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match run(opts) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
