use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::Parsed;
use proptest::prelude::*;

fn ok(text: &str) -> Parsed<HaCf> {
    match parse(Path::new("ha.cf"), text) {
        Ok(p) => p,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("ha.cf"), text) {
        Ok(p) => panic!("expected errors, got {:?}", p.value),
        Err(e) => e.errors().map(ToString::to_string).collect(),
    }
}

const MIN: &str = "bcast eth1\nnode a\nnode b\nauto_failback on\n";

#[test]
fn times() {
    assert_eq!(parse_time("2"), Some(Duration::from_secs(2)));
    assert_eq!(parse_time("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_time("1500us"), Some(Duration::from_millis(2)));
    assert_eq!(parse_time("2000usec"), Some(Duration::from_millis(2)));
    assert_eq!(parse_time("2s"), None);
    assert_eq!(parse_time(""), None);
    assert_eq!(parse_time("ms"), None);
    assert_eq!(parse_time("-1"), None);
    assert_eq!(parse_time("1.2.3"), None);
    assert_eq!(parse_time("1e3"), None);
}

#[test]
fn booleans() {
    for t in ["true", "ON", "Yes", "y", "1"] {
        assert_eq!(parse_bool(t), Some(true));
    }
    for f in ["false", "off", "NO", "n", "0"] {
        assert_eq!(parse_bool(f), Some(false));
    }
    assert_eq!(parse_bool("maybe"), None);
}

#[test]
fn defaults() {
    let cf = ok(MIN).value;
    assert_eq!(cf.keepalive, Duration::from_secs(1));
    assert_eq!(cf.deadtime, Duration::from_secs(30));
    assert_eq!(cf.warntime, Duration::from_secs(15));
    assert_eq!(cf.initdead, Duration::from_secs(30));
    assert_eq!(cf.deadping, Duration::from_secs(30));
    assert_eq!(cf.udpport, 694);
    assert_eq!(
        cf.media,
        vec![Medium::Bcast {
            iface: "eth1".into(),
            port: 694
        }]
    );
    assert_eq!(cf.nodes, vec!["a", "b"]);
    assert_eq!(cf.auto_failback, AutoFailback::On);
}

#[test]
fn derived_initdead() {
    assert_eq!(
        default_initdead(Duration::from_secs(30)),
        Duration::from_secs(30)
    );
    assert_eq!(
        default_initdead(Duration::from_secs(3)),
        Duration::from_secs(12)
    );
    assert_eq!(
        default_initdead(Duration::from_secs(8)),
        Duration::from_secs(16)
    );
    let cf = ok(&format!("{MIN}keepalive 1\ndeadtime 3\n")).value;
    assert_eq!(cf.initdead, Duration::from_secs(12));
    assert_eq!(cf.warntime, Duration::from_millis(1500));
}

#[test]
fn the_seed_file_parses() {
    let text = "debugfile /var/log/ha-debug\nlogfile /var/log/ha-log\nlogfacility local0\n\
        bcast eth1 # the private link\nnode XD_Blog_Web_184_251#one per node\n\
        node XD_Blog_Web_184_145\nserial /dev/ttyS0\nwatchdog /dev/watchdog\n\
        keepalive 2\nwarntime 10\ndeadtime 30\ninitdead 120\nhopfudge 1\nbaud 19200\n\
        udpport 694\nnice_failback on\n\
        respawn hacluster /usr/lib/heartbeat/ipfail\nping 10.55.37.1\n\
        ping_group group1 10.55.37.2 10.55.37.3\n";
    let p = ok(text);
    let cf = p.value;
    assert_eq!(cf.nodes, vec!["xd_blog_web_184_251", "xd_blog_web_184_145"]);
    assert_eq!(cf.keepalive, Duration::from_secs(2));
    assert_eq!(cf.warntime, Duration::from_secs(10));
    assert_eq!(cf.initdead, Duration::from_secs(120));
    assert_eq!(cf.auto_failback, AutoFailback::Off);
    assert_eq!(cf.watchdog, Some(PathBuf::from("/dev/watchdog")));
    assert_eq!(
        cf.serial,
        vec![Serial {
            tty: "/dev/ttyS0".into(),
            baud: 19200
        }]
    );
    assert_eq!(cf.ping_nodes.len(), 2);
    assert_eq!(cf.ping_nodes[1].hosts.len(), 2);
    assert_eq!(cf.respawn[0].user, "hacluster");
    assert_eq!(
        cf.respawn[0].program,
        PathBuf::from("/usr/lib/heartbeat/ipfail")
    );
    assert_eq!(cf.logfacility.as_deref(), Some("local0"));
    let warnings: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("nice_failback is deprecated")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("serial links")),
        "{warnings:?}"
    );
}

