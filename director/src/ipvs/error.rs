//! Errors of the IPVS layer, in words a user can act on.

use std::io;

/// What a request was doing when the kernel refused it (ipvsadm words its messages by it):
/// the generic netlink command itself.
pub use super::msg::IpvsCmd;

/// An error from the IPVS layer.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The generic netlink family "IPVS" is not registered.
    #[error("IPVS is not available in this kernel: load the ip_vs module")]
    Unavailable,
    /// The kernel answered a request with a negative errno.
    #[error("{}", kernel_message(*op, *errno, what))]
    Kernel {
        op: IpvsCmd,
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
pub fn errno_text(op: IpvsCmd, errno: i32) -> &'static str {
    match (errno, op) {
        (libc::EEXIST, IpvsCmd::NewService) => "service already exists",
        (libc::EEXIST, IpvsCmd::NewDest) => "destination already exists",
        (libc::EEXIST, IpvsCmd::NewDaemon) => "sync daemon is already running",
        (libc::ESRCH, IpvsCmd::DelDaemon) => "no sync daemon is running",
        (libc::ESRCH, _) => "no such service",
        (libc::ENOENT, IpvsCmd::NewService | IpvsCmd::SetService) => {
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

/// The message of a refused change: what it was, then why, in words; an errno without
/// words of its own gets the system's text and number.
fn kernel_message(op: IpvsCmd, errno: i32, what: &str) -> String {
    let why = match errno_text(op, errno) {
        "unexpected kernel error" => format!(
            "unexpected kernel error: {} (errno {errno})",
            io::Error::from_raw_os_error(errno)
        ),
        text => text.to_string(),
    };
    if what.is_empty() {
        format!("{op:?} failed: {why}")
    } else {
        format!("{what}: {why}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_change_is_named_with_the_reason() {
        let e = IpvsError::Kernel {
            op: IpvsCmd::NewDest,
            errno: libc::EEXIST,
            what: "add real server 198.51.100.1:80 to TCP 192.0.2.10:80".into(),
        };
        assert_eq!(
            e.to_string(),
            "add real server 198.51.100.1:80 to TCP 192.0.2.10:80: destination already exists"
        );
        let e = IpvsError::Kernel {
            op: IpvsCmd::NewService,
            errno: libc::ENOENT,
            what: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "NewService failed: scheduler or persistence engine not found"
        );
        let e = IpvsError::Kernel {
            op: IpvsCmd::SetDest,
            errno: libc::EBUSY,
            what: "edit real server 198.51.100.1:80".into(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("edit real server 198.51.100.1:80: unexpected kernel error: "),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("(errno {})", libc::EBUSY)),
            "{text}"
        );
    }

    #[test]
    fn every_op_and_errno_has_words() {
        for errno in [
            libc::EEXIST,
            libc::ESRCH,
            libc::ENOENT,
            libc::EPERM,
            libc::ERANGE,
            libc::EINVAL,
        ] {
            for op in [
                IpvsCmd::NewService,
                IpvsCmd::SetService,
                IpvsCmd::DelService,
                IpvsCmd::NewDest,
                IpvsCmd::SetDest,
                IpvsCmd::DelDest,
                IpvsCmd::NewDaemon,
                IpvsCmd::DelDaemon,
            ] {
                assert_ne!(errno_text(op, errno), "", "{op:?} {errno}");
            }
        }
        assert_eq!(
            errno_text(IpvsCmd::DelDaemon, libc::ESRCH),
            "no sync daemon is running"
        );
        assert_eq!(
            errno_text(IpvsCmd::DelService, libc::ESRCH),
            "no such service"
        );
        assert_eq!(
            errno_text(IpvsCmd::DelDest, libc::ENOENT),
            "no such destination"
        );
    }
}
