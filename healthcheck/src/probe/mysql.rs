//! `service = mysql`: what ldirectord does with DBI/DBD::mysql.
//!
//! Read the server's handshake, log in as `login` with `passwd` on `database`
//! (`mysql_native_password`, or `caching_sha2_password` when the server's cache answers
//! the fast path; auth-switch requests between the two are followed), run `request`
//! (without its leading `/`) with COM_QUERY and call the real up when the result set has
//! at least one row; then COM_QUIT. `login` and `request` are required, as in ldirectord.
//!
//! When `caching_sha2_password` asks for the full exchange (the password is not in the
//! server's cache), the probe connects again with TLS (the SSLRequest upgrade; the
//! certificate verified only with `tls_verify`) and sends the password inside it, if the
//! server offers TLS. Not supported: the RSA-key variant of that exchange (for servers
//! without TLS) and MariaDB's `client_ed25519`: such servers are reported down with the
//! reason.
//!
//! Hand-written: the check needs one handshake, two password scrambles and a row count;
//! mysql_async would bring a connection pool, a type system and its own TLS wiring.

use std::net::SocketAddr;

use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::line::{self, printable};
use super::{tls, Negotiate, ProbeError};

/// The largest packet a probe accepts.
const MAX_PACKET: usize = 1024 * 1024;
/// How many packets a probe reads for one answer (auth exchange, result set).
const MAX_PACKETS: usize = 100_000;

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;

const NATIVE: &str = "mysql_native_password";
const SHA2: &str = "caching_sha2_password";

/// Runs the MySQL check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let query = line::request_text(params);
    let Some(user) = params
        .login
        .as_deref()
        .filter(|l| !l.is_empty() && !query.is_empty())
    else {
        return Err(ProbeError::Unexpected(
            "mysql check needs a login and a request".into(),
        ));
    };
    let login = Login {
        user,
        password: params.passwd.as_deref().unwrap_or(""),
        database: params.database.as_deref().filter(|d| !d.is_empty()),
        query,
    };
    let first = plain_session(line::connect(addr).await?, &login).await;
    match first {
        Err(Failure::NeedsTls) => {
            let stream = line::connect(addr).await?;
            tls_session(stream, addr, params.tls_verify, &login)
                .await
                .map_err(Failure::into_probe)
        }
        other => other.map_err(Failure::into_probe),
    }
}

/// What the check logs in with and asks.
struct Login<'a> {
    user: &'a str,
    password: &'a str,
    database: Option<&'a str>,
    query: &'a str,
}

/// Why a session ended without success.
enum Failure {
    /// caching_sha2_password wants the full exchange and the server offers TLS for it.
    NeedsTls,
    Probe(ProbeError),
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        Failure::Probe(e)
    }
}

impl Failure {
    fn into_probe(self) -> ProbeError {
        match self {
            Failure::Probe(e) => e,
            Failure::NeedsTls => proto("caching_sha2_password full authentication failed over TLS"),
        }
    }
}

/// The conversation in plain text, as DBD::mysql has it by default.
async fn plain_session<S>(stream: S, login: &Login<'_>) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Conn { stream, seq: 0 };
    let hs = greet(&mut conn).await?;
    login_and_query(conn, &hs, login, false).await
}

/// The conversation with a TLS upgrade after the greeting (the SSLRequest packet).
async fn tls_session(
    stream: TcpStream,
    addr: SocketAddr,
    verify: super::TlsVerify,
    login: &Login<'_>,
) -> Result<(), Failure> {
    let mut conn = Conn { stream, seq: 0 };
    let hs = greet(&mut conn).await?;
    if hs.capabilities & CLIENT_SSL == 0 {
        return Err(proto("server no longer offers TLS").into());
    }
    conn.write(&client_flags(hs.capabilities, login.database, true))
        .await?;
    let stream = tls::wrap(conn.stream, addr, verify).await?;
    let conn = Conn {
        stream,
        seq: conn.seq,
    };
    login_and_query(conn, &hs, login, true).await
}

