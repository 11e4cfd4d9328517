//! Tests of the ldirectord reader: every directive, every quirk, error collection, the
//! desired table. Names resolve through a `StaticResolver`, so nothing here touches the
//! network or the host's files (except `configs_parse`, which reads configs/).

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::config::diag::{Diagnostic, Severity};
use crate::config::resolve::{Services, StaticResolver};
use crate::ipvs::{self, flags, Family, Forward, ServiceKey};

const SERVICES: &str = "\
ftp\t\t21/tcp
smtp\t\t25/tcp\t\tmail
domain\t\t53/tcp
domain\t\t53/udp
http\t\t80/tcp\t\twww
https\t\t443/tcp
https\t\t443/udp
mysql\t\t3306/tcp
ntp\t\t123/udp
http-alt\t8080/tcp\twebcache
";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn resolver() -> StaticResolver {
    StaticResolver::new(Services::parse(SERVICES))
        .with_host("lb.example.com", ip("192.0.2.10"))
        .with_host("lb.example.com", ip("2001:db8::10"))
        .with_host("web1", ip("198.51.100.1"))
        .with_host("web3", ip("198.51.100.3"))
        .with_host("sorry", ip("192.0.2.200"))
        .with_hostname("lvs1")
}

fn ok(text: &str) -> (Config, Vec<Diagnostic>) {
    match parse(text, "t.cf", &resolver()) {
        Ok(r) => r,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

/// Parses without warnings (short test files may end on a bare `virtual=` line, or hold no
/// virtual at all; those warnings have their own tests).
fn ok_clean(text: &str) -> Config {
    let (c, mut w) = ok(text);
    w.retain(|d| !d.message.contains("reads it twice") && !no_virtual(d));
    assert!(w.is_empty(), "unexpected warnings: {w:?}");
    c
}

/// The warning about a file without any virtual service.
fn no_virtual(d: &Diagnostic) -> bool {
    d.severity == Severity::Warning
        && d.line == 0
        && d.message.starts_with("no virtual service in this file")
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text, "t.cf", &resolver()) {
        Ok((c, w)) => panic!("expected errors, got {c:?} {w:?}"),
        Err(e) => e.diagnostics.into_iter().filter(|d| d.is_error()).collect(),
    }
}

/// The single error of a file: (line, message).
fn one_error(text: &str) -> (usize, String) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    (e[0].line, e[0].message.clone())
}

fn warned(w: &[Diagnostic], line: usize, needle: &str) -> bool {
    w.iter()
        .any(|d| d.severity == Severity::Warning && d.line == line && d.message.contains(needle))
}

fn vs(c: &Config) -> &VirtualService {
    c.virtuals.first().expect("one virtual")
}

/// The seed's `www.cf` as ldirectord reads it (indented, plain quotes).
const SEED_WWW: &str = "\
virtual=192.0.2.132:80 #vip
        real=192.0.2.250:80 gate #R机
        fallback=127.0.0.1:80 gate
        service=http
        request=\"index.php\"
        receive=\"Test Page\"
        #virtualhost=some.domain.com.au
        scheduler=rr
        #persistent=600
        #netmask=255.255.255.255
        protocol=tcp
        checktype=negotiate
        checkport=80
        #request=\"index.php\"
        #receive=\"Test Page\"
        #virtualhost=www.x.y.z
";

/// The seed's `www.cf` exactly as the blog prints it: no indentation, typographic quotes.
const SEED_WWW_LITERAL: &str = "\
virtual=192.0.2.132:80 #vip
real=192.0.2.250:80 gate #R机
fallback=127.0.0.1:80 gate
service=http
request=\u{201d}index.php\u{201d}
receive=\u{201d}Test Page\u{201d}
#virtualhost=some.domain.com.au
scheduler=rr
#persistent=600
#netmask=255.255.255.255
protocol=tcp
checktype=negotiate
checkport=80
#request=\u{201d}index.php\u{201d}
#receive=\u{201d}Test Page\u{201d}
#virtualhost=www.x.y.z
";

// ------------------------------------------------------------------ the seed

#[test]
fn seed_www_cf() {
    let c = ok_clean(SEED_WWW);
    assert_eq!(c.virtuals.len(), 1);
    let v = vs(&c);
    assert_eq!(v.line, 1);
    assert_eq!(
        v.address,
        VirtualAddress::Addr {
            protocol: Protocol::Tcp,
            addr: ip("192.0.2.132"),
            port: 80
        }
    );
    assert_eq!(v.reals.len(), 1);
    let r = &v.reals[0];
    assert_eq!(
        (r.addr, r.port, r.method, r.weight),
        (ip("192.0.2.250"), 80, Method::Gate, 1)
    );
    assert_eq!(r.line, 2);
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: ip("127.0.0.1"),
            port: 80,
            method: Method::Gate
        })
    );
    assert_eq!(v.service, Service::Http);
    assert_eq!(v.request, "/index.php");
    assert_eq!(v.receive, "Test Page");
    assert_eq!(v.virtualhost, None);
    assert_eq!(v.scheduler, "rr");
    assert_eq!(v.persistent, None);
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!(v.checkport, Some(80));
    assert_eq!(
        v.timing,
        Timing {
            checktimeout: 5,
            negotiatetimeout: 30,
            checkinterval: 10,
            checkcount: 1,
            failurecount: 1
        }
    );
    assert!(!v.quiescent);
    assert!(v.cleanstop);
}

#[test]
fn seed_www_cf_desired_table() {
    let c = ok_clean(SEED_WWW);
    let t = desired_table(&c);
    assert_eq!(t.services.len(), 1);
    let key = ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: ip("192.0.2.132"),
        port: 80,
    };
    let sc = &t.services[&key];
    assert_eq!(sc.service.scheduler, "rr");
    assert_eq!(sc.service.flags, 0);
    assert_eq!(sc.service.netmask, 0xffff_ffff);
    assert_eq!(sc.dests.len(), 1, "no fallback while the real is up");
    let d = sc.dests.values().next().unwrap();
    assert_eq!(
        (d.addr, d.port, d.forward, d.weight),
        (ip("192.0.2.250"), 80, Forward::Route, 1)
    );
}

#[test]
fn seed_literal_is_read_with_warnings() {
    let (c, w) = ok(SEED_WWW_LITERAL);
    // The fallback is at column 0, so it is the global one; the rest belongs to the block.
    let fixed = ok_clean(SEED_WWW);
    assert_eq!(c.virtuals, fixed.virtuals);
    assert!(c.globals.fallback.is_some());
    assert!(warned(&w, 2, "not indented"));
    assert!(warned(&w, 5, "typographic quotes"));
    assert!(warned(&w, 4, "not indented"));
    assert!(w.iter().all(|d| d.severity == Severity::Warning));
}

// ------------------------------------------------------------------ globals

#[test]
fn global_defaults() {
    let c = ok_clean("");
    let g = &c.globals;
    assert_eq!(g, &Globals::default());
    assert_eq!(g.checktimeout, None);
    assert_eq!(g.negotiatetimeout, None);
    assert_eq!(g.checkinterval, 10);
    assert_eq!(g.checkcount, 1);
    assert_eq!(g.failurecount, 1);
    assert!(!g.autoreload && !g.fork && !g.supervised && !g.quiescent && !g.readdquiescent);
    assert!(g.cleanstop);
    assert_eq!(g.logfile, LogTarget::File("/var/log/ldirectord.log".into()));
    assert_eq!(g.emailalertstatus, AlertStatus::ALL);
    assert_eq!(g.emailalertfreq, 0);
    assert!(c.virtuals.is_empty());
}

