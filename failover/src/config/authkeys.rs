//! `authkeys`: how heartbeat packets are signed.
//!
//! Format (`heartbeat/auth.c:parse_authfile`): `#` lines and blank lines are ignored;
//! `auth N` selects the key index used to **sign**; `N METHOD [KEY]` lines define keys,
//! N in 0..15, METHOD `crc` (no key), `md5` or `sha1` (a key is required). The key is one
//! whitespace-free word, as in Heartbeat (`2 sha1 HI! #comment` has the key `HI!`).
//! The `auth` line must come before its key line, otherwise Heartbeat refuses to start with
//! `Auth Key [N] not found in keyfile`; director does the same.
//!
//! All configured keys are accepted for verification (key rotation); the one named by
//! `auth` signs. Unlike Heartbeat's netstring path, each index verifies with its own key.
//!
//! The file must not be readable or writable by group or others, and must be owned by root:
//! [`check_permissions`] takes the `stat` result so it stays pure.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{Collector, ConfigError, Diagnostic, Parsed};

/// Highest key index plus one (`MAXAUTH`).
pub const MAX_AUTH: u8 = 16;

/// A signing method and its key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// CRC-32 of the packet: detects corruption, authenticates **nothing**.
    Crc,
    /// HMAC-MD5 with the key.
    Md5(Vec<u8>),
    /// HMAC-SHA1 with the key.
    Sha1(Vec<u8>),
}

impl AuthMethod {
    /// The method's name as written in authkeys.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5(_) => "md5",
            AuthMethod::Sha1(_) => "sha1",
        }
    }
}

// Keys never appear in logs or debug output.
impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Crc => write!(f, "Crc"),
            AuthMethod::Md5(_) => write!(f, "Md5(<key>)"),
            AuthMethod::Sha1(_) => write!(f, "Sha1(<key>)"),
        }
    }
}

/// The parsed `authkeys` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeys {
    /// The index named by `auth N`; always present in `keys`.
    pub active: u8,
    /// Every key line, by index.
    pub keys: BTreeMap<u8, AuthMethod>,
}

impl AuthKeys {
    /// The index and method used to sign outgoing packets.
    pub fn signing(&self) -> (u8, &AuthMethod) {
        match self.keys.get(&self.active) {
            Some(m) => (self.active, m),
            // Unreachable for values built by `parse`; fall back to the weakest method
            // rather than panic for a hand-built value.
            None => (self.active, &AuthMethod::Crc),
        }
    }

    /// The method configured for `index`, used to verify a received packet.
    pub fn get(&self, index: u8) -> Option<&AuthMethod> {
        self.keys.get(&index)
    }

    /// A single-key set, convenient for tests and tools.
    pub fn single(index: u8, method: AuthMethod) -> Self {
        AuthKeys {
            active: index,
            keys: BTreeMap::from([(index, method)]),
        }
    }
}

