use std::path::Path;
use std::time::Duration;

use super::*;

fn parsed(text: &str) -> Result<Settings, String> {
    parse(Path::new("director.conf"), text)
        .map(|p| p.value)
        .map_err(|e| e.to_string())
}

#[test]
fn empty_file_and_empty_table_give_the_defaults() {
    assert_eq!(parsed(""), Ok(Settings::default()));
    assert_eq!(parsed("# nothing\n[monitor]\n"), Ok(Settings::default()));
    let m = Settings::default().monitor;
    assert!(m.enabled);
    assert_eq!(
        (m.interval, m.restarts, m.window),
        (Duration::from_secs(10), 3, Duration::from_secs(600))
    );
}

#[test]
fn every_key_is_read() {
    let s =
        parsed("[monitor]\nenabled = false\ninterval = \"500ms\"\nrestarts = 5\nwindow = \"1h\"\n")
            .unwrap();
    assert_eq!(
        s.monitor,
        Monitor {
            enabled: false,
            interval: Duration::from_millis(500),
            restarts: 5,
            window: Duration::from_secs(3600),
        }
    );
}

#[test]
fn the_peer_protocol_is_read() {
    assert_eq!(Settings::default().peer.protocol, Protocol::Director);
    let s = parsed("[peer]\nprotocol = \"heartbeat\"\n").unwrap();
    assert_eq!(s.peer.protocol, Protocol::Heartbeat);
    let s = parsed("[peer]\nprotocol = \"director\"\n").unwrap();
    assert_eq!(s.peer.protocol, Protocol::Director);
    let e = parsed("[peer]\nprotocol = \"keepalived\"\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:2: unknown variant `keepalived`"),
        "{e}"
    );
}

#[test]
fn durations_need_a_whole_number_and_a_unit() {
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration(" 10 min "), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert!(parse_duration("10").unwrap_err().contains("\"10s\""));
    for bad in ["", "s", "1.5s", "10m", "-1s", "10 sec", "99999999999h"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    for d in ["500ms", "2s", "10min", "1h"] {
        assert_eq!(words(parse_duration(d).unwrap()), d);
    }
}

/// Unknown keys and tables are refused at their line (as hickory-dns does in a test).
#[test]
fn unknown_keys_and_tables_are_errors_with_their_line() {
    let e = parsed("[monitor]\ninterval = \"2s\"\nretries = 3\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:3: unknown field `retries`"),
        "{e}"
    );
    let e = parsed("# c\n\n[monitr]\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:3: unknown field `monitr`"),
        "{e}"
    );
    let e = parsed("[monitor]\nrestarts = \"3\"\n").unwrap_err();
    assert!(e.starts_with("director.conf:2: invalid type"), "{e}");
    let e = parsed("[monitor]\n\ninterval = 10\n").unwrap_err();
    assert!(e.starts_with("director.conf:3: invalid type"), "{e}");
    let e = parsed("[monitor]\nwindow = \"10\"\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:2: invalid duration \"10\": a unit is needed"),
        "{e}"
    );
    let e = parsed("[monitor\n").unwrap_err();
    assert!(e.starts_with("director.conf:1: "), "{e}");
}

#[test]
fn value_checks_report_every_problem() {
    let e = parsed("[monitor]\ninterval = \"50ms\"\nwindow = \"20ms\"\n").unwrap_err();
    assert_eq!(
        e,
        "director.conf:2: monitor: interval 50ms is too short: at least 100ms\n\
         director.conf:3: monitor: window 20ms is shorter than interval 50ms: no two \
         failures would ever count together"
    );
    // A long interval against the default window: the interval's line.
    let e = parsed("[monitor]\ninterval = \"1h\"\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:2: monitor: window 10min"),
        "{e}"
    );
}

