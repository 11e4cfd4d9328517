//! Run a shell script inside the lab VM (Debian's kernel with IPVS, under qemu).
//!
//! This is a thin wrapper over `tests/lab/vm-run`, which fetches and caches the
//! kernel, builds the initramfs, boots it and reports the script's output and
//! exit status (see `tests/lab/README.md`). Scenarios live in
//! `tests/lab/scenarios/`.
//!
//! ```no_run
//! use tests::lab::LabRun;
//! let outcome = LabRun::scenario("http-traffic.sh").env("MODE", "dr").run()?.check()?;
//! assert!(outcome.output.contains("PASS"));
//! # Ok::<(), tests::lab::LabError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The `tests` crate's directory (holds `lab/`).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `vm-run` command line entry.
pub fn vm_run_path() -> PathBuf {
    crate_dir().join("lab").join("vm-run")
}

/// The directory holding the scenario scripts.
pub fn scenario_dir() -> PathBuf {
    crate_dir().join("lab").join("scenarios")
}

/// The director binary the lab uses by default: `$LAB_DIRECTOR_BIN`, else the
/// workspace's `target/release/director` (`$CARGO_TARGET_DIR` respected).
pub fn default_director_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LAB_DIRECTOR_BIN") {
        return PathBuf::from(bin);
    }
    target_dir().join("release").join("director")
}

/// The workspace's cargo target directory (`$CARGO_TARGET_DIR` respected).
pub fn target_dir() -> PathBuf {
    let workspace = crate_dir().parent().unwrap_or(crate_dir());
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                workspace.join(t)
            }
        })
        .unwrap_or_else(|| workspace.join("target"))
}

/// A director example built for the VM (`tests/run-all` builds them before the lab tests:
/// `cargo build --release -p director --examples`); panics when it is missing.
pub fn release_example(name: &str) -> PathBuf {
    let path = target_dir().join("release/examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: cargo build --release -p director --examples",
        path.display()
    );
    path
}

/// Which director binary goes into the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bin {
    /// [`default_director_bin`]; the run fails if it does not exist.
    Default,
    Path(PathBuf),
    None,
}

/// One VM run to make: a script plus what goes in with it.
#[derive(Debug, Clone)]
pub struct LabRun {
    script: PathBuf,
    bin: Bin,
    env: Vec<(String, String)>,
    add: Vec<PathBuf>,
    timeout: Duration,
}

impl LabRun {
    /// Run the scenario `name` from `tests/lab/scenarios/`.
    pub fn scenario(name: &str) -> Self {
        Self::script(scenario_dir().join(name))
    }

    /// Run the script at `path`.
    pub fn script(path: impl Into<PathBuf>) -> Self {
        Self {
            script: path.into(),
            bin: Bin::Default,
            env: Vec::new(),
            add: Vec::new(),
            timeout: Duration::from_secs(300),
        }
    }

    /// Put this director binary at `/usr/sbin/director` (default:
    /// [`default_director_bin`], which must exist).
    pub fn bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Bin::Path(path.into());
        self
    }

    /// Boot without a director binary.
    pub fn no_bin(mut self) -> Self {
        self.bin = Bin::None;
        self
    }

    /// Set a variable for the script.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Copy a host file (and its libraries) into the VM at the same path.
    pub fn add_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.add.push(path.into());
        self
    }

    /// Kill the VM after this long (whole seconds, at least 1; default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `vm-run` arguments for this run.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        match &self.bin {
            Bin::Default => {
                args.push("--bin".to_owned());
                args.push(default_director_bin().display().to_string());
            }
            Bin::Path(path) => {
                args.push("--bin".to_owned());
                args.push(path.display().to_string());
            }
            Bin::None => args.push("--no-bin".to_owned()),
        }
        for (name, value) in &self.env {
            args.push("--env".to_owned());
            args.push(format!("{name}={value}"));
        }
        for path in &self.add {
            args.push("--add".to_owned());
            args.push(path.display().to_string());
        }
        args.push("--timeout".to_owned());
        args.push(self.timeout.as_secs().max(1).to_string());
        args.push("--".to_owned());
        args.push(self.script.display().to_string());
        args
    }

    /// Boot the VM, run the script, wait for the VM to stop.
    pub fn run(&self) -> Result<Outcome, LabError> {
        let vm_run = vm_run_path();
        let out = Command::new(&vm_run)
            .args(self.args())
            .output()
            .map_err(|source| LabError::Spawn {
                path: vm_run.clone(),
                source,
            })?;
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        Ok(Outcome {
            script: self.script.clone(),
            status: Status::parse(out.status.code(), &log),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
            log,
        })
    }

    /// For tests: run, require exit 0 and every line of `wants` in the output (panics with
    /// the whole output otherwise); the output.
    pub fn passes(&self, wants: &[&str]) -> String {
        let out = self
            .run()
            .unwrap_or_else(|e| panic!("vm-run: {e}"))
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .output;
        for want in wants {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        out
    }
}

