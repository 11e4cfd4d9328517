//! The binary called as `ldirectord` (ldirectord.md 1): `ldirectord [-d] [CONFIG] COMMAND`
//! with ldirectord's commands, pid file, messages and exit codes, so init scripts, systemd's
//! `Type=forking` unit and Pacemaker's `ocf:heartbeat:ldirectord` keep working.
//!
//! `start` runs the same daemon as `director run` for one file: in the background, as a
//! detached child that writes the pid file `/var/run/ldirectord.<CFGNAME>.pid` before `start`
//! returns; with `-d` (log on stderr) or `supervised=yes` (log on stdout as
//! `[<ctime>] <message>`) in the foreground and without a pid file, as ldirectord. The other
//! commands signal the daemon (TERM: stop with cleanstop, HUP: reload).

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::lvs::ReloadCause;
use super::Backend;
use crate::config::{ldirectord, locate, Diagnostics, SystemResolver};
use crate::invocation::USAGE;
pub use crate::invocation::{cfgname, invoked_line, parse, pid_file, Cmd, Invocation, Parsed};

/// Where the command looks for files.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `/etc/ha.d`.
    pub config_dir: PathBuf,
    /// `/var/run`.
    pub pid_dir: PathBuf,
    /// Send log lines to the file's `logfile=` (or stdout with `supervised=yes`) from the
    /// moment it is read, as ldirectord does for every command (the binary: yes; tests that
    /// call `main` in-process: no, the log target is global).
    pub log: bool,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            config_dir: PathBuf::from("/etc/ha.d"),
            pid_dir: PathBuf::from("/var/run"),
            log: true,
        }
    }
}

/// A pid file naming a process that is gone (or not an ldirectord).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale;

/// The pid in `file` if that process runs and is an ldirectord (its command line says so).
pub fn running(file: &Path) -> Result<Option<i32>, Stale> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Err(Stale);
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if pid > 0 && String::from_utf8_lossy(&cmdline).contains("ldirectord") {
        Ok(Some(pid))
    } else {
        Err(Stale)
    }
}

/// Run the command line; the exit status.
pub fn main(args: &[String], paths: &Paths, log: &crate::logging::Routing) -> i32 {
    let inv = match parse(args) {
        Parsed::Run(inv) => inv,
        Parsed::Version => {
            println!(
                "Linux Director v{}-director\nldirectord command line of director (GPL-2.0-or-later)",
                env!("CARGO_PKG_VERSION")
            );
            return 0;
        }
        Parsed::Usage => {
            eprint!("{USAGE}");
            return 255;
        }
    };
    // -d: every log line on stderr as the bare message, as ldirectord prints them.
    if inv.debug && paths.log {
        log.set_stderr_bare(true);
    }
    let Some(located) = locate(&inv.config, &paths.config_dir) else {
        eprintln!("Config file {} not found", inv.config);
        return 1;
    };
    let path = located.path;
    let resolver = SystemResolver::new();
    let loaded = ldirectord::load(&path, &resolver).and_then(|(config, warnings)| {
        // ldirectord test-opens its logfile while it reads the file, except with -d.
        if !inv.debug {
            ldirectord::open_logfile(&config, &path.display().to_string())
                .map_err(|e| Diagnostics::new(vec![e]))?;
        }
        Ok((config, warnings))
    });
    let config = match loaded {
        Ok((config, _)) => config,
        Err(diags) => {
            let pid = std::process::id();
            for d in diags.errors() {
                let file = d.file.display();
                match d.line {
                    0 => eprintln!("Error [{pid}] reading file {file}: {}", d.message),
                    n => eprintln!(
                        "Error [{pid}] reading file {file} at line {n}: {}",
                        d.message
                    ),
                }
            }
            return 2;
        }
    };
    if paths.log && !inv.debug {
        super::set_log_target(log, &config.globals, &inv.cfgname);
    }
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "ldirectord".to_string());
    tracing::info!("{}", invoked_line(&argv0, &inv.args));
    let pidfile = pid_file(&paths.pid_dir, &inv.cfgname);
    let shown = path.display().to_string();
    let state = running(&pidfile);
    match inv.command {
        Cmd::Status => match state {
            Ok(Some(pid)) => {
                eprintln!("ldirectord for {shown} is running with pid: {pid}");
                // ldirectord also asks its `execute=` children for their status.
                for child in &config.globals.execute {
                    children_status(child);
                }
                0
            }
            Ok(None) => {
                println!("ldirectord is stopped for {shown}");
                3
            }
            Err(Stale) => {
                eprintln!(
                    "ldirectord stale pid file {} for {shown}",
                    pidfile.display()
                );
                println!("ldirectord is stopped for {shown}");
                1
            }
        },
        Cmd::Stop => {
            if let Ok(Some(pid)) = state {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            0
        }
        Cmd::Reload => match state {
            Ok(Some(pid)) => match kill(Pid::from_raw(pid), Signal::SIGHUP) {
                Ok(()) => 0,
                Err(_) => 1,
            },
            _ => 1,
        },
        Cmd::Start => match state {
            Ok(Some(_)) => 0,
            _ => start(&inv, &path, &pidfile, config.globals.supervised, log),
        },
        Cmd::Restart | Cmd::TryRestart => match state {
            Ok(Some(pid)) => {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                // Poll every second until the pid file is gone (bounded: 5 minutes).
                for _ in 0..300 {
                    if !pidfile.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                start(&inv, &path, &pidfile, config.globals.supervised, log)
            }
            _ if inv.command == Cmd::Restart => {
                start(&inv, &path, &pidfile, config.globals.supervised, log)
            }
            _ => 0,
        },
    }
}

/// `ldirectord CHILD status` with this binary (its output goes to ours).
fn children_status(child: &str) {
    use std::os::unix::process::CommandExt as _;
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::process::Command::new(exe)
            .arg0("ldirectord")
            .arg(child)
            .arg("status")
            .status();
    }
}

