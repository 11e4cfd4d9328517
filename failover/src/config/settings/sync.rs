//! `[sync]`: the IPVS connection sync of a pair.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use crate::config::Collector;

/// `[sync]`: both nodes run the kernel's sync daemons (master and backup) on `interface`; the
/// active node hands its whole connection table to the peer when the peer joins and when it
/// gives the group up; a node taking a group from a live peer first waits, at most
/// `catch_up_timeout`, until its kernel holds every connection handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// Whether director runs the sync daemons and the hand-over at all (default: yes).
    pub enabled: bool,
    /// The interface the sync messages use (default: the first heartbeat medium's).
    pub interface: Option<String>,
    /// The longest a takeover from a live peer waits for the hand-over (default: 2 s; 0: it
    /// does not wait).
    pub catch_up_timeout: Duration,
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            enabled: true,
            interface: None,
            catch_up_timeout: Duration::from_secs(2),
        }
    }
}

/// The longest `catch_up_timeout` accepted: the peer's group is down for that long at most.
pub const MAX_CATCH_UP: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    enabled: Option<bool>,
    interface: Option<Spanned<String>>,
    catch_up_timeout: Option<Spanned<Span>>,
}

pub(super) fn sync_section(raw: RawSync, text: &str, c: &mut Collector) -> Sync {
    let d = Sync::default();
    let catch_up = raw
        .catch_up_timeout
        .as_ref()
        .map_or(d.catch_up_timeout, |v| v.get_ref().0);
    if catch_up > MAX_CATCH_UP {
        let at = raw
            .catch_up_timeout
            .as_ref()
            .map_or(0, |v| line_of(text, v.span().start));
        c.error(
            at,
            format!(
                "sync: catch_up_timeout {} is too long: at most {} (the group is down while \
                 it waits)",
                words(catch_up),
                words(MAX_CATCH_UP)
            ),
        );
    }
    if let Some(iface) = &raw.interface {
        let name = iface.get_ref();
        if !interface_name(name) {
            c.error(
                line_of(text, iface.span().start),
                format!("sync: interface \"{name}\" is not a valid interface name"),
            );
        }
    }
    Sync {
        enabled: raw.enabled.unwrap_or(d.enabled),
        interface: raw.interface.map(Spanned::into_inner),
        catch_up_timeout: catch_up,
    }
}

/// A name Linux takes for an interface: IFNAMSIZ is 16 with the terminating NUL; no '/', no
/// white space (`dev_valid_name`).
pub(super) fn interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|ch| ch == '/' || ch == ':' || ch.is_whitespace())
}
