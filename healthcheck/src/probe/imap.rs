//! `service = imap`: what Net::IMAP::Simple does for ldirectord, on the `async-imap` client.
//!
//! Read the greeting (`* OK` or `* PREAUTH`). With a `login`, `LOGIN "user" "passwd"` and
//! wait for its OK. Then `LOGOUT`. (The library's `quit` also sends an `EXPUNGE` first,
//! which fails outside a selected mailbox; it is left out.) async-imap tags commands
//! `A0001`, `A0002`, ... where Net::IMAP::Simple counts from `0`.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use async_imap::imap_proto::{Response, Status};
use async_imap::Client;
use futures::FutureExt as _;
use tokio::io::{AsyncRead, AsyncWrite};

use super::line::{self, printable};
use super::{Negotiate, ProbeError};

/// Runs the IMAP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?, params).await
}

/// The IMAP conversation over an open stream (plain for imap, TLS for imaps).
///
/// imap-proto 0.17 (the parser under async-imap, the latest release) panics on some server
/// answers: a response code followed by text that does not start with a one-byte character
/// (`* OK [ALERT]\xd8\r\n`) slices a string inside a character. Such a panic is this
/// server's failed check, in words, rather than a panic for the runner to catch.
pub(crate) async fn session<S>(stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    AssertUnwindSafe(converse(stream, params))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Err(ProbeError::Unexpected(
                "imap: the server's answer cannot be parsed".into(),
            ))
        })
}

async fn converse<S>(stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut client = Client::new(stream);
    let greeting = client.read_response().await?.ok_or(ProbeError::Closed)?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => {}
        _ => {
            return Err(ProbeError::Unexpected(format!(
                "imap greeting: {}",
                printable(greeting.borrow_owner())
            )))
        }
    }
    match params.login.as_deref().filter(|l| !l.is_empty()) {
        Some(user) => {
            let pass = params.passwd.as_deref().unwrap_or("");
            let mut session = client.login(user, pass).await.map_err(|(e, _)| error(e))?;
            let _ = session.logout().await;
        }
        None => {
            let _ = client.run_command_and_check_ok("LOGOUT", None).await;
        }
    }
    Ok(())
}

/// async-imap's error in the probe's words.
fn error(e: async_imap::error::Error) -> ProbeError {
    use async_imap::error::Error;
    match e {
        Error::Io(e) => ProbeError::from(e),
        Error::ConnectionLost => ProbeError::Closed,
        Error::No(text) | Error::Bad(text) => {
            ProbeError::Unexpected(format!("imap LOGIN failed: {}", printable(text.as_bytes())))
        }
        other => ProbeError::Unexpected(format!("imap: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, expect, send, Step, HANG};
    use proptest::prelude::*;

    fn with_login(user: &str, pass: &str) -> Negotiate {
        Negotiate {
            login: Some(user.into()),
            passwd: Some(pass.into()),
            ..Negotiate::default()
        }
    }

    async fn run(steps: Vec<Step>, params: &Negotiate) -> (Result<(), ProbeError>, Vec<String>) {
        let server = fake::tcp(steps).await;
        let res = probe(server.addr, params).await;
        (res, server.transcript().await)
    }

    #[tokio::test]
    async fn greeting_only_without_login() {
        let steps = vec![
            send("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            expect("A0001 LOGOUT"),
            send("* BYE\r\nA0001 OK bye\r\n"),
        ];
        let (res, seen) = run(steps, &Negotiate::default()).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["A0001 LOGOUT"]);
    }

    #[tokio::test]
    async fn preauth_greeting_is_up() {
        let steps = vec![
            send("* PREAUTH welcome back\r\n"),
            expect("A0001 LOGOUT"),
            send("* BYE\r\nA0001 OK bye\r\n"),
        ];
        let (res, _) = run(steps, &Negotiate::default()).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn login_then_logout() {
        let steps = vec![
            send("* OK ready\r\n"),
            expect("A0001 LOGIN \"alice\" \"se\\\"cret\""),
            send("* CAPABILITY IMAP4rev1\r\nA0001 OK logged in\r\n"),
            expect("A0002 LOGOUT"),
            send("* BYE\r\nA0002 OK bye\r\n"),
        ];
        let (res, seen) = run(steps, &with_login("alice", "se\"cret")).await;
        assert!(res.is_ok(), "{res:?} {seen:?}");
    }

    #[tokio::test]
    async fn refused_login_is_down() {
        let steps = vec![
            send("* OK ready\r\n"),
            expect("A0001 LOGIN"),
            send("A0001 NO [AUTHENTICATIONFAILED] no\r\n"),
        ];
        let (res, _) = run(steps, &with_login("alice", "x")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn bye_greeting_is_down() {
        let (res, _) = run(vec![send("* BYE overloaded\r\n")], &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    /// A greeting line that never ends: the check gives up after `cap::MAX_ANSWER` bytes instead of
    /// letting async-imap buffer it (up to 512 MiB) until the deadline.
    #[tokio::test]
    async fn an_endless_line_fails_the_check_without_waiting() {
        let server = fake::tcp(vec![
            send("* OK "),
            Step::Send(vec![b'a'; 2 << 20]),
            Step::Hang,
        ])
        .await;
        // (the outer timeout only guards against a hang: on a loaded machine a debug build
        // takes seconds to push 2 MiB through; waiting for the check's deadline instead would
        // end in a timeout error, not TooLarge)
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            probe(server.addr, &Negotiate::default()),
        )
        .await;
        assert!(matches!(res, Ok(Err(ProbeError::TooLarge(_)))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![send("* OK hi\r\n"), Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &with_login("a", "b"))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_before_greeting_is_down() {
        let (res, _) = run(vec![Step::Close], &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[test]
    fn a_reply_that_panics_the_parser_is_a_failed_check() {
        // Found by the probe_imap fuzz target: imap-proto slices "\u{fffd}" at byte 1.
        for bytes in [
            &b"* OK [ALERT]\xd8\r\n"[..],
            b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLE [NTICATIONFAILED]\xd8nope\r* OK I\nM IMAP4rd* OK IMAP4rev1\r\n* BYE ",
        ] {
            let out = fake::run_on_bytes(bytes.to_vec(), |s| async move {
                session(s, &with_login("u", "p")).await
            });
            let Some(Err(ProbeError::Unexpected(reason))) = out else {
                panic!("{out:?}");
            };
            assert_eq!(reason, "imap: the server's answer cannot be parsed");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok { bytes.splice(0..0, b"* OK hi\r\n".iter().copied()); }
            let p = with_login("u", "p");
            let out = fake::run_on_bytes(bytes, |s| async move { session(s, &p).await.is_ok() });
            prop_assert!(out.is_some());
        }
    }
}
