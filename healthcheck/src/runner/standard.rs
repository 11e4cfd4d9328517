//! The standard probe registry: every negotiate service ldirectord has, over the transport
//! the virtual service's `protocol` gives where a service speaks both (dns, sip, simpletcp).

use super::Dispatch;
use crate::probe;
use crate::spec::Service as S;

/// The standard probes: http, https and http_proxy (`Dispatch::new`) and every other
/// negotiate service ldirectord has; dns, sip and simpletcp over the transport the virtual
/// service's `protocol` gives (`CheckSpec::transport`).
pub fn standard() -> Dispatch {
    let mut d = Dispatch::new();
    d.register_over(S::Dns, |a, n, t| async move {
        probe::dns::probe_over(a, &n, t).await
    });
    d.register(S::Ftp, |a, n| async move { probe::ftp::probe(a, &n).await });
    d.register(
        S::Imap,
        |a, n| async move { probe::imap::probe(a, &n).await },
    );
    d.register(
        S::Imaps,
        |a, n| async move { probe::imaps::probe(a, &n).await },
    );
    d.register(
        S::Ldap,
        |a, n| async move { probe::ldap::probe(a, &n).await },
    );
    d.register(
        S::Ldaps,
        |a, n| async move { probe::ldaps::probe(a, &n).await },
    );
    d.register(
        S::Mysql,
        |a, n| async move { probe::mysql::probe(a, &n).await },
    );
    d.register(
        S::Nntp,
        |a, n| async move { probe::nntp::probe(a, &n).await },
    );
    d.register(S::Oracle, |a, n| async move {
        probe::oracle::probe(a, &n).await
    });
    d.register(
        S::Pgsql,
        |a, n| async move { probe::pgsql::probe(a, &n).await },
    );
    d.register(S::Pop, |a, n| async move { probe::pop::probe(a, &n).await });
    d.register(
        S::Pops,
        |a, n| async move { probe::pops::probe(a, &n).await },
    );
    d.register(S::Radius, |a, n| async move {
        probe::radius::probe(a, &n).await
    });
    d.register_over(S::Simpletcp, |a, n, t| async move {
        probe::simpletcp::probe_over(a, &n, t).await
    });
    d.register_over(S::Sip, |a, n, t| async move {
        probe::sip::probe_over(a, &n, t).await
    });
    d.register(
        S::Smtp,
        |a, n| async move { probe::smtp::probe(a, &n).await },
    );
    d.register(S::Submission, |a, n| async move {
        probe::submission::probe(a, &n).await
    });
    d
}

/// The services with no probe in `d` (a real of such a service never comes up).
pub fn unsupported(d: &Dispatch) -> Vec<S> {
    S::all().filter(|s| !d.supports(*s)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_negotiate_service_has_a_probe() {
        let missing: Vec<String> = super::unsupported(&super::standard())
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(missing, Vec::<String>::new());
    }

    use std::net::SocketAddr;
    use std::sync::Arc;

    use crate::probe::Receive;
    use crate::runner::Prober;
    use crate::spec::{Attempt, CheckSpec, Protocol, Service, VirtualId};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TCP-only server (nothing listens on its port over UDP) that answers one client with
    /// `answer(request)`; the request is read by `read`.
    async fn tcp_only(
        read: fn(&[u8]) -> Option<usize>,
        answer: fn(&[u8]) -> Vec<u8>,
    ) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while read(&req).is_none() {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&answer(&req)).await;
            let _ = s.shutdown().await;
        });
        addr
    }

    /// A DNS query over TCP is complete once its two-byte length is in.
    fn dns_framed(req: &[u8]) -> Option<usize> {
        let len = usize::from(u16::from_be_bytes([*req.first()?, *req.get(1)?]));
        (req.len() >= 2 + len).then_some(len)
    }

    /// The query turned into an answer with one A record, 192.0.2.7 (name by pointer).
    fn dns_a_answer(req: &[u8]) -> Vec<u8> {
        let mut msg = req[2..].to_vec();
        msg[2] |= 0x80; // QR: response
        msg[3] = 0x80; // RA, NOERROR
        msg[6..8].copy_from_slice(&1u16.to_be_bytes()); // ANCOUNT
        msg.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        let mut out = u16::try_from(msg.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(&msg);
        out
    }

    fn sip_head(req: &[u8]) -> Option<usize> {
        req.windows(4).position(|w| w == b"\r\n\r\n")
    }

    fn sip_ok(_: &[u8]) -> Vec<u8> {
        b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
    }

    fn spec(real: SocketAddr, service: Service, protocol: Protocol) -> Arc<CheckSpec> {
        let mut spec = CheckSpec::new(real, VirtualId::Addr("192.0.2.1:5060".parse().unwrap()));
        spec.service = service;
        spec.protocol = protocol;
        spec.checkport = real.port();
        let n = Arc::make_mut(&mut spec.negotiate);
        n.request = Some("/www.example.com".into());
        n.receive = Some(Receive::compile(r"^192\.0\.2\.7$").unwrap());
        n.login = Some("check@example.com".into());
        Arc::new(spec)
    }

    /// Item 9 of the hardening issue: dns and sip checks of a `protocol=tcp` virtual service
    /// went over UDP. Against servers that only speak TCP they are now up.
    #[tokio::test]
    async fn dns_and_sip_use_tcp_when_the_virtual_service_is_tcp() {
        let d = super::standard();
        let deadline = std::time::Duration::from_secs(3);
        for (service, read, answer) in [
            (
                Service::Dns,
                dns_framed as fn(&[u8]) -> Option<usize>,
                dns_a_answer as fn(&[u8]) -> Vec<u8>,
            ),
            (Service::Sip, sip_head, sip_ok),
        ] {
            let addr = tcp_only(read, answer).await;
            let check = d.probe(spec(addr, service, Protocol::Tcp), Attempt::Negotiate);
            let res = tokio::time::timeout(deadline, check).await;
            assert!(matches!(res, Ok(Ok(()))), "{service} over tcp: {res:?}");
        }
    }
}