#[test]
fn every_global_directive() {
    let text = "\
checktimeout=3
negotiatetimeout = 20
checkinterval=7
failurecount=3
fallback=127.0.0.1:http-alt masq
fallback6=[::1]
fallbackcommand=\"/usr/local/bin/sorry.sh\"
autoreload=yes
callback=\"/usr/local/bin/changed\"
logfile=\"local0\"
execute=ftp.cf
execute=mail.cf
fork=yes
supervised=no
quiescent=yes
readdquiescent=yes
emailalert=\"ops@example.com, noc@example.com\"
emailalertfreq=3600
emailalertstatus=starting, running
emailalertfrom=lvs@example.com
cleanstop=no
smtp=mail.example.com
maintenancedir=/etc/ha.d/maintenance
";
    let (c, w) = ok(text);
    assert!(warned(&w, 5, "no udp entry"));
    assert!(w.iter().any(no_virtual), "{w:#?}");
    assert_eq!(w.len(), 2, "{w:#?}");
    let g = &c.globals;
    assert_eq!(g.checktimeout, Some(3));
    assert_eq!(g.negotiatetimeout, Some(20));
    assert_eq!(g.checkinterval, 7);
    assert_eq!(g.failurecount, 3);
    let fb = g.fallback.as_ref().unwrap();
    assert_eq!(fb.line, 5);
    assert_eq!(
        fb.tcp,
        Some(FallbackSpec {
            addr: ip("127.0.0.1"),
            port: Some(8080),
            method: Method::Masq
        })
    );
    // http-alt has no udp entry: the udp fallback is missing (and nobody needs it here).
    assert_eq!(fb.udp, None);
    let fb6 = g.fallback6.as_ref().unwrap();
    assert_eq!(
        fb6.tcp,
        Some(FallbackSpec {
            addr: ip("::1"),
            port: None,
            method: Method::Gate
        })
    );
    assert_eq!(
        g.fallbackcommand.as_deref(),
        Some("\"/usr/local/bin/sorry.sh\"")
    );
    assert!(g.autoreload);
    assert_eq!(g.callback.as_deref(), Some("/usr/local/bin/changed"));
    assert_eq!(g.logfile, LogTarget::Syslog("local0".into()));
    assert_eq!(g.execute, vec!["ftp.cf".to_string(), "mail.cf".to_string()]);
    assert!(g.fork);
    assert!(!g.supervised);
    assert!(g.quiescent);
    assert!(g.readdquiescent);
    assert_eq!(
        g.emailalert,
        vec!["ops@example.com".to_string(), "noc@example.com".to_string()]
    );
    assert_eq!(g.emailalertfreq, 3600);
    assert_eq!(
        g.emailalertstatus,
        AlertStatus {
            starting: true,
            running: true,
            stopping: false,
            reloading: false
        }
    );
    assert_eq!(g.emailalertfrom.as_deref(), Some("lvs@example.com"));
    assert!(!g.cleanstop);
    assert_eq!(g.smtp.as_deref(), Some("mail.example.com"));
    assert_eq!(
        g.maintenancedir.as_deref(),
        Some(std::path::Path::new("/etc/ha.d/maintenance"))
    );
}

#[test]
fn global_value_rules() {
    // First digit run; junk around it is a warning, not an error.
    let (c, w) = ok("checktimeout=3s\ncheckinterval= 15 # seconds\n");
    assert_eq!(c.globals.checktimeout, Some(3));
    assert_eq!(c.globals.checkinterval, 15);
    assert!(warned(&w, 1, "read as 3"));
    assert!(
        !w.iter().any(|d| d.line == 2),
        "numbers ignore a trailing comment: {w:?}"
    );
    // logfile path, bare supervised, checkcount deprecation, emailalertstatus none.
    let (c, w) =
        ok("logfile=\"/var/log/lvs.log\"\nsupervised\ncheckcount=3\nemailalertstatus=none\n");
    assert_eq!(
        c.globals.logfile,
        LogTarget::File("/var/log/lvs.log".into())
    );
    assert!(c.globals.supervised);
    assert_eq!(c.globals.checkcount, 3);
    assert_eq!(c.globals.emailalertstatus, AlertStatus::NONE);
    assert!(warned(&w, 2, "bare supervised"));
    assert!(warned(&w, 3, "deprecated"));
    // emailalertfreq 0 is allowed; smtp keeps the host part.
    let c = ok_clean("emailalertfreq=0\nsmtp=relay.example.com:25\n");
    assert_eq!(c.globals.emailalertfreq, 0);
    assert_eq!(c.globals.smtp.as_deref(), Some("relay.example.com"));
    // emailalertstatus=all,stopping
    let c = ok_clean("emailalertstatus=all,stopping\n");
    assert_eq!(c.globals.emailalertstatus, AlertStatus::ALL);
}

#[test]
fn global_errors() {
    let cases: &[(&str, &str)] = &[
        ("checktimeout=0\n", "must not be 0"),
        ("checktimeout=abc\n", "a number is required"),
        ("negotiatetimeout=99999999999\n", "too large"),
        ("checkinterval=0\n", "must not be 0"),
        ("failurecount=none\n", "a number is required"),
        ("connecttimeout=5\n", "connecttimeout directive deprecated"),
        ("timeout=5\n", "timeout directive deprecated"),
        ("autoreload=true\n", "autoreload must be 'yes' or 'no'"),
        ("fork=1\n", "fork must be"),
        ("supervised=maybe\n", "supervised must be"),
        ("quiescent=YES\n", "quiescent must be"),
        ("readdquiescent=\n", "readdquiescent must be"),
        ("cleanstop=on\n", "cleanstop must be"),
        ("callback=/bin/cb\n", "must be in double quotes"),
        ("logfile=/var/log/x\n", "must be in double quotes"),
        (
            "logfile=\"nosuchfacility\"\n",
            "neither an absolute path nor a syslog facility",
        ),
        ("emailalert=\n", "no email address specified"),
        ("emailalertfreq=soon\n", "invalid email alert frequency"),
        (
            "emailalertstatus=sometimes\n",
            "invalid email alert status at",
        ),
        ("emailalertstatus=none,running\n", "specified with \"none\""),
        ("emailalertfrom=\n", "no email from address"),
        ("smtp=@\n", "invalid SMTP server"),
        (
            "fallback=127.0.0.1:80 nat\n",
            "forward method must be gate, masq or ipip",
        ),
        (
            "fallback=nosuchhost\n",
            "could not resolve for fallback server",
        ),
        ("fallback=127.0.0.1:nosuchport\n", "invalid port"),
        ("fallbackcommand=\n", "no command given"),
        ("execute=\n", "no configuration given"),
        ("maintenancedir=\n", "no maintenance directory"),
        ("scheduler=wrr\n", "only valid inside a virtual block"),
        ("Real=1.2.3.4 gate\n", "directive names are lowercase"),
        ("[vip]\n", "unknown command `[vip]`"),
        ("frobnicate=yes\n", "unknown command `frobnicate=yes`"),
        ("hostname=lvs1\n", "unknown command"),
    ];
    for (text, needle) in cases {
        let (line, msg) = one_error(text);
        assert_eq!(line, 1, "{text}");
        assert!(msg.contains(needle), "{text}: `{msg}` lacks `{needle}`");
    }
}

// ------------------------------------------------------------------ virtual lines

#[test]
fn virtual_forms() {
    let c = ok_clean(
        "\
virtual=192.0.2.1:80
virtual=lb.example.com:https
virtual=192.0.2.1:domain
virtual=192.0.2.1:53
    protocol=tcp
virtual=5
virtual6=[2001:db8::5]:119
virtual6=7
virtual6=lb.example.com:www
virtual = 192.0.2.2:www
",
    );
    let a: Vec<String> = c.virtuals.iter().map(|v| v.address.to_string()).collect();
    assert_eq!(
        a,
        [
            "tcp:192.0.2.1:80",
            "tcp:192.0.2.10:443",
            "udp:192.0.2.1:53",
            "tcp:192.0.2.1:53",
            "fwm:5",
            "tcp:[2001:db8::5]:119",
            "fwm6:7",
            "tcp:[2001:db8::10]:80",
            "tcp:192.0.2.2:80",
        ]
    );
    let fwm = &c.virtuals[4];
    assert_eq!(fwm.service, Service::None);
    assert_eq!(fwm.address.protocol(), Protocol::Fwm);
    assert_eq!(c.virtuals[1].service, Service::Https);
    assert_eq!(c.virtuals[2].service, Service::Dns);
    assert_eq!(c.virtuals[5].service, Service::Nntp);
    assert_eq!(c.virtuals[5].family(), Family::V6);
}

#[test]
fn virtual_port_name_uses_the_final_protocol() {
    // `ntp` exists only for udp: with protocol=udp it resolves, with tcp it does not.
    let c = ok_clean("virtual=192.0.2.1:ntp\n    protocol=udp\n");
    assert_eq!(vs(&c).address.port(), 123);
    let (line, msg) = one_error("virtual=192.0.2.1:ntp\n    real=192.0.2.2 gate\n");
    assert_eq!(line, 1);
    assert!(msg.contains("unknown port `ntp` for tcp"), "{msg}");
}

#[test]
fn virtual_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "virtual=[2001:db8::1]:80\n",
            "please use \"virtual6\" instead",
        ),
        (
            "virtual6=[2001:db8::zz]:80\n",
            "invalid address for virtual server",
        ),
        (
            "virtual6=[2001:db8:::1:2:3:4:5:6:7]:80\n",
            "invalid ipv6 address",
        ),
        (
            "virtual=192.0.2.1\n",
            "would silently read this as firewall mark 192",
        ),
        (
            "virtual=192.0.2.1::80\n",
            "would silently read this as firewall mark 192",
        ),
        ("virtual=nosuchhost:80\n", "could not resolve `nosuchhost`"),
        ("virtual6=192.0.2.1:80\n", "to an IPv6 address"),
        ("virtual=192.0.2.1:99999\n", "unknown port `99999`"),
        (
            "virtual=192.0.2.1:0\n",
            "port 0 is only allowed for persistent services",
        ),
        ("virtual=0\n", "invalid firewall mark"),
        ("virtual=99999999999\n", "invalid firewall mark"),
        ("virtual=\n", "invalid address for virtual server"),
        ("virtual=@home:80\n", "invalid address for virtual server"),
    ];
    for (text, needle) in cases {
        let (line, msg) = one_error(text);
        assert_eq!(line, 1, "{text}");
        assert!(msg.contains(needle), "{text}: `{msg}` lacks `{needle}`");
    }
    // Port 0 with persistence is fine.
    let c = ok_clean("virtual=192.0.2.1:0\n    persistent=300\n");
    assert_eq!(vs(&c).address.port(), 0);
}