#[test]
fn the_sync_section_is_read_and_checked() {
    assert_eq!(
        Settings::default().sync.catch_up_timeout,
        Duration::from_secs(2)
    );
    let s = parsed("[sync]\nenabled = false\ninterface = \"eth1\"\ncatch_up_timeout = \"500ms\"\n")
        .unwrap();
    assert_eq!(
        s.sync,
        Sync {
            enabled: false,
            interface: Some("eth1".into()),
            catch_up_timeout: Duration::from_millis(500),
        }
    );
    assert_eq!(
        parsed("[sync]\ncatch_up_timeout = \"0s\"\n")
            .unwrap()
            .sync
            .catch_up_timeout,
        Duration::ZERO
    );
    let e = parsed("[sync]\ninterface = \"eth 1\"\n\ncatch_up_timeout = \"2min\"\n").unwrap_err();
    assert_eq!(
        e,
        "director.conf:2: sync: interface \"eth 1\" is not a valid interface name\n\
         director.conf:4: sync: catch_up_timeout 2min is too long: at most 1min (the \
         group is down while it waits)"
    );
    let e = parsed("[sync]\nsyncid = 3\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:2: unknown field `syncid`"),
        "{e}"
    );
}

#[test]
fn the_admin_section_is_read_and_checked() {
    assert_eq!(Settings::default().admin, Admin::default());
    assert!(!Admin::default().enabled);
    let s = parsed("[admin]\nenabled = true\ntoken_file = \"/etc/ha.d/admin.token\"\n").unwrap();
    assert_eq!(
        s.admin,
        Admin {
            enabled: true,
            token_file: Some("/etc/ha.d/admin.token".into()),
        }
    );
    assert_eq!(
        parsed("[admin]\ntoken_file = \"admin.token\"\n").unwrap_err(),
        "director.conf:2: admin: token_file \"admin.token\" is not an absolute path"
    );
}

#[test]
fn the_drain_section_is_read_and_checked() {
    let d = Settings::default().drain;
    assert_eq!((d.timeout, d.on_removal), (Duration::from_secs(300), false));
    let s = parsed("[drain]\ntimeout = \"30s\"\non_removal = true\n").unwrap();
    assert_eq!(
        s.drain,
        Drain {
            timeout: Duration::from_secs(30),
            on_removal: true,
        }
    );
    assert_eq!(
        parsed("[drain]\n\ntimeout = \"500ms\"\n").unwrap_err(),
        "director.conf:3: drain: timeout must be at least 1s (a drain that does not wait is a \
         disable)"
    );
    assert!(parsed("[drain]\nwait = \"1s\"\n")
        .unwrap_err()
        .starts_with("director.conf:2:"));
}

#[test]
fn the_announce_section_is_read_and_checked() {
    let d = Settings::default().announce;
    assert!(!d.enabled);
    assert_eq!(d.socket, std::path::PathBuf::from("/run/bird/bird.ctl"));
    let s = parsed(
        "[announce]\nenabled = true\nfile = \"/etc/bird/vips.conf\"\nsocket = \"/run/b.ctl\"\n\
         protocol = \"lb_vips\"\ntimeout = \"5s\"\n",
    )
    .unwrap();
    assert_eq!(
        s.announce,
        Announce {
            enabled: true,
            file: "/etc/bird/vips.conf".into(),
            socket: "/run/b.ctl".into(),
            protocol: "lb_vips".into(),
            timeout: Duration::from_secs(5),
        }
    );
    let e = parsed("[announce]\nfile = \"vips.conf\"\nprotocol = \"4vips\"\ntimeout = \"10ms\"\n")
        .unwrap_err();
    assert_eq!(
        e,
        "director.conf:2: announce: file \"vips.conf\" is not an absolute path\n\
         director.conf:3: announce: protocol \"4vips\" is not a BIRD name (letters, digits \
         and _, starting with a letter)\n\
         director.conf:4: announce: timeout 10ms is out of range (100ms to 1min)"
    );
}

