//! The static-route file director writes for BIRD, against the real BIRD 2 (Debian's `bird2`,
//! `--features netns`, root): BIRD accepts it, `configure` over its control socket brings the
//! announced VIPs in and takes the withdrawn ones out, and a file BIRD refuses leaves BIRD on
//! its previous routes with the refusal naming BIRD's `file:line`. And `director run` (single
//! director, in-memory IPVS table) with `[announce]` keeps the real BIRD announcing exactly
//! the VIPs it can serve: a VIP whose last real server fails is withdrawn within a check
//! interval, `director standby` withdraws all, `director takeover` announces again, a reload
//! of director.conf that disables `[announce]` withdraws all and one that enables it announces
//! again (a broken one changes nothing), a stop withdraws before the daemon exits.
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock
#![allow(clippy::unwrap_used)] // a test: a failure is a panic with its message

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use director::announce::ctl::{publish, BirdCtl, BirdError};
use director::announce::{bird, render};

struct Bird(Child);

/// A BIRD on `dir/bird.ctl` whose configuration includes `vips` (written empty first).
async fn start_bird(dir: &std::path::Path, vips: &std::path::Path) -> (Bird, BirdCtl) {
    let conf = dir.join("bird.conf");
    let sock = dir.join("bird.ctl");
    std::fs::write(vips, render(&BTreeSet::new(), "director_vips")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "router id 192.0.2.11;\nprotocol device {{}}\ninclude \"{}\";\n",
            vips.display()
        ),
    )
    .unwrap();
    let child = Command::new("bird")
        .arg("-f")
        .arg("-c")
        .arg(&conf)
        .arg("-s")
        .arg(&sock)
        .arg("-P")
        .arg(dir.join("bird.pid"))
        .spawn()
        .expect("run bird (apt-get install bird2)");
    let bird = Bird(child);
    let ctl = BirdCtl {
        path: sock.clone(),
        timeout: Duration::from_secs(5),
    };
    let start = Instant::now();
    while ctl.command("show status").await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "BIRD did not open {}",
            sock.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (bird, ctl)
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn routes(reply: &bird::Reply) -> Vec<String> {
    reply
        .lines
        .iter()
        .filter(|(code, _)| *code == 1007)
        .filter_map(|(_, t)| t.split_whitespace().next())
        .filter(|w| w.contains('/'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn bird_takes_the_vips_in_and_out_and_keeps_them_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let vips = dir.path().join("director-vips.conf");
    let set = |v: &[&str]| -> BTreeSet<IpAddr> { v.iter().map(|s| s.parse().unwrap()).collect() };
    let (_bird, ctl) = start_bird(dir.path(), &vips).await;

    let r = publish(
        &vips,
        &render(&set(&["192.0.2.100", "2001:db8::100"]), "director_vips"),
        &ctl,
    )
    .await
    .unwrap();
    assert_eq!(r.code, 3, "{r:?}");
    let shown = routes(&ctl.command("show route").await.unwrap());
    assert_eq!(shown, vec!["192.0.2.100/32", "2001:db8::100/128"]);
    let protocols = bird::protocols(&ctl.command("show protocols").await.unwrap());
    assert!(protocols
        .iter()
        .any(|p| p.name == "director_vips4" && p.proto == "Static" && p.state == "up"));

    publish(
        &vips,
        &render(&set(&["192.0.2.101"]), "director_vips"),
        &ctl,
    )
    .await
    .unwrap();
    assert_eq!(
        routes(&ctl.command("show route").await.unwrap()),
        vec!["192.0.2.101/32"]
    );

    let e = publish(
        &vips,
        "protocol static broken {\n    route nowhere;\n}\n",
        &ctl,
    )
    .await
    .unwrap_err();
    match &e {
        BirdError::Refused { summary, .. } => {
            assert!(summary.starts_with("8002 "), "{summary}");
            assert!(
                summary.contains(&format!("{}:2:", vips.display())),
                "{summary}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        routes(&ctl.command("show route").await.unwrap()),
        vec!["192.0.2.101/32"],
        "BIRD keeps its previous configuration"
    );
}

/// Polls `show route` until it lists `want` (bounded); the time it took.
async fn until_routes(ctl: &BirdCtl, want: &[&str], limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = routes(&ctl.command("show route").await.unwrap());
        if now == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "BIRD shows {now:?}, not {want:?}, after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn control(bin: &std::path::Path, run: &std::path::Path, what: &str) -> String {
    let out = Command::new(bin)
        .arg(what)
        .arg("--run-dir")
        .arg(run)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Kills the daemon if the test fails half way.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn director_run_announces_what_it_can_serve_through_bird() {
    let bin = tests::pair::director_bin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vips = dir.path().join("director-vips.conf");
    let (_bird, ctl) = start_bird(dir.path(), &vips).await;
    // One real server per VIP on loopback; checktype connect every second.
    let www = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dns = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (p1, p2) = (
        www.local_addr().unwrap().port(),
        dns.local_addr().unwrap().port(),
    );
    std::fs::write(
        dir.path().join("ldirectord.cf"),
        format!(
            "checkinterval=1\nchecktimeout=1\nquiescent=no\n\
             virtual=192.0.2.100:80\n\treal=127.0.0.1:{p1} masq\n\tchecktype=connect\n\tscheduler=mh\n\
             virtual=192.0.2.101:80\n\treal=127.0.0.1:{p2} masq\n\tchecktype=connect\n\tscheduler=mh\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("director.conf"),
        format!(
            "[announce]\nenabled = true\nfile = \"{}\"\nsocket = \"{}\"\n",
            vips.display(),
            ctl.path.display()
        ),
    )
    .unwrap();
    let run_dir = dir.path().join("run");
    let log = std::fs::File::create(dir.path().join("director.log")).unwrap();
    let mut daemon = Daemon(
        Command::new(&bin)
            .args([
                "run",
                "--ipvs",
                "memory",
                "--metrics",
                "off",
                "--config-dir",
            ])
            .arg(dir.path())
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    until_routes(
        &ctl,
        &["192.0.2.101/32", "192.0.2.100/32"],
        Duration::from_secs(15),
    )
    .await;
    let status = control(&bin, &run_dir, "status");
    assert!(
        status.contains("announced through BIRD: 192.0.2.100, 192.0.2.101"),
        "{status}"
    );

    // The only real server of 192.0.2.101 stops: withdrawn within a check interval and its
    // timeout, plus a round of the announcer.
    drop(dns);
    let took = until_routes(&ctl, &["192.0.2.100/32"], Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "{took:?}");

    let said = control(&bin, &run_dir, "standby");
    assert!(said.contains("withdrawing every VIP"), "{said}");
    until_routes(&ctl, &[], Duration::from_secs(3)).await;
    let status = control(&bin, &run_dir, "status");
    assert!(
        status.contains("announced through BIRD: nothing (operator standby)"),
        "{status}"
    );
    control(&bin, &run_dir, "takeover");
    until_routes(&ctl, &["192.0.2.100/32"], Duration::from_secs(3)).await;

    // director.conf reloaded: a broken one is refused with its line and changes nothing;
    // [announce] disabled withdraws everything, enabled again announces again.
    let conf = dir.path().join("director.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{good}bogus = 1\n")).unwrap();
    let said = control(&bin, &run_dir, "reload");
    assert!(
        said.contains("director.conf not reloaded") && said.contains("director.conf:5:"),
        "{said}"
    );
    until_routes(&ctl, &["192.0.2.100/32"], Duration::from_secs(1)).await;
    std::fs::write(&conf, good.replace("enabled = true", "enabled = false")).unwrap();
    let said = control(&bin, &run_dir, "reload");
    assert!(said.contains("[announce] disabled"), "{said}");
    until_routes(&ctl, &[], Duration::from_secs(3)).await;
    std::fs::write(&conf, &good).unwrap();
    let said = control(&bin, &run_dir, "reload");
    assert!(said.contains("[announce] enabled"), "{said}");
    until_routes(&ctl, &["192.0.2.100/32"], Duration::from_secs(5)).await;

    // A stop withdraws before the daemon is gone.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(daemon.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let start = Instant::now();
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        routes(&ctl.command("show route").await.unwrap()),
        Vec::<String>::new()
    );
    let text = std::fs::read_to_string(dir.path().join("director.log")).unwrap();
    assert!(text.contains("announce: announcing 192.0.2.101"), "{text}");
    assert!(text.contains("announce: withdrawing 192.0.2.101"), "{text}");
    drop(www);
}
