//! The line machine: ldirectord's file syntax (ref ldirectord.md sections 2-4).
//!
//! Lines are read in one pass into raw global settings and raw blocks; names are resolved and
//! effective values computed at the end, once every global is known (ldirectord also applies
//! globals to blocks only after the whole file is read).
//!
//! - `line`: `parse`, and the `Parser` that reads the file line by line
//! - `directive`: the directive names, where each may stand, the limits of their values
//! - `raw`: the file as written (values, virtual blocks, real lines)
//! - `global`, `block`, `real`: one method per directive; `value`: the rules they share
//! - `build`: the raw file -> [`Config`](super::Config), once every global is known

mod block;
mod build;
mod directive;
mod global;
mod line;
mod raw;
mod real;
mod value;

pub(crate) use directive::MAX_PERSISTENT;
pub use directive::{MAX_RANGE, SCHEDULERS};
pub use line::parse;
#[cfg(test)]
pub(crate) use real::dedup_reals;
