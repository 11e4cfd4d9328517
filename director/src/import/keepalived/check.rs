//! The last word on the generated files: each loaded by the parser that will read it, a
//! refusal reported at the keepalived line the refused part came from.

use std::path::Path;

use super::import::OutFile;
use super::note::Note;

/// Errors of the generated `director.conf` as director reads it: its own, and those of its
/// tables laid over the generated ldirectord files they name.
fn director_conf_errors(
    files: &[OutFile],
    conf: &OutFile,
    resolver: &dyn crate::config::Resolver,
) -> Vec<(Option<usize>, String)> {
    let path = Path::new(&conf.name);
    let parsed = match failover::config::settings::parse(path, &conf.text) {
        Ok(p) => p.value,
        Err(e) => {
            return e
                .errors()
                .map(|d| (Some(d.line).filter(|l| *l > 0), d.message.clone()))
                .collect()
        }
    };
    let mut errors = Vec::new();
    for s in &parsed.services {
        let target = files.iter().find(|f| {
            f.name.ends_with(".cf") && crate::config::service::names(&s.file, Path::new(&f.name))
        });
        let Some(target) = target else {
            errors.push((
                Some(s.line),
                format!("no generated ldirectord file {}", s.file),
            ));
            continue;
        };
        let Ok((mut config, _)) =
            crate::config::ldirectord::parse(&target.text, &target.name, resolver)
        else {
            continue; // the ldirectord file's own errors are reported with it
        };
        let applied = crate::config::service::apply(
            &mut config,
            Path::new(&target.name),
            path,
            std::slice::from_ref(s),
        );
        errors.extend(applied.into_iter().map(|d| (Some(d.line), d.message)));
    }
    errors
}

/// Errors of the generated files as their own parsers see them, each placed at the
/// `# FILE:LINE` origin comment above the refused line (the renderer writes one above every
/// block), else at `input` as a whole.
pub(super) fn unloadable(files: &[OutFile], input: &str) -> Vec<Note> {
    let resolver = crate::config::StaticResolver::new(crate::config::Services::parse(""));
    let mut notes = Vec::new();
    for f in files {
        let path = Path::new(&f.name);
        let errors: Vec<(Option<usize>, String)> = match f.name.as_str() {
            "ha.cf" => failover::config::hacf::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "haresources" => failover::config::haresources::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "authkeys" => failover::config::authkeys::parse(path, &f.text)
                .err()
                .map(|e| vec![(None, e.to_string())])
                .unwrap_or_default(),
            "director.conf" => director_conf_errors(files, f, &resolver),
            name if name.ends_with(".cf") => {
                match crate::config::ldirectord::parse(&f.text, name, &resolver) {
                    Ok(_) => Vec::new(),
                    Err(d) => d
                        .errors()
                        .map(|e| (Some(e.line).filter(|l| *l > 0), e.message.clone()))
                        .collect(),
                }
            }
            _ => Vec::new(),
        };
        for (line, message) in errors {
            let origin = line.and_then(|l| {
                let above: Vec<&str> = f.text.lines().take(l).collect();
                above
                    .into_iter()
                    .rev()
                    .find_map(|t| t.strip_prefix("# ")?.rsplit_once(':'))
                    .and_then(|(file, n)| Some((file.to_string(), n.parse::<usize>().ok()?)))
            });
            let (file, at) = origin.unwrap_or_else(|| (input.to_string(), 0));
            notes.push(Note::error(
                &file,
                at,
                format!(
                    "the generated {}{} would not load: {message} (an importer bug: please \
                     report it with this file)",
                    f.name,
                    line.map(|l| format!(":{l}")).unwrap_or_default()
                ),
            ));
        }
    }
    notes
}