#[test]
fn virtual_trailing_text_is_ignored_with_a_warning() {
    let (c, w) = ok("virtual=192.0.2.1:80/web\n");
    assert_eq!(vs(&c).address.port(), 80);
    assert!(warned(&w, 1, "`/web` after the virtual address ignored"));
}

#[test]
fn duplicate_virtual() {
    let e = errors(
        "\
virtual=192.0.2.1:80
    real=192.0.2.2 gate
virtual=192.0.2.1:www
virtual=192.0.2.1:80
    protocol=udp
virtual=5
virtual6=5
virtual=5
",
    );
    let lines: Vec<usize> = e.iter().map(|d| d.line).filter(|l| *l > 0).collect();
    assert_eq!(lines, [3, 8], "{e:#?}");
    assert!(e[0]
        .message
        .contains("duplicate virtual server tcp:192.0.2.1:80 (first defined at line 1)"));
    assert!(e[1].message.contains("fwm:5"));
}

// ------------------------------------------------------------------ per-virtual directives

#[test]
fn every_block_directive() {
    let text = "\
virtual=192.0.2.1:8080
    real=198.51.100.1:8080 masq 3
    fallback=sorry:8000 masq
    fallbackcommand=\"/usr/local/bin/fb\"
    service=http
    checktype=connect
    checkcommand=\"/usr/local/bin/check --fast\"
    checkport=8081
    checktimeout=4
    negotiatetimeout=9
    checkcount=2
    failurecount=5
    checkinterval=20
    request=\"health\"
    receive=\"OK\"
    httpmethod=head
    virtualhost=\"www.example.com\"
    login=\"monitor\"
    passwd=\"s3cret\"
    database=\"app\"
    secret=\"radius\"
    load=\"cpu\"
    scheduler=wlc
    persistent=600
    netmask=255.255.255.0
    schedflags=flag-1
    protocol=tcp
    ops=no
    quiescent=yes
    cleanstop=no
    emailalert=admin@example.com
    emailalertfreq=60
    emailalertstatus=running
    smtp=smtp.example.com
    monitorfile=\"/var/log/ld-web.log\"
    servicename=web shop
    comment=front end
";
    let (c, w) = ok(text);
    assert!(warned(&w, 11, "deprecated"));
    assert!(warned(&w, 13, "ignored when fork=no"));
    assert_eq!(w.len(), 2, "{w:#?}");
    let v = vs(&c);
    assert_eq!(v.reals[0].method, Method::Masq);
    assert_eq!(v.reals[0].weight, 3);
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: ip("192.0.2.200"),
            port: 8000,
            method: Method::Masq
        })
    );
    assert_eq!(v.fallbackcommand.as_deref(), Some("/usr/local/bin/fb"));
    assert_eq!(v.service, Service::Http);
    // checkcommand is kept for an external check: with connect it is not used
    assert_eq!(v.checktype, CheckType::Connect);
    let (external, _) = ok(&text.replace("checktype=connect", "checktype=external"));
    assert_eq!(
        vs(&external).checktype,
        CheckType::External {
            cmd: "/usr/local/bin/check --fast".into()
        }
    );
    assert_eq!(v.checkport, Some(8081));
    assert_eq!(v.checkport_for(&v.reals[0]), Some(8081));
    assert_eq!(
        v.timing,
        Timing {
            checktimeout: 4,
            negotiatetimeout: 9,
            checkinterval: 10,
            checkcount: 2,
            failurecount: 5
        }
    );
    assert_eq!(v.request, "/health");
    assert_eq!(v.receive, "OK");
    assert_eq!(v.httpmethod, HttpMethod::Head);
    assert_eq!(v.virtualhost.as_deref(), Some("www.example.com"));
    assert_eq!(v.login, "monitor");
    assert_eq!(v.passwd, "s3cret");
    assert_eq!(v.database, "app");
    assert_eq!(v.secret, "radius");
    assert_eq!(v.load.as_deref(), Some("cpu"));
    assert_eq!(v.scheduler, "wlc");
    assert_eq!(v.persistent, Some(600));
    assert_eq!(
        v.netmask,
        Some(Netmask::V4("255.255.255.0".parse().unwrap()))
    );
    assert_eq!(v.schedflags.as_deref(), Some("flag-1"));
    assert!(!v.ops);
    assert!(v.quiescent);
    assert!(!v.cleanstop);
    assert_eq!(v.alert.to, vec!["admin@example.com".to_string()]);
    assert_eq!(v.alert.freq, 60);
    assert!(v.alert.status.running);
    assert!(!v.alert.status.starting);
    assert_eq!(v.alert.smtp.as_deref(), Some("smtp.example.com"));
    assert_eq!(
        v.monitorfile.as_ref().map(|m| m.path.as_path()),
        Some(std::path::Path::new("/var/log/ld-web.log"))
    );
    assert_eq!(v.servicename.as_deref(), Some("web shop"));
    assert_eq!(v.comment.as_deref(), Some("front end"));
}

#[test]
fn block_defaults_and_inheritance() {
    let text = "\
quiescent=yes
cleanstop=no
failurecount=2
checkcount=4
fallbackcommand=/bin/fb
emailalert=a@example.com
emailalertfreq=30
emailalertstatus=stopping
emailalertfrom=lvs@example.com
smtp=relay
virtual=192.0.2.1:3306
    real=198.51.100.1 gate
";
    let (c, _) = ok(text);
    let v = vs(&c);
    assert_eq!(v.service, Service::Mysql);
    assert_eq!(v.checktype, CheckType::Negotiate);
    let external = ok_clean("virtual=192.0.2.1:3306\n    checktype=external-perl\n");
    assert_eq!(
        vs(&external).checktype,
        CheckType::ExternalPerl {
            cmd: "/bin/true".into()
        }
    );
    assert_eq!(v.request, "/");
    assert_eq!(v.receive, "");
    assert_eq!(v.httpmethod, HttpMethod::Get);
    assert_eq!(v.scheduler, "wrr");
    assert_eq!(v.login, "");
    assert!(v.quiescent);
    assert!(!v.cleanstop);
    assert_eq!(v.timing.failurecount, 2);
    assert_eq!(v.timing.checkcount, 4);
    assert_eq!(v.fallbackcommand.as_deref(), Some("/bin/fb"));
    assert_eq!(v.alert.to, vec!["a@example.com".to_string()]);
    assert_eq!(v.alert.freq, 30);
    assert!(v.alert.status.stopping && !v.alert.status.running);
    assert_eq!(v.alert.from.as_deref(), Some("lvs@example.com"));
    assert_eq!(v.alert.smtp.as_deref(), Some("relay"));
    // Port-less real: port 0, checks go to the service's well-known port.
    assert_eq!(v.reals[0].port, 0);
    assert_eq!(v.checkport_for(&v.reals[0]), Some(3306));
}

#[test]
fn service_defaults_from_port() {
    let ports = [
        (21, Service::Ftp),
        (25, Service::Smtp),
        (53, Service::Dns),
        (80, Service::Http),
        (110, Service::Pop),
        (119, Service::Nntp),
        (143, Service::Imap),
        (389, Service::Ldap),
        (443, Service::Https),
        (587, Service::Submission),
        (636, Service::Ldaps),
        (993, Service::Imaps),
        (995, Service::Pops),
        (1521, Service::Oracle),
        (1812, Service::Radius),
        (3128, Service::HttpProxy),
        (3306, Service::Mysql),
        (5060, Service::Sip),
        (5432, Service::Pgsql),
        (8080, Service::None),
    ];
    for (port, service) in ports {
        let c = ok_clean(&format!("virtual=192.0.2.1:{port}\n"));
        assert_eq!(vs(&c).service, service, "port {port}");
        if let Some(p) = service.well_known_port() {
            assert_eq!(p, port);
        }
    }
    for s in Service::all() {
        let c = ok_clean(&format!(
            "virtual=192.0.2.1:9999\n    service={}\n",
            s.name()
        ));
        assert_eq!(vs(&c).service, s);
    }
}

#[test]
fn ftp_and_sip_default_logins() {
    let c = ok_clean("virtual=192.0.2.1:21\n    service=ftp\n");
    assert_eq!(vs(&c).login, "anonymous");
    assert_eq!(vs(&c).passwd, "ldirectord@lvs1");
    let c = ok_clean("virtual=192.0.2.1:5060\n    protocol=udp\n    service=sip\n");
    assert_eq!(vs(&c).login, "ldirectord@lvs1");
    // A login given before service= is kept; one given after replaces the default.
    let c = ok_clean("virtual=192.0.2.1:21\n    login=\"bob\"\n    service=ftp\n");
    assert_eq!(vs(&c).login, "bob");
    let c = ok_clean("virtual=192.0.2.1:21\n    service=ftp\n    passwd=\"pw\"\n");
    assert_eq!(vs(&c).passwd, "pw");
    // Derived from the port only: no default login (ldirectord sets it on service= only).
    let c = ok_clean("virtual=192.0.2.1:21\n");
    assert_eq!(vs(&c).login, "");
}

