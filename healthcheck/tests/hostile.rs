//! Every probe against hostile servers on loopback: an endless one (sends forever without the
//! end its protocol expects), a trickling one (one byte every [`TRICKLE`]) and a silent one
//! (accepts, never sends). Each check must end within its timeout, as the runner bounds it,
//! and read a bounded amount: the servers count what they got into the socket (with a small
//! send buffer, so that is what the probe read plus the kernel's buffers, [`KERNEL_SLACK`]).
//! An endless server against a probe that has no bound of its own would get hundreds of MiB
//! out before the deadline.
//!
//! Where the cap is what stops an endless server, the check must fail with its reason
//! ("response larger than 1 MiB"); where the protocol's own rules stop it earlier (a 64-byte
//! NNTP greeting, 16 stray datagrams, a two-byte DNS length), only the bounds are asserted.

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::probe::transport::Transport;
use healthcheck::probe::{self, Negotiate, ProbeError, Receive};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The check's timeout, as the runner applies it.
const TIMEOUT: Duration = Duration::from_millis(400);
/// The deadline for an endless server: long enough that the cap, not the clock, ends a
/// capped probe even on a loaded machine (a TLS megabyte in a debug build), short enough
/// that an uncapped one is caught by the byte count long before it exhausts memory.
const ENDLESS_TIMEOUT: Duration = Duration::from_secs(5);

/// The harness's deadline for a check against `how`.
fn deadline(how: Hostile) -> Duration {
    if how == Hostile::Endless {
        ENDLESS_TIMEOUT
    } else {
        TIMEOUT
    }
}
/// How late a check may end on a loaded machine.
const LATE: Duration = Duration::from_millis(1500);
/// The trickling server's pace.
const TRICKLE: Duration = Duration::from_millis(20);
/// The shared cap (`probe::cap::MAX_ANSWER`).
const CAP: u64 = probe::cap::MAX_ANSWER;
/// What the kernel buffers between the server and a probe that has stopped reading (the
/// client's receive buffer grows with the reads, up to about 1 MiB on loopback).
const KERNEL_SLACK: u64 = 4 << 20;
/// How long a test server runs at most.
const SERVER_LIFE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    Endless,
    Trickle,
    Silent,
}

const ALL: [Hostile; 3] = [Hostile::Endless, Hostile::Trickle, Hostile::Silent];

/// What an endless server sends: `prefix` once, then `unit` again and again; once the
/// client has sent `after` when that is set (an HTTP client takes no answer before its
/// request is out).
#[derive(Clone)]
struct Stream {
    prefix: Vec<u8>,
    unit: Vec<u8>,
    after: Option<&'static [u8]>,
}

fn stream(prefix: &[u8], unit: &[u8]) -> Stream {
    Stream {
        prefix: prefix.to_vec(),
        unit: unit.to_vec(),
        after: None,
    }
}

fn http_stream() -> Stream {
    Stream {
        after: Some(b"\r\n\r\n"),
        ..stream(HTTP_HEAD, &[b'x'; 1024])
    }
}

/// A running hostile server and the bytes it got out.
struct Server {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A TCP server (TLS with the test certificate when `tls`) that plays `how` with `what`.
async fn tcp(how: Hostile, what: Stream, tls: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&sent);
    tokio::spawn(tokio::time::timeout(SERVER_LIFE, async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        socket2::SockRef::from(&tcp)
            .set_send_buffer_size(16 * 1024)
            .unwrap();
        let stream: Box<dyn Io> = if tls {
            match acceptor().accept(tcp).await {
                Ok(s) => Box::new(s),
                Err(_) => return,
            }
        } else {
            Box::new(tcp)
        };
        let (mut from_client, mut to_client) = tokio::io::split(stream);
        if let Some(mark) = what.after {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(mark.len()).any(|w| w == mark) && seen.len() < 64 * 1024 {
                match from_client.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(buf.get(..n).unwrap_or_default()),
                }
            }
        }
        // Take whatever the client says, so its writes never block.
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut from_client, &mut tokio::io::sink()).await;
        });
        play(how, &what, &mut to_client, &count).await;
    }));
    Server { addr, sent }
}

