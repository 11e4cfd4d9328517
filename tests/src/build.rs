//! Building a workspace binary for a test that runs it as a process.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// `cargo build -q ARGS` in the workspace, then the path of the built file `debug/REL`
/// under the target dir (`$CARGO_TARGET_DIR` respected).
pub fn cargo_build(args: &[&str], rel: &str) -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(&root)
        .arg("build")
        .arg("-q")
        .args(args)
        .status()
        .with_context(|| format!("running cargo build {}", args.join(" ")))?;
    if !st.success() {
        bail!("cargo build {} failed", args.join(" "));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug").join(rel))
}
