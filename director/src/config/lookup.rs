//! Finding a named configuration file the way ldirectord (and Heartbeat's
//! `ldirectord::NAME` resource) does.

use std::path::{Path, PathBuf};

/// The configuration ldirectord reads when it is given none.
pub const DEFAULT_NAME: &str = "ldirectord.cf";

/// Where a named file was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    /// Set when the file was found by a rule ldirectord does not have.
    pub note: Option<String>,
}

/// Find `name` as ldirectord does: `DIR/NAME`, then `DIR/conf/NAME`, then `NAME` as given
/// (relative to the working directory). `DIR` is `/etc/ha.d` for ldirectord.
///
/// Beyond ldirectord: a name without `.cf` also finds `NAME.cf` in `DIR` and `DIR/conf`
/// (the 2008 how-to saves its file as `www.cf` and names it `ldirectord::www`), with a note.
pub fn locate(name: &str, dir: &Path) -> Option<Located> {
    locate_with(name, dir, |p| p.is_file())
}

/// `locate` with the file test given (pure, for tests).
pub fn locate_with(name: &str, dir: &Path, is_file: impl Fn(&Path) -> bool) -> Option<Located> {
    let as_given = PathBuf::from(name);
    let mut candidates = vec![dir.join(name), dir.join("conf").join(name)];
    if as_given.is_absolute() {
        candidates.clear();
    }
    candidates.push(as_given);
    for path in candidates {
        if is_file(&path) {
            return Some(Located { path, note: None });
        }
    }
    if name.ends_with(".cf") || name.contains('/') || name.is_empty() {
        return None;
    }
    let with_cf = format!("{name}.cf");
    for path in [dir.join(&with_cf), dir.join("conf").join(&with_cf)] {
        if is_file(&path) {
            let note = format!(
                "configuration {name} not found; using {} (ldirectord 1.186 would fail with \
                 \"Config file {name} not found\")",
                path.display()
            );
            return Some(Located {
                path,
                note: Some(note),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(files: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| files.iter().any(|f| Path::new(f) == p)
    }

    #[test]
    fn ldirectord_order() {
        let dir = Path::new("/etc/ha.d");
        let both = fs(&["/etc/ha.d/www", "/etc/ha.d/conf/www", "www"]);
        assert_eq!(
            locate_with("www", dir, &both).unwrap().path,
            Path::new("/etc/ha.d/www")
        );
        let conf = fs(&["/etc/ha.d/conf/www", "www"]);
        assert_eq!(
            locate_with("www", dir, &conf).unwrap().path,
            Path::new("/etc/ha.d/conf/www")
        );
        let cwd = fs(&["www"]);
        let found = locate_with("www", dir, &cwd).unwrap();
        assert_eq!(found.path, Path::new("www"));
        assert_eq!(found.note, None);
        assert_eq!(locate_with("www", dir, fs(&[])), None);
    }

    #[test]
    fn absolute_path_is_used_as_is() {
        let dir = Path::new("/etc/ha.d");
        let f = fs(&["/srv/lb/www.cf"]);
        assert_eq!(
            locate_with("/srv/lb/www.cf", dir, &f).unwrap().path,
            Path::new("/srv/lb/www.cf")
        );
    }

    #[test]
    fn cf_suffix_is_a_noted_extension() {
        let dir = Path::new("/etc/ha.d");
        let f = fs(&["/etc/ha.d/conf/www.cf"]);
        let found = locate_with("www", dir, &f).unwrap();
        assert_eq!(found.path, Path::new("/etc/ha.d/conf/www.cf"));
        assert!(found.note.unwrap().contains("Config file www not found"));
        // The exact name wins over the extension.
        let g = fs(&["/etc/ha.d/www.cf", "/etc/ha.d/conf/www"]);
        assert_eq!(
            locate_with("www", dir, &g).unwrap().path,
            Path::new("/etc/ha.d/conf/www")
        );
        assert_eq!(
            locate_with("www.cf", dir, fs(&["/etc/ha.d/www.cf.cf"])),
            None
        );
    }

    #[test]
    fn default_name() {
        let f = fs(&["/etc/ha.d/ldirectord.cf"]);
        assert!(locate_with(DEFAULT_NAME, Path::new("/etc/ha.d"), f).is_some());
    }
}
