//! Probe conversations against a canned server answer, in memory, and the pure answer parsers
//! behind one door: the entry points of the fuzz targets (`tests/fuzz`), also usable from
//! property tests.
//!
//! A conversation plays `server` as everything the real server sends, then its close; what
//! the probe writes is read and dropped. It returns `None` when the probe did not finish
//! within [`LIMIT`]: with a peer that has closed, that is a hang.

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::line::Lines;
#[cfg(feature = "pgsql")]
use super::pgsql;
use super::{ftp, http, imap, nntp, pop, radius, simpletcp, sip, smtp};
use super::{Negotiate, ProbeError};

/// How long a conversation with a closed peer may take before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(5);

/// Who opens the conversation.
#[derive(Clone, Copy)]
enum Opens {
    /// The server greets first (SMTP, POP3, IMAP, ...).
    Server,
    /// The server answers the client's first bytes (HTTP).
    Client,
}

/// Runs `session` against a peer that sends `server` (at once, or after the client's first
/// bytes), then closes its side.
fn converse<F, Fut, T>(server: &[u8], opens: Opens, session: F) -> Option<T>
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let server = server.to_vec();
    rt.block_on(async move {
        let (client, peer) = tokio::io::duplex(64 * 1024);
        let (mut from_client, mut to_client) = tokio::io::split(peer);
        let (heard, hear) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            if let Opens::Client = opens {
                // The client closing without a word also lets the answer go.
                let _ = hear.await;
            }
            let _ = to_client.write_all(&server).await;
            let _ = to_client.shutdown().await;
        });
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            let _ = from_client.read(&mut first).await;
            let _ = heard.send(());
            let _ = tokio::io::copy(&mut from_client, &mut tokio::io::sink()).await;
        });
        tokio::time::timeout(LIMIT, session(client)).await.ok()
    })
}

/// The SMTP check (greeting, EHLO or HELO, QUIT) against `server`.
pub fn smtp(server: &[u8]) -> Option<Result<(), ProbeError>> {
    converse(server, Opens::Server, smtp::session)
}

/// The POP3 check against `server`.
pub fn pop(server: &[u8], params: &Negotiate) -> Option<Result<(), ProbeError>> {
    converse(server, Opens::Server, |s| async move {
        pop::session(s, params).await
    })
}

/// The IMAP check against `server`.
pub fn imap(server: &[u8], params: &Negotiate) -> Option<Result<(), ProbeError>> {
    converse(server, Opens::Server, |s| async move {
        imap::session(s, params).await
    })
}

/// The PostgreSQL check (after the SSLRequest was refused) against `server`.
#[cfg(feature = "pgsql")]
pub fn pgsql(
    server: &[u8],
    user: &str,
    password: &str,
    query: &str,
) -> Option<Result<(), ProbeError>> {
    let login = pgsql::Login {
        user,
        password,
        database: None,
    };
    converse(server, Opens::Client, |s| async move {
        pgsql::session(s, &login, query).await
    })
}

/// The TCP simpletcp check's reading of the answer against `server`.
pub fn simpletcp(server: &[u8], params: &Negotiate) -> Option<Result<(), ProbeError>> {
    converse(server, Opens::Server, |s| async move {
        simpletcp::read_answer(&mut Lines::new(s), params).await
    })
}

/// One HTTP exchange for `url` against `server`, judged: `Ok(Some(next))` is a redirect
/// to follow, `Ok(None)` an answer that passes.
pub fn http(
    server: &[u8],
    url: &Url,
    params: &Negotiate,
) -> Option<Result<Option<Url>, ProbeError>> {
    converse(server, Opens::Client, |s| async move {
        http::exchange_over(s, url.clone(), params).await
    })
}

/// The DNS check's verdict on a datagram answering query `id`; `None` when it is not an
/// answer to it.
pub fn dns(answer: &[u8], id: u16, params: &Negotiate) -> Option<Result<(), ProbeError>> {
    super::dns::decode(answer, id).map(|msg| super::dns::judge(&msg, params))
}

/// The RADIUS check's reading of a datagram answering request `id` with `authenticator`:
/// the answer's code.
pub fn radius(
    answer: &[u8],
    id: u8,
    authenticator: [u8; 16],
    secret: &[u8],
) -> Result<u8, radius::RadiusError> {
    let request = radius::Request {
        id,
        authenticator,
        user: "",
        password: "",
        nas: Ipv4Addr::UNSPECIFIED,
    };
    radius::parse_response(answer, &request, secret)
}

/// The FTP check's verdict on a download.
pub fn ftp(content: &[u8], complete: bool, params: &Negotiate) -> Result<(), ProbeError> {
    ftp::judge(content, complete, params)
}

/// The NNTP check's verdict on a greeting.
pub fn nntp(greeting: &[u8]) -> Result<(), ProbeError> {
    nntp::judge(greeting)
}

/// The SIP check's verdict on an answer: its first line is `SIP/2.0 200 OK`.
pub fn sip(answer: &[u8]) -> bool {
    sip::is_ok_status(sip::first_line(answer))
}

/// Whether one line of a simpletcp UDP answer matches `receive`.
pub fn simpletcp_line(raw: &[u8], params: &Negotiate) -> bool {
    simpletcp::line_matches(params, raw)
}

/// The APOP timestamp of a POP3 banner, if it offers one.
pub fn apop_timestamp(banner: &[u8]) -> Option<&[u8]> {
    pop::apop_timestamp(banner)
}

/// The answer to a POP3 CRAM-MD5 challenge (base64), `None` for a challenge that is not
/// base64.
pub fn cram_md5(challenge: &[u8], user: &str, pass: &str) -> Option<String> {
    pop::cram_md5(challenge, user, pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_conversation_passes_and_fails() {
        let ok = smtp(b"220 hi\r\n250 hello\r\n221 bye\r\n");
        assert!(matches!(ok, Some(Ok(()))), "{ok:?}");
        let refused = smtp(b"554 go away\r\n");
        assert!(matches!(refused, Some(Err(_))), "{refused:?}");
    }

    #[test]
    fn http_answer_is_judged() {
        let url = Url::parse("http://192.0.2.1/").unwrap();
        let params = Negotiate::default();
        let ok = http(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            &url,
            &params,
        );
        assert!(matches!(ok, Some(Ok(None))), "{ok:?}");
        let moved = http(
            b"HTTP/1.1 301 Moved\r\nLocation: /there\r\nContent-Length: 0\r\n\r\n",
            &url,
            &params,
        );
        let next = moved.unwrap().unwrap().unwrap();
        assert_eq!(next.as_str(), "http://192.0.2.1/there");
        let down = http(b"HTTP/1.1 500 Oops\r\n\r\n", &url, &params);
        assert!(matches!(down, Some(Err(_))), "{down:?}");
    }

    #[test]
    fn a_conversation_more_than_the_pipe_holds_still_ends() {
        let mut server = b"220 hi\r\n250-".to_vec();
        server.extend(std::iter::repeat_n(b'x', 200 * 1024));
        assert!(smtp(&server).is_some());
    }
}