#[test]
fn checktypes() {
    let cases = [
        ("connect", CheckType::Connect),
        ("negotiate", CheckType::Negotiate),
        ("ping", CheckType::Ping),
        (
            "external",
            CheckType::External {
                cmd: "/bin/true".into(),
            },
        ),
        (
            "external-perl",
            CheckType::ExternalPerl {
                cmd: "/bin/true".into(),
            },
        ),
        ("on", CheckType::On),
        ("off", CheckType::Off),
        ("5", CheckType::Combined(5)),
        ("negotiate2", CheckType::Combined(2)),
        ("0", CheckType::Combined(0)),
    ];
    for (word, ct) in cases {
        let c = ok_clean(&format!("virtual=192.0.2.1:80\n    checktype={word}\n"));
        assert_eq!(vs(&c).checktype, ct, "{word}");
    }
}

#[test]
fn effective_timeouts_follow_ldirectord_precedence() {
    // (global checktimeout, global negotiatetimeout, virtual checktimeout, virtual
    // negotiatetimeout) -> (effective checktimeout, effective negotiatetimeout)
    type Case = (Option<u32>, Option<u32>, Option<u32>, Option<u32>, u32, u32);
    let cases: [Case; 8] = [
        (None, None, None, None, 5, 30),
        (Some(3), None, None, None, 3, 3),
        (None, Some(10), None, None, 10, 10),
        (Some(3), Some(10), None, None, 3, 10),
        (None, Some(10), Some(3), None, 3, 3),
        (Some(7), Some(10), None, Some(4), 4, 4),
        (Some(7), Some(10), Some(2), Some(4), 2, 4),
        (Some(7), None, None, Some(20), 20, 20),
    ];
    for (gc, gn, vc, vn, ec, en) in cases {
        let mut text = String::new();
        if let Some(n) = gc {
            text += &format!("checktimeout={n}\n");
        }
        if let Some(n) = gn {
            text += &format!("negotiatetimeout={n}\n");
        }
        text += "virtual=192.0.2.1:80\n";
        if let Some(n) = vc {
            text += &format!("    checktimeout={n}\n");
        }
        if let Some(n) = vn {
            text += &format!("    negotiatetimeout={n}\n");
        }
        let c = ok_clean(&text);
        let t = vs(&c).timing;
        assert_eq!((t.checktimeout, t.negotiatetimeout), (ec, en), "{text}");
    }
}

#[test]
fn globals_after_the_block_still_apply() {
    let c = ok_clean(
        "virtual=192.0.2.1:80\n    real=198.51.100.1 gate\nquiescent=yes\nchecktimeout=2\n",
    );
    assert!(vs(&c).quiescent);
    assert_eq!(vs(&c).timing.checktimeout, 2);
}

#[test]
fn checkinterval_per_virtual_with_fork() {
    let c = ok_clean("fork=yes\ncheckinterval=5\nvirtual=192.0.2.1:80\n    checkinterval=2\nvirtual=192.0.2.1:443\n");
    assert_eq!(c.virtuals[0].timing.checkinterval, 2);
    assert_eq!(c.virtuals[1].timing.checkinterval, 5);
}

#[test]
fn ipv6_blocks() {
    let c = ok_clean(
        "\
fallback6=[2001:db8::fb]:80
virtual6=[2001:db8::1]:80
    real6=[2001:db8::a]:80 gate 2
    real6=[2001:db8::b] masq
    netmask=64
    persistent=60
",
    );
    let v = vs(&c);
    assert_eq!(v.reals.len(), 2);
    assert_eq!(v.reals[0].addr, ip("2001:db8::a"));
    assert_eq!(v.reals[0].weight, 2);
    assert_eq!(v.reals[1].port, 0);
    assert_eq!(v.netmask, Some(Netmask::V6Prefix(64)));
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: ip("2001:db8::fb"),
            port: 80,
            method: Method::Gate
        })
    );
}

#[test]
fn block_errors_are_all_collected_with_their_lines() {
    let text = "\
virtual=192.0.2.1:80
    real=198.51.100.1:80 gate
    real6=[2001:db8::1]:80 gate
    fallback6=[::1]:80
    scheduler=fastest
    scheduler=WLC
    service=gopher
    protocol=sctp
    checktype=sometimes
    checkport=0
    checkport=70000
    persistent=0
    netmask=64
    netmask=255.255.256.0
    httpmethod=POST
    ops=maybe
    quiescent=1
    cleanstop=
    request=/unquoted
    receive=\"\"
    login=\"\"
    load=\"--\"
    schedflags=sh-port
    schedflags=bogus
    emailalertstatus=never
    smtp=!
    autoreload=yes
    connecttimeout=3
    frob=1
virtual=5
    protocol=tcp
virtual6=[2001:db8::2]:80
    netmask=255.255.255.0
    real=192.0.2.9 gate
";
    let e = errors(text);
    let lines: Vec<usize> = e.iter().map(|d| d.line).filter(|l| *l > 0).collect();
    let expect: Vec<usize> = (3..=29).chain([31, 33, 34]).collect();
    assert_eq!(lines, expect, "{e:#?}");
    let msg = |line: usize| {
        e.iter()
            .find(|d| d.line == line)
            .map(|d| d.message.clone())
            .unwrap_or_default()
    };
    assert!(msg(3).contains("please use \"real\" instead"));
    assert!(msg(4).contains("please use \"fallback\" instead"));
    assert!(msg(5).contains("unknown scheduler `fastest`"));
    assert!(msg(6).contains("only lowercase letters"));
    assert!(msg(7).contains("unknown service `gopher`"));
    assert!(msg(8).contains("protocol must be tcp or udp"));
    assert!(msg(9).contains("checktype must be"));
    assert!(msg(10).contains("checkport must be in range"));
    assert!(msg(11).contains("checkport must be in range"));
    assert!(msg(12).contains("persistent timeout 0 out of range"));
    assert!(msg(13).contains("dotted quad notation is required"));
    assert!(msg(14).contains("octet out of range"));
    assert!(msg(15).contains("httpmethod must be GET or HEAD"));
    assert!(msg(16).contains("ops must be"));
    assert!(msg(17).contains("quiescent must be"));
    assert!(msg(18).contains("cleanstop must be"));
    assert!(msg(19).contains("must be in double quotes"));
    assert!(msg(20).contains("no receive string given"));
    assert!(msg(21).contains("no login given"));
    assert!(msg(22).contains("invalid string for load testing"));
    assert!(msg(23).contains("needs scheduler sh"));
    assert!(msg(24).contains("invalid sched-flags `bogus`"));
    assert!(msg(25).contains("invalid email alert status"));
    assert!(msg(26).contains("invalid SMTP server"));
    assert!(msg(27).contains("global directive"));
    assert!(msg(28).contains("connecttimeout directive deprecated"));
    assert!(msg(29).contains("unknown command `frob=1`"));
    assert!(msg(31).contains("protocol must be fwm"));
    assert!(msg(33).contains("a prefix length between 1 and 128"));
    assert!(msg(34).contains("please use \"real6\" instead"));
    // Display form: file:line: message
    assert!(e[0].to_string().starts_with("t.cf:3: "));
}

#[test]
fn errors_in_globals_and_blocks_are_reported_together() {
    let text = "\
checktimeout=0
virtual=192.0.2.1:80
    real=nosuchhost gate
    scheduler=xyz
quiescent=perhaps
virtual=192.0.2.1:80
";
    let e = errors(text);
    let lines: Vec<usize> = e.iter().map(|d| d.line).filter(|l| *l > 0).collect();
    assert_eq!(lines, [1, 3, 4, 5, 6], "{e:#?}");
}

// ------------------------------------------------------------------ real lines