/// Parses the text of `authkeys`. `file` is only used in diagnostics.
pub fn parse(file: &Path, text: &str) -> Result<Parsed<AuthKeys>, ConfigError> {
    let mut c = Collector::new(file);
    let mut active: Option<(u8, usize)> = None;
    let mut signing_defined = false;
    let mut keys: BTreeMap<u8, AuthMethod> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let first = words.next().unwrap_or_default();
        if trimmed.starts_with('a') {
            if first != "auth" {
                c.error(line, format!("expected auth N, got [{first}]"));
                continue;
            }
            let n = words.next();
            check_trailing(&mut c, line, words.next());
            match n
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n < MAX_AUTH)
            {
                Some(n) => {
                    if let Some((_, prev)) = active {
                        c.error(line, format!("auth given twice (first on line {prev})"));
                    } else {
                        active = Some((n, line));
                        if keys.contains_key(&n) {
                            c.error(
                                line,
                                format!(
                                    "auth {n} must come before the key line {n} \
                                     (Heartbeat: Auth Key [{n}] not found in keyfile)"
                                ),
                            );
                        }
                    }
                }
                None => c.error(
                    line,
                    format!("auth: invalid key index [{}] (0..15)", n.unwrap_or("")),
                ),
            }
            continue;
        }
        let Some(n) = first.parse::<u8>().ok().filter(|n| *n < MAX_AUTH) else {
            c.error(line, format!("invalid key index [{first}] (0..15)"));
            continue;
        };
        let Some(method) = words.next() else {
            c.error(line, format!("key {n}: no method given (crc, md5 or sha1)"));
            continue;
        };
        let key = words.next().filter(|k| !k.starts_with('#'));
        if key.is_some() {
            check_trailing(&mut c, line, words.next());
        }
        let parsed = match (method, key) {
            ("crc", None) => Some(AuthMethod::Crc),
            ("crc", Some(_)) => {
                c.error(line, format!("key {n}: crc takes no key"));
                None
            }
            ("md5", Some(k)) => Some(AuthMethod::Md5(k.as_bytes().to_vec())),
            ("sha1", Some(k)) => Some(AuthMethod::Sha1(k.as_bytes().to_vec())),
            ("md5" | "sha1", None) => {
                c.error(line, format!("key {n}: {method} needs a key"));
                None
            }
            (other, _) => {
                c.error(
                    line,
                    format!("key {n}: unknown authentication method [{other}] (crc, md5 or sha1)"),
                );
                None
            }
        };
        if let Some(m) = parsed {
            if keys.contains_key(&n) {
                c.error(line, format!("key {n} defined twice"));
                continue;
            }
            if matches!(m, AuthMethod::Crc) {
                c.warn(
                    line,
                    format!(
                        "key {n}: crc provides NO authentication: anyone who can send to the \
                         heartbeat port can take over the cluster; use sha1"
                    ),
                );
            }
            if active.map(|(a, _)| a) == Some(n) {
                signing_defined = true;
            }
            keys.insert(n, m);
        }
    }
    match active {
        None => c.error(
            0,
            "no auth N line: authkeys must say which key signs packets",
        ),
        Some((n, line)) if !signing_defined && !keys.contains_key(&n) => {
            c.error(line, format!("Auth Key [{n}] not found in keyfile"))
        }
        _ => {}
    }
    let value = AuthKeys {
        active: active.map(|(n, _)| n).unwrap_or(0),
        keys,
    };
    c.finish(value)
}

fn check_trailing(c: &mut Collector, line: usize, word: Option<&str>) {
    if let Some(w) = word {
        if !w.starts_with('#') {
            c.warn(
                line,
                format!("text after the key is ignored, starting at [{w}] (keys are one word, as in Heartbeat)"),
            );
        }
    }
}

