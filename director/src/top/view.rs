//! What `director top` shows, from the daemon's answers (pure): the header lines, one row per
//! virtual service and real server, rates over a sliding window of readings, the selection
//! and what the keys do to it.

use std::collections::{BTreeMap, VecDeque};

use crate::control::{RealOp, Request};
use crate::status::Status;
use crate::traffic::{self, Rates, RealTraffic, ServiceTraffic, Traffic};

/// Rates are taken over about this long. The kernel folds its per-CPU counters into the
/// figures it reports every 2 s (its rate estimator's tick), so the counters move in steps
/// 2 s apart: rates over one second would swing between zero and twice the truth.
pub const WINDOW_MS: u64 = 4000;

/// Rows a PageUp / PageDown moves.
const PAGE: usize = 10;

/// A key `director top` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Quit,
    /// Drain the selected real server (`director real drain`).
    Drain,
    /// Enable the selected real server (`director real enable`).
    Enable,
}

/// One line of the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The virtual service (`tcp:192.0.2.132:80`).
    pub service: String,
    /// The real server; none on the service's own row.
    pub real: Option<String>,
    /// `up`, `down`, `unknown`; on a service row `N/M up` or `fallback`; `-` when director
    /// does not manage the entry.
    pub health: String,
    pub weight: Option<u32>,
    pub active: Option<u64>,
    pub inactive: Option<u64>,
    /// Connections since the entry was added (or zeroed).
    pub connections: Option<u64>,
    pub rates: Option<Rates>,
    /// Why the last check failed, or the scheduler on a service row.
    pub note: Option<String>,
}

/// The state of the view between two refreshes.
#[derive(Debug, Clone, Default)]
pub struct View {
    status: Option<Status>,
    /// Readings of the last 2 windows, oldest first, each a different dump.
    history: VecDeque<Traffic>,
    /// Why the traffic is missing (a daemon without an IPVS table), if it is.
    traffic_note: Option<String>,
    /// The last failure to reach the daemon, while it lasts.
    pub error: Option<String>,
    /// The daemon's answer to the last drain / enable, until the next key.
    pub message: Option<String>,
    selected: usize,
}

impl View {
    /// A refresh: the daemon's status and traffic, or why they could not be had (the last
    /// ones stay on screen).
    pub fn update(&mut self, status: Result<Status, String>, traffic: Result<Traffic, String>) {
        match status {
            Ok(s) => {
                self.status = Some(s);
                self.error = None;
            }
            Err(e) => {
                self.error = Some(e);
                return;
            }
        }
        match traffic {
            Ok(t) => {
                self.traffic_note = None;
                if self
                    .history
                    .back()
                    .is_none_or(|last| t.taken_ms > last.taken_ms)
                {
                    let keep_from = t.taken_ms.saturating_sub(2 * WINDOW_MS);
                    self.history.push_back(t);
                    while self.history.front().is_some_and(|f| f.taken_ms < keep_from) {
                        self.history.pop_front();
                    }
                }
            }
            Err(e) => {
                self.history.clear();
                self.traffic_note = Some(e);
            }
        }
        self.selected = self.selected.min(self.rows().len().saturating_sub(1));
    }

    /// Apply a key; false when it ends `director top`.
    pub fn key(&mut self, key: Key) -> bool {
        let last = self.rows().len().saturating_sub(1);
        self.message = None;
        self.selected = match key {
            Key::Quit => return false,
            Key::Drain | Key::Enable => self.selected,
            Key::Up => self.selected.saturating_sub(1),
            Key::Down => (self.selected + 1).min(last),
            Key::PageUp => self.selected.saturating_sub(PAGE),
            Key::PageDown => (self.selected + PAGE).min(last),
            Key::Home => 0,
            Key::End => last,
        };
        true
    }

    /// What a key asks of the daemon: drain or enable the selected real server (`None`: the
    /// key asks nothing; the selected row is not a real server director manages, said in
    /// [`View::message`]).
    pub fn request(&mut self, key: Key) -> Option<Request> {
        let op = match key {
            Key::Drain => RealOp::Drain { timeout_s: None },
            Key::Enable => RealOp::Enable,
            _ => return None,
        };
        let rows = self.rows();
        let row = rows.get(self.selected)?;
        match &row.real {
            Some(real) if row.health != "-" => Some(Request::Real {
                op,
                virtual_name: row.service.clone(),
                real: real.clone(),
            }),
            _ => {
                self.message =
                    Some("select a real server of a virtual service director runs".to_string());
                None
            }
        }
    }