#[test]
fn real_line_forms() {
    let c = ok_clean(
        "\
virtual=192.0.2.1:80
    real=198.51.100.1:80 gate
    real=198.51.100.2:http-alt masq 5
    real=web3:443 ipip 0
    real=198.51.100.10->198.51.100.12:8080 masq 2
    real=web1->web3 gate
    real=198.51.100.20:80 gate 3 \"status.html\", \"alive\"
    real=198.51.100.21:80 gate \"check.php\" \"up\" l:10 u:200
    real=198.51.100.22:80 masq u:50
    real = 198.51.100.23:www gate
",
    );
    let r = &vs(&c).reals;
    let summary: Vec<(String, u16, Method, u32)> = r
        .iter()
        .map(|r| (r.addr.to_string(), r.port, r.method, r.weight))
        .collect();
    let expect: Vec<(String, u16, Method, u32)> = [
        ("198.51.100.1", 80, Method::Gate, 1),
        ("198.51.100.2", 8080, Method::Masq, 5),
        ("198.51.100.3", 443, Method::Ipip, 0),
        ("198.51.100.10", 8080, Method::Masq, 2),
        ("198.51.100.11", 8080, Method::Masq, 2),
        ("198.51.100.12", 8080, Method::Masq, 2),
        ("198.51.100.1", 0, Method::Gate, 1),
        ("198.51.100.2", 0, Method::Gate, 1),
        ("198.51.100.3", 0, Method::Gate, 1),
        ("198.51.100.20", 80, Method::Gate, 3),
        ("198.51.100.21", 80, Method::Gate, 1),
        ("198.51.100.22", 80, Method::Masq, 1),
        ("198.51.100.23", 80, Method::Gate, 1),
    ]
    .iter()
    .map(|(a, p, m, w)| (a.to_string(), *p, *m, *w))
    .collect();
    assert_eq!(summary, expect);
    let range_lines: Vec<usize> = r.iter().skip(3).take(3).map(|r| r.line).collect();
    assert_eq!(range_lines, [5, 5, 5]);
    assert_eq!(r.len(), 13);
    // Per-real overrides; a `/` is prepended to a request that lacks one.
    let r20 = &r[9];
    assert_eq!(r20.request.as_deref(), Some("/status.html"));
    assert_eq!(r20.receive.as_deref(), Some("alive"));
    let r21 = &r[10];
    assert_eq!(r21.request.as_deref(), Some("/check.php"));
    assert_eq!(r21.receive.as_deref(), Some("up"));
    assert_eq!((r21.lower, r21.upper), (10, 200));
    assert_eq!((r[11].lower, r[11].upper), (0, 50));
    assert_eq!(vs(&c).request_for(r21), ("/check.php", "up"));
    assert_eq!(vs(&c).request_for(&r[0]), ("/", ""));
}

#[test]
fn real_override_quirks_are_fixed_with_warnings() {
    let (c, w) = ok("\
virtual=192.0.2.1:80
    real=198.51.100.1:80 gate \"/ok.html\",\"HTTP 200\"
    real=198.51.100.2:80 gate \"a\",\"b\" 4
");
    let r = &vs(&c).reals;
    assert_eq!(r[0].request.as_deref(), Some("/ok.html"));
    assert_eq!(r[0].receive.as_deref(), Some("HTTP 200"));
    assert!(warned(&w, 2, "blank before digits"));
    assert!(warned(&w, 2, "request starts with `/`"));
    assert_eq!(r[1].weight, 4);
    assert_eq!(r[1].request.as_deref(), Some("/a"));
    assert!(warned(&w, 3, "weight after the request/receive"));
}

#[test]
fn real_line_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "real=198.51.100.1:80",
            "forward method must be gate, masq or ipip, not ``",
        ),
        ("real=198.51.100.1:80 Gate", "not `Gate`"),
        ("real=198.51.100.1:80 dr", "not `dr`"),
        ("real=198.51.100.1:80 gateway", "not `gateway`"),
        ("real=198.51.100.1::80 gate", "wrong format"),
        ("real=198.51.100.1: gate", "wrong format"),
        ("real=\"198.51.100.1\" gate", "wrong format"),
        ("real=nosuchhost:80 gate", "could not resolve host"),
        ("real=198.51.100.1:nosuch gate", "could not resolve port"),
        ("real=198.51.100.1:70000 gate", "could not resolve port"),
        ("real=198.51.100.9->198.51.100.1 gate", "Invalid Range"),
        ("real=10.0.0.0->10.1.0.0 gate", "at most 65536"),
        (
            "real=198.51.100.1->nosuch gate",
            "could not resolve end host",
        ),
        (
            "real=198.51.100.1:80 gate 70000",
            "weight 70000 out of range",
        ),
        ("real=198.51.100.1:80 gate 2 junk", "around \"junk\""),
        ("real=198.51.100.1:80 gate \"only-request\"", "around"),
        ("real=198.51.100.1:80 gate l:x", "around \"l:x\""),
        ("real=198.51.100.1:80 gate u:1 l:1", "around \"l:1\""),
        ("real=198.51.100.1:80 gate l:99999999999", "threshold"),
        ("real=[2001:db8::1]:80 gate", "could not resolve host"),
    ];
    for (real, needle) in cases {
        let text = format!("virtual=192.0.2.1:80\n    {real}\n");
        let (line, msg) = one_error(&text);
        assert_eq!(line, 2, "{real}");
        assert!(msg.contains(needle), "{real}: `{msg}` lacks `{needle}`");
    }
    let (_, msg) =
        one_error("virtual6=[2001:db8::1]:80\n    real6=[2001:db8::1]->[2001:db8::2] gate\n");
    assert!(msg.contains("IPv6 is not supported"), "{msg}");
}

#[test]
fn a_doubled_colon_suggests_the_fix() {
    let cases: &[(&str, &str)] = &[
        (
            "real=192.0.2.2::5060 gate",
            "invalid address for real server (wrong format): `192.0.2.2::5060 gate`: did you \
             mean 192.0.2.2:5060? (ldirectord 1.186 reads `5060` as the address 0.0.19.196, \
             port 0)",
        ),
        (
            "real=192.0.2.2->192.0.2.4::http masq 2",
            "did you mean 192.0.2.2->192.0.2.4:http? (ldirectord 1.186 reads `http` as a host \
             name, port 0)",
        ),
        (
            "real6=[2001:db8::2]::80 gate",
            "did you mean [2001:db8::2]:80?",
        ),
    ];
    for (real, needle) in cases {
        let head = if real.starts_with("real6") {
            "virtual6=[2001:db8::1]:5060"
        } else {
            "virtual=192.0.2.1:5060"
        };
        let (line, msg) = one_error(&format!("{head}\n    {real}\n"));
        assert_eq!(line, 2, "{real}");
        assert!(msg.contains(needle), "{real}: `{msg}` lacks `{needle}`");
    }
    // No suggestion when there is no port after the colons.
    let (_, msg) = one_error("virtual=192.0.2.1:80\n    real=192.0.2.2:: gate\n");
    assert!(!msg.contains("did you mean"), "{msg}");
}

#[test]
fn numeric_address_forms_follow_inet_aton() {
    let c = ok_clean("virtual=192.0.2.1:80\n    real=5060 gate\n    real=010.0.0.1 gate\n");
    let r = &vs(&c).reals;
    assert_eq!(r[0].addr, ip("0.0.19.196"));
    assert_eq!(r[1].addr, ip("8.0.0.1"));
}

#[test]
fn duplicate_reals_collapse() {
    let (c, w) = ok("\
virtual=192.0.2.1:80
    real=198.51.100.1:80 gate
    real=198.51.100.1:80 gate
    real=198.51.100.1:80 gate 5
");
    let r = &vs(&c).reals;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].weight, 5);
    assert!(warned(&w, 3, "listed once"));
    assert!(warned(&w, 4, "replaces it"));
}

#[test]
fn fallback_forms() {
    let c = ok_clean(
        "\
fallback=127.0.0.1
virtual=192.0.2.1:www
virtual=192.0.2.1:53
virtual=192.0.2.2:80
    fallback=sorry:http-alt ipip
virtual=192.0.2.3:443
    fallback=127.0.0.2 masq
",
    );
    let f: Vec<Option<Fallback>> = c.virtuals.iter().map(|v| v.fallback).collect();
    let fb = |a: &str, port, method| {
        Some(Fallback {
            addr: ip(a),
            port,
            method,
        })
    };
    assert_eq!(
        f,
        [
            fb("127.0.0.1", 80, Method::Gate),
            fb("127.0.0.1", 53, Method::Gate),
            fb("192.0.2.200", 8080, Method::Ipip),
            fb("127.0.0.2", 443, Method::Masq),
        ]
    );
}

#[test]
fn a_real_that_is_its_fallback_is_warned_about() {
    // 17-derived-upstream-mail-services: the real at the fallback's address and port.
    let (c, w) = ok("\
fallback=127.0.0.1:80
virtual=192.0.2.1:143
    real=192.0.2.2:143 gate
    real=127.0.0.1:143 masq
    fallback=127.0.0.1:143
virtual=192.0.2.1:80
    real=192.0.2.2:80 gate
    real=127.0.0.1->127.0.0.2 gate
virtual=192.0.2.1:81
    real=127.0.0.1:81 masq
    checktype=off
virtual=192.0.2.1:82
    real=127.0.0.1:82 masq
    real=127.0.0.1:8080 masq
    fallback=127.0.0.1:8080
");
    assert_eq!(c.virtuals.len(), 4);
    let about: Vec<(usize, &str)> = w
        .iter()
        .filter(|d| d.message.contains("is also the fallback server"))
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        about,
        [
            (
                4,
                "real server 127.0.0.1:143 is also the fallback server of virtual service \
                 tcp:192.0.2.1:143 (line 5): ldirectord 1.186 deletes it from the table whenever \
                 a real server of this virtual comes up (it takes the fallback out by address); \
                 director keeps it while its check passes"
            ),
            // The global fallback; a gate real takes the service's port, like the fallback.
            (8, about[1].1),
            // The fallback is stored at :82 (gate takes the service's port), and ldirectord
            // looks for it at :8080 first: both reals can be taken for it.
            (13, about[2].1),
            (14, about[3].1),
        ],
        "{w:#?}"
    );
    assert!(about[1].1.contains(
        "127.0.0.1:80 is also the fallback server of virtual service tcp:192.0.2.1:80 (line 1)"
    ));
    assert!(
        about[2].1.contains("127.0.0.1:82 is also"),
        "{}",
        about[2].1
    );
    assert!(
        about[3].1.contains("127.0.0.1:8080 is also"),
        "{}",
        about[3].1
    );
    // `director check` prints it as file:line: warning: ...
    let shown = w.iter().find(|d| d.line == 4).map(ToString::to_string);
    assert!(shown.is_some_and(|s| s.starts_with("t.cf:4: warning: real server 127.0.0.1:143")));
}