#[test]
fn tracks_are_read_with_keepalived_defaults() {
    let s = parsed(
        "[track.script.chk_nginx]\nscript = \"pidof nginx\"\ninterval = \"2s\"\nfall = 3\n\
         rise = 2\nweight = 10\n\n[track.script.a]\nscript = \"true\"\n\n\
         [track.interface.eth1]\nweight = 5\n",
    )
    .unwrap();
    let names: Vec<&str> = s.tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "chk_nginx", "eth1"]);
    assert_eq!(
        s.tracks[1],
        Track {
            name: "chk_nginx".into(),
            probe: Probe::Script {
                command: "pidof nginx".into(),
                timeout: Duration::from_secs(2),
            },
            interval: Duration::from_secs(2),
            fall: 3,
            rise: 2,
            weight: 10,
            line: 1,
        }
    );
    // keepalived's defaults: every second, the timeout is the interval, fall and rise 1.
    let a = &s.tracks[0];
    assert_eq!(
        (a.interval, a.fall, a.rise, a.weight, a.line),
        (Duration::from_secs(1), 1, 1, 1, 8)
    );
    assert_eq!(
        a.probe,
        Probe::Script {
            command: "true".into(),
            timeout: Duration::from_secs(1)
        }
    );
    assert_eq!(s.tracks[2].probe, Probe::Interface);
    assert_eq!((s.tracks[2].weight, s.tracks[2].line), (5, 11));
    assert_eq!(s.tracks[2].words(), "track interface eth1");
    // A quoted name, spaces in the header: still its header's line.
    let s = parsed("# x\n[ track . script . \"chk 1\" ]\nscript = \"true\"\n").unwrap();
    assert_eq!((s.tracks[0].name.as_str(), s.tracks[0].line), ("chk 1", 2));
}

#[test]
fn track_values_are_checked_at_their_line() {
    let e = parsed(
        "[track.script.x]\nscript = \" \"\nfall = 0\nweight = 128\ntimeout = \"5ms\"\n\
         [track.interface.\"eth 0\"]\nrise = 256\n",
    )
    .unwrap_err();
    assert_eq!(
        e,
        "director.conf:2: track script x: script is empty\n\
         director.conf:3: track script x: fall 0 is out of range (1 to 255)\n\
         director.conf:4: track script x: weight 128 is out of range (1 to 127)\n\
         director.conf:5: track script x: timeout 5ms is out of range (10ms to 1h)\n\
         director.conf:6: track interface eth 0: not a valid interface name\n\
         director.conf:7: track interface eth 0: rise 256 is out of range (1 to 255)"
    );
    let e = parsed("[track.script.x]\ninterval = \"1s\"\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:1: missing field `script`"),
        "{e}"
    );
    let e = parsed("[track.script.x]\nscript = \"true\"\nuser = \"nobody\"\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:3: unknown field `user`"),
        "{e}"
    );
    let e = parsed("[track]\nfile = 1\n").unwrap_err();
    assert!(
        e.starts_with("director.conf:2: unknown field `file`"),
        "{e}"
    );
}

#[test]
fn notify_tables_are_read_in_order_and_checked() {
    let s = parsed(
        "[[notify]]\ncommand = \"/etc/ha.d/notify.sh\"\n\n[[notify]]\ngroup = \"IPaddr2::192.0.2.1\"\n\
         name = \"VI_1\"\nmaster = \"/m\"\nbackup = \"/b\"\nfault = \"/f\"\nstop = \"/s\"\n\
         timeout = \"5s\"\n",
    )
    .unwrap();
    assert_eq!(s.notify.len(), 2);
    assert_eq!(s.notify[0].command.as_deref(), Some("/etc/ha.d/notify.sh"));
    assert_eq!(
        (
            s.notify[0].group.as_deref(),
            s.notify[0].timeout,
            s.notify[0].line
        ),
        (None, Duration::from_secs(30), 1)
    );
    assert_eq!(
        s.notify[1],
        Notify {
            group: Some("IPaddr2::192.0.2.1".into()),
            name: Some("VI_1".into()),
            master: Some("/m".into()),
            backup: Some("/b".into()),
            fault: Some("/f".into()),
            stop: Some("/s".into()),
            command: None,
            timeout: Duration::from_secs(5),
            line: 4,
        }
    );
    let e = parsed("[[notify]]\ngroup = \"x\"\n\n[[notify]]\nmaster = \"/m\"\nname = \"a b\"\ntimeout = \"2h\"\n")
        .unwrap_err();
    assert_eq!(
        e,
        "director.conf:1: notify: no command: set master, backup, fault, stop or command\n\
         director.conf:4: notify: name must be one word (it is one argument)\n\
         director.conf:7: notify: timeout 2h is out of range (100ms to 1h)"
    );
}

