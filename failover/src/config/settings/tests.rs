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
