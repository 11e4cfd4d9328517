//! End-to-end test support.
//!
//! - [`lab`]: run shell scenarios inside the lab VM, a qemu guest booting
//!   Debian's kernel with IPVS (`tests/lab/vm-run`, `tests/lab/scenarios/`).
//! - `netns` (feature `netns`): network namespaces on a bridge for failover tests.
//! - `pair` (feature `netns`): a director failover pair and a client in namespaces.
//! - `hbnode` (feature `netns`): one node of the pair running the real Heartbeat 3.0.6.
//! - `bench` (feature `bench`): what the health-check benchmark's programs share (the reals'
//!   addresses).
//!
//! The tests that boot the VM are in `tests/tests/` and are built only with the
//! `lab` feature: `cargo test -p tests --features lab -- --test-threads=1`.

#[cfg(feature = "bench")]
pub mod bench;
pub mod build;
#[cfg(feature = "netns")]
pub mod hbnode;
pub mod lab;
#[cfg(feature = "netns")]
pub mod netns;
#[cfg(feature = "netns")]
pub mod pair;
