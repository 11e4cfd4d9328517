//! Importer unit tests (the corpus is tested end to end in `director/tests/import_keepalived.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

fn options() -> Options {
    Options {
        node: "ha1".into(),
        peer: Some("ha2".into()),
    }
}

fn run(text: &str) -> Import {
    import_text("keepalived.conf", text, &options())
}

fn file<'a>(i: &'a Import, name: &str) -> &'a str {
    &i.files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", i.files))
        .text
}

fn notes(i: &Import) -> Vec<String> {
    i.notes.iter().map(ToString::to_string).collect()
}

/// The lines of `text` that are not comments.
fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// Files in memory; globs matched with the importer's own matcher.
struct MapSource(BTreeMap<PathBuf, String>);

impl Source for MapSource {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }

    fn glob(&self, pattern: &Path) -> std::io::Result<Vec<PathBuf>> {
        // `a/../b` as the filesystem reads it.
        let mut want: Vec<String> = Vec::new();
        for c in glob::components(pattern) {
            if c == ".." {
                want.pop();
            } else {
                want.push(c);
            }
        }
        Ok(self
            .0
            .keys()
            .filter(|p| {
                let have = glob::components(p);
                have.len() == want.len() && want.iter().zip(&have).all(|(w, h)| glob::matches(w, h))
            })
            .cloned()
            .collect())
    }
}

const PAIR: &str = "\
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        192.0.2.10
        192.0.2.11/24 dev eth1
        2001:db8::10/64
    }
}
";

#[test]
fn a_master_instance_becomes_a_group_preferring_this_node() {
    let i = run(PAIR);
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    assert_eq!(
        lines(file(&i, "haresources")),
        ["ha1 IPaddr2::192.0.2.10/32/eth0 IPaddr2::192.0.2.11/24/eth1 IPv6addr::2001:db8::10/64/eth0"]
    );
    // 4 × advert_int: keepalived's master-down interval is 3414 ms at priority 150, 3609 ms at
    // 100, always below 4 s.
    assert_eq!(
        lines(file(&i, "ha.cf")),
        [
            "keepalive 1",
            "deadtime 4",
            "udpport 694",
            "bcast eth0",
            "auto_failback on",
            "node ha1",
            "node ha2"
        ]
    );
    assert_eq!(lines(file(&i, "authkeys")), ["auth 1", "1 sha1 s3cret"]);
    let keys = i.files.iter().find(|f| f.name == "authkeys").unwrap();
    assert_eq!(keys.mode, 0o600);
}

#[test]
fn backup_nopreempt_and_unicast() {
    let text = PAIR
        .replace(
            "state MASTER",
            "state BACKUP\n    nopreempt\n    unicast_peer {\n        192.0.2.2\n    }",
        )
        .replace("advert_int 1", "advert_int 0.5");
    let i = run(&text);
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    assert!(file(&i, "haresources").contains("\nha2 IPaddr2::192.0.2.10/32/eth0"));
    let hacf = lines(file(&i, "ha.cf"));
    assert!(hacf.contains(&"keepalive 500ms"), "{hacf:?}");
    assert!(hacf.contains(&"ucast eth0 192.0.2.2"), "{hacf:?}");
    assert!(hacf.contains(&"auto_failback off"), "{hacf:?}");
    assert!(!hacf.iter().any(|l| l.starts_with("bcast")), "{hacf:?}");
}

#[test]
fn an_instance_without_addresses_is_left_out_of_haresources() {
    let i = run(&format!(
        "{PAIR}vrrp_instance VI_2 {{\n    interface eth0\n}}\n"
    ));
    assert_eq!(i.exit_code(), EXIT_INCOMPLETE);
    let har = file(&i, "haresources");
    assert_eq!(lines(har).len(), 1, "{har}");
    let want = "keepalived.conf:17: not carried over: VI_2: no virtual_ipaddress: an empty group";
    assert!(notes(&i).contains(&want.to_string()), "{:?}", notes(&i));
}

#[test]
fn scheduler_flags_of_another_scheduler_keep_their_bit() {
    let i = run(&VS.replace("lb_algo wrr", "lb_algo wlc\n    sh-port\n    mh-fallback"));
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    assert!(file(&i, "ldirectord.cf").contains("\tschedflags=flag-2,flag-1\n"));
    let i = run(&VS.replace("lb_algo wrr", "lb_algo sh\n    sh-port"));
    assert!(file(&i, "ldirectord.cf").contains("\tschedflags=sh-port\n"));
}

