//! director's own command line (`director run`, `check`, `status`, ...), defined once with clap:
//! `main` parses it, and the manual pages and shell completions are generated from it
//! (clap_mangen, clap_complete), so they cannot drift from what the binary accepts.

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
