//! `service = ldaps`: the LDAP check ([`super::ldap`]) inside TLS from the first byte.

use std::net::SocketAddr;

use super::{ldap, tls, Negotiate, ProbeError};

/// Runs the LDAP-over-TLS check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    ldap::session(tls::connect(addr, params.tls_verify).await?, params).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use crate::probe::ldap::tests::{params, serve, Script};
    use tokio::net::TcpListener;

    async fn server(script: Script) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let Ok(s) = tls::test_acceptor().accept(s).await else {
                return Vec::new();
            };
            serve(s, script).await
        });
        addr
    }

    #[tokio::test]
    async fn one_entry_over_tls_is_up() {
        let addr = server(Script::Answer {
            bind: 0,
            entries: vec!["dc=example,dc=com"],
        })
        .await;
        let res = probe(addr, &params("dc=example,dc=com", Some("^dc=example"))).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn two_entries_are_down() {
        let addr = server(Script::Answer {
            bind: 0,
            entries: vec!["dc=a", "dc=b"],
        })
        .await;
        let res = probe(addr, &params("dc=a", None)).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn self_signed_certificate_fails_when_verifying() {
        let addr = server(Script::Answer {
            bind: 0,
            entries: vec!["dc=a"],
        })
        .await;
        let p = Negotiate {
            tls_verify: crate::probe::TlsVerify::Full,
            ..params("dc=a", None)
        };
        let res = probe(addr, &p).await;
        assert!(matches!(res, Err(ProbeError::Tls(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_search_does_not_finish() {
        let addr = server(Script::HangAfterBind).await;
        let res = tokio::time::timeout(HANG, probe(addr, &params("dc=a", None))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_after_bind_is_down() {
        let addr = server(Script::CloseAfterBind).await;
        let res = probe(addr, &params("dc=a", None)).await;
        assert!(res.is_err(), "{res:?}");
    }
}
