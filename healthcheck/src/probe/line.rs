//! Line-oriented conversation over a byte stream (SMTP, POP3, IMAP, FTP, NNTP, SIP,
//! simpletcp), plus the TCP connect every probe starts with.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::cap::{Capped, MAX_ANSWER};
use super::ProbeError;

/// Longest line a probe accepts before it calls the answer garbage.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Opens the TCP connection to a real server, read through the shared cap
/// ([`MAX_ANSWER`] bytes).
pub(crate) async fn connect(addr: SocketAddr) -> Result<Capped<TcpStream>, ProbeError> {
    Ok(Capped::new(connect_uncapped(addr).await?, MAX_ANSWER))
}

/// Opens the TCP connection to a real server without the cap: only for a client library
/// that takes nothing but a bare socket and bounds what it reads by itself.
pub(crate) async fn connect_uncapped(addr: SocketAddr) -> Result<TcpStream, ProbeError> {
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
