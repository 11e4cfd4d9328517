//! Many-address HTTP server for the health-check benchmark (tests/bench/healthcheck.sh): the
//! same behaviour as tests/bench/httpd.py, cheap enough for 10,000 checks a second on one core.
//!
//! ```text
//! bench-httpd --count N [--port 80] --log FILE      addresses tests::bench::real_ip(0..N)
//!             [--any]                               (127.1.(i/250).(i%250+1) up to 62,500)
//! bench-httpd --listen-file FILE --log FILE         one `ADDRESS PORT` per line
//!             [--body-file FILE]
//! ```
//!
//! `--any`: one listener on 0.0.0.0:PORT instead of one per address (each takes a descriptor,
//! and the hard limit here is 20,000); it answers on every local address, all of 127/8, so run
//! it in a network namespace of its own (healthcheck.sh does). The log names the address each
//! connection was made to, so it reads the same.
//!
//! Every request (read up to the blank line) is answered `200 OK` with the body
//! (`<html><body>Test Page</body></html>` unless --body-file) and `Connection: close`; each is
//! logged as `<epoch seconds> <address:port>` (buffered, written every 0.2 s and at exit). One
//! thread (a current-thread runtime). Prints `listening on N addresses` once bound; ends on
//! SIGTERM or SIGINT.

use std::cell::RefCell;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{signal, SignalKind};

use tests::bench::{real_ip, MAX_REALS};

struct Options {
    addrs: Vec<SocketAddr>,
    /// Listen on 0.0.0.0:port once, for every address of `addrs`.
    any: Option<u16>,
    log: String,
    body: Vec<u8>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut count = None;
    let mut port = 80u16;
    let mut listen_file = None;
    let mut log = None;
    let mut any = false;
    let mut body = b"<html><body>Test Page</body></html>\n".to_vec();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--count" => {
                count = Some(
                    value()?
                        .parse::<u32>()
                        .map_err(|e| format!("--count: {e}"))?,
                )
            }
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--listen-file" => listen_file = Some(value()?),
            "--log" => log = Some(value()?),
            "--any" => any = true,
            "--body-file" => {
                let f = value()?;
                body = std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let addrs = match (count, listen_file) {
        (Some(n), None) if n <= MAX_REALS => (0..n)
            .map(|i| SocketAddr::new(real_ip(i).into(), port))
            .collect(),
        (Some(_), None) => return Err(format!("--count: at most {MAX_REALS}")),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
            let mut out = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let mut w = line.split_whitespace();
                let (Some(a), Some(p)) = (w.next(), w.next()) else {
                    continue;
                };
                let ip: IpAddr = a.parse().map_err(|e| format!("{f}:{}: {e}", n + 1))?;
                let p: u16 = p.parse().map_err(|e| format!("{f}:{}: {e}", n + 1))?;
                out.push(SocketAddr::new(ip, p));
            }
            out
        }
        _ => return Err("give --count N or --listen-file FILE".into()),
    };
    if addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err("loopback addresses only".into());
    }
    let log = log.ok_or("--log FILE is required")?;
    let any = any.then_some(port);
    Ok(Options {
        addrs,
        any,
        log,
        body,
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

type Log = Rc<RefCell<String>>;

/// Serves one listener; `label` names it in the log, else the address each connection was
/// made to does.
async fn serve(listener: TcpListener, label: Option<Rc<str>>, log: Log, response: Rc<[u8]>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let label = match &label {
            Some(l) => Rc::clone(l),
            None => match stream.local_addr() {
                Ok(a) => a.to_string().into(),
                Err(_) => continue,
            },
        };
        let log = Rc::clone(&log);
        let response = Rc::clone(&response);
        tokio::task::spawn_local(async move {
            let mut buf = Vec::with_capacity(512);
            let mut chunk = [0u8; 1024];
            loop {
                match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                    Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                }
                if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n")
                {
                    break;
                }
                if buf.len() > 65536 {
                    return;
                }
            }
            log.borrow_mut()
                .push_str(&format!("{:.6} {label}\n", now()));
            let _ = stream.write_all(&response).await;
            let _ = stream.shutdown().await;
        });
    }
}

fn flush(log: &Log, file: &mut std::fs::File) {
    let text = std::mem::take(&mut *log.borrow_mut());
    if !text.is_empty() {
        let _ = file.write_all(text.as_bytes());
    }
}

async fn run(opts: Options) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&opts.log)
        .map_err(|e| format!("{}: {e}", opts.log))?;
    let mut response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        opts.body.len()
    )
    .into_bytes();
    response.extend_from_slice(&opts.body);
    let response: Rc<[u8]> = response.into();
    let log: Log = Rc::new(RefCell::new(String::new()));
    let any = opts
        .any
        .map(|port| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port));
    let listen: &[SocketAddr] = match &any {
        Some(a) => std::slice::from_ref(a),
        None => &opts.addrs,
    };
    for addr in listen {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| format!("socket: {e}"))?;
        socket
            .set_reuseaddr(true)
            .map_err(|e| format!("{addr}: {e}"))?;
        socket.bind(*addr).map_err(|e| format!("{addr}: {e}"))?;
        let listener = socket
            .listen(if any.is_some() { 4096 } else { 256 })
            .map_err(|e| format!("{addr}: {e}"))?;
        let label: Option<Rc<str>> = any.is_none().then(|| addr.to_string().into());
        tokio::task::spawn_local(serve(
            listener,
            label,
            Rc::clone(&log),
            Rc::clone(&response),
        ));
    }
    println!("listening on {} addresses", opts.addrs.len());
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tick.tick() => flush(&log, &mut file),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    flush(&log, &mut file);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let opts = match tests::bench::args("bench-httpd", parse) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-httpd: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, run(opts)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-httpd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
