//! Line-oriented conversation over a byte stream (SMTP, POP3, IMAP, FTP, NNTP, SIP,
//! simpletcp), plus the TCP connect every probe starts with.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::ProbeError;

/// Longest line a probe accepts before it calls the answer garbage.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Most a protocol crate's probe (IMAP, LDAP) may read from one server in one check: far more
/// than any greeting, login or one-entry search needs, and a bound on what a broken or hostile
/// server can make a library buffer (async-imap would grow its buffer to 512 MiB for a line
/// that never ends).
pub(crate) const MAX_ANSWER: u64 = 1024 * 1024;

/// A stream that fails its reads once more than `left` bytes have come in; writes pass
/// through. Wraps the stream handed to a protocol crate that buffers without a bound.
pub(crate) struct Capped<S> {
    inner: S,
    left: u64,
}

impl<S> Capped<S> {
    pub(crate) fn new(inner: S, limit: u64) -> Self {
        Capped { inner, left: limit }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Capped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capped")
            .field("inner", &self.inner)
            .field("left", &self.left)
            .finish()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the server sent too much (more than a check reads)",
            )));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        let got = (buf.filled().len() - before) as u64;
        this.left = this.left.saturating_sub(got);
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Opens the TCP connection to a real server.
pub(crate) async fn connect(addr: SocketAddr) -> Result<TcpStream, ProbeError> {
    TcpStream::connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })
}

/// A buffered stream read line by line and written command by command.
pub(crate) struct Lines<S> {
    inner: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self {
            inner: BufReader::new(stream),
        }
    }

    /// Reads one line without its line ending (LF or CRLF). A last line cut short by
    /// the peer's close is returned as it is; a close before any byte is `Closed`.
    pub(crate) async fn read_line(&mut self) -> Result<Vec<u8>, ProbeError> {
        match self.read_line_opt().await? {
            Some(line) => Ok(line),
            None => Err(ProbeError::Closed),
        }
    }

    /// Like [`Lines::read_line`], but end of stream before any byte is `None`.
    pub(crate) async fn read_line_opt(&mut self) -> Result<Option<Vec<u8>>, ProbeError> {
        let mut line = Vec::new();
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                break;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Err(ProbeError::Unexpected(format!(
                    "line longer than {MAX_LINE} bytes"
                )));
            }
            line.extend_from_slice(buf.get(..take).unwrap_or_default());
            self.inner.consume(take);
            if done {
                break;
            }
        }
        if line.is_empty() {
            return Ok(None);
        }
        Ok(Some(chomp(line)))
    }

    /// Writes `bytes` and flushes them.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), ProbeError> {
        let stream = self.inner.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await?;
        Ok(())
    }

    /// The stream underneath (for shutdown; buffered bytes stay in the reader).
    pub(crate) fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }
}

/// Strips one trailing LF and then one trailing CR.
pub(crate) fn chomp(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

/// A reply line of a numeric-reply protocol (SMTP, FTP): `250-more` or `250 last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyLine {
    pub(crate) code: u16,
    /// `true` for `250-...` (more lines follow).
    pub(crate) more: bool,
}

/// Parses the code of an SMTP/FTP reply line; `None` if it does not start with three
/// digits followed by `-`, a space or the end of the line.
pub(crate) fn parse_reply_line(line: &[u8]) -> Option<ReplyLine> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let more = match line.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return None,
    };
    Some(ReplyLine { code, more })
}

/// Reads a whole (possibly multi-line) numeric reply and returns its code. RFC 959
/// multi-line replies may carry text lines in between; only a line with the same code
/// and a space (or nothing) after it ends the reply.
pub(crate) async fn read_reply<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
) -> Result<(u16, Vec<u8>), ProbeError> {
    let first = lines.read_line().await?;
    let Some(head) = parse_reply_line(&first) else {
        return Err(ProbeError::Unexpected(format!(
            "not a reply: {}",
            printable(&first)
        )));
    };
    let mut last = first;
    if head.more {
        loop {
            last = lines.read_line().await?;
            if parse_reply_line(&last).is_some_and(|r| r.code == head.code && !r.more) {
                break;
            }
        }
    }
    Ok((head.code, last))
}

/// `request=` without one leading `/`: ldirectord stores every request with a `/` in front
/// and most negotiate checks take it off again (`substr($request, 1)`).
pub(crate) fn request_text(params: &super::Negotiate) -> &str {
    let request = params.request.as_deref().unwrap_or("");
    request.strip_prefix('/').unwrap_or(request)
}

/// This host's name, for ldirectord's default `ldirectord@<hostname>` (ftp password,
/// sip user).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A byte string as a short, printable log text.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(120)
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if text.chars().count() > 120 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn capped_reads_up_to_the_limit_then_fails() {
        use tokio::io::AsyncReadExt;
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
        // Writes still pass through.
        capped.write_all(b"QUIT\r\n").await.unwrap();
        let mut echo = [0u8; 6];
        server.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"QUIT\r\n");
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line(b"250-mx.example.com"),
            Some(ReplyLine {
                code: 250,
                more: true
            })
        );
        assert_eq!(
            parse_reply_line(b"220 ready"),
            Some(ReplyLine {
                code: 220,
                more: false
            })
        );
        assert_eq!(
            parse_reply_line(b"354"),
            Some(ReplyLine {
                code: 354,
                more: false
            })
        );
        assert_eq!(parse_reply_line(b"25"), None);
        assert_eq!(parse_reply_line(b"2x0 no"), None);
        assert_eq!(parse_reply_line(b"2500"), None);
    }

    #[test]
    fn chomps_crlf_and_lf() {
        assert_eq!(chomp(b"a\r\n".to_vec()), b"a");
        assert_eq!(chomp(b"a\n".to_vec()), b"a");
        assert_eq!(chomp(b"a".to_vec()), b"a");
        assert_eq!(chomp(b"\r".to_vec()), b"");
    }

    #[tokio::test]
    async fn multi_line_reply_with_text_lines() {
        let data: &[u8] = b"220-hello\r\nfree text\r\n220-more\r\n220 done\r\n221 next\r\n";
        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(data).await.unwrap();
        let mut lines = Lines::new(client);
        let (code, last) = read_reply(&mut lines).await.unwrap();
        assert_eq!(code, 220);
        assert_eq!(last, b"220 done");
        let (code, _) = read_reply(&mut lines).await.unwrap();
        assert_eq!(code, 221);
    }

    #[tokio::test]
    async fn partial_last_line_then_closed() {
        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"one\r\ntwo").await.unwrap();
        drop(server);
        let mut lines = Lines::new(client);
        assert_eq!(lines.read_line().await.unwrap(), b"one");
        assert_eq!(lines.read_line().await.unwrap(), b"two");
        assert!(matches!(lines.read_line().await, Err(ProbeError::Closed)));
    }

    proptest! {
        #[test]
        fn reply_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = parse_reply_line(&bytes);
            let _ = printable(&bytes);
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(1024);
                server.write_all(&bytes).await.unwrap();
                drop(server);
                let mut lines = Lines::new(client);
                for _ in 0..600 {
                    if lines.read_line_opt().await.unwrap().is_none() { break; }
                }
                let (client, mut server) = tokio::io::duplex(1024);
                server.write_all(&bytes).await.unwrap();
                drop(server);
                let mut lines = Lines::new(client);
                let _ = read_reply(&mut lines).await;
            });
        }
    }
}