/// How a VM run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The script ran and exited with this status.
    Exited(i32),
    /// The VM did not finish within the timeout.
    TimedOut,
    /// The VM could not be built or stopped without reporting (vm-run's exit
    /// status, if it had one).
    VmFailed(Option<i32>),
}

impl Status {
    /// Read the end of a run from vm-run's exit status and its stderr: the
    /// line `vm-run: script exited N` means the script ran; exit status 124
    /// with a `TIMEOUT` line means the VM was killed.
    pub fn parse(code: Option<i32>, log: &str) -> Self {
        let reported = log.lines().rev().find_map(|line| {
            line.strip_prefix("vm-run: script exited ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<i32>().ok())
        });
        match (reported, code) {
            (Some(n), Some(c)) if n == c => Status::Exited(n),
            (_, Some(124)) if log.lines().any(|l| l.starts_with("vm-run: TIMEOUT")) => {
                Status::TimedOut
            }
            (_, c) => Status::VmFailed(c),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(n) => write!(f, "script exited {n}"),
            Status::TimedOut => f.write_str("the VM timed out"),
            Status::VmFailed(Some(c)) => write!(f, "the VM failed (vm-run exit {c})"),
            Status::VmFailed(None) => f.write_str("the VM failed (vm-run killed by a signal)"),
        }
    }
}

/// What a VM run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The script that ran.
    pub script: PathBuf,
    /// How it ended.
    pub status: Status,
    /// The script's stdout and stderr, as the VM saw them.
    pub output: String,
    /// vm-run's own messages (and the kernel console's tail on failure).
    pub log: String,
}

impl Outcome {
    /// True when the script ran and exited 0.
    pub fn success(&self) -> bool {
        self.status == Status::Exited(0)
    }

    /// `Ok(self)` when the script exited 0, else an error carrying the output.
    pub fn check(self) -> Result<Self, LabError> {
        if self.success() {
            Ok(self)
        } else {
            Err(LabError::Failed(Box::new(self)))
        }
    }
}

/// Errors from running the lab VM.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// vm-run could not be started.
    #[error("cannot run {}: {source}", path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The script failed, or the VM did.
    #[error("{}: {}\n--- output ---\n{}--- vm-run ---\n{}", .0.script.display(), .0.status, .0.output, .0.log)]
    Failed(Box<Outcome>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reported_status_is_the_scripts() {
        let log = "vm-run: script exited 3 (VM 8.6s, tcg)\n";
        assert_eq!(Status::parse(Some(3), log), Status::Exited(3));
        assert_eq!(
            Status::parse(Some(0), "vm-run: script exited 0 (VM 1s, kvm)"),
            Status::Exited(0)
        );
    }

    #[test]
    fn a_script_exiting_124_is_not_a_timeout() {
        let log = "vm-run: script exited 124 (VM 8.6s, tcg)\n";
        assert_eq!(Status::parse(Some(124), log), Status::Exited(124));
    }

    #[test]
    fn timeout_and_vm_failure_are_told_apart() {
        let log = "vm-run: TIMEOUT: the VM did not finish within 5s\n";
        assert_eq!(Status::parse(Some(124), log), Status::TimedOut);
        let log = "vm-run: the VM stopped without reporting a status (qemu exit 1)\n";
        assert_eq!(Status::parse(Some(125), log), Status::VmFailed(Some(125)));
        assert_eq!(Status::parse(None, ""), Status::VmFailed(None));
    }

    #[test]
    fn a_report_that_disagrees_with_the_exit_status_is_a_failure() {
        let log = "vm-run: script exited 0 (VM 8.6s, tcg)\n";
        assert_eq!(Status::parse(Some(1), log), Status::VmFailed(Some(1)));
    }

    #[test]
    fn args_name_the_binary_env_and_script() {
        let run = LabRun::script("/x/s.sh")
            .bin("/b/director")
            .env("MODE", "dr")
            .add_file("/usr/bin/curl")
            .timeout(Duration::from_millis(10));
        assert_eq!(
            run.args(),
            [
                "--bin",
                "/b/director",
                "--env",
                "MODE=dr",
                "--add",
                "/usr/bin/curl",
                "--timeout",
                "1",
                "--",
                "/x/s.sh"
            ]
        );
        assert_eq!(LabRun::script("s").no_bin().args()[0], "--no-bin");
    }

    #[test]
    fn scenarios_and_vm_run_exist() {
        assert!(vm_run_path().is_file());
        assert!(scenario_dir().join("lib.sh").is_file());
    }

    proptest! {
        #[test]
        fn status_parse_never_panics(code in proptest::option::of(any::<i32>()), log in ".*") {
            let _ = Status::parse(code, &log);
        }

        #[test]
        fn exited_round_trips(n in 0i32..256, secs in 0u32..1000) {
            let log = format!("vm-run: note\nvm-run: script exited {n} (VM {secs}.5s, tcg)\n");
            prop_assert_eq!(Status::parse(Some(n), &log), Status::Exited(n));
        }
    }
}
