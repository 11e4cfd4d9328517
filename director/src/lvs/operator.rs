//! The operator's runtime control of real servers (pure): `director real drain | disable |
//! enable | weight`. What the operator asked is a [`Record`]: one [`Admin`] per real server of
//! a virtual service, named as `director status` names them (`tcp:192.0.2.132:80`,
//! `198.51.100.1:80`), with a version that every change raises. The daemon keeps it in its
//! state directory (so it outlives a reload and a restart) and, in a pair, gives it to the
//! peer: the record with the higher `(version, node)` wins, whole ([`Record::merge`]).
//!
//! A drain is tracked by the core that runs the real ([`Drain`]): weight 0 at once, the real
//! kept for its established connections, deleted when its active and inactive connection
//! counts are both 0 or when its timeout has passed, whichever comes first. A drained real
//! stays out of the table until `enable`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What the operator asked of one real server of one virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum Admin {
    /// Weight 0 now; deleted when it has no connection left or after `timeout_s` seconds.
    Drain { timeout_s: u64 },
    /// Out of the table now (as a real in ldirectord's maintenancedir).
    Disable,
    /// This weight instead of the file's (health still decides whether it is in the table).
    Weight { weight: u32 },
}

impl Admin {
    /// The words `director status` shows: `drain`, `disable`, `weight 5`.
    pub fn words(&self) -> String {
        match self {
            Admin::Drain { .. } => "drain".to_string(),
            Admin::Disable => "disable".to_string(),
            Admin::Weight { weight } => format!("weight {weight}"),
        }
    }
}

/// One real server of one virtual service, as `director status` names them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The virtual service: `tcp:192.0.2.132:80`, `udp:[2001:db8::1]:53`, `fwm:7`.
    #[serde(rename = "virtual")]
    pub virtual_name: String,
    /// The real server: `198.51.100.1:80`, `[2001:db8::2]:53`.
    pub real: String,
}

/// One line of the record as written to the state file and sent to the peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    #[serde(flatten)]
    target: Target,
    #[serde(flatten)]
    admin: Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordText {
    version: u64,
    node: String,
    reals: Vec<Line>,
}

/// Everything the operator asked, with the version of the last change and the node that made
/// it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RecordText", into = "RecordText")]
pub struct Record {
    /// Raised by every change; the higher record wins between two nodes.
    pub version: u64,
    /// The node that made the last change (breaks a tie between two versions).
    pub node: String,
    reals: BTreeMap<Target, Admin>,
}

impl TryFrom<RecordText> for Record {
    type Error = String;
    fn try_from(text: RecordText) -> Result<Record, String> {
        let mut reals = BTreeMap::new();
        for line in text.reals {
            if reals.insert(line.target.clone(), line.admin).is_some() {
                return Err(format!(
                    "real server {} of {} is listed twice",
                    line.target.real, line.target.virtual_name
                ));
            }
        }
        Ok(Record {
            version: text.version,
            node: text.node,
            reals,
        })
    }
}

impl From<Record> for RecordText {
    fn from(r: Record) -> RecordText {
        RecordText {
            version: r.version,
            node: r.node,
            reals: r
                .reals
                .into_iter()
                .map(|(target, admin)| Line { target, admin })
                .collect(),
        }
    }
}

impl Record {
    /// What the operator asked of `target`, if anything.
    pub fn get(&self, target: &Target) -> Option<Admin> {
        self.reals.get(target).copied()
    }