/// Reads the server's greeting.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
) -> Result<Handshake, ProbeError> {
    let greeting = conn.read().await?;
    if greeting.first() == Some(&0xff) {
        return Err(server_error(&greeting));
    }
    parse_handshake(&greeting).map_err(proto)
}

/// Logs in, runs the query, counts its rows and quits.
async fn login_and_query<S>(
    mut conn: Conn<S>,
    hs: &Handshake,
    login: &Login<'_>,
    tls: bool,
) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let password = login.password;
    let mut plugin = hs.plugin.clone().unwrap_or_else(|| NATIVE.to_owned());
    if plugin != NATIVE && plugin != SHA2 {
        plugin = NATIVE.to_owned();
    }
    let mut nonce = hs.nonce.clone();
    let auth = scramble(&plugin, password, &nonce)?;
    let mut response = client_flags(hs.capabilities, login.database, tls);
    response.extend_from_slice(&handshake_response(
        login.user,
        &auth,
        login.database,
        hs.capabilities,
        &plugin,
    ));
    conn.write(&response).await?;

    let mut logged_in = false;
    for _ in 0..MAX_PACKETS {
        let packet = conn.read().await?;
        match packet.first() {
            Some(0x00) => {
                logged_in = true;
                break;
            }
            Some(0xff) => return Err(server_error(&packet).into()),
            Some(0xfe) => {
                // AuthSwitchRequest: plugin name, NUL, new nonce.
                let (name, data) = split_nul(packet.get(1..).unwrap_or_default());
                plugin = String::from_utf8_lossy(name).into_owned();
                nonce = data.strip_suffix(&[0]).unwrap_or(data).to_vec();
                let auth = scramble(&plugin, password, &nonce)?;
                conn.write(&auth).await?;
            }
            Some(0x01) if plugin == SHA2 => match packet.get(1) {
                Some(0x03) => {} // fast auth success; the OK packet follows
                Some(0x04) if tls => {
                    // Full authentication: the password itself, safe inside TLS.
                    conn.write(&[password.as_bytes(), &[0]].concat()).await?;
                }
                Some(0x04) if hs.capabilities & CLIENT_SSL != 0 => return Err(Failure::NeedsTls),
                Some(0x04) => {
                    return Err(proto(
                        "caching_sha2_password full authentication needs TLS, which the server does not offer",
                    )
                    .into())
                }
                _ => return Err(proto("bad caching_sha2_password answer").into()),
            },
            _ => {
                return Err(ProbeError::Unexpected(format!(
                    "mysql: unexpected login answer {}",
                    printable(&packet)
                ))
                .into())
            }
        }
    }

    if !logged_in {
        return Err(proto("login exchange too long").into());
    }
    conn.seq = 0;
    conn.write(&[&[0x03][..], login.query.as_bytes()].concat())
        .await?;
    let rows = read_result_rows(&mut conn).await;
    conn.seq = 0;
    let _ = conn.write(&[0x01]).await;
    let _ = conn.stream.shutdown().await;
    match rows? {
        0 => Err(proto("query returned no rows").into()),
        _ => Ok(()),
    }
}

/// Reads a COM_QUERY answer and counts its rows.
async fn read_result_rows<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
) -> Result<usize, ProbeError> {
    let first = conn.read().await?;
    match first.first() {
        Some(0xff) => return Err(server_error(&first)),
        Some(0x00) => return Ok(0), // OK: a statement without a result set
        _ => {}
    }
    let (columns, _) = lenenc(&first).ok_or_else(|| proto("bad column count"))?;
    let mut rows = 0usize;
    let mut eofs = 0;
    for _ in 0..MAX_PACKETS.saturating_add(usize::try_from(columns).unwrap_or(usize::MAX)) {
        let packet = conn.read().await?;
        match packet.first() {
            Some(0xff) => return Err(server_error(&packet)),
            Some(0xfe) if packet.len() < 9 => {
                eofs += 1;
                if eofs == 2 {
                    return Ok(rows);
                }
            }
            _ if eofs == 1 => rows += 1,
            _ => {} // a column definition
        }
    }
    Err(proto("result set too long"))
}

