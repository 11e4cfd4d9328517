//! `service=http`, `https` and `http_proxy` negotiate checks (ldirectord.md §5.3).
//!
//! - URL: `<scheme>://<real ip>:<checkport>/<request without its leading '/'>`; a request that
//!   is itself an `http://` / `https://` URL replaces the URL (ldirectord's per-real override).
//! - The request is the one libwww-perl 6.68 sends, header for header and in its order:
//!   `TE`, `Connection: TE, close`, `Host`, `User-Agent: libwww-perl/6.68` (names are written
//!   in title case, so `Te`; HTTP header names are case-insensitive). Host is `virtualhost`,
//!   else the real's IP without port; HTTPS sends `virtualhost` as SNI when it is a DNS name
//!   (ldirectord sends none: its URL host is an IP).
//! - GET or HEAD; redirects (301/302/303/307/308) are followed up to 7 hops, the follow-up
//!   carrying the Host of the new URL; success = final status 2xx and `receive` matches the body.
//! - Certificates are checked as [`TlsVerify`] says (the mapping's default for https is
//!   ldirectord's: chain yes, name no). One connection per request, no proxy from the
//!   environment.
//!
//! http and https go straight through hyper's HTTP/1 connection (no client pool, no URL
//! resolver): it writes exactly the headers given, and it is the cheapest way to make
//! thousands of checks a second. `http_proxy` uses reqwest, which speaks to proxies.
//!
//! The caller bounds the whole exchange (all hops) with `negotiatetimeout`.

use std::net::{IpAddr, SocketAddr};
use std::pin::pin;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONNECTION, HOST, LOCATION, TE, USER_AGENT as UA};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::cap::{push_capped, Capped, TooLarge, MAX_ANSWER};
use super::{tls, HttpMethod, Negotiate, ProbeError, TlsVerify};
use crate::judge;

/// Sent as User-Agent: what ldirectord's libwww-perl sends, so backends that filter
/// ldirectord's checks out of their logs keep doing so.
pub const USER_AGENT: &str = "libwww-perl/6.68";

/// The largest body a check reads; a longer one fails the check ("response larger than
/// 1 MiB"), as does a response of more than [`MAX_ANSWER`] bytes in all.
pub const MAX_BODY: usize = 1 << 20;

/// `service=http`
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    fetch(false, addr, params).await
}

/// `service=https`
pub async fn probe_https(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    fetch(true, addr, params).await
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
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::limited(judge::MAX_REDIRECTS))
        .proxy(proxy)
        .pool_max_idle_per_host(0)
        .http1_only()
        .http1_title_case_headers()
        .tls_danger_accept_invalid_certs(params.tls_verify == TlsVerify::None)
        .build()
        .map_err(|e| ProbeError::Tls(e.to_string()))?;
    let method = match params.http_method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
    };
    let mut resp = client
        .request(method, url)
        .header(TE, "deflate,gzip;q=0.3")
        .header(CONNECTION, "TE, close")
        .send()
        .await
        .map_err(map_reqwest)?;
    let status = resp.status();
    // Read chunk by chunk: a proxy streaming without end fails at MAX_BODY, instead of
    // being buffered until the deadline.
    let mut body = Vec::new();
    if params.http_method != HttpMethod::Head {
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
            push_capped(&mut body, &chunk, MAX_BODY)?;
        }
    }
    judge::http(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        &body,
        params.http_method,
        params,
    )
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

/// The Host header of a follow-up request: the URL's host, with its port unless default.
fn url_host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
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

