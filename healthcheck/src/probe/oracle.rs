//! `service = oracle`: what ldirectord does with DBI/DBD::Oracle
//! (`dbi:Oracle:sid=<database>;host=<real>;port=<checkport>`): log in as `login` with
//! `passwd` to the SID `database`, run `request` (without its leading `/`) and call the real
//! up when the query returns at least one row. `login` and `request` are required, as in
//! ldirectord (the spec refuses a check without them).
//!
//! The driver is oracle-rs, a pure-Rust implementation of Oracle's TNS/TTC protocol (no Oracle
//! client libraries). It is async on tokio, so the caller's deadline cancels a check at any
//! point (connect, login, query) by dropping it.
//!
//! oracle-rs connects by itself and allocates what a packet header announces (up to 4 GiB), so
//! it connects to a loopback `relay` instead, which passes on at most 1 MiB of the server's
//! answer (the shared cap) and refuses a packet announced larger than that ([`TnsGuard`]).
//! The connect descriptor oracle-rs sends then names the relay's address
//! (`(HOST=127.0.0.1)(PORT=...)`); a listener routes on the SID, not on that address.
//!
//! Tested here against loopback servers that refuse, send garbage, hang, close early and
//! announce huge packets; the success path needs a real Oracle database, which the test
//! machines do not have.

use std::net::SocketAddr;

use oracle_rs::{Config, Connection};

use super::cap::{TooLarge, MAX_ANSWER};
use super::line;
use super::relay::{Guard, Relay};
use super::{Negotiate, ProbeError};
use crate::spec::host_string;

/// Runs the Oracle check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let query = line::request_text(params);
    let Some(user) = params
        .login
        .as_deref()
        .filter(|l| !l.is_empty() && !query.is_empty())
    else {
        return Err(ProbeError::Unexpected(
            "oracle check needs a login and a request".into(),
        ));
    };
    // oracle-rs opens its own connection: it talks to the real server through a relay that
    // holds the answer to the shared cap and refuses a packet announced larger than that.
    let relay = Relay::open(line::connect(addr).await?).await?;
    let local = relay.addr()?;
    let config = Config::with_sid(
        host_string(local.ip()),
        local.port(),
        params.database.clone().unwrap_or_default(),
        user,
        params.passwd.clone().unwrap_or_default(),
    );
    let check = async {
        let conn = Connection::connect_with_config(config)
            .await
            .map_err(|e| ProbeError::Unexpected(format!("oracle: cannot log in: {e}")))?;
        let result = conn.query(query, &[]).await;
        // Log off politely; the verdict does not depend on it.
        let _ = conn.close().await;
        let rows = result
            .map_err(|e| ProbeError::Unexpected(format!("oracle: query failed: {e}")))?
            .row_count();
        if rows >= 1 {
            Ok(())
        } else {
            Err(ProbeError::Unexpected(
                "oracle: the query returned no rows".into(),
            ))
        }
    };
    relay.run(TnsGuard::new(MAX_ANSWER), check).await
}

/// TNS packet type ACCEPT.
const ACCEPT: u8 = 2;
/// The protocol version from which packet lengths take four bytes ("large SDU").
const MIN_LARGE_SDU: u16 = 315;
/// Header bytes of a TNS packet.
const HEADER: usize = 8;

/// Follows the TNS packets a server sends and refuses one whose header announces more than
/// `limit` bytes: oracle-rs allocates a packet's announced length (up to 4 GiB) before reading
/// it. Lengths are two bytes until an ACCEPT names protocol version 315 or later, four bytes
/// after it, as oracle-rs reads them.
#[derive(Debug, Clone)]
pub(crate) struct TnsGuard {
    limit: u64,
    large_sdu: bool,
    /// The header (and for an ACCEPT, the version after it) read so far.
    head: Vec<u8>,
    /// Body bytes of the current packet still to pass.
    skip: u64,
}

impl TnsGuard {
    pub(crate) fn new(limit: u64) -> TnsGuard {
        TnsGuard {
            limit,
            large_sdu: false,
            head: Vec::with_capacity(HEADER + 2),
            skip: 0,
        }
    }

