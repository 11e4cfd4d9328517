//! The static-route file director writes for BIRD, against the real BIRD 2 (Debian's `bird2`,
//! `--features netns`, root): BIRD accepts it, `configure` over its control socket brings the
//! announced VIPs in and takes the withdrawn ones out, and a file BIRD refuses leaves BIRD on
//! its previous routes with the refusal naming BIRD's `file:line`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use director::announce::ctl::{publish, BirdCtl, BirdError};
use director::announce::{bird, render};

struct Bird(Child);

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
    let conf = dir.path().join("bird.conf");
    let sock = dir.path().join("bird.ctl");
    let set = |v: &[&str]| -> BTreeSet<IpAddr> { v.iter().map(|s| s.parse().unwrap()).collect() };
    std::fs::write(&vips, render(&set(&[]), "director_vips")).unwrap();
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
        .arg(dir.path().join("bird.pid"))
        .spawn()
        .expect("run bird (apt-get install bird2)");
    let _bird = Bird(child);
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
