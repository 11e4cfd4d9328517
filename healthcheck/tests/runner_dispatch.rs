//! The runner with the real prober against loopback servers (real time, short intervals).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use healthcheck::runner::{Dispatch, Runner, RunnerConfig};
use healthcheck::spec::{CheckSpec, CheckType, Service, VirtualId};
use healthcheck::tracker::Transition;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn http_server(hang: bool) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                if hang {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                } else {
                    let _ = s
                        .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nTest Page")
                        .await;
                }
            });
        }
    });
    addr
}

fn spec(real: SocketAddr) -> CheckSpec {
    let mut s = CheckSpec::new(real, VirtualId::Addr("192.0.2.100:80".parse().unwrap()));
    s.service = Service::Http;
    s.checkport = real.port();
    let n = std::sync::Arc::make_mut(&mut s.negotiate);
    n.request = Some("index.html".into());
    n.receive = Some(healthcheck::probe::Receive::compile("Test Page").unwrap());
    s.checkinterval = Duration::from_millis(200);
    s.negotiatetimeout = Duration::from_millis(500);
    s.checktimeout = Duration::from_millis(500);
    s
}

#[tokio::test]
async fn good_up_hung_down_and_connect_ping_external_work() {
    let good = http_server(false).await;
    let hung = http_server(true).await;
    let (runner, mut rx) =
        Runner::<String>::new(Arc::new(Dispatch::new()), RunnerConfig::default());
    let mut connect = spec(good);
    connect.checktype = CheckType::Connect;
    let mut ping = spec("127.0.0.1:0".parse().unwrap());
    ping.checktype = CheckType::Ping;
    let mut external = spec(good);
    external.checktype = CheckType::External {
        cmd: "/bin/false".into(),
    };
    let mut unsupported = spec(good);
    unsupported.service = Service::Ldap;
    let rejected = runner.update([
        ("good".to_string(), spec(good)),
        ("hung".to_string(), spec(hung)),
        ("connect".to_string(), connect),
        ("ping".to_string(), ping),
        ("external".to_string(), external),
        ("ldap-without-probe".to_string(), unsupported),
    ]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let mut seen = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.len() < 6 {
        let e = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("not every check reported in time")
            .unwrap();
        seen.entry(e.key.clone())
            .or_insert((e.transition, e.reason));
    }
    assert_eq!(seen["good"].0, Transition::Up);
    assert_eq!(seen["hung"].0, Transition::Down);
    assert!(
        seen["hung"].1.starts_with("timed out"),
        "{:?}",
        seen["hung"]
    );
    assert_eq!(seen["connect"].0, Transition::Up);
    // Root (CI) may always ping; otherwise only with net.ipv4.ping_group_range, and the
    // check then fails saying so.
    if healthcheck::probe::ping::open("127.0.0.1".parse().unwrap()).is_ok() {
        assert_eq!(seen["ping"].0, Transition::Up, "{:?}", seen["ping"]);
    } else {
        assert_eq!(seen["ping"].0, Transition::Down);
        assert!(
            seen["ping"].1.contains("ping_group_range"),
            "{:?}",
            seen["ping"]
        );
    }
    assert_eq!(seen["external"].0, Transition::Down);
    assert_eq!(seen["ldap-without-probe"].0, Transition::Down);
    assert!(seen["ldap-without-probe"]
        .1
        .contains("no negotiate check available for service ldap"));
    // The good server stays up: no further events for it while it keeps answering.
    tokio::time::sleep(Duration::from_millis(600)).await;
    while let Ok(e) = rx.try_recv() {
        assert_ne!(e.key, "good", "unexpected event {e:?}");
    }
    assert!(runner.lag().count >= 6);
}