    /// The length a complete header announces.
    fn announced(&self) -> u64 {
        let b = |i: usize| self.head.get(i).copied().unwrap_or(0);
        if self.large_sdu {
            u64::from(u32::from_be_bytes([b(0), b(1), b(2), b(3)]))
        } else {
            u64::from(u16::from_be_bytes([b(0), b(1)]))
        }
    }
}

impl Guard for TnsGuard {
    fn observe(&mut self, mut bytes: &[u8]) -> Result<(), TooLarge> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= n as u64;
                bytes = bytes.get(n..).unwrap_or_default();
                continue;
            }
            // An ACCEPT still in the old format: its first two body bytes are the version.
            let accept = !self.large_sdu && self.head.get(4) == Some(&ACCEPT);
            let want = if accept { HEADER + 2 } else { HEADER };
            let n = (want - self.head.len().min(want)).min(bytes.len());
            self.head
                .extend_from_slice(bytes.get(..n).unwrap_or_default());
            bytes = bytes.get(n..).unwrap_or_default();
            if self.head.len() < HEADER {
                continue;
            }
            let length = self.announced();
            if length > self.limit {
                return Err(TooLarge { limit: self.limit });
            }
            let accept = !self.large_sdu && self.head.get(4) == Some(&ACCEPT);
            if accept && self.head.len() < HEADER + 2 {
                continue;
            }
            if accept {
                let version = u16::from_be_bytes([
                    self.head.get(HEADER).copied().unwrap_or(0),
                    self.head.get(HEADER + 1).copied().unwrap_or(0),
                ]);
                self.large_sdu = version >= MIN_LARGE_SDU;
            }
            self.skip = length.saturating_sub(self.head.len() as u64);
            self.head.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_types)] // these tests time real I/O on the wall clock
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn params() -> Negotiate {
        Negotiate {
            request: Some("/select 1 from dual".into()),
            login: Some("scott".into()),
            passwd: Some("tiger".into()),
            database: Some("ORCL".into()),
            ..Negotiate::default()
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// Close as soon as the CONNECT packet arrives.
        CloseEarly,
        /// Answer with bytes that are no TNS packet, then close.
        Garbage,
        /// Read the CONNECT packet and never answer.
        Hang,
        /// Answer with a TNS REFUSE packet (the listener does not know the SID).
        Refuse,
        /// Answer with a valid header announcing more bytes than ever come, then close.
        Truncated,
    }

    /// A loopback "Oracle listener" that plays `mode` with its first client; returns how many
    /// bytes it read (the client's CONNECT packet).
    async fn listener(mode: Mode) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            match mode {
                Mode::CloseEarly => {}
                Mode::Garbage => {
                    let _ = s
                        .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nnot oracle")
                        .await;
                }
                Mode::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
                Mode::Refuse => {
                    // header: length 12, checksum 0, type 4 (REFUSE), flags 0, header checksum
                    // 0; then user reason, system reason, data length 0
                    let _ = s.write_all(&[0, 12, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]).await;
                }
                Mode::Truncated => {
                    let _ = s.write_all(&[1, 0, 0, 0, 2, 0, 0, 0, 1, 2]).await;
                }
            }
            n
        });
        (addr, task)
    }

    async fn run(mode: Mode) -> Result<(), ProbeError> {
        let (addr, server) = listener(mode).await;
        let res = tokio::time::timeout(Duration::from_secs(5), probe(addr, &params()))
            .await
            .unwrap_or(Err(ProbeError::Timeout));
        let read = server.await.unwrap_or(0);
        assert!(
            read > 8,
            "{mode:?}: the client sent no CONNECT packet ({read} bytes)"
        );
        res
    }

    /// A TNS packet: `len` as two bytes (four with `large`), `kind`, then `body`.
    fn packet(large: bool, kind: u8, body: &[u8], len: Option<u32>) -> Vec<u8> {
        let len = len.unwrap_or(u32::try_from(HEADER + body.len()).unwrap());
        let mut out = if large {
            len.to_be_bytes().to_vec()
        } else {
            let mut v = u16::try_from(len).unwrap().to_be_bytes().to_vec();
            v.extend_from_slice(&[0, 0]);
            v
        };
        out.extend_from_slice(&[kind, 0, 0, 0]);
        out.extend_from_slice(body);
        out
    }

    /// ACCEPT naming `version`, then packets in the format it chose.
    fn conversation(version: u16, bodies: &[usize]) -> Vec<u8> {
        let large = version >= MIN_LARGE_SDU;
        let mut accept_body = version.to_be_bytes().to_vec();
        accept_body.extend_from_slice(&[0u8; 22]);
        let mut out = packet(false, ACCEPT, &accept_body, None);
        for &n in bodies {
            out.extend(packet(large, 6, &vec![0xa5; n], None));
        }
        out
    }

    #[test]
    fn the_guard_follows_the_length_format_the_accept_chose() {
        // Old format: two-byte lengths never announce much.
        let old = conversation(314, &[100, 60_000]);
        assert_eq!(TnsGuard::new(MAX_ANSWER).observe(&old), Ok(()));
        // Large SDU: four-byte lengths; a 4 GiB announcement is refused from its header.
        let mut new = conversation(315, &[100, 70_000]);
        assert_eq!(TnsGuard::new(MAX_ANSWER).observe(&new), Ok(()));
        new.extend(packet(true, 6, b"", Some(u32::MAX)));
        assert_eq!(
            TnsGuard::new(MAX_ANSWER).observe(&new),
            Err(TooLarge { limit: MAX_ANSWER })
        );
        // The same bytes one at a time.
        let mut guard = TnsGuard::new(MAX_ANSWER);
        let refused = new.chunks(1).map(|b| guard.observe(b)).find(Result::is_err);
        assert_eq!(refused, Some(Err(TooLarge { limit: MAX_ANSWER })));
    }

    proptest::proptest! {
        #[test]
        fn the_guard_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), cut in 1usize..64) {
            let mut guard = TnsGuard::new(1000);
            for chunk in bytes.chunks(cut) {
                if guard.observe(chunk).is_err() { break; }
            }
        }

        /// Packets within the limit pass however the stream is cut; one announced past it is
        /// refused.
        #[test]
        fn the_guard_passes_what_fits_and_refuses_what_does_not(
            version in 300u16..330,
            bodies in proptest::collection::vec(0usize..3000, 0..6),
            cut in 1usize..5000,
            extra in 1u32..1_000_000,
        ) {
            let limit = 4000u64;
            let stream = conversation(version, &bodies);
            let mut guard = TnsGuard::new(limit);
            for chunk in stream.chunks(cut) {
                proptest::prop_assert_eq!(guard.observe(chunk), Ok(()));
            }
            let large = version >= MIN_LARGE_SDU;
            let announced = if large { limit as u32 + extra } else { (limit as u32 + extra).min(65535) };
            let too_big = packet(large, 6, b"", Some(announced));
            let res = guard.observe(&too_big);
            proptest::prop_assert_eq!(res.is_err(), u64::from(announced) > limit);
        }
    }

    #[tokio::test]
    async fn a_refusing_listener_is_down() {
        let res = run(Mode::Refuse).await;
        let Err(ProbeError::Unexpected(why)) = &res else {
            panic!("{res:?}");
        };
        assert!(why.contains("refused"), "{why}");
    }

    #[tokio::test]
    async fn garbage_and_early_close_are_down() {
        for mode in [Mode::Garbage, Mode::CloseEarly, Mode::Truncated] {
            let res = run(mode).await;
            assert!(
                matches!(res, Err(ProbeError::Unexpected(_))),
                "{mode:?}: {res:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_hung_listener_never_answers_and_the_deadline_ends_it() {
        let (addr, _server) = listener(Mode::Hang).await;
        let started = std::time::Instant::now();
        let res = tokio::time::timeout(Duration::from_millis(500), probe(addr, &params())).await;
        assert!(res.is_err(), "{res:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn nothing_listening_is_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let res = probe(addr, &params()).await;
        assert!(matches!(res, Err(ProbeError::Connect { .. })), "{res:?}");
    }

    #[tokio::test]
    async fn login_and_request_are_required() {
        let mut p = params();
        p.login = None;
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
        let mut p = params();
        p.request = Some("/".into());
        assert!(matches!(
            probe(addr, &p).await,
            Err(ProbeError::Unexpected(_))
        ));
    }
}
