//! Messages about the files, each `file:line: message`, and the collector every parser
//! gathers them in.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file is accepted; something deserves the operator's attention.
    Warning,
    /// The file is refused (Heartbeat would refuse to start, or director cannot honour it).
    Error,
}

/// One message about a configuration file, rendered as `file:line: message`
/// (`file:line: warning: message` for warnings; `file: message` when `line` is 0,
/// which means the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The file the message is about.
    pub file: PathBuf,
    /// 1-based line number; 0 for the file as a whole.
    pub line: usize,
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase-initial message, no trailing period.
    pub message: String,
}

impl Diagnostic {
    /// An error at `file:line`.
    pub fn error(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A warning at `file:line`.
    pub fn warning(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        match self.severity {
            Severity::Error => write!(f, ": {}", self.message),
            Severity::Warning => write!(f, ": warning: {}", self.message),
        }
    }
}

/// A configuration file (or set of files) was refused. Holds every diagnostic found,
/// errors and warnings, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct ConfigError {
    /// All diagnostics; at least one is an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// Every diagnostic of a refused file (at least one an error).
    pub fn new(diagnostics: Vec<Diagnostic>) -> Self {
        ConfigError { diagnostics }
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl std::ops::Deref for ConfigError {
    type Target = Vec<Diagnostic>;
    fn deref(&self) -> &Vec<Diagnostic> {
        &self.diagnostics
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A successfully parsed file and the warnings it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The typed configuration.
    pub value: T,
    /// Warnings (never errors).
    pub warnings: Vec<Diagnostic>,
}

/// Collects diagnostics for one file while it is parsed.
#[derive(Debug)]
pub(crate) struct Collector {
    file: PathBuf,
    items: Vec<Diagnostic>,
}

impl Collector {
    pub(crate) fn new(file: &Path) -> Self {
        Collector {
            file: file.to_path_buf(),
            items: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, line: usize, message: impl Into<String>) {
        self.items
            .push(Diagnostic::error(&self.file, line, message));
    }

    pub(crate) fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.items
            .push(Diagnostic::warning(&self.file, line, message));
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Ends collection; diagnostics come out in line order (whole-file ones last).
    pub(crate) fn finish<T>(mut self, value: T) -> Result<Parsed<T>, ConfigError> {
        self.items
            .sort_by_key(|d| if d.line == 0 { usize::MAX } else { d.line });
        if self.has_errors() {
            Err(ConfigError {
                diagnostics: self.items,
            })
        } else {
            Ok(Parsed {
                value,
                warnings: self.items,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_renders_file_line_message() {
        let d = Diagnostic::error(Path::new("/etc/ha.d/ha.cf"), 7, "illegal directive [foo]");
        assert_eq!(d.to_string(), "/etc/ha.d/ha.cf:7: illegal directive [foo]");
        let w = Diagnostic::warning(Path::new("ha.cf"), 3, "deprecated");
        assert_eq!(w.to_string(), "ha.cf:3: warning: deprecated");
        let f = Diagnostic::error(Path::new("ha.cf"), 0, "no node directive");
        assert_eq!(f.to_string(), "ha.cf: no node directive");
    }

    #[test]
    fn config_error_lists_every_diagnostic() {
        let e = ConfigError {
            diagnostics: vec![
                Diagnostic::error(Path::new("a"), 1, "one"),
                Diagnostic::warning(Path::new("a"), 2, "two"),
            ],
        };
        assert_eq!(e.to_string(), "a:1: one\na:2: warning: two");
        assert_eq!(e.errors().count(), 1);
    }
}
