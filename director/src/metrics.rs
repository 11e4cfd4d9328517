//! Prometheus metrics: rendered from a status snapshot, the daemon's counters and the IPVS
//! traffic (prometheus-client's text encoding), served on `GET /metrics` by hyper's HTTP/1
//! server; beside them, when `director.conf` `[admin]` enables it, the admin API
//! (`admin`: `/admin/...`).

pub mod admin;

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::status::Status;
use crate::traffic::Traffic;

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

/// The text exposition of everything director knows; `traffic`: the IPVS table's counters
/// (none when the daemon programs no table, or the dump failed).
pub fn render(status: &Status, counters: &Counters, traffic: Option<&Traffic>) -> String {
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

    let fallback = Family::<VirtualLabels, Gauge>::default();
    for v in &status.virtuals {
        fallback
            .get_or_create(&VirtualLabels {
                virtual_service: v.name.clone(),
            })
            .set(i64::from(v.fallback_active));
    }
    registry.register(
        "director_fallback_active",
        "The fallback server is serving the virtual service",
        fallback,
    );

    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    // The registry's text ends with OpenMetrics' "# EOF": the per-real families go before it.
    let eof = out.strip_suffix("# EOF\n").map(str::len);
    if let Some(len) = eof {
        out.truncate(len);
    }
    write_reals(&mut out, status, traffic);
    if eof.is_some() {
        out.push_str("# EOF\n");
    }
    out
}

/// The families with a series per real server (and the services' traffic), written straight
/// into the text: 100,000 real servers make about a million series, which prometheus-client's
/// registry encodes at about 5 us each (4.7 s for the traffic of 100,000 reals, measured
/// with a release build); written here they take a fraction of that. Same text format.
fn write_reals(out: &mut String, status: &Status, traffic: Option<&Traffic>) {
    use crate::traffic::{RealTraffic, Totals};
    use std::collections::HashMap;

    /// One real server: what the status and the kernel say of it.
    #[derive(Default)]
    struct Real<'a> {
        up: Option<bool>,
        weight: Option<u32>,
        /// What the operator asked (`director real ...`): its state's first word.
        operator: Option<&'a str>,
        kernel: Option<&'a RealTraffic>,
    }
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut reals: HashMap<(&str, &str), Real> = HashMap::new();
    for v in &status.virtuals {
        for r in &v.reals {
            let key = (v.name.as_str(), r.address.as_str());
            let entry = reals.entry(key).or_insert_with(|| {
                order.push(key);
                Real::default()
            });
            entry.up = Some(r.health == "up");
            entry.weight = r.weight;
            entry.operator = r
                .operator
                .as_deref()
                .map(|o| o.split([' ', ',']).next().unwrap_or_default());
        }
    }
    for s in traffic.map_or(&[][..], |t| &t.services[..]) {
        for r in &s.reals {
            let key = (s.name.as_str(), r.address.as_str());
            let entry = reals.entry(key).or_insert_with(|| {
                order.push(key);
                Real::default()
            });
            // the kernel's weight, read with the counters, is the fresher one
            entry.weight = Some(r.weight);
            entry.kernel = Some(r);
        }
    }
    let each = |out: &mut String, name: &str, value: &dyn Fn(&Real) -> Option<u64>| {
        for key in &order {
            if let Some(v) = reals.get(key).and_then(value) {
                sample(out, name, &[("virtual_service", key.0), ("real", key.1)], v);
            }
        }
    };
    head(
        out,
        "director_real_up",
        "gauge",
        "The real server passes its health check",
    );
    each(out, "director_real_up", &|r| r.up.map(u64::from));
    head(
        out,
        "director_real_weight",
        "gauge",
        "The real server's weight in the IPVS table",
    );
    each(out, "director_real_weight", &|r| r.weight.map(u64::from));
    head(
        out,
        "director_real_operator",
        "gauge",
        "What the operator asked of the real server (director real): 1, with its state \
         (draining, drained, disabled, weight)",
    );
    for key in &order {
        if let Some(state) = reals.get(key).and_then(|r| r.operator) {
            let labels = [
                ("virtual_service", key.0),
                ("real", key.1),
                ("state", state),
            ];
            sample(out, "director_real_operator", &labels, 1);
        }
    }
    let Some(t) = traffic else {
        return;
    };
    let totals: [Figure<Totals, u64>; 5] = [
        ("connections", "Connections scheduled to", |t| t.connections),
        ("incoming_packets", "Packets from the clients to", |t| {
            t.in_packets
        }),
        (
            "outgoing_packets",
            "Packets back through the director (NAT only) from",
            |t| t.out_packets,
        ),
        ("incoming_bytes", "Bytes from the clients to", |t| {
            t.in_bytes
        }),
        (
            "outgoing_bytes",
            "Bytes back through the director (NAT only) from",
            |t| t.out_bytes,
        ),
    ];
    for (what, help, get) in totals {
        let name = format!("director_virtual_{what}");
        head(
            out,
            &name,
            "counter",
            &format!("{help} the virtual service (IPVS stats64, since it was added or zeroed)"),
        );
        let total = format!("{name}_total");
        for s in &t.services {
            sample(out, &total, &[("virtual_service", &s.name)], get(&s.totals));
        }
    }
    for (what, help, get) in totals {
        let name = format!("director_real_{what}");
        head(
            out,
            &name,
            "counter",
            &format!("{help} the real server (IPVS stats64, since it was added or zeroed)"),
        );
        each(out, &format!("{name}_total"), &|r| {
            r.kernel.map(|k| get(&k.totals))
        });
    }
    let gauges: [Figure<RealTraffic, u32>; 3] = [
        (
            "active",
            "Connections to the real server in an active state (TCP: ESTABLISHED)",
            |r| r.active,
        ),
        (
            "inactive",
            "Connections to the real server in another state (SYN_RECV, FIN_WAIT, TIME_WAIT, ...)",
            |r| r.inactive,
        ),
        (
            "persistent",
            "Persistence templates pointing at the real server",
            |r| r.persistent,
        ),
    ];
    for (what, help, get) in gauges {
        let name = format!("director_real_connections_{what}");
        head(out, &name, "gauge", help);
        each(out, &name, &|r| r.kernel.map(|k| u64::from(get(k))));
    }
    head(
        out,
        "director_traffic_dump_seconds",
        "gauge",
        "How long the IPVS table dump behind these figures took",
    );
    let _ = writeln!(
        out,
        "director_traffic_dump_seconds {}",
        t.dump_ms as f64 / 1000.0
    );
}

