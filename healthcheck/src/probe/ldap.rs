//! `service = ldap`: what ldirectord asks of Net::LDAP.
//!
//! LDAPv3 simple bind (with `login`/`passwd` when both are set, else anonymous), then a
//! base-scope search of `request` (without its leading `/`) with the filter
//! `(objectClass=*)`, no attributes, derefAliases 2; then unbind. The real is up when
//! the bind succeeded, exactly one entry came back and its DN matches `receive` (when a
//! receive is set).
//!
//! Hand-written on purpose: the check needs three request encodings and three answer
//! decodings of BER; the `ldap3` crate would bring its own TLS stack choice, nom, a
//! URL parser and a connection driver for that.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::line::{self, printable};
use super::{Negotiate, ProbeError};

/// The largest LDAP message a probe accepts.
const MAX_MESSAGE: usize = 1024 * 1024;
/// How many entries and references a probe reads before SearchResultDone.
const MAX_RESULTS: usize = 1024;

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
const OP_SEARCH_REFERENCE: u8 = 0x73;

/// Runs the LDAP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    session(line::connect(addr).await?, params).await
}

/// The LDAP conversation over an open stream (plain for ldap, TLS for ldaps).
pub(crate) async fn session<S>(mut stream: S, params: &Negotiate) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (name, password) = match (params.login.as_deref(), params.passwd.as_deref()) {
        (Some(l), Some(p)) if !l.is_empty() && !p.is_empty() => (l, p),
        _ => ("", ""),
    };
    stream.write_all(&bind_request(1, name, password)).await?;
    let mut reader = Reader::default();
    let msg = reader.next(&mut stream).await?;
    match msg {
        Message {
            id: 1,
            op: Op::BindResponse { result_code: 0 },
        } => {}
        Message {
            op: Op::BindResponse { result_code },
            ..
        } => {
            return Err(ProbeError::Unexpected(format!(
                "ldap bind failed: result code {result_code}"
            )))
        }
        other => {
            return Err(ProbeError::Unexpected(format!(
                "ldap: unexpected answer to bind: {other:?}"
            )))
        }
    }
    stream
        .write_all(&search_request(2, line::request_text(params)))
        .await?;
    let mut dns = Vec::new();
    let mut done = false;
    for _ in 0..MAX_RESULTS {
        match reader.next(&mut stream).await? {
            Message {
                id: 2,
                op: Op::SearchEntry { dn },
            } => dns.push(dn),
            Message {
                id: 2,
                op: Op::SearchDone { .. },
            } => {
                done = true;
                break;
            }
            Message {
                id: 2,
                op: Op::SearchReference,
            } => {}
            other => {
                return Err(ProbeError::Unexpected(format!(
                    "ldap: unexpected answer to search: {other:?}"
                )))
            }
        }
    }
    if !done {
        return Err(ProbeError::Unexpected(
            "ldap: too many search results".into(),
        ));
    }
    let _ = stream.write_all(&unbind_request(3)).await;
    let _ = stream.shutdown().await;
    let [dn] = dns.as_slice() else {
        return Err(ProbeError::Unexpected(format!(
            "ldap: {} entries, want exactly 1",
            dns.len()
        )));
    };
    let dn = String::from_utf8_lossy(dn);
    if line::receive_matches(params, &dn) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "ldap: DN {} does not match receive",
            printable(dn.as_bytes())
        )))
    }
}

/// A decoded LDAP message, as far as the check cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) id: u32,
    pub(crate) op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    BindResponse {
        result_code: u32,
    },
    SearchEntry {
        dn: Vec<u8>,
    },
    SearchReference,
    SearchDone {
        result_code: u32,
    },
    /// Any other operation (e.g. a notice of disconnection), by its tag.
    Other(u8),
}

/// Why bytes are not an LDAP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BerError {
    #[error("ber: bad length")]
    BadLength,
    #[error("ber: expected tag {want:#04x}, got {got:#04x}")]
    Tag { want: u8, got: u8 },
    #[error("ber: truncated element")]
    Truncated,
    #[error("ber: integer too large")]
    BigInteger,
    #[error("ber: message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
}

/// The header of one BER element: tag, header length, content length.
/// `Ok(None)` when `buf` does not yet hold the whole header.
pub(crate) fn header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, BerError> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    let Some(&first) = buf.get(1) else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some((tag, 2, usize::from(first))));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Err(BerError::BadLength);
    }
    let Some(bytes) = buf.get(2..2 + n) else {
        return Ok(None);
    };
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok(Some((tag, 2 + n, len)))
}