#[test]
fn option_directives_split_on_commas_and_spaces() {
    let cf = ok("bcast eth0, eth1\nnode a,b c\nauto_failback off\n").value;
    assert_eq!(cf.nodes, vec!["a", "b", "c"]);
    assert_eq!(cf.media.len(), 2);
}

#[test]
fn media_forms() {
    let cf = ok(
        "udpport 1694\nmcast eth0 225.0.0.1 694 1 0\nmcast6 eth0 ff12::1 694 1 0\n\
         ucast eth0 192.0.2.12\nucast eth0 peer.example\nucast6 eth0 fe80::1%eth0\n\
         node a\nauto_failback on\n",
    )
    .value;
    assert_eq!(
        cf.media,
        vec![
            Medium::Mcast {
                iface: "eth0".into(),
                group: Ipv4Addr::new(225, 0, 0, 1),
                port: 694,
                ttl: 1,
                looped: false
            },
            Medium::Mcast6 {
                iface: "eth0".into(),
                group: "ff12::1".parse().unwrap(),
                port: 694,
                hops: 1,
                looped: false
            },
            Medium::Ucast {
                iface: "eth0".into(),
                peer: Host::Ip("192.0.2.12".parse().unwrap()),
                port: 1694
            },
            Medium::Ucast {
                iface: "eth0".into(),
                peer: Host::Name("peer.example".into()),
                port: 1694
            },
            Medium::Ucast6 {
                iface: "eth0".into(),
                peer: "fe80::1".parse().unwrap(),
                scope: Some("eth0".into()),
                port: 1694
            },
        ]
    );
}

#[test]
fn udpport_applies_to_later_media_only() {
    let p = ok("bcast eth0\nudpport 700\nbcast eth1\nnode a\nauto_failback on\n");
    assert_eq!(
        p.value.media,
        vec![
            Medium::Bcast {
                iface: "eth0".into(),
                port: 694
            },
            Medium::Bcast {
                iface: "eth1".into(),
                port: 700
            }
        ]
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| w.line == 2 && w.message.contains("udpport after")));
}

#[test]
fn every_error_is_collected_with_its_line() {
    let errs = errors("keepalive 2s\nfoo bar\nbcast\nmcast eth0 1.2.3.4 694 1 0\nnode a\nucast eth0\ncrm on\nautojoin any\n");
    assert_eq!(errs.len(), 8, "{errs:?}");
    assert!(errs[0].starts_with("ha.cf:1: keepalive: invalid time [2s]"));
    assert_eq!(errs[1], "ha.cf:2: illegal directive [foo]");
    assert!(errs[2].starts_with("ha.cf:3: directive bcast needs a value"));
    assert!(errs[3].starts_with("ha.cf:4: mcast: [1.2.3.4] is not an IPv4 multicast"));
    assert!(errs[4].starts_with("ha.cf:6: ucast: expected"));
    assert!(errs[5].starts_with("ha.cf:7: crm on is not supported"));
    assert!(errs[6].starts_with("ha.cf:8: autojoin any"));
}

#[test]
fn crm_off_is_accepted() {
    ok(&format!("{MIN}crm off\n"));
    ok(&format!("{MIN}pacemaker no\n"));
}

