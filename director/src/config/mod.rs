//! Configuration files director reads, in the formats their original tools define.
//!
//! - `ldirectord`: ldirectord's virtual-service files (`ldirectord.cf`, `www.cf`):
//!   `parse` / `load` -> typed `Config`, and `desired_table` -> the IPVS table
//! - `lookup`: finding a named file (`www`, `www.cf`) in `/etc/ha.d` and `/etc/ha.d/conf`
//! - `service`: `director.conf`'s `[[service]]` tables laid over an ldirectord file
//! - `resolve`: host and port names (`Resolver`; `SystemResolver`, `StaticResolver`)
//! - `diag`: `Diagnostic` (`file:line: message`) and `Diagnostics` (every error at once)

pub mod diag;
pub mod ldirectord;
pub mod lookup;
pub mod resolve;
pub mod service;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use lookup::{locate, Located, DEFAULT_NAME};
pub use resolve::{Resolver, Services, StaticResolver, SystemResolver};