async fn play<W: AsyncWrite + Unpin>(how: Hostile, what: &Stream, out: &mut W, sent: &AtomicU64) {
    match how {
        Hostile::Silent => tokio::time::sleep(SERVER_LIFE).await,
        Hostile::Endless => {
            let mut chunk = what.prefix.clone();
            while chunk.len() < 64 * 1024 {
                chunk.extend_from_slice(&what.unit);
            }
            if out.write_all(&chunk).await.is_err() {
                return;
            }
            sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let mut chunk = Vec::new();
            while chunk.len() < 64 * 1024 {
                chunk.extend_from_slice(&what.unit);
            }
            while out.write_all(&chunk).await.is_ok() {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }
        Hostile::Trickle => {
            let bytes = what.prefix.iter().chain(what.unit.iter().cycle());
            for &b in bytes.take(10_000) {
                if out.write_all(&[b]).await.is_err() || out.flush().await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(TRICKLE).await;
            }
        }
    }
}

/// A UDP server: after the first datagram it answers with `unit` datagrams, endlessly or
/// one byte each every [`TRICKLE`], or not at all.
async fn udp(how: Hostile, unit: &[u8]) -> Server {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&sent);
    let unit = unit.to_vec();
    tokio::spawn(tokio::time::timeout(SERVER_LIFE, async move {
        let mut buf = [0u8; 4096];
        let Ok((_, peer)) = socket.recv_from(&mut buf).await else {
            return;
        };
        match how {
            Hostile::Silent => tokio::time::sleep(SERVER_LIFE).await,
            Hostile::Endless => {
                // Until the probe's socket is gone (ICMP unreachable), with a bound in count.
                for _ in 0..1_000_000 {
                    if socket.send_to(&unit, peer).await.is_err() {
                        return;
                    }
                    count.fetch_add(unit.len() as u64, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            }
            Hostile::Trickle => {
                for &b in unit.iter().cycle().take(10_000) {
                    if socket.send_to(&[b], peer).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(TRICKLE).await;
                }
            }
        }
    }));
    Server { addr, sent }
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = include_bytes!("../src/probe/testdata/cert.pem");
    let key = include_bytes!("../src/probe/testdata/key.pem");
    let certs = vec![CertificateDer::from_pem_slice(cert).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Runs `f` for the three hostile servers at once.
async fn each<F, Fut>(f: F)
where
    F: Fn(Hostile) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures::future::join_all(ALL.map(f)).await;
}

/// What an endless server must get from the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endless {
    /// The shared cap stops it: "response larger than 1 MiB".
    Capped,
    /// A cap of this many bytes stops it (a library's own bound).
    CappedAt(u64),
    /// The protocol's rules end the check (up or down) before the cap.
    Bounded,
}

/// Runs `check` against `server` under [`TIMEOUT`] as the runner does, and asserts it ended
/// in time, with the expected result for an endless server, having read a bounded amount.
async fn assert_bounded<F>(name: &str, how: Hostile, server: &Server, endless: Endless, check: F)
where
    F: std::future::Future<Output = Result<(), ProbeError>>,
{
    let started = Instant::now();
    let res = tokio::time::timeout(deadline(how), check).await;
    let took = started.elapsed();
    // Let the server notice a closed connection, so its count is final.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(
        took < deadline(how) + LATE,
        "{name} {how:?}: took {took:?} ({res:?})"
    );
    match how {
        Hostile::Endless => {
            assert!(
                sent <= CAP + KERNEL_SLACK,
                "{name} endless: the server got {sent} bytes out ({res:?})"
            );
            match endless {
                Endless::Capped | Endless::CappedAt(_) => {
                    let limit = match endless {
                        Endless::CappedAt(limit) => limit,
                        _ => CAP,
                    };
                    let Ok(Err(ProbeError::TooLarge(too_large))) = &res else {
                        panic!("{name} endless: must hit the cap at once: {res:?}");
                    };
                    assert_eq!(too_large.limit, limit, "{name}");
                    assert!(res.as_ref().is_ok_and(|r| r
                        .as_ref()
                        .is_err_and(|e| e.to_string().starts_with("response larger than"))));
                }
                Endless::Bounded => assert!(res.is_ok(), "{name} endless: {res:?}"),
            }
        }
        Hostile::Trickle | Hostile::Silent => {
            // Nothing complete ever arrives: the deadline (or a bound) ends the check, never
            // a success; except where the protocol is content with a first byte (nntp).
            let first_byte_will_do = how == Hostile::Trickle && endless == Endless::Bounded;
            assert!(
                first_byte_will_do || !matches!(res, Ok(Ok(()))),
                "{name} {how:?}: up?"
            );
            assert!(sent <= CAP, "{name} {how:?}: {sent} bytes");
        }
    }
}

/// `start`, a kilobyte of text and CRLF: long lines keep a debug build's parsers from
/// spending the check's timeout on a megabyte of short ones.
fn long_line(start: &[u8]) -> Vec<u8> {
    [start, &[b't'; 1024], b"\r\n"].concat()
}

fn negotiate(request: &str, receive: Option<&str>) -> Negotiate {
    Negotiate {
        request: Some(request.into()),
        receive: receive.map(|r| Receive::compile(r).unwrap()),
        login: Some("check".into()),
        passwd: Some("secret".into()),
        database: Some("db".into()),
        secret: Some("s3cret".into()),
        ..Negotiate::default()
    }
}

const HTTP_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";

#[tokio::test]
async fn http() {
    let p = negotiate("/", Some("never"));
    let p = &p;
    each(|how| async move {
        let s = tcp(how, http_stream(), false).await;
        assert_bounded(
            "http",
            how,
            &s,
            Endless::Capped,
            probe::http::probe(s.addr, p),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn https() {
    let p = negotiate("/", Some("never"));
    let p = &p;
    each(|how| async move {
        let s = tcp(how, http_stream(), true).await;
        let check = probe::http::probe_https(s.addr, p);
        assert_bounded("https", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn http_proxy() {
    let p = negotiate("http://www.example.com/", Some("never"));
    let p = &p;
    each(|how| async move {
        let s = tcp(how, http_stream(), false).await;
        let check = probe::http::probe_proxy(s.addr, p);
        assert_bounded("http_proxy", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn smtp_and_submission() {
    let p = Negotiate::default();
    let p = &p;
    each(|how| async move {
        let s = tcp(how, stream(b"220-hello\r\n", &long_line(b"220-")), false).await;
        assert_bounded(
            "smtp",
            how,
            &s,
            Endless::Capped,
            probe::smtp::probe(s.addr, p),
        )
        .await;
        let s = tcp(how, stream(b"220-hello\r\n", &long_line(b"220-")), false).await;
        let check = probe::submission::probe(s.addr, p);
        assert_bounded("submission", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn pop_and_pops() {
    let p = negotiate("/", None);
    let p = &p;
    // With a login: CAPA, whose list never ends ("." never comes), is given up after 1024
    // lines; a banner line without end is refused at 64 KiB.
    let capa = stream(b"+OK ready\r\n+OK capabilities\r\n", b"USER\r\n");
    let capa = &capa;
    let line = stream(b"+OK ", b"aaaaaaaaaaaaaaaa");
    let line = &line;
    each(|how| async move {
        let s = tcp(how, capa.clone(), false).await;
        let check = probe::pop::probe(s.addr, p);
        assert_bounded("pop capa", how, &s, Endless::Bounded, check).await;
        let s = tcp(how, line.clone(), false).await;
        let check = probe::pop::probe(s.addr, p);
        assert_endless_fails("pop line", how, &s, check).await;
        let s = tcp(how, line.clone(), true).await;
        let check = probe::pops::probe(s.addr, p);
        assert_endless_fails("pops line", how, &s, check).await;
    })
    .await;
}

/// Like [`assert_bounded`] for an endless server that a protocol bound refuses (down, not up).
async fn assert_endless_fails<F>(name: &str, how: Hostile, server: &Server, check: F)
where
    F: std::future::Future<Output = Result<(), ProbeError>>,
{
    let started = Instant::now();
    let res = tokio::time::timeout(deadline(how), check).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = server.sent.load(Ordering::Relaxed);
    assert!(
        started.elapsed() < deadline(how) + LATE,
        "{name} {how:?}: {res:?}"
    );
    assert!(!matches!(res, Ok(Ok(()))), "{name} {how:?}: up?");
    assert!(sent <= CAP + KERNEL_SLACK, "{name} {how:?}: {sent} bytes");
    if how == Hostile::Endless {
        assert!(
            matches!(res, Ok(Err(_))),
            "{name}: must fail at once: {res:?}"
        );
    }
}

#[tokio::test]
async fn imap_and_imaps() {
    let p = negotiate("/", None);
    let p = &p;
    // LOGIN's tagged answer never comes, only untagged lines.
    let what = stream(b"* OK ready\r\n", &long_line(b"* OK "));
    let what = &what;
    each(|how| async move {
        let s = tcp(how, what.clone(), false).await;
        let check = probe::imap::probe(s.addr, p);
        assert_bounded("imap", how, &s, Endless::Capped, check).await;
        let s = tcp(how, what.clone(), true).await;
        let check = probe::imaps::probe(s.addr, p);
        assert_bounded("imaps", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn nntp() {
    // The greeting is read once, 64 bytes at most: an endless one is a greeting like another.
    let p = Negotiate::default();
    let p = &p;
    each(|how| async move {
        let s = tcp(how, stream(b"200 ", b"news news news "), false).await;
        let check = probe::nntp::probe(s.addr, p);
        assert_bounded("nntp", how, &s, Endless::Bounded, check).await;
    })
    .await;
}

#[tokio::test]
async fn ftp() {
    // suppaftp bounds one control reply at 256 KiB (its MAX_REPLY_SIZE), before the relay's
    // 1 MiB in front of it.
    let p = negotiate("/welcome.msg", Some("Welcome"));
    let p = &p;
    each(|how| async move {
        let s = tcp(how, stream(b"220-hello\r\n", &long_line(b"220-")), false).await;
        let check = probe::ftp::probe(s.addr, p);
        assert_bounded("ftp", how, &s, Endless::CappedAt(256 * 1024), check).await;
    })
    .await;
}

/// An LDAP message announced as 2 GiB long, then its "content".
fn ldap_flood() -> Stream {
    stream(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff], &[0u8; 1024])
}

#[tokio::test]
async fn ldap_and_ldaps() {
    let p = negotiate("/dc=example,dc=com", None);
    let p = &p;
    each(|how| async move {
        let s = tcp(how, ldap_flood(), false).await;
        let check = probe::ldap::probe(s.addr, p);
        assert_bounded("ldap", how, &s, Endless::Capped, check).await;
        let s = tcp(how, ldap_flood(), true).await;
        let check = probe::ldaps::probe(s.addr, p);
        assert_bounded("ldaps", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn mysql() {
    // A first packet announced as 2 MiB (under the 4 MiB mysql_async allows during the
    // handshake): the relay in front of mysql_async stops it at the cap.
    let p = negotiate("/SELECT 1", None);
    let p = &p;
    each(|how| async move {
        let s = tcp(how, stream(&[0x00, 0x00, 0x20, 0x00], &[0u8; 1024]), false).await;
        let check = probe::mysql::probe(s.addr, p);
        assert_bounded("mysql", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn pgsql() {
    // No TLS ('N'), then ParameterStatus messages without end (ReadyForQuery never comes).
    let mut status = vec![b'S'];
    let body = [vec![b'x'; 100], vec![0, b'y', 0]].concat();
    status.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    status.extend_from_slice(&body);
    let p = negotiate("/SELECT 1", None);
    let p = &p;
    let what = stream(b"N", &status);
    let what = &what;
    each(|how| async move {
        let s = tcp(how, what.clone(), false).await;
        let check = probe::pgsql::probe(s.addr, p);
        assert_bounded("pgsql", how, &s, Endless::Capped, check).await;
    })
    .await;
}

#[tokio::test]
async fn dns() {
    let p = negotiate("/www.example.com", Some("192.0.2.1"));
    let p = &p;
    each(|how| async move {
        // UDP: datagrams that are no answer are skipped, 16 at most.
        let s = udp(how, &[0u8; 512]).await;
        let check = probe::dns::probe_over(s.addr, p, Transport::Udp);
        assert_endless_fails("dns/udp", how, &s, check).await;
        // TCP: the answer's two-byte length bounds it at 64 KiB.
        let s = tcp(how, stream(&[0xff, 0xff], &[0u8; 1024]), false).await;
        let check = probe::dns::probe_over(s.addr, p, Transport::Tcp);
        assert_endless_fails("dns/tcp", how, &s, check).await;
    })
    .await;
}

#[tokio::test]
async fn sip() {
    let p = negotiate("/", None);
    let p = &p;
    each(|how| async move {
        // UDP: the first datagram is the answer.
        let s = udp(how, b"SIP/2.0 100 Trying\r\n\r\n").await;
        let check = probe::sip::probe_over(s.addr, p, Transport::Udp);
        assert_endless_fails("sip/udp", how, &s, check).await;
        // TCP: a header without end.
        let s = tcp(how, stream(b"SIP/2.0 200 OK\r\n", &[b'X'; 1024]), false).await;
        let check = probe::sip::probe_over(s.addr, p, Transport::Tcp);
        assert_endless_fails("sip/tcp", how, &s, check).await;
    })
    .await;
}

#[tokio::test]
async fn radius() {
    let p = negotiate("/", None);
    let p = &p;
    each(|how| async move {
        let s = udp(how, &[0u8; 64]).await;
        let check = probe::radius::probe(s.addr, p);
        assert_endless_fails("radius", how, &s, check).await;
    })
    .await;
}

#[tokio::test]
async fn simpletcp() {
    let p = negotiate("/PING", Some("^PONG"));
    let p = &p;
    let mut line = vec![b'n'; 200];
    line.extend_from_slice(b"\r\n");
    let line = &line;
    each(|how| async move {
        let s = tcp(how, stream(b"", line), false).await;
        let check = probe::simpletcp::probe_over(s.addr, p, Transport::Tcp);
        assert_bounded("simpletcp/tcp", how, &s, Endless::Capped, check).await;
        let s = udp(how, &[b'n'; 1000]).await;
        let check = probe::simpletcp::probe_over(s.addr, p, Transport::Udp);
        // Datagrams the probe did not read are dropped by the kernel: only the result and
        // the time are asserted for UDP.
        let started = Instant::now();
        let res = tokio::time::timeout(TIMEOUT, check).await;
        assert!(started.elapsed() < TIMEOUT + LATE, "simpletcp/udp {how:?}");
        assert!(!matches!(res, Ok(Ok(()))), "simpletcp/udp {how:?}: {res:?}");
        if how == Hostile::Endless {
            assert!(
                matches!(res, Ok(Err(ProbeError::TooLarge(_))) | Err(_)),
                "simpletcp/udp endless: {res:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn oracle() {
    // oracle-rs reads the first packet by its two-byte length: garbage ends the login at once.
    // (A packet announced larger than the cap later on is refused by the relay's TNS guard:
    // see the oracle module's tests.)
    let p = negotiate("/select 1 from dual", None);
    let p = &p;
    each(|how| async move {
        let s = tcp(how, stream(b"", &[b'a'; 1024]), false).await;
        let check = probe::oracle::probe(s.addr, p);
        assert_endless_fails("oracle", how, &s, check).await;
    })
    .await;
}

#[tokio::test]
async fn external() {
    // The child's output goes to /dev/null: nothing is read whatever it writes; the deadline
    // ends a child that never exits (SIGTERM).
    let dir = tempfile::tempdir().unwrap();
    let scripts = [
        ("endless", "exec yes"),
        ("trickle", "while :; do printf x; sleep 0.02; done"),
        ("silent", "exec sleep 30"),
    ];
    let args = [
        "192.0.2.1".to_string(),
        "80".into(),
        "192.0.2.10".into(),
        "80".into(),
    ];
    for (name, body) in scripts {
        let path = script(dir.path(), name, body);
        let started = Instant::now();
        let res = probe::external::probe(&path, &args, TIMEOUT).await;
        assert!(
            matches!(res, Err(ProbeError::Timeout)),
            "external {name}: {res:?}"
        );
        assert!(
            started.elapsed() < TIMEOUT + probe::external::TERM_GRACE + LATE,
            "external {name}"
        );
    }
}

fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
