//! `service = simpletcp`: send `request` (without its leading `/`, with each literal
//! `\n` turned into a newline), shut the write side, then read lines until one matches
//! `receive`. Without a receive any line will do (ldirectord's empty pattern).
//! ldirectord opens the socket with the virtual service's protocol, so a UDP virtual
//! gets one request datagram and its answers' lines are matched the same way
//! ([`probe_over`]).
//!
//! Kept hand-written: not a protocol, just bytes out and lines in.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;

use super::cap::{TooLarge, MAX_ANSWER};
use super::line::{self, Lines};
pub use super::transport::Transport;
use super::{Negotiate, ProbeError};

/// How many lines a probe reads looking for a match.
const MAX_LINES: usize = 10_000;

/// Runs the simpletcp check against `addr` over TCP.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    probe_over(addr, params, Transport::Tcp).await
}

/// Runs the simpletcp check against `addr` over the given transport.
pub async fn probe_over(
    addr: SocketAddr,
    params: &Negotiate,
    transport: Transport,
) -> Result<(), ProbeError> {
    match transport {
        Transport::Tcp => probe_tcp(addr, params).await,
        Transport::Udp => probe_udp(addr, params).await,
    }
}

async fn probe_udp(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket
        .connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })?;
    let request = request_bytes(line::request_text(params));
    socket.send(request.as_bytes()).await?;
    let mut buf = vec![0u8; 65535];
    let mut received = 0u64;
    for _ in 0..MAX_LINES {
        let n = socket.recv(&mut buf).await?;
        // The datagrams together are held to the shared cap, as a TCP answer is.
        received += n as u64;
        if received > MAX_ANSWER {
            return Err(TooLarge { limit: MAX_ANSWER }.into());
        }
        let datagram = buf.get(..n).unwrap_or_default();
        if datagram
            .split_inclusive(|&b| b == b'\n')
            .any(|raw| line_matches(params, raw))
        {
            return Ok(());
        }
    }
    Err(ProbeError::Unexpected("no line matched receive".into()))
}

/// Whether one received line (with or without its newline) matches `receive`.
pub(crate) fn line_matches(params: &Negotiate, raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line::chomp(raw.to_vec()).as_slice()).into_owned();
    params.receive_matches(&text) || params.receive_matches(&format!("{text}\n"))
}

async fn probe_tcp(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let mut stream = line::connect(addr).await?;
    let request = request_bytes(line::request_text(params));
    stream.write_all(request.as_bytes()).await?;
    stream.shutdown().await?;
    read_answer(&mut Lines::new(stream), params).await
}

/// Reads the answer's lines until one matches `receive`.
pub(crate) async fn read_answer<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    params: &Negotiate,
) -> Result<(), ProbeError> {
    for _ in 0..MAX_LINES {
        let Some(raw) = lines.read_line_opt().await? else {
            return Err(ProbeError::Unexpected("no line matched receive".into()));
        };
        let text = String::from_utf8_lossy(&raw);
        if params.receive_matches(&text) || params.receive_matches(&format!("{text}\n")) {
            return Ok(());
        }
    }
    Err(ProbeError::Unexpected("no line matched receive".into()))
}

