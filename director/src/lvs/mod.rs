//! The ldirectord behaviour, pure: everything one configuration file decides, with time and
//! every answer from the outside coming in as parameters. `daemon::lvs` is the I/O loop that
//! drives it.
//!
//! - `core`: `Core::step(event, now) -> Vec<Effect>`, the decisions of one file at work
//! - `engine`: configured virtuals + health + kernel table -> desired table, and the words
//! - `reconcile`: the table bookkeeping and the dump / apply protocol of a pass
//! - `mapping`: a parsed file -> virtual specs and one health check per real
//! - `quorum`: keepalived's quorum and hysteresis of a virtual service (`director.conf`)
//! - `alert`: which change is mailed, to whom, and the reminders
//! - `execute`: the `execute=` children to start, stop, reload
//! - `monitor`: monitorfile lines
//! - `maintenance`: the maintenancedir file names of a real
//! - `operator`: what the operator asked of real servers (drain, disable, weight), the drains
//! - `status`: what one file's daemon shows, and its sign of life

pub mod alert;
pub mod core;
pub mod engine;
pub mod execute;
pub mod maintenance;
pub mod mapping;
pub mod monitor;
pub mod operator;
pub mod quorum;
pub mod reconcile;
pub mod status;

pub use self::core::{Core, CoreOptions, Effect, Event, Loaded, ReloadCause};
pub use self::status::{stall_after, LvsStatus, Progress};
