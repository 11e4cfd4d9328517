//! `director run`'s options and the errors it ends with.

use std::path::PathBuf;

use crate::logging;

/// Which IPVS table the daemon programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The kernel's, through generic netlink.
    #[default]
    Kernel,
    /// An in-memory table with the kernel's rules: a **test and benchmark mode** for machines
    /// without IPVS. Nothing is forwarded; `director status` shows what would be programmed.
    Memory,
}

/// `director run` settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Heartbeat / ldirectord configuration directory (`/etc/ha.d`).
    pub config_dir: PathBuf,
    /// Runtime state: the control socket.
    pub run_dir: PathBuf,
    /// Persistent state (failover's generation counter; unused in single mode).
    pub state_dir: PathBuf,
    /// Metrics listen address, `None` for none.
    pub metrics: Option<String>,
    /// ldirectord files to run (names or paths); empty: `ldirectord.cf` of `config_dir`.
    pub ldirectord: Vec<PathBuf>,
    pub backend: Backend,
    /// What the failover node does when a resource will not stop (`--fence`; reboot).
    pub fence: failover::node::SelfFence,
    /// `--stonith-command`: resets a dead peer instead of ha.cf's STONITH devices.
    pub stonith_command: Option<Vec<String>>,
    /// Where the log targets the files name are set (from `app::init_tracing`).
    pub log: logging::Routing,
}

impl Options {
    /// The defaults of `director run`.
    pub fn new(config_dir: PathBuf) -> Options {
        Options {
            config_dir,
            run_dir: PathBuf::from("/run/director"),
            state_dir: PathBuf::from("/var/lib/director"),
            metrics: Some("127.0.0.1:9494".to_string()),
            ldirectord: Vec::new(),
            backend: Backend::Kernel,
            fence: failover::node::SelfFence::default(),
            stonith_command: None,
            log: logging::Routing::new(),
        }
    }
}

/// Why `director run` (or the ldirectord daemon) did not start, or stopped otherwise than
/// cleanly on a signal. `main` logs it and exits with [`DaemonError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A configuration file was refused: every diagnostic, one per line (`file:line: ...`).
    #[error("{0}")]
    Config(String),
    /// An ldirectord file named on the command line or in haresources is not there.
    #[error("{0}")]
    Missing(String),
    /// The IPVS table cannot be opened.
    #[error("{0}")]
    Ipvs(String),
    /// The control socket cannot be bound.
    #[error("cannot open the control socket in {}: {source}", dir.display())]
    ControlSocket {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// The async runtime could not be built.
    #[error("cannot start: {0}")]
    Runtime(std::io::Error),
    /// The failover node fenced itself (a resource would not stop) or failed at the end.
    #[error("{0}")]
    Stopped(String),
}

impl DaemonError {
    /// The exit status: 2 for a refused configuration (as ldirectord and ha.cf checks exit),
    /// 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Config(_) => 2,
            _ => 1,
        }
    }

    /// Logs the error, one event per line.
    pub fn log(&self) {
        for line in self.to_string().lines() {
            tracing::error!("{line}");
        }
    }
}
