//! The walk's context: the notes it writes, and readers of the values keepalived's statements
//! take (one value, numbers, times, words safe in the generated files).

use super::super::parse::{Loc, Stmt, Tree};
use super::super::Note;

pub(super) struct Ctx<'a> {
    pub(super) tree: &'a Tree,
    pub(super) notes: &'a mut Vec<Note>,
}

impl Ctx<'_> {
    pub(super) fn file(&self, loc: Loc) -> &str {
        &self.tree.files[loc.file]
    }

    pub(super) fn not_carried(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::not_carried(&f, loc.line, message));
    }

    pub(super) fn note(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::info(&f, loc.line, message));
    }

    pub(super) fn error(&mut self, loc: Loc, message: impl Into<String>) {
        let f = self.file(loc).to_string();
        self.notes.push(Note::error(&f, loc.line, message));
    }

    /// `what` followed by the statement as written.
    pub(super) fn unsupported(&mut self, s: &Stmt, context: &str, why: &str) {
        let words = s.words.join(" ");
        let tail = if let Some(id) = s.key().strip_prefix('@') {
            format!(
                " (a line for `keepalived -i {}` only: write the configuration of this node \
                 without conditional lines, then import it)",
                id.trim_start_matches('^')
            )
        } else if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        self.not_carried(s.loc, format!("{words} in {context}{tail}"));
    }

    /// The one argument of `s`, or an error.
    pub(super) fn one<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        match s.args() {
            [a] => Some(a),
            _ => {
                self.error(s.loc, format!("{} takes one value", s.key()));
                None
            }
        }
    }

    pub(super) fn number<T: std::str::FromStr>(&mut self, s: &Stmt) -> Option<T> {
        let v = self.one(s)?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(s.loc, format!("{}: invalid number {v}", s.key()));
                None
            }
        }
    }

    /// The one argument of `s` when it can stand in a generated file as one word: printable
    /// ASCII, no blank, no `"` or `#` (ldirectord would read either as the end of the
    /// value); otherwise an error.
    pub(super) fn word<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        let v = self.one(s)?;
        if plain(v) {
            Some(v)
        } else {
            self.error(
                s.loc,
                format!("{}: {v:?} cannot be written to the generated files (blank, quote, # or an unprintable character)", s.key()),
            );
            None
        }
    }

    /// keepalived's time values: seconds, possibly with a fraction.
    pub(super) fn seconds(&mut self, s: &Stmt) -> Option<f64> {
        let v = self.one(s)?;
        match v.parse::<f64>() {
            Ok(n) if (0.0..1e6).contains(&n) => Some(n),
            _ => {
                self.error(s.loc, format!("{}: invalid time {v}", s.key()));
                None
            }
        }
    }
}

/// Printable ASCII without blank, `"` or `#`: safe as one word in every generated file.
pub(super) fn plain(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '#')
}

/// Whole seconds for ldirectord, which takes no fraction (rounded up, at least 1).
pub(super) fn whole(secs: f64) -> u32 {
    (secs.ceil() as u32).max(1)
}
