//! `service = dns`: what ldirectord asks Net::DNS (`search(request)` with the real
//! server as the only name server, at its check port).
//!
//! The request (without a leading `/`) is looked up as an A record, or as a PTR record
//! when it is an IP address (Net::DNS turns addresses into `in-addr.arpa` / `ip6.arpa`
//! names). Recursion desired. Over UDP unless the virtual service is TCP; a truncated
//! UDP answer is asked again over TCP. The real is up when an A address or PTR name in
//! the answer section matches `receive`; without a receive it is always down.
//! The name is queried as given: resolv.conf's search list (which Net::DNS would append
//! to a dotless name) is not used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

pub use super::transport::Transport;
use super::{line, Negotiate, ProbeError};

/// How many stray datagrams (wrong id, not a response) a probe skips.
const MAX_STRAY: usize = 16;

/// Runs the DNS check against `addr` over UDP (the usual DNS virtual service).
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    probe_over(addr, params, Transport::Udp).await
}

/// Runs the DNS check against `addr` over the given transport.
pub async fn probe_over(
    addr: SocketAddr,
    params: &Negotiate,
    transport: Transport,
) -> Result<(), ProbeError> {
    if params.receive_pattern().is_none_or(str::is_empty) {
        return Err(ProbeError::Unexpected(
            "dns check without receive is always down".into(),
        ));
    }
    let id: u16 = rand::random();
    let query = build_query(id, line::request_text(params))?;
    let mut answer = match transport {
        Transport::Udp => ask_udp(addr, id, &query).await?,
        Transport::Tcp => ask_tcp(addr, id, &query).await?,
    };
    if answer.metadata.truncation && transport == Transport::Udp {
        answer = ask_tcp(addr, id, &query).await?;
    }
    judge(&answer, params)
}

/// The query message for `request`: PTR for an IP address, else A.
pub(crate) fn build_query(id: u16, request: &str) -> Result<Vec<u8>, ProbeError> {
    let (name, rtype) = match request.parse::<IpAddr>() {
        Ok(ip) => (Name::from(ip), RecordType::PTR),
        Err(_) => {
            let mut name = Name::from_ascii(request)
                .map_err(|e| ProbeError::Unexpected(format!("dns: bad name {request:?}: {e}")))?;
            name.set_fqdn(true);
            (name, RecordType::A)
        }
    };
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, rtype));
    msg.to_vec()
        .map_err(|e| ProbeError::Unexpected(format!("dns: cannot encode query: {e}")))
}

/// Decodes an answer to query `id`; `None` for anything else (wrong id, not a response).
pub(crate) fn decode(bytes: &[u8], id: u16) -> Option<Message> {
    let msg = Message::from_vec(bytes).ok()?;
    (msg.metadata.id == id && msg.metadata.message_type == MessageType::Response).then_some(msg)
}

/// Up when an A address or PTR name of the answer section matches `receive`.
pub(crate) fn judge(msg: &Message, params: &Negotiate) -> Result<(), ProbeError> {
    let mut seen = Vec::new();
    for record in &msg.answers {
        let text = match &record.data {
            RData::A(a) => a.0.to_string(),
            RData::PTR(ptr) => {
                let name = ptr.0.to_ascii();
                name.strip_suffix('.').unwrap_or(&name).to_owned()
            }
            _ => continue,
        };
        if params.receive_matches(&text) {
            return Ok(());
        }
        seen.push(text);
    }
    if msg.answers.is_empty() {
        return Err(ProbeError::Unexpected(format!(
            "dns: no answer ({})",
            msg.metadata.response_code
        )));
    }
    Err(ProbeError::Unexpected(format!(
        "dns: answer {seen:?} does not match receive"
    )))
}

async fn ask_udp(addr: SocketAddr, id: u16, query: &[u8]) -> Result<Message, ProbeError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket
        .connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..MAX_STRAY {
        let n = socket.recv(&mut buf).await?;
        if let Some(msg) = decode(buf.get(..n).unwrap_or_default(), id) {
            return Ok(msg);
        }
    }
    Err(ProbeError::Unexpected("dns: no answer to our query".into()))
}