#[test]
fn global_fallback_port_missing_for_one_protocol() {
    // http exists for tcp only: fine while no udp service needs it (ldirectord rejects it).
    let (c, w) = ok("fallback=127.0.0.1:http\nvirtual=192.0.2.1:80\n");
    assert_eq!(vs(&c).fallback.map(|f| f.port), Some(80));
    assert!(warned(&w, 1, "no udp entry"));
    // A udp service that needs it is an error naming both lines.
    let (line, msg) = one_error("fallback=127.0.0.1:http\nvirtual=192.0.2.1:53\n");
    assert_eq!(line, 1);
    assert!(
        msg.contains("no udp entry") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn global_fallback_does_not_apply_to_fwmark() {
    let (c, w) = ok("fallback=127.0.0.1:80\nvirtual=5\n    real=198.51.100.1 gate\n");
    assert_eq!(vs(&c).fallback, None);
    assert!(warned(&w, 2, "does not apply to firewall-mark"));
    let c = ok_clean("virtual=5\n    fallback=127.0.0.1:80\n");
    assert_eq!(vs(&c).fallback.map(|f| f.port), Some(80));
    let c = ok_clean("virtual=5\n    fallback=127.0.0.1\n");
    assert_eq!(vs(&c).fallback.map(|f| f.port), Some(0));
}

// ------------------------------------------------------------------ quirks

#[test]
fn quirk_trailing_comment_on_global_line() {
    let (c, w) = ok("\
autoreload=yes # reload on change
quiescent=no   # delete failed servers
fallback=127.0.0.1:80 # sorry server
checktimeout=3 # seconds
emailalert=root@example.com # who
");
    assert!(c.globals.autoreload);
    assert!(!c.globals.quiescent);
    assert!(c.globals.fallback.is_some());
    assert_eq!(c.globals.checktimeout, Some(3));
    assert_eq!(c.globals.emailalert, vec!["root@example.com".to_string()]);
    assert!(warned(
        &w,
        1,
        "ldirectord 1.186 rejects `autoreload=yes # reload on change`"
    ));
    assert!(warned(&w, 2, "rejects"));
    assert!(warned(&w, 3, "trailing comment removed"));
    assert!(!w.iter().any(|d| d.line == 4));
    assert!(warned(&w, 5, "trailing comment removed"));
}

#[test]
fn quirk_short_indentation() {
    let (c, w) = ok("virtual=192.0.2.1:80\n  real=198.51.100.1:80 gate\n  scheduler=rr\n");
    assert_eq!(vs(&c).reals.len(), 1);
    assert_eq!(vs(&c).scheduler, "rr");
    assert!(warned(&w, 2, "indented by 2 columns"));
    assert!(warned(&w, 3, "indented by 2 columns"));
}

#[test]
fn quirk_tabs_indent_like_four_spaces() {
    let c = ok_clean("virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n \t  scheduler=rr\n");
    assert_eq!(vs(&c).reals.len(), 1);
    assert_eq!(vs(&c).scheduler, "rr");
}

#[test]
fn quirk_blank_line_inside_block() {
    let (c, w) = ok("\
virtual=192.0.2.1:80
    real=198.51.100.1:80 gate

    real=198.51.100.2:80 gate
    scheduler=rr
\t\t
    service=none
");
    let v = vs(&c);
    assert_eq!(v.reals.len(), 2);
    assert_eq!(v.scheduler, "rr");
    assert_eq!(v.service, Service::None);
    assert!(warned(&w, 4, "blank line 3"));
    assert!(!w.iter().any(|d| d.line == 5));
    assert!(warned(&w, 6, "only blanks"));
    assert!(warned(&w, 7, "blank line 6"));
}

#[test]
fn quirk_indented_line_after_a_global_line() {
    let (c, w) = ok("virtual=192.0.2.1:80\n    real=198.51.100.1 gate\nchecktimeout=3\n    real=198.51.100.2 gate\n");
    assert_eq!(vs(&c).reals.len(), 2);
    assert_eq!(c.globals.checktimeout, Some(3));
    assert!(warned(&w, 4, "global directive at line 3"));
}

#[test]
fn quirk_crlf_line_ends() {
    let text =
        "quiescent=yes\r\nvirtual=192.0.2.1:80\r\n    real=198.51.100.1:80 gate\r\n    ops=no\r\n";
    let (c, w) = ok(text);
    assert!(c.globals.quiescent);
    assert_eq!(vs(&c).reals.len(), 1);
    assert!(warned(&w, 1, "CRLF"));
    assert_eq!(w.len(), 1, "one warning per file: {w:#?}");
}

#[test]
fn quirk_trailing_blanks_on_exact_values() {
    let (c, w) = ok("quiescent=yes  \nvirtual=192.0.2.1:80\n    netmask=255.255.255.0 \n    persistent=60\n    ops=yes # one packet\n    protocol=udp\n");
    assert!(c.globals.quiescent);
    assert!(vs(&c).ops);
    assert!(warned(&w, 1, "trailing blanks"));
    assert!(warned(&w, 3, "trailing blanks"));
    assert!(warned(&w, 5, "trailing blanks"));
}

#[test]
fn quirk_hash_inside_quotes_in_a_block() {
    let (c, w) = ok("virtual=192.0.2.1:80\n    receive=\"item #1\" # the first\n");
    assert_eq!(vs(&c).receive, "item #1");
    assert!(warned(&w, 2, "inside double quotes"));
}

#[test]
fn quirk_indented_global_before_any_block() {
    let (c, w) = ok("  checktimeout=4\n");
    assert_eq!(c.globals.checktimeout, Some(4));
    assert!(warned(&w, 1, "indented outside a virtual block"));
    let (line, msg) = one_error("    real=198.51.100.1 gate\n");
    assert_eq!(line, 1);
    assert!(msg.contains("only valid inside a virtual block"), "{msg}");
}

#[test]
fn quirk_virtual_on_the_last_line() {
    let (c, w) = ok("checktimeout=3\nvirtual=192.0.2.1:80\n");
    assert_eq!(c.virtuals.len(), 1);
    assert!(warned(&w, 2, "reads it twice"));
    let (_, w) = ok("virtual=192.0.2.1:80");
    assert!(warned(&w, 1, "reads it twice"));
    // Anything after it (even a comment) avoids the quirk.
    let c = ok_clean("virtual=192.0.2.1:80\n# end\n");
    assert_eq!(c.virtuals.len(), 1);
}

#[test]
fn comments_and_empty_files() {
    let c = ok_clean("# only a comment\n\n   # indented comment\n");
    assert!(c.virtuals.is_empty());
    // Comment lines inside a block do not end it.
    let c = ok_clean(
        "virtual=192.0.2.1:80\n# note\n    real=198.51.100.1 gate\n  # x\n    scheduler=lc\n",
    );
    assert_eq!(vs(&c).reals.len(), 1);
    assert_eq!(vs(&c).scheduler, "lc");
}

#[test]
fn a_file_without_virtual_services_is_warned_about() {
    for text in [
        "",
        "\n\n",
        "# nothing yet\n",
        "checktimeout=3\nquiescent=yes\n",
    ] {
        let (c, w) = ok(text);
        assert!(c.virtuals.is_empty());
        assert_eq!(w.len(), 1, "{text:?}: {w:#?}");
        assert_eq!(
            w[0].to_string(),
            "t.cf: warning: no virtual service in this file: it manages no service, and a \
             reload to it removes every virtual service of the running configuration \
             (ldirectord does the same)"
        );
    }
    // A virtual, even one that ends the file, is enough.
    let (_, w) = ok("virtual=192.0.2.1:80\n");
    assert!(!w.iter().any(no_virtual), "{w:#?}");
    // A broken virtual line is an error of its own, not "no virtual service".
    let e = match parse(
        "virtual=nosuch:80\n    real=192.0.2.2 gate\n",
        "t.cf",
        &resolver(),
    ) {
        Ok(r) => panic!("accepted: {r:?}"),
        Err(e) => e,
    };
    assert!(!e.iter().any(no_virtual), "{e:#?}");
}

#[test]
fn last_directive_in_a_block_wins() {
    let c = ok_clean("virtual=192.0.2.1:80\n    request=\"a\"\n    request=\"/b\"\n    virtualhost=x\n    virtualhost=\"y\"\n");
    assert_eq!(vs(&c).request, "/b");
    assert_eq!(vs(&c).virtualhost.as_deref(), Some("y"));
}

// ------------------------------------------------------------------ desired table

fn only_service(c: &Config) -> ipvs::ServiceConfig {
    let t = desired_table(c);
    assert_eq!(t.services.len(), 1);
    t.services.into_values().next().unwrap()
}

#[test]
fn table_persistence_and_netmask() {
    let c = ok_clean(
        "virtual=192.0.2.1:443\n    persistent=600\n    netmask=255.255.255.0\n    scheduler=wlc\n",
    );
    let s = only_service(&c).service;
    assert_eq!(s.scheduler, "wlc");
    assert_eq!(s.flags, flags::IP_VS_SVC_F_PERSISTENT);
    assert_eq!(s.timeout, 600);
    assert_eq!(s.netmask, 0xffff_ff00);
    // Without persistent the netmask is not used (ldirectord never emits -M then).
    let (c, w) = ok("virtual=192.0.2.1:443\n    netmask=255.255.255.0\n");
    let s = only_service(&c).service;
    assert_eq!((s.flags, s.netmask), (0, 0xffff_ffff));
    assert!(warned(&w, 2, "netmask is only used with persistent"));
    // IPv6 prefix.
    let c = ok_clean("virtual6=[2001:db8::1]:443\n    persistent=60\n    netmask=48\n");
    assert_eq!(only_service(&c).service.netmask, 48);
}

#[test]
fn table_fwmark_ops_schedflags() {
    let c = ok_clean("virtual=5\n    real=198.51.100.1 gate\n    real=198.51.100.2:8080 masq\n");
    let sc = only_service(&c);
    assert_eq!(
        sc.service.key,
        ServiceKey::Fwmark {
            family: Family::V4,
            mark: 5
        }
    );
    let dests: Vec<(String, u16, Forward)> = sc
        .dests
        .values()
        .map(|d| (d.addr.to_string(), d.port, d.forward))
        .collect();
    assert_eq!(
        dests,
        [
            ("198.51.100.1".into(), 0, Forward::Route),
            ("198.51.100.2".into(), 8080, Forward::Masq)
        ]
    );
    let c = ok_clean("virtual6=7\n");
    assert_eq!(
        only_service(&c).service.key,
        ServiceKey::Fwmark {
            family: Family::V6,
            mark: 7
        }
    );

    let c = ok_clean(
        "virtual=192.0.2.1:53\n    ops=yes\n    scheduler=sh\n    schedflags=sh-fallback,sh-port\n",
    );
    let s = only_service(&c).service;
    assert_eq!(
        s.key,
        ServiceKey::Addr {
            protocol: ipvs::Protocol::Udp,
            addr: ip("192.0.2.1"),
            port: 53
        }
    );
    assert_eq!(
        s.flags,
        flags::IP_VS_SVC_F_ONEPACKET | flags::IP_VS_SVC_F_SCHED1 | flags::IP_VS_SVC_F_SCHED2
    );
    // ops on tcp is ignored (ldirectord emits -o only for udp).
    let (c, w) = ok("virtual=192.0.2.1:80\n    ops=yes\n");
    assert_eq!(only_service(&c).service.flags, 0);
    assert!(warned(&w, 2, "only applies to udp"));
}

#[test]
fn table_gate_and_ipip_take_the_service_port() {
    let c = ok_clean(
        "\
virtual=192.0.2.1:80
    real=198.51.100.1:8080 gate 2
    real=198.51.100.2 ipip
    real=198.51.100.3 masq
    real=198.51.100.4:8080 masq 0 l:5 u:100
",
    );
    let sc = only_service(&c);
    let dests: Vec<(String, u16, Forward, u32, u32, u32)> = sc
        .dests
        .values()
        .map(|d| {
            (
                d.addr.to_string(),
                d.port,
                d.forward,
                d.weight,
                d.l_threshold,
                d.u_threshold,
            )
        })
        .collect();
    assert_eq!(
        dests,
        [
            ("198.51.100.1".into(), 80, Forward::Route, 2, 0, 0),
            ("198.51.100.2".into(), 80, Forward::Tunnel, 1, 0, 0),
            ("198.51.100.3".into(), 0, Forward::Masq, 1, 0, 0),
            ("198.51.100.4".into(), 8080, Forward::Masq, 0, 5, 100),
        ]
    );
}

#[test]
fn table_fallback_only_when_no_real_can_be_up() {
    // Empty block: only the fallback.
    let c = ok_clean("fallback=127.0.0.1:8080 gate\nvirtual=192.0.2.1:80\n");
    let sc = only_service(&c);
    let d: Vec<(String, u16, u32)> = sc
        .dests
        .values()
        .map(|d| (d.addr.to_string(), d.port, d.weight))
        .collect();
    assert_eq!(
        d,
        [("127.0.0.1".into(), 80, 1)],
        "gate fallback stored on the service port"
    );
    // checktype=off, quiescent=no: reals absent, fallback present.
    let c = ok_clean("virtual=192.0.2.1:80\n    real=198.51.100.1 gate\n    fallback=127.0.0.1:80\n    checktype=off\n");
    let d: Vec<String> = only_service(&c)
        .dests
        .values()
        .map(|d| d.addr.to_string())
        .collect();
    assert_eq!(d, ["127.0.0.1"]);
    // checktype=off, quiescent=yes: reals at weight 0 plus the fallback.
    let c = ok_clean("virtual=192.0.2.1:80\n    real=198.51.100.1 gate 5\n    fallback=127.0.0.1:80\n    checktype=off\n    quiescent=yes\n");
    let d: Vec<(String, u32)> = only_service(&c)
        .dests
        .values()
        .map(|d| (d.addr.to_string(), d.weight))
        .collect();
    assert_eq!(d, [("127.0.0.1".into(), 1), ("198.51.100.1".into(), 0)]);
}

#[test]
fn table_has_one_service_per_virtual() {
    let c =
        ok_clean("virtual=192.0.2.1:80\nvirtual=192.0.2.1:443\nvirtual=192.0.2.1:53\nvirtual=9\n");
    let t = desired_table(&c);
    assert_eq!(t.services.len(), 4);
    for (k, sc) in &t.services {
        assert_eq!(*k, sc.service.key);
        assert_eq!(sc.service.scheduler, "wrr");
    }
}

// ------------------------------------------------------------------ configs/

fn configs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

/// Every ldirectord file in configs/ loads without errors through the system resolver
/// (numeric addresses and standard port names only, so /etc/services is enough).
#[test]
fn configs_parse() {
    let dir = configs_dir();
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "cf") && p.file_name().is_some_and(|n| n != "ha.cf")
        })
        .collect();
    entries.sort();
    for path in entries {
        let r = load(&path, &resolver());
        match r {
            Ok((c, w)) => {
                assert!(w.is_empty(), "{}: warnings {w:#?}", path.display());
                assert!(
                    !c.virtuals.is_empty(),
                    "{}: no virtual services",
                    path.display()
                );
                let t = desired_table(&c);
                assert_eq!(t.services.len(), c.virtuals.len());
            }
            Err(e) => panic!("{}:\n{e}", path.display()),
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} ldirectord files in configs/");
}

#[test]
fn configs_www_is_the_seed() {
    // The same service as the seed, three header lines further down.
    let shift = |mut c: Config, by: usize| {
        for v in &mut c.virtuals {
            v.line += by;
            for r in &mut v.reals {
                r.line += by;
            }
        }
        c
    };
    for name in ["www.cf", "ldirectord.cf"] {
        let (c, _) = load(&configs_dir().join(name), &resolver()).unwrap();
        assert_eq!(c, shift(ok_clean(SEED_WWW), 3), "{name}");
    }
}

#[test]
fn load_missing_file_names_it() {
    let e = load(std::path::Path::new("/nonexistent/www.cf"), &resolver()).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .starts_with("/nonexistent/www.cf: can not open file"),
        "{}",
        e[0]
    );
}

#[test]
fn load_opens_every_monitorfile_and_reports_each_that_cannot_be() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mon.log");
    let text = format!(
        "virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tmonitorfile=\"{}\"\n\n\
         virtual=192.0.2.1:81\n\treal=192.0.2.2:81 gate\n\tmonitorfile=/nonexistent/a.log\n\n\
         virtual=192.0.2.1:82\n\treal=192.0.2.2:82 gate\n\tmonitorfile=/nonexistent/b.log\n",
        good.display()
    );
    let cf = dir.path().join("m.cf");
    std::fs::write(&cf, &text).unwrap();
    let e = load(&cf, &resolver()).unwrap_err();
    let errors: Vec<String> = e.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].ends_with(":7: unable to open monitorfile /nonexistent/a.log: No such file or directory (os error 2)"),
        "{errors:#?}"
    );
    assert!(errors[1].contains(":11: unable to open monitorfile /nonexistent/b.log"));
    // opened for append: created, and the content is kept
    assert!(good.exists());
    std::fs::write(&good, "kept\n").unwrap();
    let fixed = text.replace("/nonexistent/a.log", good.to_str().unwrap());
    let fixed = fixed.replace("/nonexistent/b.log", good.to_str().unwrap());
    std::fs::write(&cf, fixed).unwrap();
    let (c, _) = load(&cf, &resolver()).unwrap();
    assert_eq!(c.virtuals[0].monitorfile.as_ref().map(|m| m.line), Some(3));
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "kept\n");
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = parse(&text, "p.cf", &resolver());
    }

    #[test]
    fn parse_never_panics_on_config_like_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("virtual=192.0.2.1:80".to_string()),
                Just("virtual6=[2001:db8::1]:80".to_string()),
                Just("virtual=5".to_string()),
                Just("".to_string()),
                "[ \t]{0,6}(real|real6|fallback|scheduler|checktype|request|receive|netmask|persistent|quiescent|service|protocol|checkport|virtualhost|emailalertstatus|schedflags)[ ]?=[ ]?[ -~]{0,30}",
                "(checktimeout|negotiatetimeout|fallback|fallback6|quiescent|logfile|callback|emailalert|supervised|execute)[ ]?=[ ]?[ -~\u{201d}]{0,30}( #.*)?\r?",
                "[ \t]{0,6}real[ ]?=[ ]?[0-9.]{1,15}(->[0-9.]{1,15})?(:[0-9a-z]{1,6})? (gate|masq|ipip|x)( [0-9]{1,6})?( \"[^\"]{0,5}\"[, ]\"[^\"]{0,5}\")?( l:[0-9]{1,3})?( u:[0-9]{1,3})?",
            ],
            0..24,
        )
    ) {
        let text = lines.join("\n");
        match parse(&text, "p.cf", &resolver()) {
            Ok((c, w)) => {
                prop_assert!(w.iter().all(|d| !d.is_error()));
                let t = desired_table(&c);
                prop_assert_eq!(t.services.len(), c.virtuals.len());
            }
            Err(e) => prop_assert!(e.iter().any(|d| d.is_error() && d.line > 0)),
        }
    }
}

