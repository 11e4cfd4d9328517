//! Where log lines go besides stderr.
//!
//! ldirectord's `logfile=` (ldirectord.md 1.1):
//! - an absolute path: one line appended per message, the file opened and closed each time
//!   (so logrotate works), as `[<ctime>|<CFGNAME>|<pid>] <message>`;
//! - a syslog facility name: a datagram to `/dev/log`, ident `ldirectord`, with the pid;
//! - with `supervised=yes`, neither: stdout, as `[<ctime>] <message>` (and nothing on
//!   stderr).
//!
//! ha.cf's `logfile`, `debugfile` and `logfacility` (pair mode), for the failover node's
//! events (targets `failover::*` and the pair glue), as Heartbeat's `cl_log` writes them:
//! - `logfile`: every message but debug ones, `Nov 25 01:36:33 HOST heartbeat: [PID]: LEVEL:
//!   message` (Heartbeat's default `syslogmsgfmt`);
//! - `debugfile`: the same lines, debug ones included (`debug N` in ha.cf turns them on);
//! - `logfacility`: a datagram to `/dev/log`, `<PRI>heartbeat: [PID]: LEVEL: message`.
//!
//! When one of them is set those events go there instead of the ldirectord target. They are
//! written by a thread of their own ([`set_heartbeat_target`]), never by the caller: the
//! heartbeat thread must not wait on a disk.
//!
//! A `tracing` layer (`LogFileLayer`) installed with the subscriber routes every event to the
//! targets chosen through its [`Routing`] (`set_target` / `set_heartbeat_target`) once the
//! configuration is read; until then it does nothing. The routing is a value the subscriber's
//! installer hands to the daemon, not global state. The formatting is pure (`file_line`, `syslog_datagram`,
//! `heartbeat_line`, `heartbeat_datagram`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::config::ldirectord::LogTarget;

/// The configured target and the name that goes in file lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub target: LogTarget,
    /// ldirectord's CFGNAME: the config file name as given (`ldirectord.cf`, `www.cf`).
    pub cfgname: String,
    /// `supervised=yes`: stdout with the `[<ctime>] ` prefix instead of `target`.
    pub supervised: bool,
}

/// The reloadable filter of the installed subscriber.
pub type FilterHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Where log lines go besides tracing's stderr lines: shared (cloning shares) by the layer
/// and by whoever reads the configuration and chooses the targets.
#[derive(Clone)]
pub struct Routing(Arc<Inner>);

struct Inner {
    target: Mutex<Option<Target>>,
    stderr: AtomicBool,
    bare: AtomicBool,
    heartbeat: Mutex<Option<mpsc::Sender<Sink>>>,
    filter: OnceLock<FilterHandle>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing::new()
    }
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routing")
            .field("stderr", &self.stderr_enabled())
            .field("bare", &self.stderr_bare())
            .finish_non_exhaustive()
    }
}

impl Routing {
    /// stderr on, no other target.
    pub fn new() -> Routing {
        Routing(Arc::new(Inner {
            target: Mutex::new(None),
            stderr: AtomicBool::new(true),
            bare: AtomicBool::new(false),
            heartbeat: Mutex::new(None),
            filter: OnceLock::new(),
        }))
    }

    /// The layer that writes to this routing's targets.
    pub fn layer(&self) -> LogFileLayer {
        LogFileLayer(self.clone())
    }

    /// The subscriber's filter, so that ha.cf's `debug` can lower it (set once).
    pub fn set_filter(&self, handle: FilterHandle) {
        let _ = self.0.filter.set(handle);
    }

    /// The subscriber's filter, when one was set.
    pub fn filter(&self) -> Option<&FilterHandle> {
        self.0.filter.get()
    }

    /// Whether the stderr layer writes (off under `supervised=yes`, where stdout is the log).
    pub fn stderr_enabled(&self) -> bool {
        self.0.stderr.load(Ordering::Relaxed)
    }

    /// Turn the stderr layer on or off.
    pub fn set_stderr(&self, on: bool) {
        self.0.stderr.store(on, Ordering::Relaxed);
    }

    /// Whether stderr gets bare messages (`ldirectord -d`: no time, no level) from
    /// [`LogFileLayer`] instead of tracing's formatted lines.
    pub fn stderr_bare(&self) -> bool {
        self.0.bare.load(Ordering::Relaxed)
    }

    /// `ldirectord -d`: log lines on stderr are the bare message, as ldirectord prints them.
    pub fn set_stderr_bare(&self, on: bool) {
        self.0.bare.store(on, Ordering::Relaxed);
    }

