//! The import itself: the file read through a [`Source`], parsed, converted, rendered, and
//! every generated file loaded once by the parser that will read it.

use std::path::{Path, PathBuf};

use super::check::unloadable;
use super::note::{Kind, Note};
use super::{convert, parse, render};

/// Where the importer reads files from: the filesystem in the command, a map in tests.
pub trait Source {
    /// The text of one file.
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// The existing files an include pattern matches, sorted (keepalived uses glob(3)).
    fn glob(&self, pattern: &Path) -> std::io::Result<Vec<PathBuf>>;
}

/// What the user tells the importer that keepalived.conf does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// This node's name (`uname -n`): the file describes this node.
    pub node: String,
    /// The other node's name; needed when the file has a vrrp_instance.
    pub peer: Option<String>,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Name relative to the output directory (`ha.cf`, `resource.d/...`).
    pub name: String,
    pub text: String,
    /// Unix permission bits (`authkeys`: 0o600).
    pub mode: u32,
}

/// The result of an import: the files (empty when there is an error) and every note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Import {
    pub files: Vec<OutFile>,
    pub notes: Vec<Note>,
}

/// Exit status of `director import`: everything carried over.
pub const EXIT_COMPLETE: i32 = 0;
/// Exit status: the input could not be imported; nothing was written.
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the files were written, but something was not carried over.
pub const EXIT_INCOMPLETE: i32 = 3;

impl Import {
    /// True when some note is an error: nothing should be written.
    pub fn failed(&self) -> bool {
        self.notes.iter().any(|n| n.kind == Kind::Error)
    }

    /// True when something was not carried over.
    pub fn incomplete(&self) -> bool {
        self.notes.iter().any(|n| n.kind == Kind::NotCarried)
    }

    /// The exit status the command reports for this result.
    pub fn exit_code(&self) -> i32 {
        if self.failed() {
            EXIT_ERROR
        } else if self.incomplete() {
            EXIT_INCOMPLETE
        } else {
            EXIT_COMPLETE
        }
    }
}

/// Imports `path` (and what it includes, read through `source`).
pub fn import(path: &Path, source: &dyn Source, options: &Options) -> Import {
    let mut notes = Vec::new();
    let tree = parse::read(path, source, &mut notes);
    finish(tree, options, notes)
}

/// Imports one file's text with no includes: tests and the fuzzer.
pub fn import_text(name: &str, text: &str, options: &Options) -> Import {
    let mut notes = Vec::new();
    let tree = parse::parse_text(name, text, &mut notes);
    finish(tree, options, notes)
}

fn finish(tree: parse::Tree, options: &Options, mut notes: Vec<Note>) -> Import {
    let model = convert::convert(&tree, options, &mut notes);
    // In the order of the input: files as they were read, then lines.
    let order = |n: &Note| {
        tree.files
            .iter()
            .position(|f| *f == n.file)
            .unwrap_or(usize::MAX)
    };
    notes.sort_by_key(|n| (order(n), n.line));
    let mut files = if notes.iter().any(|n| n.kind == Kind::Error) {
        Vec::new()
    } else {
        render::render(&model, &tree)
    };
    // The last word: every generated file must load with the parser that will read it. A
    // file that does not is this importer's mistake; it is reported at the keepalived line
    // the refused part came from, and nothing is written.
    let refused = unloadable(&files, tree.files.first().map_or("", String::as_str));
    if !refused.is_empty() {
        notes.extend(refused);
        files.clear();
    }
    Import { files, notes }
}
