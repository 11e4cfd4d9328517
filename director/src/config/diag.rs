//! Diagnostics: what a config reader reports, always as `file:line: message`.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file is accepted; the message explains a quirk or a deprecated form.
    Warning,
    /// The file is rejected.
    Error,
}

/// One message about one place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the user named it (or as it was found).
    pub file: String,
    /// 1-based line number; `None` for messages about the whole file.
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, line: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    pub fn warning(file: &str, line: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `file:line: message` for errors, `file:line: warning: message` for warnings.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.severity == Severity::Warning {
            write!(f, ": warning")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in a file (and the warnings that came with them), one per line when
/// displayed. This is the error type of `load` / `parse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.0 {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::ops::Deref for Diagnostics {
    type Target = Vec<Diagnostic>;
    fn deref(&self) -> &Vec<Diagnostic> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = Diagnostic::error("www.cf", Some(3), "unknown command `foo=1`");
        assert_eq!(e.to_string(), "www.cf:3: unknown command `foo=1`");
        let w = Diagnostic::warning("www.cf", Some(4), "trailing comment");
        assert_eq!(w.to_string(), "www.cf:4: warning: trailing comment");
        let n = Diagnostic::error("www.cf", None, "can not open file");
        assert_eq!(n.to_string(), "www.cf: can not open file");
        let all = Diagnostics(vec![e, n]);
        assert_eq!(
            all.to_string(),
            "www.cf:3: unknown command `foo=1`\nwww.cf: can not open file"
        );
        assert_eq!(all.errors().count(), 2);
    }
}
