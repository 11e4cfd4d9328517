//! `service = pop`: what Mail::POP3Client does for ldirectord.
//!
//! Read the banner (`+OK`). With a `login`, log in the way the library's `BEST` mode
//! does: APOP when the banner carries a `<msg-id>` (then NOOP), else SASL CRAM-MD5 when
//! `CAPA` lists it, else `USER`/`PASS`; then `STAT`. Finally `QUIT`.
//!
//! One deliberate difference: ldirectord's check without a login never fails (the
//! library's constructor returns an object even when the connection failed), so a dead
//! POP server stays up there. Here the banner must be `+OK`, as ldirectord's docs promise.
//!
//! Kept hand-written: the POP3 client crates (async-pop, last released in 2023, its forks,
//! mailme) are little used, not kept up, and tie TLS to native-tls; the check is a few
//! commands, with APOP and CRAM-MD5 on the md-5 and hmac crates.

use std::net::SocketAddr;

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncWrite};

use super::line::{self, Lines};
use super::{Negotiate, ProbeError};

/// Runs the POP3 check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?, params).await
}

/// The POP3 conversation over an open stream (plain for pop, TLS for pops).
pub(crate) async fn session<S>(stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Lines::new(stream);
    let banner = lines.read_line().await?;
    if !is_ok(&banner) {
        return Err(ProbeError::Unexpected(format!(
            "pop3 banner: {}",
            line::printable(&banner)
        )));
    }
    if let Some(user) = params.login.as_deref().filter(|l| !l.is_empty()) {
        let pass = params.passwd.as_deref().unwrap_or("");
        login(&mut lines, &banner, user, pass).await?;
    }
    if lines.send(b"QUIT\r\n").await.is_ok() {
        let _ = lines.read_line_opt().await;
    }
    Ok(())
}

async fn login<S>(
    lines: &mut Lines<S>,
    banner: &[u8],
    user: &str,
    pass: &str,
) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(msg_id) = apop_timestamp(banner) {
        let digest = hex(&Md5::digest([msg_id, pass.as_bytes()].concat()));
        lines
            .send(format!("APOP {user} {digest}\r\n").as_bytes())
            .await?;
        let answer = lines.read_line().await?;
        lines.send(b"NOOP\r\n").await?;
        let noop = lines.read_line().await?;
        if is_ok(&answer) && is_ok(&noop) {
            return stat(lines).await;
        }
    }
    if capa_has_cram_md5(lines).await? {
        lines.send(b"AUTH CRAM-MD5\r\n").await?;
        let challenge = lines.read_line().await?;
        if let Some(b64) = challenge.strip_prefix(b"+ ").filter(|c| !c.is_empty()) {
            let response = cram_md5(b64, user, pass).ok_or_else(|| {
                ProbeError::Unexpected(format!("bad CRAM-MD5 challenge: {}", line::printable(b64)))
            })?;
            lines.send(format!("{response}\r\n").as_bytes()).await?;
            return expect_ok(lines, "AUTH CRAM-MD5")
                .await
                .and(stat(lines).await);
        }
        return Err(ProbeError::Unexpected(format!(
            "pop3 AUTH CRAM-MD5 failed: {}",
            line::printable(&challenge)
        )));
    }
    lines.send(format!("USER {user}\r\n").as_bytes()).await?;
    let answer = lines.read_line().await?;
    if answer.first() != Some(&b'+') {
        return Err(ProbeError::Unexpected(format!(
            "pop3 USER failed: {}",
            line::printable(&answer)
        )));
    }
    lines.send(format!("PASS {pass}\r\n").as_bytes()).await?;
    expect_ok(lines, "PASS").await?;
    stat(lines).await
}

async fn stat<S: AsyncRead + AsyncWrite + Unpin>(lines: &mut Lines<S>) -> Result<(), ProbeError> {
    lines.send(b"STAT\r\n").await?;
    expect_ok(lines, "STAT").await
}

async fn expect_ok<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    what: &str,
) -> Result<(), ProbeError> {
    let answer = lines.read_line().await?;
    if is_ok(&answer) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "pop3 {what} failed: {}",
            line::printable(&answer)
        )))
    }
}

/// Sends CAPA and tells whether a `SASL ... CRAM-MD5` line is in the list.
async fn capa_has_cram_md5<S>(lines: &mut Lines<S>) -> Result<bool, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    lines.send(b"CAPA\r\n").await?;
    if !is_ok(&lines.read_line().await?) {
        return Ok(false);
    }
    let mut found = false;
    // The list ends with a line holding only "."; bounded by the line reader and this count.
    for _ in 0..1024 {
        let capa = lines.read_line().await?;
        if capa.trim_ascii_end() == b"." {
            return Ok(found);
        }
        found |= is_sasl_cram_md5(&capa);
    }
    Err(ProbeError::Unexpected("pop3 CAPA list too long".into()))
}

/// `+OK` at the start of a line, in any case (as the library checks it).
fn is_ok(line: &[u8]) -> bool {
    line.get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"+ok"))
}

