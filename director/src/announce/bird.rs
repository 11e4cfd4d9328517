//! BIRD's control socket (`bird.ctl`, what `birdc` speaks), the pure part: replies read line
//! by line ([`ReplyReader`]) and the protocol list of `show protocols` ([`protocols`]).
//!
//! The protocol (BIRD's `doc/reply_codes` and `sysdep/unix/main.c`): every reply line starts
//! with a four-digit code; `DDDD-text` says more lines follow, `DDDD text` ends the reply, and
//! a line starting with a space continues the previous code. Codes 0xxx end an action that
//! succeeded (0003 Reconfigured, 0004 Reconfiguration in progress), 1xxx are table entries,
//! 2xxx table headings, 8xxx run-time and 9xxx parse-time errors.
//!
//! Written here rather than taken from a crate: no maintained crate speaks it, and it is a few
//! lines of text.

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The code of the last line (what the command did).
    pub code: u16,
    /// Every line's code and text (a continuation line carries the code before it).
    pub lines: Vec<(u16, String)>,
}

impl Reply {
    /// A run-time (8xxx) or parse-time (9xxx) error.
    pub fn is_error(&self) -> bool {
        self.code >= 8000
    }

    /// The text of the lines with `code`.
    pub fn texts(&self, code: u16) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(move |(c, _)| *c == code)
            .map(|(_, t)| t.as_str())
    }

    /// The reply in one line for a log or an error: the last line's text.
    pub fn summary(&self) -> String {
        self.lines
            .last()
            .map(|(c, t)| format!("{c:04} {t}"))
            .unwrap_or_default()
    }
}

/// The most lines one reply may have before it is refused (a `show route` of a full table
/// is not something director asks for).
pub const MAX_LINES: usize = 100_000;

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// Not `DDDD-`, `DDDD ` or a continuation.
    Malformed(String),
    /// A continuation before any code.
    Orphan,
    /// More than [`MAX_LINES`].
    TooLong,
}

impl std::error::Error for ReplyError {}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Malformed(l) => write!(f, "BIRD sent a line that is not a reply: {l:?}"),
            ReplyError::Orphan => f.write_str("BIRD sent a continuation line before any reply"),
            ReplyError::TooLong => write!(f, "BIRD's reply is longer than {MAX_LINES} lines"),
        }
    }
}

/// Reads replies line by line.
#[derive(Debug, Default)]
pub struct ReplyReader {
    lines: Vec<(u16, String)>,
}

impl ReplyReader {
    /// Takes one line (without its newline); returns the reply it ends, if it does.
    pub fn line(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        if self.lines.len() >= MAX_LINES {
            self.lines.clear();
            return Err(ReplyError::TooLong);
        }
        if let Some(text) = line.strip_prefix(' ') {
            let code = self
                .lines
                .last()
                .map(|(c, _)| *c)
                .ok_or(ReplyError::Orphan)?;
            self.lines.push((code, text.to_string()));
            return Ok(None);
        }
        let (head, text) = (line.get(..4), line.get(5..).unwrap_or(""));
        let code = head
            .filter(|h| h.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|h| h.parse::<u16>().ok())
            .ok_or_else(|| ReplyError::Malformed(line.chars().take(80).collect()))?;
        let last = match line.as_bytes().get(4) {
            Some(b' ') | None => true,
            Some(b'-') => false,
            Some(_) => return Err(ReplyError::Malformed(line.chars().take(80).collect())),
        };
        self.lines.push((code, text.to_string()));
        if last {
            Ok(Some(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }))
        } else {
            Ok(None)
        }
    }
}

/// One line of `show protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    /// `BGP`, `Static`, `BFD`, `Device`, ...
    pub proto: String,
    pub table: String,
    /// `up`, `down`, `start`, `stop`.
    pub state: String,
    pub since: String,
    /// For BGP the session state (`Established`, `Active`, `Connect`, ...) and the last error.
    pub info: String,
}

