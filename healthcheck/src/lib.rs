//! ldirectord-style health checks of real servers.
//!
//! - `spec`: validated check definitions with ldirectord's defaults and effective timeouts
//! - `tracker`: up/down from consecutive outcomes (failurecount), combined-check alternation
//! - `negotiate`: what a negotiate check sends and expects (request, receive, method, TLS)
//! - `page`: what an HTTP check expects of a page (keepalived's status codes and digests)
//! - `error`: why a probe failed
//! - `judge`: response + expectation -> outcome (HTTP status and `receive`, exit codes)
//! - `probe`: the I/O of one check, one module per service
//! - `process`: child processes bounded as a whole process group, with a clean environment
//! - `runner`: runs every check on its interval, concurrently and bounded, and reports
//!   transitions on a channel

pub mod error;
pub mod judge;
pub mod negotiate;
pub mod page;
pub mod probe;
pub mod process;
pub mod runner;
pub mod spec;
pub mod tracker;
