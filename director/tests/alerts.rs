//! E-mail alerts of a running ldirectord file, end to end: scripted checks, an in-memory IPVS
//! table, real time, and the mails caught by a fake `sendmail` script or by a loopback SMTP
//! sink written here.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use director::daemon::lvs::{kernel, Lvs, LvsOptions};
use director::ipvs::memory::MemoryIpvs;
use healthcheck::runner::{Prober, RunnerConfig};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

mod common;
use common::Scripted;

fn options(probes: &Arc<Scripted>) -> LvsOptions {
    let mut o = LvsOptions::new(Arc::clone(probes) as Arc<dyn Prober>);
    o.runner = RunnerConfig {
        spread: Duration::from_millis(100),
        lag_samples: 16,
    };
    o.mail.host = "lb1.example.com".into();
    o.mail.user = "root".into();
    o.mail.timeout = Duration::from_secs(5);
    o
}

const FILE: &str = "\
checkinterval=1
checktimeout=1
emailalert=\"ops@example.com, noc@example.com\"
emailalertfreq=1
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\treal=198.51.100.2:80 gate
\tservice=http
\tservicename=web shop
";

/// Wait (bounded) until `f` holds.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn fake_sendmail(dir: &Path, out: &Path) -> PathBuf {
    let p = dir.join("sendmail");
    // One line per mail: the arguments, then the Subject and Daemon-Status lines.
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nmsg=$(cat | tr -d '\\r' | sed ':a;N;$!ba;s/\\n[ \\t]\\+/ /g')\n\
             printf '%s | %s | %s\\n' \"$*\" \
             \"$(printf '%s\\n' \"$msg\" | grep '^Subject:')\" \
             \"$(printf '%s\\n' \"$msg\" | grep '^Daemon-Status:')\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_and_reminders_go_through_sendmail() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mails");
    let path = dir.path().join("www.cf");
    std::fs::write(&path, FILE).unwrap();
    let probes = Arc::new(Scripted::default());
    let mut o = options(&probes);
    o.mail.sendmail = fake_sendmail(dir.path(), &out);
    let k = kernel(MemoryIpvs::new());
    let lvs = Lvs::start(&path, Arc::clone(&k), o).await.unwrap();
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    until("two Added mails", || {
        read().matches("Added real server").count() == 2
    })
    .await;
    let text = read();
    assert!(
        text.contains(
            "-i -f root@lb1.example.com -- ops@example.com noc@example.com | Subject: [web shop] \
             Added real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1) | \
             Daemon-Status: starting"
        ),
        "{text}"
    );
    probes.set("198.51.100.2:80", false);
    until("the Deleted mail and two reminders", || {
        read()
            .matches("Inaccessible real server: 198.51.100.2:80 (192.0.2.132:80)")
            .count()
            >= 2
    })
    .await;
    let text = read();
    assert!(
        text.contains(
            "Subject: [web shop] Deleted real server: 198.51.100.2:80 (192.0.2.132:80) | \
             Daemon-Status: running"
        ),
        "{text}"
    );
    // Back up: "Added" again, and the reminders stop.
    probes.set("198.51.100.2:80", true);
    until("the real back", || {
        read().matches("Added real server").count() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reminders = read().matches("Inaccessible").count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        read().matches("Inaccessible").count(),
        reminders,
        "{}",
        read()
    );
    assert!(!read().contains("198.51.100.1:80 (192.0.2.132:80) | Subject: [web shop] Inaccessible"));
    lvs.stop().await;
    // stop purges with cleanstop=yes: "Purged real server (stop)" mails in state stopping
    let text = read();
    assert!(
        text.contains(
            "Subject: [web shop] Purged real server (stop): 198.51.100.1:80 (192.0.2.132:80) | \
             Daemon-Status: stopping"
        ),
        "{text}"
    );
}

/// A loopback SMTP sink: accepts connections until dropped, answers every command, keeps
/// each mail's DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&mails);
    tokio::spawn(async move {
        for _ in 0..50 {
            let Ok(Ok((s, _))) = tokio::time::timeout(Duration::from_secs(30), l.accept()).await
            else {
                return;
            };
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Ok(Some(line))) =
                    tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
                {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap_or_default());
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let up = line.to_ascii_uppercase();
                    let reply: &[u8] = if up.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go on\r\n"
                    } else if up.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_relay_per_virtual_with_a_status_filter() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("www.cf");
    let text = FILE
        .replace("emailalertfreq=1\n", "emailalertfreq=0\n")
        .replace(
            "\tservicename=web shop\n",
            "\tsmtp=127.0.0.1\n\temailalertstatus=running\n\tcomment=front end\n",
        );
    std::fs::write(&path, text).unwrap();
    let probes = Arc::new(Scripted::default());
    let mut o = options(&probes);
    o.mail.smtp_port = port;
    o.mail.sendmail = PathBuf::from("/nonexistent/sendmail");
    let k = kernel(MemoryIpvs::new());
    let lvs = Lvs::start(&path, Arc::clone(&k), o).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    probes.set("198.51.100.1:80", false);
    until("the Deleted mail", || {
        mails
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("Deleted real server"))
    })
    .await;
    lvs.stop().await;
    let all = mails.lock().unwrap().clone();
    // emailalertstatus=running: the start-up "Added" mails and the stop-time purges are not
    // sent; reminders are off.
    assert_eq!(all.len(), 1, "{all:#?}");
    let m = &all[0];
    assert!(m.contains("From: root@lb1.example.com"), "{m}");
    assert!(m.contains("To: ops@example.com, noc@example.com"), "{m}");
    assert!(
        m.contains("Subject: Deleted real server: 198.51.100.1:80 (192.0.2.132:80)"),
        "{m}"
    );
    assert!(
        m.contains(
            "ldirectord host: lb1.example.com\nLog-Message: Deleted real server: \
             198.51.100.1:80 (192.0.2.132:80)\nDaemon-Status: running\n\nComment: front end\n"
        ),
        "{m}"
    );
}