/// The protocols of a `show protocols` reply (its 1002 lines; the 2002 heading is skipped).
pub fn protocols(reply: &Reply) -> Vec<Protocol> {
    reply
        .texts(1002)
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let (name, proto, table, state, since) =
                (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
            Some(Protocol {
                name: name.to_string(),
                proto: proto.to_string(),
                table: table.to_string(),
                state: state.to_string(),
                since: since.to_string(),
                info: w.collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read from BIRD 2.0.12 (Debian's bird2) on its control socket.
    const SHOW_PROTOCOLS: &str =
        "2002-Name       Proto      Table      State  Since         Info\n\
        1002-device1    Device     ---        up     11:40:31.487  \n \
        director_vips4 Static     master4    up     11:40:31.487  \n \
        director_vips6 Static     master6    up     11:40:31.487  \n \
        router1    BGP        ---        down   11:40:31.501  Error: Invalid next hop\n\
        0000 \n";

    fn read(text: &str) -> Vec<Reply> {
        let mut r = ReplyReader::default();
        text.lines().filter_map(|l| r.line(l).unwrap()).collect()
    }

    #[test]
    fn the_welcome_and_a_reconfiguration_are_one_reply_each() {
        let replies = read("0001 BIRD 2.0.12 ready.\n0002-Reading configuration from bird.conf\n0003 Reconfigured\n");
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].code, 1);
        assert_eq!(replies[1].code, 3);
        assert_eq!(replies[1].lines.len(), 2);
        assert!(!replies[1].is_error());
        assert_eq!(replies[1].summary(), "0003 Reconfigured");
    }

    #[test]
    fn a_configuration_error_is_an_error_with_its_place() {
        let r = read("0002-Reading configuration from bird.conf\n8002 /tmp/birdt/vips.conf:9:1 syntax error, unexpected ROUTE\n");
        assert_eq!(r.len(), 1);
        assert!(r[0].is_error());
        assert_eq!(
            r[0].summary(),
            "8002 /tmp/birdt/vips.conf:9:1 syntax error, unexpected ROUTE"
        );
    }

    #[test]
    fn show_protocols_lists_every_protocol_with_continuations() {
        let r = read(SHOW_PROTOCOLS);
        assert_eq!(r.len(), 1);
        let p = protocols(&r[0]);
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].name, "director_vips4");
        assert_eq!((p[1].proto.as_str(), p[1].state.as_str()), ("Static", "up"));
        assert_eq!(p[3].name, "router1");
        assert_eq!(p[3].proto, "BGP");
        assert_eq!(p[3].state, "down");
        assert_eq!(p[3].info, "Error: Invalid next hop");
        assert_eq!(p[0].info, "");
    }

    #[test]
    fn lines_that_are_not_replies_are_refused() {
        let mut r = ReplyReader::default();
        assert_eq!(r.line(" orphan"), Err(ReplyError::Orphan));
        assert!(matches!(r.line("hello"), Err(ReplyError::Malformed(_))));
        assert!(matches!(r.line("00x1 x"), Err(ReplyError::Malformed(_))));
        assert!(matches!(r.line("0001+x"), Err(ReplyError::Malformed(_))));
        // A bare code ends a reply.
        assert_eq!(r.line("0000").unwrap().map(|x| x.code), Some(0));
    }

    #[test]
    fn an_endless_reply_is_cut() {
        let mut r = ReplyReader::default();
        let mut err = None;
        for _ in 0..=MAX_LINES {
            if let Err(e) = r.line("1002-x") {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(ReplyError::TooLong));
    }

    proptest::proptest! {
        #[test]
        fn any_line_is_read_or_refused_without_panic(lines in proptest::collection::vec("\\PC{0,40}", 0..20)) {
            let mut r = ReplyReader::default();
            for l in &lines {
                let _ = r.line(l);
            }
        }
    }
}
