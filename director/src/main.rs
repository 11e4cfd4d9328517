//! The `director` binary (also run as `ipvsadm` and `ldirectord` through symlinks):
//! parse the command line, install tracing, hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use director::control::{self, Request, Response};

#[derive(Parser)]
#[command(
    name = "director",
    version,
    about = "LVS director: IPVS, health checks and failover in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    },
    /// Validate every configuration file; print problems as `file:line: message`.
    Check {
        #[arg(long, default_value = "/etc/ha.d")]
        config_dir: PathBuf,
        /// Print the IPVS table the files program when every real server is up (`ipvsadm -S -n`).
        #[arg(long)]
        print_ipvs: bool,
        /// Files to check (ldirectord files by name or path); default: everything in the directory.
        files: Vec<PathBuf>,
    },
    /// Show the daemon's status.
    Status {
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Give this node's resources to the peer (Heartbeat's hb_standby).
    Standby {
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// Take the resources from the peer (Heartbeat's hb_takeover).
    Takeover {
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// Re-read the configuration (a broken one is refused and the running one kept).
    Reload {
        #[arg(long, default_value = "/run/director")]
        run_dir: PathBuf,
    },
    /// ipvsadm 1.31, byte for byte.
    #[command(disable_help_flag = true)]
    Ipvsadm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("director")
        .to_string();
    if prog == "ipvsadm" {
        let argv0 = argv.first().map(String::as_str).unwrap_or("ipvsadm");
        return exit(director::app::ipvsadm_named(
            argv0,
            argv.get(1..).unwrap_or(&[]),
        ));
    }
    if prog == "ldirectord" {
        return exit(director::app::ldirectord(&argv[1..]));
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Ipvsadm { args } => exit(director::app::ipvsadm(&args)),
        Command::Run {
            config_dir,
            run_dir,
            state_dir,
            metrics,
            ldirectord,
            ipvs,
        } => {
            director::app::init_tracing();
            let opts = director::daemon::Options {
                config_dir,
                run_dir,
                state_dir,
                metrics: (metrics != "off").then_some(metrics),
                ldirectord,
                backend: if ipvs == "memory" {
                    director::daemon::Backend::Memory
                } else {
                    director::daemon::Backend::Kernel
                },
            };
            exit(director::daemon::run(opts))
        }
        Command::Check {
            config_dir,
            print_ipvs,
            files,
        } => exit(director::app::check(&config_dir, &files, print_ipvs)),
        Command::Status { run_dir, json } => control_command(&run_dir, Request::Status, json),
        Command::Standby { run_dir } => control_command(&run_dir, Request::Standby, false),
        Command::Takeover { run_dir } => control_command(&run_dir, Request::Takeover, false),
        Command::Reload { run_dir } => control_command(&run_dir, Request::Reload, false),
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1))
}

fn control_command(run_dir: &std::path::Path, req: Request, json: bool) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("director: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(control::request(run_dir, &req)) {
        Ok(Response::Ok { message }) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Ok(Response::Status { status }) => {
            if json {
                match serde_json::to_string_pretty(&status) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("director: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", status.render());
            }
            ExitCode::SUCCESS
        }
        Ok(Response::Error { message }) => {
            eprintln!("director: {message}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("director: {e}");
            ExitCode::from(3)
        }
    }
}