/// The `<...@...>` timestamp of an APOP-capable banner.
pub(crate) fn apop_timestamp(banner: &[u8]) -> Option<&[u8]> {
    let start = banner.iter().position(|&b| b == b'<')?;
    let rest = banner.get(start..)?;
    let len = rest.iter().position(|&b| b == b'>')? + 1;
    let id = rest.get(..len)?;
    let inner = id.get(1..len - 1)?;
    let at = inner.iter().position(|&b| b == b'@')?;
    let atom = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+/=?^`{|}~.".contains(&b))
    };
    (atom(inner.get(..at)?) && atom(inner.get(at + 1..)?)).then_some(id)
}

/// A CAPA line `SASL ... CRAM-MD5 ...`.
fn is_sasl_cram_md5(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    words.next() == Some("SASL") && words.any(|w| w == "CRAM-MD5")
}

/// The base64 answer to a base64 CRAM-MD5 challenge.
pub(crate) fn cram_md5(challenge_b64: &[u8], user: &str, pass: &str) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let challenge = b64.decode(challenge_b64.trim_ascii()).ok()?;
    let mut mac = Hmac::<Md5>::new_from_slice(pass.as_bytes()).ok()?;
    mac.update(&challenge);
    let digest = hex(&mac.finalize().into_bytes());
    Some(b64.encode(format!("{user} {digest}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
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
    async fn banner_only_without_login() {
        let (res, seen) = run(
            vec![
                send("+OK POP3 ready\r\n"),
                expect("QUIT"),
                send("+OK bye\r\n"),
            ],
            &Negotiate::default(),
        )
        .await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["QUIT"]);
    }

    #[tokio::test]
    async fn user_pass_login() {
        let steps = vec![
            send("+OK ready\r\n"),
            expect("CAPA"),
            send("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
            expect("USER alice"),
            send("+OK\r\n"),
            expect("PASS secret"),
            send("+OK logged in\r\n"),
            expect("STAT"),
            send("+OK 0 0\r\n"),
            expect("QUIT"),
            send("+OK\r\n"),
        ];
        let (res, seen) = run(steps, &with_login("alice", "secret")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["CAPA", "USER alice", "PASS secret", "STAT", "QUIT"]);
    }

    #[tokio::test]
    async fn apop_login() {
        // RFC 1939's example: APOP mrose c4c9334bac560ecc979e58001b3e22fb for "tanstaaf".
        let steps = vec![
            send("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
            expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            send("+OK maildrop has 1 message (369 octets)\r\n"),
            expect("NOOP"),
            send("+OK\r\n"),
            expect("STAT"),
            send("+OK 1 369\r\n"),
            expect("QUIT"),
            send("+OK\r\n"),
        ];
        let (res, seen) = run(steps, &with_login("mrose", "tanstaaf")).await;
        assert!(res.is_ok(), "{res:?} {seen:?}");
    }

    #[tokio::test]
    async fn cram_md5_login() {
        // RFC 2195's example challenge and answer.
        let steps = vec![
            send("+OK ready\r\n"),
            expect("CAPA"),
            send("+OK\r\nSASL CRAM-MD5 PLAIN\r\n.\r\n"),
            expect("AUTH CRAM-MD5"),
            send("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
            expect("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
            send("+OK\r\n"),
            expect("STAT"),
            send("+OK 0 0\r\n"),
        ];
        let (res, seen) = run(steps, &with_login("tim", "tanstaaftanstaaf")).await;
        assert!(res.is_ok(), "{res:?} {seen:?}");
    }

    #[tokio::test]
    async fn wrong_password_is_down() {
        let steps = vec![
            send("+OK ready\r\n"),
            expect("CAPA"),
            send("-ERR no CAPA\r\n"),
            expect("USER alice"),
            send("+OK\r\n"),
            expect("PASS nope"),
            send("-ERR [AUTH] invalid\r\n"),
        ];
        let (res, _) = run(steps, &with_login("alice", "nope")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn err_banner_is_down() {
        let (res, _) = run(
            vec![send("-ERR too many connections\r\n")],
            &Negotiate::default(),
        )
        .await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &Negotiate::default())).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_during_login_is_down() {
        let (res, _) = run(vec![send("+OK hi\r\n"), Step::Close], &with_login("a", "b")).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[test]
    fn apop_timestamps() {
        assert_eq!(
            apop_timestamp(b"+OK hi <1.2@host>"),
            Some(&b"<1.2@host>"[..])
        );
        assert_eq!(apop_timestamp(b"+OK hi <nohost>"), None);
        assert_eq!(apop_timestamp(b"+OK hi <@host>"), None);
        assert_eq!(apop_timestamp(b"+OK <a@b"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok { bytes.splice(0..0, b"+OK <1.2@h>\r\n".iter().copied()); }
            let p = with_login("u", "p");
            let out = fake::run_on_bytes(bytes, |s| async move { session(s, &p).await.is_ok() });
            prop_assert!(out.is_some());
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = apop_timestamp(&bytes);
            let _ = is_sasl_cram_md5(&bytes);
            let _ = cram_md5(&bytes, "u", "p");
            let _ = is_ok(&bytes);
        }
    }
}
