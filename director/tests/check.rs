//! `director check`: problems as `file:line: message` and the exit status; `--print-ipvs`
//! gives the table of every file with every real up, in `ipvsadm -S -n` form.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn director() -> Command {
    Command::new(env!("CARGO_BIN_EXE_director"))
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

#[test]
fn print_ipvs_of_the_seed_file() {
    let out = director()
        .args(["check", "--config-dir"])
        .arg(configs())
        .args(["--print-ipvs", "www"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "-A -t 192.0.2.132:80 -s rr\n-a -t 192.0.2.132:80 -r 192.0.2.250:80 -g -w 1\n"
    );
}

#[test]
fn print_ipvs_agrees_with_the_all_up_table_for_every_sample() {
    let resolver = director::config::StaticResolver::new(director::config::Services::default());
    for entry in std::fs::read_dir(configs()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".cf") || name == "ha.cf" {
            continue;
        }
        let Ok((config, _)) = director::config::ldirectord::load(&path, &resolver) else {
            continue;
        };
        let want =
            director::app::ipvsadm_save(&director::config::ldirectord::desired_table(&config))
                .unwrap();
        let out = director()
            .args(["check", "--print-ipvs"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{name}");
    }
}

#[test]
fn every_problem_with_its_line_and_a_failing_status() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cf");
    std::fs::write(
        &bad,
        "virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tbogus=1\n\tscheduler=foo\n",
    )
    .unwrap();
    let out = director().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = bad.display().to_string();
    assert!(err.contains(&format!("{file}:3: ")), "{err}");
    assert!(err.contains(&format!("{file}:4: ")), "{err}");
    let out = director()
        .arg("check")
        .arg(dir.path().join("missing.cf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A copy of configs/ in a temp dir, with `nodeinfo` naming the seed's first node and
/// authkeys at mode 600.
fn heartbeat_dir(tag: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("director-check-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(configs()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.join("nodeinfo"), "xd_blog_web_184_251\n").unwrap();
    std::fs::set_permissions(dir.join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

#[test]
fn heartbeat_files_are_checked_with_file_and_line() {
    let dir = heartbeat_dir("hb");
    let clean = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&clean.stderr).to_string();
    // the seed's files are clean; only the owner check can complain when not run as root
    let owner_only = text
        .lines()
        .filter(|l| !l.contains("warning:"))
        .all(|l| l.contains("authkeys") && l.contains("owned"));
    assert!(owner_only, "{text}");
    if nix::unistd::geteuid().is_root() {
        assert!(clean.status.success(), "{text}");
    }

    let mut hacf = std::fs::read_to_string(dir.join("ha.cf")).unwrap();
    let line = hacf.lines().count() + 1;
    hacf.push_str("bogus 1\n");
    std::fs::write(dir.join("ha.cf"), hacf).unwrap();
    std::fs::write(
        dir.join("haresources"),
        "xd_blog_web_184_251 ldirectord::missing\n",
    )
    .unwrap();
    let bad = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stderr).to_string();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("ha.cf:{line}: illegal directive [bogus]")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// STONITH lines are checked at load: the device type must be one cluster-glue's `stonith`
/// tool knows (Debian package cluster-glue, which CI installs), reported at its line;
/// `--stonith-command` replaces the devices.
#[test]
fn stonith_devices_are_checked_at_their_line() {
    let dir = heartbeat_dir("stonith");
    let mut hacf = std::fs::read_to_string(dir.join("ha.cf")).unwrap();
    let line = hacf.lines().count() + 1;
    hacf.push_str("stonith_host * nosuchdevice xd_blog_web_184_145\n");
    hacf.push_str("stonith_host otherhost alsonotadevice x\n");
    std::fs::write(dir.join("ha.cf"), &hacf).unwrap();
    let bad = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stderr).to_string();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "ha.cf:{line}: stonith_host: invalid STONITH type [nosuchdevice]"
        )),
        "{text}"
    );
    // The other host's line is not this node's business (Heartbeat skips it too).
    assert!(!text.contains("alsonotadevice"), "{text}");

    // A device cluster-glue has: clean (but for the owner check when not root).
    let good = hacf.replace("nosuchdevice", "null");
    std::fs::write(dir.join("ha.cf"), good).unwrap();
    let out = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !text.contains("STONITH") && !text.contains("stonith_host"),
        "{text}"
    );

    // The operator's command instead of the devices.
    std::fs::write(dir.join("ha.cf"), &hacf).unwrap();
    let out = director()
        .args(["check", "--stonith-command", "/bin/true", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !text.contains("STONITH") && !text.contains("stonith_host"),
        "{text}"
    );
    let out = director()
        .args(["check", "--stonith-command", "true", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real server that is also its virtual's fallback: ldirectord deletes it whenever a real
/// comes up, director keeps it; `director check` says so at the real's line (and the file
/// is still accepted).
#[test]
fn a_real_that_is_the_fallback_is_warned_about_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("mail.cf");
    std::fs::write(
        &cf,
        "virtual=192.0.2.1:143\n    real=192.0.2.2:143 masq\n    real=127.0.0.1:143 masq\n    \
         fallback=127.0.0.1:143\n    service=imap\n",
    )
    .unwrap();
    let out = director().arg("check").arg(&cf).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}:3: warning: real server 127.0.0.1:143 is also the fallback server of virtual \
         service tcp:192.0.2.1:143 (line 4): ldirectord 1.186 deletes it",
        cf.display()
    );
    assert!(err.contains(&want), "{err}");
}

/// An empty ldirectord file is valid (as in ldirectord), but a reload to it removes every
/// service: `director check` warns about it.
#[test]
fn an_empty_file_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("empty.cf");
    std::fs::write(&cf, "").unwrap();
    let out = director().arg("check").arg(&cf).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}: warning: no virtual service in this file: it manages no service, and a reload to \
         it removes every virtual service of the running configuration (ldirectord does the \
         same)\n",
        cf.display()
    );
    assert_eq!(err, want);
}

