//! `director import`: other tools' configurations turned into the files director runs.
//!
//! - `keepalived`: keepalived.conf -> ha.cf, authkeys, haresources, ldirectord files (pure)
//! - `fs`: the command itself: reads through the filesystem, writes the output directory

pub mod fs;
pub mod keepalived;
