//! `service = imap`: what Net::IMAP::Simple does for ldirectord.
//!
//! Read the greeting (`* OK` or `* PREAUTH`). With a `login`, send
//! `0 LOGIN "user" "passwd"` and wait for `0 OK`. Then `LOGOUT`. (The library's `quit`
//! also sends an `EXPUNGE` first, which fails outside a selected mailbox; it is left out.)

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

use super::line::{self, Lines};
use super::{Negotiate, ProbeError};

/// How many untagged lines a probe reads while waiting for its tagged answer.
const MAX_UNTAGGED: usize = 1024;

/// Runs the IMAP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?, params).await
}

/// The IMAP conversation over an open stream (plain for imap, TLS for imaps).
pub(crate) async fn session<S>(stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Lines::new(stream);
    let greeting = lines.read_line().await?;
    if !is_greeting_ok(&greeting) {
        return Err(ProbeError::Unexpected(format!(
            "imap greeting: {}",
            line::printable(&greeting)
        )));
    }
    let mut tag = 0u32;
    if let Some(user) = params.login.as_deref().filter(|l| !l.is_empty()) {
        let pass = params.passwd.as_deref().unwrap_or("");
        let cmd = format!("{tag} LOGIN {} {}\r\n", quote(user), quote(pass));
        lines.send(cmd.as_bytes()).await?;
        let answer = tagged(&mut lines, tag).await?;
        if status(&answer, tag) != Some(Status::Ok) {
            return Err(ProbeError::Unexpected(format!(
                "imap LOGIN failed: {}",
                line::printable(&answer)
            )));
        }
        tag += 1;
    }
    if lines
        .send(format!("{tag} LOGOUT\r\n").as_bytes())
        .await
        .is_ok()
    {
        let _ = tagged(&mut lines, tag).await;
    }
    Ok(())
}

/// Reads until the line tagged `tag`, skipping untagged ones.
async fn tagged<S>(lines: &mut Lines<S>, tag: u32) -> Result<Vec<u8>, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for _ in 0..MAX_UNTAGGED {
        let line = lines.read_line().await?;
        if status(&line, tag).is_some() {
            return Ok(line);
        }
    }
    Err(ProbeError::Unexpected("imap: no tagged answer".into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    No,
    Bad,
}

/// The status of a line tagged `tag` (`0 OK ...`), `None` for any other line.
pub(crate) fn status(line: &[u8], tag: u32) -> Option<Status> {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    if words.next()? != tag.to_string() || !text.starts_with(&tag.to_string()) {
        return None;
    }
    match words.next()?.to_ascii_uppercase().as_str() {
        "OK" => Some(Status::Ok),
        "NO" => Some(Status::No),
        "BAD" => Some(Status::Bad),
        _ => None,
    }
}

/// `* OK` or `* PREAUTH`, in any case.
pub(crate) fn is_greeting_ok(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    text.starts_with('*')
        && words.next() == Some("*")
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("OK") || w.eq_ignore_ascii_case("PREAUTH"))
}

/// An IMAP quoted string (backslash and double quote escaped, as the library does).
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
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
            expect("0 LOGOUT"),
            send("* BYE\r\n0 OK bye\r\n"),
        ];
        let (res, seen) = run(steps, &Negotiate::default()).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["0 LOGOUT"]);
    }

    #[tokio::test]
    async fn login_then_logout() {
        let steps = vec![
            send("* OK ready\r\n"),
            expect("0 LOGIN \"alice\" \"se\\\"cret\""),
            send("* CAPABILITY IMAP4rev1\r\n0 OK logged in\r\n"),
            expect("1 LOGOUT"),
            send("* BYE\r\n1 OK bye\r\n"),
        ];
        let (res, seen) = run(steps, &with_login("alice", "se\"cret")).await;
        assert!(res.is_ok(), "{res:?} {seen:?}");
    }

    #[tokio::test]
    async fn refused_login_is_down() {
        let steps = vec![
            send("* OK ready\r\n"),
            expect("0 LOGIN"),
            send("0 NO [AUTHENTICATIONFAILED] no\r\n"),
        ];
        let (res, _) = run(steps, &with_login("alice", "x")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn bye_greeting_is_down() {
        let (res, _) = run(vec![send("* BYE overloaded\r\n")], &Negotiate::default()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
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
    fn statuses() {
        assert_eq!(status(b"0 OK done", 0), Some(Status::Ok));
        assert_eq!(status(b"0 no", 0), Some(Status::No));
        assert_eq!(status(b"1 BAD x", 1), Some(Status::Bad));
        assert_eq!(status(b"* OK x", 0), None);
        assert_eq!(status(b"10 OK x", 1), None);
        assert_eq!(status(b" 1 OK x", 1), None);
        assert!(is_greeting_ok(b"* PREAUTH hi"));
        assert!(is_greeting_ok(b"* ok hi"));
        assert!(!is_greeting_ok(b"* BYE"));
        assert!(!is_greeting_ok(b"*OK"));
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

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), tag in any::<u32>()) {
            let _ = status(&bytes, tag);
            let _ = is_greeting_ok(&bytes);
        }
    }
}