/// Checks `authkeys`' permissions: refused if group or others may read or write it
/// (Heartbeat: `Bad permissions on keyfile [...], 600 recommended.`) or if it is not owned by
/// root. `mode` is `st_mode` (only the permission bits are looked at), `uid` is `st_uid`.
pub fn check_permissions(file: &Path, mode: u32, uid: u32) -> Result<(), Diagnostic> {
    if mode & 0o066 != 0 {
        return Err(Diagnostic::error(
            file,
            0,
            format!(
                "Bad permissions on keyfile [{}] (mode {:03o}), 600 recommended",
                file.display(),
                mode & 0o777
            ),
        ));
    }
    if uid != 0 {
        return Err(Diagnostic::error(
            file,
            0,
            format!(
                "keyfile [{}] must be owned by root (owner uid is {uid})",
                file.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Result<Parsed<AuthKeys>, ConfigError> {
        parse(Path::new("authkeys"), text)
    }

    #[test]
    fn the_seed_file() {
        let k = p("auth 2 #which method\n#1 crc #crc\n2 sha1 HI! #sha1 with password HI!\n#3 md5 Hello!\n")
            .unwrap()
            .value;
        assert_eq!(k.active, 2);
        assert_eq!(k.signing(), (2, &AuthMethod::Sha1(b"HI!".to_vec())));
        assert_eq!(k.keys.len(), 1);
    }

    #[test]
    fn several_keys_for_rotation() {
        let k = p("auth 1\n1 sha1 new\n3 md5 old\n0 crc\n").unwrap();
        assert_eq!(k.value.keys.len(), 3);
        assert_eq!(k.value.get(3), Some(&AuthMethod::Md5(b"old".to_vec())));
        assert!(k
            .warnings
            .iter()
            .any(|w| w.line == 4 && w.message.contains("NO authentication")));
    }

    #[test]
    fn crc_warns_loudly() {
        let k = p("auth 1\n1 crc\n").unwrap();
        assert_eq!(k.value.signing().1, &AuthMethod::Crc);
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0]
            .to_string()
            .starts_with("authkeys:2: warning: key 1: crc provides NO"));
    }

    #[test]
    fn only_the_first_word_is_the_key() {
        let k = p("auth 1\n1 sha1 my secret\n").unwrap();
        assert_eq!(k.value.signing().1, &AuthMethod::Sha1(b"my".to_vec()));
        assert!(k.warnings[0].message.contains("[secret]"));
    }

    #[test]
    fn errors_are_collected() {
        let e = p("auth 2\n2 sha1\n3 crc key\n4 rot13 x\n99 md5 k\nfoo\n").unwrap_err();
        let errs: Vec<String> = e.errors().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "authkeys:1: Auth Key [2] not found in keyfile",
                "authkeys:2: key 2: sha1 needs a key",
                "authkeys:3: key 3: crc takes no key",
                "authkeys:4: key 4: unknown authentication method [rot13] (crc, md5 or sha1)",
                "authkeys:5: invalid key index [99] (0..15)",
                "authkeys:6: invalid key index [foo] (0..15)",
            ]
        );
    }

    #[test]
    fn auth_must_come_first_and_exist() {
        let e = p("1 sha1 k\nauth 1\n").unwrap_err();
        assert!(e
            .to_string()
            .contains("auth 1 must come before the key line 1"));
        let e = p("auth 2\n1 sha1 k\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "authkeys:1: Auth Key [2] not found in keyfile"
        );
        let e = p("1 sha1 k\n").unwrap_err();
        assert!(e.to_string().contains("no auth N line"));
        assert!(p("auth 1\nauth 1\n1 md5 k\n").is_err());
        assert!(p("auth x\n1 md5 k\n").is_err());
        assert!(p("authorize 1\n").is_err());
    }

    #[test]
    fn permissions() {
        let f = Path::new("/etc/ha.d/authkeys");
        assert!(check_permissions(f, 0o100600, 0).is_ok());
        assert!(check_permissions(f, 0o400, 0).is_ok());
        assert!(check_permissions(f, 0o700, 0).is_ok());
        let e = check_permissions(f, 0o644, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/ha.d/authkeys: Bad permissions on keyfile [/etc/ha.d/authkeys] (mode 644), 600 recommended"
        );
        assert!(check_permissions(f, 0o640, 0).is_err());
        assert!(check_permissions(f, 0o620, 0).is_err());
        assert!(check_permissions(f, 0o602, 0).is_err());
        assert!(check_permissions(f, 0o600, 1000).is_err());
    }

    #[test]
    fn debug_hides_keys() {
        let k = AuthKeys::single(1, AuthMethod::Sha1(b"secret".to_vec()));
        assert!(!format!("{k:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn never_panics(text in ".*") {
            let _ = p(&text);
        }

        #[test]
        fn valid_files_parse(n in 0u8..16, key in "[!-~&&[^#]]{1,40}", sha in any::<bool>()) {
            let method = if sha { "sha1" } else { "md5" };
            let k = p(&format!("auth {n}\n{n} {method} {key}\n")).unwrap().value;
            let expect = if sha { AuthMethod::Sha1(key.into_bytes()) } else { AuthMethod::Md5(key.into_bytes()) };
            prop_assert_eq!(k.signing(), (n, &expect));
        }
    }
}
