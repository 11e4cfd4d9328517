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
