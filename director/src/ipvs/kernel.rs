//! The `Ipvs` trait: the table operations director needs, whatever kernel answers them.

use super::error::IpvsError;
use super::model::{
    Change, Info, ServiceEntry, ServiceKey, Snapshot, SyncDaemon, SyncState, Timeouts,
};

/// Everything director asks of the kernel's IPVS table. `client::Client` is the real kernel;
/// `memory::MemoryIpvs` an in-memory one with the same rules, for tests.
pub trait Ipvs {
    /// `GET_INFO`.
    fn info(&mut self) -> Result<Info, IpvsError>;
    /// All services with their destinations (service dump, then one dest dump per service),
    /// in kernel dump order.
    fn dump(&mut self) -> Result<Snapshot, IpvsError>;
    /// One service (`GET_SERVICE` doit: `ESRCH` when missing) with its destinations.
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError>;
    /// Apply changes in order, many in flight at once, and return the first refused change's
    /// error (naming the change). The changes before it stay applied; the ones sent with it in
    /// the same batch may have been applied too, the later batches are not sent: after an error
    /// the table is known only by dumping it again.
    fn apply(&mut self, changes: &[Change]) -> Result<(), IpvsError>;
    /// Apply every change independently, in order, many in flight at once: a refused change
    /// does not stop the ones after it (what `ipvsadm -R` does line by line). One result per
    /// change; the outer error is a failure of the channel itself (nothing is known after it).
    fn apply_each(&mut self, changes: &[Change]) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        Ok(changes
            .iter()
            .map(|c| self.apply(std::slice::from_ref(c)))
            .collect())
    }
    /// `ZERO`: reset the counters of one service, or of all.
    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError>;
    /// `FLUSH`: remove every service.
    fn flush(&mut self) -> Result<(), IpvsError>;
    /// `GET_CONFIG`.
    fn timeouts(&mut self) -> Result<Timeouts, IpvsError>;
    /// `SET_CONFIG` (a zero value leaves that timeout unchanged).
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), IpvsError>;
    /// `GET_DAEMON`: the running sync daemons, master first.
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError>;
    /// `NEW_DAEMON`.
    fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), IpvsError>;
    /// `DEL_DAEMON`.
    fn stop_daemon(&mut self, state: SyncState) -> Result<(), IpvsError>;
}
