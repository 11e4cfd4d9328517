//! `director import keepalived FILE --out DIR`: a keepalived.conf (and its includes) turned
//! into the files director runs: `ha.cf`, `authkeys`, `haresources`, ldirectord files and
//! `director.conf`.
//!
//! - `parse`: the text -> a tree of statements, includes spliced in (globs as keepalived)
//! - `convert`: the tree -> what each generated file says, and a [`Note`] for everything that
//!   has no equivalent (nothing is dropped without one)
//! - `render`: that model -> the files' text
//! - `glob`: keepalived's include patterns (`*`, `?`, `[...]`), matched without I/O
//!
//! All of it is pure: files are read through a [`Source`], and the result is a list of
//! [`OutFile`]s the command writes.

mod convert;
pub mod glob;
mod model;
pub mod parse;
mod render;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

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

/// Errors of the generated `director.conf` as director reads it: its own, and those of its
/// tables laid over the generated ldirectord files they name.
fn director_conf_errors(
    files: &[OutFile],
    conf: &OutFile,
    resolver: &dyn crate::config::Resolver,
) -> Vec<(Option<usize>, String)> {
    let path = Path::new(&conf.name);
    let parsed = match failover::config::settings::parse(path, &conf.text) {
        Ok(p) => p.value,
        Err(e) => {
            return e
                .errors()
                .map(|d| (Some(d.line).filter(|l| *l > 0), d.message.clone()))
                .collect()
        }
    };
    let mut errors = Vec::new();
    for s in &parsed.services {
        let target = files.iter().find(|f| {
            f.name.ends_with(".cf") && crate::config::service::names(&s.file, Path::new(&f.name))
        });
        let Some(target) = target else {
            errors.push((
                Some(s.line),
                format!("no generated ldirectord file {}", s.file),
            ));
            continue;
        };
        let Ok((mut config, _)) =
            crate::config::ldirectord::parse(&target.text, &target.name, resolver)
        else {
            continue; // the ldirectord file's own errors are reported with it
        };
        let applied = crate::config::service::apply(
            &mut config,
            Path::new(&target.name),
            path,
            std::slice::from_ref(s),
        );
        errors.extend(applied.into_iter().map(|d| (Some(d.line), d.message)));
    }
    errors
}

/// Errors of the generated files as their own parsers see them, each placed at the
/// `# FILE:LINE` origin comment above the refused line (the renderer writes one above every
/// block), else at `input` as a whole.
fn unloadable(files: &[OutFile], input: &str) -> Vec<Note> {
    let resolver = crate::config::StaticResolver::new(crate::config::Services::parse(""));
    let mut notes = Vec::new();
    for f in files {
        let path = Path::new(&f.name);
        let errors: Vec<(Option<usize>, String)> = match f.name.as_str() {
            "ha.cf" => failover::config::hacf::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "haresources" => failover::config::haresources::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "authkeys" => failover::config::authkeys::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "director.conf" => director_conf_errors(files, f, &resolver),
            name if name.ends_with(".cf") => {
                match crate::config::ldirectord::parse(&f.text, name, &resolver) {
                    Ok(_) => Vec::new(),
                    Err(d) => d
                        .errors()
                        .map(|e| (Some(e.line).filter(|l| *l > 0), e.message.clone()))
                        .collect(),
                }
            }
            _ => Vec::new(),
        };
        for (line, message) in errors {
            let origin = line.and_then(|l| {
                let above: Vec<&str> = f.text.lines().take(l).collect();
                above
                    .into_iter()
                    .rev()
                    .find_map(|t| t.strip_prefix("# ")?.rsplit_once(':'))
                    .and_then(|(file, n)| Some((file.to_string(), n.parse::<usize>().ok()?)))
            });
            let (file, at) = origin.unwrap_or_else(|| (input.to_string(), 0));
            notes.push(Note::error(
                &file,
                at,
                format!(
                    "the generated {}{} would not load: {message} (an importer bug: please \
                     report it with this file)",
                    f.name,
                    line.map(|l| format!(":{l}")).unwrap_or_default()
                ),
            ));
        }
    }
    notes
}