#[test]
fn families_follow_keepalived() {
    // A firewall mark takes its real servers' family when ip_family is not written.
    let i = run(
        "virtual_server fwmark 6 {\n lb_algo rr\n lb_kind TUN\n real_server 2001:db8::1 {\n }\n}\n",
    );
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    assert!(file(&i, "ldirectord.cf").contains("virtual6=6\n\treal6=[2001:db8::1] ipip 1\n"));
    // An IPv4 address with an IPv6 real server: ldirectord cannot say it.
    let i =
        run("virtual_server 192.0.2.1 80 {\n lb_algo rr\n real_server 2001:db8::1 80 {\n }\n}\n");
    assert_eq!(i.exit_code(), EXIT_ERROR);
}

#[test]
fn a_virtual_server_defined_twice_is_an_error() {
    let i = run(&format!("{VS}{VS}"));
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert!(
        notes(&i).contains(
            &"keepalived.conf:27: virtual_server TCP 192.0.2.10 80 is already defined at line 1"
                .to_string()
        ),
        "{:?}",
        notes(&i)
    );
}

/// Found by the fuzz target: port 0 (a group member's or the service's own) without
/// persistence was written, and ldirectord refuses it as ipvsadm does.
#[test]
fn port_zero_needs_persistence() {
    let real = " real_server 192.0.2.21 80 {\n TCP_CHECK {\n }\n }\n";
    for vs in [
        format!("virtual_server 192.0.2.10 0 {{\n lb_kind DR\n{real}}}\n"),
        format!(
            "virtual_server_group G {{\n 192.0.2.10-12 0\n}}\n\
             virtual_server group G {{\n lb_kind DR\n{real}}}\n"
        ),
    ] {
        let i = run(&vs);
        assert!(i.failed(), "{vs}");
        let n = notes(&i);
        assert!(
            n.iter()
                .any(|n| n.contains("port 0 is only allowed for a persistent service")),
            "{n:?}"
        );
        let persistent = run(&vs.replace("lb_kind DR", "lb_kind DR\n persistence_timeout 60"));
        assert!(!persistent.failed(), "{:?}", notes(&persistent));
    }
}

/// Found by the fuzz target: a group naming one service twice gave two ldirectord blocks.
#[test]
fn a_group_naming_a_service_twice_gives_one_service() {
    let i = run(
        "virtual_server_group G {\n 192.0.2.10 80\n 192.0.2.9-11 80\n fwmark 1\n fwmark 1\n}\n\
         virtual_server group G {\n lb_algo rr\n lb_kind DR\n \
         real_server 192.0.2.21 80 {\n TCP_CHECK {\n }\n }\n}\n",
    );
    assert!(!i.failed(), "{:?}", notes(&i));
    let cf = file(&i, "ldirectord.cf");
    assert_eq!(cf.matches("virtual=192.0.2.10:80\n").count(), 1, "{cf}");
    assert_eq!(cf.matches("virtual=1\n").count(), 1, "{cf}");
    let n = notes(&i);
    assert!(
        n.iter()
            .any(|n| n.contains("TCP 192.0.2.10 80 is in the virtual_server_group more than once")),
        "{n:?}"
    );
    assert!(
        n.iter()
            .any(|n| n.contains("fwmark 1 is in the virtual_server_group more than once")),
        "{n:?}"
    );
}

#[test]
fn a_vip_in_two_instances_is_an_error() {
    let i = run(&format!("{PAIR}{}", PAIR.replace("VI_1", "VI_2")));
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert!(
        notes(&i)
            .iter()
            .any(|n| n.contains("192.0.2.10 is already a VIP of VI_1")),
        "{:?}",
        notes(&i)
    );
}

#[test]
fn interface_names_are_checked() {
    let i = run(&PAIR.replace("interface eth0", "interface \"et h0\""));
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert!(notes(&i)
        .contains(&"keepalived.conf:3: interface: invalid interface name \"et h0\"".to_string()));
    let i = run(&PAIR.replace("dev eth1", "dev a/b"));
    assert_eq!(i.exit_code(), EXIT_ERROR);
    // haresources would read a leading digit as a broadcast address.
    let i = run(&PAIR.replace("dev eth1", "dev 0"));
    assert_eq!(i.exit_code(), EXIT_ERROR);
}

#[test]
fn a_pair_needs_the_peer_name() {
    let i = import_text(
        "k.conf",
        PAIR,
        &Options {
            node: "ha1".into(),
            peer: None,
        },
    );
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert!(i.files.is_empty());
    assert!(notes(&i)
        .iter()
        .any(|n| n.starts_with("k.conf:1: ") && n.contains("--peer")));
    let same = import_text(
        "k.conf",
        PAIR,
        &Options {
            node: "ha1".into(),
            peer: Some("ha1".into()),
        },
    );
    assert_eq!(same.exit_code(), EXIT_ERROR);
}

