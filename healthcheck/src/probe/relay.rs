//! The shared cap for client libraries that open their own connection (mysql_async,
//! oracle-rs) or take nothing but a bare socket (suppaftp): the library connects to a loopback
//! [`Relay`] instead of the real server, and the relay passes on what the real server sends
//! through the capped stream of `line::connect`, and through a [`Guard`] that may refuse a frame
//! header announcing more than the cap before the library allocates for it.
//!
//! The relay runs inside the probe's future, beside the library's check: nothing outlives a
//! probe its deadline dropped. It takes the first connection to its port (bound to 127.0.0.1
//! for the one check): the library's, unless another local process is quicker, which then only
//! ever talks to the real server as the check would.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::cap::{Capped, TooLarge};
use super::ProbeError;

/// How long a finished check waits for its last words (a QUIT, a logoff) to reach the server.
const FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// Looks at what the server sends, in the pieces it comes in; refuses what must not reach the
/// library.
pub(crate) trait Guard {
    fn observe(&mut self, bytes: &[u8]) -> Result<(), TooLarge>;
}

/// Lets everything through (the cap alone bounds what the library gets).
pub(crate) struct NoGuard;

impl Guard for NoGuard {
    fn observe(&mut self, _: &[u8]) -> Result<(), TooLarge> {
        Ok(())
    }
}

/// A loopback listener standing in for a real server.
pub(crate) struct Relay {
    listener: TcpListener,
    upstream: Capped<TcpStream>,
}

impl Relay {
    /// A relay to `upstream`, the open (capped) connection to the real server.
    pub(crate) async fn open(upstream: Capped<TcpStream>) -> Result<Relay, ProbeError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        Ok(Relay { listener, upstream })
    }

    /// Where the library must connect.
    pub(crate) fn addr(&self) -> Result<SocketAddr, ProbeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Runs `check`, which connects to [`Relay::addr`], and relays its connection meanwhile.
    /// The check's verdict, unless the server's side was cut by the cap or the guard: then a
    /// failed check says so.
    pub(crate) async fn run<G, F>(self, mut guard: G, check: F) -> Result<(), ProbeError>
    where
        G: Guard,
        F: Future<Output = Result<(), ProbeError>>,
    {
        tokio::pin!(check);
        let client = tokio::select! {
            res = &mut check => return res,
            accepted = self.listener.accept() => accepted?.0,
        };
        drop(self.listener);
        let _ = client.set_nodelay(true);
        let (mut from_check, mut to_check) = client.into_split();
        let (mut from_server, mut to_server) = tokio::io::split(self.upstream);
        let up = async {
            let _ = tokio::io::copy(&mut from_check, &mut to_server).await;
            let _ = to_server.shutdown().await;
        };
        let down = async {
            let mut buf = vec![0u8; 16 * 1024];
            let cut = loop {
                let n = match from_server.read(&mut buf).await {
                    Ok(0) => break None,
                    Ok(n) => n,
                    Err(e) => break TooLarge::find(&e),
                };
                let chunk = buf.get(..n).unwrap_or_default();
                if let Err(too_large) = guard.observe(chunk) {
                    break Some(too_large);
                }
                if to_check.write_all(chunk).await.is_err() {
                    break None;
                }
            };
            // The library sees the end of the stream.
            let _ = to_check.shutdown().await;
            cut
        };
        tokio::pin!(up);
        tokio::pin!(down);
        let (mut up_done, mut down_done) = (false, false);
        let mut cut = None;
        loop {
            tokio::select! {
                res = &mut check => {
                    if !up_done {
                        let _ = tokio::time::timeout(FLUSH, &mut up).await;
                    }
                    return match (res, cut) {
                        (Err(_), Some(too_large)) => Err(ProbeError::TooLarge(too_large)),
                        (res, _) => res,
                    };
                }
                () = &mut up, if !up_done => up_done = true,
                ended = &mut down, if !down_done => {
                    down_done = true;
                    cut = ended;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::cap::MAX_ANSWER;

    /// A guard that refuses any chunk holding a `!`.
    struct Bang;

    impl Guard for Bang {
        fn observe(&mut self, bytes: &[u8]) -> Result<(), TooLarge> {
            if bytes.contains(&b'!') {
                Err(TooLarge { limit: 1 })
            } else {
                Ok(())
            }
        }
    }

    /// A server that reads one line and answers `answer`, then closes.
    async fn server(answer: Vec<u8>) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&answer).await;
        });
        addr
    }

    /// A check that sends `hello\n` and reads to the end; up when it got `want`.
    async fn check(addr: SocketAddr, want: &[u8]) -> Result<(), ProbeError> {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"hello\n").await?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await?;
        if got == want {
            Ok(())
        } else {
            Err(ProbeError::Unexpected(format!("got {} bytes", got.len())))
        }
    }

    async fn relayed(answer: Vec<u8>, limit: u64, want: &[u8]) -> Result<(), ProbeError> {
        let upstream = TcpStream::connect(server(answer).await).await.unwrap();
        let relay = Relay::open(Capped::new(upstream, limit)).await.unwrap();
        let addr = relay.addr().unwrap();
        relay.run(NoGuard, check(addr, want)).await
    }

    #[tokio::test]
    async fn passes_an_answer_both_ways() {
        relayed(b"welcome".to_vec(), MAX_ANSWER, b"welcome")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_check_cut_by_the_cap_says_so() {
        let e = relayed(vec![b'x'; 5000], 1000, b"whatever")
            .await
            .unwrap_err();
        assert!(
            matches!(e, ProbeError::TooLarge(TooLarge { limit: 1000 })),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn the_guard_stops_what_it_refuses() {
        let upstream = TcpStream::connect(server(b"ok!".to_vec()).await)
            .await
            .unwrap();
        let relay = Relay::open(Capped::new(upstream, MAX_ANSWER))
            .await
            .unwrap();
        let addr = relay.addr().unwrap();
        let e = relay.run(Bang, check(addr, b"ok!")).await.unwrap_err();
        assert!(matches!(e, ProbeError::TooLarge(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_check_that_never_connects_is_its_own_verdict() {
        let upstream = TcpStream::connect(server(Vec::new()).await).await.unwrap();
        let relay = Relay::open(Capped::new(upstream, MAX_ANSWER))
            .await
            .unwrap();
        let e = relay
            .run(NoGuard, async { Err(ProbeError::Closed) })
            .await
            .unwrap_err();
        assert!(matches!(e, ProbeError::Closed), "{e:?}");
    }
}