/// One family of figures: the end of its name, its help, how to read it from `T`.
type Figure<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// `# HELP` and `# TYPE` of a family, as prometheus-client writes them.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}.\n# TYPE {name} {kind}");
}

/// One sample: `name{label="value",...} value`, the values escaped as the format asks.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    for (i, (label, v)) in labels.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(label);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !labels.is_empty() {
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// What a request to the metrics listener gets: the metrics for `/metrics` (with or without a
/// query, any method), 404 for any other path. Pure.
pub fn route(path: &str) -> (StatusCode, Option<&'static str>) {
    if path == "/metrics" {
        (StatusCode::OK, None)
    } else {
        (StatusCode::NOT_FOUND, Some("try /metrics\n"))
    }
}

/// How many connections the listener serves at once (the others wait to be accepted).
const CONNECTIONS: usize = 32;

/// A request to the daemon's control loop and where its answer goes.
pub type ControlAsk = (
    crate::control::Request,
    tokio::sync::oneshot::Sender<crate::control::Response>,
);

/// The admin API's side of the listener: its token and the daemon's control loop.
#[derive(Clone)]
pub struct AdminApi {
    pub token: Arc<str>,
    pub control: tokio::sync::mpsc::Sender<ControlAsk>,
}

/// The largest admin request body read.
const ADMIN_BODY: usize = 64 * 1024;

/// Serve `GET /metrics` on `addr` until the task is dropped; `source` gives the current text;
/// and the admin API under `/admin/` when `admin` is given.
pub async fn serve<F, Fut>(
    addr: SocketAddr,
    source: F,
    admin: Option<AdminApi>,
) -> std::io::Result<()>
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    serve_on(TcpListener::bind(addr).await?, source, admin).await
}

