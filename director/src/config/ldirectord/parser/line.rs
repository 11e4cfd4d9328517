//! The line machine: a [`Parser`] reads the file line by line and hands each line to the
//! global or block directives, keeping ldirectord's notion of where a block ends.

use std::net::{IpAddr, Ipv6Addr};

use super::super::model::{Config, Globals};
use super::super::text::{
    comment_start, hash_in_quotes, indent_columns, inet_aton, is_word, take_while,
};
use super::directive::{is_block, is_global};
use super::raw::{Block, BlockState, RawFallback, Val};
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::resolve::Resolver;
use crate::ipvs::Family;

/// Parse the text of an ldirectord configuration file. `file` names it in diagnostics.
/// Returns the configuration and its warnings, or every error (with the warnings) found.
pub fn parse(
    text: &str,
    file: &str,
    resolver: &dyn Resolver,
) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    let mut p = Parser::new(file, resolver);
    p.read(text);
    let config = p.finish();
    let mut diags = p.diags;
    diags.sort_by_key(|d| if d.line == 0 { usize::MAX } else { d.line });
    if diags.iter().any(Diagnostic::is_error) {
        Err(Diagnostics::new(diags))
    } else {
        Ok((config, diags))
    }
}

/// The reader of one file: its diagnostics, the globals so far and the blocks as written.
pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) resolver: &'a dyn Resolver,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) globals: Globals,
    pub(super) global_fallback: Option<RawFallback>,
    pub(super) global_fallback6: Option<RawFallback>,
    pub(super) blocks: Vec<Block>,
    pub(super) state: BlockState,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, resolver: &'a dyn Resolver) -> Parser<'a> {
        Parser {
            file,
            resolver,
            diags: Vec::new(),
            globals: Globals::default(),
            global_fallback: None,
            global_fallback6: None,
            blocks: Vec::new(),
            state: BlockState::default(),
        }
    }

    pub(super) fn error(&mut self, line: usize, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(
            std::path::Path::new(self.file),
            line,
            msg,
        ));
    }

    pub(super) fn warn(&mut self, line: usize, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(
            std::path::Path::new(self.file),
            line,
            msg,
        ));
    }

    fn read(&mut self, text: &str) {
        let mut cr_warned = false;
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let count = lines.len();
        for (i, raw) in lines.into_iter().enumerate() {
            let no = i + 1;
            let mut line = raw.to_string();
            if line.ends_with('\r') {
                line.pop();
                if !cr_warned {
                    cr_warned = true;
                    self.warn(
                        no,
                        "CRLF (DOS) line ends: ldirectord 1.186 misreads yes/no values on such \
                         lines; read as plain line ends",
                    );
                }
            }
            if line.contains(['\u{201c}', '\u{201d}']) {
                line = line.replace(['\u{201c}', '\u{201d}'], "\"");
                self.warn(
                    no,
                    "typographic quotes (\u{201c} \u{201d}) read as plain double quotes; \
                     ldirectord 1.186 rejects them",
                );
            }
            let blocks = self.blocks.len();
            self.line(no, &line);
            if no == count && self.blocks.len() > blocks {
                self.warn(
                    no,
                    "a virtual line as the last line of the file: ldirectord 1.186 reads it \
                     twice and fails with \"duplicate virtual server\"",
                );
            }
        }
    }

    fn line(&mut self, no: usize, line: &str) {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.trim().is_empty() {
            if !self.blocks.is_empty() && self.state.interrupted.is_none() {
                if self.state.gap.is_none() && indent_columns(line) >= 5 {
                    self.warn(
                        no,
                        "line of only blanks inside a virtual block: ldirectord 1.186 rejects it",
                    );
                }
                self.state.gap.get_or_insert(no);
            }
            return;
        }
        if trimmed.starts_with('#') {
            return;
        }
        let indent = indent_columns(line);
        let (name, after_name) = take_while(trimmed, |c| is_word(c) || c == '-');
        let name = name.to_string();

        if name == "virtual" || name == "virtual6" {
            if let Some(value) = after_name.trim_start().strip_prefix('=') {
                if indent > 0 {
                    self.warn(
                        no,
                        format!(
                            "`{name}=` is indented: ldirectord 1.186 needs it in column 0 \
                             (Unknown command)"
                        ),
                    );
                }
                self.virtual_line(no, &name, value.trim_start());
                return;
            }
        }

        if indent == 0 {
            if is_global(&name) || !is_block(&name) || self.blocks.is_empty() {
                if !self.blocks.is_empty() {
                    self.state.interrupted.get_or_insert(no);
                }
                self.global_line(no, &name, after_name);
            } else {
                self.warn(
                    no,
                    format!(
                        "`{name}` is not indented: read as part of the virtual block at line {}; \
                         ldirectord 1.186 needs block lines indented by 4 or more columns \
                         (Unknown command)",
                        self.blocks.last().map_or(0, |b| b.line)
                    ),
                );
                self.block_line(no, &name, after_name);
            }
            return;
        }

        // Indented line.
        if self.blocks.is_empty() {
            if is_global(&name) {
                self.warn(
                    no,
                    format!(
                        "`{name}` is indented outside a virtual block: read as a global \
                         directive; ldirectord 1.186 needs it in column 0 (Unknown command)"
                    ),
                );
                self.global_line(no, &name, after_name);
            } else if is_block(&name) {
                self.error(
                    no,
                    format!("`{name}` is only valid inside a virtual block, and there is none before it"),
                );
            } else {
                self.unknown(no, trimmed);
            }
            return;
        }
        let block_line = self.blocks.last().map_or(0, |b| b.line);
        if indent < 4 {
            self.warn(
                no,
                format!(
                    "indented by {indent} columns: read as part of the virtual block at line \
                     {block_line}; ldirectord 1.186 needs 4 or more (Unknown command)"
                ),
            );
        }
        if let Some(gap) = self.state.gap.take() {
            self.warn(
                no,
                format!(
                    "read as part of the virtual block at line {block_line}, although the blank \
                     line {gap} ends that block for ldirectord 1.186 (Unknown command)"
                ),
            );
        }
        if let Some(global) = self.state.interrupted.take() {
            self.warn(
                no,
                format!(
                    "read as part of the virtual block at line {block_line}, although the global \
                     directive at line {global} ends that block for ldirectord 1.186 (Unknown \
                     command)"
                ),
            );
        }
        self.block_line(no, &name, after_name);
    }

    pub(super) fn unknown(&mut self, no: usize, text: &str) {
        let text = text.trim_end();
        let hint = if text.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            " (directive names are lowercase)"
        } else {
            ""
        };
        self.error(no, format!("unknown command `{text}`{hint}"));
    }

    /// Split `name = value` and build the cleaned and ldirectord views of the value.
    pub(super) fn value(
        &mut self,
        no: usize,
        name: &str,
        after_name: &str,
        global: bool,
    ) -> Option<Val> {
        let Some(raw) = after_name.trim_start_matches([' ', '\t']).strip_prefix('=') else {
            let full = format!("{name}{after_name}");
            self.unknown(no, &full);
            return None;
        };
        let raw = raw.trim_start();
        let (clean, ld_view, global_comment) = if global {
            let cut = comment_start(raw).map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            (
                cut.trim_end().to_string(),
                raw.to_string(),
                cut.len() != raw.len(),
            )
        } else {
            if hash_in_quotes(raw) {
                self.warn(
                    no,
                    "`#` inside double quotes kept as part of the value; ldirectord 1.186 cuts \
                     block lines at any `#`",
                );
            }
            let cut = comment_start(raw).map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            let ld_cut = raw.find('#').map_or(raw, |i| raw.get(..i).unwrap_or(raw));
            (
                cut.trim_end().to_string(),
                ld_cut.replace('\t', "    "),
                false,
            )
        };
        Some(Val {
            line: no,
            name: name.to_string(),
            clean,
            ld_view,
            global_comment,
        })
    }

    pub(super) fn with_block(&mut self, f: impl FnOnce(&mut Block)) {
        if let Some(b) = self.blocks.last_mut() {
            f(b);
        }
    }

    /// ldirectord's `ld_gethostbyname`: numeric forms first, then the resolver.
    pub(super) fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        match family {
            Family::V4 => {
                if let Some(a) = inet_aton(bare) {
                    return Some(IpAddr::V4(a));
                }
                if bare.contains(':') {
                    return None;
                }
            }
            Family::V6 => {
                if let Ok(a) = bare.parse::<Ipv6Addr>() {
                    return Some(IpAddr::V6(a));
                }
                if bare.contains(':') || inet_aton(bare).is_some() {
                    return None;
                }
            }
        }
        self.resolver.host(bare, family)
    }

    /// ldirectord's `ld_getservbyname`: numbers 0..65535 as they are, names via the resolver.
    pub(super) fn port(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return name.parse::<u16>().ok();
        }
        self.resolver.service(name, protocol)
    }
}
