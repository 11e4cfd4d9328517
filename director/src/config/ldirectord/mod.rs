//! ldirectord's configuration format, read exactly as ldirectord 1.186 reads it, with its
//! parser quirks accepted (and warned about) instead of rejected.
//!
//! - `model`: the typed result (`Config`, `Globals`, `VirtualService`, `Real`, ...)
//! - `parser`: `parse(text, file, resolver)`, the pure line machine: one method per directive
//! - `table`: `desired_table(&Config)`, the IPVS table with every real server up
//! - `text`: value rules (first digit run, inet_aton, comments, indentation)
//! - `load`: `load(path, resolver)`, the file read and parsed (I/O); `open_logfile`

mod load;
mod model;
mod parser;
mod table;
mod text;

#[cfg(test)]
mod tests;

pub use load::{load, open_logfile};
pub use model::*;
pub(crate) use parser::MAX_PERSISTENT;
pub use parser::{parse, MAX_RANGE, SCHEDULERS};
pub use table::{configured_dest, desired_table, service_config, service_key};
