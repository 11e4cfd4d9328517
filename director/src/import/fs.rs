//! The I/O of `director import keepalived FILE --out DIR`: the [`Source`] over the filesystem,
//! and writing the files (never over an existing one).

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::keepalived::{self, glob, Import, Options, Source, EXIT_ERROR};

/// Reads files and expands include patterns on the local filesystem.
pub struct FsSource;

impl Source for FsSource {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        let bytes = std::fs::read(path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn glob(&self, pattern: &Path) -> std::io::Result<Vec<PathBuf>> {
        let text = pattern.to_string_lossy();
        if !glob::has_wildcard(&text) {
            return Ok(if pattern.is_file() {
                vec![pattern.to_path_buf()]
            } else {
                Vec::new()
            });
        }
        let mut current = vec![if pattern.is_absolute() {
            PathBuf::from("/")
        } else {
            PathBuf::new()
        }];
        for part in glob::components(pattern) {
            let mut next = Vec::new();
            for dir in &current {
                if !glob::has_wildcard(&part) {
                    next.push(dir.join(&part));
                    continue;
                }
                let listing = if dir.as_os_str().is_empty() {
                    std::fs::read_dir(".")
                } else {
                    std::fs::read_dir(dir)
                };
                let Ok(entries) = listing else { continue };
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| glob::matches(&part, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| dir.join(n)));
            }
            current = next;
        }
        Ok(current.into_iter().filter(|p| p.is_file()).collect())
    }
}

/// `director import keepalived FILE --out DIR [--node NAME] [--peer NAME]`: prints every note
/// (stderr), writes the files, prints their names (stdout). Exit status: 0 complete,
/// 3 written with items not carried over, 1 nothing written (an error in the input, or a file
/// that cannot be written or already exists).
pub fn keepalived_command(
    file: &Path,
    out: &Path,
    node: Option<String>,
    peer: Option<String>,
) -> i32 {
    let node = match node {
        Some(n) => n.to_lowercase(),
        None => match nix::sys::utsname::uname() {
            Ok(u) => u.nodename().to_string_lossy().to_lowercase(),
            Err(e) => {
                eprintln!(
                    "director: cannot read this node's name (uname): {e}: give it with --node"
                );
                return EXIT_ERROR;
            }
        },
    };
    let options = Options {
        node,
        peer: peer.map(|p| p.to_lowercase()),
    };
    let result = keepalived::import(file, &FsSource, &options);
    for n in &result.notes {
        eprintln!("{n}");
    }
    if result.failed() {
        eprintln!("director: nothing written");
        return EXIT_ERROR;
    }
    if let Err(e) = write_all(out, &result) {
        eprintln!("director: {e}");
        return EXIT_ERROR;
    }
    for f in &result.files {
        println!("{}", out.join(&f.name).display());
    }
    result.exit_code()
}

fn write_all(out: &Path, result: &Import) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let existing: Vec<String> = result
        .files
        .iter()
        .map(|f| out.join(&f.name))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "not overwriting {}: import into an empty directory",
            existing.join(", ")
        ));
    }
    for f in &result.files {
        let path = out.join(&f.name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(f.mode)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        w.write_all(f.text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // The umask may have taken bits away; authkeys must be exactly 600.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