const VS: &str = "\
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    persistence_timeout
    protocol TCP
    sorry_server 192.0.2.99 8080
    inhibit_on_failure
    real_server 192.0.2.21 80 {
        weight 3
        TCP_CHECK {
            connect_port 8080
            connect_timeout 3
            retry 2
        }
    }
    real_server 192.0.2.22 80 {
        weight 0
        lvs_method NAT
        TCP_CHECK {
            connect_port 8080
            connect_timeout 3
            retry 2
        }
    }
}
";

#[test]
fn a_virtual_server_becomes_a_virtual_block() {
    let i = run(VS);
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    let names: Vec<&str> = i.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["ldirectord.cf", "director.conf"]);
    // keepalived's quorum counts weights: a weight-0 real that is up leaves the service on
    // its sorry server, where ldirectord's rule would not. director.conf says keepalived's.
    assert!(
        file(&i, "director.conf").contains(
            "virtual = \"192.0.2.10:80\"\nprotocol = \"tcp\"\nquorum = 1\nhysteresis = 0\n"
        ),
        "{}",
        file(&i, "director.conf")
    );
    assert_eq!(
        lines(file(&i, "ldirectord.cf")),
        [
            "checkinterval=6",
            "",
            "virtual=192.0.2.10:80",
            "\treal=192.0.2.21:80 gate 3",
            "\treal=192.0.2.22:80 masq 0",
            "\tscheduler=wrr",
            "\tprotocol=tcp",
            "\tpersistent=360",
            "\tfallback=192.0.2.99:8080 gate",
            "\tquiescent=yes",
            "\tchecktype=connect",
            "\tcheckport=8080",
            "\tchecktimeout=3",
            "\tnegotiatetimeout=3",
            "\tfailurecount=3",
        ]
    );
}

#[test]
fn a_virtual_server_without_real_servers_is_left_out_as_keepalived_does() {
    let i = run("virtual_server 192.0.2.1 80 {\n  lb_algo rr\n}\n");
    assert_eq!(i.exit_code(), EXIT_COMPLETE);
    assert!(i.files.is_empty(), "{:?}", i.files);
    assert_eq!(
        notes(&i),
        ["keepalived.conf:1: note: virtual_server 192.0.2.1 80 has no real_server: keepalived ignores it, and so does the import"]
    );
}

#[test]
fn generated_ldirectord_files_load_with_directors_parser() {
    let i = run(VS);
    let resolver = crate::config::StaticResolver::new(crate::config::Services::parse(""));
    let (config, _) =
        crate::config::ldirectord::parse(file(&i, "ldirectord.cf"), "x.cf", &resolver)
            .unwrap_or_else(|e| panic!("{e:?}"));
    let v = &config.virtuals[0];
    assert!(v.quiescent);
    assert_eq!(v.timing.failurecount, 3);
    assert_eq!(v.persistent, Some(360));
    assert_eq!(v.reals.len(), 2);
}

#[test]
fn mail_goes_where_smtp_alert_is_on() {
    let mail = "\
global_defs {
    notification_email {
        ops@example.com
        noc@example.com
    }
    notification_email_from lb@example.com
    smtp_server 192.0.2.25
}
";
    // No smtp_alert: keepalived sends nothing, nor will director.
    let i = run(&format!("{mail}{VS}"));
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    assert!(!file(&i, "ldirectord.cf").contains("email"));
    assert!(notes(&i).iter().any(|n| n.starts_with(
        "keepalived.conf:2: note: notification_email: no virtual_server has smtp_alert on"
    )));
    // smtp_alert on the virtual server: its block mails the recipients.
    let i = run(&format!(
        "{mail}{}",
        VS.replace("    delay_loop 6\n", "    delay_loop 6\n    smtp_alert\n")
    ));
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    let ld = file(&i, "ldirectord.cf");
    assert!(
        ld.contains("\nemailalertfrom=lb@example.com\nsmtp=192.0.2.25\n"),
        "{ld}"
    );
    assert!(
        ld.contains("\temailalert=ops@example.com,noc@example.com\n"),
        "{ld}"
    );
    let resolver = crate::config::StaticResolver::new(crate::config::Services::parse(""));
    let (config, _) = crate::config::ldirectord::parse(ld, "x.cf", &resolver).unwrap();
    assert_eq!(
        config.virtuals[0].alert.to,
        ["ops@example.com", "noc@example.com"]
    );
    assert_eq!(config.globals.smtp.as_deref(), Some("192.0.2.25"));
}

