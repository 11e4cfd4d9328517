//! What an HTTP check expects of a page beyond ldirectord's `receive=` (pure): keepalived's
//! `url { path; status_code; digest }` blocks (keepalived.md §1.3).
//!
//! - `status_code`: single codes and ranges, `200-299 302` (keepalived's default, 200-299);
//! - `digest`: the MD5 of the body as 32 hex digits, as keepalived's `genhash` prints it
//!   (`keepalived -T` / `genhash -s HOST -p PORT -u PATH`).
//!
//! A check with pages fetches each page in turn on a connection of its own and is up only
//! when every page passes, as keepalived's HTTP_GET with several urls; redirects are not
//! followed (keepalived follows none: a `302` passes only when `status_code` lists it).

use std::fmt;

use md5::{Digest as _, Md5};

/// keepalived's `status_code`: codes and inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusCodes(Vec<(u16, u16)>);

impl Default for StatusCodes {
    /// keepalived's default: any 2xx.
    fn default() -> Self {
        StatusCodes(vec![(200, 299)])
    }
}

impl StatusCodes {
    /// `200-299 302`: words separated by blanks (or commas), each a code (100..=599) or a
    /// range `LOW-HIGH`.
    pub fn parse(text: &str) -> Result<StatusCodes, String> {
        let mut ranges = Vec::new();
        for word in text
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
        {
            let (low, high) = match word.split_once('-') {
                Some((l, h)) => (code(l, word)?, code(h, word)?),
                None => {
                    let c = code(word, word)?;
                    (c, c)
                }
            };
            if low > high {
                return Err(format!("status code range {word} is empty"));
            }
            ranges.push((low, high));
        }
        if ranges.is_empty() {
            return Err("no status code given".to_string());
        }
        Ok(StatusCodes(ranges))
    }

    /// Whether `status` is one of the codes.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|(l, h)| (*l..=*h).contains(&status))
    }
}

fn code(text: &str, word: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(format!(
            "status code {word}: expected a code between 100 and 599 or a range such as 200-299"
        )),
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (l, h)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if l == h {
                write!(f, "{l}")?;
            } else {
                write!(f, "{l}-{h}")?;
            }
        }
        Ok(())
    }
}

/// The MD5 of a page, as `genhash` prints it (32 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageDigest([u8; 16]);

impl PageDigest {
    /// 32 hex digits, either case.
    pub fn parse(text: &str) -> Result<PageDigest, String> {
        let bad = || format!("digest {text}: expected the 32 hex digits of an MD5 sum (genhash)");
        if text.len() != 32 || !text.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(PageDigest(out))
    }

    /// The digest of a body.
    pub fn of(body: &[u8]) -> PageDigest {
        PageDigest(Md5::digest(body).into())
    }
}

impl fmt::Display for PageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One page an HTTP check fetches (keepalived's `url` block).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Page {
    /// The request path (and query), or an absolute `http://` / `https://` URL.
    pub path: String,
    /// The statuses that pass.
    pub status: StatusCodes,
    /// The MD5 the body must have, if any.
    pub digest: Option<PageDigest>,
}

impl Page {
    /// A page that passes on any 2xx answer.
    pub fn new(path: impl Into<String>) -> Page {
        Page {
            path: path.into(),
            status: StatusCodes::default(),
            digest: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_take_keepalived_words() {
        let s = StatusCodes::parse("200-299 302").unwrap();
        assert!(s.contains(200) && s.contains(250) && s.contains(302));
        assert!(!s.contains(301) && !s.contains(404) && !s.contains(199));
        assert_eq!(s.to_string(), "200-299 302");
        assert_eq!(StatusCodes::parse("404").unwrap().to_string(), "404");
        assert_eq!(
            StatusCodes::parse("200,204").unwrap(),
            StatusCodes(vec![(200, 200), (204, 204)])
        );
        assert_eq!(StatusCodes::default().to_string(), "200-299");
        for bad in [
            "", " ", "99", "600", "abc", "300-200", "200-", "-200", "2OO",
        ] {
            assert!(StatusCodes::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_read_and_print_as_genhash() {
        // genhash's MD5 of an empty page and of "Test Page\n".
        let empty = PageDigest::of(b"");
        assert_eq!(empty.to_string(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            PageDigest::parse("D41D8CD98F00B204E9800998ECF8427E").unwrap(),
            empty
        );
        // md5sum's answer for the same bytes.
        assert_eq!(
            PageDigest::of(b"Test Page\n").to_string(),
            "d5d2ff66a8f30775df81b68c7ab2f9a4"
        );
        for bad in [
            "",
            "d41d8cd98f00b204e9800998ecf8427",
            "zz1d8cd98f00b204e9800998ecf8427e",
        ] {
            assert!(PageDigest::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PageDigest::parse("d41d8cd98f00b204e9800998ecf8427é").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            let _ = StatusCodes::parse(&text);
            let _ = PageDigest::parse(&text);
        }

        #[test]
        fn a_digest_prints_back_to_itself(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let d = PageDigest::of(&bytes);
            proptest::prop_assert_eq!(PageDigest::parse(&d.to_string()), Ok(d));
        }

        #[test]
        fn printed_codes_parse_back(ranges in proptest::collection::vec((100u16..600, 0u16..50), 1..5)) {
            let codes = StatusCodes(ranges.iter().map(|(l, w)| (*l, (*l + *w).min(599))).collect());
            proptest::prop_assert_eq!(StatusCodes::parse(&codes.to_string()), Ok(codes));
        }
    }
}
