//! Heartbeat-compatible failover of virtual IPs between two directors.