#[test]
fn tlsverify_is_chain_yes_or_no_globally_or_per_virtual() {
    let e = errors("tlsverify=maybe\nvirtual=192.0.2.1:443\n    real=198.51.100.1:443 gate\n    service=https\n    tlsverify=\n");
    let lines: Vec<usize> = e.iter().map(|d| d.line).filter(|l| *l > 0).collect();
    assert_eq!(lines, vec![1, 5], "{e:#?}");
    assert!(e[0].message.contains("tlsverify must be chain"), "{e:#?}");
}

// ------------------------------------------------------------------ duplicates at scale

/// The quadratic `dedup_reals` the parser had until the hash map replaced it: the reference
/// the linear one must agree with.
fn dedup_reals_by_scan(reals: Vec<Real>) -> (Vec<Real>, Vec<(usize, String)>) {
    let mut warnings = Vec::new();
    let mut kept: Vec<Real> = Vec::with_capacity(reals.len());
    for r in reals {
        if let Some(pos) = kept
            .iter()
            .position(|k| k.addr == r.addr && k.port == r.port)
        {
            let prev = kept[pos].clone();
            let same = Real {
                line: prev.line,
                ..r.clone()
            } == prev;
            let addr = match r.addr {
                IpAddr::V6(a) => format!("[{a}]:{}", r.port),
                IpAddr::V4(a) => format!("{a}:{}", r.port),
            };
            if same {
                warnings.push((
                    r.line,
                    format!(
                        "real server {addr} already listed at line {}; listed once",
                        prev.line
                    ),
                ));
                continue;
            }
            warnings.push((
                r.line,
                format!(
                    "real server {addr} already listed at line {} with other settings; this \
                     line replaces it",
                    prev.line
                ),
            ));
            kept.remove(pos);
        }
        kept.push(r);
    }
    (kept, warnings)
}