#[test]
fn groups_expand_to_one_virtual_per_member() {
    let text = "\
virtual_server_group WEB {
    192.0.2.1-3 80
    198.51.100.8/31 443
    fwmark 7
}
virtual_server group WEB {
    lb_algo rr
    real_server 10.0.0.1 80 {
    }
}
";
    let i = run(text);
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    let virtuals: Vec<&str> = file(&i, "ldirectord.cf")
        .lines()
        .filter(|l| l.starts_with("virtual"))
        .collect();
    assert_eq!(
        virtuals,
        [
            "virtual=192.0.2.1:80",
            "virtual=192.0.2.2:80",
            "virtual=192.0.2.3:80",
            "virtual=198.51.100.8:443",
            "virtual=198.51.100.9:443",
            "virtual=7"
        ]
    );
    // No checker: always up, as in keepalived.
    assert!(file(&i, "ldirectord.cf").contains("\tchecktype=on\n"));
}

#[test]
fn what_has_no_equivalent_is_reported_at_its_line() {
    let text = "\
global_defs {
    router_id LB1
    enable_script_security
}
virtual_server 192.0.2.10 80 {
    lb_algo rr
    quorum 2
    real_server 192.0.2.21 80 {
        HTTP_GET {
            url {
                path /health
                status_code 200
                digest 9b3a0c85a887a256d6939da88aabd8cd
            }
            url {
                path /other
            }
        }
        TCP_CHECK {
        }
        notify_down /bin/alert
    }
}
";
    let i = run(text);
    assert_eq!(i.exit_code(), EXIT_INCOMPLETE);
    let n = notes(&i);
    let has = |prefix: &str| n.iter().any(|l| l.starts_with(prefix));
    assert!(has("keepalived.conf:2: note: router_id"), "{n:#?}");
    assert!(
        has("keepalived.conf:3: not carried over: enable_script_security in global_defs"),
        "{n:#?}"
    );
    // quorum, status codes, digests and a second url are carried, into director.conf.
    for gone in ["quorum", "status_code", "digest", "a second url"] {
        assert!(
            !n.iter()
                .any(|l| l.contains(&format!("not carried over: {gone}"))),
            "{gone}: {n:#?}"
        );
    }
    assert_eq!(
        lines(file(&i, "director.conf"))
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>(),
        [
            "[[service]]",
            "file = \"ldirectord.cf\"",
            "virtual = \"192.0.2.10:80\"",
            "protocol = \"tcp\"",
            "quorum = 2",
            "hysteresis = 0",
            "[[service.url]]",
            "path = \"/health\"",
            "status_code = \"200\"",
            "digest = \"9b3a0c85a887a256d6939da88aabd8cd\"",
            "[[service.url]]",
            "path = \"/other\"",
            // The second checker: a further check of the real server (up when both pass).
            "[[service.check]]",
            "checktype = \"connect\"",
            "timeout = \"5s\"",
        ]
    );
    assert!(!n.iter().any(|l| l.contains("checker")), "{n:#?}");
    assert!(
        has("keepalived.conf:21: not carried over: notify_down /bin/alert"),
        "{n:#?}"
    );
    // The first checker is carried: the request path, retry 1 -> 2 failures.
    let ld = file(&i, "ldirectord.cf");
    assert!(
        ld.contains("\tservice=http\n\trequest=\"/health\"\n"),
        "{ld}"
    );
    assert!(ld.contains("\tfailurecount=2\n"), "{ld}");
    assert!(
        ld.contains("\tmasq 1") || ld.contains("real=192.0.2.21:80 masq 1"),
        "{ld}"
    );
}

#[test]
fn syntax_errors_are_all_reported_and_nothing_is_written() {
    let text =
        "virtual_server 192.0.2.1 80 {\n  real_server 10.0.0.1 80 {\n    weight x\n  }\n\"open\n";
    let i = run(text);
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert!(i.files.is_empty());
    let n = notes(&i);
    assert!(
        n.contains(&"keepalived.conf:3: weight: invalid number x".to_string()),
        "{n:#?}"
    );
    assert!(
        n.contains(&"keepalived.conf:5: unterminated quoted string".to_string()),
        "{n:#?}"
    );
    assert!(
        n.contains(&"keepalived.conf:1: block opened here is never closed".to_string()),
        "{n:#?}"
    );
}

