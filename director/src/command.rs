//! director's own command line (`director run`, `check`, `status`, ...), defined once with clap:
//! `main` parses it, and the manual pages and shell completions are generated from it
//! (clap_mangen, clap_complete), so they cannot drift from what the binary accepts.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "director",
    version,
    about = "LVS director: IPVS, health checks and failover in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon (a failover pair with ha.cf, a single director without).
    Run {
        /// Heartbeat / ldirectord configuration directory.
        #[arg(long, default_value = "/etc/ha.d")]
        config_dir: PathBuf,
        /// Runtime state: the control socket.
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
        /// Persistent state: the heartbeat generation counter.
        #[arg(long, default_value = "/var/lib/director")]
        state_dir: PathBuf,
        /// Prometheus metrics listen address ("off" to disable).
        #[arg(long, default_value = "127.0.0.1:9494")]
        metrics: String,
        /// An ldirectord file to run (name in the config directory, or path); repeatable.
        /// Default: ldirectord.cf of the config directory.
        #[arg(long = "ldirectord", value_name = "FILE")]
        ldirectord: Vec<PathBuf>,
        /// The IPVS table to program: "kernel", or "memory" (test and benchmark mode: an
        /// in-memory table, nothing is forwarded).
        #[arg(long, default_value = "kernel", value_parser = ["kernel", "memory"])]
        ipvs: String,
        /// What this node does when a resource will not stop after every retry (pair mode):
        /// "reboot" (`reboot -nf`, Heartbeat's action), "poweroff", "exit" (stop the failover
        /// node; the peer takes over after deadtime), "ignore" (log only; the group stays
        /// here), or an absolute path to a command (with arguments) run before the node stops.
        #[arg(long, value_name = "ACTION", default_value = "reboot",
              value_parser = |s: &str| s.parse::<failover::node::SelfFence>())]
        fence: failover::node::SelfFence,
        /// Reset (STONITH) a dead peer with this command (absolute path, arguments; the peer's
        /// node name is appended; exit 0 = reset) instead of ha.cf's stonith / stonith_host
        /// devices, which run through cluster-glue's `stonith` tool. No takeover until a
        /// reset succeeds.
        #[arg(long, value_name = "COMMAND",
              value_parser = |s: &str| failover::stonith::parse_command(s).map(Argv))]
        stonith_command: Option<Argv>,
    },
    /// Validate every configuration file; print problems as `file:line: message`.
    Check {
        /// Heartbeat / ldirectord configuration directory.
        #[arg(long, default_value = "/etc/ha.d")]
        config_dir: PathBuf,
        /// Print the IPVS table the files program when every real server is up (`ipvsadm -S -n`).
        #[arg(long)]
        print_ipvs: bool,
        /// As `director run --stonith-command` (then cluster-glue's tool is not required).
        #[arg(long, value_name = "COMMAND",
              value_parser = |s: &str| failover::stonith::parse_command(s).map(Argv))]
        stonith_command: Option<Argv>,
        /// Files to check (ldirectord files by name or path); default: everything in the directory.
        files: Vec<PathBuf>,
    },
    /// Show the daemon's status.
    Status {
        /// The running daemon's runtime directory (its control socket).
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// A live full-screen view of the running daemon: role, peer, VIPs, every virtual service
    /// and real server with health, weight, connections and traffic rates (q quits).
    Top {
        /// The running daemon's runtime directory (its control socket).
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
        /// Seconds between two refreshes.
        #[arg(long, default_value_t = 1, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        refresh: u64,
        /// Print one screen as text (rates over two readings 4 s apart) and exit: for
        /// scripts and logs.
        #[arg(long)]
        once: bool,
        /// With --once: the width of the text.
        #[arg(long, default_value_t = 132, value_name = "COLUMNS",
              value_parser = clap::value_parser!(u16).range(60..=1000))]
        width: u16,
    },
    /// Give this node's resources to the peer (Heartbeat's hb_standby).
    Standby {
        /// The running daemon's runtime directory (its control socket).
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// Take the resources from the peer (Heartbeat's hb_takeover).
    Takeover {
        /// The running daemon's runtime directory (its control socket).
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// Re-read the configuration (a broken one is refused and the running one kept).
    Reload {
        /// The running daemon's runtime directory (its control socket).
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// Drain, disable, enable or reweight a real server of the running daemon; kept across
    /// reloads and restarts, and shared with the peer of a pair.
    #[command(subcommand)]
    Real(Real),
    /// Convert another tool's configuration into the files director runs.
    #[command(subcommand)]
    Import(Import),
    /// Print a shell completion script for director (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write director's manual pages (director.8 and one page per command) into DIR.
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// ipvsadm 1.31, byte for byte.
    #[command(disable_help_flag = true)]
    Ipvsadm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true,
              value_parser = clap::value_parser!(std::ffi::OsString))]
        args: Vec<std::ffi::OsString>,
    },
}

