//! `service = mysql`: what ldirectord does with DBI/DBD::mysql, on the `mysql_async` client.
//!
//! Log in as `login` with `passwd` on `database` over plain TCP (DBD::mysql's default),
//! run `request` (without its leading `/`) as a text query and call the real up when the
//! result has at least one row; then COM_QUIT. `login` and `request` are required, as in
//! ldirectord. mysql_async does the authentication: `mysql_native_password`,
//! `caching_sha2_password` (fast path, and the full exchange with the server's RSA key),
//! auth switches.
//!
//! mysql_async is built without TLS, compression or a pool. It runs on a runtime of its
//! own in a blocking thread, for two reasons: dropping a connection spawns a clean-up task
//! (that would outlive a timed-out probe, and read forever from a hung server), and it
//! panics on some malformed answers. The thread stops as soon as the probe is dropped, and
//! its runtime, with whatever mysql_async left on it, goes with it. It connects to a
//! loopback `relay` that passes on at most 1 MiB of the server's answer (the shared cap).

use std::net::SocketAddr;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, IoError, OptsBuilder, Row};

use super::line;
use super::relay::{NoGuard, Relay};
use super::{Negotiate, ProbeError};

/// Runs the MySQL check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let query = line::request_text(params).to_owned();
    let Some(user) = params
        .login
        .clone()
        .filter(|l| !l.is_empty() && !query.is_empty())
    else {
        return Err(ProbeError::Unexpected(
            "mysql check needs a login and a request".into(),
        ));
    };
    // mysql_async opens its own connection: it talks to the real server through a relay
    // that holds the answer to the shared cap.
    let relay = Relay::open(line::connect(addr).await?).await?;
    let local = relay.addr()?;
    let opts = OptsBuilder::default()
        .ip_or_hostname(local.ip().to_string())
        .resolved_ips(Some(vec![local.ip()]))
        .tcp_port(local.port())
        .user(Some(user))
        .pass(Some(params.passwd.clone().unwrap_or_default()))
        .db_name(params.database.clone().filter(|d| !d.is_empty()))
        // No follow-up queries after the login: no socket switch, no reading of settings.
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .stmt_cache_size(0);

    relay.run(NoGuard, on_thread(opts, query, addr)).await
}

/// The session on a thread of its own (see the module's doc).
async fn on_thread(opts: OptsBuilder, query: String, addr: SocketAddr) -> Result<(), ProbeError> {
    // Dropping `stop` (the probe finished, or its caller's timeout dropped it) ends the
    // session on the thread.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let res = rt.block_on(async {
            tokio::select! {
                res = session(opts, &query) => res,
                _ = stopped => Err(Failure::Probe(ProbeError::Timeout)),
            }
        });
        drop(rt);
        res.map_err(|e| error(e, addr))
    });
    let res = thread.await;
    drop(stop);
    match res {
        Ok(res) => res,
        Err(e) if e.is_panic() => Err(ProbeError::Unexpected(
            "mysql: malformed answer (the client library panicked)".into(),
        )),
        Err(e) => Err(ProbeError::Unexpected(format!("mysql: {e}"))),
    }
}

/// The largest packet the client reads (as the relay's cap bounds the whole answer).
const MAX_PACKET: usize = 1024 * 1024;
/// What the client assumes for the server's `wait_timeout` (MySQL's default; only used by
/// pools, given so the client does not ask for it).
const WAIT_TIMEOUT: usize = 28_800;

/// Why a session ended without success: the client's error, or the probe's own verdict.
enum Failure {
    Client(mysql_async::Error),
    Probe(ProbeError),
}

impl From<mysql_async::Error> for Failure {
    fn from(e: mysql_async::Error) -> Self {
        Failure::Client(e)
    }
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        Failure::Probe(e)
    }
}

/// Connect and log in, run the query, look for a row, quit.
async fn session(opts: OptsBuilder, query: &str) -> Result<(), Failure> {
    let mut conn = Conn::new(opts).await?;
    let mut result = conn.query_iter(query).await?;
    let row: Option<Row> = result.next().await?;
    drop(result);
    let _ = conn.disconnect().await;
    match row {
        Some(_) => Ok(()),
        None => Err(ProbeError::Unexpected("mysql: the query returned no row".into()).into()),
    }
}

