//! ldirectord-style health checks of real servers.