fn is_dns_name(v: &str) -> bool {
    !v.is_empty()
        && v.parse::<IpAddr>().is_err()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// One hop of the chain: where to connect, what to ask.
struct Hop {
    url: Url,
    /// The real's address on the first hop of a relative request; else the URL's host.
    connect: Option<SocketAddr>,
    host: String,
    /// The TLS server name: the virtual host (SNI) on the first hop when it is a DNS name.
    tls_name: Option<String>,
}

/// The first hop of a request: to the real at the check port, or to the URL a request that
/// is itself absolute names.
fn first_hop(
    https: bool,
    addr: SocketAddr,
    request: Option<&str>,
    params: &Negotiate,
) -> Result<Hop, ProbeError> {
    let absolute = request.is_some_and(is_absolute);
    let url = check_url(https, addr, request)?;
    Ok(if absolute {
        Hop {
            host: url_host_header(&url),
            url,
            connect: None,
            tls_name: None,
        }
    } else {
        let vhost = params.virtualhost.as_deref().filter(|v| !v.is_empty());
        Hop {
            url,
            connect: Some(addr),
            host: host_header(addr, vhost),
            tls_name: vhost.filter(|v| is_dns_name(v)).map(str::to_string),
        }
    })
}

/// A check with pages (keepalived's url blocks): each page on a connection of its own, in
/// order, no redirect followed; the first page that fails fails the check.
async fn fetch_pages(https: bool, addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    for page in &params.pages {
        let hop = first_hop(https, addr, Some(&page.path), params)?;
        exchange(&hop, params).await?.judge(params, Some(page))?;
    }
    Ok(())
}

async fn fetch(https: bool, addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    if !params.pages.is_empty() {
        return fetch_pages(https, addr, params).await;
    }
    let mut hop = first_hop(https, addr, params.request.as_deref(), params)?;
    for _hop in 0..=judge::MAX_REDIRECTS {
        let answer = exchange(&hop, params).await?;
        if let Some(next) =
            judge::redirect_target(answer.status, answer.location.as_deref(), &hop.url)
        {
            hop = Hop {
                host: url_host_header(&next),
                url: next,
                connect: None,
                tls_name: None,
            };
            continue;
        }
        return answer.judge(params, None);
    }
    Err(ProbeError::Unexpected(format!(
        "more than {} redirects",
        judge::MAX_REDIRECTS
    )))
}

/// One exchange over an already open `io` for `url` (Host from the URL), judged as a hop of
/// [`fetch`]: `Ok(Some(next))` for a redirect to follow, `Ok(None)` when the final answer
/// passes (with pages: judged as the first page, never a redirect). The pure core of a hop, for [`super::offline::http`].
pub(crate) async fn exchange_over<S>(
    io: S,
    url: Url,
    params: &Negotiate,
) -> Result<Option<Url>, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hop = Hop {
        host: url_host_header(&url),
        url,
        connect: None,
        tls_name: None,
    };
    let req = build_request(&hop, params.http_method)?;
    let answer = send(io, req, params.http_method == HttpMethod::Head).await?;
    if let Some(page) = params.pages.first() {
        return answer.judge(params, Some(page)).map(|()| None);
    }
    if let Some(next) = judge::redirect_target(answer.status, answer.location.as_deref(), &hop.url)
    {
        return Ok(Some(next));
    }
    answer.judge(params, None).map(|()| None)
}

/// What one response said.
#[derive(Debug)]
struct Answer {
    status: u16,
    reason: String,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The verdict on a final answer: as one of the check's pages, or as ldirectord's check.
    fn judge(
        &self,
        params: &Negotiate,
        page: Option<&crate::page::Page>,
    ) -> Result<(), ProbeError> {
        match page {
            Some(p) => judge::page(
                self.status,
                &self.reason,
                &self.body,
                params.http_method,
                p,
                params,
            ),
            None => judge::http(
                self.status,
                &self.reason,
                &self.body,
                params.http_method,
                params,
            ),
        }
    }
}

