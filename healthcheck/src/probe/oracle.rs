//! `service = oracle`: what ldirectord does with DBI/DBD::Oracle
//! (`dbi:Oracle:sid=<database>;host=<real>;port=<checkport>`): log in as `login` with
//! `passwd` to the SID `database`, run `request` (without its leading `/`) and call the real
//! up when the query returns at least one row. `login` and `request` are required, as in
//! ldirectord (the spec refuses a check without them).
//!
//! The driver is oracle-rs, a pure-Rust implementation of Oracle's TNS/TTC protocol (no Oracle
//! client libraries). It is async on tokio, so the caller's deadline cancels a check at any
//! point (connect, login, query) by dropping it.
//!
//! Tested here against loopback servers that refuse, send garbage, hang and close early; the
//! success path needs a real Oracle database, which the test machines do not have.

use std::net::SocketAddr;

use oracle_rs::{Config, Connection};

use super::line;
use super::{Negotiate, ProbeError};
use crate::spec::host_string;

/// Runs the Oracle check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let query = line::request_text(params);
    let Some(user) = params
        .login
        .as_deref()
        .filter(|l| !l.is_empty() && !query.is_empty())
    else {
        return Err(ProbeError::Unexpected(
            "oracle check needs a login and a request".into(),
        ));
    };
    let config = Config::with_sid(
        host_string(addr.ip()),
        addr.port(),
        params.database.clone().unwrap_or_default(),
        user,
        params.passwd.clone().unwrap_or_default(),
    );
    let conn = Connection::connect_with_config(config)
        .await
        .map_err(|e| ProbeError::Unexpected(format!("oracle: cannot log in: {e}")))?;
    let result = conn.query(query, &[]).await;
    // Log off politely; the verdict does not depend on it.
    let _ = conn.close().await;
    let rows = result
        .map_err(|e| ProbeError::Unexpected(format!("oracle: query failed: {e}")))?
        .row_count();
    if rows >= 1 {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(
            "oracle: the query returned no rows".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn params() -> Negotiate {
        Negotiate {
            request: Some("/select 1 from dual".into()),
            login: Some("scott".into()),
            passwd: Some("tiger".into()),
            database: Some("ORCL".into()),
            ..Negotiate::default()
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// Close as soon as the CONNECT packet arrives.
        CloseEarly,
        /// Answer with bytes that are no TNS packet, then close.
        Garbage,
        /// Read the CONNECT packet and never answer.
        Hang,
        /// Answer with a TNS REFUSE packet (the listener does not know the SID).
        Refuse,
        /// Answer with a valid header announcing more bytes than ever come, then close.
        Truncated,
    }

    /// A loopback "Oracle listener" that plays `mode` with its first client; returns how many
    /// bytes it read (the client's CONNECT packet).
    async fn listener(mode: Mode) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            match mode {
                Mode::CloseEarly => {}
                Mode::Garbage => {
                    let _ = s
                        .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nnot oracle")
                        .await;
                }
                Mode::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
                Mode::Refuse => {
                    // header: length 12, checksum 0, type 4 (REFUSE), flags 0, header checksum
                    // 0; then user reason, system reason, data length 0
                    let _ = s.write_all(&[0, 12, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]).await;
                }
                Mode::Truncated => {
                    let _ = s.write_all(&[1, 0, 0, 0, 2, 0, 0, 0, 1, 2]).await;
                }
            }
            n
        });
        (addr, task)
    }

    async fn run(mode: Mode) -> Result<(), ProbeError> {
        let (addr, server) = listener(mode).await;
        let res = tokio::time::timeout(Duration::from_secs(5), probe(addr, &params()))
            .await
            .unwrap_or(Err(ProbeError::Timeout));
        let read = server.await.unwrap_or(0);
        assert!(
            read > 8,
            "{mode:?}: the client sent no CONNECT packet ({read} bytes)"
        );
        res
    }

    #[tokio::test]
    async fn a_refusing_listener_is_down() {
        let res = run(Mode::Refuse).await;
        let Err(ProbeError::Unexpected(why)) = &res else {
            panic!("{res:?}");
        };
        assert!(why.contains("refused"), "{why}");
    }

    #[tokio::test]
    async fn garbage_and_early_close_are_down() {
        for mode in [Mode::Garbage, Mode::CloseEarly, Mode::Truncated] {
            let res = run(mode).await;
            assert!(
                matches!(res, Err(ProbeError::Unexpected(_))),
                "{mode:?}: {res:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_hung_listener_never_answers_and_the_deadline_ends_it() {
        let (addr, _server) = listener(Mode::Hang).await;
        let started = std::time::Instant::now();
        let res = tokio::time::timeout(Duration::from_millis(500), probe(addr, &params())).await;
        assert!(res.is_err(), "{res:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn nothing_listening_is_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn login_and_request_are_required() {
        let mut p = params();
        p.login = None;
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
        let mut p = params();
        p.request = Some("/".into());
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
    }
}
