//! `service = ldap`: what ldirectord asks of Net::LDAP, on the `ldap3` client.
//!
//! LDAPv3 simple bind (with `login`/`passwd` when both are set, else anonymous), then a
//! base-scope search of `request` (without its leading `/`) with the filter
//! `(objectClass=*)`, no attributes, derefAliases "finding" (Net::LDAP's default); then
//! unbind. The real is up when the bind succeeded, exactly one entry came back and its DN
//! matches `receive` (when a receive is set).
//!
//! ldap3 is built without its TLS features: ldaps runs the TLS of `tls` (the
//! workspace's rustls and `tlsverify`). Both ldap and ldaps hand ldap3 a local socket pair
//! relayed to the server (`session`), over a stream capped at [`MAX_ANSWER`](super::cap::MAX_ANSWER) bytes: ldap3 would
//! buffer a message of any announced length. Its connection driver runs inside the probe's own future
//! (no spawned task outlives a timed-out probe), and since ldap3 panics on some malformed
//! answers, a panic is caught here and reported as a bad answer.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use ldap3::asn1::{StructureTag, PL};
use ldap3::{
    DerefAliases, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchOptions, StdStream,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::cap::TooLarge;
use super::line::{self, printable};
use super::{Negotiate, ProbeError};

/// How many entries and references a probe reads before it stops the search.
const MAX_RESULTS: usize = 1024;

/// Runs the LDAP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?, params).await
}

/// The LDAP conversation over an open stream (plain TCP, or TLS for ldaps): ldap3 only takes
/// a TCP or Unix socket and buffers a message of any length it is announced, so it talks to
/// one end of a socket pair and the other end is relayed to `stream` (capped at
/// [`MAX_ANSWER`](super::cap::MAX_ANSWER) bytes by `line::connect`; a check that hits the cap fails with that reason).
pub(crate) async fn session<S>(stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut from_server, mut to_server) = tokio::io::split(stream);
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let (mut from_check, mut to_check) = tokio::net::UnixStream::from_std(ours)?.into_split();
    let settings = LdapConnSettings::new().set_std_stream(StdStream::Unix(theirs));
    guarded(async {
        let (conn, ldap) = LdapConnAsync::with_settings(settings, "ldapi:///")
            .await
            .map_err(error)?;
        let check = run(conn, ldap, params);
        tokio::pin!(check);
        // The relay, one task per direction. When the server's side ends (closed, failed,
        // or more than MAX_ANSWER bytes), ldap3's socket is shut so the check sees the end.
        let up = async {
            let _ = tokio::io::copy(&mut from_check, &mut to_server).await;
            let _ = to_server.shutdown().await;
        };
        let down = async {
            let copied = tokio::io::copy(&mut from_server, &mut to_check).await;
            let _ = to_check.shutdown().await;
            copied.err().and_then(|e| TooLarge::find(&e))
        };
        tokio::pin!(up);
        tokio::pin!(down);
        let (mut up_done, mut down_done) = (false, false);
        let mut too_large = None;
        loop {
            tokio::select! {
                res = &mut check => {
                    // ldap3 has closed its socket: pass on what it wrote last (the unbind).
                    if !up_done {
                        let _ = tokio::time::timeout(UNBIND_FLUSH, &mut up).await;
                    }
                    // A check cut short by the cap fails for that reason.
                    return match (res, too_large) {
                        (Err(_), Some(t)) => Err(ProbeError::TooLarge(t)),
                        (res, _) => res,
                    };
                }
                () = &mut up, if !up_done => up_done = true,
                ended = &mut down, if !down_done => {
                    down_done = true;
                    too_large = ended;
                }
            }
        }
    })
    .await
}

/// How long a finished LDAP check waits for its last request to reach the server.
const UNBIND_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `check` and turns a panic inside ldap3 into a failed check.
async fn guarded<F>(check: F) -> Result<(), ProbeError>
where
    F: std::future::Future<Output = Result<(), ProbeError>>,
{
    AssertUnwindSafe(check)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ProbeError::Unexpected("ldap: malformed answer".into())))
}

/// Drives the connection and runs the check's operations beside it.
async fn run(conn: LdapConnAsync, ldap: Ldap, params: &Negotiate) -> Result<(), ProbeError> {
    let check = operations(ldap, params);
    tokio::pin!(check);
    let drive = conn.drive();
    tokio::pin!(drive);
    let ended = tokio::select! {
        res = &mut check => return res,
        ended = &mut drive => ended,
    };
    // The connection is over; the operations finish at once with what had arrived.
    match (check.await, ended) {
        (Err(ProbeError::Closed), Err(e)) => Err(error(e)),
        (res, _) => res,
    }
}