/// Connects for one hop (TCP, then TLS for https) and runs its request.
async fn exchange(hop: &Hop, params: &Negotiate) -> Result<Answer, ProbeError> {
    let target = match hop.connect {
        Some(a) => a,
        None => resolve(&hop.url).await?,
    };
    let tcp = TcpStream::connect(target).await.map_err(|e| {
        ProbeError::Unexpected(format!("Can't connect to {} ({e})", authority(target)))
    })?;
    let _ = tcp.set_nodelay(true);
    let tcp = Capped::new(tcp, MAX_ANSWER);
    let req = build_request(hop, params.http_method)?;
    let head = params.http_method == HttpMethod::Head;
    if hop.url.scheme() == "https" {
        let name = match hop.tls_name.as_deref().or(hop.url.domain()) {
            Some(n) => ServerName::try_from(n.to_string())
                .map_err(|e| ProbeError::Unexpected(format!("bad TLS server name \"{n}\": {e}")))?,
            None => ServerName::IpAddress(target.ip().into()),
        };
        let stream = tls::wrap_named(tcp, name, params.tls_verify)
            .await
            .map_err(|e| match e {
                ProbeError::Tls(m) => {
                    ProbeError::Tls(format!("Can't connect to {} ({m})", authority(target)))
                }
                other => other,
            })?;
        send(stream, req, head).await
    } else {
        send(tcp, req, head).await
    }
}

/// The address of a URL's host (a name is looked up) and port.
async fn resolve(url: &Url) -> Result<SocketAddr, ProbeError> {
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(SocketAddr::new(ip.into(), port)),
        Some(url::Host::Ipv6(ip)) => Ok(SocketAddr::new(ip.into(), port)),
        Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| ProbeError::Unexpected(format!("Can't connect to {name}:{port} ({e})")))?
            .next()
            .ok_or_else(|| {
                ProbeError::Unexpected(format!("Can't connect to {name}:{port} (no address)"))
            }),
        None => Err(ProbeError::Unexpected(format!("no host in URL {url}"))),
    }
}

/// libwww-perl's request: request line with the origin-form target, then TE, Connection,
/// Host and User-Agent, in that order; no body.
fn build_request(hop: &Hop, method: HttpMethod) -> Result<Request<Empty<Bytes>>, ProbeError> {
    let mut target = hop.url.path().to_string();
    if let Some(q) = hop.url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = HeaderValue::from_str(&hop.host)
        .map_err(|_| ProbeError::Unexpected(format!("bad Host header \"{}\"", hop.host)))?;
    Request::builder()
        .method(match method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Head => Method::HEAD,
        })
        .uri(target.as_str())
        .header(TE, HeaderValue::from_static("deflate,gzip;q=0.3"))
        .header(CONNECTION, HeaderValue::from_static("TE, close"))
        .header(HOST, host)
        .header(UA, HeaderValue::from_static(USER_AGENT))
        .body(Empty::new())
        .map_err(|e| ProbeError::Unexpected(format!("bad request \"{target}\": {e}")))
}

