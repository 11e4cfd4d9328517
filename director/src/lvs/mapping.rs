//! From a parsed ldirectord file to what the daemon runs (pure): the engine's `VirtualSpec`s,
//! one health check per real server, and the per-virtual settings the glue needs
//! (fallbackcommand, cleanstop, names).
//!
//! Check ids: every distinct check (healthcheck's `CheckSpec::identity`: the same real with
//! the same check settings) gets one `CheckId`, so a real shared by several virtuals is
//! probed once and its verdict applies everywhere. `CheckIds` keeps the id of an identity
//! across reloads, so an unchanged real keeps its health.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use healthcheck::negotiate::{Negotiate, Receive, TlsVerify};
use healthcheck::spec::{self as hc, host_string, CheckSpec, VirtualId};

use super::engine::{CheckId, RealSpec, VirtualSpec};
use super::monitor::Monitor;
use crate::config::ldirectord::{
    self as ld, configured_dest, service_config, CheckType, Config, VirtualAddress, VirtualService,
};
use crate::config::Diagnostic;

/// One real server of one virtual service: the health-check runner's key, shown in logs as
/// ldirectord shows it (`<R> (<VID>)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealKey {
    pub virtual_address: VirtualAddress,
    /// The real as configured (port 0 if omitted).
    pub real: SocketAddr,
}

impl RealKey {
    /// The real server as log lines name it (`ADDR:PORT`).
    pub fn real_name(&self) -> String {
        format!("{}:{}", host_string(self.real.ip()), self.real.port())
    }
}

impl fmt::Display for RealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} ({})",
            host_string(self.real.ip()),
            self.real.port(),
            self.virtual_address
        )
    }
}

/// What makes two checks the same check ([`CheckSpec::identity`]), held cheaply: the part
/// every real of a virtual service with the same request shares, once, and the real's own
/// address and check port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    common: Common,
    real: SocketAddr,
    checkport: u16,
}

/// The shared part of an [`Identity`] with its hash worked out once: a map of 40,000
/// identities then hashes a number per real instead of the few hundred bytes of the check's
/// parameters (most of the time of mapping a big file), and two identities of one virtual
/// service compare by pointer.
#[derive(Debug, Clone)]
struct Common {
    text: Arc<str>,
    hash: u64,
}

impl Common {
    fn new(text: String) -> Common {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        h.write(text.as_bytes());
        Common {
            hash: h.finish(),
            text: text.into(),
        }
    }
}

impl PartialEq for Common {
    fn eq(&self, other: &Common) -> bool {
        Arc::ptr_eq(&self.text, &other.text) || (self.hash == other.hash && self.text == other.text)
    }
}

impl Eq for Common {}

impl std::hash::Hash for Common {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Stable ids for check identities (kept by the daemon across reloads).
#[derive(Debug, Default, Clone)]
pub struct CheckIds {
    ids: HashMap<Identity, CheckId>,
    next: CheckId,
}

impl CheckIds {
    fn id(&mut self, identity: &Identity) -> CheckId {
        if let Some(id) = self.ids.get(identity) {
            return *id;
        }
        let id = self.next;
        self.next += 1;
        self.ids.insert(identity.clone(), id);
        id
    }

    /// Forget identities that are no longer used.
    fn retain(&mut self, used: &HashSet<Identity>) {
        self.ids.retain(|k, _| used.contains(k));
    }
}

/// Why a real server will never pass its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCheck {
    /// `checktype=off`: never brought up (ldirectord's meaning).
    Off,
    /// The check cannot run (a missing login, a bad regular expression, ...): logged, down.
    Invalid(String),
}

/// A real server with its check.
#[derive(Debug, Clone)]
pub struct RealEntry {
    pub key: RealKey,
    pub check: CheckId,
    /// `None` when the real has no runnable check (`no_check` says why).
    pub spec: Option<CheckSpec>,
    pub no_check: Option<NoCheck>,
    /// Where its check results are written (the virtual's `monitorfile`).
    pub monitor: Option<Monitor>,
}

