//! The daemon: glue between the configuration, the health checks, the IPVS table, failover,
//! the control socket, signals and metrics.

pub mod reconcile;