/// Bind, search, unbind; then the verdict on the entries found.
async fn operations(mut ldap: Ldap, params: &Negotiate) -> Result<(), ProbeError> {
    let (name, password) = match (params.login.as_deref(), params.passwd.as_deref()) {
        (Some(l), Some(p)) if !l.is_empty() && !p.is_empty() => (l, p),
        _ => ("", ""),
    };
    let bind = ldap.simple_bind(name, password).await.map_err(error)?;
    if bind.rc != 0 {
        return Err(ProbeError::Unexpected(format!(
            "ldap bind failed: result code {}",
            bind.rc
        )));
    }
    let mut search = ldap
        .with_search_options(SearchOptions::new().deref(DerefAliases::Finding))
        .streaming_search(
            line::request_text(params),
            Scope::Base,
            "(objectClass=*)",
            Vec::<&str>::new(),
        )
        .await
        .map_err(error)?;
    let mut dns = Vec::new();
    let mut done = false;
    for _ in 0..MAX_RESULTS {
        match search.next().await.map_err(error)? {
            None => {
                done = true;
                break;
            }
            Some(entry) if entry.is_ref() || entry.is_intermediate() => {}
            Some(entry) => dns.push(dn(entry.0)),
        }
    }
    if !done {
        return Err(ProbeError::Unexpected(
            "ldap: too many search results".into(),
        ));
    }
    let _ = ldap.unbind().await;
    let [dn] = dns.as_slice() else {
        return Err(ProbeError::Unexpected(format!(
            "ldap: {} entries, want exactly 1",
            dns.len()
        )));
    };
    if params.receive_matches(dn) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "ldap: DN {} does not match receive",
            printable(dn.as_bytes())
        )))
    }
}

