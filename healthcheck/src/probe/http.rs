//! `service=http`, `https` and `http_proxy` negotiate checks (ldirectord.md §5.3).
//!
//! - URL: `<scheme>://<real ip>:<checkport>/<request without its leading '/'>`; a request that
//!   is itself an `http://` / `https://` URL replaces the URL (ldirectord's per-real override).
//! - Host header: `virtualhost`, else the real's IP without port; HTTPS sends `virtualhost` as
//!   SNI (ldirectord sends none: its URL host is an IP).
//! - GET or HEAD; redirects (301/302/303/307/308) are followed up to 7 hops, the follow-up
//!   carrying the Host of the new URL; success = final status 2xx and `receive` matches the body.
//! - Certificates are not verified unless `tls_verify` is set. One connection per check
//!   (`Connection: close`), no proxy from the environment.
//!
//! The caller bounds the whole exchange (all hops) with `negotiatetimeout`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};

use reqwest::header::{HeaderValue, CONNECTION, HOST, LOCATION};
use reqwest::{Client, Method, Url};

use super::{HttpMethod, Negotiate, ProbeError};
use crate::judge;

/// Sent as User-Agent; backends that filter ldirectord's checks out of their logs match it.
pub const USER_AGENT: &str = "libwww-perl/6.68 (director healthcheck)";

/// Bodies are read up to this size; `receive` is matched against what was read.
pub const MAX_BODY: usize = 1 << 20;

/// `service=http`
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    fetch(Scheme::Http, addr, params).await
}

/// `service=https`
pub async fn probe_https(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    fetch(Scheme::Https, addr, params).await
}

/// `service=http_proxy`: `request` is the absolute URL, fetched through the real server as an
/// HTTP proxy at `addr`; no Host override.
pub async fn probe_proxy(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let request = params.request.as_deref().unwrap_or("/");
    let url = Url::parse(request.trim_start_matches('/'))
        .map_err(|e| ProbeError::Unexpected(format!("bad proxy request URL \"{request}\": {e}")))?;
    let proxy_url = format!("http://{}/", authority(addr));
    let proxy = reqwest::Proxy::all(&proxy_url).map_err(|e| ProbeError::Unexpected(e.to_string()))?;
    let client = base_builder(params.tls_verify)
        .proxy(proxy)
        .build()
        .map_err(|e| ProbeError::Tls(e.to_string()))?;
    run(&client, url, None, params).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Http,
    Https,
}

/// The check URL ldirectord builds from the real, the check port and `request=`.
pub fn check_url(https: bool, addr: SocketAddr, request: Option<&str>) -> Result<Url, ProbeError> {
    let scheme = if https { "https" } else { "http" };
    let request = request.unwrap_or("/");
    let text = if is_absolute(request) {
        request.to_string()
    } else {
        let path = request.strip_prefix('/').unwrap_or(request);
        format!("{scheme}://{}/{path}", authority(addr))
    };
    Url::parse(&text).map_err(|e| ProbeError::Unexpected(format!("bad check URL \"{text}\": {e}")))
}

/// The Host header of the first request: `virtualhost`, else the real's IP without port.
pub fn host_header(addr: SocketAddr, virtualhost: Option<&str>) -> String {
    match virtualhost {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => match addr.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        },
    }
}