    /// Every real server the operator changed.
    pub fn iter(&self) -> impl Iterator<Item = (&Target, &Admin)> {
        self.reals.iter()
    }

    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.reals.is_empty()
    }

    /// Set (`Some`) or clear (`None`: enable) what is asked of `target`, as `node`; the
    /// version goes up when this changes anything. True when it did.
    pub fn set(&mut self, target: Target, admin: Option<Admin>, node: &str) -> bool {
        let before = self.reals.get(&target).copied();
        if before == admin {
            return false;
        }
        match admin {
            Some(a) => self.reals.insert(target, a),
            None => self.reals.remove(&target),
        };
        self.version += 1;
        self.node = node.to_string();
        true
    }

    /// Whether this record wins over `other`: the higher version, then the higher node name.
    pub fn wins_over(&self, other: &Record) -> bool {
        (self.version, &self.node) > (other.version, &other.node)
    }

    /// Take `other` when it wins over this one (last writer wins, whole record); true when
    /// this record changed.
    pub fn merge(&mut self, other: &Record) -> bool {
        if other.wins_over(self) {
            *self = other.clone();
            true
        } else {
            false
        }
    }

    /// Parse the state file / the peer's copy.
    pub fn parse(text: &str) -> Result<Record, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The text [`Record::parse`] reads.
    pub fn emit(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// How `director real` names a virtual service given like ipvsadm's `-t` / `-u` /
/// `--sctp-service ADDR:PORT` and `-f MARK`: as `director status` names it
/// (`tcp:192.0.2.132:80`, `fwm:7`).
pub fn virtual_name(flag: char, service: &str) -> String {
    let protocol = match flag {
        't' => "tcp",
        'u' => "udp",
        's' => "sctp",
        _ => return format!("fwm:{service}"),
    };
    format!("{protocol}:{service}")
}

/// Find the real server `real` (`ADDR:PORT`, or `ADDR` when the virtual has one real at that
/// address) of the virtual service `virtual_name` (its name in `director status`; `fwm:N`
/// also finds `fwm6:N`) among the running ones; the error in words.
pub fn resolve(
    virtuals: &[crate::status::VirtualStatus],
    virtual_name: &str,
    real: &str,
) -> Result<Target, String> {
    let v6 = virtual_name
        .strip_prefix("fwm:")
        .map(|mark| format!("fwm6:{mark}"));
    let Some(vs) = virtuals
        .iter()
        .find(|v| v.name == virtual_name)
        .or_else(|| virtuals.iter().find(|v| Some(&v.name) == v6.as_ref()))
    else {
        let names: Vec<&str> = virtuals.iter().map(|v| v.name.as_str()).collect();
        return Err(format!(
            "no virtual service {virtual_name} is running (running: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let target = |address: &str| Target {
        virtual_name: vs.name.clone(),
        real: address.to_string(),
    };
    if let Some(r) = vs.reals.iter().find(|r| r.address == real) {
        return Ok(target(&r.address));
    }
    let bare = real.trim_start_matches('[').trim_end_matches(']');
    let ip: Option<std::net::IpAddr> = bare.parse().ok();
    let same_ip: Vec<&str> = vs
        .reals
        .iter()
        .map(|r| r.address.as_str())
        .filter(|a| {
            let host = a.rsplit_once(':').map_or(*a, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            ip.is_some() && host.parse::<std::net::IpAddr>().ok() == ip
        })
        .collect();
    match same_ip.as_slice() {
        [one] => Ok(target(one)),
        [] => Err(format!(
            "virtual service {} has no real server {real} (its real servers: {})",
            vs.name,
            vs.reals
                .iter()
                .map(|r| r.address.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        many => Err(format!(
            "virtual service {} has several real servers at {real}: give one of {}",
            vs.name,
            many.join(", ")
        )),
    }
}

/// The progress of one drain, kept by the core that runs the real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// When the real goes whatever its connections.
    pub until: Instant,
    /// Its connections (active + inactive) at the last count, if counted yet.
    pub conns: Option<u64>,
    /// Deleted (or to be deleted): no connection left, or the timeout passed.
    pub done: bool,
}

impl Drain {
    /// A drain that starts at `now`.
    pub fn start(timeout: Duration, now: Instant) -> Drain {
        Drain {
            until: now + timeout,
            conns: None,
            done: false,
        }
    }

    /// A count of its connections at `now` (`None`: the real is not in the table). True
    /// when the drain is over now and was not before.
    pub fn counted(&mut self, conns: Option<u64>, now: Instant) -> bool {
        if self.done {
            return false;
        }
        self.conns = conns;
        self.done = conns.is_none_or(|c| c == 0) || now >= self.until;
        self.done
    }

    /// Whether the timeout has passed at `now` (a drain that was not counted in time ends
    /// too).
    pub fn expired(&mut self, now: Instant) -> bool {
        if !self.done && now >= self.until {
            self.done = true;
            return true;
        }
        false
    }

    /// The words `director status` shows.
    pub fn words(&self) -> String {
        match (self.done, self.conns) {
            (true, _) => "drained".to_string(),
            (false, Some(c)) => format!("draining, {c} connections"),
            (false, None) => "draining".to_string(),
        }
    }
}

/// What the operator asked of a real server of a virtual, as the table decision takes it
/// (`engine::desired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// This weight instead of the configured one.
    Weight(u32),
    /// At weight 0 while it is in the table, never added.
    Drain,
    /// Not in the table.
    Out,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &str, r: &str) -> Target {
        Target {
            virtual_name: v.into(),
            real: r.into(),
        }
    }

    #[test]
    fn changes_raise_the_version_and_round_trip() {
        let mut r = Record::default();
        let a = t("tcp:192.0.2.132:80", "198.51.100.1:80");
        assert!(r.set(a.clone(), Some(Admin::Drain { timeout_s: 60 }), "ha01"));
        assert!(!r.set(a.clone(), Some(Admin::Drain { timeout_s: 60 }), "ha01"));
        assert!(r.set(
            t("fwm:7", "198.51.100.2:0"),
            Some(Admin::Weight { weight: 5 }),
            "ha02"
        ));
        assert_eq!((r.version, r.node.as_str()), (2, "ha02"));
        let text = r.emit();
        assert!(
            text.contains(r#"{"virtual":"tcp:192.0.2.132:80","real":"198.51.100.1:80","state":"drain","timeout_s":60}"#),
            "{text}"
        );
        assert_eq!(Record::parse(&text).unwrap(), r);
        assert!(r.set(a.clone(), None, "ha01"));
        assert_eq!(r.get(&a), None);
        assert_eq!(r.version, 3);
    }

    #[test]
    fn the_higher_version_then_node_wins_whole() {
        let mut mine = Record::default();
        mine.set(
            t("tcp:192.0.2.132:80", "198.51.100.1:80"),
            Some(Admin::Disable),
            "ha01",
        );
        let mut theirs = Record::default();
        theirs.set(
            t("tcp:192.0.2.132:80", "198.51.100.2:80"),
            Some(Admin::Disable),
            "ha02",
        );
        // same version: the higher node name wins
        assert!(theirs.wins_over(&mine));
        let mut m = mine.clone();
        assert!(m.merge(&theirs));
        assert_eq!(m, theirs);
        assert!(!m.merge(&mine));
        // an older record never wins
        mine.set(t("fwm:1", "198.51.100.3:0"), Some(Admin::Disable), "ha01");
        assert!(!m.clone().merge(&Record::default()));
        assert!(m.merge(&mine));
        assert_eq!(m.version, 2);
    }

    #[test]
    fn bad_state_files_are_refused_in_words() {
        for bad in [
            "",
            "{}",
            r#"{"version":1,"node":"a","reals":[{"virtual":"v","real":"r","state":"melt"}]}"#,
            r#"{"version":1,"node":"a","reals":[],"extra":1}"#,
            r#"{"version":1,"node":"a","reals":[{"virtual":"v","real":"r","state":"disable"},{"virtual":"v","real":"r","state":"disable"}]}"#,
        ] {
            assert!(Record::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn virtuals_and_reals_are_found_by_their_names() {
        use crate::status::{RealStatus, VirtualStatus};
        let v = |name: &str, reals: &[&str]| VirtualStatus {
            name: name.into(),
            reals: reals
                .iter()
                .map(|a| RealStatus {
                    address: a.to_string(),
                    ..RealStatus::default()
                })
                .collect(),
            ..VirtualStatus::default()
        };
        let running = [
            v(
                "tcp:192.0.2.132:80",
                &["198.51.100.1:80", "198.51.100.2:80"],
            ),
            v("fwm6:7", &["[2001:db8::2]:0", "[2001:db8::2]:8080"]),
            v("udp:[2001:db8::1]:53", &["[2001:db8::3]:53"]),
        ];
        let name = virtual_name('t', "192.0.2.132:80");
        assert_eq!(
            resolve(&running, &name, "198.51.100.2:80"),
            Ok(t("tcp:192.0.2.132:80", "198.51.100.2:80"))
        );
        assert_eq!(
            resolve(&running, &name, "198.51.100.1"),
            Ok(t("tcp:192.0.2.132:80", "198.51.100.1:80"))
        );
        assert_eq!(
            resolve(
                &running,
                &virtual_name('u', "[2001:db8::1]:53"),
                "2001:db8::3"
            ),
            Ok(t("udp:[2001:db8::1]:53", "[2001:db8::3]:53"))
        );
        assert_eq!(
            resolve(&running, &virtual_name('f', "7"), "[2001:db8::2]:8080"),
            Ok(t("fwm6:7", "[2001:db8::2]:8080"))
        );
        let e = resolve(&running, "fwm:7", "2001:db8::2").unwrap_err();
        assert!(e.contains("several real servers"), "{e}");
        let e = resolve(&running, &name, "198.51.100.9:80").unwrap_err();
        assert!(e.contains("198.51.100.1:80, 198.51.100.2:80"), "{e}");
        let e = resolve(&running, "tcp:192.0.2.1:80", "198.51.100.1").unwrap_err();
        assert!(e.starts_with("no virtual service tcp:192.0.2.1:80 is running (running: tcp:192.0.2.132:80, fwm6:7"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_ends_at_zero_connections_or_at_its_timeout() {
        let now = Instant::now();
        let mut d = Drain::start(Duration::from_secs(30), now);
        assert!(!d.counted(Some(3), now));
        assert_eq!(d.words(), "draining, 3 connections");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(d.counted(Some(0), Instant::now()));
        assert!(!d.counted(Some(0), Instant::now()), "once");
        assert_eq!(d.words(), "drained");

        let mut d = Drain::start(Duration::from_secs(30), Instant::now());
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(!d.counted(Some(1), Instant::now()));
        assert!(!d.expired(Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(d.expired(Instant::now()));
        assert!(d.done);

        // gone from the table already: over at once
        let mut d = Drain::start(Duration::from_secs(30), Instant::now());
        assert!(d.counted(None, Instant::now()));
    }
}
