//! The director's decision core (pure): from the configured virtual services, the health of
//! each real server and the kernel table as found, compute the table IPVS should hold, and
//! describe each change in ldirectord's words.
//!
//! Rules (ldirectord 1.186 semantics, ref ldirectord.md 6.3, 6.6, 6.7, without its flapping):
//! - a real server that is up is present at its configured weight;
//! - a real server that is down is absent unless `quiescent`; with `quiescent` it is at
//!   weight 0 when it is in the table, and when it is not: only with `readdquiescent`, or
//!   while its check is *settling* (its first verdict after a start or a reload: ldirectord's
//!   start/reload sequence leaves every down real at weight 0). So with `readdquiescent=no`
//!   a quiesced real deleted by hand stays deleted (ldirectord's #125); with `yes` it comes
//!   back at weight 0 (ldirectord only re-adds it at a transition; director's repair pass
//!   puts it back at once);
//! - a real server not yet checked keeps what the kernel has (adopted on restart, never
//!   dropped before its first verdict) and is not added before its first check passes;
//! - the fallback is present while every real server has a verdict and none is up;
//! - destinations in a managed service that are neither configured reals nor the fallback
//!   are removed (someone changed the table by hand);
//! - services not configured are left alone, unless director managed them before (a reload
//!   dropped them), then they are removed.
//!
//! Services scheduled by `mh` (Maglev hashing) differ, so that every director of a scale-out
//! group holds the same lookup table (docs/scale-out.md): the kernel fills that table from the
//! destinations in the order they were added and from each one's *last non-zero* weight, and
//! skips destinations at weight 0 only when it looks a flow up. So every configured real
//! server of an `mh` service is in the table at all times, added in the file's order
//! ([`consistent_order`]); one that is down or not yet checked is at weight 0, whatever
//! `quiescent` says (deleting and re-adding it would move it in the kernel's list), and one
//! added at weight 0 is added at its configured weight and quiesced in the next change, so its
//! last weight is the configured one on every director whatever its health history.

use std::collections::{BTreeMap, BTreeSet};

pub use super::operator::Override;
use crate::ipvs::{
    Change, Dest, DestKey, Forward, Protocol, Service, ServiceConfig, ServiceKey, Table,
};

/// Identifies one health check (a real server shared by several virtuals with the same check
/// has one id).
pub type CheckId = usize;

/// What the checks say of a real server (healthcheck's tracker's word: `Unknown` before the
/// first verdict).
pub use healthcheck::tracker::Health;

/// A configured real server of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealSpec {
    /// The destination at its configured weight, port as configured.
    pub dest: Dest,
    pub check: CheckId,
}

/// A configured virtual service with everything the table decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualSpec {
    pub service: Service,
    pub reals: Vec<RealSpec>,
    /// `fallback=` (per virtual, or the global one), at weight 1 unless configured.
    pub fallback: Option<Dest>,
    /// `quiescent=yes`: a failed real stays at weight 0 instead of being removed.
    pub quiescent: bool,
    /// `readdquiescent=yes`: a failed real of a quiescent virtual that is not in the table is
    /// added at weight 0.
    pub readdquiescent: bool,
    /// keepalived's quorum (`director.conf` `[[service]]`): the fallback follows the quorum
    /// instead of "no real server is up" ([`super::quorum`]).
    pub quorum: Option<super::quorum::Quorum>,
}

/// The weight of a virtual's up real servers (their configured weights) and whether every
/// one has had a verdict: what its quorum is decided on.
pub fn up_weight(v: &VirtualSpec, health: &dyn Fn(CheckId) -> Health) -> (u64, bool) {
    v.reals
        .iter()
        .fold((0, true), |(w, known), r| match health(r.check) {
            Health::Up => (w + u64::from(r.dest.weight), known),
            Health::Down => (w, known),
            Health::Unknown => (w, false),
        })
}

/// The destination as the kernel will store it: for gate and ipip destinations of a TCP/UDP/SCTP
/// service the kernel (through ipvsadm) uses the service port (ldirectord.md 6.2).
pub fn kernel_dest(service: &ServiceKey, dest: &Dest) -> Dest {
    let mut d = dest.clone();
    if let ServiceKey::Addr { protocol, port, .. } = service {
        let rewrites = matches!(d.forward, Forward::Route | Forward::Tunnel)
            && matches!(protocol, Protocol::Tcp | Protocol::Udp | Protocol::Sctp);
        if rewrites {
            d.port = *port;
        }
    }
    d
}