    /// The selected row's index.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The status last read.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// Why there is no traffic, if there is none.
    pub fn traffic_note(&self) -> Option<&str> {
        self.traffic_note.as_deref()
    }

    /// The two readings the rates are taken between: the newest, and the newest one at least
    /// a window older (else the oldest kept).
    fn window(&self) -> Option<(&Traffic, &Traffic)> {
        let newest = self.history.back()?;
        let edge = newest.taken_ms.saturating_sub(WINDOW_MS);
        let earlier = self
            .history
            .iter()
            .rev()
            .find(|t| t.taken_ms <= edge)
            .or_else(|| self.history.front())?;
        (earlier.taken_ms < newest.taken_ms).then_some((earlier, newest))
    }

    /// Every row: the services of the status in their order, each with its real servers and
    /// then the destinations the kernel has beside them (a fallback, a hand-added one); then
    /// the services of the kernel table director does not manage.
    pub fn rows(&self) -> Vec<Row> {
        let newest = self.history.back();
        let rates = self
            .window()
            .map(|(a, b)| traffic::rates(a, b))
            .unwrap_or_default();
        let kernel: BTreeMap<&str, &ServiceTraffic> = newest
            .map(|t| t.services.iter().map(|s| (s.name.as_str(), s)).collect())
            .unwrap_or_default();
        let mut rows = Vec::new();
        let virtuals = self.status.as_ref().map_or(&[][..], |s| &s.virtuals[..]);
        for v in virtuals {
            let tv = kernel.get(v.name.as_str()).copied();
            let up = v.reals.iter().filter(|r| r.health == "up").count();
            let health = if v.fallback_active {
                "fallback".to_string()
            } else {
                format!("{up}/{} up", v.reals.len())
            };
            rows.push(service_row(&v.name, health, &v.scheduler, tv, &rates));
            for r in &v.reals {
                let tr = tv.and_then(|s| s.reals.iter().find(|t| t.address == r.address));
                let mut row = real_row(&v.name, &r.address, r.health.clone(), tr, &rates);
                row.weight = r.weight.or(row.weight);
                row.note = match (&r.operator, &r.reason) {
                    (Some(o), Some(why)) => Some(format!("operator: {o}; {why}")),
                    (Some(o), None) => Some(format!("operator: {o}")),
                    (None, why) => why.clone(),
                };
                rows.push(row);
            }
            for tr in tv.map_or(&[][..], |s| &s.reals[..]) {
                if !v.reals.iter().any(|r| r.address == tr.address) {
                    rows.push(real_row(&v.name, &tr.address, "-".into(), Some(tr), &rates));
                }
            }
        }
        for tv in newest.map_or(&[][..], |t| &t.services[..]) {
            if virtuals.iter().any(|v| v.name == tv.name) {
                continue;
            }
            let mut row = service_row(&tv.name, "-".into(), &tv.scheduler, Some(tv), &rates);
            row.note = Some(format!("{} (not managed by director)", tv.scheduler));
            rows.push(row);
            for tr in &tv.reals {
                rows.push(real_row(
                    &tv.name,
                    &tr.address,
                    "-".into(),
                    Some(tr),
                    &rates,
                ));
            }
        }
        rows
    }

    /// The header: the node and its mode, the role and the peer, the VIPs.
    pub fn header(&self) -> Vec<String> {
        let Some(s) = &self.status else {
            return vec!["director top: waiting for the daemon".to_string()];
        };
        let mut lines = vec![format!(
            "director top: node {} ({} mode), up {}, config {}",
            s.node,
            s.mode,
            duration(s.uptime_s),
            s.config_dir
        )];
        match &s.failover {
            Some(f) => {
                let peer = match &f.peer {
                    Some(p) => format!(
                        "peer {} {}{}{}",
                        p.name,
                        p.state,
                        p.role
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default(),
                        p.last_heard_ms
                            .map(|ms| format!(", heard {ms} ms ago"))
                            .unwrap_or_default()
                    ),
                    None => "no peer configured".to_string(),
                };
                lines.push(format!("role {}   {peer}", f.role));
            }
            None => lines.push("single director (no ha.cf): no peer".to_string()),
        }
        lines.push(format!("VIPs: {}", vips(s)));
        lines
    }
}