/// Small domains, so that random lists hold many duplicates.
fn small_real() -> impl Strategy<Value = Real> {
    (
        prop_oneof![
            Just(ip("192.0.2.1")),
            Just(ip("192.0.2.2")),
            Just(ip("192.0.2.3")),
            Just(ip("2001:db8::1")),
        ],
        prop_oneof![Just(0u16), Just(80), Just(8080)],
        prop_oneof![Just(Method::Gate), Just(Method::Masq), Just(Method::Ipip)],
        0u32..3,
        proptest::option::of(Just("/x".to_string())),
        0u32..2,
    )
        .prop_map(|(addr, port, method, weight, request, upper)| Real {
            line: 0,
            addr,
            port,
            method,
            weight,
            receive: request.as_ref().map(|_| "ok".to_string()),
            request,
            lower: 0,
            upper,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// The linear dedup keeps the same reals in the same order, with the same warnings in the
    /// same order, as the scan it replaced.
    #[test]
    fn dedup_reals_agrees_with_the_quadratic_scan(
        reals in proptest::collection::vec(small_real(), 0..40)
    ) {
        let reals: Vec<Real> = reals
            .into_iter()
            .enumerate()
            .map(|(i, r)| Real { line: i + 2, ..r })
            .collect();
        prop_assert_eq!(
            super::parser::dedup_reals(reals.clone()),
            dedup_reals_by_scan(reals)
        );
    }

    /// Duplicate virtual services: each one after the first is an error at its own line that
    /// names the first definition, whatever the order.
    #[test]
    fn duplicate_virtuals_name_the_first_definition(
        picks in proptest::collection::vec(0usize..6, 0..30)
    ) {
        let forms = [
            "virtual=192.0.2.1:80",
            "virtual=192.0.2.1:www",
            "virtual=192.0.2.1:80\n    protocol=udp",
            "virtual=192.0.2.2:80",
            "virtual=5",
            "virtual6=5",
        ];
        // The same service, by index into `forms` (`:www` is `:80`).
        let identity = |i: usize| if i == 1 { 0 } else { i };
        let mut text = String::new();
        let mut line = 1;
        let mut want: Vec<(usize, usize)> = Vec::new();
        let mut first: Vec<(usize, usize)> = Vec::new();
        for &i in &picks {
            match first.iter().find(|(id, _)| *id == identity(i)) {
                Some(&(_, at)) => want.push((line, at)),
                None => first.push((identity(i), line)),
            }
            let form = forms[i];
            text.push_str(form);
            text.push_str("\n    scheduler=rr\n");
            line += form.lines().count() + 1;
        }
        let got: Vec<(usize, usize)> = match parse(&text, "d.cf", &resolver()) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors()
                .map(|d| {
                    let at = d
                        .message
                        .split("first defined at line ")
                        .nth(1)
                        .and_then(|s| s.trim_end_matches(')').parse().ok())
                        .unwrap_or(0);
                    (d.line, at)
                })
                .collect(),
        };
        prop_assert_eq!(got, want);
    }
}

/// Runs `f` on a thread and fails the test if it has not returned within `bound` (far above
/// what a linear parse needs even in a debug build on a busy machine; the quadratic one it
/// replaced needed minutes here).
fn within<T: Send + 'static>(
    bound: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(bound) {
        Ok(v) => v,
        Err(e) => panic!("not done within {bound:?}: {e}"),
    }
}

#[test]
fn four_full_ranges_of_reals_parse_in_linear_time() {
    let text = "virtual=192.0.2.1:80\n    real=10.0.0.0->10.0.255.255 gate\n    \
                real=10.1.0.0->10.1.255.255 gate\n    real=10.2.0.0->10.2.255.255 gate\n    \
                real=10.3.0.0->10.3.255.255 gate\n    real=10.0.0.1->10.0.0.2 gate 2\n";
    let (c, w) = within(std::time::Duration::from_secs(60), move || {
        parse(text, "big.cf", &resolver()).expect("parses")
    });
    let r = &vs(&c).reals;
    assert_eq!(r.len(), 4 * 65536);
    // The last line replaced two reals of the first range, which moved to the end.
    assert_eq!(r[r.len() - 1].addr, ip("10.0.0.2"));
    assert_eq!(r[r.len() - 1].weight, 2);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(warned(
        &w,
        6,
        "already listed at line 2 with other settings"
    ));
}

#[test]
fn a_hundred_thousand_virtuals_parse_in_linear_time() {
    let mut text = String::new();
    for i in 0u32..100_000 {
        let a = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        text.push_str(&format!("virtual={a}:80\n    real=192.0.2.2 gate\n"));
    }
    // One duplicate at the end: still found.
    text.push_str("virtual=10.0.0.7:80\n");
    let e = within(std::time::Duration::from_secs(60), move || {
        match parse(&text, "big.cf", &resolver()) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics,
        }
    });
    let errors: Vec<String> = e
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        errors,
        ["big.cf:200001: duplicate virtual server tcp:10.0.0.7:80 (first defined at line 15)"]
    );
}