struct Conn<S> {
    stream: S,
    seq: u8,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn read(&mut self) -> Result<Vec<u8>, ProbeError> {
        let mut header = [0u8; 4];
        read_exact(&mut self.stream, &mut header).await?;
        let [l0, l1, l2, seq] = header;
        let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
        if len > MAX_PACKET {
            return Err(proto("packet too large"));
        }
        self.seq = seq.wrapping_add(1);
        let mut payload = vec![0u8; len];
        read_exact(&mut self.stream, &mut payload).await?;
        Ok(payload)
    }

    async fn write(&mut self, payload: &[u8]) -> Result<(), ProbeError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l < 0xff_ffff)
            .ok_or_else(|| proto("packet too large"))?;
        let [l0, l1, l2, _] = len.to_le_bytes();
        let out = [l0, l1, l2, self.seq];
        self.seq = self.seq.wrapping_add(1);
        self.stream.write_all(&[&out[..], payload].concat()).await?;
        self.stream.flush().await?;
        Ok(())
    }
}

async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> Result<(), ProbeError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ProbeError::Closed),
        Err(e) => Err(e.into()),
    }
}

/// What the client needs from the server's initial handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handshake {
    pub(crate) capabilities: u32,
    pub(crate) nonce: Vec<u8>,
    pub(crate) plugin: Option<String>,
}

