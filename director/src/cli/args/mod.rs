//! ipvsadm 1.31's command line: `parse_options` + the checks of `process_options`, with its
//! exact messages. Pure apart from the name lookups of the `Resolver` it is given.
//!
//! - `command`: the commands and options, their names and bits, and what each command allows
//! - `parse`: `parse`, popt's walk over the command line; `parsed`: what it returns
//! - `check`: `process_options`' checks; `value`: the value parsers; `usage`: the help texts

mod check;
mod command;
mod parse;
mod parsed;
mod usage;
mod value;

pub use command::{fmt, opt, Cmd, AF_INET, AF_INET6, CONN_F_DROUTE, CONN_F_MASQ, CONN_F_TUNNEL};
pub use parse::parse;
pub use parsed::{DaemonArgs, DestArgs, Parsed, Stop, SvcArgs};
pub use usage::{usage, version_line};
pub use value::addr_of;
