//! The whole ldirectord loop in-process: a file, the health-check runner, the reconciler and an
//! in-memory IPVS table. Scripted probes with tokio's paused time for the timing rules; one
//! test with real HTTP servers on loopback and the standard probes.

#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use director::daemon::lvs::{kernel, Kernel, Lvs, LvsOptions, ReloadCause};
use director::ipvs::memory::MemoryIpvs;
use director::ipvs::{Change, Dest, Forward, Ipvs, Service, ServiceKey, Table};
use healthcheck::runner::Prober;

mod common;
use common::Scripted;

const WWW: &str = "\
checkinterval=2
checktimeout=1
quiescent=yes
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\treal=198.51.100.2:80 gate
\tfallback=127.0.0.1:80 gate
\tservice=http
\trequest=\"index.html\"
\treceive=\"Test Page\"
\tscheduler=rr

virtual=192.0.2.133:80
\treal=198.51.100.3:80 masq 2
\tservice=http
\tscheduler=wrr
\tcleanstop=no
";

fn vkey(vip: &str) -> ServiceKey {
    ServiceKey::Addr {
        protocol: director::ipvs::Protocol::Tcp,
        addr: vip.parse().unwrap(),
        port: 80,
    }
}

fn table(k: &Kernel) -> Table {
    k.lock().unwrap().dump().unwrap().table()
}

/// `ip:port weight` of every destination of a service, sorted.
fn dests(k: &Kernel, vip: &str) -> Vec<String> {
    table(k)
        .services
        .get(&vkey(vip))
        .map(|c| {
            c.dests
                .values()
                .map(|d| format!("{}:{} {}", d.addr, d.port, d.weight))
                .collect()
        })
        .unwrap_or_default()
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("www.cf");
    std::fs::write(&p, text).unwrap();
    p
}

async fn start(path: &Path, k: &Kernel, probes: &Arc<Scripted>) -> Lvs {
    let options = LvsOptions::new(Arc::clone(probes) as Arc<dyn Prober>);
    Lvs::start(path, Arc::clone(k), options)
        .await
        .expect("starts")
}

async fn sleep(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn reals_leave_quiesce_fallback_comes_and_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), WWW);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    // Before any verdict: services exist, no real is added early, no fallback flap.
    assert_eq!(dests(&k, "192.0.2.132"), Vec::<String>::new());
    sleep(1100).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 1"]
    );
    assert_eq!(dests(&k, "192.0.2.133"), vec!["198.51.100.3:80 2"]);

    // One real fails: quiesced (weight 0) within checkinterval + checktimeout.
    probes.set("198.51.100.2:80", false);
    sleep(3000).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 0"]
    );
    let st = lvs.status();
    let real = &st.virtuals[0].reals[1];
    assert_eq!(real.health, "down");
    assert_eq!(real.weight, Some(0));
    assert!(
        real.reason.as_deref().unwrap_or("").contains("500"),
        "{real:?}"
    );

    // Every real fails: the fallback joins at weight 1.
    probes.set("198.51.100.1:80", false);
    sleep(3000).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["127.0.0.1:80 1", "198.51.100.1:80 0", "198.51.100.2:80 0"]
    );
    assert!(lvs.status().virtuals[0].fallback_active);

    // One comes back: restored at its weight, the fallback leaves.
    probes.set("198.51.100.1:80", true);
    sleep(3000).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 0"]
    );
    assert!(!lvs.status().virtuals[0].fallback_active);

    // Stop: the cleanstop=yes virtual is purged, the cleanstop=no one stays as it is.
    lvs.stop().await;
    let t = table(&k);
    assert!(!t.services.contains_key(&vkey("192.0.2.132")));
    assert_eq!(dests(&k, "192.0.2.133"), vec!["198.51.100.3:80 2"]);
}

#[tokio::test(start_paused = true)]
async fn quiescent_no_removes_and_hand_edits_are_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &WWW.replace("quiescent=yes", "quiescent=no"));
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    sleep(1100).await;
    probes.set("198.51.100.2:80", false);
    sleep(3000).await;
    assert_eq!(dests(&k, "192.0.2.132"), vec!["198.51.100.1:80 1"]);
    // Someone adds a stray destination by hand: removed within a checkinterval.
    let mut stray = Dest::new("203.0.113.9".parse().unwrap(), 80);
    stray.forward = Forward::Route;
    k.lock()
        .unwrap()
        .apply(&[Change::AddDest(vkey("192.0.2.132"), stray)])
        .unwrap();
    sleep(2100).await;
    assert_eq!(dests(&k, "192.0.2.132"), vec!["198.51.100.1:80 1"]);
    lvs.stop().await;
}