/// Runs one request on a fresh HTTP/1.1 connection over `io`; drives the connection in this
/// task (no spawn) until the answer and its body (at most [`MAX_BODY`]) are in.
async fn send<S>(io: S, req: Request<Empty<Bytes>>, head: bool) -> Result<Answer, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(map_hyper)?;
    let work = async move {
        let resp = sender.send_request(req).await.map_err(map_hyper)?;
        let status = resp.status();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| status.canonical_reason().map(str::to_string))
            .unwrap_or_default();
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        if !head {
            let mut incoming = resp.into_body();
            while let Some(frame) = incoming.frame().await {
                if let Ok(data) = frame.map_err(map_hyper)?.into_data() {
                    push_capped(&mut body, &data, MAX_BODY)?;
                }
            }
        }
        Ok(Answer {
            status: status.as_u16(),
            reason,
            location,
            body,
        })
    };
    let mut conn = pin!(conn);
    let mut work = pin!(work);
    let mut conn_done = false;
    loop {
        tokio::select! {
            answer = &mut work => return answer,
            // The connection ends when the exchange is over or broken; an error also reaches
            // the request or the body, so only keep waiting for the work.
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

fn map_hyper(e: hyper::Error) -> ProbeError {
    if let Some(too_large) = TooLarge::find(&e) {
        return ProbeError::TooLarge(too_large);
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ProbeError::Closed;
    }
    if e.is_parse() || e.is_parse_status() {
        return ProbeError::Unexpected(format!("bad HTTP response: {e}"));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    ProbeError::Unexpected(msg)
}

fn map_reqwest(e: reqwest::Error) -> ProbeError {
    use std::error::Error as _;
    if let Some(too_large) = TooLarge::find(&e) {
        return ProbeError::TooLarge(too_large);
    }
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
#[allow(clippy::disallowed_types)] // these tests time real I/O on the wall clock
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
            receive: receive.map(|r| crate::probe::Receive::compile(r).unwrap()),
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
        // libwww-perl 6.68's request (ldirectord.md 5.3), header for header, in its order;
        // only the case of "TE" differs (header names are case-insensitive).
        assert_eq!(
            head,
            "GET /index.html HTTP/1.1\r\n\
             Te: deflate,gzip;q=0.3\r\n\
             Connection: TE, close\r\n\
             Host: 127.0.0.1\r\n\
             User-Agent: libwww-perl/6.68\r\n\r\n"
        );
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

    fn paged(pages: &[(&str, &str, Option<&str>)]) -> Negotiate {
        Negotiate {
            pages: pages
                .iter()
                .map(|(path, codes, digest)| crate::page::Page {
                    path: path.to_string(),
                    status: crate::page::StatusCodes::parse(codes).unwrap(),
                    digest: digest.map(|d| crate::page::PageDigest::parse(d).unwrap()),
                })
                .collect(),
            ..Negotiate::default()
        }
    }

    fn pages_server() -> impl Fn(&str) -> Mode + Send + Sync + 'static {
        |path: &str| {
            match path {
            "/moved" => Mode::Reply(
                "HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".into(),
            ),
            "/chunked" => Mode::Reply(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nTest \r\n5\r\nPage\n\r\n0\r\n\r\n"
                    .into(),
            ),
            "/missing" => Mode::Reply("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
            _ => ok_page("Test Page\n"),
        }
        }
    }

    /// `printf 'Test Page\n' | md5sum`, what genhash prints for that page.
    const TEST_PAGE_MD5: &str = "d5d2ff66a8f30775df81b68c7ab2f9a4";

    #[tokio::test]
    async fn pages_pass_on_their_status_codes_and_digests() {
        let (addr, log) = serve(pages_server()).await;
        let p = paged(&[
            ("/", "200-299", Some(TEST_PAGE_MD5)),
            ("/moved", "200-299 302", None),
            ("/chunked", "200", Some(TEST_PAGE_MD5)),
            ("/missing", "404", None),
        ]);
        bounded(probe(addr, &p)).await.unwrap();
        let heads = log.lock().unwrap().clone();
        // Every page, in order, each on a connection of its own; the 302 is not followed.
        let paths: Vec<&str> = heads.iter().filter_map(|h| h.split(' ').nth(1)).collect();
        assert_eq!(paths, ["/", "/moved", "/chunked", "/missing"]);
    }

    #[tokio::test]
    async fn a_page_with_a_wrong_status_or_digest_fails_the_check() {
        let (addr, log) = serve(pages_server()).await;
        // keepalived's default codes: the redirect fails, and is not followed.
        let e = bounded(probe(addr, &paged(&[("/moved", "200-299", None)])))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "302 Found: status of /moved not in status_code 200-299"
        );
        assert_eq!(log.lock().unwrap().len(), 1);
        let wrong = "0123456789abcdef0123456789abcdef";
        let e = bounded(probe(addr, &paged(&[("/", "200", Some(wrong))])))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("200 OK: MD5 digest of / is {TEST_PAGE_MD5}, expected {wrong}")
        );
        // The first page passes, the second fails: the check fails, on the second.
        let e = bounded(probe(
            addr,
            &paged(&[
                ("/", "200", Some(TEST_PAGE_MD5)),
                ("/missing", "200-299", None),
            ]),
        ))
        .await
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("404 Not Found: status of /missing"),
            "{e}"
        );
        // receive= still applies to every page.
        let mut p = paged(&[("/", "200", None)]);
        p.receive = Some(crate::probe::Receive::compile("Nope").unwrap());
        assert!(bounded(probe(addr, &p)).await.is_err());
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
        p.receive = Some(crate::probe::Receive::compile("Test").unwrap());
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
    async fn https_pages_check_the_digest_of_the_page() {
        let (addr, log, _, _dir) = serve_tls(ok_page("Test Page\n")).await;
        bounded(probe_https(
            addr,
            &paged(&[("/a", "200", Some(TEST_PAGE_MD5))]),
        ))
        .await
        .unwrap();
        let e = bounded(probe_https(
            addr,
            &paged(&[("/b", "200", Some("00000000000000000000000000000000"))]),
        ))
        .await
        .unwrap_err();
        assert!(e.to_string().contains("MD5 digest of /b is"), "{e}");
        assert_eq!(log.lock().unwrap().len(), 2);
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
        for verify in [TlsVerify::Chain, TlsVerify::Full] {
            let mut p = params("/", None);
            p.tls_verify = verify;
            p.virtualhost = Some("www.example.test".into());
            let e = bounded(probe_https(addr, &p)).await.unwrap_err();
            assert!(matches!(e, ProbeError::Tls(_)), "{verify:?}: {e}");
            assert!(e.to_string().contains("Can't connect to 127.0.0.1:"), "{e}");
        }
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

    /// A server that answers 200 with a body that never ends; returns how many bytes it got
    /// into the socket (its send buffer is small, so that is close to what the client read).
    async fn endless_body() -> (SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
        use std::sync::atomic::{AtomicU64, Ordering};
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&sent);
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            socket2::SockRef::from(&s)
                .set_send_buffer_size(16 * 1024)
                .unwrap();
            let mut s = s;
            read_head(&mut s).await;
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
            let _ = s.write_all(head).await;
            let chunk = [b'x'; 8192];
            while s.write_all(&chunk).await.is_ok() {
                count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
        (addr, sent)
    }

    /// Item 3 of the hardening issue: a proxy streaming a body without end was buffered
    /// whole until the deadline (4.47 GB in 28 s). Now the check stops at MAX_BODY.
    #[tokio::test]
    async fn http_proxy_stops_reading_an_endless_body_at_the_cap() {
        let (addr, sent) = endless_body().await;
        let started = std::time::Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(3),
            probe_proxy(addr, &params("http://www.example.com/", None)),
        )
        .await;
        let Ok(Err(e)) = res else {
            panic!("the check must fail before its deadline: {res:?}");
        };
        assert!(matches!(e, ProbeError::TooLarge(_)), "{e:?}");
        assert_eq!(e.to_string(), "response larger than 1 MiB");
        assert!(started.elapsed() < Duration::from_secs(2));
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            sent < (MAX_BODY + (4 << 20)) as u64,
            "the server got {sent} bytes out"
        );
    }

    #[tokio::test]
    async fn http_stops_reading_an_endless_body_at_the_cap() {
        let (addr, sent) = endless_body().await;
        let res =
            tokio::time::timeout(Duration::from_secs(3), probe(addr, &params("/", None))).await;
        let Ok(Err(e)) = res else {
            panic!("the check must fail before its deadline: {res:?}");
        };
        assert_eq!(e.to_string(), "response larger than 1 MiB");
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            sent < (MAX_BODY + (4 << 20)) as u64,
            "the server got {sent} bytes out"
        );
    }

    /// Runs `send` (GET /) against a peer that waits for the request, answers `answer` and
    /// closes; `None` if it did not finish within five seconds.
    fn exchange_with(answer: Vec<u8>) -> Option<Result<Answer, ProbeError>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, mut server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                read_head(&mut server).await;
                let _ = server.write_all(&answer).await;
                let _ = server.shutdown().await;
                // Keep the peer open until the client is done with it.
                let mut sink = [0u8; 1024];
                while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
            });
            let req = Request::builder()
                .uri("/")
                .header(HOST, "192.0.2.1")
                .body(Empty::new())
                .unwrap();
            tokio::time::timeout(Duration::from_secs(5), send(client, req, false))
                .await
                .ok()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any bytes as the answer: no panic, no hang once the peer has closed, and a body
        /// within the cap.
        #[test]
        fn any_answer_bytes_end_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), valid_head in proptest::prelude::any::<bool>()) {
            let mut answer = if valid_head { b"HTTP/1.1 200 OK\r\n".to_vec() } else { Vec::new() };
            answer.extend_from_slice(&bytes);
            let out = exchange_with(answer);
            let Some(res) = out else {
                return Err(proptest::test_runner::TestCaseError::fail("the exchange hung"));
            };
            if let Ok(a) = res {
                proptest::prop_assert!(a.body.len() <= MAX_BODY);
            }
        }

        /// A valid response is read as it was sent: status, reason, body.
        #[test]
        fn a_valid_answer_is_read_whole(
            // 204 and 304 carry no body, whatever the head says.
            status in proptest::strategy::Strategy::prop_filter(200u16..600, "a status with a body", |s| *s != 204 && *s != 304),
            reason in "[A-Za-z][A-Za-z ]{0,11}",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            chunked in proptest::prelude::any::<bool>(),
        ) {
            let mut answer = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
            if chunked {
                answer.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for part in body.chunks(1000) {
                    answer.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    answer.extend_from_slice(part);
                    answer.extend_from_slice(b"\r\n");
                }
                answer.extend_from_slice(b"0\r\n\r\n");
            } else {
                answer.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                answer.extend_from_slice(&body);
            }
            let res = exchange_with(answer);
            let Some(Ok(a)) = res else {
                return Err(proptest::test_runner::TestCaseError::fail(format!("{res:?}")));
            };
            proptest::prop_assert_eq!(a.status, status);
            proptest::prop_assert_eq!(a.reason.as_str(), reason.as_str());
            proptest::prop_assert_eq!(a.body, body);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(6))]

        /// The cap holds for a body of any length around it, through http and http_proxy: up to
        /// MAX_BODY the check is up, past it the check fails with the cap's reason.
        #[test]
        fn the_body_cap_holds_for_http_and_the_proxy(len in proptest::prop_oneof![0usize..64, (MAX_BODY - 64)..(MAX_BODY + 64)], proxy in proptest::prelude::any::<bool>()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let res = rt.block_on(async {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
                let (addr, _) = serve(move |_| Mode::Reply(format!("{head}{}", "b".repeat(len)))).await;
                let check = async {
                    if proxy {
                        probe_proxy(addr, &params("http://www.example.com/", None)).await
                    } else {
                        probe(addr, &params("/", None)).await
                    }
                };
                tokio::time::timeout(Duration::from_secs(10), check).await
            });
            let Ok(res) = res else {
                return Err(proptest::test_runner::TestCaseError::fail("timed out"));
            };
            // http also counts the head against the connection's cap (MAX_ANSWER = MAX_BODY);
            // the proxy's body alone counts.
            let head_len = if proxy { 0 } else { 70 };
            if len <= MAX_BODY - head_len {
                proptest::prop_assert!(res.is_ok(), "{} bytes: {:?}", len, res);
            } else if len > MAX_BODY {
                proptest::prop_assert!(matches!(res, Err(ProbeError::TooLarge(_))), "{} bytes: {:?}", len, res);
            } else {
                proptest::prop_assert!(res.is_ok() || matches!(res, Err(ProbeError::TooLarge(_))), "{:?}", res);
            }
        }
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
