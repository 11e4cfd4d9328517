//! The binary's commands, kept out of main.rs: each takes its arguments and returns an exit
//! status.

use std::io::Write as _;

use crate::cli;
use crate::ipvs::client::Client;
use crate::ipvs::{Info, Ipvs, IpvsError, ServiceEntry, ServiceKey, Snapshot, SyncDaemon, SyncState, Timeouts};

/// Install the one tracing subscriber (stderr; `RUST_LOG` / `DIRECTOR_LOG` filter, default info).
pub fn init_tracing() {
    let filter = std::env::var("DIRECTOR_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// `director ipvsadm ARGS` / the binary run as `ipvsadm`: ipvsadm 1.31's behaviour.
/// `args` excludes the program name.
pub fn ipvsadm(args: &[String]) -> i32 {
    ipvsadm_named("ipvsadm", args)
}

/// As [`ipvsadm`], with the program name ipvsadm prints in its messages (`Try `PROG -h' ...`):
/// the binary run as `ipvsadm` passes its `argv[0]` as typed, like the real tool.
pub fn ipvsadm_named(prog: &str, args: &[String]) -> i32 {
    let mut argv = vec![prog.to_string()];
    argv.extend(args.iter().cloned());
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut conn = || std::fs::read_to_string("/proc/net/ip_vs_conn").ok();
    let names = cli::names::SystemNames;
    let mut io = cli::exec::Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        conn: &mut conn,
        names: &names,
    };
    let code = match Client::connect() {
        Ok(mut client) => cli::exec::run(&argv, &mut client, &mut io),
        Err(e) => cli::exec::run(&argv, &mut Unreachable(Some(e)), &mut io),
    };
    let _ = stdout.flush();
    code
}

/// The kernel could not be reached: every request fails with the connect error.
struct Unreachable(Option<IpvsError>);

impl Unreachable {
    fn err<T>(&mut self) -> Result<T, IpvsError> {
        Err(self.0.take().unwrap_or(IpvsError::Unavailable))
    }
}

impl Ipvs for Unreachable {
    fn info(&mut self) -> Result<Info, IpvsError> {
        self.err()
    }
    fn dump(&mut self) -> Result<Snapshot, IpvsError> {
        self.err()
    }
    fn service(&mut self, _: &ServiceKey) -> Result<ServiceEntry, IpvsError> {
        self.err()
    }
    fn apply(&mut self, _: &[crate::ipvs::Change]) -> Result<(), IpvsError> {
        self.err()
    }
    fn zero(&mut self, _: Option<&ServiceKey>) -> Result<(), IpvsError> {
        self.err()
    }
    fn flush(&mut self) -> Result<(), IpvsError> {
        self.err()
    }
    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        self.err()
    }
    fn set_timeouts(&mut self, _: &Timeouts) -> Result<(), IpvsError> {
        self.err()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        self.err()
    }
    fn start_daemon(&mut self, _: &SyncDaemon) -> Result<(), IpvsError> {
        self.err()
    }
    fn stop_daemon(&mut self, _: SyncState) -> Result<(), IpvsError> {
        self.err()
    }
}