async fn ask_tcp(addr: SocketAddr, id: u16, query: &[u8]) -> Result<Message, ProbeError> {
    let mut stream = line::connect(addr).await?;
    let len = u16::try_from(query.len())
        .map_err(|_| ProbeError::Unexpected("dns: query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let mut len = [0u8; 2];
    read_exact(&mut stream, &mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_exact(&mut stream, &mut buf).await?;
    decode(&buf, id).ok_or_else(|| ProbeError::Unexpected("dns: not an answer to our query".into()))
}

/// `read_exact` with an early close reported as [`ProbeError::Closed`].
async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> Result<(), ProbeError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ProbeError::Closed),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use hickory_proto::rr::rdata::{A, PTR};
    use hickory_proto::rr::Record;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

    fn params(request: &str, receive: &str) -> Negotiate {
        Negotiate {
            request: Some(request.into()),
            receive: Some(crate::probe::Receive::compile(receive).unwrap()),
            ..Negotiate::default()
        }
    }

    /// How the fake name server answers.
    #[derive(Clone, Copy)]
    enum Reply {
        A(Ipv4Addr),
        Ptr(&'static str),
        NxDomain,
        Truncated,
        WrongIdThenA(Ipv4Addr),
    }

    fn answer(query: &[u8], reply: Reply) -> Vec<Vec<u8>> {
        let q = Message::from_vec(query).unwrap();
        let mut r = Message::response(q.metadata.id, OpCode::Query);
        r.metadata.recursion_desired = true;
        r.add_queries(q.queries.clone());
        let name = q.queries[0].name().clone();
        match reply {
            Reply::A(ip) => {
                r.add_answer(Record::from_rdata(name, 60, RData::A(A(ip))));
            }
            Reply::Ptr(host) => {
                r.add_answer(Record::from_rdata(
                    name,
                    60,
                    RData::PTR(PTR(Name::from_ascii(host).unwrap())),
                ));
            }
            Reply::NxDomain => r.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain,
            Reply::Truncated => r.metadata.truncation = true,
            Reply::WrongIdThenA(ip) => {
                let mut stray = r.clone();
                stray.metadata.id = q.metadata.id.wrapping_add(1);
                r.add_answer(Record::from_rdata(name, 60, RData::A(A(ip))));
                return vec![stray.to_vec().unwrap(), r.to_vec().unwrap()];
            }
        }
        vec![r.to_vec().unwrap()]
    }

    /// A UDP name server that answers one query; returns the question it got.
    async fn udp_server(
        reply: Option<Reply>,
    ) -> (
        SocketAddr,
        tokio::task::JoinHandle<Option<(String, RecordType)>>,
    ) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let Some(reply) = reply else {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                return None;
            };
            for datagram in answer(&buf[..n], reply) {
                socket.send_to(&datagram, peer).await.unwrap();
            }
            let qq = &q.queries[0];
            Some((qq.name().to_ascii(), qq.query_type()))
        });
        (addr, task)
    }

    /// A TCP name server on `listener`; `close` hangs up instead of answering.
    async fn tcp_server(listener: TcpListener, reply: Reply, close: bool) {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut q).await.unwrap();
        if close {
            return;
        }
        for msg in answer(&q, reply) {
            let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&msg);
            s.write_all(&framed).await.unwrap();
        }
    }

    #[tokio::test]
    async fn matching_a_record_is_up() {
        let (addr, task) = udp_server(Some(Reply::A(Ipv4Addr::new(192, 0, 2, 10)))).await;
        let res = probe(addr, &params("/www.example.com", r"^192\.0\.2\.10$")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(
            task.await.unwrap(),
            Some(("www.example.com.".into(), RecordType::A))
        );
    }

    #[tokio::test]
    async fn address_request_asks_ptr() {
        let (addr, task) = udp_server(Some(Reply::Ptr("host.example.com."))).await;
        let res = probe(addr, &params("192.0.2.10", "^host\\.example\\.com$")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(
            task.await.unwrap(),
            Some(("10.2.0.192.in-addr.arpa.".into(), RecordType::PTR))
        );
    }

    #[tokio::test]
    async fn other_address_is_down() {
        let (addr, _task) = udp_server(Some(Reply::A(Ipv4Addr::new(192, 0, 2, 99)))).await;
        let res = probe(addr, &params("www.example.com", r"192\.0\.2\.10")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn nxdomain_is_down() {
        let (addr, _task) = udp_server(Some(Reply::NxDomain)).await;
        let res = probe(addr, &params("nope.example.com", ".")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn empty_receive_is_always_down() {
        let p = Negotiate {
            request: Some("www.example.com".into()),
            ..Negotiate::default()
        };
        let res = probe("127.0.0.1:9".parse().unwrap(), &p).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn stray_datagram_is_skipped() {
        let (addr, _task) =
            udp_server(Some(Reply::WrongIdThenA(Ipv4Addr::new(192, 0, 2, 1)))).await;
        let res = probe(addr, &params("www.example.com", "192.0.2.1")).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let (addr, _task) = udp_server(None).await;
        let res = tokio::time::timeout(HANG, probe(addr, &params("www.example.com", "."))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn truncated_udp_answer_retries_over_tcp() {
        // Same port number for UDP and TCP, as a name server has.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = UdpSocket::bind(("127.0.0.1", port)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            for d in answer(&buf[..n], Reply::Truncated) {
                socket.send_to(&d, peer).await.unwrap();
            }
        });
        tokio::spawn(tcp_server(
            listener,
            Reply::A(Ipv4Addr::new(192, 0, 2, 5)),
            false,
        ));
        let res = probe(addr, &params("www.example.com", "192.0.2.5")).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn tcp_answer_and_early_close() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tcp_server(
            listener,
            Reply::A(Ipv4Addr::new(192, 0, 2, 5)),
            false,
        ));
        let res = probe_over(
            addr,
            &params("www.example.com", "192.0.2.5"),
            Transport::Tcp,
        )
        .await;
        assert!(res.is_ok(), "{res:?}");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tcp_server(
            listener,
            Reply::A(Ipv4Addr::new(192, 0, 2, 5)),
            true,
        ));
        let res = probe_over(
            addr,
            &params("www.example.com", "192.0.2.5"),
            Transport::Tcp,
        )
        .await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), id in any::<u16>()) {
            if let Some(msg) = decode(&bytes, id) {
                let p = Negotiate {
                    receive: Some(crate::probe::Receive::compile(".").unwrap()),
                    ..Negotiate::default()
                };
                let _ = judge(&msg, &p);
            }
        }

        #[test]
        fn any_name_query_encodes_or_errs(name in "\\PC{0,80}", id in any::<u16>()) {
            let _ = build_query(id, &name);
        }
    }
}