#[tokio::test(start_paused = true)]
async fn start_adopts_the_table_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), WWW);
    let mut mem = MemoryIpvs::new();
    let mut svc = Service::new(vkey("192.0.2.132"));
    svc.scheduler = "rr".into();
    let mut d = Dest::new("198.51.100.1".parse().unwrap(), 80);
    d.forward = Forward::Route;
    // An unrelated service someone else manages.
    let other = Service::new(vkey("203.0.113.50"));
    mem.apply(&[
        Change::AddService(svc),
        Change::AddDest(vkey("192.0.2.132"), d),
        Change::AddService(other),
    ])
    .unwrap();
    let k = kernel(mem);
    let probes = Arc::new(Scripted::default());
    probes.set("198.51.100.2:80", false);
    let lvs = start(&path, &k, &probes).await;
    // No verdict yet: the real found in the table stays, nothing else is touched.
    assert_eq!(dests(&k, "192.0.2.132"), vec!["198.51.100.1:80 1"]);
    assert!(table(&k).services.contains_key(&vkey("203.0.113.50")));
    sleep(1100).await;
    // The failing real's first verdict puts it in at weight 0 (quiescent=yes), as
    // ldirectord's start leaves it; the adopted one is never touched.
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 0"]
    );
    lvs.stop().await;
    // Stop leaves services it never configured.
    assert!(table(&k).services.contains_key(&vkey("203.0.113.50")));
}

#[tokio::test(start_paused = true)]
async fn reload_moves_only_the_difference_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), WWW);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    sleep(1100).await;
    probes.set("198.51.100.2:80", false);
    sleep(3000).await;
    let before = dests(&k, "192.0.2.132");
    assert_eq!(before, vec!["198.51.100.1:80 1", "198.51.100.2:80 0"]);

    // Change the second virtual only (new weight, one more real whose check fails).
    let changed = WWW.replace(
        "\treal=198.51.100.3:80 masq 2\n",
        "\treal=198.51.100.3:80 masq 5\n\treal=198.51.100.4:80 masq\n",
    );
    probes.set("198.51.100.4:80", false);
    std::fs::write(&path, &changed).unwrap();
    lvs.reload(ReloadCause::Request).await.expect("reloads");
    // Health kept: the down real is not put back, the up one not touched; the changed
    // weight is applied at once, the new real waits for its first check.
    assert_eq!(dests(&k, "192.0.2.132"), before);
    let second = dests(&k, "192.0.2.133");
    // (the new real is absent until its first verdict, then quiesced at weight 0)
    assert!(
        matches!(
            second.first().map(String::as_str),
            Some("198.51.100.3:80 5" | "198.51.100.3:80 2")
        ) && second.iter().skip(1).all(|d| d == "198.51.100.4:80 0"),
        "{second:?}"
    );
    sleep(1100).await;
    assert_eq!(dests(&k, "192.0.2.132"), before);
    // the new real failed its first check: quiesced at weight 0
    assert_eq!(
        dests(&k, "192.0.2.133"),
        vec!["198.51.100.3:80 5", "198.51.100.4:80 0"]
    );

    // A broken file: refused, the table and the running configuration stay.
    std::fs::write(&path, format!("{changed}\tbogus=1\n")).unwrap();
    let err = lvs.reload(ReloadCause::Signal).await.unwrap_err();
    assert!(err.contains("www.cf:"), "{err}");
    sleep(2100).await;
    assert_eq!(dests(&k, "192.0.2.132"), before);
    assert_eq!(
        dests(&k, "192.0.2.133"),
        vec!["198.51.100.3:80 5", "198.51.100.4:80 0"]
    );
    let st = lvs.status();
    assert_eq!(st.reload_failures, 1);
    assert!(st.last_reload_error.is_some());

    // A virtual dropped from the file is removed at the next reload.
    let only_first = WWW
        .split("\nvirtual=192.0.2.133")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&path, format!("{only_first}\n")).unwrap();
    lvs.reload(ReloadCause::Request).await.expect("reloads");
    assert!(!table(&k).services.contains_key(&vkey("192.0.2.133")));
    assert_eq!(dests(&k, "192.0.2.132"), before);
    lvs.stop().await;
}