    /// Send log lines to `target` from now on (`None`: stderr only).
    pub fn set_target(&self, target: Option<Target>) {
        *self.0.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }

    fn target(&self) -> Option<Target> {
        self.0
            .target
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Send the failover node's events to ha.cf's log targets from now on (a writer thread
    /// does the I/O); `None`, or a target with nothing set, sends them back to the ldirectord
    /// target and stderr only.
    pub fn set_heartbeat_target(&self, target: Option<HeartbeatTarget>) {
        let sender = target.filter(HeartbeatTarget::is_set).and_then(|t| {
            let (tx, rx) = mpsc::channel::<Sink>();
            std::thread::Builder::new()
                .name("ha-log".into())
                .spawn(move || heartbeat_writer(&t, &rx))
                .ok()
                .map(|_| tx)
        });
        *self.0.heartbeat.lock().unwrap_or_else(|e| e.into_inner()) = sender;
    }

    fn heartbeat(&self) -> Option<mpsc::Sender<Sink>> {
        self.0
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until every line sent so far to the ha.cf targets is written.
    pub fn flush_heartbeat_target(&self) {
        if let Some(tx) = self.heartbeat() {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            if tx.send(Sink::Flush(done_tx)).is_ok() {
                let _ = done_rx.recv_timeout(std::time::Duration::from_secs(5));
            }
        }
    }
}

/// The layer that writes to the targets of its [`Routing`].
#[derive(Debug, Clone)]
pub struct LogFileLayer(Routing);

/// ha.cf's log directives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatTarget {
    /// `logfile`: every message but debug ones.
    pub logfile: Option<PathBuf>,
    /// `debugfile`: every message.
    pub debugfile: Option<PathBuf>,
    /// `logfacility` (a syslog facility name; `none` is `None`).
    pub facility: Option<String>,
    /// The host name in file lines (the node name).
    pub host: String,
}

impl HeartbeatTarget {
    /// Whether any of the three is set.
    pub fn is_set(&self) -> bool {
        self.logfile.is_some() || self.debugfile.is_some() || self.facility.is_some()
    }
}

enum Sink {
    Line {
        debug: bool,
        level: Level,
        message: String,
    },
    Flush(mpsc::SyncSender<()>),
}

fn heartbeat_writer(t: &HeartbeatTarget, rx: &mpsc::Receiver<Sink>) {
    let pid = std::process::id();
    let syslog = std::os::unix::net::UnixDatagram::unbound().ok();
    while let Ok(item) = rx.recv() {
        let (debug, level, message) = match item {
            Sink::Line {
                debug,
                level,
                message,
            } => (debug, level, message),
            Sink::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let now = chrono::Local::now().format("%b %e %H:%M:%S").to_string();
        let line = heartbeat_line(&now, &t.host, pid, level, &message);
        if let Some(path) = &t.debugfile {
            write_file(path, &line);
        }
        if !debug {
            if let Some(path) = &t.logfile {
                write_file(path, &line);
            }
            if let (Some(facility), Some(sock)) = (&t.facility, &syslog) {
                let d = heartbeat_datagram(facility, level, pid, &message);
                let _ = sock.send_to(d.as_bytes(), "/dev/log");
            }
        }
    }
}

/// Whether an event belongs to the failover node (Heartbeat's log) rather than ldirectord's.
pub fn is_heartbeat_event(target: &str) -> bool {
    target == "failover"
        || target.starts_with("failover::")
        || target.starts_with("director::daemon::pair")
}

/// Heartbeat's level word, unless the message already starts with one (the node writes
/// `WARN: `, `ERROR: ` and `CRIT: ` into the message, in Heartbeat's words).
fn level_prefix(level: Level, message: &str) -> &'static str {
    if ["WARN: ", "ERROR: ", "CRIT: ", "info: ", "debug: "]
        .iter()
        .any(|p| message.starts_with(p))
    {
        return "";
    }
    match level {
        Level::ERROR => "ERROR: ",
        Level::WARN => "WARN: ",
        Level::INFO => "info: ",
        _ => "debug: ",
    }
}

/// One line of ha.cf's `logfile` / `debugfile` (`syslogmsgfmt`, Heartbeat's default).
pub fn heartbeat_line(time: &str, host: &str, pid: u32, level: Level, message: &str) -> String {
    format!(
        "{time} {host} heartbeat: [{pid}]: {}{message}\n",
        level_prefix(level, message)
    )
}

/// A syslog datagram for ha.cf's `logfacility` (an unknown facility is `daemon`).
pub fn heartbeat_datagram(facility_name: &str, level: Level, pid: u32, message: &str) -> String {
    let pri = priority(facility_name, level);
    format!(
        "<{pri}>heartbeat: [{pid}]: {}{message}",
        level_prefix(level, message)
    )
}

/// A syslog PRI: facility (an unknown one is `daemon`) * 8 + the level's severity.
fn priority(facility_name: &str, level: Level) -> u16 {
    let severity = match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    };
    u16::from(facility(facility_name).unwrap_or(3)) * 8 + severity
}

struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for LogFileLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let routing = &self.0;
        if routing.stderr_bare() && routing.stderr_enabled() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", render(event));
        }
        if is_heartbeat_event(event.metadata().target()) {
            if let Some(tx) = routing.heartbeat() {
                let _ = tx.send(Sink::Line {
                    debug: level > Level::INFO,
                    level,
                    message: render(event),
                });
                return;
            }
        }
        let Some(target) = routing.target() else {
            return;
        };
        if level > Level::INFO {
            return;
        }
        let message = render(event);
        let pid = std::process::id();
        if target.supervised {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(supervised_line(&ctime(), &message).as_bytes());
            let _ = out.flush();
            return;
        }
        match &target.target {
            LogTarget::File(path) => {
                write_file(path, &file_line(&ctime(), &target.cfgname, pid, &message));
            }
            LogTarget::Syslog(facility) => {
                let datagram = syslog_datagram(facility, *event.metadata().level(), pid, &message);
                if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
                    let _ = sock.send_to(datagram.as_bytes(), "/dev/log");
                }
            }
        }
    }
}

