//! Diagnostics: what a config reader reports, always as `file:line: message`
//! (`file:line: warning: message`, `file: message` for the file as a whole, line 0).
//!
//! One type for every parser of the workspace: failover's, which Heartbeat's files use too.
//! [`Diagnostics`] is the error of `load` / `parse`: every error found in a file and the
//! warnings that came with them, one per line when displayed.

pub use failover::config::{ConfigError as Diagnostics, Diagnostic, Severity};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = Diagnostic::error(Path::new("www.cf"), 3, "unknown command `foo=1`");
        assert_eq!(e.to_string(), "www.cf:3: unknown command `foo=1`");
        let w = Diagnostic::warning(Path::new("www.cf"), 4, "trailing comment");
        assert_eq!(w.to_string(), "www.cf:4: warning: trailing comment");
        let n = Diagnostic::error(Path::new("www.cf"), 0, "can not open file");
        assert_eq!(n.to_string(), "www.cf: can not open file");
        let all = Diagnostics::new(vec![e, n]);
        assert_eq!(
            all.to_string(),
            "www.cf:3: unknown command `foo=1`\nwww.cf: can not open file"
        );
        assert_eq!(all.errors().count(), 2);
    }
}
