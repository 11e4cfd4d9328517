//! `service = sip`: ldirectord sends one `OPTIONS sip:<login>` request (UDP or TCP, by
//! the virtual service's protocol) and calls the real up when the first line of the
//! answer starts with `SIP/2.0 200 OK`. `login` defaults to `ldirectord@<hostname>`.
//! The request is byte for byte ldirectord's, including `Via: SIP/2.0/UDP` over TCP.
//!
//! Kept hand-written: the check sends one fixed request and reads one status line; a SIP
//! crate (rsip) would only parse that line, and the request must stay ldirectord's bytes.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;

use super::line::{self, printable, Lines};
pub use super::transport::Transport;
use super::{Negotiate, ProbeError};

/// How many header lines a probe reads over TCP before the blank line.
const MAX_HEADERS: usize = 1024;

/// Runs the SIP check against `addr` over UDP (the usual SIP virtual service).
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    probe_over(addr, params, Transport::Udp).await
}

/// Runs the SIP check against `addr` over the given transport.
pub async fn probe_over(
    addr: SocketAddr,
    params: &Negotiate,
    transport: Transport,
) -> Result<(), ProbeError> {
    let user = match params.login.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => l.to_owned(),
        None => format!("ldirectord@{}", line::hostname()),
    };
    let call_id = format!("{:016x}", rand::random::<u64>());
    let status = match transport {
        Transport::Udp => {
            let local: SocketAddr = match addr {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let socket = UdpSocket::bind(local).await?;
            socket
                .connect(addr)
                .await
                .map_err(|source| ProbeError::Connect { addr, source })?;
            let request = options_request(&user, socket.local_addr()?, &call_id);
            socket.send(request.as_bytes()).await?;
            let mut buf = vec![0u8; 65535];
            let n = socket.recv(&mut buf).await?;
            let datagram = buf.get(..n).unwrap_or_default();
            first_line(datagram).to_vec()
        }
        Transport::Tcp => {
            let stream = line::connect(addr).await?;
            let request = options_request(&user, stream.get_ref().local_addr()?, &call_id);
            let mut lines = Lines::new(stream);
            lines.send(request.as_bytes()).await?;
            let status = lines.read_line().await?;
            // Read the rest of the header up to its blank line (or the end of the stream), as
            // ldirectord does, then close; a header without end is down, as it is there.
            let mut ended = false;
            for _ in 0..MAX_HEADERS {
                match lines.read_line_opt().await? {
                    Some(l) if !l.is_empty() => {}
                    _ => {
                        ended = true;
                        break;
                    }
                }
            }
            let _ = lines.get_mut().shutdown().await;
            if !ended {
                return Err(ProbeError::Unexpected(format!(
                    "sip: more than {MAX_HEADERS} header lines"
                )));
            }
            status
        }
    };
    if is_ok_status(&status) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "sip: {}",
            printable(&status)
        )))
    }
}

/// ldirectord's OPTIONS request, from the local address `from`.
pub(crate) fn options_request(user: &str, from: SocketAddr, call_id: &str) -> String {
    let host = match from {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => a.ip().to_string(),
    };
    format!(
        "OPTIONS sip:{user} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bKhjhs8ass877\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{user}>\r\n\
         From: <sip:{user}>;tag=1928301774\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 63104 OPTIONS\r\n\
         Contact: <sip:{user}>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        port = from.port()
    )
}

/// The first line of a message, without its line ending.
pub(crate) fn first_line(msg: &[u8]) -> &[u8] {
    let end = msg.iter().position(|&b| b == b'\n').unwrap_or(msg.len());
    let line = msg.get(..end).unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `SIP/2.0 200 OK` at the start of the status line.
pub(crate) fn is_ok_status(line: &[u8]) -> bool {
    line.starts_with(b"SIP/2.0 200 OK")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, send, Step, HANG};
    use proptest::prelude::*;

    fn params() -> Negotiate {
        Negotiate {
            login: Some("probe@example.com".into()),
            ..Negotiate::default()
        }
    }

    /// A UDP SIP server that answers `reply` (or nothing); returns the request it got.
    async fn udp_server(
        reply: Option<&'static str>,
    ) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            match reply {
                Some(r) => {
                    socket.send_to(r.as_bytes(), peer).await.unwrap();
                }
                None => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
            }
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn ok_over_udp_is_up() {
        let (addr, task) = udp_server(Some("SIP/2.0 200 OK\r\nCSeq: 63104 OPTIONS\r\n\r\n")).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        let request = task.await.unwrap();
        assert!(
            request.starts_with(
                "OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:"
            ),
            "{request}"
        );
        assert!(request.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(request.contains("\r\nFrom: <sip:probe@example.com>;tag=1928301774\r\n"));
    }

    #[tokio::test]
    async fn not_found_over_udp_is_down() {
        let (addr, _task) = udp_server(Some("SIP/2.0 404 Not Found\r\n\r\n")).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn silent_udp_server_does_not_finish() {
        let (addr, _task) = udp_server(None).await;
        let res = tokio::time::timeout(HANG, probe(addr, &params())).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn ok_over_tcp_is_up() {
        let server = fake::tcp(vec![
            fake::expect("OPTIONS sip:probe@example.com SIP/2.0"),
            send("SIP/2.0 200 OK\r\nAllow: INVITE\r\n\r\n"),
        ])
        .await;
        let res = probe_over(server.addr, &params(), Transport::Tcp).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = server.transcript().await;
        assert!(seen.iter().any(|l| l == "CSeq: 63104 OPTIONS"), "{seen:?}");
    }

    #[tokio::test]
    async fn wrong_answer_over_tcp_is_down() {
        let server = fake::tcp(vec![
            Step::Read,
            send("SIP/2.0 503 Service Unavailable\r\n\r\n"),
        ])
        .await;
        let res = probe_over(server.addr, &params(), Transport::Tcp).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_tcp_server_does_not_finish() {
        let server = fake::tcp(vec![Step::Hang]).await;
        let res =
            tokio::time::timeout(HANG, probe_over(server.addr, &params(), Transport::Tcp)).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn tcp_close_without_answer_is_down() {
        let server = fake::tcp(vec![Step::Read, Step::Close]).await;
        let res = probe_over(server.addr, &params(), Transport::Tcp).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[test]
    fn status_lines() {
        assert!(is_ok_status(first_line(b"SIP/2.0 200 OK\r\nVia: x\r\n")));
        assert!(!is_ok_status(first_line(b"SIP/2.0 100 Trying\r\n")));
        assert!(!is_ok_status(first_line(b"")));
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = is_ok_status(first_line(&bytes));
        }
    }
}
