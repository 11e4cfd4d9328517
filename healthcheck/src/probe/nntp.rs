//! `service = nntp`: ldirectord connects, reads at most 64 bytes of the greeting and
//! calls the server up when the first byte is `2` (200/201 posting allowed or not).
//! This probe then says `QUIT` politely (ldirectord just closes).
//!
//! Kept hand-written: one read of the greeting, nothing a client crate would add to.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::line::{self, printable};
use super::{Negotiate, ProbeError};

/// Runs the NNTP check against `addr`.
pub async fn probe(addr: SocketAddr, _params: &Negotiate) -> Result<(), ProbeError> {
    let mut stream = line::connect(addr).await?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await?;
    let verdict = judge(buf.get(..n).unwrap_or_default());
    if verdict.is_ok() {
        let _ = stream.write_all(b"QUIT\r\n").await;
        let _ = stream.shutdown().await;
    }
    verdict
}

/// ldirectord's verdict on the (first 64 bytes of the) greeting: up when it starts with `2`.
pub(crate) fn judge(greeting: &[u8]) -> Result<(), ProbeError> {
    match greeting.first() {
        None => Err(ProbeError::Closed),
        Some(b'2') => Ok(()),
        Some(_) => Err(ProbeError::Unexpected(format!(
            "nntp greeting: {}",
            printable(greeting)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, send, Step, HANG};

    async fn run(steps: Vec<Step>) -> (Result<(), ProbeError>, Vec<String>) {
        let server = fake::tcp(steps).await;
        let res = probe(server.addr, &Negotiate::default()).await;
        (res, server.transcript().await)
    }

    #[tokio::test]
    async fn posting_allowed_is_up() {
        let (res, seen) = run(vec![send("200 news.example ready\r\n")]).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["QUIT"]);
    }

    #[tokio::test]
    async fn no_posting_is_up() {
        let (res, _) = run(vec![send("201 read only\r\n")]).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn unavailable_is_down() {
        let (res, _) = run(vec![send("502 access denied\r\n")]).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &Negotiate::default())).await;
        assert!(res.is_err());
    }

    proptest::proptest! {
        /// Any greeting: no panic, up exactly when it starts with `2`, a printable reason.
        #[test]
        fn judge_takes_any_greeting(greeting in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let verdict = judge(&greeting);
            proptest::prop_assert_eq!(verdict.is_ok(), greeting.first() == Some(&b'2'));
            if let Err(e) = verdict {
                proptest::prop_assert!(!e.to_string().chars().any(char::is_control));
            }
        }

        /// A valid greeting ("200"/"201" and any text) is up.
        #[test]
        fn valid_greetings_are_up(code in proptest::sample::select(vec!["200", "201"]), text in "[ -~]{0,58}") {
            let greeting = format!("{code} {text}\r\n");
            let bytes = greeting.as_bytes();
            proptest::prop_assert!(judge(bytes.get(..64.min(bytes.len())).unwrap()).is_ok());
        }
    }

    #[tokio::test]
    async fn close_without_greeting_is_down() {
        let (res, _) = run(vec![Step::Close]).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }
}