/// The DN of a SearchResultEntry (its first element), without ldap3's attribute parsing,
/// which panics on what it does not expect.
fn dn(entry: StructureTag) -> String {
    match entry.payload {
        PL::C(mut parts) if !parts.is_empty() => match parts.swap_remove(0).payload {
            PL::P(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            PL::C(_) => String::new(),
        },
        _ => String::new(),
    }
}

/// ldap3's error in the probe's words: the connection's end is `Closed`.
fn error(e: LdapError) -> ProbeError {
    match e {
        LdapError::Io { source } => ProbeError::from(source),
        LdapError::EndOfStream
        | LdapError::ResultRecv { .. }
        | LdapError::OpSend { .. }
        | LdapError::IdScrubSend { .. } => ProbeError::Closed,
        other => ProbeError::Unexpected(format!("ldap: {other}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    // The wire format the fake directory speaks, written out by hand so the tests pin
    // down the bytes ldap3 sends (they match OpenLDAP's client, see `encodes_like_openldap`).

    const TAG_SEQUENCE: u8 = 0x30;
    const TAG_INTEGER: u8 = 0x02;
    const TAG_OCTETS: u8 = 0x04;
    const TAG_ENUM: u8 = 0x0a;
    const TAG_BOOLEAN: u8 = 0x01;
    const OP_BIND_REQUEST: u8 = 0x60;
    const OP_BIND_RESPONSE: u8 = 0x61;
    const OP_UNBIND: u8 = 0x42;
    const OP_SEARCH_REQUEST: u8 = 0x63;
    const OP_SEARCH_ENTRY: u8 = 0x64;
    const OP_SEARCH_DONE: u8 = 0x65;

    /// The header of one BER element: tag, header length, content length.
    fn header(buf: &[u8]) -> Option<(u8, usize, usize)> {
        let (&tag, &first) = (buf.first()?, buf.get(1)?);
        if first < 0x80 {
            return Some((tag, 2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        let bytes = buf.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        Some((tag, 2 + n, len))
    }

    /// Splits the first element off `buf`: (tag, content, rest).
    fn element(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (tag, hlen, len) = header(buf)?;
        Some((tag, buf.get(hlen..hlen + len)?, buf.get(hlen + len..)?))
    }

    /// Encodes one element.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = (len as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let used = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | used.len() as u8);
            out.extend_from_slice(used);
        }
        out.extend_from_slice(content);
        out
    }

    fn integer(tag: u8, v: u32) -> Vec<u8> {
        let bytes = v.to_be_bytes();
        let mut skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
        // Keep a leading zero when the next byte has its high bit set (stay positive).
        if skip > 0 && bytes.get(skip).is_some_and(|&b| b & 0x80 != 0) {
            skip -= 1;
        }
        tlv(tag, bytes.get(skip..).unwrap_or_default())
    }

    fn message(id: u32, op: Vec<u8>) -> Vec<u8> {
        tlv(TAG_SEQUENCE, &[integer(TAG_INTEGER, id), op].concat())
    }

    /// BindRequest: version 3, simple authentication.
    fn bind_request(id: u32, name: &str, password: &str) -> Vec<u8> {
        let op = tlv(
            OP_BIND_REQUEST,
            &[
                integer(TAG_INTEGER, 3),
                tlv(TAG_OCTETS, name.as_bytes()),
                tlv(0x80, password.as_bytes()),
            ]
            .concat(),
        );
        message(id, op)
    }

    /// SearchRequest: base scope, `(objectClass=*)`, no attributes.
    fn search_request(id: u32, base: &str) -> Vec<u8> {
        let op = tlv(
            OP_SEARCH_REQUEST,
            &[
                tlv(TAG_OCTETS, base.as_bytes()),
                integer(TAG_ENUM, 0),
                integer(TAG_ENUM, 2),
                integer(TAG_INTEGER, 0),
                integer(TAG_INTEGER, 0),
                tlv(TAG_BOOLEAN, &[0]),
                tlv(0x87, b"objectClass"),
                tlv(TAG_SEQUENCE, &[]),
            ]
            .concat(),
        );
        message(id, op)
    }

    /// UnbindRequest.
    fn unbind_request(id: u32) -> Vec<u8> {
        message(id, tlv(OP_UNBIND, &[]))
    }

    /// An LDAP result (BindResponse / SearchResultDone) for message `id`.
    pub(crate) fn result(id: u32, op: u8, code: u32) -> Vec<u8> {
        message(
            id,
            tlv(
                op,
                &[
                    integer(TAG_ENUM, code),
                    tlv(TAG_OCTETS, b""),
                    tlv(TAG_OCTETS, b""),
                ]
                .concat(),
            ),
        )
    }

    /// A SearchResultEntry with one attribute.
    pub(crate) fn entry(id: u32, dn: &str) -> Vec<u8> {
        let attr = tlv(
            TAG_SEQUENCE,
            &[
                tlv(TAG_OCTETS, b"objectClass"),
                tlv(0x31, &tlv(TAG_OCTETS, b"top")),
            ]
            .concat(),
        );
        message(
            id,
            tlv(
                OP_SEARCH_ENTRY,
                &[tlv(TAG_OCTETS, dn.as_bytes()), tlv(TAG_SEQUENCE, &attr)].concat(),
            ),
        )
    }

    /// What the fake directory does.
    #[derive(Clone)]
    pub(crate) enum Script {
        /// Answer the bind with this code; then return these entries.
        Answer {
            bind: u32,
            entries: Vec<&'static str>,
        },
        HangAfterBind,
        CloseAfterBind,
    }

    /// Serves one LDAP client on `stream`; returns the requests it saw (raw).
    pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        script: Script,
    ) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut buf = Vec::new();
        let next = |buf: &mut Vec<u8>| -> Option<Vec<u8>> {
            let (_, hlen, len) = header(buf)?;
            (buf.len() >= hlen + len).then(|| buf.drain(..hlen + len).collect())
        };
        loop {
            let msg = loop {
                if let Some(m) = next(&mut buf) {
                    break Some(m);
                }
                let mut chunk = [0u8; 1024];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(msg) = msg else { return seen };
            seen.push(msg.clone());
            let (_, body, _) = element(&msg).unwrap();
            let (_, id, rest) = element(body).unwrap();
            let id = id.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            let (op, _, _) = element(rest).unwrap();
            let reply = match (op, &script) {
                (OP_BIND_REQUEST, Script::Answer { bind, .. }) => {
                    result(id, OP_BIND_RESPONSE, *bind)
                }
                (OP_BIND_REQUEST, _) => result(id, OP_BIND_RESPONSE, 0),
                (OP_SEARCH_REQUEST, Script::Answer { entries, .. }) => {
                    let mut out: Vec<u8> = entries.iter().flat_map(|dn| entry(id, dn)).collect();
                    out.extend(result(
                        id,
                        OP_SEARCH_DONE,
                        if entries.is_empty() { 32 } else { 0 },
                    ));
                    out
                }
                (OP_SEARCH_REQUEST, Script::HangAfterBind) => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return seen;
                }
                (OP_SEARCH_REQUEST, Script::CloseAfterBind) => return seen,
                _ => return seen,
            };
            if stream.write_all(&reply).await.is_err() {
                return seen;
            }
        }
    }

    async fn run(script: Script, params: &Negotiate) -> (Result<(), ProbeError>, Vec<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve(s, script).await
        });
        let res = probe(addr, params).await;
        let seen = tokio::time::timeout(std::time::Duration::from_secs(1), task)
            .await
            .map(|r| r.unwrap())
            .unwrap_or_default();
        (res, seen)
    }

    pub(crate) fn params(base: &str, receive: Option<&str>) -> Negotiate {
        Negotiate {
            request: Some(format!("/{base}")),
            receive: receive.map(|r| crate::probe::Receive::compile(r).unwrap()),
            ..Negotiate::default()
        }
    }

    /// A message announced as 2 GiB long and then streamed: ldap3 would keep buffering it
    /// until the deadline; the check gives up after `cap::MAX_ANSWER` bytes, saying so.
    #[tokio::test]
    async fn a_huge_message_fails_the_check_without_waiting() {
        use crate::probe::fake::{self, Step};
        let mut flood = vec![TAG_SEQUENCE, 0x84, 0x7f, 0xff, 0xff, 0xff];
        flood.extend(std::iter::repeat_n(0u8, 2 << 20));
        let server = fake::tcp(vec![Step::Send(flood), Step::Hang]).await;
        // (a hang guard only, as in imap's test: waiting for the deadline would end in a
        // timeout error, not TooLarge)
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            probe(server.addr, &Negotiate::default()),
        )
        .await;
        assert!(matches!(res, Ok(Err(ProbeError::TooLarge(_)))), "{res:?}");
    }

    #[tokio::test]
    async fn one_matching_entry_is_up() {
        let script = Script::Answer {
            bind: 0,
            entries: vec!["dc=example,dc=com"],
        };
        let (res, seen) = run(script, &params("dc=example,dc=com", Some("example"))).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen[0], bind_request(1, "", ""));
        assert_eq!(seen[1], search_request(2, "dc=example,dc=com"));
        assert_eq!(seen.get(2), Some(&unbind_request(3)));
    }

    #[tokio::test]
    async fn login_binds_as_that_dn() {
        let script = Script::Answer {
            bind: 0,
            entries: vec!["dc=x"],
        };
        let p = Negotiate {
            login: Some("cn=admin,dc=x".into()),
            passwd: Some("pw".into()),
            ..params("dc=x", None)
        };
        let (res, seen) = run(script, &p).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen[0], bind_request(1, "cn=admin,dc=x", "pw"));
    }

    #[tokio::test]
    async fn failed_bind_is_down() {
        let script = Script::Answer {
            bind: 49,
            entries: vec!["dc=x"],
        };
        let p = Negotiate {
            login: Some("cn=admin".into()),
            passwd: Some("bad".into()),
            ..params("dc=x", None)
        };
        let (res, _) = run(script, &p).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn dn_not_matching_is_down() {
        let script = Script::Answer {
            bind: 0,
            entries: vec!["dc=other"],
        };
        let (res, _) = run(script, &params("dc=x", Some("example"))).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn no_entry_is_down() {
        let script = Script::Answer {
            bind: 0,
            entries: vec![],
        };
        let (res, _) = run(script, &params("dc=x", None)).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_search_does_not_finish() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve(s, Script::HangAfterBind).await
        });
        let res = tokio::time::timeout(HANG, probe(addr, &params("dc=x", None))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_after_bind_is_down() {
        let (res, _) = run(Script::CloseAfterBind, &params("dc=x", None)).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[test]
    fn encodes_like_openldap() {
        // Anonymous bind, message 1: 30 0c 02 01 01 60 07 02 01 03 04 00 80 00
        assert_eq!(
            bind_request(1, "", ""),
            [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]
        );
        assert_eq!(
            unbind_request(3),
            [0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00]
        );
        assert_eq!(integer(TAG_INTEGER, 128), [0x02, 0x02, 0x00, 0x80]);
        let long = tlv(TAG_OCTETS, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn malformed_answer_is_down_not_a_panic() {
        // A message with an id and no operation makes ldap3's decoder panic.
        let mut bytes = result(1, OP_BIND_RESPONSE, 0);
        bytes.extend([0x30, 0x03, 0x02, 0x01, 0x02]);
        let p = params("dc=x", None);
        let out = crate::probe::fake::run_on_bytes(bytes, |s| async move { session(s, &p).await });
        assert!(
            matches!(out, Some(Err(ProbeError::Unexpected(_)))),
            "{out:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok { bytes.splice(0..0, result(1, OP_BIND_RESPONSE, 0)); }
            let p = params("dc=x", None);
            let out = crate::probe::fake::run_on_bytes(bytes, |s| async move { session(s, &p).await.is_ok() });
            prop_assert!(out.is_some());
        }
    }
}
