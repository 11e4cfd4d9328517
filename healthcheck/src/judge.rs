//! Response + expectation -> outcome. Pure: the probes do the I/O and call these.

use crate::error::ProbeError;
use crate::negotiate::{HttpMethod, Negotiate};
use crate::page::{Page, PageDigest};

/// The result of one check, with the words ldirectord would log or write to its monitor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Up; `detail` is e.g. the HTTP status line or `Success`.
    Success { detail: String },
    /// Down, and why.
    Failure { reason: String },
}

impl Outcome {
    pub fn success(detail: impl Into<String>) -> Outcome {
        Outcome::Success {
            detail: detail.into(),
        }
    }

    pub fn failure(reason: impl Into<String>) -> Outcome {
        Outcome::Failure {
            reason: reason.into(),
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success { .. })
    }

    /// The detail or the reason.
    pub fn message(&self) -> &str {
        match self {
            Outcome::Success { detail } => detail,
            Outcome::Failure { reason } => reason,
        }
    }
}

impl From<Result<(), ProbeError>> for Outcome {
    fn from(r: Result<(), ProbeError>) -> Outcome {
        match r {
            Ok(()) => Outcome::success("Success"),
            Err(e) => Outcome::failure(e.to_string()),
        }
    }
}

/// The final HTTP response of a check (after redirects): success iff the status is 2xx and
/// `receive=` (if any; a Perl pattern too) matches the raw body, unanchored. With HEAD the body is empty, so a non-empty
/// `receive` never matches (as in ldirectord).
pub fn http(
    status: u16,
    reason_phrase: &str,
    body: &[u8],
    method: HttpMethod,
    receive: &Negotiate,
) -> Result<(), ProbeError> {
    let status_line = status_line(status, reason_phrase);
    if !(200..300).contains(&status) {
        return Err(ProbeError::Unexpected(status_line));
    }
    let text = String::from_utf8_lossy(read_body(body, method));
    if receive.receive_matches(&text) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "{status_line}: receive \"{}\" not found in the response",
            receive.receive_pattern().unwrap_or_default()
        )))
    }
}

/// The answer to one page of a check with pages (keepalived's url block): success iff the
/// status is one of the page's codes, the body has the page's digest (if any) and `receive=`
/// (if any) matches the body. No redirect is followed: a redirect passes only when its status
/// is listed.
pub fn page(
    status: u16,
    reason_phrase: &str,
    body: &[u8],
    method: HttpMethod,
    page: &Page,
    receive: &Negotiate,
) -> Result<(), ProbeError> {
    let status_line = status_line(status, reason_phrase);
    if !page.status.contains(status) {
        return Err(ProbeError::Unexpected(format!(
            "{status_line}: status of {} not in status_code {}",
            page.path, page.status
        )));
    }
    let body = read_body(body, method);
    if let Some(want) = page.digest {
        let have = PageDigest::of(body);
        if have != want {
            return Err(ProbeError::Unexpected(format!(
                "{status_line}: MD5 digest of {} is {have}, expected {want}",
                page.path
            )));
        }
    }
    if receive.receive_matches(&String::from_utf8_lossy(body)) {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "{status_line}: receive \"{}\" not found in {}",
            receive.receive_pattern().unwrap_or_default(),
            page.path
        )))
    }
}

/// `200 OK`, or the bare code when the answer has no reason phrase.
fn status_line(status: u16, reason_phrase: &str) -> String {
    if reason_phrase.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason_phrase}")
    }
}

/// The body a check judges: none for HEAD (as ldirectord).
fn read_body(body: &[u8], method: HttpMethod) -> &[u8] {
    if method == HttpMethod::Head {
        &[]
    } else {
        body
    }
}

/// Redirect statuses LWP follows for GET/HEAD (301, 302, 303, 307, 308).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// LWP's redirect limit.
pub const MAX_REDIRECTS: usize = 7;

