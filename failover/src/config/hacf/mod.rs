//! `ha.cf`: Heartbeat 3.0.6's main configuration file, in haresources (v1) mode.
//!
//! Parsing follows `config.c:parse_config`:
//! - one directive per line, `#` starts a comment anywhere, names are case-sensitive;
//! - "option" directives split the rest of the line on spaces, tabs and commas and apply
//!   once per value (`node a b` = `node a,b` = two `node` lines);
//! - whole-line directives (`mcast`, `ucast`, `ping_group`, `respawn`, `stonith`, ...) take
//!   the rest of the line;
//! - times are decimal numbers of seconds, or carry an `ms` / `us` suffix (`keepalive 2s` is
//!   invalid, as in Heartbeat);
//! - `udpport` and `baud` apply to media that come after them;
//! - unknown directives are errors; directives that only matter to Heartbeat internals or to
//!   Pacemaker are accepted with a warning saying director ignores them.
//!
//! After the file is read the derived defaults are filled in (warntime = deadtime/2, initdead
//! from deadtime, deadping = deadtime) and Heartbeat's validity checks run.
//!
//! Rooms: what the file says (`model`), directive values (`value`), the parser and its
//! dispatch (`parser`), one method per directive by theme (`media`, `nodes`, `fencing`).

mod daemon;
mod fencing;
mod media;
mod model;
mod nodes;
mod parser;
mod value;

pub use model::{
    default_initdead, AutoFailback, HaCf, Host, Medium, PingNode, Respawn, Serial, Stonith,
    DEFAULT_BAUD, DEFAULT_DEADTIME, DEFAULT_KEEPALIVE, DEFAULT_UDPPORT,
};
pub use parser::parse;
pub use value::{parse_bool, parse_time};

#[cfg(test)]
mod tests;
