//! The end of the file: names resolved, globals applied to the blocks, each block built into
//! a `VirtualService`.

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::model::{
    Alert, CheckType, Config, Fallback, FallbackSpec, GlobalFallback, Globals, Protocol, Real,
    Service, Timing, VirtualAddress, VirtualService,
};
use super::line::Parser;
use super::raw::{Block, BlockAddr, RawFallback};
use super::real::dedup_reals;
use crate::config::diag::Diagnostic;
use crate::config::ldirectord::table::dest;
use crate::ipvs::DestKey;
use crate::ipvs::Family;

impl Parser<'_> {
    fn resolve_fallback(
        &mut self,
        f: &RawFallback,
        family: Family,
        protocol: Option<&str>,
        report: bool,
    ) -> Option<FallbackSpec> {
        let Some(addr) = self.host(&f.host, family) else {
            if report {
                let v = if family == Family::V6 { "IPv6" } else { "IPv4" };
                self.error(
                    f.line,
                    format!(
                        "invalid {v} address or could not resolve for fallback server: {}",
                        f.host
                    ),
                );
            }
            return None;
        };
        let port = match &f.port {
            None => None,
            Some(p) => match self.port(p, protocol) {
                Some(n) => Some(n),
                None => {
                    if report {
                        self.error(f.line, format!("invalid port `{p}` for fallback server"));
                    }
                    return None;
                }
            },
        };
        Some(FallbackSpec {
            addr,
            port,
            method: f.method,
        })
    }

    pub(super) fn finish(&mut self) -> Config {
        let mut globals = std::mem::take(&mut self.globals);
        for (raw, family) in [
            (self.global_fallback.take(), Family::V4),
            (self.global_fallback6.take(), Family::V6),
        ] {
            let Some(raw) = raw else { continue };
            if self.host(&raw.host, family).is_none() {
                let v = if family == Family::V6 { "IPv6" } else { "IPv4" };
                self.error(
                    raw.line,
                    format!(
                        "invalid {v} address or could not resolve for fallback server: {}",
                        raw.host
                    ),
                );
                continue;
            }
            let tcp = self.resolve_fallback(&raw, family, Some("tcp"), false);
            let udp = self.resolve_fallback(&raw, family, Some("udp"), false);
            if tcp.is_none() && udp.is_none() {
                let p = raw.port.clone().unwrap_or_default();
                self.error(raw.line, format!("invalid port `{p}` for fallback server"));
                continue;
            }
            let g = GlobalFallback {
                line: raw.line,
                tcp,
                udp,
            };
            if family == Family::V4 {
                globals.fallback = Some(g);
            } else {
                globals.fallback6 = Some(g);
            }
        }

        let blocks = std::mem::take(&mut self.blocks);
        if blocks.is_empty() {
            // Valid, as in ldirectord, and dangerous: a reload to an empty or truncated file
            // removes every service the running configuration has.
            self.diags.push(Diagnostic::warning(
                std::path::Path::new(self.file),
                0,
                "no virtual service in this file: it manages no service, and a reload to it \
                 removes every virtual service of the running configuration (ldirectord does \
                 the same)",
            ));
        }
        let mut virtuals: Vec<Built> = Vec::new();
        // Where each virtual service was first defined: duplicates are found in one pass.
        let mut first_lines: HashMap<VirtualAddress, usize> = HashMap::new();
        let mut warned_missing_proto = [false, false];
        for block in blocks {
            let Some(vs) = self.build(&globals, block, &mut warned_missing_proto) else {
                continue;
            };
            if let Some(&first_line) = first_lines.get(&vs.address) {
                self.error(
                    vs.line,
                    format!(
                        "duplicate virtual server {} (first defined at line {first_line})",
                        vs.address
                    ),
                );
                continue;
            }
            first_lines.insert(vs.address, vs.line);
            virtuals.push(vs);
        }
        // A global fallback whose port name exists for one protocol only: ldirectord rejects
        // the whole file; director only minds when a service of the other protocol needs it.
        for (g, idx) in [(&globals.fallback, 0), (&globals.fallback6, 1)] {
            if let Some(g) = g {
                if (g.tcp.is_none() || g.udp.is_none()) && !warned_missing_proto[idx] {
                    let missing = if g.tcp.is_none() { "tcp" } else { "udp" };
                    self.warn(
                        g.line,
                        format!(
                            "the fallback port has no {missing} entry in /etc/services: \
                             ldirectord 1.186 rejects this line; director uses the fallback \
                             for the other protocol only"
                        ),
                    );
                }
            }
        }
        if !globals.fork {
            for vs in &virtuals {
                if let Some(line) = vs.checkinterval_line {
                    self.warn(
                        line,
                        format!(
                            "checkinterval in virtual service {} ignored when fork=no",
                            vs.address
                        ),
                    );
                }
            }
        }
        Config {
            globals,
            virtuals: virtuals.into_iter().map(|v| v.vs).collect(),
        }
    }

    /// One virtual service block: its address, the checks of its settings, its real servers
    /// and fallback, then the service with the globals' defaults filled in.
    fn build(
        &mut self,
        globals: &Globals,
        b: Block,
        warned_missing_proto: &mut [bool; 2],
    ) -> Option<Built> {
        let proto_name = proto_name(b.protocol);
        let address = self.virtual_address(&b, proto_name);
        self.check_settings(&b, address.as_ref());
        let vport = address.map(|a| a.port());
        // Real servers.
        let mut reals: Vec<Real> = Vec::new();
        for raw in &b.reals {
            self.real(raw, b.family, &mut reals);
        }
        let (reals, dups) = dedup_reals(reals);
        for (line, msg) in dups {
            self.warn(line, msg);
        }
        let (fallback, fallback_line) =
            self.block_fallback(globals, &b, proto_name, vport, warned_missing_proto);
        let address = address?;
        let checkinterval_line = b.checkinterval.map(|(l, _)| l);
        let vs = service(globals, b, address, reals, fallback);
        if let Some(line) = fallback_line {
            self.real_is_fallback(&vs, line);
        }
        Some(Built {
            line: vs.line,
            address: vs.address,
            checkinterval_line,
            vs,
        })
    }

    /// The virtual address, resolved with the block's final protocol.
    fn virtual_address(&mut self, b: &Block, proto_name: Option<&str>) -> Option<VirtualAddress> {
        match &b.addr {
            BlockAddr::Invalid => None,
            BlockAddr::Fwmark(mark) => Some(VirtualAddress::Fwmark {
                family: b.family,
                mark: *mark,
            }),
            BlockAddr::Host { host, port } => {
                let addr = self.host(host, b.family);
                let p = self.port(port, proto_name);
                match (addr, p) {
                    (Some(addr), Some(p)) => Some(VirtualAddress::Addr {
                        protocol: b.protocol,
                        addr,
                        port: p,
                    }),
                    (None, _) => {
                        let fam = if b.family == Family::V6 {
                            "IPv6"
                        } else {
                            "IPv4"
                        };
                        self.error(
                            b.line,
                            format!(
                                "invalid address for virtual service: could not resolve `{host}` \
                                 to an {fam} address"
                            ),
                        );
                        None
                    }
                    (Some(_), None) => {
                        self.error(
                            b.line,
                            format!(
                                "invalid address for virtual service: unknown port `{port}` for \
                                 {}",
                                b.protocol.name()
                            ),
                        );
                        None
                    }
                }
            }
        }
    }

    /// What ipvsadm would refuse or ignore in the block's settings: port 0 without
    /// persistence, `ops` of a non-udp service, `netmask` without persistence, a scheduler
    /// flag of another scheduler.
    fn check_settings(&mut self, b: &Block, address: Option<&VirtualAddress>) {
        if let Some(VirtualAddress::Addr { port: 0, .. }) = address {
            if b.persistent.is_none() {
                self.error(
                    b.line,
                    "port 0 is only allowed for persistent services (ipvsadm: Zero port \
                     specified for non-persistent service)",
                );
            }
        }
        if let Some((line, true)) = b.ops {
            if b.protocol != Protocol::Udp {
                self.warn(line, "ops=yes only applies to udp services; ignored");
            }
        }
        if b.netmask.is_some() && b.persistent.is_none() {
            self.warn(
                b.netmask_line,
                "netmask is only used with persistent; ignored",
            );
        }
        if let Some((flags_line, flags)) = &b.schedflags {
            for f in flags.split(',') {
                let needs = if f.starts_with("sh-") {
                    Some("sh")
                } else if f.starts_with("mh-") {
                    Some("mh")
                } else {
                    None
                };
                if let Some(sched) = needs {
                    if b.scheduler != sched {
                        self.error(
                            *flags_line,
                            format!(
                                "sched-flag `{f}` needs scheduler {sched}, not {} (ipvsadm: \
                                 incompatible scheduler flag)",
                                b.scheduler
                            ),
                        );
                    }
                }
            }
        }
    }

    /// The block's own fallback, else the global one for its family and protocol; and the
    /// line it was set at.
    fn block_fallback(
        &mut self,
        globals: &Globals,
        b: &Block,
        proto_name: Option<&str>,
        vport: Option<u16>,
        warned_missing_proto: &mut [bool; 2],
    ) -> (Option<Fallback>, Option<usize>) {
        let global_fallback = if b.family == Family::V6 {
            &globals.fallback6
        } else {
            &globals.fallback
        };
        let fallback_line = b
            .fallback
            .as_ref()
            .map(|f| f.line)
            .or_else(|| global_fallback.as_ref().map(|g| g.line));
        let fallback = if let Some(f) = &b.fallback {
            self.resolve_fallback(f, b.family, proto_name, true)
                .and_then(|s| vport.map(|vp| fallback_with_port(s, vp)))
        } else {
            match (global_fallback, b.protocol) {
                (None, _) => None,
                (Some(g), Protocol::Fwm) => {
                    self.warn(
                        b.line,
                        format!(
                            "the global fallback (line {}) does not apply to firewall-mark \
                             services (ldirectord 1.186 programs a broken one); give this block \
                             its own fallback=",
                            g.line
                        ),
                    );
                    None
                }
                (Some(g), proto) => {
                    let spec = if proto == Protocol::Udp { g.udp } else { g.tcp };
                    match spec {
                        Some(s) => vport.map(|vp| fallback_with_port(s, vp)),
                        None => {
                            let idx = usize::from(b.family == Family::V6);
                            if let Some(flag) = warned_missing_proto.get_mut(idx) {
                                *flag = true;
                            }
                            self.error(
                                g.line,
                                format!(
                                    "the fallback port has no {} entry in /etc/services, but \
                                     the virtual service at line {} needs it",
                                    proto.name(),
                                    b.line
                                ),
                            );
                            None
                        }
                    }
                }
            }
        };
        (fallback, fallback_line)
    }

    /// A real server that is also its virtual's fallback (`fallback_line`) is one kernel
    /// destination. ldirectord 1.186 takes its fallback out by address and port whenever a real
    /// server comes up, so it deletes that real each time (ref ldirectord.md 6.2, 6.3); director
    /// keeps the real while its check passes, and says so here. Not for `checktype=off`, whose
    /// reals never come up.
    fn real_is_fallback(&mut self, vs: &VirtualService, fallback_line: usize) {
        let Some(f) = vs.fallback else { return };
        if vs.checktype == CheckType::Off {
            return;
        }
        let in_kernel = dest(vs, f.addr, f.port, f.method, 1).key();
        // ldirectord looks for the fallback at its address and port as configured first.
        let configured = DestKey {
            addr: f.addr,
            port: f.port,
        };
        for r in &vs.reals {
            let k = dest(vs, r.addr, r.port, r.method, r.weight).key();
            if k != in_kernel && k != configured {
                continue;
            }
            let shown = match k.addr {
                IpAddr::V6(a) => format!("[{a}]:{}", k.port),
                IpAddr::V4(a) => format!("{a}:{}", k.port),
            };
            self.warn(
                r.line,
                format!(
                    "real server {shown} is also the fallback server of virtual service {} \
                     (line {fallback_line}): ldirectord 1.186 deletes it from the table whenever \
                     a real server of this virtual comes up (it takes the fallback out by \
                     address); director keeps it while its check passes",
                    vs.address
                ),
            );
        }
    }
}