/// An admin request, answered: authorized and decoded (`admin::decode`), asked of the
/// control loop, its answer as JSON.
async fn admin_answer(api: &AdminApi, req: Request<Incoming>) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match http_body_util::Limited::new(req.into_body(), ADMIN_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                admin::refusal(format!("request body: {e}")),
            )
        }
    };
    let request = match admin::decode(&method, &path, auth.as_deref(), &body, &api.token) {
        Ok(r) => r,
        Err((status, message)) => return (status, admin::refusal(message)),
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    if api.control.send((request, reply)).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            admin::refusal("the daemon is stopping".into()),
        );
    }
    match rx.await {
        Ok(response) => admin::encode(&response),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            admin::refusal("the daemon is stopping".into()),
        ),
    }
}

/// Serve `GET /metrics` on a bound listener (HTTP/1.1 with keep-alive, as Prometheus
/// scrapes; a client has 10 s to send its request head), and the admin API under
/// `/admin/` when `admin` is given.
pub async fn serve_on<F, Fut>(
    listener: TcpListener,
    source: F,
    admin: Option<AdminApi>,
) -> std::io::Result<()>
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return Ok(());
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let source = source.clone();
        let admin = admin.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let source = source.clone();
                let admin = admin.clone();
                async move {
                    if let Some(api) = admin.filter(|_| req.uri().path().starts_with("/admin/")) {
                        let (status, body) = admin_answer(&api, req).await;
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = status;
                        response
                            .headers_mut()
                            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                        return Ok::<_, Infallible>(response);
                    }
                    let (status, fixed) = route(req.uri().path());
                    let body = match fixed {
                        Some(text) => text.to_string(),
                        None => source().await,
                    };
                    let mut response = Response::new(Full::new(Bytes::from(body)));
                    *response.status_mut() = status;
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod dashboard;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;
    use proptest::prelude::*;
    use std::io::{Read, Write};

    /// A pair member with a peer, a virtual service on its fallback, BIRD announcements
    /// (dashboard.rs uses it too).
    pub(super) fn status() -> Status {
        Status {
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
                quorum: None,
                reals: vec![RealStatus {
                    address: "198.51.100.1:80".into(),
                    health: "down".into(),
                    weight: Some(0),
                    reason: Some("timed out".into()),
                    operator: Some("drained".into()),
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
        }
    }

    #[test]
    fn exposes_reals_fallback_role_and_counters() {
        let st = status();
        let c = Counters {
            reloads: 2,
            heartbeat_rejected: vec![("replay".into(), 3)],
            ..Default::default()
        };
        let text = render(&st, &c, None);
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

    /// One service with one real server, every counter set (dashboard.rs uses it too).
    pub(super) fn traffic() -> Traffic {
        use crate::traffic::{RealTraffic, ServiceTraffic, Totals};
        let totals = Totals {
            connections: 30,
            in_packets: 200,
            out_packets: 0,
            in_bytes: 15_000,
            out_bytes: 0,
        };
        Traffic {
            taken_ms: 5000,
            dump_ms: 12,
            services: vec![ServiceTraffic {
                name: "tcp:192.0.2.132:80".into(),
                scheduler: "rr".into(),
                totals,
                reals: vec![RealTraffic {
                    address: "198.51.100.1:80".into(),
                    weight: 2,
                    active: 3,
                    inactive: 4,
                    persistent: 1,
                    totals,
                }],
            }],
        }
    }

    #[test]
    fn exposes_the_traffic_of_services_and_real_servers() {
        let st = Status {
            virtuals: vec![VirtualStatus {
                name: "tcp:192.0.2.132:80".into(),
                reals: vec![RealStatus {
                    address: "198.51.100.1:80".into(),
                    health: "up".into(),
                    weight: Some(1),
                    reason: None,
                    operator: Some("draining, 7 connections".into()),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = render(&st, &Counters::default(), Some(&traffic()));
        assert!(
            text.contains(
                "director_real_operator{virtual_service=\"tcp:192.0.2.132:80\",real=\"198.51.100.1:80\",state=\"draining\"} 1"
            ),
            "{text}"
        );
        let vs = "virtual_service=\"tcp:192.0.2.132:80\"";
        let rs = format!("{vs},real=\"198.51.100.1:80\"");
        for want in [
            format!("director_virtual_connections_total{{{vs}}} 30"),
            format!("director_virtual_incoming_packets_total{{{vs}}} 200"),
            format!("director_virtual_outgoing_packets_total{{{vs}}} 0"),
            format!("director_virtual_incoming_bytes_total{{{vs}}} 15000"),
            format!("director_virtual_outgoing_bytes_total{{{vs}}} 0"),
            format!("director_real_connections_total{{{rs}}} 30"),
            format!("director_real_incoming_packets_total{{{rs}}} 200"),
            format!("director_real_incoming_bytes_total{{{rs}}} 15000"),
            format!("director_real_connections_active{{{rs}}} 3"),
            format!("director_real_connections_inactive{{{rs}}} 4"),
            format!("director_real_connections_persistent{{{rs}}} 1"),
            // the kernel's weight, read with the counters
            format!("director_real_weight{{{rs}}} 2"),
            format!("director_real_up{{{rs}}} 1"),
            "director_traffic_dump_seconds 0.012".to_string(),
            "# TYPE director_real_connections counter".to_string(),
            "# TYPE director_real_connections_active gauge".to_string(),
        ] {
            assert!(text.contains(&want), "missing {want:?} in\n{text}");
        }
        assert_eq!(text.matches("director_real_weight{").count(), 1, "{text}");
        // no traffic (no table, or a failed dump): no traffic families at all
        let none = render(&st, &Counters::default(), None);
        assert!(!none.contains("director_virtual_connections"), "{none}");
        assert!(none.contains("director_real_weight{"), "{none}");
    }

    /// A metrics listener on a loopback port for the wire tests, on a runtime of its own
    /// (proptest cases are synchronous).
    fn listener() -> SocketAddr {
        static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
        *ADDR.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    tx.send(listener.local_addr().unwrap()).unwrap();
                    serve_on(listener, || async { "director_up 1\n".to_string() }, None)
                        .await
                        .unwrap();
                });
            });
            rx.recv().unwrap()
        })
    }

    /// What the listener answers to `bytes` sent at once, the sending side then closed.
    fn exchange(bytes: &[u8]) -> String {
        let mut s = std::net::TcpStream::connect(listener()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        // a reset after hyper refused the request still leaves what it wrote in the buffer
        let _ = s.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// Status line, Content-Length and body of the first reply; the length must be the body's.
    fn split(reply: &str) -> (&str, &str) {
        let (head, rest) = reply.split_once("\r\n\r\n").expect("a header end");
        let status = head.lines().next().expect("a status line");
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.trim())
            })
            .expect("a Content-Length")
            .parse()
            .expect("a number");
        let body = rest.get(..length).unwrap_or(rest);
        assert_eq!(length, body.len(), "{reply}");
        (status, body)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Bytes that are not a request get hyper's 400 Bad Request (the hand-written
        /// responder answered 404 to anything it could not read): the right answer to a
        /// malformed request, which a Prometheus server logs as a failed scrape either way.
        /// An incomplete request head closed by the client gets no answer.
        #[test]
        fn any_request_bytes_get_a_well_formed_answer(head in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let reply = exchange(&head);
            if !reply.is_empty() {
                let (status, _) = split(&reply);
                prop_assert!(
                    status == "HTTP/1.1 200 OK" || status == "HTTP/1.1 404 Not Found"
                        || status == "HTTP/1.1 400 Bad Request",
                    "{}", status
                );
            }
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
            let reply = exchange(head.as_bytes());
            // a HEAD answer has the length of the body it does not carry (RFC 9110 9.3.2);
            // hyper answers an HTTP/1.0 request in HTTP/1.0
            let want = if method == "HEAD" { "" } else { "director_up 1\n" };
            let status_line = format!("{version} 200 OK");
            let (status, body) = {
                let (head, rest) = reply.split_once("\r\n\r\n").expect("a header end");
                (head.lines().next().expect("a status line"), rest)
            };
            prop_assert_eq!((status, body), (status_line.as_str(), want), "{}", reply);
            prop_assert!(reply.to_ascii_lowercase().contains("content-length: 14\r\n"), "{}", reply);
        }

        #[test]
        fn other_paths_are_not_found(path in "/[a-z/]{0,20}") {
            prop_assume!(path != "/metrics");
            let reply = exchange(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes());
            prop_assert_eq!(split(&reply).0, "HTTP/1.1 404 Not Found");
        }
    }

    #[test]
    fn what_is_not_http_gets_400_and_a_path_elsewhere_404() {
        let reply = exchange(b"\x16\x03\x01 not a request\r\n\r\n");
        assert_eq!(split(&reply).0, "HTTP/1.1 400 Bad Request", "{reply}");
        let reply = exchange(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(split(&reply), ("HTTP/1.1 404 Not Found", "try /metrics\n"));
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_on(
            listener,
            || async { "director_up 1\n".to_string() },
            None,
        ));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        server.abort();
        assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
        assert!(reply.ends_with("director_up 1\n"));
    }

    /// The admin API on the listener: a request with the token reaches the control loop and
    /// its answer comes back as JSON; without the token nothing reaches it; /metrics stays.
    #[tokio::test]
    async fn the_admin_api_asks_the_control_loop() {
        use crate::control::{RealOp, Request as Ask, Response as Answer};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ControlAsk>(4);
        let admin = AdminApi {
            token: "0123456789abcdef".into(),
            control: tx,
        };
        let server = tokio::spawn(serve_on(
            listener,
            || async { "director_up 1\n".to_string() },
            Some(admin),
        ));
        let control = tokio::spawn(async move {
            let mut asked = Vec::new();
            while let Some((req, reply)) = rx.recv().await {
                asked.push(req);
                let _ = reply.send(Answer::Ok {
                    message: "draining".into(),
                });
            }
            asked
        });
        let send = |text: String| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(text.as_bytes()).await.unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).await.unwrap();
            reply
        };
        let body = r#"{"virtual":"tcp:192.0.2.132:80","real":"198.51.100.1:80"}"#;
        let post = |auth: &str| {
            format!(
                "POST /admin/real/drain HTTP/1.0\r\n{auth}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let reply = send(post("Authorization: Bearer 0123456789abcdef\r\n")).await;
        assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
        assert!(
            reply.ends_with("{\"result\":\"ok\",\"message\":\"draining\"}\n"),
            "{reply}"
        );
        let reply = send(post("")).await;
        assert!(reply.starts_with("HTTP/1.0 401"), "{reply}");
        let reply = send("GET /metrics HTTP/1.0\r\n\r\n".to_string()).await;
        assert!(reply.ends_with("director_up 1\n"), "{reply}");
        server.abort();
        let _ = server.await;
        let asked = control.await.unwrap();
        assert_eq!(
            asked,
            [Ask::Real {
                op: RealOp::Drain { timeout_s: None },
                virtual_name: "tcp:192.0.2.132:80".into(),
                real: "198.51.100.1:80".into(),
            }]
        );
    }

    /// Prometheus keeps the connection open between scrapes: two requests on one connection.
    #[tokio::test]
    async fn keep_alive_serves_successive_scrapes_with_fresh_text() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let n = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&n);
        let server = tokio::spawn(serve_on(
            listener,
            move || {
                let count = Arc::clone(&count);
                async move {
                    let i = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    format!("scrape {i}\n")
                }
            },
            None,
        ));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut seen = String::new();
        for i in 0..2 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let want = format!("scrape {i}\n");
            let mut buf = [0u8; 1024];
            while !seen.ends_with(&want) {
                let got = s.read(&mut buf).await.unwrap();
                assert!(got > 0, "closed after {seen:?}");
                seen.push_str(&String::from_utf8_lossy(&buf[..got]));
            }
        }
        server.abort();
        assert_eq!(seen.matches("HTTP/1.1 200 OK").count(), 2, "{seen}");
    }
}
