//! What a negotiate check sends and expects, as validated settings (pure): the request,
//! the compiled `receive=`, the HTTP method, how TLS certificates are checked, and which
//! transport a UDP-or-TCP service's probe uses.

/// What a negotiate check sends and expects (ldirectord's per-virtual / per-real directives).
#[derive(Debug, Clone, Default)]
pub struct Negotiate {
    /// `request=`: the URL path, query, command or DNS name, by service.
    pub request: Option<String>,
    /// `receive=`: a (Perl) regular expression the answer must match; see
    /// [`Receive::compile`].
    pub receive: Option<Receive>,
    /// `virtualhost=`: HTTP Host header (and SNI for https).
    pub virtualhost: Option<String>,
    /// `httpmethod=`: GET (default) or HEAD.
    pub http_method: HttpMethod,
    /// `login=`
    pub login: Option<String>,
    /// `passwd=`
    pub passwd: Option<String>,
    /// `database=`
    pub database: Option<String>,
    /// `secret=` (radius)
    pub secret: Option<String>,
    /// How TLS certificates are checked (`tlsverify=`; the mapping picks ldirectord's
    /// default per service).
    pub tls_verify: TlsVerify,
    /// The pages an HTTP check fetches instead of `request=` (director.conf's `[[service.url]]`,
    /// keepalived's url blocks); empty: ldirectord's one request, any 2xx, redirects followed.
    pub pages: Vec<crate::page::Page>,
}

/// How a TLS check treats the server's certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TlsVerify {
    /// Accept any certificate (self-signed servers); the handshake signatures are still checked.
    #[default]
    None,
    /// The chain must lead to a CA of the system store; the name is not checked (ldirectord's
    /// HTTPS check).
    Chain,
    /// Chain and name (the virtual host, else the real's IP address).
    Full,
}

/// A compiled `receive=`: ldirectord matches it as a Perl regular expression.
#[derive(Debug, Clone)]
pub enum Receive {
    /// The `regex` crate understands it (most patterns): linear time.
    Plain(regex::Regex),
    /// It needs fancy-regex (back-references, look-around, ...): backtracking, bounded by
    /// fancy-regex's backtrack limit (hitting it is a failed match).
    Perl(fancy_regex::Regex),
}

impl Receive {
    /// Compile `pattern`: with the `regex` crate when it can, else with fancy-regex.
    pub fn compile(pattern: &str) -> Result<Receive, String> {
        match regex::Regex::new(pattern) {
            Ok(re) => Ok(Receive::Plain(re)),
            Err(plain) => fancy_regex::Regex::new(pattern)
                .map(Receive::Perl)
                .map_err(|e| {
                    let plain = plain.to_string();
                    let plain = plain.lines().last().unwrap_or("");
                    format!("{e} ({plain})")
                }),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        match self {
            Receive::Plain(re) => re.as_str(),
            Receive::Perl(re) => re.as_str(),
        }
    }

    /// Unanchored match; a fancy-regex runtime error (backtrack limit) is no match.
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Receive::Plain(re) => re.is_match(text),
            Receive::Perl(re) => re.is_match(text).unwrap_or(false),
        }
    }
}

impl Negotiate {
    /// The `receive=` pattern as written, if any.
    pub fn receive_pattern(&self) -> Option<&str> {
        self.receive.as_ref().map(Receive::as_str)
    }

    /// Whether `receive=` matches `text` (unanchored); no receive matches anything.
    pub fn receive_matches(&self, text: &str) -> bool {
        self.receive.as_ref().is_none_or(|re| re.is_match(text))
    }
}

/// `httpmethod=`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

/// The virtual service's `protocol=` as far as a probe cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// `protocol = udp`
    #[default]
    Udp,
    /// `protocol = tcp`
    Tcp,
}

#[cfg(test)]
mod tests {
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
