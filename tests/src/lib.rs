//! End-to-end test support: the lab VM harness and network-namespace helpers.

#[cfg(feature = "netns")]
pub mod netns;