#[test]
fn deadtime_must_exceed_twice_keepalive() {
    let errs = errors(&format!("{MIN}keepalive 2\ndeadtime 4\n"));
    assert!(
        errs.iter()
            .any(|e| e.starts_with("ha.cf:6: Dead time [4000 ms] is too small")),
        "{errs:?}"
    );
    ok(&format!(
        "{MIN}keepalive 500ms\ndeadtime 1.5\ninitdead 12\n"
    ));
}

#[test]
fn initdead_below_deadtime_is_an_error_and_below_10s_a_warning() {
    let errs = errors(&format!("{MIN}deadtime 30\ninitdead 20\n"));
    assert!(
        errs.iter()
            .any(|e| e.contains("initdead [20000 ms] must not be less")),
        "{errs:?}"
    );
    let p = ok(&format!("{MIN}keepalive 1\ndeadtime 3\ninitdead 5\n"));
    assert!(p.warnings.iter().any(|w| w.message.contains("below 10 s")));
}

#[test]
fn warntime_checks() {
    let errs = errors(&format!("{MIN}keepalive 2\nwarntime 1\n"));
    assert!(errs
        .iter()
        .any(|e| e.contains("warntime [1000 ms] must be greater than keepalive")));
    let p = ok(&format!("{MIN}warntime 40\n"));
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no Late heartbeat")));
}

#[test]
fn missing_media_and_nodes() {
    let errs = errors("auto_failback on\n");
    assert!(errs
        .iter()
        .any(|e| e == "ha.cf: no communication media configured (bcast, mcast, ucast, ...)"));
    assert!(errs.iter().any(|e| e.contains("no node directive")));
}

#[test]
fn ignored_directives_warn() {
    let p = ok(&format!(
        "{MIN}realtime on\napiauth ipfail uid=hacluster\nmsgfmt netstring\n"
    ));
    let w: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.message.contains("ignored by director"))
        .collect();
    assert_eq!(w.len(), 2);
}

#[test]
fn directives_that_do_not_apply_warn_at_their_line() {
    let p = ok(&format!(
        "{MIN}hopfudge 2\nuse_logd yes\nuse_logd no\ndebug 3\nlogfile /var/log/ha-log\n"
    ));
    let w: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.starts_with("ha.cf:5: warning: directive hopfudge is ignored by director")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.starts_with("ha.cf:6: warning: use_logd yes is ignored by director")),
        "{w:?}"
    );
    // Honoured: no warning for debug, logfile, use_logd no.
    assert!(
        !w.iter().any(|w| w.starts_with("ha.cf:7:")
            || w.starts_with("ha.cf:8:")
            || w.starts_with("ha.cf:9:")),
        "{w:?}"
    );
    assert_eq!((p.value.hopfudge, p.value.debug), (2, 3));
    assert_eq!(p.value.logfile, Some(PathBuf::from("/var/log/ha-log")));
    let p = ok(&format!("{MIN}baud 38400\n"));
    assert!(p.warnings.iter().any(|w| w.line == 5
        && w.message == "directive baud is ignored by director: serial links are not used"));
}

#[test]
fn realtime_and_rtprio_are_honoured() {
    let on = ok(MIN).value;
    assert!(on.realtime);
    assert_eq!(on.rtprio, None);
    let off = ok(&format!("{MIN}realtime off\nrtprio 20\n")).value;
    assert!(!off.realtime);
    assert_eq!(off.rtprio, Some(20));
    let bad = errors(&format!("{MIN}rtprio 200\n"));
    assert!(bad.iter().any(|e| e.contains("rtprio: [200]")), "{bad:?}");
}