/// A Heartbeat-only directory (ha.cf, authkeys, haresources; no ldirectord resource, no
/// `*.cf`) is checked and passes: no "no ldirectord files", nothing about IPVS.
#[test]
fn a_heartbeat_only_directory_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ha.cf"),
        "keepalive 2\ndeadtime 30\nbcast lo\nnode ha01\nnode ha02\n",
    )
    .unwrap();
    std::fs::write(d.join("authkeys"), "auth 1\n1 sha1 TestNetOnlySecret\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(d.join("haresources"), "ha01 IPaddr::192.0.2.100/24/lo\n").unwrap();
    std::fs::write(d.join("nodeinfo"), "ha01\n").unwrap();
    let out = director()
        .args(["check", "--config-dir"])
        .arg(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if nix::unistd::geteuid().is_root() {
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains("ldirectord") && !stderr.contains("IPVS"),
            "{stderr}"
        );
    } else {
        // authkeys must belong to root: the only complaint as another user.
        assert!(
            stderr.contains("authkeys") && !stderr.contains("ldirectord files"),
            "{stderr}"
        );
    }
}

/// director.conf is checked with the Heartbeat files (and alone in a single director's
/// directory): unknown keys and bad values at their line, exit status 1; the sample is clean.
#[test]
fn director_conf_is_checked_at_its_line() {
    let dir = heartbeat_dir("settings");
    let conf = dir.join("director.conf");
    assert!(conf.is_file(), "the sample is part of configs/");
    let clean = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&clean.stderr).to_string();
    assert!(!text.contains("director.conf"), "{text}");
    std::fs::write(&conf, "[monitor]\ninterval = \"2s\"\nretries = 3\n").unwrap();
    let bad = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stderr).to_string();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{}:3: unknown field `retries`", conf.display())),
        "{text}"
    );
    // A single director's directory (no ha.cf): the file is still checked.
    std::fs::remove_file(dir.join("ha.cf")).unwrap();
    std::fs::write(&conf, "[monitor]\n\nwindow = \"10\"\n").unwrap();
    let bad = director()
        .args(["check", "--config-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stderr).to_string();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "{}:3: invalid duration \"10\": a unit is needed",
            conf.display()
        )),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn director_conf_service_tables_are_checked_against_the_ldirectord_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("www.cf"),
        "virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tservice=http\n",
    )
    .unwrap();
    let conf = dir.path().join("director.conf");
    std::fs::write(
        &conf,
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:80\"\nquorum = 2\n\
         [[service.url]]\npath = \"/\"\nstatus_code = \"200-299 302\"\n",
    )
    .unwrap();
    let check = || {
        director()
            .args(["check", "--config-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = check();
    assert!(out.status.success(), "{out:?}");
    // A service the file does not have, and a file that is not there: errors at their line.
    std::fs::write(
        &conf,
        "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.1:81\"\nquorum = 2\n\
         [[service]]\nfile = \"mail\"\nvirtual = \"192.0.2.1:25\"\nquorum = 2\n",
    )
    .unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let c = conf.display().to_string();
    assert!(
        err.contains(&format!(
            "{c}:3: service 192.0.2.1:81 is not a virtual service of"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{c}:7: service mail 192.0.2.1:25: there is no ldirectord file mail in"
        )),
        "{err}"
    );
}

/// `[service.tunnel]` reaches the table: the service's ipip real servers are encapsulated
/// in GUE to the port it names, as `ipvsadm -S` shows; the gate real is left alone; a tunnel
/// for a service without an ipip real is an error at its line.
#[test]
fn director_conf_tunnels_show_in_print_ipvs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("www.cf"),
        "virtual=203.0.113.10:80\n\treal=192.0.2.21:80 ipip\n\treal=192.0.2.22:80 gate\n\
         virtual=203.0.113.11:80\n\treal=192.0.2.21:80 ipip\n\
         virtual=203.0.113.12:80\n\treal=192.0.2.22:80 gate\n",
    )
    .unwrap();
    let conf = dir.path().join("director.conf");
    std::fs::write(
        &conf,
        "[[service]]\nfile = \"www\"\nvirtual = \"203.0.113.10:80\"\n\
         [service.tunnel]\ntype = \"gue\"\nport = 5555\nchecksum = \"remcsum\"\n",
    )
    .unwrap();
    let check = || {
        director()
            .args(["check", "--print-ipvs", "--config-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = check();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    for line in [
        "-a -t 203.0.113.10:80 -r 192.0.2.21:80 -i -w 1 --tun-type gue --tun-port 5555 --tun-remcsum\n",
        "-a -t 203.0.113.10:80 -r 192.0.2.22:80 -g -w 1\n",
        "-a -t 203.0.113.11:80 -r 192.0.2.21:80 -i -w 1 --tun-type ipip\n",
    ] {
        assert!(table.contains(line), "{line} not in\n{table}");
    }
    std::fs::write(
        &conf,
        "[[service]]\nfile = \"www\"\nvirtual = \"203.0.113.12:80\"\n\
         [service.tunnel]\ntype = \"gue\"\nport = 5555\n",
    )
    .unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: service 203.0.113.12:80: tunnel applies to ipip real servers",
            conf.display()
        )),
        "{err}"
    );
}