/// `DIRECTOR_IPVS=memory` runs the daemon on an in-memory table (tests, benchmarks).
fn backend() -> Backend {
    match std::env::var("DIRECTOR_IPVS").as_deref() {
        Ok("memory") => Backend::Memory,
        _ => Backend::Kernel,
    }
}

/// Set in the background child `start` spawns (commands the daemon runs must not inherit
/// it: an `ldirectord NAME start` would then stay in the foreground).
pub(crate) const DETACHED: &str = "DIRECTOR_LDIRECTORD_DETACHED";

fn start(
    inv: &Invocation,
    path: &Path,
    pidfile: &Path,
    supervised: bool,
    log: &crate::logging::Routing,
) -> i32 {
    let detached = std::env::var_os(DETACHED).is_some();
    let foreground = inv.debug || supervised || detached;
    // Reach the kernel before going to the background, so that a missing IPVS is an exit
    // status the init system sees.
    let kernel = match super::open_kernel(backend()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            tracing::error!("{e}");
            return 1;
        }
    };
    if !foreground {
        tracing::info!(
            "Starting Linux Director v{}-director as daemon",
            env!("CARGO_PKG_VERSION")
        );
        drop(kernel);
        return spawn_background(pidfile);
    }
    if detached {
        let _ = nix::unistd::setsid();
    } else {
        tracing::info!(
            "Starting Linux Director v{}-director with pid: {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
    }
    // As ldirectord: only the daemon has a pid file (not `-d`, not `supervised=yes`).
    if detached {
        if let Some(dir) = pidfile.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(pidfile, format!("{}\n", std::process::id())) {
            tracing::error!("cannot write pid file {}: {e}", pidfile.display());
            return 1;
        }
    }
    super::heap::few_arenas();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            if detached {
                let _ = std::fs::remove_file(pidfile);
            }
            return 1;
        }
    };
    let log_cfgname = (!inv.debug).then(|| inv.cfgname.clone());
    let code = rt.block_on(serve(path.to_path_buf(), kernel, log_cfgname, log));
    if detached {
        let _ = std::fs::remove_file(pidfile);
    }
    code
}