fn service_row(
    name: &str,
    health: String,
    scheduler: &str,
    tv: Option<&ServiceTraffic>,
    rates: &BTreeMap<(String, Option<String>), Rates>,
) -> Row {
    Row {
        service: name.to_string(),
        real: None,
        health,
        weight: None,
        active: tv.map(|s| s.reals.iter().map(|r| u64::from(r.active)).sum()),
        inactive: tv.map(|s| s.reals.iter().map(|r| u64::from(r.inactive)).sum()),
        connections: tv.map(|s| s.totals.connections),
        rates: rates.get(&(name.to_string(), None)).copied(),
        note: Some(scheduler.to_string()),
    }
}

fn real_row(
    service: &str,
    address: &str,
    health: String,
    tr: Option<&RealTraffic>,
    rates: &BTreeMap<(String, Option<String>), Rates>,
) -> Row {
    Row {
        service: service.to_string(),
        real: Some(address.to_string()),
        health,
        weight: tr.map(|t| t.weight),
        active: tr.map(|t| u64::from(t.active)),
        inactive: tr.map(|t| u64::from(t.inactive)),
        connections: tr.map(|t| t.totals.connections),
        rates: rates
            .get(&(service.to_string(), Some(address.to_string())))
            .copied(),
        note: None,
    }
}

/// The VIPs: in a pair the haresources addresses with their state, else the addresses of the
/// virtual services; those announced to BIRD marked so.
fn vips(s: &Status) -> String {
    let mut out: Vec<String> = Vec::new();
    if let Some(f) = &s.failover {
        for r in &f.resources {
            let Some((kind, args)) = r.resource.split_once("::") else {
                continue;
            };
            if kind == "IPaddr" || kind == "IPaddr2" {
                out.push(format!("{args} {}", r.state));
            }
        }
    } else {
        for v in &s.virtuals {
            if let Some(addr) = address_of(&v.name) {
                if !out.contains(&addr) {
                    out.push(addr);
                }
            }
        }
    }
    if let Some(a) = &s.announce {
        for vip in &mut out {
            let addr = vip.split(['/', ' ']).next().unwrap_or_default();
            if a.announced.iter().any(|x| x == addr) {
                vip.push_str(" (announced)");
            }
        }
    }
    if out.is_empty() {
        "none".to_string()
    } else {
        out.join(", ")
    }
}