/// The table IPVS should hold.
///
/// `previously_managed`: services director configured before this call that the current
/// configuration no longer has (they are removed); every other unconfigured service is kept.
/// `settling`: checks whose first verdict since the last start or reload is being applied.
/// `quorum`: whether a virtual with a quorum has it (`None`: undecided).
/// `admin`: what the operator asked of a real server (`director real ...`), by its service
/// and its configured destination: [`Override::Weight`] replaces the configured weight,
/// [`Override::Drain`] keeps it at weight 0 while it is in the table and never adds it,
/// [`Override::Out`] takes it out; a real under `Drain` or `Out` does not count as serving
/// (the fallback comes in when no other real serves). An `mh` service keeps such a real at
/// weight 0, as any real that does not serve.
pub fn desired(
    virtuals: &[VirtualSpec],
    health: &dyn Fn(CheckId) -> Health,
    settling: &dyn Fn(CheckId) -> bool,
    quorum: &dyn Fn(&ServiceKey) -> Option<bool>,
    admin: &dyn Fn(&ServiceKey, &DestKey) -> Option<Override>,
    actual: &Table,
    previously_managed: &BTreeSet<ServiceKey>,
) -> Table {
    let mut table = Table::default();
    for (key, config) in &actual.services {
        let configured = virtuals.iter().any(|v| v.service.key == *key);
        if !configured && !previously_managed.contains(key) {
            table.services.insert(*key, config.clone());
        }
    }
    for v in virtuals {
        let key = v.service.key;
        let ordered = keeps_order(v);
        let present = actual.services.get(&key).map(|c| &c.dests);
        let mut dests: BTreeMap<DestKey, Dest> = BTreeMap::new();
        let mut serving = false;
        let mut all_known = true;
        // keepalived: a service that lost its quorum and has a sorry server serves from it
        // alone (its real servers are removed, or quiesced with inhibit_on_failure).
        let lost = v.quorum.is_some() && quorum(&key) == Some(false);
        let sorry = lost && v.fallback.is_some();
        for real in &v.reals {
            let mut want = kernel_dest(&key, &real.dest);
            let found = present.and_then(|p| p.get(&want.key()));
            match admin(&key, &real.dest.key()) {
                Some(Override::Weight(w)) => want.weight = w,
                Some(held @ (Override::Drain | Override::Out)) => {
                    let keep = held == Override::Drain && found.is_some();
                    if ordered || keep {
                        let mut q = want.clone();
                        q.weight = 0;
                        dests.insert(q.key(), q);
                    }
                    if health(real.check) == Health::Unknown {
                        all_known = false;
                    }
                    continue;
                }
                None => {}
            }
            let verdict = if sorry {
                Health::Down
            } else {
                health(real.check)
            };
            match verdict {
                Health::Up => {
                    serving = true;
                    dests.insert(want.key(), want);
                }
                Health::Down => {
                    let keep = found.is_some() || v.readdquiescent || settling(real.check);
                    if ordered || (v.quiescent && keep) {
                        let mut q = want.clone();
                        q.weight = 0;
                        dests.insert(q.key(), q);
                    }
                }
                Health::Unknown => {
                    all_known = false;
                    if let Some(d) = found {
                        if d.weight > 0 {
                            serving = true;
                        }
                        dests.insert(d.key(), d.clone());
                    } else if ordered {
                        let mut q = want.clone();
                        q.weight = 0;
                        dests.insert(q.key(), q);
                    }
                }
            }
        }
        if let Some(fb) = &v.fallback {
            let wanted = if v.quorum.is_some() {
                lost
            } else {
                !serving && all_known
            };
            if wanted {
                let fb = kernel_dest(&key, fb);
                dests.insert(fb.key(), fb);
            }
        }
        table.services.insert(
            key,
            ServiceConfig {
                service: v.service.clone(),
                dests,
            },
        );
    }
    table
}

/// Whether the kernel builds the service's scheduling table from the order of its
/// destinations and their last weights: IPVS's `mh` (Maglev hashing), the scheduler of a
/// scale-out group. Its real servers are never deleted for health and are added in file order.
pub fn keeps_order(v: &VirtualSpec) -> bool {
    v.service.scheduler == "mh"
}

