//! Why a probe failed (pure): the error every probe returns and the judge reads.

use std::io;
use std::net::SocketAddr;

/// Why a probe failed, in words for the log.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    /// The server sent more than a check reads (`probe::cap`).
    #[error("{0}")]
    TooLarge(#[from] TooLarge),
    #[error("timed out")]
    Timeout,
    #[error("tls: {0}")]
    Tls(String),
    /// The server answered, but not as expected (status code, banner, no match for `receive`).
    #[error("{0}")]
    Unexpected(String),
    /// The server closed the connection before a full answer.
    #[error("connection closed early")]
    Closed,
}

impl From<std::io::Error> for ProbeError {
    /// An i/o error; the shared cap's [`TooLarge`] keeps its own words.
    fn from(e: std::io::Error) -> Self {
        match TooLarge::find(&e) {
            Some(too_large) => ProbeError::TooLarge(too_large),
            None => ProbeError::Io(e),
        }
    }
}

/// A server sent more than a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response larger than {}", size(*limit))]
pub struct TooLarge {
    /// The bound that was passed, in bytes.
    pub limit: u64,
}

impl TooLarge {
    /// As an i/o error (kind `InvalidData`), for a stream's reader.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The `TooLarge` an error carries, itself or anywhere in its chain of sources (an i/o
    /// error inside a library's error, for instance).
    pub fn find(err: &(dyn std::error::Error + 'static)) -> Option<TooLarge> {
        let mut next = Some(err);
        while let Some(e) = next {
            if let Some(t) = e.downcast_ref::<TooLarge>() {
                return Some(*t);
            }
            // An i/o error's `source` skips the error it wraps: look at that one itself.
            next = match e.downcast_ref::<io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            };
        }
        None
    }
}

/// `1 MiB`, `256 KiB`, `1000 bytes`.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}