/// A built virtual with what `finish` still needs.
struct Built {
    line: usize,
    address: VirtualAddress,
    checkinterval_line: Option<usize>,
    vs: VirtualService,
}

pub(super) fn fallback_with_port(s: FallbackSpec, vport: u16) -> Fallback {
    Fallback {
        addr: s.addr,
        port: s.port.unwrap_or(vport),
        method: s.method,
    }
}

/// `tcp`, `udp`, or none for a firewall mark: how /etc/services names the protocol.
fn proto_name(protocol: Protocol) -> Option<&'static str> {
    match protocol {
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        Protocol::Fwm => None,
    }
}

/// The virtual service of a block, the globals filling in what it does not set (ldirectord's
/// order: the block's own value, then the global one, then the default).
fn service(
    globals: &Globals,
    b: Block,
    address: VirtualAddress,
    reals: Vec<Real>,
    fallback: Option<Fallback>,
) -> VirtualService {
    let service = b
        .service
        .unwrap_or_else(|| Service::from_port(address.port()));
    let checktimeout = b
        .checktimeout
        .or(b.negotiatetimeout)
        .or(globals.checktimeout)
        .or(globals.negotiatetimeout)
        .unwrap_or(5);
    let negotiatetimeout = b
        .negotiatetimeout
        .or(b.checktimeout)
        .or(globals.negotiatetimeout)
        .or(globals.checktimeout)
        .unwrap_or(30);
    let checkinterval = match b.checkinterval {
        Some((_, n)) if globals.fork => n,
        _ => globals.checkinterval,
    };
    VirtualService {
        line: b.line,
        address,
        reals,
        fallback,
        fallbackcommand: b
            .fallbackcommand
            .or_else(|| globals.fallbackcommand.clone()),
        service,
        // checkcommand is what an external check runs, whichever line came first
        checktype: match b.checktype {
            CheckType::External { .. } => CheckType::External {
                cmd: b.checkcommand.into(),
            },
            CheckType::ExternalPerl { .. } => CheckType::ExternalPerl {
                cmd: b.checkcommand.into(),
            },
            other => other,
        },
        checkport: b.checkport,
        timing: Timing {
            checktimeout,
            negotiatetimeout,
            checkinterval,
            checkcount: b.checkcount.unwrap_or(globals.checkcount),
            failurecount: b.failurecount.unwrap_or(globals.failurecount),
        },
        request: b.request,
        receive: b.receive,
        httpmethod: b.httpmethod,
        virtualhost: b.virtualhost,
        login: b.login,
        passwd: b.passwd,
        database: b.database,
        secret: b.secret,
        load: b.load,
        scheduler: b.scheduler,
        persistent: b.persistent,
        netmask: b.netmask,
        schedflags: b.schedflags.map(|(_, f)| f),
        ops: b.ops.is_some_and(|(_, o)| o),
        quiescent: b.quiescent.unwrap_or(globals.quiescent),
        cleanstop: b.cleanstop.unwrap_or(globals.cleanstop),
        tlsverify: b.tlsverify.or(globals.tlsverify),
        alert: Alert {
            to: b.emailalert.unwrap_or_else(|| globals.emailalert.clone()),
            freq: b.emailalertfreq.unwrap_or(globals.emailalertfreq),
            status: b.emailalertstatus.unwrap_or(globals.emailalertstatus),
            from: globals.emailalertfrom.clone(),
            smtp: b.smtp.or_else(|| globals.smtp.clone()),
        },
        monitorfile: b.monitorfile,
        servicename: b.servicename,
        comment: b.comment,
        director: Default::default(),
    }
}
