//! Probes: the I/O of a check. Each negotiate service has its own module with
//! `pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError>`;
//! the caller bounds every probe with its timeout (`tokio::time::timeout`), so a probe
//! itself may wait forever on a hung server without harm.

use std::net::SocketAddr;

pub mod connect;
pub mod external;
pub mod http;
pub mod ping;

/// What a negotiate check sends and expects (ldirectord's per-virtual / per-real directives).
#[derive(Debug, Clone, Default)]
pub struct Negotiate {
    /// `request=`: the URL path, query, command or DNS name, by service.
    pub request: Option<String>,
    /// `receive=`: a regular expression the answer must match.
    pub receive: Option<regex::Regex>,
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

/// `httpmethod=`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

/// Why a probe failed, in words for the log.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("tls: {0}")]
    Tls(String),
    /// The server answered, but not as expected (status code, banner, no match for `receive`).
    #[error("{0}")]
    Unexpected(String),
    /// The server closed the connection before a full answer.
    #[error("connection closed early")]
    Closed,
}

// Negotiate checks of the services other than http/https (one module per service)
// and their shared helpers.
pub mod dns;
pub mod ftp;
pub mod imap;
pub mod imaps;
pub mod ldap;
pub mod ldaps;
pub mod mysql;
pub mod nntp;
pub mod pgsql;
pub mod pop;
pub mod pops;
pub mod radius;
pub mod simpletcp;
pub mod sip;
pub mod smtp;
pub mod submission;
pub mod transport;

#[cfg(test)]
mod fake;
mod line;
mod tls;