#[tokio::test(start_paused = true)]
async fn autoreload_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &format!("autoreload=yes\n{WWW}"));
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    sleep(1100).await;
    // Make sure the mtime changes even on coarse file systems.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        &path,
        format!("autoreload=yes\n{}", WWW.replace("masq 2", "masq 7")),
    )
    .unwrap();
    sleep(1100).await;
    assert_eq!(dests(&k, "192.0.2.133"), vec!["198.51.100.3:80 7"]);
    assert_eq!(lvs.status().reloads, 1);
    lvs.stop().await;
}

#[tokio::test(start_paused = true)]
async fn maintenance_file_forces_a_real_down() {
    let dir = tempfile::tempdir().unwrap();
    let maint = dir.path().join("maint");
    std::fs::create_dir(&maint).unwrap();
    let text = format!("maintenancedir={}\n{WWW}", maint.display());
    let path = write(dir.path(), &text);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    sleep(1100).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 1"]
    );
    std::fs::write(maint.join("198.51.100.1:80"), "").unwrap();
    sleep(2100).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 0", "198.51.100.2:80 1"]
    );
    assert_eq!(
        lvs.status().virtuals[0].reals[0].reason.as_deref(),
        Some("Server in maintenance")
    );
    std::fs::remove_file(maint.join("198.51.100.1:80")).unwrap();
    sleep(2100).await;
    assert_eq!(
        dests(&k, "192.0.2.132"),
        vec!["198.51.100.1:80 1", "198.51.100.2:80 1"]
    );
    lvs.stop().await;
}

#[tokio::test(start_paused = true)]
async fn fallbackcommand_runs_on_each_edge() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fb.log");
    let script = dir.path().join("fb.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    )
    .unwrap();
    let text = WWW.replacen(
        "\tscheduler=rr\n",
        &format!(
            "\tscheduler=rr\n\tfallbackcommand=/bin/sh {}\n",
            script.display()
        ),
        1,
    );
    let path = write(dir.path(), &text);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    probes.set("198.51.100.1:80", false);
    probes.set("198.51.100.2:80", false);
    let lvs = start(&path, &k, &probes).await;
    sleep(1100).await;
    probes.set("198.51.100.2:80", true);
    sleep(2100).await;
    // Stop waits for the commands already asked for, run one after another in order.
    tokio::time::resume();
    lvs.stop().await;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(text, "start 192.0.2.132:80 tcp\nstop 192.0.2.132:80 tcp\n");
}

/// Log lines written by the subscriber installed for the test's thread.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits (at most `limit`, real time) until `file` holds `line`.
async fn wait_for_line(file: &Path, line: &str, limit: Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().any(|l| l == line) {
            return true;
        }
        sleep(20).await;
    }
    false
}

