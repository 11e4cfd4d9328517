//! Table oracle (`--features oracle`, root, Debian's `ldirectord` and `libwww-perl`): the real
//! ldirectord, run with the fake ipvsadm of `tests/oracle/`, must build the same table as
//! `director check --print-ipvs` prints, for every ldirectord file of `configs/` and
//! `tests/oracle/configs/`. The script is `tests/oracle/ldirectord-table.sh`; the director binary
//! is `$ORACLE_DIRECTOR_BIN`, else the workspace's `target/debug/director` (built by
//! `cargo build -p director` or `cargo test --workspace`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle")
}

fn director_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ORACLE_DIRECTOR_BIN") {
        return PathBuf::from(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                workspace.join(t)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    target.join("debug").join("director")
}

fn oracle(director: &Path, args: &[&str]) -> Output {
    let bin = director_bin();
    assert!(
        bin.exists(),
        "no director binary at {}: cargo build -p director",
        bin.display()
    );
    Command::new(oracle_dir().join("ldirectord-table.sh"))
        .arg("--director")
        .arg(director)
        .args(args)
        .output()
        .expect("run tests/oracle/ldirectord-table.sh")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_file_builds_the_same_table_as_ldirectord() {
    let out = oracle(&director_bin(), &[]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("unexpected differences 0"), "{report}");
    assert!(
        report.lines().filter(|l| l.starts_with("MATCH")).count() >= 20,
        "{report}"
    );
}

/// The comparison can fail: a director whose table loses its last destination is caught.
#[test]
fn a_skewed_table_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let skewed = dir.path().join("skewed-director");
    std::fs::write(
        &skewed,
        format!(
            "#!/bin/sh\n\"{}\" \"$@\" | sed '$d'\n",
            director_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&skewed, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/www.cf");
    let out = oracle(&skewed, &["--mode", "on", www.to_str().unwrap()]);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("DIFF     www.cf"), "{report}");
    assert!(
        report.contains("< -a -t 192.0.2.132:80 -r 192.0.2.250:80 -g -w 1"),
        "{report}"
    );
}

/// The fake ipvsadm keeps ipvsadm's port rules and prints `-S -n` the way ipvsadm 1.31 does.
#[test]
fn fake_ipvsadm_port_rules_and_save_format() {
    let dir = tempfile::tempdir().unwrap();
    let fake = oracle_dir().join("ipvsadm");
    let run = |args: &[&str]| {
        let out = Command::new(&fake)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[
        "-A",
        "-t",
        "192.0.2.1:80",
        "-s",
        "sh",
        "-p",
        "300",
        "-M",
        "255.255.255.0",
        "-b",
        "sh-port,sh-fallback",
    ]);
    run(&[
        "-a",
        "-t",
        "192.0.2.1:80",
        "-r",
        "192.0.2.12:8080",
        "-g",
        "-w",
        "2",
    ]);
    run(&[
        "-a",
        "-t",
        "192.0.2.1:80",
        "-r",
        "192.0.2.11:8080",
        "-m",
        "-w",
        "3",
    ]);
    run(&["-a", "-t", "192.0.2.1:80", "-r", "192.0.2.13:8080", "-m"]);
    run(&["-d", "-t", "192.0.2.1:80", "-r", "192.0.2.13:8080"]);
    run(&["-A", "-f", "6", "-6", "-s", "wlc", "-p", "600", "-M", "64"]);
    run(&[
        "-a",
        "-f",
        "6",
        "-6",
        "-r",
        "[2001:db8::1]",
        "-i",
        "-w",
        "1",
    ]);
    run(&["-A", "-u", "[2001:db8::53]:53", "-s", "rr", "-o"]);
    assert_eq!(
        run(&["-S", "-n"]),
        "-A -f 6 -6 -s wlc -p 600 -M 64\n\
         -a -f 6 -6 -r [2001:db8::1]:0 -i -w 1 --tun-type ipip\n\
         -A -t 192.0.2.1:80 -s sh -p 300 -M 255.255.255.0 -b sh-fallback,sh-port\n\
         -a -t 192.0.2.1:80 -r 192.0.2.11:8080 -m -w 3\n\
         -a -t 192.0.2.1:80 -r 192.0.2.12:80 -g -w 2\n\
         -A -u [2001:db8::53]:53 -s rr -o\n"
    );
    let list = run(&["-L", "-n"]);
    assert!(
        list.contains(
            "TCP  192.0.2.1:80 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0\n"
        ),
        "{list}"
    );
    assert!(
        list.contains("FWM  6 IPv6 wlc persistent 600 mask 64\n"),
        "{list}"
    );
}