/// Parses a protocol-10 initial handshake payload.
pub(crate) fn parse_handshake(p: &[u8]) -> Result<Handshake, &'static str> {
    if p.first() != Some(&10) {
        return Err("not a protocol 10 handshake");
    }
    let (_version, rest) = split_nul(p.get(1..).unwrap_or_default());
    let part1 = rest.get(4..12).ok_or("short handshake")?;
    let &[c0, c1] = rest.get(13..15).ok_or("short handshake")? else {
        return Err("short handshake");
    };
    let mut capabilities = u32::from(u16::from_le_bytes([c0, c1]));
    let mut nonce = part1.to_vec();
    let mut plugin = None;
    if let Some(ext) = rest.get(15..) {
        // charset(1) status(2) caps_hi(2) auth_len(1) reserved(10)
        if let Some(&[_, _, _, h0, h1, auth_len]) = ext.get(..6).filter(|_| ext.len() >= 16) {
            capabilities |= u32::from(u16::from_le_bytes([h0, h1])) << 16;
            let auth_len = usize::from(auth_len);
            let tail = ext.get(16..).unwrap_or_default();
            if capabilities & CLIENT_SECURE_CONNECTION != 0 {
                let len2 = auth_len.saturating_sub(8).max(13).min(tail.len());
                let part2 = tail.get(..len2).unwrap_or_default();
                nonce.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
                if capabilities & CLIENT_PLUGIN_AUTH != 0 {
                    let (name, _) = split_nul(tail.get(len2..).unwrap_or_default());
                    plugin = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
    }
    Ok(Handshake {
        capabilities,
        nonce,
        plugin,
    })
}

/// The first 32 bytes of HandshakeResponse41, which are also the whole SSLRequest:
/// capabilities, max packet size, character set, filler.
fn client_flags(server_caps: u32, db: Option<&str>, ssl: bool) -> Vec<u8> {
    let mut caps =
        CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION;
    caps |= server_caps & CLIENT_PLUGIN_AUTH;
    if db.is_some() {
        caps |= CLIENT_CONNECT_WITH_DB;
    }
    if ssl {
        caps |= CLIENT_SSL;
    }
    let mut out = caps.to_le_bytes().to_vec();
    out.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    out.push(33); // utf8_general_ci
    out.extend_from_slice(&[0u8; 23]);
    out
}

/// The rest of HandshakeResponse41: user, auth response, database, plugin name.
fn handshake_response(
    user: &str,
    auth: &[u8],
    db: Option<&str>,
    server_caps: u32,
    plugin: &str,
) -> Vec<u8> {
    let mut out = user.as_bytes().to_vec();
    out.push(0);
    let auth = auth.get(..auth.len().min(255)).unwrap_or_default();
    out.push(auth.len() as u8);
    out.extend_from_slice(auth);
    if let Some(db) = db {
        out.extend_from_slice(db.as_bytes());
        out.push(0);
    }
    if server_caps & CLIENT_PLUGIN_AUTH != 0 {
        out.extend_from_slice(plugin.as_bytes());
        out.push(0);
    }
    out
}

/// The auth response of `plugin` for `password` and the server's nonce.
fn scramble(plugin: &str, password: &str, nonce: &[u8]) -> Result<Vec<u8>, ProbeError> {
    match plugin {
        NATIVE => Ok(scramble_native(password.as_bytes(), nonce)),
        SHA2 => Ok(scramble_sha2(password.as_bytes(), nonce)),
        other => Err(ProbeError::Unexpected(format!(
            "mysql: authentication plugin {other} is not supported"
        ))),
    }
}

/// mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); empty for no password.
pub(crate) fn scramble_native(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password);
    let h2 = Sha1::digest(h1);
    let h3 = Sha1::new().chain_update(nonce).chain_update(h2).finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

/// caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce).
pub(crate) fn scramble_sha2(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha256::digest(password);
    let h2 = Sha256::digest(h1);
    let h3 = Sha256::new()
        .chain_update(h2)
        .chain_update(nonce)
        .finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

/// A length-encoded integer and the bytes after it.
pub(crate) fn lenenc(p: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = p.split_first()?;
    let width = match first {
        0..=0xfa => return Some((u64::from(first), rest)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = rest.get(..width)?;
    let v = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    Some((v, rest.get(width..)?))
}

fn split_nul(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().position(|&b| b == 0) {
        Some(i) => (
            p.get(..i).unwrap_or_default(),
            p.get(i + 1..).unwrap_or_default(),
        ),
        None => (p, &[]),
    }
}

/// The message of an ERR packet (0xff, code, '#', sqlstate, message).
pub(crate) fn server_error(p: &[u8]) -> ProbeError {
    let code = match p.get(1..3) {
        Some(&[c0, c1]) => u16::from_le_bytes([c0, c1]),
        _ => 0,
    };
    let rest = p.get(3..).unwrap_or_default();
    let msg = if rest.first() == Some(&b'#') {
        rest.get(6..).unwrap_or_default()
    } else {
        rest
    };
    ProbeError::Unexpected(format!("mysql error {code}: {}", printable(msg)))
}

fn proto(what: &str) -> ProbeError {
    ProbeError::Unexpected(format!("mysql: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

    const NONCE: &[u8; 20] = b"abcdefghijklmnopqrst";

    fn params() -> Negotiate {
        Negotiate {
            login: Some("ldirector".into()),
            passwd: Some("pw".into()),
            database: Some("health".into()),
            request: Some("/SELECT * FROM alive".into()),
            ..Negotiate::default()
        }
    }

    fn handshake(plugin: &str) -> Vec<u8> {
        let caps: u32 = 0xf7ff | CLIENT_PLUGIN_AUTH | CLIENT_SECURE_CONNECTION;
        let mut p = vec![10];
        p.extend_from_slice(b"10.11.6-MariaDB\0");
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&NONCE[..8]);
        p.push(0);
        p.extend_from_slice(&(caps as u16).to_le_bytes());
        p.push(33);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(&NONCE[8..]);
        p.push(0);
        p.extend_from_slice(plugin.as_bytes());
        p.push(0);
        p
    }

    async fn write<S: AsyncWrite + Unpin>(s: &mut S, seq: u8, payload: &[u8]) {
        let mut h = (payload.len() as u32).to_le_bytes();
        h[3] = seq;
        s.write_all(&[&h[..], payload].concat()).await.unwrap();
    }

    async fn read<S: AsyncRead + Unpin>(s: &mut S) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await.ok()?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.ok()?;
        Some((h[3], p))
    }

    const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];
    const EOF: &[u8] = &[0xfe, 0, 0, 2, 0];

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Rows(usize),
        Sha2Fast,
        SwitchToNative,
        Sha2Full,
        AccessDenied,
        QueryError,
        Hang,
        CloseAfterLogin,
    }

    async fn server(mode: Mode) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut s, _) = listener.accept().await.unwrap();
            if mode == Mode::Hang {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                return seen;
            }
            let sha2 = matches!(mode, Mode::Sha2Fast | Mode::Sha2Full | Mode::SwitchToNative);
            write(&mut s, 0, &handshake(if sha2 { SHA2 } else { NATIVE })).await;
            let Some((_, login)) = read(&mut s).await else {
                return seen;
            };
            seen.push(login.clone());
            let mut seq = 2;
            let auth_ok = match mode {
                Mode::Sha2Fast => {
                    let ok = login
                        .windows(32)
                        .any(|w| w == scramble_sha2(b"pw", NONCE).as_slice());
                    write(&mut s, seq, &[1, 3]).await;
                    seq += 1;
                    ok
                }
                Mode::Sha2Full => {
                    write(&mut s, seq, &[1, 4]).await;
                    return seen;
                }
                Mode::SwitchToNative => {
                    let new_nonce = b"ABCDEFGHIJKLMNOPQRST";
                    write(
                        &mut s,
                        seq,
                        &[&[0xfe][..], NATIVE.as_bytes(), &[0], new_nonce, &[0]].concat(),
                    )
                    .await;
                    let Some((_, answer)) = read(&mut s).await else {
                        return seen;
                    };
                    seq = 4;
                    answer == scramble_native(b"pw", new_nonce)
                }
                _ => login
                    .windows(20)
                    .any(|w| w == scramble_native(b"pw", NONCE).as_slice()),
            };
            if !auth_ok || mode == Mode::AccessDenied {
                write(
                    &mut s,
                    seq,
                    b"\xff\x15\x04#28000Access denied for user 'ldirector'",
                )
                .await;
                return seen;
            }
            write(&mut s, seq, OK).await;
            if mode == Mode::CloseAfterLogin {
                return seen;
            }
            let Some((_, query)) = read(&mut s).await else {
                return seen;
            };
            seen.push(query);
            if mode == Mode::QueryError {
                write(
                    &mut s,
                    1,
                    b"\xff\x7a\x04#42S02Table 'health.alive' doesn't exist",
                )
                .await;
            } else {
                let rows = if let Mode::Rows(n) = mode { n } else { 1 };
                write(&mut s, 1, &[1]).await;
                write(&mut s, 2, b"\x03def\x06health\x05alive\x05alive\x02ok\x02ok\x0c\x21\x00\x03\x00\x00\x00\x03\x00\x00\x00\x00\x00").await;
                write(&mut s, 3, EOF).await;
                for i in 0..rows {
                    write(&mut s, 4 + i as u8, b"\x011").await;
                }
                write(&mut s, 4 + rows as u8, EOF).await;
            }
            if let Some((_, quit)) = read(&mut s).await {
                seen.push(quit);
            }
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn native_login_and_rows_is_up() {
        let (addr, task) = server(Mode::Rows(2)).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        let login = &seen[0];
        assert!(
            login.windows(11).any(|w| w == b"ldirector\0\x14"),
            "user then 20-byte auth"
        );
        assert!(login.ends_with(b"health\0mysql_native_password\0"));
        assert_eq!(seen[1], b"\x03SELECT * FROM alive");
        assert_eq!(seen[2], [0x01], "COM_QUIT");
    }

    /// A MySQL 8 style server: caching_sha2_password, TLS offered, password not cached.
    /// The first connection is told to do the full exchange; the second one must come
    /// with an SSLRequest and send the password inside TLS.
    async fn sha2_tls_server() -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut hs = handshake(SHA2);
            // Offer CLIENT_SSL (capability flags, lower half, after version/id/nonce).
            let at = 1 + b"10.11.6-MariaDB\0".len() + 4 + 8 + 1;
            hs[at + 1] |= 0x08;
            let (mut plain, _) = listener.accept().await.unwrap();
            write(&mut plain, 0, &hs).await;
            let (_, login) = read(&mut plain).await.unwrap();
            seen.push(login);
            write(&mut plain, 2, &[1, 4]).await;
            drop(plain);

            let (mut tcp, _) = listener.accept().await.unwrap();
            write(&mut tcp, 0, &hs).await;
            let (seq, ssl_request) = read(&mut tcp).await.unwrap();
            assert_eq!(seq, 1);
            seen.push(ssl_request);
            let mut s = crate::probe::tls::test_acceptor()
                .accept(tcp)
                .await
                .unwrap();
            let (seq, login) = read(&mut s).await.unwrap();
            assert_eq!(seq, 2);
            seen.push(login);
            write(&mut s, 3, &[1, 4]).await;
            let (_, password) = read(&mut s).await.unwrap();
            seen.push(password);
            write(&mut s, 5, OK).await;
            let (_, query) = read(&mut s).await.unwrap();
            seen.push(query);
            write(&mut s, 1, &[1]).await;
            write(
                &mut s,
                2,
                b"\x03def\x00\x00\x00\x01c\x00\x0c\x21\x00\x03\x00\x00\x00\x03\x00\x00\x00\x00\x00",
            )
            .await;
            write(&mut s, 3, EOF).await;
            write(&mut s, 4, b"\x011").await;
            write(&mut s, 5, EOF).await;
            let _ = read(&mut s).await;
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn caching_sha2_full_auth_goes_over_tls() {
        let (addr, task) = sha2_tls_server().await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        let caps = u32::from_le_bytes(seen[1][..4].try_into().unwrap());
        assert_eq!(seen[1].len(), 32, "SSLRequest is the 32-byte header only");
        assert_ne!(caps & CLIENT_SSL, 0);
        assert_eq!(seen[3], b"pw\0", "cleartext password inside TLS");
        assert_eq!(seen[4], b"\x03SELECT * FROM alive");
    }

    #[tokio::test]
    async fn caching_sha2_fast_path_is_up() {
        let (addr, _task) = server(Mode::Sha2Fast).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn auth_switch_is_followed() {
        let (addr, _task) = server(Mode::SwitchToNative).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn caching_sha2_full_auth_is_down_with_reason() {
        let (addr, _task) = server(Mode::Sha2Full).await;
        let res = probe(addr, &params()).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("full authentication")),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn no_rows_is_down() {
        let (addr, _task) = server(Mode::Rows(0)).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn access_denied_is_down() {
        let (addr, _task) = server(Mode::AccessDenied).await;
        let res = probe(addr, &params()).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("Access denied")),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn query_error_is_down() {
        let (addr, _task) = server(Mode::QueryError).await;
        let res = probe(addr, &params()).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("doesn't exist")),
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
    async fn close_after_login_is_down() {
        let (addr, _task) = server(Mode::CloseAfterLogin).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[test]
    fn handshake_fields() {
        let hs = parse_handshake(&handshake(SHA2)).unwrap();
        assert_eq!(hs.nonce, NONCE);
        assert_eq!(hs.plugin.as_deref(), Some(SHA2));
        assert!(parse_handshake(b"\x09old").is_err());
        assert_eq!(lenenc(&[0xfc, 0x01, 0x02]), Some((0x0201, &[][..])));
        assert_eq!(lenenc(&[0xff]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn session_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok {
                let hs = handshake(NATIVE);
                let mut framed = (hs.len() as u32).to_le_bytes().to_vec();
                framed.extend_from_slice(&hs);
                bytes.splice(0..0, framed);
            }
            let out = crate::probe::fake::run_on_bytes(bytes, |s| async move {
                let login = Login { user: "u", password: "p", database: Some("d"), query: "SELECT 1" };
                plain_session(s, &login).await.is_ok()
            });
            prop_assert!(out.is_some());
        }

        #[test]
        fn result_reader_survives_any_server_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let out = crate::probe::fake::run_on_bytes(bytes, |s| async move {
                read_result_rows(&mut Conn { stream: s, seq: 0 }).await.is_ok()
            });
            prop_assert!(out.is_some());
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_handshake(&bytes);
            let _ = lenenc(&bytes);
            let _ = server_error(&bytes);
            let _ = split_nul(&bytes);
        }
    }
}
