//! Resetting (STONITH) a dead peer before its groups are taken over, as Heartbeat's
//! `hb_resource.c:Initiate_Reset` does.
//!
//! ha.cf's `stonith TYPE FILE` lines and the `stonith_host FROMHOST|* TYPE PARAMS...` lines
//! for this node are cluster-glue devices. Heartbeat drives them through libstonith;
//! director runs cluster-glue's command line tool, which loads the same plugins:
//!
//! ```text
//! stonith -t TYPE -p "PARAMS..." -T reset NODE      (stonith_host)
//! stonith -t TYPE -F FILE -T reset NODE             (stonith)
//! ```
//!
//! The devices are tried in ha.cf order until one succeeds (Heartbeat keeps only the last
//! one). Instead of the devices an operator may give a command ([`PeerReset::Command`],
//! `director run --stonith-command`), run with the peer's name as its last argument. Exit
//! status 0 means the peer was reset. The state machine takes nothing over until a reset
//! succeeds, and retries a failed one ([`crate::fsm::FsmConfig::stonith_retry`]).
//!
//! [`resolve`] (at load) finds the tool and checks each device type, so `director check`
//! and `director run` report a missing tool or a bad line as `ha.cf:LINE: ...`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::config::hacf::{HaCf, Stonith};
use crate::config::Diagnostic;

/// cluster-glue's command line tool.
pub const TOOL: &str = "stonith";
/// A reset that takes longer than this counts as failed (the tool is killed).
pub const RESET_TIMEOUT: Duration = Duration::from_secs(120);

/// How this node resets a dead peer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PeerReset {
    /// No STONITH configured for this node: take over without a reset (Heartbeat logs "No
    /// STONITH device configured.").
    #[default]
    None,
    /// The devices of ha.cf that apply to this node, through cluster-glue's `tool`.
    Devices {
        tool: PathBuf,
        devices: Vec<Stonith>,
    },
    /// The operator's command: program, arguments; the peer's name is appended.
    Command(Vec<String>),
}

impl PeerReset {
    /// Whether a reset is required before a takeover.
    pub fn is_configured(&self) -> bool {
        !matches!(self, PeerReset::None)
    }
}

/// The devices of `cf` node `local` uses, in ha.cf order.
pub fn devices_for(cf: &HaCf, local: &str) -> Vec<Stonith> {
    cf.stonith
        .iter()
        .filter(|s| s.applies_to(local))
        .cloned()
        .collect()
}

/// The command line that resets `node` with `device` through `tool`.
pub fn reset_argv(tool: &Path, device: &Stonith, node: &str) -> Vec<String> {
    let mut argv = vec![
        tool.display().to_string(),
        "-t".to_string(),
        device.kind().to_string(),
    ];
    match device {
        Stonith::File { config, .. } => {
            argv.push("-F".into());
            argv.push(config.display().to_string());
        }
        Stonith::Host { params, .. } => {
            argv.push("-p".into());
            argv.push(params.join(" "));
        }
    }
    argv.extend(["-T".to_string(), "reset".to_string(), node.to_string()]);
    argv
}

/// The command line that checks a device type exists (`stonith -t TYPE -n` lists its
/// parameter names; an unknown type fails).
pub fn type_check_argv(tool: &Path, device: &Stonith) -> Vec<String> {
    vec![
        tool.display().to_string(),
        "-t".to_string(),
        device.kind().to_string(),
        "-n".to_string(),
    ]
}

/// Parses `--stonith-command`: an absolute program path, then its arguments.
pub fn parse_command(text: &str) -> Result<Vec<String>, String> {
    let argv: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    match argv.first() {
        Some(p) if p.starts_with('/') => Ok(argv),
        _ => Err(format!(
            "invalid STONITH command [{}]: give the absolute path of a program (it gets the \
             node to reset as its last argument)",
            text.trim()
        )),
    }
}

/// Where [`resolve`] looks for the tool: the directories of `path` (a `PATH` value), then
/// `/usr/sbin` and `/sbin` (a daemon's `PATH` may lack them).
pub fn search_dirs(path: Option<OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]);
    dirs
}

