//! The importer's messages: a [`Note`] for every choice made and everything not carried over.

use std::fmt;

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Information about a choice the importer made; the result is complete.
    Note,
    /// Something keepalived does that the generated files do not: the result is incomplete.
    NotCarried,
    /// The input cannot be imported (unreadable, malformed); nothing is written.
    Error,
}

/// One message about the input, rendered `FILE:LINE: not carried over: ...`,
/// `FILE:LINE: note: ...` or `FILE:LINE: message` (errors).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Note {
    pub file: String,
    /// 1-based; 0 = the file as a whole.
    pub line: usize,
    pub kind: Kind,
    pub message: String,
}

impl Note {
    pub fn error(file: &str, line: usize, message: impl Into<String>) -> Note {
        Note::new(file, line, Kind::Error, message)
    }

    pub fn not_carried(file: &str, line: usize, message: impl Into<String>) -> Note {
        Note::new(file, line, Kind::NotCarried, message)
    }

    pub fn info(file: &str, line: usize, message: impl Into<String>) -> Note {
        Note::new(file, line, Kind::Note, message)
    }

    fn new(file: &str, line: usize, kind: Kind, message: impl Into<String>) -> Note {
        Note {
            file: file.to_string(),
            line,
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        match self.kind {
            Kind::Note => write!(f, ": note: {}", self.message),
            Kind::NotCarried => write!(f, ": not carried over: {}", self.message),
            Kind::Error => write!(f, ": {}", self.message),
        }
    }
}
