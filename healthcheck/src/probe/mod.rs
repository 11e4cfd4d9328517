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
#[cfg(feature = "ldap")]
pub mod ldap;
#[cfg(feature = "ldap")]
pub mod ldaps;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod nntp;
pub mod offline;
#[cfg(feature = "oracle")]
pub mod oracle;
#[cfg(feature = "pgsql")]
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