/// A fallbackcommand that hangs is cut at its bound, which is logged as ldirectord's
/// system_timeout line; meanwhile an execute= child runs at once, and the next
/// fallbackcommand of the virtual follows the bound. Real time, real processes.
#[tokio::test]
async fn a_hanging_fallbackcommand_is_bounded_and_holds_up_nothing_else() {
    use std::os::unix::fs::PermissionsExt as _;
    let logs = Logs::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let dir = tempfile::tempdir().unwrap();
    let fb_log = dir.path().join("fb.log");
    let sleeper = dir.path().join("sleeper.pid");
    let script = dir.path().join("fb.sh");
    std::fs::write(
        &script,
        format!(
            "echo \"$*\" >> {log}\n[ \"$1\" = start ] && {{ sleep 30 & echo $! > {pid}; wait; }}\nexit 0\n",
            log = fb_log.display(),
            pid = sleeper.display()
        ),
    )
    .unwrap();
    let children = dir.path().join("children.log");
    let fake = dir.path().join("ldirectord");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", children.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = WWW.replacen(
        "\tscheduler=rr\n",
        &format!(
            "\tscheduler=rr\n\tfallbackcommand=/bin/sh {}\n",
            script.display()
        ),
        1,
    );
    let path = write(dir.path(), &text);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    probes.set("198.51.100.1:80", false);
    probes.set("198.51.100.2:80", false);
    let mut options = LvsOptions::new(Arc::clone(&probes) as Arc<dyn Prober>);
    options.ldirectord = fake;
    options.command_bounds.shell = Duration::from_secs(1);
    let lvs = Lvs::start(&path, Arc::clone(&k), options).await.unwrap();
    assert!(
        wait_for_line(&fb_log, "start 192.0.2.132:80 tcp", Duration::from_secs(5)).await,
        "no fallbackcommand start"
    );
    let t0 = std::time::Instant::now();
    // While it hangs: a reload that adds an execute= child runs the child at once.
    std::fs::write(&path, format!("execute=a.cf\n{text}")).unwrap();
    lvs.reload(ReloadCause::Request).await.unwrap();
    assert!(
        wait_for_line(&children, "a.cf start", Duration::from_secs(3)).await,
        "the execute= child waited for the hung fallbackcommand"
    );
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // A real comes back: the fallbackcommand stop follows the bound (1 s), the TERM grace
    // (the shell dies at once) and a checkinterval (2 s), not the 30 s hang.
    probes.set("198.51.100.1:80", true);
    assert!(
        wait_for_line(&fb_log, "stop 192.0.2.132:80 tcp", Duration::from_secs(6)).await,
        "the next fallbackcommand waited for the hung one"
    );
    let pid = std::fs::read_to_string(&sleeper).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    let alive = stat.is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    });
    if let Ok(p) = pid.trim().parse() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(!alive, "the hung fallbackcommand's child survived");
    let want = format!(
        "system_timeout(1, /bin/sh {} start 192.0.2.132:80 tcp) timed out, kill -TERM child",
        script.display()
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains(&want), "{logged}");
    lvs.stop().await;
}

/// Real HTTP servers on loopback, the standard probes, real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_http_reals_with_the_standard_probes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nTest Page")
                        .await;
                });
            }
        });
        (addr, task)
    }
    let (a, ta) = server().await;
    let (b, tb) = server().await;
    let text = format!(
        "checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.132:80\n\treal={a} masq\n\treal={b} masq\n\tfallback=127.0.0.1:80 gate\n\tservice=http\n\treceive=\"Test Page\"\n\tscheduler=rr\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &text);
    let k = kernel(MemoryIpvs::new());
    let options = LvsOptions::new(Arc::new(healthcheck::runner::Dispatch::new()));
    let lvs = Lvs::start(&path, Arc::clone(&k), options).await.unwrap();
    let mut want_both = vec![format!("{a} 1"), format!("{b} 1")];
    want_both.sort();
    let mut ok = false;
    for _ in 0..100 {
        if dests(&k, "192.0.2.132") == want_both {
            ok = true;
            break;
        }
        sleep(100).await;
    }
    assert!(ok, "{:?}", dests(&k, "192.0.2.132"));
    // One server stops answering: it leaves within checkinterval + checktimeout (+ slack).
    tb.abort();
    let _ = tb.await;
    let t0 = std::time::Instant::now();
    while dests(&k, "192.0.2.132") != vec![format!("{a} 1")]
        && t0.elapsed() < Duration::from_secs(5)
    {
        sleep(50).await;
    }
    assert_eq!(dests(&k, "192.0.2.132"), vec![format!("{a} 1")]);
    // checkinterval + checktimeout = 2 s, plus slack for a loaded test machine.
    assert!(
        t0.elapsed() <= Duration::from_millis(3500),
        "{:?}",
        t0.elapsed()
    );
    // Both gone: the fallback serves.
    ta.abort();
    let _ = ta.await;
    let t0 = std::time::Instant::now();
    while dests(&k, "192.0.2.132") != vec!["127.0.0.1:80 1".to_string()]
        && t0.elapsed() < Duration::from_secs(5)
    {
        sleep(50).await;
    }
    assert_eq!(dests(&k, "192.0.2.132"), vec!["127.0.0.1:80 1".to_string()]);
    lvs.stop().await;
    assert!(table(&k).services.is_empty());
}