/// `director real ...`: VIRTUAL as ipvsadm takes it (`-t|-u|--sctp-service ADDR:PORT`,
/// `-f MARK`) or as `director status` names it (`tcp:192.0.2.132:80`); REAL as
/// `ADDR:PORT`, or `ADDR` when the virtual has one real server at that address.
#[derive(Subcommand)]
pub enum Real {
    /// Weight 0 now; the real server keeps its established connections and leaves the
    /// table when it has none left (active and inactive) or after the timeout.
    Drain {
        #[command(flatten)]
        target: RealTarget,
        /// Seconds to wait for its connections (default: director.conf `[drain] timeout`, 5 min).
        #[arg(long, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
    },
    /// Out of the table now (as ldirectord's maintenancedir).
    Disable {
        #[command(flatten)]
        target: RealTarget,
    },
    /// Back to what the file and its health check say.
    Enable {
        #[command(flatten)]
        target: RealTarget,
    },
    /// This weight instead of the file's: `director real weight VIRTUAL REAL N`.
    Weight {
        #[command(flatten)]
        target: RealTarget,
    },
}

/// The virtual service and real server of `director real`.
#[derive(clap::Args)]
pub struct RealTarget {
    /// The running daemon's runtime directory (its control socket).
    #[arg(long, default_value = "/run/director")]
    pub run_dir: PathBuf,
    /// A TCP virtual service, ADDR:PORT.
    #[arg(short = 't', long = "tcp-service", value_name = "ADDR:PORT",
          conflicts_with_all = ["udp", "sctp", "fwmark"])]
    pub tcp: Option<String>,
    /// A UDP virtual service, ADDR:PORT.
    #[arg(short = 'u', long = "udp-service", value_name = "ADDR:PORT",
          conflicts_with_all = ["sctp", "fwmark"])]
    pub udp: Option<String>,
    /// An SCTP virtual service, ADDR:PORT.
    #[arg(
        long = "sctp-service",
        value_name = "ADDR:PORT",
        conflicts_with = "fwmark"
    )]
    pub sctp: Option<String>,
    /// A firewall-mark virtual service.
    #[arg(short = 'f', long = "fwmark-service", value_name = "MARK")]
    pub fwmark: Option<String>,
    /// [VIRTUAL] REAL (and N for weight).
    #[arg(value_name = "ARGS", required = true, num_args = 1..=3)]
    pub args: Vec<String>,
}

impl RealTarget {
    /// (virtual, real, what follows) from the flags and words given; the error in words.
    pub fn split(&self) -> Result<(String, String, Vec<String>), String> {
        use crate::lvs::operator::virtual_name;
        let flagged = [
            ('t', &self.tcp),
            ('u', &self.udp),
            ('s', &self.sctp),
            ('f', &self.fwmark),
        ]
        .into_iter()
        .find_map(|(flag, v)| v.as_ref().map(|v| virtual_name(flag, v)));
        let mut words = self.args.iter().cloned();
        let virtual_name = match flagged {
            Some(v) => v,
            None => words
                .next()
                .ok_or("give the virtual service (-t|-u|-f or its name) and the real server")?,
        };
        let real = words
            .next()
            .ok_or("give the real server (ADDR:PORT or ADDR)")?;
        Ok((virtual_name, real, words.collect()))
    }
}

