//! ipvsadm's commands and options: their names, their bits, which a command or a tunnel
//! type allows, and the constants of `ip_vs.h` the parser fills in.

/// ipvsadm's commands (`CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

pub(super) const CMDNAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// Option bits (`OPTC_*` positions).
pub mod opt {
    pub const NUMERIC: u32 = 0;
    pub const CONNECTION: u32 = 1;
    pub const SERVICE: u32 = 2;
    pub const SCHEDULER: u32 = 3;
    pub const PERSISTENT: u32 = 4;
    pub const NETMASK: u32 = 5;
    pub const SERVER: u32 = 6;
    pub const FORWARD: u32 = 7;
    pub const WEIGHT: u32 = 8;
    pub const UTHRESHOLD: u32 = 9;
    pub const LTHRESHOLD: u32 = 10;
    pub const MCAST: u32 = 11;
    pub const TIMEOUT: u32 = 12;
    pub const DAEMON: u32 = 13;
    pub const STATS: u32 = 14;
    pub const RATE: u32 = 15;
    pub const THRESHOLDS: u32 = 16;
    pub const PERSISTENTCONN: u32 = 17;
    pub const NOSORT: u32 = 18;
    pub const SYNCID: u32 = 19;
    pub const EXACT: u32 = 20;
    pub const ONEPACKET: u32 = 21;
    pub const PERSISTENCE_ENGINE: u32 = 22;
    pub const SCHED_FLAGS: u32 = 23;
    pub const MCAST_GROUP: u32 = 24;
    pub const MCAST_PORT: u32 = 25;
    pub const MCAST_TTL: u32 = 26;
    pub const SYNC_MAXLEN: u32 = 27;
    pub const TUN_INFO: u32 = 28;
    pub const TUN_TYPE: u32 = 29;
    pub const TUN_PORT: u32 = 30;
    pub const TUN_NOCSUM: u32 = 31;
    pub const TUN_CSUM: u32 = 32;
    pub const TUN_REMCSUM: u32 = 33;
}

pub(super) const OPTNAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// `commands_v_options`: '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
pub(super) const COMMANDS_V_OPTIONS: [[u8; 34]; 14] = [
    *b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // ADD
    *b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // EDIT
    *b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // DEL
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // FLUSH
    *b" 11xxxxxxxxx11       xxxxxxx xxxxx", // LIST
    *b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // ADDSRV
    *b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // DELSRV
    *b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // EDITSRV
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // TIMEOUT
    *b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // STARTD
    *b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // STOPD
    *b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // RESTORE
    *b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // SAVE
    *b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // ZERO
];

pub(super) const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];
pub(super) const TUNOPTS: [u32; 4] = [
    opt::TUN_PORT,
    opt::TUN_NOCSUM,
    opt::TUN_CSUM,
    opt::TUN_REMCSUM,
];
/// `tunnel_types_v_options`.
pub(super) const TUNNEL_TYPES_V_OPTIONS: [[u8; 4]; 3] = [*b"xxxx", *b"+111", *b"x11x"];

/// Printing format flags (`FMT_*`).
pub mod fmt {
    pub const NUMERIC: u32 = 0x0001;
    pub const RULE: u32 = 0x0002;
    pub const STATS: u32 = 0x0004;
    pub const RATE: u32 = 0x0008;
    pub const THRESHOLDS: u32 = 0x0010;
    pub const PERSISTENTCONN: u32 = 0x0020;
    pub const NOSORT: u32 = 0x0040;
    pub const EXACT: u32 = 0x0080;
    pub const TUN_INFO: u32 = 0x0100;
}

/// Forwarding methods (`IP_VS_CONN_F_*`).
pub const CONN_F_MASQ: u32 = 0;
pub const CONN_F_TUNNEL: u32 = 2;
pub const CONN_F_DROUTE: u32 = 3;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub(super) const MAX_TIMEOUT: i64 = 86400 * 31;
/// ipvsadm's libipvs/ip_vs.h: `(6*60)`, the timeout of a bare `-p` (the lab: `persistent 360`).
pub(super) const IPVS_SVC_PERSISTENT_TIMEOUT: u32 = 360;