/// `plan`'s changes with the destinations of every `mh` service added in the file's order (the
/// real servers as configured, then the fallback) instead of the address order, and each real
/// server added at weight 0 added at its configured weight and quiesced by the next change
/// (the kernel keeps a destination's last non-zero weight for `mh`'s table; ldirectord's
/// start sequence adds and quiesces the same way). Other changes keep their place.
pub fn consistent_order(changes: Vec<Change>, virtuals: &[VirtualSpec]) -> Vec<Change> {
    let rank = |key: &ServiceKey, dk: &DestKey| -> Option<(usize, u32)> {
        let v = virtuals
            .iter()
            .find(|v| v.service.key == *key && keeps_order(v))?;
        let reals = v.reals.iter().map(|r| kernel_dest(key, &r.dest));
        let all = reals.chain(v.fallback.iter().map(|f| kernel_dest(key, f)));
        let real_count = v.reals.len();
        all.enumerate()
            .find(|(_, d)| d.key() == *dk)
            .map(|(i, d)| (i, if i < real_count { d.weight } else { 0 }))
    };
    let mut out = Vec::with_capacity(changes.len());
    let mut run: Vec<(usize, u32, ServiceKey, Dest)> = Vec::new();
    let flush = |run: &mut Vec<(usize, u32, ServiceKey, Dest)>, out: &mut Vec<Change>| {
        run.sort_by_key(|(i, ..)| *i);
        for (_, configured, key, d) in run.drain(..) {
            if d.weight == 0 && configured > 0 {
                let mut primed = d.clone();
                primed.weight = configured;
                out.push(Change::AddDest(key, primed));
                out.push(Change::EditDest(key, d));
            } else {
                out.push(Change::AddDest(key, d));
            }
        }
    };
    for change in changes {
        let ranked = match &change {
            Change::AddDest(key, d) => rank(key, &d.key()).map(|r| (r, *key, d.clone())),
            _ => None,
        };
        match ranked {
            Some(((i, configured), key, d)) => {
                if run.first().is_some_and(|(_, _, k, _)| *k != key) {
                    flush(&mut run, &mut out);
                }
                run.push((i, configured, key, d));
            }
            None => {
                flush(&mut run, &mut out);
                out.push(change);
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `<V>` as ldirectord logs a virtual service: `ip:port`, `[v6]:port`, or the bare mark.
pub fn virtual_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { addr, port, .. } => socket_name(addr, *port),
        ServiceKey::Fwmark { mark, .. } => mark.to_string(),
    }
}

fn socket_name(addr: &std::net::IpAddr, port: u16) -> String {
    match addr {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// One ldirectord-style log line for a change, given which destinations are fallbacks.
pub fn describe(change: &Change, fallbacks: &BTreeSet<(ServiceKey, DestKey)>) -> String {
    let dest_line = |key: &ServiceKey, dk: &DestKey| {
        (
            socket_name(&dk.addr, dk.port),
            virtual_name(key),
            fallbacks.contains(&(*key, *dk)),
        )
    };
    match change {
        Change::AddService(s) => format!("Added virtual server: {}", virtual_name(&s.key)),
        Change::EditService(s) => format!("Changed virtual server: {}", virtual_name(&s.key)),
        Change::DelService(k) => format!("Purged virtual server: {}", virtual_name(k)),
        Change::AddDest(k, d) => {
            let (r, v, fb) = dest_line(k, &d.key());
            if fb {
                format!(
                    "Added fallback server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            } else if d.weight == 0 {
                format!("Readd Quiescent real server: {r} ({v}) (Weight set to 0)")
            } else {
                format!("Added real server: {r} ({v}) (Weight set to {})", d.weight)
            }
        }
        Change::EditDest(k, d) => {
            let (r, v, fb) = dest_line(k, &d.key());
            // ldirectord's `_restore_service`: a destination present with another weight,
            // method or thresholds is "Restored" (a weight change of an up real included).
            if fb {
                format!(
                    "Restored fallback server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            } else if d.weight == 0 {
                format!("Quiescent real server: {r} ({v}) (Weight set to 0)")
            } else {
                format!(
                    "Restored real server: {r} ({v}) (Weight set to {})",
                    d.weight
                )
            }
        }
        Change::DelDest(k, dk) => {
            let (r, v, fb) = dest_line(k, dk);
            if fb {
                format!("Deleted fallback server: {r} ({v})")
            } else {
                format!("Deleted real server: {r} ({v})")
            }
        }
    }
}

/// `describe` with the configuration at hand: a destination removed from a managed service
/// that is neither a configured real nor its fallback, and a service dropped from the
/// configuration, are "purged" as ldirectord says it at start and reload.
pub fn describe_in(change: &Change, virtuals: &[VirtualSpec]) -> String {
    match change {
        Change::DelService(k) => format!("Purged virtual server (start): {}", virtual_name(k)),
        Change::DelDest(k, dk) if !configured(virtuals, k, dk) => format!(
            "Purged real server (start): {} ({})",
            socket_name(&dk.addr, dk.port),
            virtual_name(k)
        ),
        other => describe(other, &fallback_keys(virtuals)),
    }
}

fn configured(virtuals: &[VirtualSpec], key: &ServiceKey, dk: &DestKey) -> bool {
    virtuals.iter().filter(|v| v.service.key == *key).any(|v| {
        v.reals
            .iter()
            .any(|r| kernel_dest(key, &r.dest).key() == *dk)
            || v.fallback
                .as_ref()
                .is_some_and(|f| kernel_dest(key, f).key() == *dk)
    })
}

/// What a log line is about, for the tracing spans that let a log be filtered per service
/// (`vs`) and real server (`rs`): `vs` as ldirectord names a service (`tcp:192.0.2.100:80`,
/// `fwm:1`), `rs` as `ADDR:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub vs: String,
    pub rs: Option<String>,
}

/// The service and real server a change touches.
pub fn about(change: &Change) -> About {
    let (key, dest) = match change {
        Change::AddService(s) | Change::EditService(s) => (&s.key, None),
        Change::DelService(k) => (k, None),
        Change::AddDest(k, d) | Change::EditDest(k, d) => (k, Some(d.key())),
        Change::DelDest(k, dk) => (k, Some(*dk)),
    };
    About {
        vs: crate::traffic::service_name(key),
        rs: dest.map(|dk| socket_name(&dk.addr, dk.port)),
    }
}

/// The lines ldirectord logs when it purges a service at stop (cleanstop=yes): each
/// destination, then the service.
pub fn describe_stop(key: &ServiceKey, config: Option<&ServiceConfig>) -> Vec<String> {
    let v = virtual_name(key);
    let mut lines: Vec<String> = config
        .map(|c| {
            c.dests
                .keys()
                .map(|dk| {
                    format!(
                        "Purged real server (stop): {} ({v})",
                        socket_name(&dk.addr, dk.port)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    lines.push(format!("Purged virtual server (stop): {v}"));
    lines
}

/// What each line of [`describe_stop`] is about, in the same order.
pub fn about_stop(key: &ServiceKey, config: Option<&ServiceConfig>) -> Vec<About> {
    let vs = crate::traffic::service_name(key);
    let mut out: Vec<About> = config
        .map(|c| {
            c.dests
                .keys()
                .map(|dk| About {
                    vs: vs.clone(),
                    rs: Some(socket_name(&dk.addr, dk.port)),
                })
                .collect()
        })
        .unwrap_or_default();
    out.push(About { vs, rs: None });
    out
}

/// One applied change as ldirectord logs it, and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub text: String,
    pub about: About,
}

/// A change that ldirectord sends an alert mail for (its `ld_emailalert_send` calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerted {
    pub service: ServiceKey,
    /// `<R>`: the destination as logged (`ip:port`).
    pub real: String,
    /// The mail subject: the log line, except that a real re-added at weight 0 is mailed as
    /// "Quiescent real server: ..." (ldirectord logs "Readd Quiescent" but mails that).
    pub subject: String,
    /// A real server taken out (quiesced or deleted): reminders follow while it stays so.
    /// Anything else clears the reminders of that destination.
    pub down: bool,
}

/// The alert of an applied change, if ldirectord sends one for it (changes of services send
/// none).
pub fn alert_of(change: &Change, virtuals: &[VirtualSpec]) -> Option<Alerted> {
    let line = describe_in(change, virtuals);
    let fallbacks = fallback_keys(virtuals);
    let (key, dk, down) = match change {
        Change::AddService(_) | Change::EditService(_) | Change::DelService(_) => return None,
        Change::AddDest(k, d) | Change::EditDest(k, d) => {
            let fb = fallbacks.contains(&(*k, d.key()));
            (*k, d.key(), !fb && d.weight == 0)
        }
        Change::DelDest(k, dk) => {
            let fb = fallbacks.contains(&(*k, *dk));
            (*k, *dk, !fb && configured(virtuals, k, dk))
        }
    };
    let subject = match line.strip_prefix("Readd ") {
        Some(rest) => rest.to_string(),
        None => line,
    };
    Some(Alerted {
        service: key,
        real: socket_name(&dk.addr, dk.port),
        subject,
        down,
    })
}

/// The alerts of a service purged at stop (one per destination, as `describe_stop` logs).
pub fn alerts_stop(key: &ServiceKey, config: Option<&ServiceConfig>) -> Vec<Alerted> {
    let v = virtual_name(key);
    config
        .map(|c| {
            c.dests
                .keys()
                .map(|dk| {
                    let real = socket_name(&dk.addr, dk.port);
                    Alerted {
                        service: *key,
                        subject: format!("Purged real server (stop): {real} ({v})"),
                        real,
                        down: false,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The (service, dest) pairs that are fallbacks in the configuration.
pub fn fallback_keys(virtuals: &[VirtualSpec]) -> BTreeSet<(ServiceKey, DestKey)> {
    virtuals
        .iter()
        .filter_map(|v| {
            v.fallback
                .as_ref()
                .map(|fb| (v.service.key, kernel_dest(&v.service.key, fb).key()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn vs(quiescent: bool, fallback: bool) -> VirtualSpec {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut service = Service::new(key);
        service.scheduler = "rr".into();
        let real = |a: &str, check| RealSpec {
            dest: Dest::new(ip(a), 80),
            check,
        };
        VirtualSpec {
            service,
            reals: vec![real("198.51.100.1", 0), real("198.51.100.2", 1)],
            fallback: fallback.then(|| Dest::new(ip("127.0.0.1"), 80)),
            quiescent,
            readdquiescent: false,
            quorum: None,
        }
    }

    fn weights(t: &Table) -> Vec<(String, u32)> {
        t.services
            .values()
            .flat_map(|c| c.dests.values())
            .map(|d| (d.addr.to_string(), d.weight))
            .collect()
    }

    fn run<const N: usize>(v: &VirtualSpec, h: [Health; N], actual: &Table) -> Table {
        desired(
            std::slice::from_ref(v),
            &|c| h[c],
            &|_| false,
            &|_| None,
            &|_, _| None,
            actual,
            &BTreeSet::new(),
        )
    }

    #[test]
    fn up_reals_at_weight_and_no_fallback() {
        let v = vs(false, true);
        let t = run(&v, [Health::Up, Health::Up], &Table::default());
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 1)]
        );
    }

    #[test]
    fn down_real_removed_or_quiesced() {
        let v = vs(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let t = run(&v, [Health::Up, Health::Down], &up);
        assert_eq!(weights(&t), vec![("198.51.100.1".into(), 1)]);
        let v = vs(true, true);
        let t = run(&v, [Health::Up, Health::Down], &up);
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
    }

    #[test]
    fn readdquiescent_decides_for_an_absent_failed_real() {
        let v = vs(true, false);
        let settle = |settling: bool, v: &VirtualSpec, actual: &Table| {
            desired(
                std::slice::from_ref(v),
                &|c| [Health::Up, Health::Down][c],
                &|_| settling,
                &|_| None,
                &|_, _| None,
                actual,
                &BTreeSet::new(),
            )
        };
        // settling (first verdict after start or reload): ldirectord's add-then-quiesce
        // sequence leaves it at weight 0 whatever readdquiescent says (checktype=off reals too)
        let t = settle(true, &v, &Table::default());
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
        // present: quiesced at weight 0
        let t2 = settle(false, &v, &t);
        assert_eq!(weights(&t2), weights(&t));
        // deleted by hand while down: readdquiescent=no leaves it out
        let mut deleted = t.clone();
        let key = v.service.key;
        let dk = Dest::new(ip("198.51.100.2"), 80).key();
        deleted.services.get_mut(&key).unwrap().dests.remove(&dk);
        let t3 = settle(false, &v, &deleted);
        assert_eq!(weights(&t3), vec![("198.51.100.1".into(), 1)]);
        // readdquiescent=yes puts it back at weight 0
        let mut readd = vs(true, false);
        readd.readdquiescent = true;
        let t4 = settle(false, &readd, &deleted);
        assert_eq!(
            weights(&t4),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
        // quiescent=no: never there
        let t5 = settle(true, &vs(false, false), &Table::default());
        assert_eq!(weights(&t5), vec![("198.51.100.1".into(), 1)]);
    }

    #[test]
    fn operator_weight_drain_and_out() {
        let v = vs(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let with = |admin: [Option<Override>; 2], actual: &Table| {
            desired(
                std::slice::from_ref(&v),
                &|_| Health::Up,
                &|_| false,
                &|_| None,
                &|_, d| admin[usize::from(d.addr == ip("198.51.100.2"))],
                actual,
                &BTreeSet::new(),
            )
        };
        let t = with([Some(Override::Weight(7)), None], &up);
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 7), ("198.51.100.2".into(), 1)]
        );
        // drain: weight 0 while present, never added back
        let t = with([None, Some(Override::Drain)], &up);
        assert_eq!(
            weights(&t),
            vec![("198.51.100.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
        let t = with([None, Some(Override::Drain)], &Table::default());
        assert_eq!(weights(&t), vec![("198.51.100.1".into(), 1)]);
        // out: gone at once
        let t = with([None, Some(Override::Out)], &up);
        assert_eq!(weights(&t), vec![("198.51.100.1".into(), 1)]);
        // nothing serves: the fallback comes in (the drained real keeps its connections)
        let t = with([Some(Override::Out), Some(Override::Drain)], &up);
        assert_eq!(
            weights(&t),
            vec![("127.0.0.1".into(), 1), ("198.51.100.2".into(), 0)]
        );
    }

    #[test]
    fn fallback_when_all_down_and_gone_when_one_returns() {
        let v = vs(true, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let all_down = run(&v, [Health::Down, Health::Down], &up);
        assert_eq!(
            weights(&all_down),
            vec![
                ("127.0.0.1".into(), 1),
                ("198.51.100.1".into(), 0),
                ("198.51.100.2".into(), 0)
            ]
        );
        let back = run(&v, [Health::Down, Health::Up], &all_down);
        assert_eq!(
            weights(&back),
            vec![("198.51.100.1".into(), 0), ("198.51.100.2".into(), 1)]
        );
    }

    #[test]
    fn a_lost_quorum_serves_from_the_fallback_alone_and_keeps_reals_without_one() {
        let with_quorum = |quiescent, fallback| {
            let mut v = vs(quiescent, fallback);
            v.quorum = Some(crate::lvs::quorum::Quorum {
                quorum: 2,
                hysteresis: 0,
            });
            v
        };
        let quorum_run = |v: &VirtualSpec, state: Option<bool>, actual: &Table| {
            desired(
                std::slice::from_ref(v),
                &|c| [Health::Up, Health::Down][c],
                &|_| false,
                &|_| state,
                &|_, _| None,
                actual,
                &BTreeSet::new(),
            )
        };
        let v = with_quorum(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        // lost: the up real goes, the fallback comes although a real is up
        let t = quorum_run(&v, Some(false), &up);
        assert_eq!(weights(&t), vec![("127.0.0.1".into(), 1)]);
        // inhibit_on_failure (quiescent): the reals stay at weight 0
        let q = with_quorum(true, true);
        let t = quorum_run(&q, Some(false), &up);
        assert_eq!(
            weights(&t),
            vec![
                ("127.0.0.1".into(), 1),
                ("198.51.100.1".into(), 0),
                ("198.51.100.2".into(), 0)
            ]
        );
        // no fallback: the up real keeps serving (only quorum_down runs)
        let n = with_quorum(false, false);
        let t = quorum_run(&n, Some(false), &up);
        assert_eq!(weights(&t), vec![("198.51.100.1".into(), 1)]);
        // held or undecided: no fallback, whatever the reals say
        for state in [Some(true), None] {
            let t = desired(
                std::slice::from_ref(&v),
                &|_| Health::Down,
                &|_| false,
                &|_| state,
                &|_, _| None,
                &up,
                &BTreeSet::new(),
            );
            assert_eq!(weights(&t), Vec::<(String, u32)>::new(), "{state:?}");
        }
        assert_eq!(
            up_weight(&v, &|c| [Health::Up, Health::Unknown][c]),
            (1, false)
        );
    }

    #[test]
    fn unknown_reals_adopted_as_found_and_never_added_early() {
        let v = vs(false, true);
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        // restart: no verdicts yet, the kernel table is kept exactly
        let t = run(&v, [Health::Unknown, Health::Unknown], &up);
        assert_eq!(t, up);
        // fresh start: nothing is added before a check passes, and no fallback flap
        let t = run(&v, [Health::Unknown, Health::Unknown], &Table::default());
        assert_eq!(weights(&t), Vec::<(String, u32)>::new());
        // one verdict down, one unknown: still no fallback
        let t = run(&v, [Health::Down, Health::Unknown], &Table::default());
        assert_eq!(weights(&t), Vec::<(String, u32)>::new());
    }

    #[test]
    fn hand_added_dest_in_managed_service_is_removed_others_untouched() {
        let v = vs(false, false);
        let mut actual = run(&v, [Health::Up, Health::Up], &Table::default());
        let stray = Dest::new(ip("203.0.113.9"), 80);
        let key = v.service.key;
        if let Some(c) = actual.services.get_mut(&key) {
            c.dests.insert(stray.key(), stray);
        }
        let other_key = ServiceKey::Fwmark {
            family: crate::ipvs::Family::V4,
            mark: 7,
        };
        actual.services.insert(
            other_key,
            ServiceConfig {
                service: Service::new(other_key),
                dests: BTreeMap::new(),
            },
        );
        let t = run(&v, [Health::Up, Health::Up], &actual);
        assert_eq!(weights(&t).len(), 2);
        assert!(t.services.contains_key(&other_key));
        let forget: BTreeSet<_> = [other_key].into();
        let t = desired(
            std::slice::from_ref(&v),
            &|_| Health::Up,
            &|_| false,
            &|_| None,
            &|_, _| None,
            &actual,
            &forget,
        );
        assert!(!t.services.contains_key(&other_key));
    }

    fn mh(weights: [u32; 3]) -> VirtualSpec {
        let mut v = vs(false, true);
        v.service.scheduler = "mh".into();
        // the file's order is not the address order
        v.reals = ["198.51.100.9", "198.51.100.1", "198.51.100.5"]
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(check, (a, w))| {
                let mut dest = Dest::new(ip(a), 80);
                dest.weight = w;
                RealSpec { dest, check }
            })
            .collect();
        v
    }

    #[test]
    fn mh_keeps_every_real_at_weight_0_until_up_whatever_quiescent_says() {
        let v = mh([1, 2, 3]);
        let t = run(
            &v,
            [Health::Unknown, Health::Up, Health::Down],
            &Table::default(),
        );
        assert_eq!(
            weights(&t),
            vec![
                ("198.51.100.1".into(), 2),
                ("198.51.100.5".into(), 0),
                ("198.51.100.9".into(), 0)
            ]
        );
    }

    #[test]
    fn mh_reals_are_added_in_file_order_and_primed_at_their_weight() {
        let v = mh([1, 2, 0]);
        let rr = vs(false, false);
        let key = v.service.key;
        let mut other = rr.clone();
        other.service.key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.133"),
            port: 80,
        };
        let other_key = other.service.key;
        let t = desired(
            &[v.clone(), other.clone()],
            &|c| [Health::Unknown, Health::Up, Health::Up][c],
            &|_| false,
            &|_| None,
            &|_, _| None,
            &Table::default(),
            &BTreeSet::new(),
        );
        let changes = consistent_order(crate::ipvs::plan::plan(&t, &Table::default()), &[v, other]);
        let at = |a: &str, w: u32| {
            let mut d = Dest::new(ip(a), 80);
            d.weight = w;
            d
        };
        assert_eq!(
            changes,
            vec![
                Change::AddService(t.services[&key].service.clone()),
                Change::AddService(t.services[&other_key].service.clone()),
                // file order; the unchecked real goes in at its weight, then to 0; a real
                // configured at weight 0 goes in as it is
                Change::AddDest(key, at("198.51.100.9", 1)),
                Change::EditDest(key, at("198.51.100.9", 0)),
                Change::AddDest(key, at("198.51.100.1", 2)),
                Change::AddDest(key, at("198.51.100.5", 0)),
                // not mh: as planned (an unchecked real is not added)
                Change::AddDest(other_key, at("198.51.100.2", 1)),
            ]
        );
    }

    #[test]
    fn gate_dest_takes_service_port_masq_keeps_its_own() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80,
        };
        let mut d = Dest::new(ip("198.51.100.1"), 8080);
        assert_eq!(kernel_dest(&key, &d).port, 80);
        d.forward = Forward::Masq;
        assert_eq!(kernel_dest(&key, &d).port, 8080);
        let fw = ServiceKey::Fwmark {
            family: crate::ipvs::Family::V4,
            mark: 1,
        };
        d.forward = Forward::Route;
        assert_eq!(kernel_dest(&fw, &d).port, 8080);
    }

    #[test]
    fn purge_lines_name_start_and_stop() {
        let v = vs(false, true);
        let key = v.service.key;
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let stray = Dest::new(ip("203.0.113.9"), 80);
        let vs = std::slice::from_ref(&v);
        assert_eq!(
            describe_in(&Change::DelDest(key, stray.key()), vs),
            "Purged real server (start): 203.0.113.9:80 (192.0.2.132:80)"
        );
        let real = Dest::new(ip("198.51.100.1"), 80);
        assert_eq!(
            describe_in(&Change::DelDest(key, real.key()), vs),
            "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)"
        );
        assert_eq!(
            describe_in(&Change::DelService(key), vs),
            "Purged virtual server (start): 192.0.2.132:80"
        );
        assert_eq!(
            describe_stop(&key, up.services.get(&key)),
            vec![
                "Purged real server (stop): 198.51.100.1:80 (192.0.2.132:80)".to_string(),
                "Purged real server (stop): 198.51.100.2:80 (192.0.2.132:80)".to_string(),
                "Purged virtual server (stop): 192.0.2.132:80".to_string(),
            ]
        );
    }

    #[test]
    fn alerts_follow_ldirectord_calls() {
        let v = vs(true, true);
        let key = v.service.key;
        let vs = std::slice::from_ref(&v);
        let d = Dest::new(ip("198.51.100.1"), 80);
        let mut q = d.clone();
        q.weight = 0;
        let a = alert_of(&Change::EditDest(key, q.clone()), vs).unwrap();
        assert_eq!(
            a.subject,
            "Quiescent real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 0)"
        );
        assert_eq!(a.real, "198.51.100.1:80");
        assert!(a.down);
        // re-added at weight 0: logged "Readd Quiescent", mailed "Quiescent"
        assert_eq!(
            describe_in(&Change::AddDest(key, q.clone()), vs),
            "Readd Quiescent real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 0)"
        );
        let a = alert_of(&Change::AddDest(key, q), vs).unwrap();
        assert!(a.subject.starts_with("Quiescent real server: "));
        assert!(a.down);
        let a = alert_of(&Change::EditDest(key, d.clone()), vs).unwrap();
        assert_eq!(
            a.subject,
            "Restored real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)"
        );
        assert!(!a.down);
        assert!(alert_of(&Change::DelDest(key, d.key()), vs).unwrap().down);
        let fb = Dest::new(ip("127.0.0.1"), 80);
        let a = alert_of(&Change::DelDest(key, fb.key()), vs).unwrap();
        assert_eq!(
            a.subject,
            "Deleted fallback server: 127.0.0.1:80 (192.0.2.132:80)"
        );
        assert!(!a.down);
        let a = alert_of(&Change::AddDest(key, fb), vs).unwrap();
        assert!(a.subject.starts_with("Added fallback server: 127.0.0.1:80"));
        assert!(!a.down);
        let stray = Dest::new(ip("203.0.113.9"), 80);
        let a = alert_of(&Change::DelDest(key, stray.key()), vs).unwrap();
        assert!(a.subject.starts_with("Purged real server (start): "));
        assert!(!a.down);
        assert!(alert_of(&Change::DelService(key), vs).is_none());
        let up = run(&v, [Health::Up, Health::Up], &Table::default());
        let stop = alerts_stop(&key, up.services.get(&key));
        assert_eq!(stop.len(), 2);
        assert_eq!(
            stop[0].subject,
            "Purged real server (stop): 198.51.100.1:80 (192.0.2.132:80)"
        );
    }

    #[test]
    fn log_lines_use_ldirectord_words() {
        let v = vs(true, true);
        let key = v.service.key;
        let fbs = fallback_keys(std::slice::from_ref(&v));
        let d = Dest::new(ip("198.51.100.1"), 80);
        assert_eq!(
            describe(&Change::AddDest(key, d.clone()), &fbs),
            "Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)"
        );
        let fb = Dest::new(ip("127.0.0.1"), 80);
        assert_eq!(
            describe(&Change::DelDest(key, fb.key()), &fbs),
            "Deleted fallback server: 127.0.0.1:80 (192.0.2.132:80)"
        );
        let mut q = d.clone();
        q.weight = 0;
        assert_eq!(
            describe(&Change::EditDest(key, q), &fbs),
            "Quiescent real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 0)"
        );
        // a weight change of an up real: ldirectord's _restore_service says "Restored"
        let mut w = d.clone();
        w.weight = 5;
        assert_eq!(
            describe(&Change::EditDest(key, w), &fbs),
            "Restored real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 5)"
        );
        let mut f = fb.clone();
        f.forward = Forward::Masq;
        assert_eq!(
            describe(&Change::EditDest(key, f), &fbs),
            "Restored fallback server: 127.0.0.1:80 (192.0.2.132:80) (Weight set to 1)"
        );
    }
}