/// `director import ...`.
#[derive(Subcommand)]
pub enum Import {
    /// keepalived.conf (with its includes) -> ha.cf, authkeys, haresources, ldirectord files.
    /// Everything without an equivalent is printed as `FILE:LINE: not carried over: ...`.
    /// Exit status: 0 complete; 3 written, but something was not carried over; 1 nothing
    /// written (an error in the file, or an output file that already exists).
    Keepalived {
        /// The keepalived.conf to read.
        file: PathBuf,
        /// The directory to write into (created if missing; existing files are not replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// This node's name, as ha.cf lists it (default: uname -n).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
        /// The other node's name (uname -n there); needed when the file has a vrrp_instance.
        #[arg(long, value_name = "NAME")]
        peer: Option<String>,
    },
}

/// Parses director's command line (`argv[0]` first). `director ipvsadm ARGS...` hands ARGS
/// to ipvsadm exactly as given: clap would take a first `--` as its own end of options, and
/// ipvsadm (popt) must see it.
pub fn try_parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if let Some((sub, args)) = argv.get(1..).and_then(<[OsString]>::split_first) {
        if sub == "ipvsadm" {
            return Ok(Cli {
                command: Command::Ipvsadm {
                    args: args.to_vec(),
                },
            });
        }
    }
    Cli::try_parse_from(argv)
}

/// A command line given as one option value (program, arguments).
#[derive(Debug, Clone)]
pub struct Argv(pub Vec<String>);

/// The clap definition of director's command line.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Writes `director.8` and `director-COMMAND.8` for every visible command into `dir`
/// (section 8, as ipvsadm's and ldirectord's pages); returns the files written.
pub fn write_manpages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = command();
    cmd.build();
    let mut written = Vec::new();
    write_manpage(&cmd, "director", dir, &mut written)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("director-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        write_manpage(&sub, &name, dir, &mut written)?;
    }
    Ok(written)
}