#[tokio::test(start_paused = true)]
async fn monitorfile_gets_one_line_per_check_and_a_bad_one_refuses_the_reload() {
    let dir = tempfile::tempdir().unwrap();
    let mon = dir.path().join("web.mon");
    let maint = dir.path().join("maint");
    std::fs::create_dir(&maint).unwrap();
    let text = format!(
        "maintenancedir={}\n{}",
        maint.display(),
        WWW.replacen(
            "\tscheduler=rr\n",
            &format!("\tscheduler=rr\n\tmonitorfile=\"{}\"\n", mon.display()),
            1,
        )
    );
    let path = write(dir.path(), &text);
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    // opened (created) at load
    assert!(mon.exists());
    sleep(1100).await;
    probes.set("198.51.100.2:80", false);
    std::fs::write(maint.join("198.51.100.1"), "").unwrap();
    sleep(2000).await;
    // let the writer's blocking task finish
    tokio::time::resume();
    sleep(200).await;
    tokio::time::pause();
    let text = std::fs::read_to_string(&mon).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // two reals of the first virtual (the second virtual has no monitorfile), checked at
    // about 0 s and 2 s
    assert_eq!(lines.len(), 4, "{text}");
    let pid = std::process::id();
    let id1 = "negotiate http tcp 198.51.100.1 80 1 gate /index.html Test Page";
    let id2 = "negotiate http tcp 198.51.100.2 80 1 gate /index.html Test Page";
    for l in &lines {
        assert!(l.starts_with('['), "{l}");
        assert!(l.contains(&format!("] [{pid}] ")), "{l}");
    }
    assert!(
        text.contains(&format!("] [{pid}] {id1} [up] Success\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("] [{pid}] {id2} [up] Success\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("] [{pid}] {id1} [down] Server in maintenance\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "] [{pid}] {id2} [down] HTTP/1.0 500 Internal Server Error\n"
        )),
        "{text}"
    );

    // A reload whose monitorfile cannot be opened is refused; the running one goes on.
    let broken = text_with_monitor(&path, "/nonexistent/dir/web.mon");
    std::fs::write(&path, &broken).unwrap();
    let err = lvs.reload(ReloadCause::Request).await.unwrap_err();
    assert!(
        err.contains("unable to open monitorfile /nonexistent/dir/web.mon"),
        "{err}"
    );
    assert_eq!(lvs.status().reload_failures, 1);
    lvs.stop().await;
}

