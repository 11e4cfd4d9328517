//! `service = pgsql`: what ldirectord does with DBI/DBD::Pg.
//!
//! Connect as libpq does by default (`sslmode=prefer`: ask for TLS, go on in plain text
//! when the server declines), start up as `login` on `database`, answer the password
//! request (cleartext, MD5 or SCRAM-SHA-256), run `request` (without its leading `/`)
//! as one simple query and call the real up when it returned at least one row.
//! `login` and `request` are required (ldirectord logs an error and marks the real down
//! without them). ldirectord executes the statement twice; this probe once.
//!
//! The wire messages and the password exchanges come from `postgres-protocol` (the
//! rust-postgres project's codec, which carries the SCRAM implementation); the
//! conversation itself is the short loop below, not a whole client like tokio-postgres.

use std::net::SocketAddr;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{self, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::line::{self, printable};
use super::{tls, Negotiate, ProbeError};

/// The largest backend message a probe accepts.
const MAX_MESSAGE: usize = 1024 * 1024;
/// How many messages a probe reads in one phase (startup, query).
const MAX_MESSAGES: usize = 100_000;

/// Runs the PostgreSQL check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let login = params.login.as_deref().filter(|l| !l.is_empty());
    let query = line::request_text(params);
    let Some(user) = login.filter(|_| !query.is_empty()) else {
        return Err(ProbeError::Unexpected(
            "pgsql check needs a login and a request".into(),
        ));
    };
    let mut tcp = line::connect(addr).await?;
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    tcp.write_all(&buf).await?;
    let mut answer = [0u8; 1];
    if tcp.read(&mut answer).await? == 0 {
        return Err(ProbeError::Closed);
    }
    let login = Login {
        user,
        password: params.passwd.as_deref().unwrap_or(""),
        database: params.database.as_deref().filter(|d| !d.is_empty()),
    };
    match answer {
        [b'S'] => {
            session(
                tls::wrap(tcp, addr, params.tls_verify).await?,
                &login,
                query,
            )
            .await
        }
        [b'N'] => session(tcp, &login, query).await,
        [other] => Err(ProbeError::Unexpected(format!(
            "pgsql: answer {other:#04x} to SSLRequest"
        ))),
    }
}

pub(crate) struct Login<'a> {
    pub(crate) user: &'a str,
    pub(crate) password: &'a str,
    pub(crate) database: Option<&'a str>,
}

pub(crate) async fn session<S>(stream: S, login: &Login<'_>, query: &str) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Conn {
        stream,
        buf: BytesMut::new(),
    };
    let mut out = BytesMut::new();
    let mut startup = vec![("user", login.user)];
    if let Some(db) = login.database {
        startup.push(("database", db));
    }
    frontend::startup_message(startup, &mut out).map_err(codec)?;
    conn.send(&mut out).await?;
    let mut scram: Option<sasl::ScramSha256> = None;
    let mut ready = false;
    for _ in 0..MAX_MESSAGES {
        match conn.next().await? {
            Message::AuthenticationOk
            | Message::ParameterStatus(_)
            | Message::BackendKeyData(_)
            | Message::NoticeResponse(_) => {}
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(login.password.as_bytes(), &mut out).map_err(codec)?;
                conn.send(&mut out).await?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(
                    login.user.as_bytes(),
                    login.password.as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), &mut out).map_err(codec)?;
                conn.send(&mut out).await?;
            }
            Message::AuthenticationSasl(body) => {
                let mechanisms: Vec<String> = body
                    .mechanisms()
                    .map(|m| Ok(m.to_owned()))
                    .collect()
                    .map_err(codec)?;
                if !mechanisms.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                    return Err(ProbeError::Unexpected(format!(
                        "pgsql: no supported SASL mechanism in {mechanisms:?}"
                    )));
                }
                let s = sasl::ScramSha256::new(
                    login.password.as_bytes(),
                    sasl::ChannelBinding::unsupported(),
                );
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, s.message(), &mut out)
                    .map_err(codec)?;
                conn.send(&mut out).await?;
                scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| unexpected("SASL continue without SASL"))?;
                s.update(body.data()).map_err(codec)?;
                frontend::sasl_response(s.message(), &mut out).map_err(codec)?;
                conn.send(&mut out).await?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| unexpected("SASL final without SASL"))?;
                s.finish(body.data()).map_err(codec)?;
            }
            Message::ErrorResponse(body) => return Err(server_error(&body)),
            Message::ReadyForQuery(_) => {
                ready = true;
                break;
            }
            _ => {
                return Err(unexpected(
                    "unsupported authentication or message at startup",
                ))
            }
        }
    }
    if !ready {
        return Err(unexpected("too many messages at startup"));
    }
    frontend::query(query, &mut out).map_err(codec)?;
    conn.send(&mut out).await?;
    let mut rows = 0usize;
    let mut error = None;
    for _ in 0..MAX_MESSAGES {
        match conn.next().await? {
            Message::DataRow(_) => rows += 1,
            Message::ErrorResponse(body) => error = Some(server_error(&body)),
            Message::ReadyForQuery(_) => {
                frontend::terminate(&mut out);
                let _ = conn.send(&mut out).await;
                let _ = conn.stream.shutdown().await;
                return match (error, rows) {
                    (Some(e), _) => Err(e),
                    (None, 0) => Err(unexpected("query returned no rows")),
                    (None, _) => Ok(()),
                };
            }
            _ => {}
        }
    }
    Err(unexpected("too many messages in the query answer"))
}

