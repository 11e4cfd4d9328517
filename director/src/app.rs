//! The binary's commands, kept out of main.rs: each takes its arguments and returns an exit
//! status.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli;
use crate::ipvs::client::Client;
use crate::ipvs::{
    Info, Ipvs, IpvsError, ServiceEntry, ServiceKey, Snapshot, SyncDaemon, SyncState, Timeouts,
};

/// Install the one tracing subscriber (stderr; `RUST_LOG` / `DIRECTOR_LOG` filter, default
/// info), with the log targets of `logging` (inactive until the daemon sets them).
pub fn init_tracing() -> crate::logging::Routing {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = std::env::var("DIRECTOR_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let (filter, handle) =
        tracing_subscriber::reload::Layer::new(tracing_subscriber::EnvFilter::new(filter));
    let routing = crate::logging::Routing::new();
    routing.set_filter(handle);
    let on_stderr = routing.clone();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .with_filter(tracing_subscriber::filter::filter_fn(move |_| {
                    on_stderr.stderr_enabled() && !on_stderr.stderr_bare()
                })),
        )
        .with(routing.layer())
        .try_init();
    std::panic::set_hook(Box::new(log_panic));
    routing
}

/// The panic hook: a panic goes to the daemon's log (ldirectord's logfile, ha.cf's logfile,
/// syslog) like any other error, not only to a stderr nobody reads. A panic inside a health
/// check (a protocol crate meeting a malformed answer) is caught and fails that check; this
/// line says where it came from.
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "an unknown place".to_string());
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        tracing::error!(
            "internal error: thread '{thread}' panicked at {location}: {payload}\n{backtrace}"
        );
    } else {
        tracing::error!("internal error: thread '{thread}' panicked at {location}: {payload}");
    }
}

/// ha.cf's `debug N` (N > 0): the failover node's debug messages are logged too, unless
/// `DIRECTOR_LOG` / `RUST_LOG` chose the filter. Heartbeat's levels above 1 only add detail
/// inside Heartbeat; director has one debug level.
pub fn heartbeat_debug(log: &crate::logging::Routing, level: u8) {
    let chosen =
        std::env::var_os("DIRECTOR_LOG").is_some() || std::env::var_os("RUST_LOG").is_some();
    if level == 0 || chosen {
        return;
    }
    if let Some(h) = log.filter() {
        let spec = "info,failover=debug,director::daemon::pair=debug";
        match h.reload(tracing_subscriber::EnvFilter::new(spec)) {
            Ok(()) => {
                tracing::info!("ha.cf debug {level}: logging the failover node's debug messages")
            }
            Err(e) => tracing::warn!("ha.cf debug {level}: cannot change the log filter: {e}"),
        }
    }
}

/// The binary called as `ldirectord`: ldirectord's command line. `args` excludes the program
/// name.
pub fn ldirectord(args: &[String]) -> i32 {
    let log = init_tracing();
    crate::daemon::ldirectord::main(args, &crate::daemon::ldirectord::Paths::default(), &log)
}

