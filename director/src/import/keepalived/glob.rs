//! keepalived's include patterns: glob(3) with `*`, `?` and `[...]` (`[!...]` negates, `a-z`
//! ranges), matched one path component at a time; a leading `.` is matched only by a `.` in
//! the pattern, as glob(3) does. The filesystem walk is the caller's; this is the matcher.

use std::path::{Component, Path};

/// True when `pattern` has a wildcard (otherwise it names one file).
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Whether one file name matches one pattern component.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for `*` (linear in practice, no recursion blow-up).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unclosed `[` is a literal.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` class at the start of `p`: whether `c` is in it and the class's length, or
/// `None` when the class is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

/// The components of a pattern path as strings (for the caller's walk).
pub fn components(pattern: &Path) -> Vec<String> {
    pattern
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards_match_as_glob() {
        assert!(matches("*.conf", "vs1.conf"));
        assert!(!matches("*.conf", "vs1.conf.bak"));
        assert!(!matches("*.conf", ".hidden.conf"));
        assert!(matches(".*.conf", ".hidden.conf"));
        assert!(matches("vs?.conf", "vs1.conf"));
        assert!(!matches("vs?.conf", "vs10.conf"));
        assert!(matches("vs[0-9].conf", "vs7.conf"));
        assert!(!matches("vs[!0-9].conf", "vs7.conf"));
        assert!(matches("vs[!0-9].conf", "vsx.conf"));
        assert!(matches("a[]]b", "a]b"));
        assert!(matches("a[b", "a[b"));
        assert!(matches("*", "x"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    proptest! {
        #[test]
        fn a_name_matches_itself(name in "[a-z0-9._-]{1,12}") {
            prop_assert!(matches(&name, &name));
            prop_assert!(name.starts_with('.') || matches("*", &name));
        }

        #[test]
        fn never_panics(p in ".{0,12}", n in ".{0,12}") {
            let _ = matches(&p, &n);
        }
    }
}