/// The bytes simpletcp sends: every two-character `\n` becomes a newline.
pub(crate) fn request_bytes(request: &str) -> String {
    request.replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, expect, send, Step, HANG};

    fn params(request: &str, receive: &str) -> Negotiate {
        Negotiate {
            request: Some(request.into()),
            receive: Some(crate::probe::Receive::compile(receive).unwrap()),
            ..Negotiate::default()
        }
    }

    async fn run(steps: Vec<Step>, p: &Negotiate) -> (Result<(), ProbeError>, Vec<String>) {
        let server = fake::tcp(steps).await;
        let res = probe(server.addr, p).await;
        (res, server.transcript().await)
    }

    #[tokio::test]
    async fn matching_line_is_up() {
        let steps = vec![
            expect("PING"),
            expect("line2"),
            send("hello\r\nPONG ok\r\n"),
        ];
        let (res, seen) = run(steps, &params("/PING\\nline2", "^PONG")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["PING", "line2"]);
    }

    #[tokio::test]
    async fn perl_only_receive_patterns_work() {
        // a back-reference (the same word twice) and a negative look-ahead
        let mut p = params("PING", "x");
        p.receive = Some(crate::probe::Receive::compile(r"^(\w+) \1$").unwrap());
        assert!(matches!(p.receive, Some(crate::probe::Receive::Perl(_))));
        let (res, _) = run(vec![expect("PING"), send("pong pong\r\n")], &p).await;
        assert!(res.is_ok(), "{res:?}");
        let (res, _) = run(vec![expect("PING"), send("pong ping\r\n"), Step::Close], &p).await;
        assert!(res.is_err(), "{res:?}");
        p.receive = Some(crate::probe::Receive::compile(r"^OK(?!.*degraded)").unwrap());
        let (res, _) = run(vec![expect("PING"), send("OK all fine\r\n")], &p).await;
        assert!(res.is_ok(), "{res:?}");
        let (res, _) = run(
            vec![expect("PING"), send("OK but degraded\r\n"), Step::Close],
            &p,
        )
        .await;
        assert!(res.is_err(), "{res:?}");
    }

    #[tokio::test]
    async fn no_matching_line_is_down() {
        let steps = vec![expect("PING"), send("nope\r\nstill no\r\n"), Step::Close];
        let (res, _) = run(steps, &params("PING\\n", "PONG")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &params("PING", "PONG"))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_without_answer_is_down() {
        let (res, _) = run(vec![Step::Close], &params("PING", "PONG")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    /// A UDP server that answers one datagram with `reply` (or stays silent).
    async fn udp_server(
        reply: Option<&'static str>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            match reply {
                Some(r) => {
                    socket.send_to(r.as_bytes(), peer).await.unwrap();
                }
                None => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
            }
            buf[..n].to_vec()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn udp_matching_line_is_up() {
        let (addr, task) = udp_server(Some("hello\nPONG ok\n")).await;
        let res = probe_over(addr, &params("/PING\\nx", "^PONG"), Transport::Udp).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(task.await.unwrap(), b"PING\nx");
    }

    #[tokio::test]
    async fn udp_other_answer_then_silence_does_not_finish() {
        let (addr, _task) = udp_server(Some("nope\n")).await;
        let res = tokio::time::timeout(
            HANG,
            probe_over(addr, &params("PING", "PONG"), Transport::Udp),
        )
        .await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn udp_closed_port_is_down() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        drop(socket);
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            probe_over(addr, &params("PING", "PONG"), Transport::Udp),
        )
        .await;
        assert!(matches!(res, Ok(Err(ProbeError::Io(_)))), "{res:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any line: no panic; a line holding the receive text matches, with or without its
        /// line ending.
        #[test]
        fn line_matching_takes_any_bytes(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            word in "[a-zA-Z0-9]{1,12}",
            ending in proptest::sample::select(vec!["", "\n", "\r\n"]),
        ) {
            let p = params("PING", &word);
            let _ = line_matches(&p, &raw);
            let line: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|&b| b != b'\n')
                .chain(word.bytes())
                .chain(ending.bytes())
                .collect();
            proptest::prop_assert!(line_matches(&p, &line));
        }

        /// Every two-character `\n` becomes one newline and nothing else changes.
        #[test]
        fn request_bytes_only_turns_backslash_n(request in "[a-z\\\\n ]{0,40}") {
            let out = request_bytes(&request);
            proptest::prop_assert_eq!(out.len(), request.len() - request.matches("\\n").count());
            proptest::prop_assert_eq!(out.replace('\n', "\\n"), request);
        }

        /// An answer of any bytes, however long: the reader ends without panic and reads no
        /// more than the shared cap (one byte past it at most).
        #[test]
        fn reading_any_answer_ends_within_the_cap(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..2048),
            repeat in 1usize..1200,
        ) {
            use crate::probe::cap::{Capped, MAX_ANSWER};
            let p = params("PING", "^PONG$");
            let answer = bytes.repeat(repeat);
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (res, consumed) = rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(64 * 1024);
                tokio::spawn(async move {
                    let _ = server.write_all(&answer).await;
                    let _ = server.shutdown().await;
                });
                let mut lines = Lines::new(Capped::new(client, MAX_ANSWER));
                let res = tokio::time::timeout(
                    std::time::Duration::from_secs(60),
                    read_answer(&mut lines, &p),
                )
                .await;
                (res, lines.get_mut().consumed())
            });
            proptest::prop_assert!(res.is_ok(), "the reader hung");
            proptest::prop_assert!(consumed <= MAX_ANSWER + 1, "{} bytes", consumed);
        }
    }

    #[test]
    fn literal_backslash_n_becomes_newline() {
        assert_eq!(request_bytes("PING\\nline2"), "PING\nline2");
        assert_eq!(request_bytes("a\\\\nb"), "a\\\nb");
    }
}