fn write_manpage(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let path = dir.join(format!("{name}.8"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .manual("director")
        .render(&mut out)?;
    std::fs::write(&path, out)?;
    written.push(path);
    Ok(())
}

/// Writes the completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut command(), "director", out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Words of director's command line, mixed with anything.
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "run",
                "check",
                "status",
                "standby",
                "takeover",
                "reload",
                "completions",
                "manpages",
                "ipvsadm",
                "help",
                "--config-dir",
                "--run-dir",
                "--state-dir",
                "--metrics",
                "--ldirectord",
                "--ipvs",
                "--fence",
                "--stonith-command",
                "--print-ipvs",
                "--json",
                "--help",
                "-h",
                "--version",
                "-V",
                "--",
                "-",
                "memory",
                "kernel",
                "bash",
                "reboot",
                "/bin/true",
                "=",
                "--ipvs=memory",
            ])
            .prop_map(str::to_string),
            ".{0,20}",
        ]
    }

    /// A value that clap takes as a value (not an option, not empty).
    fn value() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_./:][A-Za-z0-9_./: -]{0,30}"
    }

    proptest! {
        #[test]
        fn any_arguments_parse_or_give_an_error(args in proptest::collection::vec(word(), 0..8)) {
            let argv: Vec<String> = std::iter::once("director".to_string()).chain(args).collect();
            let _ = try_parse_from(&argv);
            if let Err(e) = Cli::try_parse_from(argv) {
                let _ = e.to_string();
                let _ = e.exit_code();
            }
        }

        #[test]
        fn run_options_round_trip(
            config_dir in value(),
            run_dir in value(),
            state_dir in value(),
            metrics in value(),
            ldirectord in proptest::collection::vec(value(), 0..3),
            memory in any::<bool>(),
        ) {
            let mut argv = vec![
                "director".to_string(), "run".into(),
                "--config-dir".into(), config_dir.clone(),
                "--run-dir".into(), run_dir.clone(),
                "--state-dir".into(), state_dir.clone(),
                format!("--metrics={metrics}"),
                "--ipvs".into(), if memory { "memory" } else { "kernel" }.into(),
            ];
            for f in &ldirectord {
                argv.extend(["--ldirectord".to_string(), f.clone()]);
            }
            let cli = Cli::try_parse_from(&argv).unwrap();
            let Command::Run { config_dir: c, run_dir: r, state_dir: s, metrics: m, ldirectord: l, ipvs, .. } = cli.command else {
                panic!("not run");
            };
            prop_assert_eq!(c, PathBuf::from(config_dir));
            prop_assert_eq!(r, PathBuf::from(run_dir));
            prop_assert_eq!(s, PathBuf::from(state_dir));
            prop_assert_eq!(m, metrics);
            prop_assert_eq!(l, ldirectord.iter().map(PathBuf::from).collect::<Vec<_>>());
            prop_assert_eq!(ipvs, if memory { "memory" } else { "kernel" });
        }

        #[test]
        fn check_and_status_round_trip(
            config_dir in value(),
            files in proptest::collection::vec(value(), 0..3),
            print in any::<bool>(),
            json in any::<bool>(),
        ) {
            let mut argv = vec!["director".to_string(), "check".into(), "--config-dir".into(), config_dir.clone()];
            if print {
                argv.push("--print-ipvs".into());
            }
            argv.push("--".into());
            argv.extend(files.iter().cloned());
            let Command::Check { config_dir: c, print_ipvs, files: f, .. } = Cli::try_parse_from(&argv).unwrap().command else {
                panic!("not check");
            };
            prop_assert_eq!(c, PathBuf::from(&config_dir));
            prop_assert_eq!(print_ipvs, print);
            prop_assert_eq!(f, files.iter().map(PathBuf::from).collect::<Vec<_>>());

            let mut argv = vec!["director".to_string(), "status".into(), "--run-dir".into(), config_dir.clone()];
            if json {
                argv.push("--json".into());
            }
            let Command::Status { run_dir, json: j } = Cli::try_parse_from(&argv).unwrap().command else {
                panic!("not status");
            };
            prop_assert_eq!(run_dir, PathBuf::from(&config_dir));
            prop_assert_eq!(j, json);
        }

        #[test]
        fn ipvsadm_arguments_pass_through_untouched(args in proptest::collection::vec(word(), 0..8)) {
            let argv = ["director".to_string(), "ipvsadm".into()].into_iter().chain(args.iter().cloned());
            let Command::Ipvsadm { args: got } = try_parse_from(argv).unwrap().command else {
                panic!("not ipvsadm");
            };
            let got: Vec<String> = got.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            prop_assert_eq!(got, args);
        }
    }

    #[test]
    fn ipvsadm_sees_a_double_dash() {
        // Found by `ipvsadm_arguments_pass_through_untouched`: clap ate the first `--`.
        let Command::Ipvsadm { args } = try_parse_from(["director", "ipvsadm", "--", "-L"])
            .unwrap()
            .command
        else {
            panic!("not ipvsadm");
        };
        assert_eq!(args, ["--", "-L"]);
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn manpages_cover_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_manpages(dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "director.8",
            "director-run.8",
            "director-check.8",
            "director-ipvsadm.8",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        let run = std::fs::read_to_string(dir.path().join("director-run.8")).unwrap();
        assert!(
            run.contains("config\\-dir"),
            "director-run.8 lacks --config-dir:\n{run}"
        );
        assert!(
            run.contains("\n.TH director-run 8 "),
            "not a section 8 page:\n{run}"
        );
    }

    #[test]
    fn bash_completion_knows_the_commands() {
        let mut out = Vec::new();
        write_completions(clap_complete::Shell::Bash, &mut out);
        let text = String::from_utf8(out).unwrap();
        for word in ["standby", "takeover", "--config-dir", "ipvsadm"] {
            assert!(text.contains(word), "bash completion lacks {word}");
        }
    }
}