#[test]
fn braces_may_touch_words_or_stand_on_their_own_line() {
    let mut notes = Vec::new();
    let t = parse::parse_text(
        "k",
        "a 1{b \"x y\"}\nc\n{\n  d ! comment\n}# c\ne",
        &mut notes,
    );
    assert!(notes.is_empty(), "{notes:?}");
    let shape: Vec<(String, Vec<String>)> = t
        .stmts
        .iter()
        .map(|s| {
            (
                s.words.join(" "),
                s.children().iter().map(|c| c.words.join(" ")).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("a 1".to_string(), vec!["b x y".to_string()]),
            ("c".to_string(), vec!["d".to_string()]),
            ("e".to_string(), vec![]),
        ]
    );
}

#[test]
fn includes_follow_globs_relative_to_the_including_file() {
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from("/etc/keepalived/keepalived.conf"),
        "include conf.d/*.conf\ninclude /nowhere/*.conf\n".to_string(),
    );
    files.insert(
        PathBuf::from("/etc/keepalived/conf.d/b.conf"),
        "virtual_server 192.0.2.2 80 {\n lb_algo rr\n real_server 10.0.0.1 80 {\n }\n}\n"
            .to_string(),
    );
    files.insert(
        PathBuf::from("/etc/keepalived/conf.d/a.conf"),
        "virtual_server 192.0.2.1 80 {\n lb_algo rr\n include ../extra\n real_server 10.0.0.1 80 {\n }\n}\n"
            .to_string(),
    );
    files.insert(
        PathBuf::from("/etc/keepalived/extra"),
        "protocol UDP\nbogus 1\n".to_string(),
    );
    files.insert(
        PathBuf::from("/etc/keepalived/conf.d/a.conf.bak"),
        "garbage {".to_string(),
    );
    let i = import(
        Path::new("/etc/keepalived/keepalived.conf"),
        &MapSource(files),
        &options(),
    );
    let n = notes(&i);
    assert_eq!(
        n,
        [
            "/etc/keepalived/keepalived.conf:2: not carried over: include /nowhere/*.conf: no file matches (keepalived skips it too)",
            "/etc/keepalived/extra:2: not carried over: bogus 1 in virtual_server 192.0.2.1 80",
        ]
    );
    let ld = file(&i, "ldirectord.cf");
    let a = ld.find("virtual=192.0.2.1:80").unwrap();
    let b = ld.find("virtual=192.0.2.2:80").unwrap();
    assert!(a < b, "sorted glob order: {ld}");
    assert!(ld[a..b].contains("protocol=udp"), "{ld}");
}

#[test]
fn an_include_cycle_is_an_error() {
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from("/k/a"), "include b\n".to_string());
    files.insert(PathBuf::from("/k/b"), "include a\n".to_string());
    let i = import(Path::new("/k/a"), &MapSource(files), &options());
    assert_eq!(i.exit_code(), EXIT_ERROR);
    assert_eq!(notes(&i), ["/k/b:1: include a: /k/a includes itself"]);
}

#[test]
fn ranges() {
    use convert::range;
    let v = |s: &str| {
        range(s)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        v("10.0.0.254-10.0.1.1"),
        ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
    );
    assert_eq!(v("2001:db8::fe-ff"), ["2001:db8::fe", "2001:db8::ff"]);
    assert_eq!(
        v("10.0.0.5/30"),
        ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"]
    );
    assert!(range("10.0.0.5-1").is_err());
    // Far too large ranges stop at the limit, for the caller to refuse.
    assert_eq!(
        range("10.0.0.0/8").unwrap().len(),
        convert::MAX_RANGE as usize + 1
    );
}

/// keepalived-like text: known keywords, braces, addresses and junk.
fn soup() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        prop::sample::select(vec![
            "vrrp_instance",
            "virtual_server",
            "virtual_server_group",
            "real_server",
            "group",
            "fwmark",
            "HTTP_GET",
            "SSL_GET",
            "TCP_CHECK",
            "MISC_CHECK",
            "DNS_CHECK",
            "url",
            "path",
            "status_code",
            "notify_master",
            "notify",
            "vrrp_sync_group",
            "state",
            "MASTER",
            "BACKUP",
            "interface",
            "eth0",
            "priority",
            "advert_int",
            "virtual_ipaddress",
            "authentication",
            "auth_pass",
            "lb_kind",
            "DR",
            "NAT",
            "TUN",
            "type",
            "gue",
            "port",
            "5555",
            "csum",
            "lb_algo",
            "rr",
            "persistence_timeout",
            "sorry_server",
            "weight",
            "include",
            "{",
            "}",
            "\n",
            "\"",
            "!",
            "192.0.2.1",
            "192.0.2.1-3",
            "2001:db8::1",
            "80",
            "0",
            "65536",
            "1.5",
            "-1",
            "unicast_peer",
            "nopreempt",
            "misc_path",
            "quorum",
            "hysteresis",
            "quorum_up",
            "digest",
            "d5d2ff66a8f30775df81b68c7ab2f9a4",
            "200-299 302",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,6}",
    ];
    prop::collection::vec(word, 0..60).prop_map(|w| w.join(" "))
}

