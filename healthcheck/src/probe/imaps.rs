//! `service = imaps`: the IMAP check ([`super::imap`]) inside TLS from the first byte.

use std::net::SocketAddr;

use super::{imap, tls, Negotiate, ProbeError};

/// Runs the IMAP-over-TLS check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    imap::session(tls::connect(addr, params.tls_verify).await?, params).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, expect, send, Step, HANG};

    #[tokio::test]
    async fn tls_banner_is_up() {
        let server = fake::tls(vec![
            send("* OK ready\r\n"),
            expect("A0001 LOGOUT"),
            send("A0001 OK\r\n"),
        ])
        .await;
        let res = probe(server.addr, &Negotiate::default()).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(server.transcript().await, ["A0001 LOGOUT"]);
    }

    #[tokio::test]
    async fn err_banner_is_down() {
        let server = fake::tls(vec![send("* BYE busy\r\n")]).await;
        let res = probe(server.addr, &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn self_signed_certificate_fails_when_verifying() {
        let server = fake::tls(vec![send("* OK ready\r\n")]).await;
        let params = Negotiate {
            tls_verify: crate::probe::TlsVerify::Full,
            ..Negotiate::default()
        };
        let res = probe(server.addr, &params).await;
        assert!(matches!(res, Err(ProbeError::Tls(_))), "{res:?}");
    }

    #[tokio::test]
    async fn plain_server_is_a_tls_error() {
        let server = fake::tcp(vec![send("* OK plain text, not TLS\r\n")]).await;
        let res = probe(server.addr, &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Tls(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_after_handshake_does_not_finish() {
        let server = fake::tls(vec![Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &Negotiate::default())).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_after_handshake_is_down() {
        let server = fake::tls(vec![Step::Close]).await;
        let res = probe(server.addr, &Negotiate::default()).await;
        assert!(res.is_err(), "{res:?}");
    }
}