fn text_with_monitor(path: &Path, monitor: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("monitorfile=") {
                format!("\tmonitorfile=\"{monitor}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_children_follow_start_reload_and_stop() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("children.log");
    let fake = dir.path().join("ldirectord");
    // reload of b.cf fails (not running): ldirectord then starts it
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\n[ \"$*\" = \"b.cf reload\" ] && exit 1\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = write(dir.path(), &format!("execute=a.cf\nexecute=b.cf\n{WWW}"));
    let k = kernel(MemoryIpvs::new());
    let probes = Arc::new(Scripted::default());
    let mut options = LvsOptions::new(Arc::clone(&probes) as Arc<dyn Prober>);
    options.ldirectord = fake;
    let lvs = Lvs::start(&path, Arc::clone(&k), options).await.unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    for _ in 0..100 {
        if read().lines().count() >= 2 {
            break;
        }
        sleep(50).await;
    }
    assert_eq!(read(), "a.cf start\nb.cf start\n");
    std::fs::write(&path, format!("execute=b.cf\nexecute=c.cf\n{WWW}")).unwrap();
    lvs.reload(ReloadCause::Request).await.unwrap();
    for _ in 0..100 {
        if read().lines().count() >= 6 {
            break;
        }
        sleep(50).await;
    }
    assert_eq!(
        read(),
        "a.cf start\nb.cf start\na.cf stop\nb.cf reload\nb.cf start\nc.cf start\n"
    );
    // A broken file changes nothing (no child is touched).
    std::fs::write(&path, format!("execute=d.cf\n{WWW}\tbogus=1\n")).unwrap();
    assert!(lvs.reload(ReloadCause::Request).await.is_err());
    // Stop: the children are stopped (stop waits for the queue).
    lvs.stop().await;
    assert_eq!(
        read(),
        "a.cf start\nb.cf start\na.cf stop\nb.cf reload\nb.cf start\nc.cf start\nb.cf stop\nc.cf stop\n"
    );
}

#[tokio::test(start_paused = true)]
async fn readdquiescent_decides_whether_a_quiesced_real_deleted_by_hand_comes_back() {
    for readd in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let text = if readd {
            format!("readdquiescent=yes\n{WWW}")
        } else {
            WWW.to_string()
        };
        let path = write(dir.path(), &text);
        let k = kernel(MemoryIpvs::new());
        let probes = Arc::new(Scripted::default());
        let lvs = start(&path, &k, &probes).await;
        sleep(1100).await;
        probes.set("198.51.100.2:80", false);
        sleep(3000).await;
        assert_eq!(
            dests(&k, "192.0.2.132"),
            vec!["198.51.100.1:80 1", "198.51.100.2:80 0"]
        );
        // The operator deletes the quiesced real (to drop its persistent clients).
        let gone = Dest::new("198.51.100.2".parse().unwrap(), 80).key();
        k.lock()
            .unwrap()
            .apply(&[Change::DelDest(vkey("192.0.2.132"), gone)])
            .unwrap();
        sleep(4100).await;
        let want_back = vec!["198.51.100.1:80 1", "198.51.100.2:80 0"];
        if readd {
            assert_eq!(dests(&k, "192.0.2.132"), want_back, "readdquiescent=yes");
        } else {
            assert_eq!(
                dests(&k, "192.0.2.132"),
                vec!["198.51.100.1:80 1"],
                "readdquiescent=no keeps the hand deletion"
            );
            // A reload rebuilds the state as ldirectord's: the down real is at weight 0.
            lvs.reload(ReloadCause::Request).await.unwrap();
            sleep(1100).await;
            assert_eq!(dests(&k, "192.0.2.132"), want_back, "after a reload");
        }
        lvs.stop().await;
    }
}

/// A kernel whose table dump is slow (a big table: one dump per service) and counted.
struct SlowDumps {
    inner: MemoryIpvs,
    delay: Duration,
    dumps: Arc<std::sync::atomic::AtomicUsize>,
}

impl Ipvs for SlowDumps {
    fn info(&mut self) -> Result<director::ipvs::Info, director::ipvs::IpvsError> {
        self.inner.info()
    }
    fn dump(&mut self) -> Result<director::ipvs::Snapshot, director::ipvs::IpvsError> {
        self.dumps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.dump()
    }
    fn service(
        &mut self,
        key: &ServiceKey,
    ) -> Result<director::ipvs::ServiceEntry, director::ipvs::IpvsError> {
        self.inner.service(key)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), director::ipvs::IpvsError> {
        self.inner.apply(changes)
    }
    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), director::ipvs::IpvsError> {
        self.inner.zero(key)
    }
    fn flush(&mut self) -> Result<(), director::ipvs::IpvsError> {
        self.inner.flush()
    }
    fn timeouts(&mut self) -> Result<director::ipvs::Timeouts, director::ipvs::IpvsError> {
        self.inner.timeouts()
    }
    fn set_timeouts(
        &mut self,
        timeouts: &director::ipvs::Timeouts,
    ) -> Result<(), director::ipvs::IpvsError> {
        self.inner.set_timeouts(timeouts)
    }
    fn daemons(&mut self) -> Result<Vec<director::ipvs::SyncDaemon>, director::ipvs::IpvsError> {
        self.inner.daemons()
    }
    fn start_daemon(
        &mut self,
        daemon: &director::ipvs::SyncDaemon,
    ) -> Result<(), director::ipvs::IpvsError> {
        self.inner.start_daemon(daemon)
    }
    fn stop_daemon(
        &mut self,
        state: director::ipvs::SyncState,
    ) -> Result<(), director::ipvs::IpvsError> {
        self.inner.stop_daemon(state)
    }
}

/// The hand-edit repair dumps the whole table; when that is slow it runs less often than every
/// checkinterval (at most 1/50 of the time), and health changes still apply at once.
#[tokio::test]
async fn a_slow_table_dump_spaces_out_the_repair_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.140:80\n\treal=198.51.100.1:80 gate\n\
         \treal=198.51.100.2:80 gate\n\tservice=http\n\tscheduler=rr\n",
    );
    let dumps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let k = kernel(SlowDumps {
        inner: MemoryIpvs::new(),
        delay: Duration::from_millis(200),
        dumps: Arc::clone(&dumps),
    });
    let probes = Arc::new(Scripted::default());
    let lvs = start(&path, &k, &probes).await;
    let count = || dumps.load(std::sync::atomic::Ordering::SeqCst);
    // The start pass, then the first checkinterval's repair: 200 ms each, so the next one is
    // due 10 s later, not at every 1 s tick.
    for _ in 0..100 {
        if count() >= 2 {
            break;
        }
        sleep(50).await;
    }
    let after_first = count();
    assert_eq!(after_first, 2, "start pass and the first repair");
    probes.set("198.51.100.2:80", false);
    sleep(3500).await;
    assert_eq!(count(), after_first, "repaired again before its time");
    // The failure was applied anyway (health events plan against the table as last seen):
    // quiescent=no by default, so the failed real left the table.
    let st = lvs.status();
    assert_eq!(st.virtuals[0].reals[1].health, "down");
    assert_eq!(dests(&k, "192.0.2.140"), vec!["198.51.100.1:80 1"]);
    lvs.stop().await;
}