#[test]
fn the_failback_hold_is_read_and_checked() {
    assert_eq!(Settings::default().failback.hold, Duration::ZERO);
    let s = parsed("[failback]\nhold = \"30s\"\n").unwrap();
    assert_eq!(s.failback.hold, Duration::from_secs(30));
    let e = parsed("[failback]\n\nhold = \"2h\"\n").unwrap_err();
    assert_eq!(
        e,
        "director.conf:3: failback: hold 2h is too long: at most 1h"
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(text in ".*") {
        let _ = parse(Path::new("director.conf"), &text);
    }

    #[test]
    fn durations_round_trip(n in 1u32..100_000, unit in 0usize..4) {
        let u = ["ms", "s", "min", "h"][unit];
        let d = parse_duration(&format!("{n}{u}")).unwrap();
        proptest::prop_assert_eq!(parse_duration(&words(d)), Ok(d));
    }
}

/// configs/director.conf loads, and so do its commented examples once uncommented.
#[test]
fn the_sample_and_its_commented_examples_load() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/director.conf");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(parsed(&text).is_ok(), "{:?}", parsed(&text));
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest)
                if rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
            {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let s = parsed(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    assert_eq!(s.tracks.len(), 2);
    assert_eq!(s.notify.len(), 1);
}

/// The fuzz target's property on the seeds: a refused file names lines it has.
#[test]
fn errors_name_lines_of_the_file() {
    for text in [
        "[track.script.x]\n",
        "[track.script.x]\nscript = \"\"\n[[notify]]\n",
        "[[notify]]",
        "[failback]\nhold = \"2h\"",
        // Found by the fuzz target: an unterminated string at the end of the file.
        "[track.script.x]\nscript = \"\"\"x\n",
    ] {
        let e = parse(Path::new("director.conf"), text).unwrap_err();
        let lines = text.lines().count();
        assert!(e.diagnostics.iter().all(|d| d.line <= lines.max(1)), "{e}");
    }
}
#[test]
fn service_tables_are_read() {
    let s = parsed(
        "[[service]]\nfile = \"www.cf\"\nvirtual = \"192.0.2.132:80\"\nquorum = 3\nhysteresis = 1\n\
         quorum_up = \"/bin/up\"\nquorum_down = \"/bin/down\"\n\
         [[service.url]]\npath = \"/a\"\nstatus_code = \"200-299 302\"\n\
         digest = \"D5D2FF66A8F30775DF81B68C7AB2F9A4\"\n\
         [[service.url]]\npath = \"/b\"\nstatus_code = 204\n\
         [[service]]\nfile = \"dns\"\nvirtual = \"[2001:db8::1]:53\"\nprotocol = \"udp\"\nhysteresis = 2\n\
         [[service]]\nfile = \"mail\"\nvirtual = \"7\"\n",
    )
    .unwrap();
    assert_eq!(s.services.len(), 3);
    let www = &s.services[0];
    assert_eq!((www.line, www.file.as_str()), (3, "www.cf"));
    assert_eq!(www.target, Target::Addr("192.0.2.132:80".parse().unwrap()));
    assert_eq!(
        www.extra.quorum,
        Some(Quorum {
            quorum: 3,
            hysteresis: 1
        })
    );
    assert_eq!(www.extra.quorum_up.as_deref(), Some("/bin/up"));
    assert_eq!(www.extra.quorum_down.as_deref(), Some("/bin/down"));
    let pages: Vec<String> = www
        .extra
        .pages
        .iter()
        .map(|p| {
            format!(
                "{} {} {:?}",
                p.path,
                p.status,
                p.digest.map(|d| d.to_string())
            )
        })
        .collect();
    assert_eq!(
        pages,
        [
            "/a 200-299 302 Some(\"d5d2ff66a8f30775df81b68c7ab2f9a4\")",
            "/b 204 None"
        ]
    );
    let dns = &s.services[1];
    assert_eq!(dns.protocol, Some(ServiceProtocol::Udp));
    // Any quorum key sets keepalived's defaults for the others.
    assert_eq!(
        dns.extra.quorum,
        Some(Quorum {
            quorum: 1,
            hysteresis: 2
        })
    );
    assert_eq!(s.services[2].target, Target::Fwmark(7));
    assert_eq!(s.services[2].extra, ServiceExtra::default());
}

#[test]
fn service_table_errors_name_their_line() {
    let e = parsed(
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1\"\n\
         [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\nquorum = 0\nquorum_up = \" \"\n\
         [[service.url]]\npath = \"/\"\nstatus_code = \"700\"\n\
         [[service.url]]\npath = \"/\"\ndigest = \"abc\"\n\
         [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n",
    )
    .unwrap_err();
    for want in [
        "director.conf:3: service: virtual \"192.0.2.1\" is neither",
        "director.conf:7: service: quorum must be at least 1",
        "director.conf:8: service: quorum_up is empty",
        "director.conf:11: service: status code 700",
        "director.conf:14: service: digest abc",
        "director.conf:17: service: www 192.0.2.1:80 is already set at line 6",
    ] {
        assert!(e.contains(want), "{want} not in:\n{e}");
    }
    let e = parsed("[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\nweight = 2\n")
        .unwrap_err();
    assert!(e.starts_with("director.conf:"), "{e}");
    assert!(e.contains("unknown field `weight`"), "{e}");
    let e = parsed("[[service]]\nvirtual = \"192.0.2.1:80\"\n").unwrap_err();
    assert!(e.contains("missing field `file`"), "{e}");
}

#[test]
fn further_checks_of_a_service_are_read_and_checked() {
    let s = parsed(
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n\
         [[service.check]]\nchecktype = \"connect\"\nport = 8080\ntimeout = \"3s\"\n\
         [[service.check]]\nchecktype = \"negotiate\"\nservice = \"https\"\nport = 443\n\
         [[service.check.url]]\npath = \"/health\"\nstatus_code = 200\n\
         [[service.check]]\nchecktype = \"external\"\ncommand = \"/usr/local/bin/ok\"\n",
    )
    .unwrap();
    let checks = &s.services[0].extra.checks;
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0].checktype, healthcheck::spec::CheckType::Connect);
    assert_eq!(
        (checks[0].port, checks[0].timeout),
        (Some(8080), Some(Duration::from_secs(3)))
    );
    assert_eq!(checks[1].service, Some(healthcheck::spec::Service::Https));
    assert_eq!(checks[1].pages[0].path, "/health");
    assert_eq!(
        checks[2].checktype,
        healthcheck::spec::CheckType::External {
            cmd: "/usr/local/bin/ok".into()
        }
    );
    let e = parsed(
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n\
         [[service.check]]\nchecktype = \"negotiate\"\n\
         [[service.check]]\nchecktype = \"external\"\n\
         [[service.check]]\nchecktype = \"tcp\"\n\
         [[service.check]]\nchecktype = \"negotiate\"\nservice = \"gopher\"\n\
         [[service.check]]\nchecktype = \"connect\"\n[[service.check.url]]\npath = \"/\"\n",
    )
    .unwrap_err();
    for want in [
        "director.conf:5: service: check: a negotiate check needs its service",
        "director.conf:7: service: check: an external check needs its command",
        "director.conf:9: service: check: checktype \"tcp\"",
        "director.conf:12: service: check: unknown service \"gopher\"",
        "director.conf:14: service: check: url is for a negotiate check of http or https",
    ] {
        assert!(e.contains(want), "{want} not in:\n{e}");
    }
}