proptest! {
    #[test]
    fn any_text_imports_or_reports(text in soup()) {
        let i = run(&text);
        // Errors: nothing written; otherwise the files load with director's own parsers.
        if i.failed() {
            prop_assert!(i.files.is_empty());
        }
        for n in &i.notes {
            prop_assert!(n.to_string().starts_with("keepalived.conf"));
            prop_assert!(!n.message.contains("would not load"), "{}", n);
        }
        let resolver = crate::config::StaticResolver::new(crate::config::Services::parse(""));
        for f in &i.files {
            match f.name.as_str() {
                "ha.cf" => {
                    failover::config::hacf::parse(Path::new("ha.cf"), &f.text)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", f.text)))?;
                }
                "haresources" => {
                    failover::config::haresources::parse(Path::new("haresources"), &f.text)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", f.text)))?;
                }
                "authkeys" => {
                    failover::config::authkeys::parse(Path::new("authkeys"), &f.text)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", f.text)))?;
                }
                name if name.starts_with("resource.d/") => {
                    prop_assert!(f.text.starts_with("#!/bin/sh\n"));
                }
                "director.conf" => {
                    failover::config::settings::parse(Path::new("director.conf"), &f.text)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", f.text)))?;
                }
                name => {
                    crate::config::ldirectord::parse(&f.text, name, &resolver)
                        .map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", f.text)))?;
                }
            }
        }
    }
}

/// Found by the fuzz target: `persistence_timeout 0` (keepalived refuses it too) was written
/// as `persistent=0`, which ldirectord refuses.
#[test]
fn persistence_timeout_out_of_range_is_an_error() {
    for t in ["0", "00", "2678401"] {
        let i = run(&format!(
            "virtual_server 192.0.2.10 80 {{\n lb_algo rr\n lb_kind DR\n persistence_timeout {t}\n \
             real_server 192.0.2.11 80 {{\n TCP_CHECK {{\n }}\n }}\n}}\n"
        ));
        assert!(i.failed(), "{t}");
        assert!(
            notes(&i).iter().any(|n| n.contains("persistence_timeout")),
            "{:?}",
            notes(&i)
        );
    }
}

/// Found by the fuzz target: a granularity ldirectord's `netmask` refuses was written as is.
#[test]
fn persistence_granularity_is_checked_for_the_family() {
    let vs = |addr: &str, g: &str| {
        format!(
            "virtual_server {addr} 80 {{\n lb_algo rr\n lb_kind DR\n persistence_timeout 60\n \
             persistence_granularity {g}\n real_server {addr} 80 {{\n TCP_CHECK {{\n }}\n }}\n}}\n"
        )
    };
    let ok = run(&vs("192.0.2.10", "255.255.255.0"));
    assert!(!ok.failed(), "{:?}", notes(&ok));
    assert!(file(&ok, "ldirectord.cf").contains("\tnetmask=255.255.255.0\n"));
    let ok6 = run(&vs("2001:db8::10", "64"));
    assert!(!ok6.failed(), "{:?}", notes(&ok6));
    assert!(file(&ok6, "ldirectord.cf").contains("\tnetmask=64\n"));
    for (addr, g) in [
        ("192.0.2.10", "2cation"),
        ("192.0.2.10", "24"),
        ("2001:db8::10", "255.255.255.0"),
    ] {
        let bad = run(&vs(addr, g));
        assert!(bad.failed(), "{addr} {g}");
        assert!(bad.files.is_empty());
        assert!(
            notes(&bad)
                .iter()
                .any(|n| n.contains("persistence_granularity")),
            "{:?}",
            notes(&bad)
        );
    }
}

/// The importer's last check: a generated file its parser refuses becomes an error at the
/// keepalived line above the refused part.
#[test]
fn a_generated_file_that_would_not_load_is_an_error_at_its_origin() {
    let f = OutFile {
        name: "ldirectord.cf".into(),
        text:
            "checkinterval=5\n\n# sub/vs.conf:7\nvirtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\
               \tpersistent=0\n"
                .into(),
        mode: 0o644,
    };
    let notes = super::check::unloadable(std::slice::from_ref(&f), "keepalived.conf");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = notes[0].to_string();
    assert!(
        n.starts_with("sub/vs.conf:7: the generated ldirectord.cf:6 would not load: "),
        "{n}"
    );
    assert!(n.contains("persistent timeout 0"), "{n}");
    let ok = OutFile {
        text: f.text.replace("persistent=0", "persistent=60"),
        ..f
    };
    assert!(super::check::unloadable(&[ok], "keepalived.conf").is_empty());
    let hacf = OutFile {
        name: "ha.cf".into(),
        text: "nonsense here\n".into(),
        mode: 0o644,
    };
    let notes = super::check::unloadable(&[hacf], "keepalived.conf");
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]
            .to_string()
            .starts_with("keepalived.conf: the generated ha.cf would not load"),
        "{}",
        notes[0]
    );
}

fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_ipaddress {{\n    \
         192.0.2.5\n  }}\n{body}}}\n"
    )
}

#[test]
fn tracks_weights_and_the_failback_hold_go_to_director_conf() {
    let text = format!(
        "vrrp_script chk {{\n  script \"</dev/tcp/127.0.0.1/80\"\n  user nobody\n}}\n\
         vrrp_script unused {{\n  script true\n}}\n{}",
        instance(
            "  track_script {\n    chk weight -300\n    chk\n    ghost\n  }\n  \
             track_interface {\n    eth1\n  }\n  preempt_delay 2.5\n"
        )
    );
    let i = run(&text);
    let n = notes(&i);
    let has = |s: &str| n.iter().any(|l| l.contains(s));
    // A weight out of keepalived's range is refused at its line; nothing is written.
    assert!(
        has("keepalived.conf:15: chk: invalid weight -300"),
        "{n:#?}"
    );
    let i = run(&text.replace(
        "chk weight -300",
        "chk weight -300".replace("300", "30").as_str(),
    ));
    let n = notes(&i);
    let has = |s: &str| n.iter().any(|l| l.contains(s));
    assert!(
        has("keepalived.conf:2: note: script of vrrp_script chk uses bash's /dev/tcp"),
        "{n:#?}"
    );
    assert!(
        has("keepalived.conf:3: not carried over: user of vrrp_script chk"),
        "{n:#?}"
    );
    assert!(
        has("keepalived.conf:5: note: vrrp_script unused is tracked by no vrrp_instance"),
        "{n:#?}"
    );
    assert!(has("keepalived.conf:17: note: track_script ghost in vrrp_instance VI_1: there is no vrrp_script ghost"), "{n:#?}");
    assert!(has("track_interface eth1: weight 127 in director.conf, from no weight (keepalived's FAULT)"), "{n:#?}");
    let conf = lines(file(&i, "director.conf"));
    assert_eq!(
        conf.iter()
            .filter(|l| !l.is_empty())
            .copied()
            .collect::<Vec<_>>(),
        [
            "[track.script.\"chk\"]",
            r#"script = "bash -c '</dev/tcp/127.0.0.1/80'""#,
            "timeout = \"1s\"",
            "weight = 30",
            "[track.interface.\"eth1\"]",
            "weight = 127",
            "[failback]",
            "hold = \"2500ms\"",
        ]
    );
    // Loaded by director's own parser (the importer's last check did it too).
    let parsed =
        failover::config::settings::parse(Path::new("director.conf"), file(&i, "director.conf"));
    assert!(parsed.is_ok(), "{parsed:?}");
}

#[test]
fn preempt_delay_with_nopreempt_and_different_delays_are_reported() {
    let text = instance("  nopreempt\n  preempt_delay 10\n");
    let n = notes(&run(&text));
    assert!(
        n.iter().any(|l| l.contains("keepalived.conf:8: note: preempt_delay in vrrp_instance VI_1: nothing to delay with nopreempt")),
        "{n:#?}"
    );
    let two = format!(
        "{}{}",
        instance("  preempt_delay 10\n"),
        instance("  preempt_delay 20\n")
            .replace("VI_1", "VI_2")
            .replace("192.0.2.5", "192.0.2.6")
    );
    let i = run(&two);
    let n = notes(&i);
    assert!(
        n.iter().any(|l| l.contains("not carried over: preempt_delay 10 of vrrp_instance VI_1: director.conf has one failback hold for every group, the longest: 20 s")),
        "{n:#?}"
    );
    assert!(file(&i, "director.conf").contains("[failback]\nhold = \"20s\"\n"));
}