/// Waits (at most 5 s, real time) until the service's destinations are `want`.
async fn wait_for_dests(k: &Kernel, vip: &str, want: &[String]) -> Vec<String> {
    let t0 = std::time::Instant::now();
    let mut now = dests(k, vip);
    while now != want && t0.elapsed() < Duration::from_secs(5) {
        sleep(50).await;
        now = dests(k, vip);
    }
    now
}

/// director.conf beside the file, read with it at start and at each reload: the http check
/// fetches the `[[service.url]]` page and compares its MD5 (real servers on loopback, the
/// standard probes), the quorum brings the fallback in place of the real servers and runs
/// quorum_down / quorum_up, and a broken director.conf refuses the reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn director_conf_pages_and_quorum_drive_the_table() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn server(body: &'static str) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    let _ = s.write_all(format!("{head}{body}").as_bytes()).await;
                });
            }
        });
        addr
    }
    // printf 'Test Page\n' | md5sum
    let md5 = "d5d2ff66a8f30775df81b68c7ab2f9a4";
    let a = server("Test Page\n").await;
    let b = server("Another page\n").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("quorum.log");
    let path = write(
        dir.path(),
        &format!(
            "checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.132:80\n\treal={a} masq\n\t\
             real={b} masq\n\tfallback=127.0.0.1:80 gate\n\tservice=http\n\tscheduler=rr\n"
        ),
    );
    let conf = |quorum: u32| {
        format!(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:80\"\nquorum = {quorum}\n\
             quorum_up = \"echo up >> {l}\"\nquorum_down = \"echo down >> {l}\"\n\
             [[service.url]]\npath = \"/\"\ndigest = \"{md5}\"\n",
            l = log.display()
        )
    };
    std::fs::write(dir.path().join("director.conf"), conf(2)).unwrap();
    let k = kernel(MemoryIpvs::new());
    let options = LvsOptions::new(Arc::new(healthcheck::runner::Dispatch::new()));
    let lvs = Lvs::start(&path, Arc::clone(&k), options).await.unwrap();
    // b's page has another digest: b is down, a alone weighs 1 < 2: the fallback alone.
    let fallback = vec!["127.0.0.1:80 1".to_string()];
    assert_eq!(wait_for_dests(&k, "192.0.2.132", &fallback).await, fallback);
    assert!(wait_for_line(&log, "down", Duration::from_secs(5)).await);
    let st = lvs.status();
    let reason = st.virtuals[0].reals[1].reason.clone().unwrap_or_default();
    assert!(reason.contains("MD5 digest of / is"), "{reason}");

    // Quorum 1: a reload of the file reads director.conf again; a alone is enough.
    std::fs::write(dir.path().join("director.conf"), conf(1)).unwrap();
    lvs.reload(ReloadCause::Request).await.expect("reloads");
    let only_a = vec![format!("{a} 1")];
    assert_eq!(wait_for_dests(&k, "192.0.2.132", &only_a).await, only_a);
    assert!(wait_for_line(&log, "up", Duration::from_secs(5)).await);

    // A broken director.conf: the reload is refused at its line, the table stays.
    std::fs::write(
        dir.path().join("director.conf"),
        format!("{}weight = 3\n", conf(2)),
    )
    .unwrap();
    let err = lvs.reload(ReloadCause::Signal).await.unwrap_err();
    assert!(err.contains("director.conf:"), "{err}");
    sleep(1500).await;
    assert_eq!(dests(&k, "192.0.2.132"), only_a);
    lvs.stop().await;
}
