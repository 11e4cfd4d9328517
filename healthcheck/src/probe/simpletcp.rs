//! `service = simpletcp`: send `request` (without its leading `/`, with each literal
//! `\n` turned into a newline), shut the write side, then read lines until one matches
//! `receive`. Without a receive any line will do (ldirectord's empty pattern).

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;

use super::line::{self, Lines};
use super::{Negotiate, ProbeError};

/// How many lines a probe reads looking for a match.
const MAX_LINES: usize = 10_000;

/// Runs the simpletcp check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let mut stream = line::connect(addr).await?;
    let request = request_bytes(line::request_text(params));
    stream.write_all(request.as_bytes()).await?;
    stream.shutdown().await?;
    let mut lines = Lines::new(stream);
    for _ in 0..MAX_LINES {
        let Some(raw) = lines.read_line_opt().await? else {
            return Err(ProbeError::Unexpected("no line matched receive".into()));
        };
        let text = String::from_utf8_lossy(&raw);
        if line::receive_matches(params, &text)
            || line::receive_matches(params, &format!("{text}\n"))
        {
            return Ok(());
        }
    }
    Err(ProbeError::Unexpected("no line matched receive".into()))
}

/// The bytes simpletcp sends: every two-character `\n` becomes a newline.
pub(crate) fn request_bytes(request: &str) -> String {
    request.replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{self, expect, send, Step, HANG};

    fn params(request: &str, receive: &str) -> Negotiate {
        Negotiate {
            request: Some(request.into()),
            receive: Some(regex::Regex::new(receive).unwrap()),
            ..Negotiate::default()
        }
    }

    async fn run(steps: Vec<Step>, p: &Negotiate) -> (Result<(), ProbeError>, Vec<String>) {
        let server = fake::tcp(steps).await;
        let res = probe(server.addr, p).await;
        (res, server.transcript().await)
    }

    #[tokio::test]
    async fn matching_line_is_up() {
        let steps = vec![
            expect("PING"),
            expect("line2"),
            send("hello\r\nPONG ok\r\n"),
        ];
        let (res, seen) = run(steps, &params("/PING\\nline2", "^PONG")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(seen, ["PING", "line2"]);
    }

    #[tokio::test]
    async fn no_matching_line_is_down() {
        let steps = vec![expect("PING"), send("nope\r\nstill no\r\n"), Step::Close];
        let (res, _) = run(steps, &params("PING\\n", "PONG")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_server_does_not_finish() {
        let server = fake::tcp(vec![Step::Hang]).await;
        let res = tokio::time::timeout(HANG, probe(server.addr, &params("PING", "PONG"))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn close_without_answer_is_down() {
        let (res, _) = run(vec![Step::Close], &params("PING", "PONG")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[test]
    fn literal_backslash_n_becomes_newline() {
        assert_eq!(request_bytes("PING\\nline2"), "PING\nline2");
        assert_eq!(request_bytes("a\\\\nb"), "a\\\nb");
    }
}