#[test]
fn further_checkers_go_to_director_conf_when_every_real_server_has_them() {
    let real = |last: u8, further: &str| {
        format!(
            "    real_server 192.0.2.{last} 80 {{\n        HTTP_GET {{\n            url {{\n                \
             path /\n            }}\n        }}\n{further}    }}\n"
        )
    };
    let further = "        TCP_CHECK {\n            connect_port 8443\n            connect_timeout 2\n        \
                   }\n        MISC_CHECK {\n            misc_path /usr/local/bin/db-ok\n        }\n";
    let vs =
        |reals: String| format!("virtual_server 192.0.2.10 80 {{\n    lb_algo rr\n{reals}}}\n");
    let text = &vs(real(21, further) + &real(22, further));
    let i = run(text);
    let conf = file(&i, "director.conf");
    assert!(
        conf.contains(
            "[[service.check]]\nchecktype = \"connect\"\nport = 8443\ntimeout = \"2s\"\n"
        ),
        "{conf}"
    );
    assert!(
        conf.contains(
            "[[service.check]]\nchecktype = \"external\"\ncommand = \"/usr/local/bin/db-ok\"\n"
        ),
        "{conf}"
    );
    // The MISC_CHECK's retry (0) is not the HTTP_GET's (1): said once, at the checker.
    assert!(
        notes(&i).iter().any(|n| n.starts_with(
            "keepalived.conf:13: note: virtual_server 192.0.2.10 80: director counts the failures"
        )),
        "{:#?}",
        notes(&i)
    );
    // One real server without the further checkers: they are reported, not run.
    let uneven = vs(real(21, "") + &real(22, further));
    let i = run(&uneven);
    assert!(i.files.iter().all(|f| f.name != "director.conf"));
    let n = notes(&i);
    assert!(
        n.iter()
            .any(|l| l.contains("a further checker that the other real servers do not all have")),
        "{n:#?}"
    );
    assert_eq!(i.exit_code(), EXIT_INCOMPLETE);
}

#[test]
fn a_groups_quorum_is_one_table_per_member_and_says_so() {
    let text = "\
virtual_server_group WEB {
    192.0.2.1-2 80
    fwmark 7
}
virtual_server group WEB {
    lb_algo rr
    quorum 2
    quorum_up \"/bin/vip up\"
    real_server 10.0.0.1 80 {
        weight 2
    }
}
";
    let i = run(text);
    let conf = file(&i, "director.conf");
    for member in [
        "virtual = \"192.0.2.1:80\"\nprotocol = \"tcp\"\nquorum = 2\nhysteresis = 0\nquorum_up = \"/bin/vip up\"\n",
        "virtual = \"192.0.2.2:80\"",
        "virtual = \"7\"\nquorum = 2",
    ] {
        assert!(conf.contains(member), "{member} not in\n{conf}");
    }
    assert!(
        notes(&i)
            .iter()
            .any(|n| n.contains("quorum_up and quorum_down run once per service")),
        "{:#?}",
        notes(&i)
    );
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
}

/// `lb_kind TUN type gue port N csum` becomes ldirectord's `ipip` and director.conf's
/// `[service.tunnel]`, which director reads and lays over the generated file; tunnels
/// director cannot carry are said.
#[test]
fn a_gue_tunnel_goes_to_director_conf() {
    let text = "\
virtual_server 203.0.113.10 80 {
    lb_algo rr
    lb_kind TUN type gue port 5555 csum
    real_server 192.0.2.21 80 {
    }
    real_server 192.0.2.22 80 {
        lvs_method DR
    }
}
";
    let i = run(text);
    assert_eq!(i.exit_code(), EXIT_COMPLETE, "{:?}", notes(&i));
    let conf = file(&i, "director.conf");
    let table = "[service.tunnel]\ntype = \"gue\"\nport = 5555\nchecksum = \"csum\"\n";
    assert!(conf.contains(table), "{table} not in\n{conf}");
    let ld = i
        .files
        .iter()
        .find(|f| f.text.contains("real=192.0.2.21:80 ipip"))
        .unwrap_or_else(|| panic!("no ipip real in {:?}", i.files));
    assert!(ld.text.contains("real=192.0.2.22:80 gate"), "{}", ld.text);
    let settings = failover::config::settings::parse(Path::new("director.conf"), conf)
        .unwrap()
        .value;
    let r = crate::config::StaticResolver::new(crate::config::Services::default());
    let (mut config, _) = crate::config::ldirectord::parse(&ld.text, &ld.name, &r).unwrap();
    let errors = crate::config::service::apply(
        &mut config,
        Path::new(&ld.name),
        Path::new("director.conf"),
        &settings.services,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config.virtuals[0].director.tunnel,
        Some(failover::config::settings::Tunnel::Gue {
            port: 5555,
            checksum: failover::config::settings::Checksum::Csum
        })
    );

    let i = run(&text
        .replace(
            "lb_kind TUN type gue port 5555 csum",
            "lb_kind TUN type gre",
        )
        .replace("lvs_method DR", "lvs_method TUN type gue port 6080"));
    let n = notes(&i);
    assert!(
        n.iter()
            .any(|n| n.contains("TUN type gre: director carries")),
        "{n:#?}"
    );
    assert!(n.iter().any(|n| n.contains("its tunnel differs")), "{n:#?}");
    let i = run(&text.replace("port 5555 csum", "port 0"));
    assert!(
        notes(&i)
            .iter()
            .any(|n| n.contains("expected TUN type gue port 1-65535")),
        "{:#?}",
        notes(&i)
    );
}
