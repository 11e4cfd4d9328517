//! `director import keepalived FILE --out DIR`: a keepalived.conf (and its includes) turned
//! into the files director runs: `ha.cf`, `authkeys`, `haresources`, ldirectord files and
//! `director.conf`.
//!
//! - `parse`: the text -> a tree of statements, includes spliced in (globs as keepalived)
//! - `convert`: the tree -> what each generated file says, and a [`Note`] for everything that
//!   has no equivalent (nothing is dropped without one)
//! - `render`: that model -> the files' text
//! - `glob`: keepalived's include patterns (`*`, `?`, `[...]`), matched without I/O
//! - `import`: [`import`] / [`import_text`], the steps above in order, and what they take and
//!   give; `check`: every generated file loaded by its own parser; `note`: the [`Note`]s
//!
//! All of it is pure: files are read through a [`Source`], and the result is a list of
//! [`OutFile`]s the command writes.

mod check;
mod convert;
pub mod glob;
mod import;
mod model;
mod note;
pub mod parse;
mod render;

#[cfg(test)]
mod tests;

pub use import::{
    import, import_text, Import, Options, OutFile, Source, EXIT_COMPLETE, EXIT_ERROR,
    EXIT_INCOMPLETE,
};
pub use note::{Kind, Note};
