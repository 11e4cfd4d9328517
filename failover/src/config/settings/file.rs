//! The whole file: its tables, read in one pass.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::admin::{admin_section, RawAdmin};
use super::announce::{announce_section, RawAnnounce};
use super::drain::{drain_section, RawDrain};
use super::duration::line_of;
use super::failback::{failback_section, RawFailback};
use super::monitor::{monitor_section, RawMonitor};
use super::notify::{notify_section, RawNotify};
use super::peer::RawPeer;
use super::service::{service_tables, RawService, Service};
use super::sync::{sync_section, RawSync};
use super::track::{track_section, RawTrack};
use super::{Admin, Drain};
use super::{Announce, Failback, Monitor, Notify, Peer, Sync, Track};
use crate::config::{Collector, ConfigError, Parsed};

/// Everything `director.conf` sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `[monitor]`: resources of held groups watched and restarted in place.
    pub monitor: Monitor,
    /// `[sync]`: the IPVS connection sync of a pair with an ldirectord resource.
    pub sync: Sync,
    /// `[peer]`: what the other node speaks.
    pub peer: Peer,
    /// `[announce]`: scale-out, the VIPs announced to the routers through BIRD.
    pub announce: Announce,
    /// `[track]`: scripts and interfaces whose failure gives the groups to the peer.
    pub tracks: Vec<Track>,
    /// `[[notify]]`: commands run when a group changes role here.
    pub notify: Vec<Notify>,
    /// `[failback]`: the hold before a group goes back to its preferred node.
    pub failback: Failback,
    /// `[[service]]`: what director adds to virtual services of the ldirectord files.
    pub services: Vec<Service>,
    /// `[drain]`: how real servers are drained.
    pub drain: Drain,
    /// `[admin]`: the HTTP admin API on the metrics listener.
    pub admin: Admin,
}

/// The file as written: every key optional, spans kept for the value checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    monitor: Option<RawMonitor>,
    sync: Option<RawSync>,
    peer: Option<RawPeer>,
    announce: Option<RawAnnounce>,
    track: Option<RawTrack>,
    notify: Option<Vec<Spanned<RawNotify>>>,
    failback: Option<RawFailback>,
    #[serde(default)]
    service: Vec<RawService>,
    drain: Option<RawDrain>,
    admin: Option<RawAdmin>,
}

/// Parses `director.conf` (`file` is only for messages).
pub fn parse(file: &Path, text: &str) -> Result<Parsed<Settings>, ConfigError> {
    let mut c = Collector::new(file);
    let raw: RawSettings = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            // An error at the very end (an unterminated string) is on the last line.
            let line = e.span().map_or(0, |s| {
                line_of(text, s.start).min(text.lines().count().max(1))
            });
            c.error(line, e.message().trim().to_string());
            return c.finish(Settings::default());
        }
    };
    let mut settings = Settings::default();
    if let Some(p) = raw.peer {
        settings.peer = Peer {
            protocol: p.protocol.unwrap_or_default(),
        };
    }
    if let Some(raw) = raw.monitor {
        settings.monitor = monitor_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.sync {
        settings.sync = sync_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.announce {
        settings.announce = announce_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.track {
        settings.tracks = track_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.notify {
        settings.notify = notify_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.failback {
        settings.failback = failback_section(raw, text, &mut c);
    }
    settings.services = service_tables(raw.service, text, &mut c);
    if let Some(raw) = raw.drain {
        settings.drain = drain_section(raw, text, &mut c);
    }
    if let Some(raw) = raw.admin {
        settings.admin = admin_section(raw, text, &mut c);
    }
    c.finish(settings)
}