#[test]
fn an_error_at_the_end_of_the_file_names_its_last_line() {
    // A fuzzer's find (tests/fuzz director_conf): TOML reports this one past the last newline.
    let data = include_bytes!("testdata/error-at-the-end");
    let text = String::from_utf8_lossy(data);
    let e = parse(Path::new("director.conf"), &text).unwrap_err();
    let last = text.lines().count();
    assert!(e.diagnostics.iter().all(|d| d.line <= last), "{e}");
    assert_eq!(e.diagnostics[0].line, last, "{e}");
}

#[test]
fn a_services_tunnel_is_read() {
    let tunnel = |table: &str| {
        parsed(&format!(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n[service.tunnel]\n{table}"
        ))
        .map(|s| s.services[0].extra.tunnel)
    };
    assert_eq!(tunnel("type = \"ipip\"\n"), Ok(Some(Tunnel::Ipip)));
    assert_eq!(
        tunnel("type = \"gue\"\nport = 5555\n"),
        Ok(Some(Tunnel::Gue {
            port: 5555,
            checksum: Checksum::Nocsum
        }))
    );
    for (word, checksum) in [
        ("nocsum", Checksum::Nocsum),
        ("csum", Checksum::Csum),
        ("remcsum", Checksum::Remcsum),
    ] {
        assert_eq!(
            tunnel(&format!(
                "type = \"gue\"\nport = 6080\nchecksum = \"{word}\"\n"
            )),
            Ok(Some(Tunnel::Gue {
                port: 6080,
                checksum
            }))
        );
    }
    let s = parsed("[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n").unwrap();
    assert_eq!(s.services[0].extra.tunnel, None);
}

