//! Where log lines go besides stderr: ldirectord's `logfile=` (ldirectord.md 1.1).
//!
//! - an absolute path: one line appended per message, the file opened and closed each time
//!   (so logrotate works), as `[<ctime>|<CFGNAME>|<pid>] <message>`;
//! - a syslog facility name: a datagram to `/dev/log`, ident `ldirectord`, with the pid;
//! - with `supervised=yes`, neither: stdout, as `[<ctime>] <message>` (and nothing on
//!   stderr).
//!
//! A `tracing` layer (`LogFileLayer`) installed with the subscriber writes every event to the
//! target chosen with `set_target` once the configuration is read; until then it does nothing.
//! The formatting is pure (`file_line`, `syslog_datagram`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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

static TARGET: Mutex<Option<Target>> = Mutex::new(None);
static STDERR: AtomicBool = AtomicBool::new(true);

/// Whether the stderr layer writes (off under `supervised=yes`, where stdout is the log).
pub fn stderr_enabled() -> bool {
    STDERR.load(Ordering::Relaxed)
}

/// Turn the stderr layer on or off.
pub fn set_stderr(on: bool) {
    STDERR.store(on, Ordering::Relaxed);
}

/// Send log lines to `target` from now on (`None`: stderr only).
pub fn set_target(target: Option<Target>) {
    *TARGET.lock().unwrap_or_else(|e| e.into_inner()) = target;
}

/// The layer that writes to the target set with `set_target`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogFileLayer;

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
        let target = TARGET.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(target) = target else {
            return;
        };
        if *event.metadata().level() > Level::INFO {
            return;
        }
        let mut m = Message {
            text: String::new(),
            fields: String::new(),
        };
        event.record(&mut m);
        let message = format!("{}{}", m.text, m.fields);
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
    let severity = match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    };
    let pri = u16::from(facility(facility_name).unwrap_or(3)) * 8 + severity;
    format!("<{pri}>ldirectord[{pid}]: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn layer_writes_to_the_file_target() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ld.log");
        set_target(Some(Target {
            target: LogTarget::File(path.clone()),
            cfgname: "www.cf".into(),
            supervised: false,
        }));
        let subscriber = tracing_subscriber::registry().with(LogFileLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("Added real server: 192.0.2.250:80 (192.0.2.132:80) (Weight set to 1)");
            tracing::debug!("not in the file");
        });
        set_target(None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("|www.cf|"), "{text}");
        assert!(text
            .ends_with("] Added real server: 192.0.2.250:80 (192.0.2.132:80) (Weight set to 1)\n"));
    }
}