/// Splits the first complete element off `buf`: (tag, content, rest).
fn element(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), BerError> {
    let (tag, hlen, len) = header(buf)?.ok_or(BerError::Truncated)?;
    let content = buf.get(hlen..hlen + len).ok_or(BerError::Truncated)?;
    let rest = buf.get(hlen + len..).ok_or(BerError::Truncated)?;
    Ok((tag, content, rest))
}

fn expect(buf: &[u8], want: u8) -> Result<(&[u8], &[u8]), BerError> {
    let (got, content, rest) = element(buf)?;
    if got != want {
        return Err(BerError::Tag { want, got });
    }
    Ok((content, rest))
}

fn unsigned(content: &[u8]) -> Result<u32, BerError> {
    // Negative numbers (high bit set) are not valid ids or result codes.
    if content.is_empty() || content.len() > 5 || content.first().is_some_and(|&b| b & 0x80 != 0) {
        return Err(BerError::BigInteger);
    }
    let v = content
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    u32::try_from(v).map_err(|_| BerError::BigInteger)
}

/// Decodes one whole LDAPMessage.
pub(crate) fn parse_message(buf: &[u8]) -> Result<Message, BerError> {
    let (body, _) = expect(buf, TAG_SEQUENCE)?;
    let (id, rest) = expect(body, TAG_INTEGER)?;
    let id = unsigned(id)?;
    let (tag, content, _) = element(rest)?;
    let op = match tag {
        OP_BIND_RESPONSE => Op::BindResponse {
            result_code: result_code(content)?,
        },
        OP_SEARCH_DONE => Op::SearchDone {
            result_code: result_code(content)?,
        },
        OP_SEARCH_ENTRY => {
            let (dn, _) = expect(content, TAG_OCTETS)?;
            Op::SearchEntry { dn: dn.to_vec() }
        }
        OP_SEARCH_REFERENCE => Op::SearchReference,
        other => Op::Other(other),
    };
    Ok(Message { id, op })
}

fn result_code(content: &[u8]) -> Result<u32, BerError> {
    let (code, _) = expect(content, TAG_ENUM)?;
    unsigned(code)
}

/// Collects bytes from a stream until a whole message is there.
#[derive(Default)]
struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    async fn next<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> Result<Message, ProbeError> {
        loop {
            if let Some((_, hlen, len)) = header(&self.buf).map_err(ber)? {
                let total = hlen + len;
                if total > MAX_MESSAGE {
                    return Err(ber(BerError::TooLarge));
                }
                if self.buf.len() >= total {
                    let msg = parse_message(self.buf.get(..total).unwrap_or_default()).map_err(ber);
                    self.buf.drain(..total);
                    return msg;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(ProbeError::Closed);
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

fn ber(e: BerError) -> ProbeError {
    ProbeError::Unexpected(format!("ldap: {e}"))
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
pub(crate) fn bind_request(id: u32, name: &str, password: &str) -> Vec<u8> {
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
pub(crate) fn search_request(id: u32, base: &str) -> Vec<u8> {
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
pub(crate) fn unbind_request(id: u32) -> Vec<u8> {
    message(id, tlv(OP_UNBIND, &[]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

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
            let (_, hlen, len) = header(buf).ok()??;
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
            let (body, _) = expect(&msg, TAG_SEQUENCE).unwrap();
            let (id, rest) = expect(body, TAG_INTEGER).unwrap();
            let id = unsigned(id).unwrap();
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
            receive: receive.map(|r| regex::Regex::new(r).unwrap()),
            ..Negotiate::default()
        }
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
    fn decodes_answers() {
        assert_eq!(
            parse_message(&result(1, OP_BIND_RESPONSE, 49)),
            Ok(Message {
                id: 1,
                op: Op::BindResponse { result_code: 49 }
            })
        );
        assert_eq!(
            parse_message(&entry(2, "dc=x")),
            Ok(Message {
                id: 2,
                op: Op::SearchEntry {
                    dn: b"dc=x".to_vec()
                }
            })
        );
        assert!(parse_message(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
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

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = header(&bytes);
            let _ = parse_message(&bytes);
        }

        #[test]
        fn entries_roundtrip(id in 0u32..=i32::MAX as u32, dn in ".{0,300}") {
            prop_assert_eq!(parse_message(&entry(id, &dn)), Ok(Message { id, op: Op::SearchEntry { dn: dn.into_bytes() } }));
        }
    }
}