struct Conn<S> {
    stream: S,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn send(&mut self, out: &mut BytesMut) -> Result<(), ProbeError> {
        self.stream.write_all(out).await?;
        self.stream.flush().await?;
        out.clear();
        Ok(())
    }

    async fn next(&mut self) -> Result<Message, ProbeError> {
        loop {
            if let Some(msg) = parse(&mut self.buf)? {
                return Ok(msg);
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(ProbeError::Closed);
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

/// Takes one whole backend message off `buf`; `None` until one is complete.
pub(crate) fn parse(buf: &mut BytesMut) -> Result<Option<Message>, ProbeError> {
    if let Some(header) = backend::Header::parse(buf).map_err(codec)? {
        if usize::try_from(header.len()).map_or(true, |len| len > MAX_MESSAGE) {
            return Err(unexpected("message too large"));
        }
    }
    Message::parse(buf).map_err(codec)
}

fn server_error(body: &backend::ErrorResponseBody) -> ProbeError {
    let mut fields = body.fields();
    let mut text = String::new();
    while let Ok(Some(field)) = fields.next() {
        if field.type_() == b'M' {
            text = printable(field.value_bytes());
        }
    }
    ProbeError::Unexpected(format!("pgsql: {text}"))
}

fn codec(e: std::io::Error) -> ProbeError {
    ProbeError::Unexpected(format!("pgsql: {e}"))
}

fn unexpected(what: &str) -> ProbeError {
    ProbeError::Unexpected(format!("pgsql: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

    fn params() -> Negotiate {
        Negotiate {
            login: Some("ldirector".into()),
            passwd: Some("pw".into()),
            database: Some("health".into()),
            request: Some("/SELECT 1".into()),
            ..Negotiate::default()
        }
    }

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn auth(code: i32, extra: &[u8]) -> Vec<u8> {
        msg(b'R', &[&code.to_be_bytes()[..], extra].concat())
    }

    fn ready() -> Vec<u8> {
        msg(b'Z', b"I")
    }

    fn error(text: &str) -> Vec<u8> {
        msg(b'E', format!("SERROR\0C28P01\0M{text}\0\0").as_bytes())
    }

    fn data_row() -> Vec<u8> {
        msg(b'D', &[0, 1, 0, 0, 0, 1, b'1'])
    }

    /// Reads one untagged (startup) or tagged frontend message.
    async fn read_msg<S: AsyncRead + Unpin>(s: &mut S, tagged: bool) -> Option<(u8, Vec<u8>)> {
        let tag = if tagged { s.read_u8().await.ok()? } else { 0 };
        let len = s.read_i32().await.ok()? as usize;
        let mut body = vec![0u8; len - 4];
        s.read_exact(&mut body).await.ok()?;
        Some((tag, body))
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Md5Rows(usize),
        Cleartext,
        BadPassword,
        QueryError,
        Hang,
        CloseAfterStartup,
    }

    trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
    impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

    async fn server(mode: Mode) -> (SocketAddr, tokio::task::JoinHandle<Vec<(u8, Vec<u8>)>>) {
        server_with(mode, false).await
    }

    /// A fake PostgreSQL server; with `tls` it accepts the SSLRequest.
    async fn server_with(
        mode: Mode,
        tls: bool,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<(u8, Vec<u8>)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut tcp, _) = listener.accept().await.unwrap();
            let Some(ssl) = read_msg(&mut tcp, false).await else {
                return seen;
            };
            seen.push(ssl);
            let mut s: Box<dyn Io> = if tls {
                tcp.write_all(b"S").await.unwrap();
                Box::new(
                    crate::probe::tls::test_acceptor()
                        .accept(tcp)
                        .await
                        .unwrap(),
                )
            } else {
                tcp.write_all(b"N").await.unwrap();
                Box::new(tcp)
            };
            let Some(startup) = read_msg(&mut s, false).await else {
                return seen;
            };
            seen.push(startup);
            match mode {
                Mode::Hang => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return seen;
                }
                Mode::CloseAfterStartup => return seen,
                Mode::Cleartext => s.write_all(&auth(3, &[])).await.unwrap(),
                _ => s.write_all(&auth(5, b"salt")).await.unwrap(),
            }
            let Some(password) = read_msg(&mut s, true).await else {
                return seen;
            };
            let want_md5 = md5_hash(b"ldirector", b"pw", *b"salt");
            let good = password.1 == [want_md5.as_bytes(), b"\0"].concat() || password.1 == b"pw\0";
            seen.push(password);
            if !good || mode == Mode::BadPassword {
                s.write_all(&error("password authentication failed"))
                    .await
                    .unwrap();
                return seen;
            }
            s.write_all(
                &[
                    auth(0, &[]),
                    msg(b'S', b"server_version\x0016\0"),
                    msg(b'K', &[0; 8]),
                    ready(),
                ]
                .concat(),
            )
            .await
            .unwrap();
            let Some(query) = read_msg(&mut s, true).await else {
                return seen;
            };
            seen.push(query);
            let mut answer = msg(
                b'T',
                &[
                    0, 1, b'?', b'c', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 255, 255, 255, 255,
                    0, 0,
                ],
            );
            match mode {
                Mode::QueryError => answer = error("relation does not exist"),
                Mode::Md5Rows(n) => {
                    for _ in 0..n {
                        answer.extend(data_row());
                    }
                    answer.extend(msg(b'C', b"SELECT 1\0"));
                }
                _ => {
                    answer.extend(data_row());
                    answer.extend(msg(b'C', b"SELECT 1\0"));
                }
            }
            answer.extend(ready());
            s.write_all(&answer).await.unwrap();
            if let Some(t) = read_msg(&mut s, true).await {
                seen.push(t);
            }
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn md5_login_and_a_row_is_up() {
        let (addr, task) = server(Mode::Md5Rows(1)).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        assert_eq!(seen[0].1, [0x04, 0xd2, 0x16, 0x2f], "SSLRequest");
        assert_eq!(
            seen[1].1,
            b"\x00\x03\x00\x00user\0ldirector\0database\0health\0\0"
        );
        assert_eq!(seen[3], (b'Q', b"SELECT 1\0".to_vec()));
        assert_eq!(seen[4].0, b'X', "terminate");
    }

    #[tokio::test]
    async fn tls_when_the_server_accepts_it() {
        let (addr, task) = server_with(Mode::Md5Rows(2), true).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(task.await.unwrap()[3], (b'Q', b"SELECT 1\0".to_vec()));
    }

    #[tokio::test]
    async fn cleartext_login_is_up() {
        let (addr, _task) = server(Mode::Cleartext).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn no_rows_is_down() {
        let (addr, _task) = server(Mode::Md5Rows(0)).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn bad_password_is_down() {
        let (addr, _task) = server(Mode::BadPassword).await;
        let res = probe(addr, &params()).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("password")),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn query_error_is_down() {
        let (addr, _task) = server(Mode::QueryError).await;
        let res = probe(addr, &params()).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("relation")),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let (addr, _task) = server(Mode::Hang).await;
        let res = tokio::time::timeout(HANG, probe(addr, &params())).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_after_startup_is_down() {
        let (addr, _task) = server(Mode::CloseAfterStartup).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[tokio::test]
    async fn login_and_request_are_required() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let p = Negotiate {
            login: None,
            ..params()
        };
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
        let p = Negotiate {
            request: Some("/".into()),
            ..params()
        };
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok { bytes.splice(0..0, [auth(0, &[]), ready()].concat()); }
            let login = Login { user: "u", password: "p", database: None };
            let out = crate::probe::fake::run_on_bytes(bytes, |s| async move { session(s, &login, "SELECT 1").await.is_ok() });
            prop_assert!(out.is_some());
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut buf = BytesMut::from(&bytes[..]);
            for _ in 0..64 {
                match parse(&mut buf) {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }

        #[test]
        fn parse_tagged_frames_never_panics(tag in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = BytesMut::from(&msg(tag, &body)[..]);
            let _ = parse(&mut buf);
        }
    }
}