/// Daemonise without fork: run this same command line again as a detached child (new
/// session, cwd `/`, stdio on /dev/null, argv[0] `ldirectord`), and return once the child
/// has written its pid file (0) or has died (its status), as `Type=forking` expects.
fn spawn_background(pidfile: &Path) -> i32 {
    use std::os::unix::process::CommandExt as _;
    use std::process::Stdio;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find my own executable: {e}");
            return 1;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut child = match std::process::Command::new(exe)
        .arg0("ldirectord")
        .args(&args)
        .env(DETACHED, "1")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the daemon: {e}");
            return 1;
        }
    };
    // Bounded: 30 s for the child to write its pid file.
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().unwrap_or(1).max(1);
        }
        if let Ok(Some(pid)) = running(pidfile) {
            if u32::try_from(pid).ok() == Some(child.id()) {
                return 0;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("the daemon did not write {} in time", pidfile.display());
    1
}

async fn serve(
    path: PathBuf,
    kernel: super::lvs::Kernel,
    log_cfgname: Option<String>,
    log: &crate::logging::Routing,
) -> i32 {
    let set = match super::start_all(&[path], &kernel, super::lvs_options(log), log_cfgname).await {
        Ok(s) => s,
        Err(e) => {
            e.log();
            return i32::from(e.exit_code());
        }
    };
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let mut signals = match super::signals::Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            set.stop().await;
            return 1;
        }
    };
    let name = loop {
        match signals.next().await {
            super::signals::Sig::Reload => {
                let _ = set.reload(ReloadCause::Signal).await;
            }
            super::signals::Sig::Stop(name) => break name,
        }
    };
    tracing::info!("Linux Director Daemon terminated on signal: {name}");
    set.stop().await;
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_dir: dir.to_path_buf(),
            pid_dir: dir.join("run"),
            log: false,
        }
    }

    #[test]
    fn status_stop_reload_without_a_daemon() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("www.cf"),
            "virtual=192.0.2.132:80\n\treal=192.0.2.250:80 gate\n",
        )
        .unwrap();
        let p = paths(dir.path());
        assert_eq!(
            main(&args("www.cf status"), &p, &crate::logging::Routing::new()),
            3
        );
        assert_eq!(
            main(&args("www.cf stop"), &p, &crate::logging::Routing::new()),
            0
        );
        assert_eq!(
            main(&args("www.cf reload"), &p, &crate::logging::Routing::new()),
            1
        );
        assert_eq!(
            main(
                &args("www.cf try-restart"),
                &p,
                &crate::logging::Routing::new()
            ),
            0
        );
        assert_eq!(
            main(
                &args("missing.cf status"),
                &p,
                &crate::logging::Routing::new()
            ),
            1
        );
        assert_eq!(
            main(&args("www.cf bogus"), &p, &crate::logging::Routing::new()),
            255
        );
        // stale pid file: a pid that is not an ldirectord
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/ldirectord.www.cf.pid"), "999999999\n").unwrap();
        assert_eq!(
            main(&args("www.cf status"), &p, &crate::logging::Routing::new()),
            1
        );
        // a config error is exit 2 for every command
        std::fs::write(
            dir.path().join("bad.cf"),
            "virtual=192.0.2.132:80\n\tbogus=1\n",
        )
        .unwrap();
        assert_eq!(
            main(&args("bad.cf status"), &p, &crate::logging::Routing::new()),
            2
        );
        assert_eq!(
            main(&args("bad.cf stop"), &p, &crate::logging::Routing::new()),
            2
        );
    }

    #[test]
    fn a_logfile_that_cannot_be_opened_is_a_config_error_except_with_d() {
        let dir = tempfile::tempdir().unwrap();
        let body = "virtual=192.0.2.132:80\n\treal=192.0.2.250:80 gate\n";
        std::fs::write(
            dir.path().join("nolog.cf"),
            format!("logfile=\"/nonexistent/director/ld.log\"\n{body}"),
        )
        .unwrap();
        let log = dir.path().join("ld.log");
        std::fs::write(
            dir.path().join("log.cf"),
            format!("logfile=\"{}\"\n{body}", log.display()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("syslog.cf"),
            format!("logfile=\"local0\"\n{body}"),
        )
        .unwrap();
        let p = paths(dir.path());
        assert_eq!(
            main(
                &args("nolog.cf status"),
                &p,
                &crate::logging::Routing::new()
            ),
            2
        );
        // -d logs to stderr: ldirectord does not open the file then.
        assert_eq!(
            main(
                &args("-d nolog.cf status"),
                &p,
                &crate::logging::Routing::new()
            ),
            3
        );
        assert_eq!(
            main(&args("log.cf status"), &p, &crate::logging::Routing::new()),
            3
        );
        assert!(log.exists(), "test-opened for append (created)");
        assert_eq!(
            main(
                &args("syslog.cf status"),
                &p,
                &crate::logging::Routing::new()
            ),
            3
        );
    }

    #[test]
    fn open_logfile_names_the_line() {
        let cf = "checktimeout=3\nlogfile=\"/nonexistent/director/ld.log\"\n\
                  virtual=192.0.2.132:80\n\treal=192.0.2.250:80 gate\n";
        let resolver = crate::config::StaticResolver::default();
        let (config, _) = ldirectord::parse(cf, "www.cf", &resolver).unwrap();
        let e = ldirectord::open_logfile(&config, "www.cf").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("www.cf:2: unable to open logfile: /nonexistent/director/ld.log: "),
            "{e}"
        );
        let supervised = format!("supervised=yes\n{cf}");
        let (config, _) = ldirectord::parse(&supervised, "www.cf", &resolver).unwrap();
        assert!(ldirectord::open_logfile(&config, "www.cf").is_ok());
    }
}