/// The next URL of a redirect chain, or `None` when the response is final (not a redirect,
/// no or unusable `Location`, or not http/https).
pub fn redirect_target(
    status: u16,
    location: Option<&str>,
    base: &reqwest::Url,
) -> Option<reqwest::Url> {
    if !is_redirect(status) {
        return None;
    }
    let next = base.join(location?.trim()).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

/// Exit status of an external check: 0 = up; any other code, a signal, or no status = down.
pub fn exit_status(code: Option<i32>, signal: Option<i32>) -> Result<(), ProbeError> {
    match (code, signal) {
        (Some(0), _) => Ok(()),
        (Some(c), _) => Err(ProbeError::Unexpected(format!("exited with status {c}"))),
        (None, Some(s)) => Err(ProbeError::Unexpected(format!("killed by signal {s}"))),
        (None, None) => Err(ProbeError::Unexpected("no exit status".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Negotiate {
        Negotiate::default()
    }

    fn rx(s: &str) -> Negotiate {
        Negotiate {
            receive: Some(crate::probe::Receive::compile(s).unwrap()),
            ..Negotiate::default()
        }
    }

    #[test]
    fn success_needs_2xx() {
        assert!(http(200, "OK", b"", HttpMethod::Get, &none()).is_ok());
        assert!(http(204, "No Content", b"", HttpMethod::Get, &none()).is_ok());
        let e = http(404, "Not Found", b"", HttpMethod::Get, &none()).unwrap_err();
        assert_eq!(e.to_string(), "404 Not Found");
        assert!(http(301, "Moved", b"", HttpMethod::Get, &none()).is_err());
        assert!(http(500, "Timeout Alarm", b"", HttpMethod::Get, &none()).is_err());
        assert!(http(199, "", b"", HttpMethod::Get, &none()).is_err());
    }

    #[test]
    fn receive_is_unanchored_and_case_sensitive() {
        let r = rx("OK");
        assert!(http(200, "OK", b"hello OK world", HttpMethod::Get, &r).is_ok());
        assert!(http(200, "OK", b"hello ok world", HttpMethod::Get, &r).is_err());
        let r = rx("Test.Page");
        assert!(http(200, "OK", b"<b>Test Page</b>", HttpMethod::Get, &r).is_ok());
        // An empty receive does not check the body.
        assert!(http(200, "OK", b"", HttpMethod::Get, &rx("")).is_ok());
    }

    #[test]
    fn perl_receive_patterns_work_on_http_bodies() {
        // A back-reference: the regex crate cannot, fancy-regex can.
        let r = rx(r"<(b|i)>Test Page</\1>");
        assert!(http(200, "OK", b"x <b>Test Page</b> y", HttpMethod::Get, &r).is_ok());
        assert!(http(200, "OK", b"x <b>Test Page</i> y", HttpMethod::Get, &r).is_err());
    }

    #[test]
    fn head_never_matches_a_receive() {
        let r = rx("Test");
        assert!(http(200, "OK", b"Test", HttpMethod::Head, &r).is_err());
        assert!(http(200, "OK", b"", HttpMethod::Head, &none()).is_ok());
    }

    #[test]
    fn a_page_passes_on_its_codes_digest_and_receive() {
        let mut p = Page::new("/health");
        p.status = crate::page::StatusCodes::parse("200-299 302").unwrap();
        assert!(page(302, "Found", b"", HttpMethod::Get, &p, &none()).is_ok());
        let e = page(301, "Moved", b"", HttpMethod::Get, &p, &none()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "301 Moved: status of /health not in status_code 200-299 302"
        );
        p.digest = Some(PageDigest::of(b"Test Page\n"));
        assert!(page(200, "OK", b"Test Page\n", HttpMethod::Get, &p, &none()).is_ok());
        let e = page(200, "OK", b"Test Page!", HttpMethod::Get, &p, &none()).unwrap_err();
        assert!(
            e.to_string().contains("MD5 digest of /health is")
                && e.to_string()
                    .contains("expected d5d2ff66a8f30775df81b68c7ab2f9a4"),
            "{e}"
        );
        // HEAD reads no body: its digest is the empty page's.
        assert!(page(200, "OK", b"Test Page\n", HttpMethod::Head, &p, &none()).is_err());
        p.digest = None;
        assert!(page(200, "OK", b"a Test b", HttpMethod::Get, &p, &rx("Test")).is_ok());
        assert!(page(200, "OK", b"a b", HttpMethod::Get, &p, &rx("Test")).is_err());
        // keepalived's default codes: 2xx only.
        let d = Page::new("/");
        assert!(page(204, "", b"", HttpMethod::Get, &d, &none()).is_ok());
        assert!(page(404, "", b"", HttpMethod::Get, &d, &none()).is_err());
    }

    #[test]
    fn redirects() {
        let base = reqwest::Url::parse("http://192.0.2.1:8080/a/b").unwrap();
        assert_eq!(
            redirect_target(302, Some("/ok"), &base).unwrap().as_str(),
            "http://192.0.2.1:8080/ok"
        );
        assert_eq!(
            redirect_target(301, Some("https://192.0.2.2/x"), &base)
                .unwrap()
                .as_str(),
            "https://192.0.2.2/x"
        );
        assert_eq!(redirect_target(302, None, &base), None);
        assert_eq!(redirect_target(200, Some("/ok"), &base), None);
        assert_eq!(redirect_target(302, Some("ftp://192.0.2.1/"), &base), None);
    }

    #[test]
    fn exit_codes() {
        assert!(exit_status(Some(0), None).is_ok());
        assert!(exit_status(Some(1), None).is_err());
        assert!(exit_status(Some(127), None).is_err());
        assert!(exit_status(None, Some(15)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn http_judge_never_panics(status in 0u16..1000, phrase in ".*", body in proptest::collection::vec(proptest::num::u8::ANY, 0..256), pat in "[a-zA-Z .]{0,8}") {
            let n = Negotiate {
                receive: crate::probe::Receive::compile(&pat).ok(),
                ..Negotiate::default()
            };
            let _ = http(status, &phrase, &body, HttpMethod::Get, &n);
        }

        /// A 2xx answer whose body holds the receive text is up (GET); any other status is
        /// down and says its status line.
        #[test]
        fn http_judge_accepts_a_valid_answer(
            status in 100u16..600,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            word in "[a-zA-Z0-9]{1,12}",
            at in 0usize..256,
        ) {
            let mut holding = body.clone();
            let at = at.min(holding.len());
            holding.splice(at..at, word.bytes());
            let verdict = http(status, "Reason", &holding, HttpMethod::Get, &rx(&word));
            if (200..300).contains(&status) {
                proptest::prop_assert!(verdict.is_ok(), "{:?}", verdict);
            } else {
                let e = verdict.unwrap_err().to_string();
                proptest::prop_assert_eq!(e, format!("{status} Reason"));
            }
            let none = http(status, "", &body, HttpMethod::Get, &none());
            proptest::prop_assert_eq!(none.is_ok(), (200..300).contains(&status));
        }

        /// An external check is up exactly when it exited with 0 (a signal is down).
        #[test]
        fn exit_status_is_up_only_for_zero(code in proptest::option::of(proptest::num::i32::ANY), signal in proptest::option::of(1i32..65)) {
            let verdict = exit_status(code, signal);
            proptest::prop_assert_eq!(verdict.is_ok(), code == Some(0));
            if let Err(e) = verdict {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }

        #[test]
        fn redirect_never_panics(status in 0u16..1000, loc in ".*") {
            let base = reqwest::Url::parse("http://192.0.2.1/").unwrap();
            let _ = redirect_target(status, Some(&loc), &base);
        }
    }
}
