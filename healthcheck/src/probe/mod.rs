//! Probes: the I/O of a check. Each negotiate service has its own module with
//! `pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError>`;
//! the caller bounds every probe with its timeout (`tokio::time::timeout`), so a probe
//! itself may wait forever on a hung server without harm.

pub mod connect;
pub mod external;
pub mod http;
pub mod ping;

pub use crate::error::ProbeError;
pub use crate::negotiate::{HttpMethod, Negotiate, Receive, TlsVerify};

// Negotiate checks of the services other than http/https (one module per service)
// and their shared helpers.
pub mod cap;
pub mod dns;
pub mod ftp;
pub mod imap;
pub mod imaps;
pub mod ldap;
pub mod ldaps;
pub mod mysql;
pub mod nntp;
pub mod offline;
pub mod oracle;
pub mod pgsql;
pub mod pop;
pub mod pops;
pub mod radius;
mod relay;
pub mod simpletcp;
pub mod sip;
pub mod smtp;
pub mod submission;
pub mod transport;

#[cfg(test)]
mod fake;
mod line;
mod tls;

#[cfg(test)]
mod receive_tests {
    use super::*;

    #[test]
    fn plain_patterns_take_the_fast_engine() {
        for p in [
            "Test Page",
            "^HTTP/1\\.[01] 200",
            "a|b",
            "(?i)ok",
            r"\d+ items",
        ] {
            assert!(matches!(Receive::compile(p), Ok(Receive::Plain(_))), "{p}");
        }
    }

    #[test]
    fn perl_only_features_use_fancy_regex() {
        let cases = [
            // back-reference
            (r"<(\w+)>[^<]*</\1>", "x <b>bold</b> y", "<b>bold</i>"),
            // look-ahead, negative look-ahead
            (r"OK(?=\s+200)", "OK 200", "OK 500"),
            (r"^up(?!.*maintenance)", "up and fine", "up for maintenance"),
            // look-behind, negative look-behind
            (r"(?<=status: )green", "status: green", "color: green"),
            (r"(?<!not )ready", "is ready", "not ready"),
            // atomic group
            (r"(?>a+)b", "aaab", "aaa"),
        ];
        for (pattern, yes, no) in cases {
            let re = Receive::compile(pattern).unwrap();
            assert!(matches!(re, Receive::Perl(_)), "{pattern}");
            assert_eq!(re.as_str(), pattern);
            assert!(re.is_match(yes), "{pattern} on {yes}");
            assert!(!re.is_match(no), "{pattern} on {no}");
            let n = Negotiate {
                receive: Some(re),
                ..Negotiate::default()
            };
            assert_eq!(n.receive_pattern(), Some(pattern));
            assert!(n.receive_matches(yes));
            assert!(!n.receive_matches(no));
        }
    }

    #[test]
    fn unanchored_like_perl_and_errors_name_the_problem() {
        let re = Receive::compile("OK").unwrap();
        assert!(re.is_match("hello OK world"));
        let err = Receive::compile("(unclosed").unwrap_err();
        assert!(!err.is_empty());
        assert!(
            Receive::compile(r"(a)\2").is_err(),
            "a back-reference to no group"
        );
        let mut n = Negotiate::default();
        assert!(n.receive_matches("anything"));
        n.receive = Some(Receive::compile("x").unwrap());
        n.receive = None;
        assert!(n.receive_pattern().is_none());
    }
}
