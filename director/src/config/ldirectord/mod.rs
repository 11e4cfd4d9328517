//! ldirectord's configuration format, read exactly as ldirectord 1.186 reads it, with its
//! parser quirks accepted (and warned about) instead of rejected.
//!
//! - `model`: the typed result (`Config`, `Globals`, `VirtualService`, `Real`, ...)
//! - `parser`: `parse(text, file, resolver)`, the pure line machine: one method per directive
//! - `table`: `desired_table(&Config)`, the IPVS table with every real server up
//! - `text`: value rules (first digit run, inet_aton, comments, indentation)

mod model;
mod parser;
pub(crate) use parser::MAX_PERSISTENT;
mod table;
mod text;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use model::*;
pub use parser::{parse, MAX_RANGE, SCHEDULERS};
pub use table::{configured_dest, desired_table, service_config, service_key};

use super::diag::{Diagnostic, Diagnostics};
use super::resolve::Resolver;

/// Read and parse one ldirectord file. I/O checks ldirectord makes at load time that do not
/// change the file's meaning are warnings here (a missing `maintenancedir`).
pub fn load(
    path: &Path,
    resolver: &dyn Resolver,
) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics::new(vec![Diagnostic::error(
            std::path::Path::new(&file),
            0,
            format!("can not open file: {e}"),
        )])
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let (mut config, mut diags) = parse(&text, &file, resolver)?;
    // director.conf's [[service]] tables for this file (director's additions).
    super::service::load_and_apply(&mut config, path).map_err(|e| {
        let mut all = diags.clone();
        all.extend(e.diagnostics);
        Diagnostics::new(all)
    })?;
    // ldirectord opens every monitorfile for append while it reads the file: one that cannot
    // be opened is a configuration error (at start: no start; at reload: the reload is
    // refused and the running configuration kept).
    let mut errors: Vec<Diagnostic> = Vec::new();
    for m in config
        .virtuals
        .iter()
        .filter_map(|v| v.monitorfile.as_ref())
    {
        if let Err(e) = open_for_append(&m.path) {
            errors.push(Diagnostic::error(
                std::path::Path::new(&file),
                m.line,
                format!("unable to open monitorfile {}: {e}", m.path.display()),
            ));
        }
    }
    if !errors.is_empty() {
        diags.extend(errors);
        return Err(Diagnostics::new(diags));
    }
    if let Some(dir) = &config.globals.maintenancedir {
        if !dir.is_dir() {
            diags.push(Diagnostic::warning(
                std::path::Path::new(&file),
                0,
                format!("maintenance directory {} does not exist", dir.display()),
            ));
        }
    }
    Ok((config, diags))
}

/// ldirectord opens a `logfile="/path"` for append when it reads the file (not with `-d` or
/// `supervised`, which log elsewhere): one that cannot be opened is a configuration error at
/// its line (`file` names the file in the message). Syslog facilities and the default file
/// are not opened.
pub fn open_logfile(config: &Config, file: &str) -> Result<(), Diagnostic> {
    let (LogTarget::File(path), Some(line)) =
        (&config.globals.logfile, config.globals.logfile_line)
    else {
        return Ok(());
    };
    if config.globals.supervised {
        return Ok(());
    }
    open_for_append(path).map_err(|e| {
        Diagnostic::error(
            std::path::Path::new(file),
            line,
            format!("unable to open logfile: {}: {e}", path.display()),
        )
    })
}

/// Open `path` for append (created if missing) and close it again, as ldirectord does with a
/// `monitorfile` and its `logfile` when it reads its configuration.
fn open_for_append(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
}
