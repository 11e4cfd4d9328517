//! Real-time scheduling for the heartbeat thread, as Heartbeat's `realtime on` (its default):
//! a node whose heartbeats are late because the CPU is busy would be declared dead by its
//! peer (a false failover). The only `unsafe` of the failover crate is here.
#![allow(unsafe_code)]

use std::io;

/// Linux `SCHED_RR`.
const SCHED_RR: libc::c_int = 2;
/// Linux `SCHED_RESET_ON_FORK`: threads and processes created by this thread (the resource
/// workers, scripts) start with normal scheduling again.
const SCHED_RESET_ON_FORK: libc::c_int = 0x4000_0000;

/// Puts the calling thread under `SCHED_RR` at `priority` (1..=99), with reset-on-fork.
pub fn make_current_thread_realtime(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the call; pid 0 names
    // the calling thread; the call only changes scheduling attributes.
    let rc = unsafe { libc::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_or_reports_why_not() {
        // Needs CAP_SYS_NICE; either way it must not panic, and on success a thread it
        // creates is back to normal scheduling.
        let t = std::thread::spawn(|| {
            let r = super::make_current_thread_realtime(10);
            let child = std::thread::spawn(|| {
                std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default()
            })
            .join()
            .unwrap_or_default();
            (r.is_ok(), child)
        });
        let (ok, child_stat) = t.join().unwrap_or_default();
        if ok {
            // Field 41 of stat is the policy: 0 = SCHED_OTHER.
            let after_comm = child_stat.rsplit(')').next().unwrap_or_default();
            let policy = after_comm.split_whitespace().nth(39);
            assert_eq!(policy, Some("0"), "{child_stat}");
        }
    }
}