fn is_absolute(request: &str) -> bool {
    let lower = request.get(..8).unwrap_or(request).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn authority(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}

async fn fetch(scheme: Scheme, addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let request = params.request.as_deref();
    let mut url = check_url(scheme == Scheme::Https, addr, request)?;
    let host = host_header(addr, params.virtualhost.as_deref());
    // SNI: put the virtual host in the URL and pin it to the real's address.
    let sni = match (scheme, params.virtualhost.as_deref()) {
        (Scheme::Https, Some(v)) if !request.is_some_and(is_absolute) && is_dns_name(v) => {
            url.set_host(Some(v))
                .map_err(|e| ProbeError::Unexpected(format!("bad virtualhost \"{v}\": {e}")))?;
            Some(v.to_string())
        }
        _ => None,
    };
    let client = client(params.tls_verify, sni.as_deref(), addr)?;
    let host = if request.is_some_and(is_absolute) {
        None
    } else {
        Some(host)
    };
    run(&client, url, host, params).await
}

fn is_dns_name(v: &str) -> bool {
    !v.is_empty()
        && v.parse::<IpAddr>().is_err()
        && v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn base_builder(tls_verify: bool) -> reqwest::ClientBuilder {
    Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .http1_only()
        .tls_danger_accept_invalid_certs(!tls_verify)
}

/// Clients are costly to build (TLS configuration, CA store); keep one per (verify, SNI
/// name, address). Plain checks share one client per verify setting.
fn client(tls_verify: bool, sni: Option<&str>, addr: SocketAddr) -> Result<Client, ProbeError> {
    type Key = (bool, Option<(String, SocketAddr)>);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, Client>>> = OnceLock::new();
    let key: Key = (tls_verify, sni.map(|s| (s.to_string(), addr)));
    let clients = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = clients.lock() {
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
    }
    let mut builder = base_builder(tls_verify);
    if let Some(name) = sni {
        builder = builder.resolve(name, addr);
    }
    let built = builder.build().map_err(|e| ProbeError::Tls(e.to_string()))?;
    if let Ok(mut map) = clients.lock() {
        // Bounded: one entry per distinct https check with a virtualhost.
        if map.len() > 4096 {
            map.clear();
        }
        map.insert(key, built.clone());
    }
    Ok(built)
}

async fn run(
    client: &Client,
    mut url: Url,
    mut host: Option<String>,
    params: &Negotiate,
) -> Result<(), ProbeError> {
    let method = match params.http_method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
    };
    for _hop in 0..=judge::MAX_REDIRECTS {
        let mut req = client
            .request(method.clone(), url.clone())
            .header("TE", "deflate,gzip;q=0.3")
            .header(CONNECTION, "TE, close");
        if let Some(h) = host.take() {
            let value = HeaderValue::from_str(&h)
                .map_err(|_| ProbeError::Unexpected(format!("bad Host header \"{h}\"")))?;
            req = req.header(HOST, value);
        }
        let mut resp = req.send().await.map_err(map_reqwest)?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(next) = judge::redirect_target(status.as_u16(), location.as_deref(), &url) {
            url = next;
            continue;
        }
        let mut body = Vec::new();
        if method != Method::HEAD {
            while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
                if body.len() >= MAX_BODY {
                    break;
                }
            }
        }
        return judge::http(
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            &body,
            params.http_method,
            params.receive.as_ref(),
        );
    }
    Err(ProbeError::Unexpected(format!(
        "more than {} redirects",
        judge::MAX_REDIRECTS
    )))
}

fn map_reqwest(e: reqwest::Error) -> ProbeError {
    use std::error::Error as _;
    // Walk to the root cause for a useful message.
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if e.is_connect() {
        if msg.contains("certificate") || msg.contains("tls") || msg.contains("TLS") {
            return ProbeError::Tls(msg);
        }
        return ProbeError::Unexpected(format!("Can't connect: {msg}"));
    }
    if e.is_timeout() {
        return ProbeError::Timeout;
    }
    if msg.contains("connection closed")
        || msg.contains("IncompleteMessage")
        || msg.contains("unexpected EOF")
        || msg.contains("connection reset")
    {
        return ProbeError::Closed;
    }
    ProbeError::Unexpected(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_like_ldirectord() {
        let a: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        assert_eq!(
            check_url(false, a, Some("/index.html")).unwrap().as_str(),
            "http://192.0.2.1:8080/index.html"
        );
        assert_eq!(
            check_url(false, a, Some("index.html")).unwrap().as_str(),
            "http://192.0.2.1:8080/index.html"
        );
        assert_eq!(
            check_url(true, a, None).unwrap().as_str(),
            "https://192.0.2.1:8080/"
        );
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(
            check_url(false, v6, Some("/x?y=1")).unwrap().as_str(),
            "http://[2001:db8::1]/x?y=1"
        );
        assert_eq!(
            check_url(false, a, Some("http://www.example.com/s")).unwrap().as_str(),
            "http://www.example.com/s"
        );
    }

    #[test]
    fn host_header_is_virtualhost_or_ip_without_port() {
        let a: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        assert_eq!(host_header(a, None), "192.0.2.1");
        assert_eq!(host_header(a, Some("www.example.com")), "www.example.com");
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(host_header(v6, None), "[2001:db8::1]");
    }

    proptest::proptest! {
        #[test]
        fn check_url_never_panics(req in ".*", port in 0u16..) {
            let a = SocketAddr::from(([192, 0, 2, 1], port));
            let _ = check_url(false, a, Some(&req));
            let _ = host_header(a, Some(&req));
        }
    }
}
