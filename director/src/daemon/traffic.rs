//! Reads the kernel's traffic counters for `/metrics` and `director top`.
//!
//! A dump of every service and destination is made on demand: once per scrape, and reused
//! for [`MAX_AGE`] so that scrapes arriving together (several Prometheus servers, `director
//! top`) share one. It goes through its own IPVS handle (a second netlink socket for the
//! kernel) on tokio's blocking pool, so a long dump at a large table never holds the handle
//! the ldirectord loops program the table with, nor a runtime thread.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::ipvs::Snapshot;
use crate::traffic::{self, Names, Traffic};

use super::lvs::{lock, Kernel};

/// How long one dump answers for.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// One dump and when it was made.
struct Reading {
    at: Instant,
    dump: Duration,
    snapshot: Arc<Snapshot>,
}

/// The traffic source of the daemon.
pub struct TrafficReader {
    kernel: Kernel,
    started: Instant,
    last: Mutex<Option<Reading>>,
}

impl TrafficReader {
    /// Read through `kernel` (not the handle the loops apply changes with, when the table is
    /// the kernel's); times are counted from `started`.
    pub fn new(kernel: Kernel, started: Instant) -> TrafficReader {
        TrafficReader {
            kernel,
            started,
            last: Mutex::new(None),
        }
    }

    /// The table's traffic now (a dump at most [`MAX_AGE`] old), under `names`.
    pub async fn read(&self, names: &Names) -> Result<Traffic, String> {
        let mut last = self.last.lock().await;
        let fresh = last.as_ref().is_some_and(|r| r.at.elapsed() < MAX_AGE);
        if !fresh {
            let kernel = Arc::clone(&self.kernel);
            let at = Instant::now();
            let snapshot = tokio::task::spawn_blocking(move || lock(&kernel).dump())
                .await
                .map_err(|e| format!("IPVS dump failed: {e}"))?
                .map_err(|e| format!("IPVS dump failed: {e}"))?;
            *last = Some(Reading {
                at,
                dump: at.elapsed(),
                snapshot: Arc::new(snapshot),
            });
        }
        let Some(r) = last.as_ref() else {
            return Err("no IPVS reading".to_string());
        };
        let taken_ms = millis(r.at.saturating_duration_since(self.started));
        let (snapshot, dump_ms) = (Arc::clone(&r.snapshot), millis(r.dump));
        drop(last);
        Ok(traffic::join(&snapshot, names, taken_ms, dump_ms))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::memory::MemoryIpvs;
    use crate::ipvs::{Change, Dest, Ipvs, Protocol, Service, ServiceKey};

    fn table() -> Kernel {
        let mut m = MemoryIpvs::new();
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.132".parse().unwrap(),
            port: 80,
        };
        m.apply(&[
            Change::AddService(Service::new(key)),
            Change::AddDest(key, Dest::new("192.0.2.250".parse().unwrap(), 80)),
        ])
        .unwrap();
        super::super::lvs::kernel(m)
    }

    #[tokio::test(start_paused = true)]
    async fn one_dump_answers_for_max_age_then_the_next_read_dumps_again() {
        let kernel = table();
        let reader = TrafficReader::new(Arc::clone(&kernel), Instant::now());
        tokio::time::advance(Duration::from_secs(2)).await;
        let first = reader.read(&Names::default()).await.unwrap();
        assert_eq!(first.taken_ms, 2000);
        assert_eq!(first.services[0].name, "tcp:192.0.2.132:80");
        assert_eq!(first.services[0].reals[0].address, "192.0.2.250:80");
        // the table changes; within MAX_AGE the reading is the same one
        lock(&kernel).flush().unwrap();
        tokio::time::advance(MAX_AGE / 2).await;
        let again = reader.read(&Names::default()).await.unwrap();
        assert_eq!(again, first);
        tokio::time::advance(MAX_AGE).await;
        let next = reader.read(&Names::default()).await.unwrap();
        assert!(next.taken_ms > first.taken_ms);
        assert!(next.services.is_empty());
    }
}