/// `director check [--config-dir DIR] [--print-ipvs] [FILE...]`: print every problem of the
/// ldirectord files as `file:line: message` (stderr) and, with `print_ipvs`, the table they
/// program once every real server passes its check, as `ipvsadm -S -n` prints it (stdout).
/// Without files: `ldirectord.cf` and every other `*.cf` of the directory except `ha.cf`, and
/// `director.conf` (with the Heartbeat files when `ha.cf` is there, alone otherwise).
/// `stonith_command` is `director run --stonith-command` (a dead peer is reset with it, so
/// cluster-glue's tool is not required). Exit status 0 when no file has an error, 1 otherwise.
pub fn check(
    config_dir: &Path,
    files: &[PathBuf],
    print_ipvs: bool,
    stonith_command: Option<Vec<String>>,
) -> i32 {
    let paths = match check_files(config_dir, files) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let resolver = crate::config::SystemResolver::new();
    let mut code = 0;
    if files.is_empty() && config_dir.join("ha.cf").is_file() {
        code = check_heartbeat(config_dir, stonith_command);
    } else if files.is_empty() {
        if let Err(e) = failover::node::load_settings(config_dir) {
            eprintln!("{e}");
            code = 1;
        }
    }
    if files.is_empty() && !service_files_known(config_dir, &paths) {
        code = 1;
    }
    let mut virtuals = Vec::new();
    for path in &paths {
        let file = path.display().to_string();
        match crate::config::ldirectord::load(path, &resolver) {
            Ok((config, warnings)) => {
                for w in &warnings {
                    eprintln!("{w}");
                }
                let mut ids = crate::lvs::mapping::CheckIds::default();
                let mapped = crate::lvs::mapping::map(&config, &file, &mut ids);
                for w in &mapped.warnings {
                    eprintln!("{w}");
                }
                let never = mapped.never_up();
                let up = |id| {
                    if never.contains(&id) {
                        crate::lvs::engine::Health::Down
                    } else {
                        crate::lvs::engine::Health::Up
                    }
                };
                let empty = crate::ipvs::Table::default();
                // With every check passing, a virtual whose weights do not reach its quorum
                // serves from its fallback (keepalived's sorry server).
                let quorum = |key: &crate::ipvs::ServiceKey| {
                    let v = mapped.virtuals.iter().find(|v| v.service.key == *key)?;
                    let (weight, known) = crate::lvs::engine::up_weight(v, &up);
                    crate::lvs::quorum::step(v.quorum?, None, weight, known)
                };
                let table = crate::lvs::engine::desired(
                    &mapped.virtuals,
                    &up,
                    &|_| true,
                    &quorum,
                    &|_, _| None,
                    &empty,
                    &Default::default(),
                );
                virtuals.push(table);
            }
            Err(diags) => {
                for d in diags.iter() {
                    eprintln!("{d}");
                }
                code = 1;
            }
        }
    }
    if print_ipvs && code == 0 {
        let mut all = crate::ipvs::Table::default();
        for t in virtuals {
            all.services.extend(t.services);
        }
        match ipvsadm_save(&all) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}

/// Whether every `[[service]]` table of the directory's `director.conf` names an ldirectord
/// file that is there (each other problem of the file is reported with the file it names, or
/// by the settings check); prints the ones that do not, at their line.
fn service_files_known(config_dir: &Path, paths: &[PathBuf]) -> bool {
    let conf = config_dir.join(failover::config::settings::FILE_NAME);
    let Ok(text) = std::fs::read_to_string(&conf) else {
        return true;
    };
    let Ok(parsed) = failover::config::settings::parse(&conf, &text) else {
        return true;
    };
    let mut known = true;
    for s in &parsed.value.services {
        let there = paths
            .iter()
            .any(|p| crate::config::service::names(&s.file, p))
            || crate::config::locate(&s.file, config_dir).is_some();
        if !there {
            eprintln!(
                "{}:{}: service {} {}: there is no ldirectord file {} in {}",
                conf.display(),
                s.line,
                s.file,
                s.target,
                s.file,
                config_dir.display()
            );
            known = false;
        }
    }
    known
}

/// `ha.cf`, `authkeys` (content, mode 600, owner root), `haresources` and `director.conf`,
/// checked together as
/// `director run` would load them (respawn programs, STONITH devices and cluster-glue's tool
/// included); every problem printed as `file:line: message`. 0 when clean.
fn check_heartbeat(config_dir: &Path, stonith_command: Option<Vec<String>>) -> i32 {
    let mut code = 0;
    let keys = config_dir.join("authkeys");
    if let Err(e) = failover::node::check_authkeys(&keys) {
        eprintln!("{e}");
        code = 1;
    }
    match failover::node::NodeConfig::load_with(
        config_dir,
        Path::new("/nonexistent"),
        stonith_command,
    ) {
        Ok(cfg) => {
            if let Err(e) = crate::daemon::pair::ldirectord_files(&cfg.haresources, config_dir) {
                eprintln!("{}: {e}", config_dir.join("haresources").display());
                code = 1;
            }
        }
        Err(e) => {
            eprintln!("{e}");
            code = 1;
        }
    }
    code
}

fn check_files(config_dir: &Path, files: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    if !files.is_empty() {
        return files
            .iter()
            .map(|f| {
                let name = f.display().to_string();
                crate::config::locate(&name, config_dir)
                    .map(|l| l.path)
                    .ok_or_else(|| format!("Config file {name} not found"))
            })
            .collect();
    }
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(config_dir).map_err(|e| format!("{}: {e}", config_dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        let is_cf = p.extension().is_some_and(|x| x == "cf");
        if is_cf && p.is_file() && p.file_name().is_some_and(|n| n != "ha.cf") {
            out.push(p);
        }
    }
    out.sort();
    // A Heartbeat-only directory (ha.cf, no ldirectord resource) has none, and needs none.
    if out.is_empty() && !config_dir.join("ha.cf").is_file() {
        return Err(format!(
            "no ldirectord files (*.cf) in {}",
            config_dir.display()
        ));
    }
    Ok(out)
}

/// `ipvsadm -S -n` of a table: programmed into an in-memory kernel and listed by the
/// ipvsadm re-implementation, so the order and format are ipvsadm's.
pub fn ipvsadm_save(table: &crate::ipvs::Table) -> Result<String, String> {
    let mut kernel = crate::ipvs::memory::MemoryIpvs::new();
    let changes = crate::ipvs::plan::plan(table, &crate::ipvs::Table::default());
    kernel.apply(&changes).map_err(|e| e.to_string())?;
    let argv: Vec<String> = ["ipvsadm", "-S", "-n"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut stdin = std::io::empty();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut conn = || None;
    let names = cli::names::NoNames;
    let mut io = cli::exec::Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        conn: &mut conn,
        names: &names,
    };
    match cli::exec::run(&argv, &mut kernel, &mut io) {
        0 => Ok(String::from_utf8_lossy(&stdout).into_owned()),
        _ => Err(String::from_utf8_lossy(&stderr).into_owned()),
    }
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
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    ipvsadm_argv(&argv, &mut stdout, &mut stderr)
}

/// As [`ipvsadm_named`], with the arguments as the operating system gave them. ipvsadm is C:
/// an argument is bytes, and its messages repeat them as they came. When every argument is
/// UTF-8 this is [`ipvsadm_named`]; otherwise every argument is read one byte to one char
/// (Latin-1, so nothing is lost or refused) and what ipvsadm prints is written back one char
/// to one byte ([`ByteChars`]), so a message that quotes an argument quotes its bytes.
pub fn ipvsadm_os(prog: &OsStr, args: &[OsString]) -> i32 {
    let utf8: Option<Vec<String>> = std::iter::once(prog)
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| a.to_str().map(str::to_string))
        .collect();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    match utf8 {
        Some(argv) => ipvsadm_argv(&argv, &mut stdout, &mut stderr),
        None => {
            let argv: Vec<String> = std::iter::once(prog)
                .chain(args.iter().map(OsString::as_os_str))
                .map(latin1)
                .collect();
            let code = ipvsadm_argv(
                &argv,
                &mut ByteChars(&mut stdout),
                &mut ByteChars(&mut stderr),
            );
            let _ = stdout.flush();
            code
        }
    }
}

/// An OS string read one byte to one char (U+0000..U+00FF).
pub fn latin1(s: &OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().iter().map(|&b| char::from(b)).collect()
}

/// Writes text one char to one byte where the char is U+0000..U+00FF (the inverse of
/// [`latin1`]), and any other char as UTF-8. A write that is not whole UTF-8 passes through.
pub struct ByteChars<'a>(pub &'a mut dyn Write);