#[test]
fn auto_failback_modes() {
    assert_eq!(
        ok("bcast e\nnode a\nauto_failback off\n")
            .value
            .auto_failback,
        AutoFailback::Off
    );
    let p = ok("bcast e\nnode a\nauto_failback legacy\n");
    assert_eq!(p.value.auto_failback, AutoFailback::Legacy);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("Deprecated 'legacy'")));
    let p = ok("bcast e\nnode a\n");
    assert_eq!(p.value.auto_failback, AutoFailback::Legacy);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("auto_failback not set")));
    assert_eq!(
        ok("bcast e\nnode a\nnice_failback off\n")
            .value
            .auto_failback,
        AutoFailback::On
    );
    assert_eq!(
        ok("bcast e\nnode a\nnice_failback on\nauto_failback on\n")
            .value
            .auto_failback,
        AutoFailback::On
    );
    assert!(!errors("bcast e\nnode a\nauto_failback sometimes\n").is_empty());
}

#[test]
fn once_only_directives() {
    let errs = errors(&format!(
        "{MIN}watchdog /dev/watchdog\nwatchdog /dev/watchdog\nbaud 9600\nbaud 9600\n"
    ));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(!errors(&format!("{MIN}baud 1234\n")).is_empty());
}

#[test]
fn respawn_and_stonith() {
    let cf = ok(&format!(
        "{MIN}respawn hacluster /usr/libexec/heartbeat/ipfail -x\nstonith_host * external/ssh a b\nstonith baytech /etc/ha.d/conf/stonith.baytech\n"
    ))
    .value;
    assert_eq!(cf.respawn[0].command, "/usr/libexec/heartbeat/ipfail -x");
    assert_eq!(cf.stonith.len(), 2);
    assert_eq!(
        cf.stonith[0],
        Stonith::Host {
            from: "*".into(),
            kind: "external/ssh".into(),
            params: vec!["a".into(), "b".into()],
            line: 6
        }
    );
    assert!(cf.stonith[0].applies_to("a") && cf.stonith[1].applies_to("a"));
    assert_eq!((cf.stonith[1].kind(), cf.stonith[1].line()), ("baytech", 7));
    let only_b = ok(&format!("{MIN}stonith_host B null a b\n")).value;
    assert!(only_b.stonith[0].applies_to("b") && !only_b.stonith[0].applies_to("a"));
    assert!(!errors(&format!("{MIN}respawn hacluster ipfail\n")).is_empty());
    assert!(!errors(&format!("{MIN}respawn hacluster\n")).is_empty());
}

#[test]
fn ping_directives() {
    let cf = ok(&format!(
        "{MIN}ping 192.0.2.1 192.0.2.2\nping_group g 198.51.100.1,198.51.100.2\n"
    ))
    .value;
    assert_eq!(cf.ping_nodes.len(), 3);
    assert_eq!(cf.ping_nodes[2].name, "g");
    assert!(!errors(&format!("{MIN}ping 999.1.1.1\n")).is_empty());
    assert!(!errors(&format!("{MIN}ping_group g\n")).is_empty());
}

proptest! {
    #[test]
    fn never_panics(text in ".*") {
        let _ = parse(Path::new("ha.cf"), &text);
    }

    #[test]
    fn never_panics_on_directive_soup(lines in proptest::collection::vec(
        (proptest::sample::select(vec![
            "keepalive", "deadtime", "warntime", "initdead", "deadping", "udpport", "bcast",
            "mcast", "mcast6", "ucast", "ucast6", "serial", "baud", "node", "ping",
            "ping_group", "respawn", "auto_failback", "nice_failback", "watchdog", "crm",
            "autojoin", "env", "stonith", "stonith_host", "hopfudge", "logfacility"]),
         "[ -~]{0,40}"), 0..12)) {
        let text: String = lines.iter().map(|(d, r)| format!("{d} {r}\n")).collect();
        let _ = parse(Path::new("ha.cf"), &text);
    }

    #[test]
    fn time_round_trips_ms(ms in 0u64..10_000_000) {
        prop_assert_eq!(parse_time(&format!("{ms}ms")), Some(Duration::from_millis(ms)));
    }
}
