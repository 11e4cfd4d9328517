//! The one bound on what a check reads from a server: [`MAX_ANSWER`] bytes per connection.
//!
//! Every TCP probe reads through [`Capped`], which `line::connect` puts around the socket (under
//! TLS too, so the bound counts the bytes on the wire). A read past the bound fails with an i/o
//! error carrying [`TooLarge`], and `ProbeError::from` turns that into
//! [`ProbeError::TooLarge`](super::ProbeError::TooLarge): "response larger than 1 MiB". The
//! client libraries that open their own connection (mysql, oracle) or take only a bare socket
//! (ftp) get the same cap through `relay`. A body collected from a library's chunks (http,
//! http_proxy) goes through [`push_capped`] for the same verdict.
//!
//! Without it a server streaming without end made a check buffer until its timeout (4.47 GB in
//! 28 s through `service=http_proxy`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most a check reads from one server connection: far more than any greeting, login, status
/// page or one-row answer needs.
pub const MAX_ANSWER: u64 = 1024 * 1024;

pub use crate::error::TooLarge;

/// Appends `chunk` to `body` unless that makes it longer than `limit`; then nothing is added.
pub fn push_capped(body: &mut Vec<u8>, chunk: &[u8], limit: usize) -> Result<(), TooLarge> {
    if body.len().saturating_add(chunk.len()) > limit {
        return Err(TooLarge {
            limit: limit as u64,
        });
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// A stream whose reads fail with [`TooLarge`] once more than its limit has come in; writes pass
/// through. A read never asks the inner stream for more than what is left (plus one byte, to
/// tell "exactly the limit, then the end" from "more"), so at most `limit + 1` bytes are taken.
pub struct Capped<S> {
    inner: S,
    limit: u64,
    read: u64,
}

impl<S> Capped<S> {
    /// `inner`, read at most `limit` bytes.
    pub fn new(inner: S, limit: u64) -> Self {
        Capped {
            inner,
            limit,
            read: 0,
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// How many bytes have been read so far.
    pub fn consumed(&self) -> u64 {
        self.read
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Capped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capped")
            .field("inner", &self.inner)
            .field("limit", &self.limit)
            .field("read", &self.read)
            .finish()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let too_large = TooLarge { limit: this.limit };
        let left = this.limit.saturating_sub(this.read);
        if this.read > this.limit {
            return Poll::Ready(Err(too_large.into_io()));
        }
        if left == 0 {
            // At the limit: one more byte is too much, the end of the stream is fine.
            let mut one = [0u8; 1];
            let mut probe = ReadBuf::new(&mut one);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut probe))?;
            if probe.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.read += 1;
            return Poll::Ready(Err(too_large.into_io()));
        }
        if buf.remaining() as u64 <= left {
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            this.read += (buf.filled().len() - before) as u64;
            return Poll::Ready(Ok(()));
        }
        // Less is left than the caller has room for: read no more than what is left.
        let mut chunk = [0u8; 8192];
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
        let mut part = ReadBuf::new(chunk.get_mut(..want).unwrap_or_default());
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut part))?;
        let got = part.filled();
        this.read += got.len() as u64;
        buf.put_slice(got);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_up_to_the_limit_then_fails() {
        let (mut server, client) = tokio::io::duplex(64);
        let mut capped = Capped::new(client, 10);
        server.write_all(b"0123456789").await.unwrap();
        let mut got = [0u8; 10];
        capped.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"0123456789");
        server.write_all(b"x").await.unwrap();
        let mut more = [0u8; 1];
        let err = capped.read(&mut more).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(TooLarge::find(&err), Some(TooLarge { limit: 10 }));
        assert_eq!(capped.consumed(), 11, "one byte past the limit, no more");
        // Writes still pass through.
        capped.write_all(b"QUIT\r\n").await.unwrap();
        let mut echo = [0u8; 6];
        server.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn exactly_the_limit_then_the_end_is_fine() {
        let (mut server, client) = tokio::io::duplex(64);
        server.write_all(b"0123456789").await.unwrap();
        drop(server);
        let mut all = Vec::new();
        Capped::new(client, 10).read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"0123456789");
    }

    #[test]
    fn the_reason_names_the_limit() {
        assert_eq!(
            TooLarge { limit: MAX_ANSWER }.to_string(),
            "response larger than 1 MiB"
        );
        assert_eq!(
            TooLarge { limit: 256 * 1024 }.to_string(),
            "response larger than 256 KiB"
        );
        assert_eq!(
            TooLarge { limit: 1000 }.to_string(),
            "response larger than 1000 bytes"
        );
        let wrapped = std::io::Error::other(TooLarge { limit: 5 }.into_io());
        assert_eq!(TooLarge::find(&wrapped), Some(TooLarge { limit: 5 }));
        assert_eq!(TooLarge::find(&std::io::Error::other("x")), None);
    }

    proptest! {
        /// Whatever the server sends and however the reads are cut, a capped reader takes in at
        /// most `limit + 1` bytes, passes on exactly the first `limit` of them, and fails when
        /// (and only when) there were more.
        #[test]
        fn the_cap_holds(
            len in 0usize..3000,
            limit in 0u64..2000,
            read_size in 1usize..600,
            chunk in 1usize..700,
        ) {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (out, read, failed) = rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(chunk);
                let feed = data.clone();
                let writer = tokio::spawn(async move {
                    let _ = server.write_all(&feed).await;
                });
                let mut capped = Capped::new(client, limit);
                let mut out = Vec::new();
                let mut buf = vec![0u8; read_size];
                let failed = loop {
                    match capped.read(&mut buf).await {
                        Ok(0) => break false,
                        Ok(n) => out.extend_from_slice(&buf[..n]),
                        Err(e) => {
                            assert_eq!(TooLarge::find(&e), Some(TooLarge { limit }));
                            break true;
                        }
                    }
                };
                let read = capped.consumed();
                drop(capped);
                writer.abort();
                (out, read, failed)
            });
            prop_assert!(read <= limit + 1);
            prop_assert_eq!(failed, len as u64 > limit);
            let kept = (len as u64).min(limit) as usize;
            prop_assert_eq!(&out[..], &data[..kept]);
        }

        #[test]
        fn push_capped_never_exceeds_the_limit(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..40),
            limit in 0usize..1000,
        ) {
            let mut body = Vec::new();
            let mut expected = Vec::new();
            let mut failed = false;
            for c in &chunks {
                match push_capped(&mut body, c, limit) {
                    Ok(()) => expected.extend_from_slice(c),
                    Err(e) => {
                        prop_assert_eq!(e, TooLarge { limit: limit as u64 });
                        failed = true;
                        break;
                    }
                }
            }
            prop_assert!(body.len() <= limit);
            prop_assert_eq!(&body, &expected);
            let total: usize = chunks.iter().map(Vec::len).sum();
            prop_assert_eq!(failed, total > limit);
        }
    }
}