/// Per-virtual settings beyond the table.
#[derive(Debug, Clone)]
pub struct VirtualExtra {
    pub address: VirtualAddress,
    pub fallbackcommand: Option<String>,
    pub cleanstop: bool,
    pub scheduler: String,
    /// `director.conf`'s `quorum_up` / `quorum_down` commands.
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    /// The reals in file order (duplicates merged).
    pub reals: Vec<RealEntry>,
}

/// Everything the daemon runs for one file.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub virtuals: Vec<VirtualSpec>,
    /// Parallel to `virtuals`.
    pub extras: Vec<VirtualExtra>,
    /// Problems that do not stop the file from loading (each concerned real stays down).
    pub warnings: Vec<Diagnostic>,
}

impl Mapped {
    /// Every (key, spec) the health-check runner takes.
    pub fn checks(&self) -> Vec<(RealKey, CheckSpec)> {
        self.extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .filter_map(|r| r.spec.clone().map(|s| (r.key, s)))
            .collect()
    }

    /// Checks that never run (their reals are down for good).
    pub fn never_up(&self) -> BTreeSet<CheckId> {
        self.extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .filter(|r| r.spec.is_none())
            .map(|r| r.check)
            .collect()
    }

    /// The check id of a runner key.
    pub fn check_of(&self) -> HashMap<RealKey, CheckId> {
        self.extras
            .iter()
            .flat_map(|x| x.reals.iter())
            .map(|r| (r.key, r.check))
            .collect()
    }
}

