//! `checktype=connect` (and the connect passes of combined checks): open a connection to the
//! check port and close it at once. Nothing is sent or read, so a server that accepts and
//! closes at once is up (as in ldirectord).

use std::net::SocketAddr;

use tokio::net::{TcpStream, UdpSocket};

use super::{Negotiate, ProbeError};

/// TCP connect to `addr`, immediately closed.
pub async fn probe(addr: SocketAddr, _params: &Negotiate) -> Result<(), ProbeError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })?;
    drop(stream);
    Ok(())
}

/// What ldirectord's `check_connect` does for a UDP service in a combined check: `connect(2)`
/// on a datagram socket. No datagram is sent, so this only fails when there is no route.
/// (`checktype=connect` on a UDP service is an ICMP echo instead: see [`super::ping`].)
pub async fn probe_udp(addr: SocketAddr) -> Result<(), ProbeError> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket
        .connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn answers() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s.write_all(b"hello\r\n").await;
        });
        probe(addr, &Negotiate::default()).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn closes_early_is_still_up() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            drop(s);
        });
        probe(addr, &Negotiate::default()).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn refused_is_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let err = probe(addr, &Negotiate::default()).await.unwrap_err();
        assert!(matches!(err, ProbeError::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn ipv6_loopback() {
        let l = TcpListener::bind("[::1]:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move { l.accept().await.map(|_| ()) });
        probe(addr, &Negotiate::default()).await.unwrap();
        server.await.unwrap().unwrap();
    }

    /// A listener whose accept queue is full drops SYNs: connect hangs until the caller's
    /// timeout, which is how a hung server looks to a connect check.
    #[tokio::test]
    async fn hung_server_is_bounded_by_the_caller() {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        s.listen(0).unwrap();
        let addr = s.local_addr().unwrap().as_socket().unwrap();
        // Fill the queue (never accepted).
        let mut held = Vec::new();
        let mut hung = false;
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(c)) => held.push(c),
                Ok(Err(e)) => panic!("unexpected connect error {e}"),
                Err(_) => {
                    hung = true;
                    break;
                }
            }
        }
        assert!(hung, "the accept queue never filled");
        let r = tokio::time::timeout(
            Duration::from_millis(300),
            probe(addr, &Negotiate::default()),
        )
        .await;
        assert!(r.is_err(), "connect to a full queue should hang: {r:?}");
        drop(s);
    }

    #[tokio::test]
    async fn udp_connect_succeeds_on_loopback() {
        probe_udp("127.0.0.1:9".parse().unwrap()).await.unwrap();
        probe_udp("[::1]:9".parse().unwrap()).await.unwrap();
    }
}
