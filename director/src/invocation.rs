//! ldirectord's command line (ldirectord.md 1): `ldirectord [-d] [CONFIG] COMMAND`, parsed
//! without I/O, and the names it derives (CFGNAME, the pid file, the first log line). The
//! daemon side is `daemon::ldirectord`.

use std::path::{Path, PathBuf};

use crate::config::DEFAULT_NAME;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub debug: bool,
    /// The config as typed (default `ldirectord.cf`).
    pub config: String,
    /// ldirectord's CFGNAME (pid file, log lines): the base name of the config as typed, or
    /// `ldirectord` when no config is given (so the shipped unit's
    /// `/var/run/ldirectord.ldirectord.pid` is right).
    pub cfgname: String,
    pub command: Cmd,
    /// The arguments left after the options (logged as ldirectord logs its `@ARGV`).
    pub args: Vec<String>,
}

/// `ldirectord` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Start,
    Stop,
    Restart,
    TryRestart,
    Reload,
    Status,
}

/// What the command line asks, or the exit status to give at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Invocation),
    Version,
    Usage,
}

pub const USAGE: &str = "Usage:\n    ldirectord [-d|--debug] [--] [ldirectord.cf] start|stop|restart|try-restart|reload|force-reload|status\n    ldirectord [-h|-?|--help]\n    ldirectord [-v|--version]\n";

/// Parse `ldirectord` arguments (without the program name).
pub fn parse(args: &[String]) -> Parsed {
    let mut debug = false;
    let mut positional = Vec::new();
    let mut options_done = false;
    for a in args {
        match a.as_str() {
            "--" if !options_done => options_done = true,
            "-d" | "--debug" if !options_done => debug = true,
            "-v" | "--version" if !options_done => return Parsed::Version,
            "-h" | "-?" | "--help" if !options_done => return Parsed::Usage,
            s if !options_done && s.starts_with('-') && s.len() > 1 => return Parsed::Usage,
            s => positional.push(s.to_string()),
        }
    }
    let (config, name, command) = match positional.as_slice() {
        [cmd] => (
            DEFAULT_NAME.to_string(),
            "ldirectord".to_string(),
            cmd.clone(),
        ),
        [cfg, cmd] => (cfg.clone(), cfgname(cfg), cmd.clone()),
        _ => return Parsed::Usage,
    };
    let command = match command.as_str() {
        "start" => Cmd::Start,
        "stop" => Cmd::Stop,
        "restart" => Cmd::Restart,
        "try-restart" => Cmd::TryRestart,
        "reload" | "force-reload" => Cmd::Reload,
        "status" => Cmd::Status,
        _ => return Parsed::Usage,
    };
    Parsed::Run(Invocation {
        debug,
        config,
        cfgname: name,
        command,
        args: positional,
    })
}

/// ldirectord's CFGNAME: the base name of the config argument as typed.
pub fn cfgname(config: &str) -> String {
    Path::new(config)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| config.to_string())
}

/// ldirectord's first log line: `Invoking ldirectord invoked as: <argv0> <arg> <arg> `
/// (each argument followed by a blank).
pub fn invoked_line(argv0: &str, args: &[String]) -> String {
    let mut line = format!("Invoking ldirectord invoked as: {argv0} ");
    for a in args {
        line.push_str(a);
        line.push(' ');
    }
    line
}

/// The pid file of a configuration.
pub fn pid_file(pid_dir: &Path, config: &str) -> PathBuf {
    pid_dir.join(format!("ldirectord.{}.pid", cfgname(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_lines_as_ldirectord_reads_them() {
        assert_eq!(
            parse(&args("start")),
            Parsed::Run(Invocation {
                debug: false,
                config: "ldirectord.cf".into(),
                cfgname: "ldirectord".into(),
                command: Cmd::Start,
                args: args("start"),
            })
        );
        assert_eq!(
            parse(&args("-d www.cf force-reload")),
            Parsed::Run(Invocation {
                debug: true,
                config: "www.cf".into(),
                cfgname: "www.cf".into(),
                command: Cmd::Reload,
                args: args("www.cf force-reload"),
            })
        );
        assert_eq!(parse(&args("")), Parsed::Usage);
        assert_eq!(parse(&args("www.cf bounce")), Parsed::Usage);
        assert_eq!(parse(&args("a b c")), Parsed::Usage);
        assert_eq!(parse(&args("-v")), Parsed::Version);
        assert_eq!(parse(&args("-x start")), Parsed::Usage);
    }

    #[test]
    fn the_invocation_line_as_ldirectord_logs_it() {
        assert_eq!(
            invoked_line("/usr/sbin/ldirectord", &args("www.cf start")),
            "Invoking ldirectord invoked as: /usr/sbin/ldirectord www.cf start "
        );
        let Parsed::Run(inv) = parse(&args("-d /etc/ha.d/www.cf status")) else {
            panic!("parses");
        };
        assert_eq!(
            invoked_line("ldirectord", &inv.args),
            "Invoking ldirectord invoked as: ldirectord /etc/ha.d/www.cf status "
        );
        assert_eq!(inv.cfgname, "www.cf");
    }

    #[test]
    fn pid_file_uses_the_name_as_typed() {
        let dir = Path::new("/var/run");
        assert_eq!(
            pid_file(dir, "www.cf"),
            PathBuf::from("/var/run/ldirectord.www.cf.pid")
        );
        assert_eq!(
            pid_file(dir, "/etc/ha.d/ldirectord.cf"),
            PathBuf::from("/var/run/ldirectord.ldirectord.cf.pid")
        );
    }
}