/// Map a parsed file. `file` names it in warnings; `ids` gives stable check ids.
pub fn map(config: &Config, file: &str, ids: &mut CheckIds) -> Mapped {
    let mut virtuals = Vec::with_capacity(config.virtuals.len());
    let mut extras = Vec::with_capacity(config.virtuals.len());
    let mut warnings = Vec::new();
    let mut used = HashSet::with_capacity(config.virtuals.iter().map(|v| v.reals.len()).sum());
    let mut shared = Shared::default();
    for vs in &config.virtuals {
        shared.negotiates.clear();
        shared.commons.clear();
        let mut reals = Vec::with_capacity(vs.reals.len());
        let mut real_specs = Vec::with_capacity(vs.reals.len());
        let mut seen = HashSet::with_capacity(vs.reals.len());
        for r in &vs.reals {
            let key = RealKey {
                virtual_address: vs.address,
                real: SocketAddr::new(r.addr, r.port),
            };
            let mut dest = configured_dest(vs, r.addr, r.port, r.method, r.weight);
            dest.u_threshold = r.upper;
            dest.l_threshold = r.lower;
            if !seen.insert(key) {
                continue;
            }
            let (spec, no_check, identity) = match check_spec(vs, r, &mut shared) {
                Ok(Some(spec)) => {
                    let id = shared.identity(&spec);
                    (Some(spec), None, id)
                }
                Ok(None) => {
                    let id = Identity {
                        common: Common::new(format!("off|{}", key.virtual_address)),
                        real: key.real,
                        checkport: 0,
                    };
                    (None, Some(NoCheck::Off), id)
                }
                Err(why) => {
                    warnings.push(Diagnostic::warning(
                        std::path::Path::new(file),
                        r.line,
                        format!("real server {key} will stay down: {why}"),
                    ));
                    let id = Identity {
                        common: Common::new(format!("invalid|{}", key.virtual_address)),
                        real: key.real,
                        checkport: 0,
                    };
                    (None, Some(NoCheck::Invalid(why)), id)
                }
            };
            let check = ids.id(&identity);
            used.insert(identity);
            real_specs.push(RealSpec { dest, check });
            reals.push(RealEntry {
                key,
                check,
                spec,
                no_check,
                monitor: Monitor::of(vs, r),
            });
        }
        let fallback = vs
            .fallback
            .map(|f| configured_dest(vs, f.addr, f.port, f.method, 1));
        virtuals.push(VirtualSpec {
            service: service_config(vs).service,
            reals: real_specs,
            fallback,
            quiescent: vs.quiescent,
            readdquiescent: config.globals.readdquiescent,
            quorum: vs.director.quorum,
        });
        extras.push(VirtualExtra {
            address: vs.address,
            fallbackcommand: vs.fallbackcommand.clone(),
            cleanstop: vs.cleanstop,
            scheduler: vs.scheduler.clone(),
            quorum_up: vs.director.quorum_up.clone(),
            quorum_down: vs.director.quorum_down.clone(),
            reals,
        });
    }
    ids.retain(&used);
    Mapped {
        virtuals,
        extras,
        warnings,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// How a TLS check treats certificates: `tlsverify=`, else ldirectord's way (its HTTPS check
/// verifies the chain but not the name; its other TLS checks verify nothing).
fn tls_verify(set: Option<TlsVerify>, service: hc::Service) -> TlsVerify {
    match set {
        Some(t) => t,
        None if service == hc::Service::Https => TlsVerify::Chain,
        None => TlsVerify::None,
    }
}

/// What the checks of a file share instead of holding a copy each: a `receive=` pattern is
/// compiled once per file, and the reals of a virtual service with the same request and
/// pattern share one [`Negotiate`] (40,000 reals with one pattern compiled 40,000 regexes,
/// 100 MB and most of the time of reading the file).
#[derive(Default)]
pub struct Shared {
    receives: HashMap<String, Receive>,
    /// Of the virtual service being mapped, by (request, receive).
    negotiates: HashMap<(String, String), Arc<Negotiate>>,
    /// Of the virtual service being mapped: the identity of its checks but for the real's
    /// address and check port, by the [`Negotiate`] they share.
    commons: HashMap<*const Negotiate, Common>,
}

impl Shared {
    /// The check's [`Identity`]: [`CheckSpec::identity`] of the spec with the real's address
    /// and check port left out, made once per shared [`Negotiate`] of the virtual service
    /// (an external check's arguments and further checks name the real: its whole identity
    /// each time).
    fn identity(&mut self, spec: &CheckSpec) -> Identity {
        // An external check's arguments and a further check (`also`) name the real.
        if !spec.also.is_empty()
            || matches!(
                spec.checktype,
                CheckType::External { .. } | CheckType::ExternalPerl { .. }
            )
        {
            return Identity {
                common: Common::new(spec.identity()),
                real: spec.real,
                checkport: spec.checkport,
            };
        }
        let common = self
            .commons
            .entry(Arc::as_ptr(&spec.negotiate))
            .or_insert_with(|| {
                let mut template = spec.clone();
                template.real = SocketAddr::from(([0, 0, 0, 0], 0));
                template.checkport = 0;
                Common::new(template.identity())
            })
            .clone();
        Identity {
            common,
            real: spec.real,
            checkport: spec.checkport,
        }
    }
}

/// The health check of one real; `Ok(None)` for `checktype=off`. `shared` keeps what the
/// checks share (see [`Shared`]); its negotiates are those of `vs`.
pub fn check_spec(
    vs: &VirtualService,
    real: &ld::Real,
    shared: &mut Shared,
) -> Result<Option<CheckSpec>, String> {
    let virtual_id = match vs.address {
        VirtualAddress::Addr { addr, port, .. } => VirtualId::Addr(SocketAddr::new(addr, port)),
        VirtualAddress::Fwmark { mark, .. } => VirtualId::Fwmark(mark),
    };
    let mut spec = CheckSpec::new(SocketAddr::new(real.addr, real.port), virtual_id);
    if vs.checktype == CheckType::Off {
        return Ok(None);
    }
    spec.checktype = vs.checktype.clone();
    spec.service = vs.service;
    spec.protocol = vs.address.protocol();
    spec.checkport = vs.checkport_for(real).unwrap_or(0);
    let (request, receive) = vs.request_for(real);
    let key = (request.to_string(), receive.to_string());
    spec.negotiate = match shared.negotiates.get(&key) {
        Some(n) => Arc::clone(n),
        None => {
            let receive = match receive {
                "" => None,
                r => Some(match shared.receives.get(r) {
                    Some(compiled) => compiled.clone(),
                    None => {
                        let compiled = Receive::compile(r).map_err(|e| {
                            format!(
                                "receive \"{r}\" is not a regular expression director can use: {e}"
                            )
                        })?;
                        shared.receives.insert(r.to_string(), compiled.clone());
                        compiled
                    }
                }),
            };
            let n = Arc::new(Negotiate {
                request: non_empty(request),
                receive,
                virtualhost: vs.virtualhost.clone(),
                http_method: vs.httpmethod,
                login: non_empty(&vs.login),
                passwd: non_empty(&vs.passwd),
                database: non_empty(&vs.database),
                secret: non_empty(&vs.secret),
                tls_verify: tls_verify(vs.tlsverify, spec.service),
                pages: vs.director.pages.clone(),
            });
            shared.negotiates.insert(key, Arc::clone(&n));
            n
        }
    };
    let t = vs.timing;
    spec.checkinterval = Duration::from_secs(u64::from(t.checkinterval));
    spec.checktimeout = Duration::from_secs(u64::from(t.checktimeout));
    spec.negotiatetimeout = Duration::from_secs(u64::from(t.negotiatetimeout));
    spec.checkcount = t.checkcount;
    spec.failurecount = t.failurecount;
    spec.validate().map_err(|errors| joined(&errors))?;
    let also = vs
        .director
        .checks
        .iter()
        .map(|x| further_check(&spec, vs, real, x).map(std::sync::Arc::new))
        .collect::<Result<Vec<_>, String>>()?;
    spec.also = also;
    Ok(Some(spec))
}

fn joined(errors: &[hc::SpecError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A further check of `real` (`director.conf`'s `[[service.check]]`): the file's check with
/// what the table sets instead.
fn further_check(
    main: &CheckSpec,
    vs: &VirtualService,
    real: &ld::Real,
    x: &failover::config::settings::ExtraCheck,
) -> Result<CheckSpec, String> {
    let mut spec = main.clone();
    spec.checktype = x.checktype.clone();
    if let Some(service) = x.service {
        spec.service = service;
    }
    spec.checkport = hc::checkport(x.port.or(vs.checkport), real.port, spec.service).unwrap_or(0);
    let receive = match x.receive.as_deref() {
        None | Some("") => None,
        Some(r) => Some(Receive::compile(r).map_err(|e| {
            format!("receive \"{r}\" of a further check is not a regular expression: {e}")
        })?),
    };
    spec.negotiate = std::sync::Arc::new(Negotiate {
        request: x.request.clone(),
        receive,
        pages: x.pages.clone(),
        tls_verify: tls_verify(vs.tlsverify, spec.service),
        ..(*main.negotiate).clone()
    });
    if let Some(t) = x.timeout {
        spec.checktimeout = t;
        spec.negotiatetimeout = t;
    }
    spec.validate()
        .map_err(|errors| format!("a further check: {}", joined(&errors)))?;
    Ok(spec)
}

/// ldirectord's `<vip>:<vport> <protocol>` arguments of `fallbackcommand` (a firewall-mark
/// virtual has no address: `:0 fwm`).
pub fn fallbackcommand_args(address: &VirtualAddress) -> String {
    match address {
        VirtualAddress::Addr {
            protocol,
            addr,
            port,
        } => format!("{}:{port} {}", host_string(*addr), protocol.name()),
        VirtualAddress::Fwmark { .. } => ":0 fwm".to_string(),
    }
}

/// `ip:port` of a real as configured, as status shows it.
pub fn real_name(addr: IpAddr, port: u16) -> String {
    format!("{}:{port}", host_string(addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ldirectord::parse;
    use crate::config::{Services, StaticResolver};

    fn load(text: &str) -> Config {
        let r = StaticResolver::new(Services::default()).with_hostname("director1");
        parse(text, "t.cf", &r).expect("parses").0
    }

    const TWO: &str = "\
checkinterval=2
checktimeout=1
quiescent=yes
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\treal=198.51.100.2:80 gate 3
\tfallback=127.0.0.1:80 gate
\tservice=http
\trequest=\"index.html\"
\treceive=\"Test Page\"
\tscheduler=rr

virtual=192.0.2.133:80
\treal=198.51.100.1:80 gate
\tservice=http
\trequest=\"index.html\"
\treceive=\"Test Page\"
\tscheduler=rr
\tcleanstop=no
";

    #[test]
    fn maps_virtuals_reals_fallback_and_settings() {
        let mut ids = CheckIds::default();
        let m = map(&load(TWO), "t.cf", &mut ids);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(m.virtuals.len(), 2);
        let v = &m.virtuals[0];
        assert_eq!(v.service.scheduler, "rr");
        assert!(v.quiescent);
        assert_eq!(v.reals.len(), 2);
        assert_eq!(v.reals[1].dest.weight, 3);
        assert_eq!(
            v.fallback.as_ref().map(|f| f.addr.to_string()),
            Some("127.0.0.1".into())
        );
        assert!(m.extras[0].cleanstop);
        assert!(!m.extras[1].cleanstop);
        let checks = m.checks();
        assert_eq!(checks.len(), 3);
        let (key, spec) = &checks[0];
        assert_eq!(key.to_string(), "198.51.100.1:80 (tcp:192.0.2.132:80)");
        assert_eq!(spec.checkinterval, Duration::from_secs(2));
        assert_eq!(spec.checktimeout, Duration::from_secs(1));
        assert_eq!(spec.negotiate.request.as_deref(), Some("/index.html"));
        assert_eq!(
            spec.negotiate.receive.as_ref().map(|r| r.as_str()),
            Some("Test Page")
        );
    }

    #[test]
    fn a_shared_real_is_one_check_and_ids_survive_reload() {
        let mut ids = CheckIds::default();
        let m = map(&load(TWO), "t.cf", &mut ids);
        let shared_a = m.virtuals[0].reals[0].check;
        let shared_b = m.virtuals[1].reals[0].check;
        let other = m.virtuals[0].reals[1].check;
        assert_eq!(shared_a, shared_b);
        assert_ne!(shared_a, other);
        // Reload with the second real's receive changed: it gets a new id, the shared one
        // keeps its id.
        let changed = TWO.replacen(
            "\treal=198.51.100.2:80 gate 3\n",
            "\treal=198.51.100.2:80 gate 3 \".\" \"Other\"\n",
            1,
        );
        let m2 = map(&load(&changed), "t.cf", &mut ids);
        assert_eq!(m2.virtuals[0].reals[0].check, shared_a);
        assert_ne!(m2.virtuals[0].reals[1].check, other);
        // And back again: the identity that disappeared was forgotten, a fresh id is given.
        let m3 = map(&load(TWO), "t.cf", &mut ids);
        assert_eq!(m3.virtuals[0].reals[0].check, shared_a);
        assert_ne!(m3.virtuals[0].reals[1].check, other);
    }

    #[test]
    fn director_conf_adds_pages_quorum_and_further_checks() {
        use failover::config::settings::{ExtraCheck, Quorum, ServiceExtra};
        let mut config = load(TWO);
        config.virtuals[0].director = ServiceExtra {
            pages: vec![healthcheck::page::Page::new("/health")],
            quorum: Some(Quorum {
                quorum: 2,
                hysteresis: 1,
            }),
            checks: vec![ExtraCheck {
                checktype: CheckType::Connect,
                service: None,
                port: Some(8080),
                request: None,
                receive: None,
                pages: Vec::new(),
                timeout: Some(Duration::from_secs(2)),
            }],
            ..Default::default()
        };
        let mut ids = CheckIds::default();
        let m = map(&config, "t.cf", &mut ids);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(m.virtuals[0].quorum.map(|q| q.quorum), Some(2));
        assert_eq!(m.virtuals[1].quorum, None);
        let spec = m.extras[0].reals[0].spec.as_ref().unwrap();
        assert_eq!(spec.negotiate.pages[0].path, "/health");
        assert_eq!(spec.also.len(), 1);
        let further = &spec.also[0];
        assert_eq!(further.checktype, CheckType::Connect);
        assert_eq!(further.check_addr().to_string(), "198.51.100.1:8080");
        assert_eq!(further.checktimeout, Duration::from_secs(2));
        // A check with further checks is another check than the same real's without them.
        let shared = m.extras[1].reals[0].check;
        assert_ne!(m.extras[0].reals[0].check, shared);
    }

    /// `[service.tunnel]` gives the service's ipip reals (and an ipip fallback) its
    /// encapsulation; gate and masq reals, and other services, keep theirs.
    #[test]
    fn director_conf_tunnel_reaches_the_ipip_dests() {
        use crate::ipvs::{tun_flags, Dest, Forward, TunnelType};
        use failover::config::settings::{Checksum, ServiceExtra, Tunnel};
        let text = "\
virtual=192.0.2.132:80
\treal=198.51.100.1:8080 ipip
\treal=198.51.100.2:80 gate
\tfallback=198.51.100.9:80 ipip
virtual=192.0.2.133:80
\treal=198.51.100.1:80 ipip
";
        let mut config = load(text);
        config.virtuals[0].director = ServiceExtra {
            tunnel: Some(Tunnel::Gue {
                port: 5555,
                checksum: Checksum::Csum,
            }),
            ..Default::default()
        };
        let m = map(&config, "t.cf", &mut CheckIds::default());
        let tun = |d: &Dest| (d.forward, d.tun_type, d.tun_port, d.tun_flags);
        let gue = (
            Forward::Tunnel,
            TunnelType::Gue,
            5555,
            tun_flags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
        );
        assert_eq!(tun(&m.virtuals[0].reals[0].dest), gue);
        assert_eq!(
            m.virtuals[0].reals[0].dest.port, 8080,
            "the port as configured"
        );
        assert_eq!(
            tun(&m.virtuals[0].reals[1].dest),
            (Forward::Route, TunnelType::Ipip, 0, 0)
        );
        assert_eq!(tun(m.virtuals[0].fallback.as_ref().unwrap()), gue);
        assert_eq!(
            tun(&m.virtuals[1].reals[0].dest),
            (Forward::Tunnel, TunnelType::Ipip, 0, 0)
        );
        // The all-up table (`director check --print-ipvs`) holds the same.
        let table = crate::config::ldirectord::desired_table(&config);
        let sc = table.services.values().next().unwrap();
        assert!(sc.dests.values().any(|d| tun(d) == gue && d.port == 80));
    }

    #[test]
    fn checktype_off_and_unusable_checks_never_run() {
        let text = "\
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\tchecktype=off
virtual=192.0.2.133:3306
\treal=198.51.100.2:3306 gate
\tservice=mysql
";
        let mut ids = CheckIds::default();
        let m = map(&load(text), "t.cf", &mut ids);
        assert!(m.checks().is_empty());
        assert_eq!(m.never_up().len(), 2);
        assert_eq!(m.extras[0].reals[0].no_check, Some(NoCheck::Off));
        assert!(matches!(
            m.extras[1].reals[0].no_check,
            Some(NoCheck::Invalid(_))
        ));
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0]
            .to_string()
            .starts_with("t.cf:5: warning: real server 198.51.100.2:3306"));
    }

    #[test]
    fn tlsverify_sets_how_tls_checks_treat_certificates() {
        let text = "\
tlsverify=no
virtual=192.0.2.132:443
\treal=198.51.100.1:443 gate
\tservice=https
virtual=192.0.2.132:8443
\treal=198.51.100.1:8443 gate
\tservice=https
\ttlsverify=yes
virtual=192.0.2.132:995
\treal=198.51.100.1:995 gate
\tservice=pops
\ttlsverify=chain
";
        let mut ids = CheckIds::default();
        let m = map(&load(text), "t.cf", &mut ids);
        let verify = |i: usize| {
            m.extras[i].reals[0]
                .spec
                .as_ref()
                .unwrap()
                .negotiate
                .tls_verify
        };
        assert_eq!(verify(0), TlsVerify::None, "global tlsverify=no");
        assert_eq!(verify(1), TlsVerify::Full, "the virtual's yes wins");
        assert_eq!(verify(2), TlsVerify::Chain);
        // Unset: ldirectord's behaviour per service.
        let m = map(
            &load("virtual=192.0.2.132:443\n\treal=198.51.100.1:443 gate\n\tservice=https\nvirtual=192.0.2.132:995\n\treal=198.51.100.1:995 gate\n\tservice=pops\n"),
            "t.cf",
            &mut ids,
        );
        assert_eq!(
            m.extras[0].reals[0]
                .spec
                .as_ref()
                .unwrap()
                .negotiate
                .tls_verify,
            TlsVerify::Chain
        );
        assert_eq!(
            m.extras[1].reals[0]
                .spec
                .as_ref()
                .unwrap()
                .negotiate
                .tls_verify,
            TlsVerify::None
        );
    }

    #[test]
    fn perl_receive_patterns_map_to_fancy_regex() {
        let text = "\
virtual=192.0.2.132:9000
\treal=198.51.100.1:9000 gate
\tservice=simpletcp
\trequest=\"PING\"
\treceive=\"^(\\w+) \\1$\"
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\tservice=http
\treceive=\"OK(?!.*degraded)\"
virtual=192.0.2.132:81
\treal=198.51.100.1:81 gate
\tservice=http
\treceive=\"Test Page\"
";
        let mut ids = CheckIds::default();
        let m = map(&load(text), "t.cf", &mut ids);
        let tcp = m.extras[0].reals[0].spec.as_ref().unwrap();
        assert!(matches!(tcp.negotiate.receive, Some(Receive::Perl(_))));
        assert!(tcp.negotiate.receive_matches("pong pong"));
        assert!(!tcp.negotiate.receive_matches("pong ping"));
        let perl_http = m.extras[1].reals[0].spec.as_ref().unwrap();
        assert!(matches!(
            perl_http.negotiate.receive,
            Some(Receive::Perl(_))
        ));
        assert!(perl_http.negotiate.receive_matches("OK, all well"));
        assert!(!perl_http.negotiate.receive_matches("OK, degraded"));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let http = m.extras[2].reals[0].spec.as_ref().unwrap();
        assert_eq!(
            http.negotiate.receive.as_ref().map(|r| r.as_str()),
            Some("Test Page")
        );
    }

    #[test]
    fn duplicate_reals_merge_and_fallbackcommand_args() {
        let text = "\
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\treal=198.51.100.1:80 gate
virtual=7
\treal=198.51.100.1:80 gate
";
        let mut ids = CheckIds::default();
        let m = map(&load(text), "t.cf", &mut ids);
        assert_eq!(m.virtuals[0].reals.len(), 1);
        assert_eq!(
            fallbackcommand_args(&m.extras[0].address),
            "192.0.2.132:80 tcp"
        );
        assert_eq!(fallbackcommand_args(&m.extras[1].address), ":0 fwm");
    }
}
