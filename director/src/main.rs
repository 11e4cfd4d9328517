//! The `director` binary (also run as `ipvsadm` and `ldirectord` through symlinks):
//! parse the command line, install tracing, hand over to the library.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::ExitCode;

use director::command::Command;
use director::control::{self, Request, Response};

fn main() -> ExitCode {
    // Arguments as the system gave them: any bytes, UTF-8 or not (clap reads them the same way).
    let argv: Vec<OsString> = std::env::args_os().collect();
    let argv0 = argv
        .first()
        .cloned()
        .unwrap_or_else(|| OsString::from("director"));
    let rest = argv.get(1..).unwrap_or(&[]);
    match Path::new(&argv0).file_name().and_then(|n| n.to_str()) {
        Some("ipvsadm") => return exit(director::app::ipvsadm_os(&argv0, rest)),
        Some("ldirectord") => {
            // ldirectord is Perl: it reads its arguments as bytes; its messages here are text,
            // so a byte that is not UTF-8 shows as U+FFFD.
            let args: Vec<String> = rest
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            return exit(director::app::ldirectord(&args));
        }
        _ => {}
    }
    let cli = director::command::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Ipvsadm { args } => exit(director::app::ipvsadm_os(OsStr::new("ipvsadm"), &args)),
        Command::Run {
            config_dir,
            run_dir,
            state_dir,
            metrics,
            ldirectord,
            ipvs,
            fence,
            stonith_command,
        } => {
            let log = director::app::init_tracing();
            let opts = director::daemon::Options {
                log,
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
                fence,
                stonith_command: stonith_command.map(|a| a.0),
            };
            match director::daemon::run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    e.log();
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Check {
            config_dir,
            print_ipvs,
            stonith_command,
            files,
        } => exit(director::app::check(
            &config_dir,
            &files,
            print_ipvs,
            stonith_command.map(|a| a.0),
        )),
        Command::Status { run_dir, json } => control_command(&run_dir, Request::Status, json),
        Command::Top {
            run_dir,
            once: true,
            width,
            ..
        } => exit(director::top::once(&run_dir, width)),
        Command::Top {
            run_dir, refresh, ..
        } => exit(director::top::run(
            &run_dir,
            std::time::Duration::from_secs(refresh),
        )),
        Command::Standby { run_dir } => control_command(&run_dir, Request::Standby, false),
        Command::Takeover { run_dir } => control_command(&run_dir, Request::Takeover, false),
        Command::Reload { run_dir } => control_command(&run_dir, Request::Reload, false),
        Command::Real(real) => real_command(&real),
        Command::Import(director::command::Import::Keepalived {
            file,
            out,
            node,
            peer,
        }) => exit(director::import::fs::keepalived_command(
            &file, &out, node, peer,
        )),
        Command::Completions { shell } => {
            director::command::write_completions(shell, &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Manpages { dir } => match director::command::write_manpages(&dir) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!(
                    "director: cannot write manual pages to {}: {e}",
                    dir.display()
                );
                ExitCode::FAILURE
            }
        },
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1))
}

/// `director real ...`: the request, or the usage error (exit 2, as clap's).
fn real_command(real: &director::command::Real) -> ExitCode {
    use director::command::Real;
    use director::control::RealOp;
    let (target, op) = match real {
        Real::Drain { target, timeout } => (
            target,
            RealOp::Drain {
                timeout_s: *timeout,
            },
        ),
        Real::Disable { target } => (target, RealOp::Disable),
        Real::Enable { target } => (target, RealOp::Enable),
        Real::Weight { target } => (target, RealOp::Enable),
    };
    let usage = |e: &str| {
        eprintln!("director real: {e}");
        ExitCode::from(2)
    };
    let (virtual_name, real_name, rest) = match target.split() {
        Ok(parts) => parts,
        Err(e) => return usage(&e),
    };
    let op = match (real, rest.as_slice()) {
        (Real::Weight { .. }, [n]) => match n.parse::<u32>() {
            Ok(weight) if i32::try_from(weight).is_ok() => RealOp::Weight { weight },
            _ => return usage(&format!("weight {n}: a number from 0 to 2147483647")),
        },
        (Real::Weight { .. }, _) => {
            return usage("give the weight: director real weight VIRTUAL REAL N")
        }
        (_, []) => op,
        (_, extra) => return usage(&format!("unexpected {}", extra.join(" "))),
    };
    let req = Request::Real {
        op,
        virtual_name,
        real: real_name,
    };
    control_command(&target.run_dir, req, false)
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
        Ok(Response::Traffic { traffic }) => match serde_json::to_string_pretty(&traffic) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("director: {e}");
                ExitCode::FAILURE
            }
        },
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