fn render(event: &Event<'_>) -> String {
    let mut m = Message {
        text: String::new(),
        fields: String::new(),
    };
    event.record(&mut m);
    format!("{}{}", m.text, m.fields)
}

fn write_file(path: &PathBuf, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The local time as Perl's `scalar localtime` prints it (`Wed Nov 25 01:40:34 2026`).
pub fn ctime() -> String {
    chrono::Local::now()
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

/// One line of ldirectord's log file.
pub fn file_line(ctime: &str, cfgname: &str, pid: u32, message: &str) -> String {
    format!("[{ctime}|{cfgname}|{pid}] {message}\n")
}

/// One line of ldirectord's log under `supervised=yes` (stdout).
pub fn supervised_line(ctime: &str, message: &str) -> String {
    format!("[{ctime}] {message}\n")
}

/// syslog facility numbers by name.
pub fn facility(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// A syslog datagram (`<PRI>ldirectord[PID]: MESSAGE`); an unknown facility is `daemon`.
pub fn syslog_datagram(facility_name: &str, level: Level, pid: u32, message: &str) -> String {
    let pri = priority(facility_name, level);
    format!("<{pri}>ldirectord[{pid}]: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What docs/architecture.md promises: `DIRECTOR_LOG='[{vs=...}]=info'` shows the lines
    /// of one service, as the lvs loop logs them (in a `vs` or `rs` span).
    #[test]
    fn a_log_can_be_filtered_per_service() {
        use tracing_subscriber::layer::SubscriberExt as _;
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(
                "[{vs=tcp:192.0.2.100:80}]=info",
            ))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || out.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            let a = "tcp:192.0.2.100:80";
            let b = "tcp:192.0.2.101:80";
            tracing::info_span!("vs", vs = %a)
                .in_scope(|| tracing::info!("Added virtual server: a"));
            tracing::info_span!("vs", vs = %b)
                .in_scope(|| tracing::info!("Added virtual server: b"));
            tracing::info_span!("rs", vs = %a, rs = %"192.0.2.21:80")
                .in_scope(|| tracing::info!("Added real server: a's"));
            tracing::info!("not about a service");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("Added virtual server: a"), "{text}");
        assert!(text.contains("Added real server: a's"), "{text}");
        assert!(!text.contains("Added virtual server: b"), "{text}");
        assert!(!text.contains("not about a service"), "{text}");
    }

    #[test]
    fn file_lines_as_ldirectord_writes_them() {
        assert_eq!(
            file_line(
                "Wed Nov 25 01:40:34 2026",
                "www.cf",
                42,
                "Added real server: x"
            ),
            "[Wed Nov 25 01:40:34 2026|www.cf|42] Added real server: x\n"
        );
    }

    #[test]
    fn supervised_lines_as_ldirectord_prints_them() {
        assert_eq!(
            supervised_line("Wed Nov 25 01:40:34 2026", "Added real server: x"),
            "[Wed Nov 25 01:40:34 2026] Added real server: x\n"
        );
    }

    #[test]
    fn syslog_priority_from_facility_and_level() {
        assert_eq!(
            syslog_datagram("local0", Level::INFO, 7, "m"),
            "<134>ldirectord[7]: m"
        );
        assert_eq!(
            syslog_datagram("daemon", Level::ERROR, 7, "m"),
            "<27>ldirectord[7]: m"
        );
        assert_eq!(
            syslog_datagram("bogus", Level::INFO, 7, "m"),
            "<30>ldirectord[7]: m"
        );
    }

    #[test]
    fn heartbeat_lines_as_cl_log_writes_them() {
        assert_eq!(
            heartbeat_line(
                "Nov 25 01:36:33",
                "ha02",
                29,
                Level::INFO,
                "Link ha01:eth0 up."
            ),
            "Nov 25 01:36:33 ha02 heartbeat: [29]: info: Link ha01:eth0 up.\n"
        );
        // The node's own level words are not doubled.
        assert_eq!(
            heartbeat_line(
                "Nov 25 01:36:33",
                "ha02",
                29,
                Level::WARN,
                "WARN: Late heartbeat"
            ),
            "Nov 25 01:36:33 ha02 heartbeat: [29]: WARN: Late heartbeat\n"
        );
        assert_eq!(
            heartbeat_line("Nov  5 01:36:33", "ha02", 29, Level::ERROR, "CRIT: x"),
            "Nov  5 01:36:33 ha02 heartbeat: [29]: CRIT: x\n"
        );
        assert_eq!(
            heartbeat_datagram("local0", Level::WARN, 7, "node ha01: is dead"),
            "<132>heartbeat: [7]: WARN: node ha01: is dead"
        );
        assert!(is_heartbeat_event("failover::node"));
        assert!(is_heartbeat_event("director::daemon::pair"));
        assert!(!is_heartbeat_event("director::daemon::lvs"));
        assert!(!is_heartbeat_event("failoverx"));
    }

    #[test]
    fn failover_events_go_to_the_ha_cf_files() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        let debug = dir.path().join("ha-debug");
        let routing = Routing::new();
        routing.set_heartbeat_target(Some(HeartbeatTarget {
            logfile: Some(log.clone()),
            debugfile: Some(debug.clone()),
            facility: None,
            host: "ha01".into(),
        }));
        let subscriber = tracing_subscriber::registry().with(routing.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "failover::node", "Link ha02:eth0 up.");
            tracing::warn!(target: "failover::node", "WARN: Late heartbeat: Node ha02: interval 70 ms");
            tracing::debug!(target: "failover::node", "sent heartbeat");
            tracing::info!(target: "director::daemon::lvs", "Added real server: not ours");
        });
        routing.flush_heartbeat_target();
        routing.set_heartbeat_target(None);
        let log = std::fs::read_to_string(&log).unwrap();
        let debug = std::fs::read_to_string(&debug).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
        assert!(log.contains(" ha01 heartbeat: ["), "{log}");
        assert!(log.contains("]: info: Link ha02:eth0 up.\n"), "{log}");
        assert!(
            log.contains("]: WARN: Late heartbeat: Node ha02: interval 70 ms\n"),
            "{log}"
        );
        assert!(!log.contains("Added real server"), "{log}");
        assert_eq!(debug.lines().count(), 3, "{debug}");
        assert!(debug.contains("]: debug: sent heartbeat\n"), "{debug}");
        // A target with nothing set is no target.
        routing.set_heartbeat_target(Some(HeartbeatTarget::default()));
        assert!(routing.heartbeat().is_none());
    }

    #[test]
    fn layer_writes_to_the_file_target() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ld.log");
        let routing = Routing::new();
        routing.set_target(Some(Target {
            target: LogTarget::File(path.clone()),
            cfgname: "www.cf".into(),
            supervised: false,
        }));
        let subscriber = tracing_subscriber::registry().with(routing.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("Added real server: 192.0.2.250:80 (192.0.2.132:80) (Weight set to 1)");
            tracing::debug!("not in the file");
        });
        routing.set_target(None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("|www.cf|"), "{text}");
        assert!(text
            .ends_with("] Added real server: 192.0.2.250:80 (192.0.2.132:80) (Weight set to 1)\n"));
    }
}
