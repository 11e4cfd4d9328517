//! `service = smtp` / `submission`: what Net::SMTP->new does for ldirectord.
//!
//! Read the greeting (2xx), say `EHLO localhost.localdomain` (2xx), or on a 5xx answer
//! `HELO localhost.localdomain` (2xx); then `QUIT`. The real is up when the greeting and
//! the hello were accepted; the answer to QUIT does not matter.
//!
//! Kept hand-written: lettre, the maintained SMTP client, greets only with EHLO and hands
//! back no connection after a refused one, so Net::SMTP's HELO fallback could not be kept;
//! the check is three commands on the shared reply reader (`line`).

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

use super::line::{self, read_reply, Lines};
use super::{Negotiate, ProbeError};

/// The hello domain Net::SMTP sends when none is configured.
const HELLO: &str = "localhost.localdomain";

/// Runs the SMTP check against `addr`.
pub async fn probe(addr: SocketAddr, _params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?).await
}

/// The SMTP conversation over an open stream.
pub(crate) async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> Result<(), ProbeError> {
    let mut lines = Lines::new(stream);
    let (code, text) = read_reply(&mut lines).await?;
    if !(200..300).contains(&code) {
        return Err(ProbeError::Unexpected(format!(
            "smtp greeting: {}",
            line::printable(&text)
        )));
    }
    lines.send(format!("EHLO {HELLO}\r\n").as_bytes()).await?;
    let (mut code, mut text) = read_reply(&mut lines).await?;
    if (500..600).contains(&code) {
        lines.send(format!("HELO {HELLO}\r\n").as_bytes()).await?;
        (code, text) = read_reply(&mut lines).await?;
    }
    if !(200..300).contains(&code) {
        return Err(ProbeError::Unexpected(format!(
            "smtp hello refused: {}",
            line::printable(&text)
        )));
    }
    quit(&mut lines).await;
    Ok(())
}

/// Says QUIT and reads the answer, ignoring what happens (the check already passed).
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(lines: &mut Lines<S>) {
    if lines.send(b"QUIT\r\n").await.is_ok() {
        let _ = read_reply(lines).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, expect, send, Step, HANG};

    async fn run(steps: Vec<Step>) -> (Result<(), ProbeError>, Vec<String>) {
        let server = fake::tcp(steps).await;
        let res = probe(server.addr, &Negotiate::default()).await;
        (res, server.transcript().await)
    }

    #[tokio::test]
    async fn ehlo_accepted_is_up_and_quits() {
        let (res, seen) = run(vec![
            send("220-mx.example ESMTP\r\n220 welcome\r\n"),
            expect("EHLO localhost.localdomain"),
            send("250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
            expect("QUIT"),
            send("221 bye\r\n"),
        ])
        .await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["EHLO localhost.localdomain", "QUIT"]);
    }

    #[tokio::test]
    async fn falls_back_to_helo_on_5xx() {
        let (res, seen) = run(vec![
            send("220 old smtp\r\n"),
            expect("EHLO"),
            send("502 what?\r\n"),
            expect("HELO localhost.localdomain"),
            send("250 hi\r\n"),
            expect("QUIT"),
            send("221 bye\r\n"),
        ])
        .await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen.len(), 3);
    }

    #[tokio::test]
    async fn refused_greeting_is_down() {
        let (res, _) = run(vec![send("554 go away\r\n")]).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn temporary_ehlo_failure_is_down() {
        let (res, seen) = run(vec![
            send("220 hi\r\n"),
            expect("EHLO"),
            send("421 busy\r\n"),
        ])
        .await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
        assert_eq!(seen.len(), 1, "no HELO after a 4xx");
    }

    #[tokio::test]
    async fn garbage_greeting_is_down() {
        let (res, _) = run(vec![send("HTTP/1.1 400 Bad\r\n")]).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![send("220 hi\r\n"), Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &Negotiate::default())).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_after_greeting_is_down() {
        let (res, _) = run(vec![send("220 hi\r\n"), Step::Close]).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), ok in proptest::prelude::any::<bool>()) {
            if ok { bytes.splice(0..0, b"220 hi\r\n".iter().copied()); }
            let out = fake::run_on_bytes(bytes, |s| async move { session(s).await.is_ok() });
            proptest::prop_assert!(out.is_some());
        }
    }

    #[tokio::test]
    async fn refused_connection_is_down() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let res = probe(addr, &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Connect { .. })), "{res:?}");
    }
}
