//! keepalived.conf text -> a tree of statements, with `include`s spliced in.
//!
//! keepalived reads its file as lines of words: `!` and `#` start a comment (outside double
//! quotes), `{` and `}` are words of their own even when written against another word, and a
//! double-quoted string is one word without its quotes. A statement is the words of one line;
//! a `{` (at the end of that line or alone on the next) opens its block, which the matching
//! `}` closes. `include PATTERN` is replaced by the files the glob matches, in sorted order,
//! relative to the including file's directory when not absolute, at any depth, as keepalived
//! does. Every problem is collected with its `file:line`; parsing goes on after each.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Note, Source};

/// How deep includes may nest (keepalived stops at the same depth).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Where a statement was written: an index into [`Tree::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: usize,
    pub line: usize,
}

/// One statement: its words and, when it opened one, its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    pub loc: Loc,
    pub words: Vec<String>,
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    /// The first word (the keyword).
    pub fn key(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    /// The words after the keyword.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The statements of the block (none when the statement opened no block).
    pub fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Every statement of a file and the files it included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// The files read, the main file first, as their names are shown in messages.
    pub files: Vec<String>,
    pub stmts: Vec<Stmt>,
}

/// A word or a brace, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Open,
    Close,
}

/// One line's tokens.
#[derive(Debug)]
struct Line {
    loc: Loc,
    tokens: Vec<Token>,
}

/// Reads `path` and everything it includes through `source`. Problems (an unreadable file,
/// an unclosed block, an include that matches nothing) go to `notes`; what could be read is
/// returned.
pub fn read(path: &Path, source: &dyn Source, notes: &mut Vec<Note>) -> Tree {
    let mut reader = Reader {
        source,
        files: Vec::new(),
        lines: Vec::new(),
        active: BTreeSet::new(),
    };
    reader.file(path, None, 0, notes);
    let stmts = statements(&reader.lines, &reader.files, notes);
    Tree {
        files: reader.files,
        stmts,
    }
}

/// Parses `text` as one file named `name`, with no includes (they are reported): the pure
/// entry point for tests and the fuzzer.
pub fn parse_text(name: &str, text: &str, notes: &mut Vec<Note>) -> Tree {
    let files = vec![name.to_string()];
    let mut lines = Vec::new();
    tokenize(text, 0, &files, &mut lines, notes);
    let stmts = statements(&lines, &files, notes);
    Tree { files, stmts }
}

struct Reader<'a> {
    source: &'a dyn Source,
    files: Vec<String>,
    lines: Vec<Line>,
    /// The files being read (include cycles).
    active: BTreeSet<PathBuf>,
}

impl Reader<'_> {
    fn file(
        &mut self,
        path: &Path,
        from: Option<(Loc, &[String])>,
        depth: usize,
        notes: &mut Vec<Note>,
    ) {
        let text = match self.source.read(path) {
            Ok(t) => t,
            Err(e) => {
                let message = format!("cannot read {}: {e}", path.display());
                notes.push(match from {
                    Some((loc, files)) => Note::error(&files[loc.file], loc.line, message),
                    None => Note::error(&path.display().to_string(), 0, message),
                });
                return;
            }
        };
        let index = self.files.len();
        self.files.push(path.display().to_string());
        self.active.insert(path.to_path_buf());
        let mut lines = Vec::new();
        tokenize(&text, index, &self.files, &mut lines, notes);
        for line in lines {
            let include = matches!(line.tokens.first(), Some(Token::Word(w)) if w == "include");
            if !include {
                self.lines.push(line);
                continue;
            }
            let patterns: Vec<String> = line.tokens[1..]
                .iter()
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            let name = self.files[line.loc.file].clone();
            if patterns.len() != 1 || line.tokens.len() != 2 {
                notes.push(Note::error(
                    &name,
                    line.loc.line,
                    "include takes one file name or pattern",
                ));
                continue;
            }
            if depth + 1 > MAX_INCLUDE_DEPTH {
                notes.push(Note::error(
                    &name,
                    line.loc.line,
                    format!(
                        "include {}: includes nested deeper than {MAX_INCLUDE_DEPTH}",
                        patterns[0]
                    ),
                ));
                continue;
            }
            let pattern = match Path::new(&patterns[0]) {
                p if p.is_absolute() => p.to_path_buf(),
                p => path.parent().unwrap_or(Path::new("")).join(p),
            };
            let found = match self.source.glob(&pattern) {
                Ok(found) => found,
                Err(e) => {
                    notes.push(Note::error(
                        &name,
                        line.loc.line,
                        format!("include {}: {e}", patterns[0]),
                    ));
                    continue;
                }
            };
            if found.is_empty() {
                // keepalived logs this and goes on; the import says so.
                notes.push(Note::not_carried(
                    &name,
                    line.loc.line,
                    format!(
                        "include {}: no file matches (keepalived skips it too)",
                        patterns[0]
                    ),
                ));
            }
            for f in found {
                if self.active.contains(&f) {
                    notes.push(Note::error(
                        &name,
                        line.loc.line,
                        format!("include {}: {} includes itself", patterns[0], f.display()),
                    ));
                    continue;
                }
                let files = self.files.clone();
                self.file(&f, Some((line.loc, &files)), depth + 1, notes);
            }
        }
        self.active.remove(path);
    }
}

