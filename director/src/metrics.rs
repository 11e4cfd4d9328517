//! Prometheus metrics: rendered from a status snapshot and the daemon's counters
//! (prometheus-client's text encoding), served on `GET /metrics`.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::status::Status;

/// Monotonic counters the daemon keeps beside the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub reloads: u64,
    pub reload_failures: u64,
    pub ipvs_changes: u64,
    pub ipvs_errors: u64,
    pub checks: u64,
    pub check_failures: u64,
    /// Heartbeat packets dropped, by reason ("auth", "replay", ...).
    pub heartbeat_rejected: Vec<(String, u64)>,
    /// Check start lag (due -> started) quantiles in seconds: (quantile, value).
    pub check_lag: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VirtualLabels {
    virtual_service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RealLabels {
    virtual_service: String,
    real: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipLabels {
    vip: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BirdLabels {
    name: String,
    proto: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    quantile: String,
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// The text exposition of everything director knows.
pub fn render(status: &Status, counters: &Counters) -> String {
    let mut registry = Registry::default();
    let up: Gauge = Gauge::default();
    up.set(1);
    registry.register("director_up", "The director daemon is running", up);
    let uptime: Gauge = Gauge::default();
    uptime.set(i64::try_from(status.uptime_s).unwrap_or(i64::MAX));
    registry.register(
        "director_uptime_seconds",
        "Seconds since the daemon started",
        uptime,
    );

    counter(
        &mut registry,
        "director_reloads",
        "Configuration reloads applied",
        counters.reloads,
    );
    counter(
        &mut registry,
        "director_reload_failures",
        "Reloads refused because the new configuration was wrong",
        counters.reload_failures,
    );
    counter(
        &mut registry,
        "director_ipvs_changes",
        "IPVS changes applied",
        counters.ipvs_changes,
    );
    counter(
        &mut registry,
        "director_ipvs_errors",
        "IPVS changes the kernel refused",
        counters.ipvs_errors,
    );
    counter(
        &mut registry,
        "director_checks",
        "Health checks run",
        counters.checks,
    );
    counter(
        &mut registry,
        "director_check_failures",
        "Health checks that failed",
        counters.check_failures,
    );

    let rejected = Family::<ReasonLabels, Counter>::default();
    for (reason, n) in &counters.heartbeat_rejected {
        rejected
            .get_or_create(&ReasonLabels {
                reason: reason.clone(),
            })
            .inc_by(*n);
    }
    registry.register(
        "director_heartbeat_rejected",
        "Heartbeat packets dropped (forged, replayed, wrong key, malformed)",
        rejected,
    );

    let lag = Family::<QuantileLabels, Gauge<f64, AtomicU64>>::default();
    for (q, v) in &counters.check_lag {
        lag.get_or_create(&QuantileLabels {
            quantile: q.to_string(),
        })
        .set(*v);
    }
    registry.register(
        "director_check_lag_seconds",
        "Delay between when a check was due and when it started",
        lag,
    );

    if let Some(f) = &status.failover {
        let role = Family::<RoleLabels, Gauge>::default();
        role.get_or_create(&RoleLabels {
            role: f.role.clone(),
        })
        .set(1);
        registry.register("director_failover_role", "This node's failover role", role);
        let peer_up: Gauge = Gauge::default();
        peer_up.set(i64::from(f.peer.as_ref().is_some_and(|p| p.state == "up")));
        registry.register(
            "director_peer_up",
            "The peer's heartbeats are arriving",
            peer_up,
        );
        if let Some(ms) = f.peer.as_ref().and_then(|p| p.last_heard_ms) {
            let g: Gauge<f64, AtomicU64> = Gauge::default();
            g.set(ms as f64 / 1000.0);
            registry.register(
                "director_peer_last_heard_seconds",
                "Seconds since the last valid heartbeat from the peer",
                g,
            );
        }
        let running: Gauge = Gauge::default();
        running.set(
            i64::try_from(f.resources.iter().filter(|r| r.state == "running").count()).unwrap_or(0),
        );
        registry.register(
            "director_resources_running",
            "haresources resources running here",
            running,
        );
    }

    if let Some(a) = &status.announce {
        let announced = Family::<VipLabels, Gauge>::default();
        for vip in a.wanted.iter().chain(&a.announced) {
            announced
                .get_or_create(&VipLabels { vip: vip.clone() })
                .set(i64::from(a.announced.contains(vip)));
        }
        registry.register(
            "director_vip_announced",
            "The VIP is announced to the routers through BIRD (1), or should be and is not (0)",
            announced,
        );
        let proto_up = Family::<BirdLabels, Gauge>::default();
        for p in &a.protocols {
            proto_up
                .get_or_create(&BirdLabels {
                    name: p.name.clone(),
                    proto: p.proto.clone(),
                })
                .set(i64::from(
                    p.state == "up" && (p.proto != "BGP" || p.info.starts_with("Established")),
                ));
        }
        registry.register(
            "director_bird_protocol_up",
            "A BIRD protocol is up (a BGP session: established)",
            proto_up,
        );
    }

    let real_up = Family::<RealLabels, Gauge>::default();
    let real_weight = Family::<RealLabels, Gauge>::default();
    let fallback = Family::<VirtualLabels, Gauge>::default();
    for v in &status.virtuals {
        fallback
            .get_or_create(&VirtualLabels {
                virtual_service: v.name.clone(),
            })
            .set(i64::from(v.fallback_active));
        for r in &v.reals {
            let labels = RealLabels {
                virtual_service: v.name.clone(),
                real: r.address.clone(),
            };
            real_up
                .get_or_create(&labels)
                .set(i64::from(r.health == "up"));
            if let Some(w) = r.weight {
                real_weight.get_or_create(&labels).set(i64::from(w));
            }
        }
    }
    registry.register(
        "director_real_up",
        "The real server passes its health check",
        real_up,
    );
    registry.register(
        "director_real_weight",
        "The real server's weight in the IPVS table",
        real_weight,
    );
    registry.register(
        "director_fallback_active",
        "The fallback server is serving the virtual service",
        fallback,
    );

    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// The whole HTTP answer to the first bytes a client sent (`head`): the metrics `source`
/// gives for `/metrics` (with or without a query), 404 for any other path or for what is not
/// a request line. Pure but for calling `source`.
pub fn reply(head: &[u8], source: impl FnOnce() -> String) -> String {
    let head = String::from_utf8_lossy(head);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
        ("200 OK", source())
    } else {
        ("404 Not Found", "try /metrics\n".to_string())
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Serve `GET /metrics` on `addr` until the task is dropped; `source` gives the current text.
pub async fn serve<F>(addr: SocketAddr, source: F) -> std::io::Result<()>
where
    F: Fn() -> String + Send + Sync + Clone + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let source = source.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
                    .await;
            let n = match read {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let reply = reply(buf.get(..n).unwrap_or_default(), &source);
            let _ = stream.write_all(reply.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;
    use proptest::prelude::*;

    #[test]
    fn exposes_reals_fallback_role_and_counters() {
        let st = Status {
            node: "a".into(),
            mode: "pair".into(),
            failover: Some(FailoverStatus {
                role: "active".into(),
                peer: Some(PeerStatus {
                    name: "b".into(),
                    state: "up".into(),
                    role: None,
                    last_heard_ms: Some(20),
                }),
                ..Default::default()
            }),
            virtuals: vec![VirtualStatus {
                name: "tcp:192.0.2.132:80".into(),
                scheduler: "rr".into(),
                fallback_active: true,
                reals: vec![RealStatus {
                    address: "198.51.100.1:80".into(),
                    health: "down".into(),
                    weight: Some(0),
                    reason: Some("timed out".into()),
                }],
            }],
            announce: Some(crate::status::AnnounceStatus {
                announced: vec!["192.0.2.132".into()],
                wanted: vec!["192.0.2.132".into(), "192.0.2.133".into()],
                protocols: vec![
                    crate::status::BirdProtocolStatus {
                        name: "router1".into(),
                        proto: "BGP".into(),
                        state: "up".into(),
                        info: "Established".into(),
                    },
                    crate::status::BirdProtocolStatus {
                        name: "router2".into(),
                        proto: "BGP".into(),
                        state: "start".into(),
                        info: "Active Socket: Connection refused".into(),
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = Counters {
            reloads: 2,
            heartbeat_rejected: vec![("replay".into(), 3)],
            ..Default::default()
        };
        let text = render(&st, &c);
        for want in [
            "director_up 1",
            "director_reloads_total 2",
            "director_heartbeat_rejected_total{reason=\"replay\"} 3",
            "director_failover_role{role=\"active\"} 1",
            "director_peer_up 1",
            "director_real_up{virtual_service=\"tcp:192.0.2.132:80\",real=\"198.51.100.1:80\"} 0",
            "director_fallback_active{virtual_service=\"tcp:192.0.2.132:80\"} 1",
            "director_vip_announced{vip=\"192.0.2.132\"} 1",
            "director_vip_announced{vip=\"192.0.2.133\"} 0",
            "director_bird_protocol_up{name=\"router1\",proto=\"BGP\"} 1",
            "director_bird_protocol_up{name=\"router2\",proto=\"BGP\"} 0",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    /// Status line, Content-Length and body of a reply; the length must be the body's.
    fn split(reply: &str) -> (&str, &str) {
        let (head, body) = reply.split_once("\r\n\r\n").expect("a header end");
        let status = head.lines().next().expect("a status line");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("a Content-Length")
            .parse()
            .expect("a number");
        assert_eq!(length, body.len(), "{reply}");
        (status, body)
    }

    proptest! {
        #[test]
        fn any_request_bytes_get_a_well_formed_answer(head in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let reply = reply(&head, || "director_up 1\n".to_string());
            let (status, _) = split(&reply);
            prop_assert!(status == "HTTP/1.1 200 OK" || status == "HTTP/1.1 404 Not Found", "{}", status);
        }

        #[test]
        fn a_metrics_request_gets_the_metrics(
            method in "GET|HEAD|POST",
            query in proptest::option::of("[a-z=&]{0,20}"),
            version in "HTTP/1\\.[01]",
            headers in "([A-Za-z-]{1,10}: [ -~]{0,20}\r\n){0,4}",
        ) {
            let path = match query {
                Some(q) => format!("/metrics?{q}"),
                None => "/metrics".to_string(),
            };
            let head = format!("{method} {path} {version}\r\n{headers}\r\n");
            let reply = reply(head.as_bytes(), || "director_up 1\n".to_string());
            prop_assert_eq!(split(&reply), ("HTTP/1.1 200 OK", "director_up 1\n"));
        }

        #[test]
        fn other_paths_are_not_found(path in "/[a-z/]{0,20}") {
            prop_assume!(path != "/metrics");
            let reply = reply(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes(), || unreachable!());
            prop_assert_eq!(split(&reply).0, "HTTP/1.1 404 Not Found");
        }
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let server = tokio::spawn(serve(addr, || "director_up 1\n".to_string()));
        let mut reply = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
                s.read_to_string(&mut reply).await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        server.abort();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with("director_up 1\n"));
    }
}
