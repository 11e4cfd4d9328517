//! Errors of the IPVS layer, in words a user can act on.

use std::io;

/// What a request was doing when the kernel refused it (ipvsadm words its messages by this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    NewService,
    SetService,
    DelService,
    GetService,
    NewDest,
    SetDest,
    DelDest,
    GetDest,
    NewDaemon,
    DelDaemon,
    GetDaemon,
    SetConfig,
    GetConfig,
    GetInfo,
    Zero,
    Flush,
}

/// An error from the IPVS layer.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The generic netlink family "IPVS" is not registered.
    #[error("IPVS is not available in this kernel: load the ip_vs module")]
    Unavailable,
    /// The kernel answered a request with a negative errno.
    #[error("{op:?} failed: {}", errno_text(*op, *errno))]
    Kernel {
        op: Op,
        /// Positive errno value (`libc::EEXIST`, ...).
        errno: i32,
        /// The change that failed, in words (`add real server 198.51.100.1:80 to TCP 192.0.2.10:80`).
        what: String,
    },
    /// A socket error.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel sent something we cannot read.
    #[error("cannot decode the kernel's reply: {0}")]
    Decode(String),
}

/// The words for an errno returned by an IPVS operation.
pub fn errno_text(op: Op, errno: i32) -> &'static str {
    match (errno, op) {
        (libc::EEXIST, Op::NewService) => "service already exists",
        (libc::EEXIST, Op::NewDest) => "destination already exists",
        (libc::EEXIST, Op::NewDaemon) => "sync daemon is already running",
        (libc::ESRCH, Op::DelDaemon) => "no sync daemon is running",
        (libc::ESRCH, _) => "no such service",
        (libc::ENOENT, Op::NewService | Op::SetService) => {
            "scheduler or persistence engine not found"
        }
        (libc::ENOENT, _) => "no such destination",
        (libc::EPERM, _) => "permission denied (you must be root)",
        (libc::ERANGE, _) => {
            "numerical value out of range (negative weight or lower threshold above upper)"
        }
        (libc::EAFNOSUPPORT, _) => "address family not supported (is IPv6 disabled?)",
        (libc::ENODEV, _) => "no such network interface",
        (libc::EINVAL, _) => {
            "invalid request (address not unicast, mixed address families, or bad value)"
        }
        _ => "unexpected kernel error",
    }
}
