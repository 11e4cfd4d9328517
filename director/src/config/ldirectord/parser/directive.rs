//! The directive names ldirectord knows, where each may stand, and the limits of their values.

/// Schedulers the Linux kernel provides (`ip_vs_*.ko`).
pub const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Largest address range a `real=a->b` line may expand to.
pub const MAX_RANGE: u32 = 65536;

/// Persistence timeouts ipvsadm accepts (`-p`): 1 s .. 31 days.
pub(crate) const MAX_PERSISTENT: u32 = 86400 * 31;
/// Weights ipvsadm 1.31 accepts (`-w`).
pub(super) const MAX_WEIGHT: u32 = 65535;
/// Connection thresholds ipvsadm accepts (`-x` / `-y`).
pub(super) const MAX_THRESHOLD: u32 = i32::MAX as u32;

/// Directives accepted only inside a virtual block.
const BLOCK_ONLY: [&str; 24] = [
    "real",
    "real6",
    "request",
    "receive",
    "checktype",
    "checkcommand",
    "checkport",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
    "scheduler",
    "persistent",
    "schedflags",
    "netmask",
    "protocol",
    "ops",
    "service",
    "httpmethod",
    "virtualhost",
    "monitorfile",
    "servicename",
    "comment",
];

/// Directives accepted both globally and inside a block.
const BOTH: [&str; 16] = [
    "checktimeout",
    "negotiatetimeout",
    "connecttimeout",
    "checkcount",
    "failurecount",
    "checkinterval",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "quiescent",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "smtp",
    "cleanstop",
    "tlsverify",
];

/// Directives accepted only at global level.
pub(super) const GLOBAL_ONLY: [&str; 10] = [
    "autoreload",
    "callback",
    "logfile",
    "execute",
    "fork",
    "supervised",
    "readdquiescent",
    "emailalertfrom",
    "maintenancedir",
    "timeout",
];

pub(super) fn is_global(name: &str) -> bool {
    GLOBAL_ONLY.contains(&name) || BOTH.contains(&name)
}

pub(super) fn is_block(name: &str) -> bool {
    BLOCK_ONLY.contains(&name) || BOTH.contains(&name)
}

/// Syslog facilities (`logfile="local0"`).
pub(super) const SYSLOG_FACILITIES: [&str; 20] = [
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