/// mysql_async's error in the probe's words.
fn error(e: Failure, addr: SocketAddr) -> ProbeError {
    use std::io::ErrorKind;
    let e = match e {
        Failure::Probe(e) => return e,
        Failure::Client(e) => e,
    };
    match e {
        mysql_async::Error::Server(e) => {
            ProbeError::Unexpected(format!("mysql: {} (error {})", e.message, e.code))
        }
        mysql_async::Error::Io(IoError::Io(source)) => match source.kind() {
            ErrorKind::ConnectionRefused | ErrorKind::NetworkUnreachable => {
                ProbeError::Connect { addr, source }
            }
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                ProbeError::Closed
            }
            _ => ProbeError::from(source),
        },
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            ProbeError::Closed
        }
        other => ProbeError::Unexpected(format!("mysql: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;
    use sha1::Sha1;
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;

    const NONCE: &[u8; 20] = b"abcdefghijklmnopqrst";
    const NATIVE: &str = "mysql_native_password";
    const SHA2: &str = "caching_sha2_password";
    const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
    const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;

    /// mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))).
    fn scramble_native(password: &[u8], nonce: &[u8]) -> Vec<u8> {
        let h1 = Sha1::digest(password);
        let h2 = Sha1::digest(h1);
        let h3 = Sha1::new().chain_update(nonce).chain_update(h2).finalize();
        h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
    }

    /// caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce).
    fn scramble_sha2(password: &[u8], nonce: &[u8]) -> Vec<u8> {
        let h1 = Sha256::digest(password);
        let h2 = Sha256::digest(h1);
        let h3 = Sha256::new()
            .chain_update(h2)
            .chain_update(nonce)
            .finalize();
        h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
    }

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

    /// A MySQL 8 style server: caching_sha2_password, the password not in its cache, no
    /// TLS. The client asks for the server's RSA key and sends the password encrypted with
    /// it (XOR the nonce, OAEP), as libmysqlclient does with `get-server-public-key`.
    async fn sha2_rsa_server(
        public_pem: Vec<u8>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut s, _) = listener.accept().await.unwrap();
            write(&mut s, 0, &handshake(SHA2)).await;
            let (_, login) = read(&mut s).await.unwrap();
            seen.push(login);
            write(&mut s, 2, &[1, 4]).await;
            let (_, key_request) = read(&mut s).await.unwrap();
            seen.push(key_request);
            write(&mut s, 4, &[&[1][..], &public_pem].concat()).await;
            let (_, password) = read(&mut s).await.unwrap();
            seen.push(password);
            write(&mut s, 6, OK).await;
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

    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let ok = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is needed for the RSA test")
            .success();
        assert!(ok, "openssl {args:?}");
    }

    #[tokio::test]
    async fn caching_sha2_full_auth_sends_the_password_rsa_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "key.pem",
            ],
        );
        openssl(d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
        let (addr, task) = sha2_rsa_server(std::fs::read(d.join("pub.pem")).unwrap()).await;
        let res = probe(addr, &params()).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        assert_eq!(seen[1], [2], "asks for the server's public key");
        std::fs::write(d.join("enc.bin"), &seen[2]).unwrap();
        openssl(
            d,
            &[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                "key.pem",
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-in",
                "enc.bin",
                "-out",
                "dec.bin",
            ],
        );
        let plain: Vec<u8> = std::fs::read(d.join("dec.bin"))
            .unwrap()
            .iter()
            .zip(NONCE.iter().cycle())
            .map(|(b, n)| b ^ n)
            .collect();
        assert_eq!(
            plain, b"pw\0",
            "the password, XOR the nonce, under RSA-OAEP"
        );
        assert_eq!(seen[3], b"\x03SELECT * FROM alive");
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
    async fn caching_sha2_full_auth_without_a_key_is_down() {
        // The server asks for the full exchange and closes instead of sending its key.
        let (addr, _task) = server(Mode::Sha2Full).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
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
    async fn a_dropped_probe_closes_its_connection() {
        // The caller's timeout drops the probe mid-handshake: the client's thread and
        // runtime end with it, and the server sees the connection close.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            s.read(&mut buf).await.ok()
        });
        let res = tokio::time::timeout(HANG, probe(addr, &params())).await;
        assert!(res.is_err());
        let closed = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
        assert!(matches!(closed, Ok(Ok(Some(0)))), "{closed:?}");
    }

    #[tokio::test]
    async fn close_after_login_is_down() {
        let (addr, _task) = server(Mode::CloseAfterLogin).await;
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Closed)), "{res:?}");
    }

    #[tokio::test]
    async fn refused_connection_is_down() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Connect { .. })), "{res:?}");
    }

    #[tokio::test]
    async fn login_and_request_are_required() {
        let p = Negotiate {
            request: None,
            ..params()
        };
        let res = probe("127.0.0.1:9".parse().unwrap(), &p).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    /// Serves `bytes` to the first client and closes; the probe's verdict, if it came
    /// within five seconds.
    async fn on_bytes(bytes: Vec<u8>) -> Option<Result<(), ProbeError>> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(&bytes).await;
            let _ = s.shutdown().await;
            let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), probe(addr, &params()))
            .await
            .ok()
    }

    #[tokio::test]
    async fn bad_rsa_key_is_down_not_a_panic() {
        // caching_sha2 full exchange, and garbage where the server's key should be.
        let hs = handshake(SHA2);
        let mut bytes = [&(hs.len() as u32).to_le_bytes()[..], &hs].concat();
        bytes.extend([2, 0, 0, 2, 1, 4]);
        bytes.extend([4, 0, 0, 4, 1, b'k', b'e', b'y']);
        let res = on_bytes(bytes).await;
        assert!(matches!(res, Some(Err(_))), "{res:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn probe_survives_any_server_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), ok in any::<bool>()) {
            if ok {
                let hs = handshake(NATIVE);
                let mut framed = (hs.len() as u32).to_le_bytes().to_vec();
                framed.extend_from_slice(&hs);
                bytes.splice(0..0, framed);
            }
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let out = rt.block_on(on_bytes(bytes));
            prop_assert!(out.is_some());
        }
    }
}
