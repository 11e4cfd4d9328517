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
    let proxy =
        reqwest::Proxy::all(&proxy_url).map_err(|e| ProbeError::Unexpected(e.to_string()))?;
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
        && v.bytes()
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
    let built = builder
        .build()
        .map_err(|e| ProbeError::Tls(e.to_string()))?;
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
            check_url(false, a, Some("http://www.example.com/s"))
                .unwrap()
                .as_str(),
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

    // ---- loopback servers ----

    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[derive(Clone)]
    enum Mode {
        Reply(String),
        Hang,
        CloseEarly,
    }

    type Log = Arc<std::sync::Mutex<Vec<String>>>;

    async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16384 {
            match s.read(&mut byte).await {
                Ok(1) => buf.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
        mut s: S,
        log: Log,
        route: Arc<dyn Fn(&str) -> Mode + Send + Sync>,
    ) {
        let head = read_head(&mut s).await;
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        log.lock().unwrap().push(head);
        match route(&path) {
            Mode::Reply(r) => {
                let _ = s.write_all(r.as_bytes()).await;
                let _ = s.shutdown().await;
            }
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Mode::CloseEarly => drop(s),
        }
    }

    async fn serve(route: impl Fn(&str) -> Mode + Send + Sync + 'static) -> (SocketAddr, Log) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let log: Log = Arc::default();
        let route: Arc<dyn Fn(&str) -> Mode + Send + Sync> = Arc::new(route);
        let log2 = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(handle(s, Arc::clone(&log2), Arc::clone(&route)));
            }
        });
        (addr, log)
    }

    fn ok_page(body: &str) -> Mode {
        Mode::Reply(format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    fn params(request: &str, receive: Option<&str>) -> Negotiate {
        Negotiate {
            request: Some(request.to_string()),
            receive: receive.map(|r| regex::Regex::new(r).unwrap()),
            ..Negotiate::default()
        }
    }

    async fn bounded(
        f: impl std::future::Future<Output = Result<(), ProbeError>>,
    ) -> Result<(), ProbeError> {
        tokio::time::timeout(Duration::from_secs(2), f)
            .await
            .unwrap_or(Err(ProbeError::Timeout))
    }

    #[tokio::test]
    async fn answers_right_with_ldirectords_request() {
        let (addr, log) = serve(|_| ok_page("<html><body>Test Page</body></html>")).await;
        bounded(probe(addr, &params("index.html", Some("Test Page"))))
            .await
            .unwrap();
        let head = log.lock().unwrap()[0].clone();
        assert!(head.starts_with("GET /index.html HTTP/1.1\r\n"), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("\r\nhost: 127.0.0.1\r\n"), "{head}");
        assert!(lower.contains("\r\nconnection: te, close\r\n"), "{head}");
        assert!(lower.contains("\r\nte: deflate,gzip;q=0.3\r\n"), "{head}");
        assert!(lower.contains("\r\nuser-agent: libwww-perl/6.68"), "{head}");
    }

    #[tokio::test]
    async fn virtualhost_is_the_host_header() {
        let (addr, log) = serve(|_| ok_page("ok")).await;
        let mut p = params("/", None);
        p.virtualhost = Some("www.example.com".into());
        bounded(probe(addr, &p)).await.unwrap();
        let head = log.lock().unwrap()[0].to_ascii_lowercase();
        assert!(head.contains("\r\nhost: www.example.com\r\n"), "{head}");
    }

    #[tokio::test]
    async fn answers_wrong() {
        let (addr, _) = serve(|path| match path {
            "/missing" => Mode::Reply("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
            "/error" => {
                Mode::Reply("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".into())
            }
            _ => ok_page("maintenance"),
        })
        .await;
        let e = bounded(probe(addr, &params("/", Some("Test Page"))))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found in the response"), "{e}");
        let e = bounded(probe(addr, &params("/missing", None)))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "404 Not Found");
        let e = bounded(probe(addr, &params("/error", None)))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "503 Service Unavailable");
        let garbage = serve(|_| Mode::Reply("SSH-2.0-OpenSSH\r\n".into())).await.0;
        assert!(bounded(probe(garbage, &params("/", None))).await.is_err());
    }

    #[tokio::test]
    async fn hangs_until_the_callers_timeout() {
        let (addr, _) = serve(|_| Mode::Hang).await;
        let r =
            tokio::time::timeout(Duration::from_millis(300), probe(addr, &params("/", None))).await;
        assert!(r.is_err(), "a hung server must not answer: {r:?}");
    }

    #[tokio::test]
    async fn closes_early() {
        let (addr, _) = serve(|_| Mode::CloseEarly).await;
        let e = bounded(probe(addr, &params("/", None))).await.unwrap_err();
        assert!(!matches!(e, ProbeError::Timeout), "{e}");
    }

    #[tokio::test]
    async fn refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = bounded(probe(addr, &params("/", None))).await.unwrap_err();
        assert!(e.to_string().starts_with("Can't connect"), "{e}");
    }

    #[tokio::test]
    async fn redirects_are_followed_with_the_new_host() {
        let (addr, log) = serve(|path| match path {
            "/old" => Mode::Reply(
                "HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n".into(),
            ),
            "/loop" => Mode::Reply(
                "HTTP/1.1 301 Moved\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".into(),
            ),
            _ => ok_page("Test Page"),
        })
        .await;
        let mut p = params("/old", Some("Test"));
        p.virtualhost = Some("www.example.com".into());
        bounded(probe(addr, &p)).await.unwrap();
        let heads = log.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        assert!(heads[1].starts_with("GET /new HTTP/1.1"), "{}", heads[1]);
        let second = heads[1].to_ascii_lowercase();
        assert!(
            second.contains(&format!("\r\nhost: 127.0.0.1:{}\r\n", addr.port())),
            "{second}"
        );
        let e = bounded(probe(addr, &params("/loop", None)))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "more than 7 redirects");
        assert_eq!(log.lock().unwrap().len(), 2 + 8);
    }

    #[tokio::test]
    async fn head_requests() {
        let (addr, log) =
            serve(|_| Mode::Reply("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".into())).await;
        let mut p = params("/", None);
        p.http_method = HttpMethod::Head;
        bounded(probe(addr, &p)).await.unwrap();
        assert!(log.lock().unwrap()[0].starts_with("HEAD / HTTP/1.1"));
        p.receive = Some(regex::Regex::new("Test").unwrap());
        assert!(bounded(probe(addr, &p)).await.is_err());
    }

    #[tokio::test]
    async fn ipv6_real() {
        let l = TcpListener::bind("[::1]:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let log: Log = Arc::default();
        let log2 = Arc::clone(&log);
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            handle(s, log2, Arc::new(|_: &str| ok_page("v6"))).await;
        });
        bounded(probe(addr, &params("/", Some("v6"))))
            .await
            .unwrap();
        let head = log.lock().unwrap()[0].to_ascii_lowercase();
        assert!(head.contains("\r\nhost: [::1]\r\n"), "{head}");
    }

    // ---- https ----

    use tokio_rustls::rustls;

    /// A self-signed certificate for www.example.test made with the openssl CLI.
    fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=www.example.test",
                "-addext",
                "subjectAltName=DNS:www.example.test",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is needed for the https tests");
        assert!(status.success());
        (cert, key)
    }

    async fn serve_tls(
        mode: Mode,
    ) -> (
        SocketAddr,
        Log,
        Arc<std::sync::Mutex<Vec<Option<String>>>>,
        tempfile::TempDir,
    ) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path());
        let certs = vec![CertificateDer::from_pem_file(&cert).unwrap()];
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let log: Log = Arc::default();
        let snis: Arc<std::sync::Mutex<Vec<Option<String>>>> = Arc::default();
        let (log2, snis2) = (Arc::clone(&log), Arc::clone(&snis));
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let acceptor = acceptor.clone();
                let (log, snis, mode) = (Arc::clone(&log2), Arc::clone(&snis2), mode.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(s).await {
                        snis.lock()
                            .unwrap()
                            .push(tls.get_ref().1.server_name().map(str::to_string));
                        handle(tls, log, Arc::new(move |_: &str| mode.clone())).await;
                    }
                });
            }
        });
        (addr, log, snis, dir)
    }

    #[tokio::test]
    async fn https_self_signed_is_up_without_verification_and_sends_sni() {
        let (addr, log, snis, _dir) = serve_tls(ok_page("Test Page")).await;
        let mut p = params("/", Some("Test Page"));
        bounded(probe_https(addr, &p)).await.unwrap();
        assert_eq!(snis.lock().unwrap()[0], None, "no SNI for an IP URL");
        p.virtualhost = Some("www.example.test".into());
        bounded(probe_https(addr, &p)).await.unwrap();
        assert_eq!(snis.lock().unwrap()[1].as_deref(), Some("www.example.test"));
        let head = log.lock().unwrap()[1].to_ascii_lowercase();
        assert!(head.contains("\r\nhost: www.example.test\r\n"), "{head}");
    }

    #[tokio::test]
    async fn https_with_verification_rejects_a_self_signed_certificate() {
        let (addr, _log, _snis, _dir) = serve_tls(ok_page("Test Page")).await;
        let mut p = params("/", None);
        p.tls_verify = true;
        p.virtualhost = Some("www.example.test".into());
        let e = bounded(probe_https(addr, &p)).await.unwrap_err();
        assert!(matches!(e, ProbeError::Tls(_)), "{e}");
    }

    #[tokio::test]
    async fn https_hang_and_close_early() {
        let (addr, _, _, _dir) = serve_tls(Mode::Hang).await;
        let r = tokio::time::timeout(
            Duration::from_millis(300),
            probe_https(addr, &params("/", None)),
        )
        .await;
        assert!(r.is_err());
        let (addr, _, _, _dir2) = serve_tls(Mode::CloseEarly).await;
        assert!(bounded(probe_https(addr, &params("/", None)))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn http_proxy_sends_the_absolute_url_to_the_real() {
        let (addr, log) = serve(|_| ok_page("proxied")).await;
        bounded(probe_proxy(
            addr,
            &params("http://www.example.com/check", Some("proxied")),
        ))
        .await
        .unwrap();
        let head = log.lock().unwrap()[0].clone();
        assert!(
            head.starts_with("GET http://www.example.com/check HTTP/1.1"),
            "{head}"
        );
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