/// The address of `tcp:192.0.2.132:80` / `udp:[2001:db8::1]:53`; none for a firewall mark.
fn address_of(name: &str) -> Option<String> {
    let (protocol, rest) = name.split_once(':')?;
    if protocol.starts_with("fwm") {
        return None;
    }
    let (host, _port) = rest.rsplit_once(':')?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// `3d 4h`, `2h 5m`, `4m 12s`, `9s`.
pub fn duration(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// A figure in at most 6 characters: `950`, `12.3k`, `4.56M`, `1.20G`.
pub fn si(v: f64) -> String {
    let (v, unit) = match v {
        v if v >= 1e9 => (v / 1e9, "G"),
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    if unit.is_empty() {
        if v.fract() == 0.0 || v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    } else if v >= 100.0 {
        format!("{v:.0}{unit}")
    } else if v >= 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::status::{FailoverStatus, PeerStatus, RealStatus, ResourceStatus, VirtualStatus};
    use crate::traffic::Totals;

    /// A pair member with one service of two real servers, one down (draw.rs uses it too).
    pub(in crate::top) fn status() -> Status {
        Status {
            node: "lb1".into(),
            mode: "pair".into(),
            config_dir: "/etc/ha.d".into(),
            uptime_s: 3725,
            failover: Some(FailoverStatus {
                role: "active".into(),
                peer: Some(PeerStatus {
                    name: "lb2".into(),
                    state: "up".into(),
                    role: Some("standby".into()),
                    last_heard_ms: Some(150),
                }),
                resources: vec![
                    ResourceStatus {
                        group: "lb1".into(),
                        resource: "IPaddr2::192.0.2.132/24/eth0".into(),
                        state: "running".into(),
                    },
                    ResourceStatus {
                        group: "lb1".into(),
                        resource: "ldirectord::www".into(),
                        state: "running".into(),
                    },
                ],
                ..Default::default()
            }),
            virtuals: vec![VirtualStatus {
                name: "tcp:192.0.2.132:80".into(),
                scheduler: "rr".into(),
                fallback_active: false,
                quorum: None,
                reals: vec![
                    RealStatus {
                        address: "192.0.2.250:80".into(),
                        health: "up".into(),
                        weight: Some(1),
                        reason: None,
                        operator: None,
                    },
                    RealStatus {
                        address: "192.0.2.251:80".into(),
                        health: "down".into(),
                        weight: None,
                        reason: Some("connection refused".into()),
                        operator: None,
                    },
                ],
            }],
            ..Default::default()
        }
    }

    fn reading(taken_ms: u64, conns: u64, unmanaged: bool) -> Traffic {
        let totals = |c: u64| Totals {
            connections: c,
            in_packets: 5 * c,
            in_bytes: 500 * c,
            ..Totals::default()
        };
        let mut services = vec![ServiceTraffic {
            name: "tcp:192.0.2.132:80".into(),
            scheduler: "rr".into(),
            totals: totals(conns),
            reals: vec![
                RealTraffic {
                    address: "192.0.2.250:80".into(),
                    weight: 1,
                    active: 4,
                    inactive: 9,
                    persistent: 0,
                    totals: totals(conns),
                },
                RealTraffic {
                    address: "127.0.0.1:80".into(),
                    weight: 1,
                    active: 1,
                    inactive: 0,
                    persistent: 0,
                    totals: totals(0),
                },
            ],
        }];
        if unmanaged {
            services.push(ServiceTraffic {
                name: "udp:192.0.2.53:53".into(),
                scheduler: "wlc".into(),
                totals: totals(0),
                reals: vec![],
            });
        }
        Traffic {
            taken_ms,
            dump_ms: 1,
            services,
        }
    }

    #[test]
    fn rows_follow_the_status_then_add_what_only_the_kernel_has() {
        let mut v = View::default();
        v.update(Ok(status()), Ok(reading(1000, 10, true)));
        let rows = v.rows();
        let names: Vec<(String, Option<String>, String)> = rows
            .iter()
            .map(|r| (r.service.clone(), r.real.clone(), r.health.clone()))
            .collect();
        let vs = "tcp:192.0.2.132:80".to_string();
        assert_eq!(
            names,
            vec![
                (vs.clone(), None, "1/2 up".into()),
                (vs.clone(), Some("192.0.2.250:80".into()), "up".into()),
                (vs.clone(), Some("192.0.2.251:80".into()), "down".into()),
                (vs.clone(), Some("127.0.0.1:80".into()), "-".into()),
                ("udp:192.0.2.53:53".into(), None, "-".into()),
            ]
        );
        assert_eq!(rows[0].active, Some(5));
        assert_eq!(rows[0].inactive, Some(9));
        assert_eq!(rows[0].connections, Some(10));
        assert_eq!(rows[1].weight, Some(1));
        assert_eq!(rows[2].note.as_deref(), Some("connection refused"));
        assert_eq!(rows[2].connections, None, "not in the kernel table");
        // one reading: no rates yet
        assert!(rows.iter().all(|r| r.rates.is_none()));
    }

    #[test]
    fn rates_span_the_window_not_the_last_second() {
        let mut v = View::default();
        // the kernel's counters move every 2 s: 0 at 0-1.9 s, 20 at 2-3.9 s, 40 at 4 s
        for (t, c) in [(0, 0), (1000, 0), (2000, 20), (3000, 20), (4000, 40)] {
            v.update(Ok(status()), Ok(reading(t, c, false)));
        }
        let r = v.rows()[0].rates.expect("rates after a window");
        assert_eq!(r.connections, 10.0);
        assert_eq!(r.in_packets, 50.0);
        assert_eq!(r.in_bytes, 5000.0);
        // a second later the counters have not moved: still 40 over the last 4 s, not 0
        v.update(Ok(status()), Ok(reading(5000, 40, false)));
        assert_eq!(v.rows()[0].rates.unwrap().connections, 10.0);
        // the same reading again (the daemon's cache) changes nothing
        v.update(Ok(status()), Ok(reading(5000, 40, false)));
        assert_eq!(v.rows()[0].rates.unwrap().connections, 10.0);
        // readings older than two windows are dropped
        v.update(Ok(status()), Ok(reading(20_000, 40, false)));
        assert!(v.rows()[0].rates.is_none());
    }

    #[test]
    fn drain_and_enable_ask_for_the_selected_real_server() {
        let mut v = View::default();
        let mut st = Status::default();
        st.virtuals.push(crate::status::VirtualStatus {
            name: "tcp:192.0.2.132:80".into(),
            scheduler: "rr".into(),
            reals: vec![crate::status::RealStatus {
                address: "192.0.2.250:80".into(),
                health: "up".into(),
                weight: Some(0),
                operator: Some("draining, 2 connections".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        v.update(Ok(st), Err("no table".into()));
        // the service row asks nothing, and says why
        assert_eq!(v.request(Key::Drain), None);
        assert!(v.message.is_some());
        assert!(v.key(Key::Down));
        assert_eq!(v.message, None);
        assert_eq!(
            v.rows()[1].note.as_deref(),
            Some("operator: draining, 2 connections")
        );
        let want = |op| Request::Real {
            op,
            virtual_name: "tcp:192.0.2.132:80".into(),
            real: "192.0.2.250:80".into(),
        };
        assert!(v.key(Key::Drain));
        assert_eq!(v.selected(), 1, "drain does not move the selection");
        assert_eq!(
            v.request(Key::Drain),
            Some(want(RealOp::Drain { timeout_s: None }))
        );
        assert_eq!(v.request(Key::Enable), Some(want(RealOp::Enable)));
        assert_eq!(v.request(Key::Up), None);
    }

    #[test]
    fn keys_move_the_selection_within_the_rows() {
        let mut v = View::default();
        v.update(Ok(status()), Ok(reading(0, 0, true)));
        assert_eq!(v.selected(), 0);
        assert!(v.key(Key::Up));
        assert_eq!(v.selected(), 0);
        v.key(Key::Down);
        v.key(Key::Down);
        assert_eq!(v.selected(), 2);
        v.key(Key::PageDown);
        assert_eq!(v.selected(), 4);
        v.key(Key::Home);
        assert_eq!(v.selected(), 0);
        v.key(Key::End);
        assert_eq!(v.selected(), 4);
        v.key(Key::PageUp);
        assert_eq!(v.selected(), 0);
        v.key(Key::End);
        // the table shrinks: the selection stays on a row
        v.update(Ok(status()), Ok(reading(1000, 0, false)));
        assert_eq!(v.selected(), 3);
        assert!(!v.key(Key::Quit));
    }

    #[test]
    fn a_lost_daemon_keeps_the_last_screen_and_says_so() {
        let mut v = View::default();
        v.update(Ok(status()), Ok(reading(0, 0, false)));
        v.update(
            Err("cannot reach the director daemon".into()),
            Err("x".into()),
        );
        assert_eq!(v.error.as_deref(), Some("cannot reach the director daemon"));
        assert_eq!(v.rows().len(), 4);
        v.update(
            Ok(status()),
            Err("this daemon programs no IPVS table".into()),
        );
        assert!(v.error.is_none());
        assert_eq!(v.rows().len(), 3);
        assert!(v.rows()[1].connections.is_none());
        assert_eq!(v.traffic_note(), Some("this daemon programs no IPVS table"));
    }

    #[test]
    fn the_header_names_the_node_its_role_the_peer_and_the_vips() {
        let mut v = View::default();
        assert_eq!(v.header(), vec!["director top: waiting for the daemon"]);
        v.update(Ok(status()), Ok(reading(0, 0, false)));
        assert_eq!(
            v.header(),
            vec![
                "director top: node lb1 (pair mode), up 1h 2m, config /etc/ha.d",
                "role active   peer lb2 up (standby), heard 150 ms ago",
                "VIPs: 192.0.2.132/24/eth0 running",
            ]
        );
        let mut single = status();
        single.failover = None;
        single.mode = "single".into();
        single.virtuals.push(VirtualStatus {
            name: "udp:[2001:db8::1]:53".into(),
            ..Default::default()
        });
        single.virtuals.push(VirtualStatus {
            name: "fwm:7".into(),
            ..Default::default()
        });
        single.announce = Some(crate::status::AnnounceStatus {
            announced: vec!["2001:db8::1".into()],
            ..Default::default()
        });
        v.update(Ok(single), Ok(reading(0, 0, false)));
        let h = v.header();
        assert_eq!(h[1], "single director (no ha.cf): no peer");
        assert_eq!(h[2], "VIPs: 192.0.2.132, 2001:db8::1 (announced)");
    }

    #[test]
    fn figures_fit_their_columns() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(2.5), "2.5");
        assert_eq!(si(950.0), "950");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(4_560_000.0), "4.56M");
        assert_eq!(si(1.2e9), "1.20G");
        assert_eq!(si(999_999_999_999.0), "1000G");
        assert_eq!(duration(9), "9s");
        assert_eq!(duration(252), "4m 12s");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3d 4h");
    }
}