#[test]
fn tunnel_errors_name_their_line() {
    let e = parsed(
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n[service.tunnel]\ntype = \"gue\"\n\
         [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.2:80\"\n[service.tunnel]\ntype = \"ipip\"\n\
         port = 5555\nchecksum = \"csum\"\n\
         [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.3:80\"\n[service.tunnel]\ntype = \"gue\"\n\
         port = 0\n",
    )
    .unwrap_err();
    for want in [
        "director.conf:5: service: tunnel: type = \"gue\" needs the port",
        "director.conf:11: service: tunnel: port is for type = \"gue\"",
        "director.conf:12: service: tunnel: checksum is for type = \"gue\"",
        "director.conf:18: service: tunnel: port must be 1 to 65535",
    ] {
        assert!(e.contains(want), "{want} not in:\n{e}");
    }
    for (table, line, want) in [
        (
            "type = \"gre\"\n",
            5,
            "unknown variant `gre`, expected `ipip` or `gue`",
        ),
        ("type = \"gue\"\nport = 70000\n", 6, ""),
        (
            "type = \"gue\"\nport = 1\nchecksum = \"yes\"\n",
            7,
            "unknown variant `yes`",
        ),
        (
            "type = \"gue\"\nport = 1\nttl = 3\n",
            7,
            "unknown field `ttl`",
        ),
        ("port = 1\n", 4, "missing field `type`"),
    ] {
        let e = parsed(&format!(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\n[service.tunnel]\n{table}"
        ))
        .unwrap_err();
        assert!(
            e.starts_with(&format!("director.conf:{line}: {want}")),
            "{table}: {e}"
        );
    }
}