/// The first executable `stonith` in `dirs`.
pub fn find_tool(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.join(TOOL))
        .find(|p| is_executable_file(p))
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Decides how node `local` resets its peer, checking what that needs, at load time:
/// `command` (the operator's) wins; otherwise the devices of ha.cf for this node need
/// cluster-glue's tool (the first in `dirs`, see [`search_dirs`]), each device type must be
/// known to it, and a `stonith` config file must be readable. Problems are errors at the
/// device's line.
pub fn resolve(
    hacf_path: &Path,
    cf: &HaCf,
    local: &str,
    command: Option<Vec<String>>,
    dirs: &[PathBuf],
) -> Result<PeerReset, Vec<Diagnostic>> {
    if let Some(argv) = command {
        return Ok(PeerReset::Command(argv));
    }
    let devices = devices_for(cf, local);
    let Some(first) = devices.first() else {
        return Ok(PeerReset::None);
    };
    let Some(tool) = find_tool(dirs) else {
        return Err(vec![Diagnostic::error(
            hacf_path,
            first.line(),
            format!(
                "{}: cannot reset a dead peer before taking over: cluster-glue's {TOOL} tool \
                 is not installed (apt-get install cluster-glue), or give director run \
                 --stonith-command",
                first.directive()
            ),
        )]);
    };
    let mut errors = Vec::new();
    for d in &devices {
        let argv = type_check_argv(&tool, d);
        let known = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !known {
            errors.push(Diagnostic::error(
                hacf_path,
                d.line(),
                format!(
                    "{}: invalid STONITH type [{}] ({} -L lists the types)",
                    d.directive(),
                    d.kind(),
                    tool.display()
                ),
            ));
        }
        if let Stonith::File { config, .. } = d {
            if let Err(e) = std::fs::File::open(config) {
                errors.push(Diagnostic::error(
                    hacf_path,
                    d.line(),
                    format!(
                        "stonith: cannot read config file [{}]: {e}",
                        config.display()
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(PeerReset::Devices { tool, devices })
    } else {
        Err(errors)
    }
}

/// Resets `node` as `how` says; true once it is reset. Logs in Heartbeat's words.
pub async fn reset(how: &PeerReset, node: &str) -> bool {
    match how {
        PeerReset::None => {
            tracing::error!(
                peer = node,
                "no STONITH device configured: cannot reset node {node}"
            );
            false
        }
        PeerReset::Command(argv) => {
            let mut argv = argv.clone();
            argv.push(node.to_string());
            tracing::info!(
                peer = node,
                "Resetting node {node} with [{}]",
                argv.join(" ")
            );
            run(&argv, node).await
        }
        PeerReset::Devices { tool, devices } => {
            for d in devices {
                tracing::info!(
                    peer = node,
                    device = d.kind(),
                    "Resetting node {node} with [{}]",
                    d.kind()
                );
                if run(&reset_argv(tool, d, node), node).await {
                    return true;
                }
            }
            false
        }
    }
}

/// Runs one reset command line; true on exit status 0.
async fn run(argv: &[String], node: &str) -> bool {
    let Some((prog, args)) = argv.split_first() else {
        return false;
    };
    let child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(peer = node, "Host {node} not reset! cannot run {prog}: {e}");
            return false;
        }
    };
    match tokio::time::timeout(RESET_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {
            tracing::info!(peer = node, "node {node} now reset.");
            true
        }
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said = stderr.trim();
            tracing::error!(
                peer = node,
                "Host {node} not reset! {prog} {} ({}){}",
                args.join(" "),
                out.status,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            );
            false
        }
        Ok(Err(e)) => {
            tracing::error!(peer = node, "Host {node} not reset! {prog}: {e}");
            false
        }
        Err(_) => {
            tracing::error!(
                peer = node,
                "Host {node} not reset! {prog} did not finish within {RESET_TIMEOUT:?}"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hacf(lines: &str) -> HaCf {
        crate::config::hacf::parse(
            Path::new("ha.cf"),
            &format!("bcast eth0\nnode ha01\nnode ha02\nauto_failback on\n{lines}"),
        )
        .map(|p| p.value)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_this_nodes_lines_and_star_apply() {
        let cf = hacf(
            "stonith_host ha01 external/ssh ha02\nstonith_host HA02 external/ssh ha01\n\
             stonith_host * null ha01 ha02\n",
        );
        let kinds = |n: &str| -> Vec<(String, usize)> {
            devices_for(&cf, n)
                .iter()
                .map(|d| (d.kind().to_string(), d.line()))
                .collect()
        };
        assert_eq!(
            kinds("ha01"),
            vec![("external/ssh".into(), 5), ("null".into(), 7)]
        );
        assert_eq!(
            kinds("ha02"),
            vec![("external/ssh".into(), 6), ("null".into(), 7)]
        );
        assert!(devices_for(&hacf(""), "ha01").is_empty());
    }

    #[test]
    fn command_lines_as_cluster_glue_takes_them() {
        let cf = hacf("stonith_host * external/ipmi ha02 192.0.2.50 admin secret lan\nstonith baytech /etc/ha.d/baytech.cfg\n");
        let tool = Path::new("/usr/sbin/stonith");
        assert_eq!(
            reset_argv(tool, &cf.stonith[0], "ha02"),
            [
                "/usr/sbin/stonith",
                "-t",
                "external/ipmi",
                "-p",
                "ha02 192.0.2.50 admin secret lan",
                "-T",
                "reset",
                "ha02"
            ]
        );
        assert_eq!(
            reset_argv(tool, &cf.stonith[1], "ha02"),
            [
                "/usr/sbin/stonith",
                "-t",
                "baytech",
                "-F",
                "/etc/ha.d/baytech.cfg",
                "-T",
                "reset",
                "ha02"
            ]
        );
        assert_eq!(
            type_check_argv(tool, &cf.stonith[1]),
            ["/usr/sbin/stonith", "-t", "baytech", "-n"]
        );
    }

    #[test]
    fn stonith_command_option() {
        assert_eq!(
            parse_command(" /usr/local/sbin/reset-peer --hard "),
            Ok(vec!["/usr/local/sbin/reset-peer".into(), "--hard".into()])
        );
        assert!(parse_command("reset-peer").is_err());
        assert!(parse_command("").is_err());
    }

    /// A directory with a fake `stonith` tool: it records its arguments and succeeds for the
    /// device types listed in `good` (`-n` and `-T reset` alike).
    fn fake_tool(dir: &Path, good: &[&str]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(TOOL);
        let cases = good.join("|");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\ncase \"$2\" in {cases}) exit 0;; esac\n\
                 echo \"no such device $2\" >&2\nexit 8\n",
                dir.join("calls").display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        p
    }

    fn calls(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn resolve_finds_the_tool_and_checks_each_type_at_its_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        fake_tool(dir.path(), &["null", "external/ssh"]);
        let path = vec![dir.path().to_path_buf()];
        let ha = Path::new("/etc/ha.d/ha.cf");
        // Nothing for this node: no reset.
        let cf = hacf("stonith_host ha02 null ha01\n");
        assert_eq!(resolve(ha, &cf, "ha01", None, &path), Ok(PeerReset::None));
        // Good devices.
        let cf = hacf("stonith_host * null ha01 ha02\nstonith_host ha01 external/ssh ha02\n");
        match resolve(ha, &cf, "ha01", None, &path) {
            Ok(PeerReset::Devices { tool, devices }) => {
                assert_eq!(tool, dir.path().join(TOOL));
                assert_eq!(devices.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        // An unknown type and an unreadable file, each at its line.
        let cf = hacf("stonith_host * nosuch ha02\nstonith null /nonexistent/null.cfg\n");
        let e: Vec<String> = resolve(ha, &cf, "ha01", None, &path)
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("/etc/ha.d/ha.cf:5: stonith_host: invalid STONITH type [nosuch]"));
        assert!(e[1].starts_with(
            "/etc/ha.d/ha.cf:6: stonith: cannot read config file [/nonexistent/null.cfg]"
        ));
        // The operator's command needs no tool and no device.
        assert_eq!(
            resolve(ha, &hacf(""), "ha01", Some(vec!["/bin/true".into()]), &[]),
            Ok(PeerReset::Command(vec!["/bin/true".into()]))
        );
    }

    #[test]
    fn a_missing_tool_is_reported_at_the_first_device_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let empty = vec![dir.path().to_path_buf()];
        assert_eq!(find_tool(&empty), None);
        let cf = hacf("stonith_host ha02 null ha01\nstonith_host * null ha01 ha02\n");
        let e = resolve(Path::new("ha.cf"), &cf, "ha01", None, &empty)
            .err()
            .unwrap_or_default();
        assert_eq!(e.len(), 1);
        assert!(e[0]
            .to_string()
            .starts_with("ha.cf:6: stonith_host: cannot reset a dead peer"));
        assert!(e[0].to_string().contains("apt-get install cluster-glue"));
        // The default search adds the sbin directories a daemon's PATH may lack.
        let dirs = search_dirs(Some("/opt/bin:/usr/bin".into()));
        assert_eq!(
            dirs,
            ["/opt/bin", "/usr/bin", "/usr/sbin", "/sbin"].map(PathBuf::from)
        );
    }

    #[tokio::test]
    async fn devices_are_tried_in_order_until_one_resets_the_node() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tool = fake_tool(dir.path(), &["good"]);
        let cf =
            hacf("stonith_host * bad x\nstonith_host * good ha01 ha02\nstonith_host * never y\n");
        let how = PeerReset::Devices {
            tool: tool.clone(),
            devices: devices_for(&cf, "ha02"),
        };
        assert!(reset(&how, "ha01").await);
        assert_eq!(
            calls(dir.path()),
            [
                "-t bad -p x -T reset ha01",
                "-t good -p ha01 ha02 -T reset ha01"
            ]
        );
        // Every device fails: not reset.
        let how = PeerReset::Devices {
            tool,
            devices: devices_for(&hacf("stonith_host * bad x\n"), "ha02"),
        };
        assert!(!reset(&how, "ha01").await);
        assert!(!reset(&PeerReset::None, "ha01").await);
    }

    #[tokio::test]
    async fn the_operator_command_gets_the_node_name_and_its_status_counts() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cmd = dir.path().join("reset-peer");
        std::fs::write(
            &cmd,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\n[ \"$2\" = ha01 ]\n",
                dir.path().join("calls").display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let how = PeerReset::Command(vec![cmd.display().to_string(), "--hard".into()]);
        assert!(reset(&how, "ha01").await);
        assert!(!reset(&how, "ha03").await);
        assert_eq!(calls(dir.path()), ["--hard ha01", "--hard ha03"]);
        let missing = PeerReset::Command(vec![dir.path().join("nope").display().to_string()]);
        assert!(!reset(&missing, "ha01").await);
    }
}