impl Write for ByteChars<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                let mut bytes = Vec::with_capacity(buf.len());
                for c in text.chars() {
                    match u8::try_from(u32::from(c)) {
                        Ok(b) => bytes.push(b),
                        Err(_) => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                self.0.write_all(&bytes)?;
                Ok(buf.len())
            }
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn ipvsadm_argv(argv: &[String], stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let mut stdin = std::io::stdin().lock();
    let mut conn = || std::fs::read_to_string("/proc/net/ip_vs_conn").ok();
    let names = cli::names::SystemNames;
    let mut io = cli::exec::Io {
        stdin: &mut stdin,
        stdout,
        stderr,
        conn: &mut conn,
        names: &names,
    };
    let code = match Client::connect_or_load() {
        Ok(mut client) => cli::exec::run(argv, &mut client, &mut io),
        Err(e) => cli::exec::run(argv, &mut Unreachable(Some(e)), &mut io),
    };
    let _ = io.stdout.flush();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::memory::MemoryIpvs;
    use std::os::unix::ffi::OsStrExt;

    /// ipvsadm's messages quote an argument that is not UTF-8 byte for byte, as the C program
    /// does (and nothing panics).
    #[test]
    fn arguments_that_are_not_utf8_are_quoted_as_bytes() {
        for (args, quoted) in [
            (vec![&b"-L"[..], b"\xff"], &b"\xff"[..]),
            (
                vec![&b"-L"[..], b"--\xff\xfe"],
                b"--\xff\xfe: unknown option",
            ),
            // Not quoted: the kernel refuses the scheduler.
            (
                vec![&b"-A"[..], b"-t", b"192.0.2.1:80", b"-s", b"r\xe9r"],
                b"not found",
            ),
        ] {
            let argv: Vec<String> = std::iter::once(&b"ipvsadm"[..])
                .chain(args.iter().copied())
                .map(|a| latin1(OsStr::from_bytes(a)))
                .collect();
            let (mut o, mut e) = (Vec::new(), Vec::new());
            let mut stdin: &[u8] = b"";
            let mut conn = || None;
            let mut io = cli::exec::Io {
                stdin: &mut stdin,
                stdout: &mut ByteChars(&mut o),
                stderr: &mut ByteChars(&mut e),
                conn: &mut conn,
                names: &cli::names::NoNames,
            };
            let rc = cli::exec::run(&argv, &mut MemoryIpvs::new(), &mut io);
            assert_ne!(rc, 0, "{argv:?}");
            let all = [o, e].concat();
            assert!(
                all.windows(quoted.len()).any(|w| w == quoted),
                "{argv:?}: {:?}",
                String::from_utf8_lossy(&all)
            );
        }
    }

    #[test]
    fn byte_chars_inverts_latin1() {
        let raw: Vec<u8> = (0..=255u8).collect();
        let text = latin1(OsStr::from_bytes(&raw));
        let mut out = Vec::new();
        ByteChars(&mut out).write_all(text.as_bytes()).unwrap();
        assert_eq!(out, raw);
        // Text beyond U+00FF (not from an argument) stays UTF-8.
        let mut out = Vec::new();
        ByteChars(&mut out).write_all("→".as_bytes()).unwrap();
        assert_eq!(out, "→".as_bytes());
    }
}