/// Splits `text` into lines of tokens (comments, blank lines dropped).
fn tokenize(text: &str, file: usize, files: &[String], out: &mut Vec<Line>, notes: &mut Vec<Note>) {
    for (i, raw) in text.lines().enumerate() {
        let loc = Loc { file, line: i + 1 };
        let mut tokens = Vec::new();
        let mut chars = raw.chars();
        let mut word = String::new();
        let flush = |word: &mut String, tokens: &mut Vec<Token>| {
            if !word.is_empty() {
                tokens.push(Token::Word(std::mem::take(word)));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '!' | '#' => break,
                '{' => {
                    flush(&mut word, &mut tokens);
                    tokens.push(Token::Open);
                }
                '}' => {
                    flush(&mut word, &mut tokens);
                    tokens.push(Token::Close);
                }
                '"' => {
                    let mut closed = false;
                    for q in chars.by_ref() {
                        if q == '"' {
                            closed = true;
                            break;
                        }
                        word.push(q);
                    }
                    if !closed {
                        notes.push(Note::error(
                            &files[file],
                            i + 1,
                            "unterminated quoted string",
                        ));
                    }
                    // An empty "" is still a word.
                    tokens.push(Token::Word(std::mem::take(&mut word)));
                }
                c if c.is_whitespace() => flush(&mut word, &mut tokens),
                c => word.push(c),
            }
        }
        flush(&mut word, &mut tokens);
        if !tokens.is_empty() {
            out.push(Line { loc, tokens });
        }
    }
}

/// A token of the flattened stream: a line's tokens followed by an end-of-line marker.
enum Item<'a> {
    Token(Loc, &'a Token),
    Eol,
}

fn stream(lines: &[Line]) -> Vec<Item<'_>> {
    let mut out = Vec::new();
    for l in lines {
        out.extend(l.tokens.iter().map(|t| Item::Token(l.loc, t)));
        out.push(Item::Eol);
    }
    out
}

/// Parses the statements of all `lines`.
fn statements(lines: &[Line], files: &[String], notes: &mut Vec<Note>) -> Vec<Stmt> {
    let items = stream(lines);
    let mut pos = 0;
    let mut out = block(&items, &mut pos, None, files, notes);
    // Stray `}` at top level were reported; go on with what follows them.
    while pos < items.len() {
        out.extend(block(&items, &mut pos, None, files, notes));
    }
    out
}

/// Reads statements until the `}` that closes the block opened at `opened` (or the end).
fn block(
    items: &[Item<'_>],
    pos: &mut usize,
    opened: Option<Loc>,
    files: &[String],
    notes: &mut Vec<Note>,
) -> Vec<Stmt> {
    let mut out: Vec<Stmt> = Vec::new();
    let mut current: Option<Stmt> = None;
    while let Some(item) = items.get(*pos) {
        *pos += 1;
        match item {
            Item::Eol => out.extend(current.take()),
            Item::Token(loc, Token::Word(w)) => match &mut current {
                Some(s) if s.block.is_none() => s.words.push(w.clone()),
                _ => {
                    out.extend(current.take());
                    current = Some(Stmt {
                        loc: *loc,
                        words: vec![w.clone()],
                        block: None,
                    });
                }
            },
            Item::Token(loc, Token::Open) => {
                // The block belongs to the statement of this line, or to the one of the
                // previous line when `{` starts its own line.
                let owner = match current.take() {
                    Some(s) if s.block.is_none() => Some(s),
                    Some(s) => {
                        out.push(s);
                        None
                    }
                    None if out.last().is_some_and(|s| s.block.is_none()) => out.pop(),
                    None => None,
                };
                if owner.is_none() {
                    notes.push(Note::error(
                        &files[loc.file],
                        loc.line,
                        "'{' opens a block with no keyword before it",
                    ));
                }
                let children = block(items, pos, Some(*loc), files, notes);
                match owner {
                    Some(mut s) => {
                        s.block = Some(children);
                        current = Some(s);
                    }
                    None => out.extend(children),
                }
            }
            Item::Token(loc, Token::Close) => {
                out.extend(current.take());
                if opened.is_some() {
                    return out;
                }
                notes.push(Note::error(
                    &files[loc.file],
                    loc.line,
                    "'}' closes no block",
                ));
                return out;
            }
        }
    }
    out.extend(current.take());
    if let Some(o) = opened {
        notes.push(Note::error(
            &files[o.file],
            o.line,
            "block opened here is never closed",
        ));
    }
    out
}
