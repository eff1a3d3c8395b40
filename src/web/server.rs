//! The hyper 1 server: accept loop, routing, methods, path prefix, graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderValue,
    IF_NONE_MATCH, RETRY_AFTER, VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::WebOptions;
use super::api::{Api, Reply};
use super::filter::Query;
use super::ui;
use crate::status::StateSource;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("invalid -httpListenAddr {addr:?}: {reason}")]
    BadListenAddr { addr: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// How long in-flight requests may take to finish after cancellation.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Clients must send their request headers within this time (slow-loris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest form body accepted on `/-/reload` (it only carries `authKey`).
const MAX_FORM_BODY: usize = 64 * 1024;

/// A bound, not yet running server; binding first lets callers (and tests using port
/// 0) learn the address before serving.
pub struct Server {
    listener: TcpListener,
    api: Arc<Api>,
    prefix: String,
}

/// Resolves vmalert's listen address forms: `:8880` (all interfaces), `host:port`,
/// `[v6]:port`.
pub async fn resolve_listen_addr(addr: &str) -> Result<SocketAddr, WebError> {
    let bad = |reason: &str| WebError::BadListenAddr {
        addr: addr.to_string(),
        reason: reason.to_string(),
    };
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| bad("port is not a number"))?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let mut it = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| bad(&e.to_string()))?;
    it.next().ok_or_else(|| bad("host resolves to no address"))
}

/// Binds `addr`. For vmalert's `:port` form it first tries the IPv6 wildcard,
/// which on Linux also accepts IPv4 (as Go's `:port` does) unless the host sets
/// `net.ipv6.bindv6only`, and falls back to IPv4
/// alone where IPv6 is unavailable.
async fn bind_listener(addr: SocketAddr, all_interfaces: bool) -> std::io::Result<TcpListener> {
    if all_interfaces {
        let v6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, addr.port()));
        if let Ok(l) = TcpListener::bind(v6).await {
            return Ok(l);
        }
    }
    TcpListener::bind(addr).await
}

/// `-http.pathPrefix` as a leading-slash, no-trailing-slash string, or empty.
fn normalize_prefix(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

impl Server {
    /// Binds `opts.listen_addr`.
    pub async fn bind(
        opts: WebOptions,
        state: Arc<dyn StateSource>,
        registry: Arc<Registry>,
    ) -> Result<Server, WebError> {
        let addr = resolve_listen_addr(&opts.listen_addr).await?;
        let all_interfaces = opts.listen_addr.starts_with(':');
        let listener = bind_listener(addr, all_interfaces)
            .await
            .map_err(|source| WebError::Bind {
                addr: opts.listen_addr.clone(),
                source,
            })?;
        let prefix = normalize_prefix(&opts.path_prefix);
        let api = Arc::new(Api {
            state,
            registry,
            external_url: opts.external_url.trim_end_matches('/').to_string(),
            reload_auth_key: opts.reload_auth_key,
            http_metrics: opts.http_metrics,
            path_prefix: prefix.clone(),
            started: SystemTime::now(),
            expensive: (opts.max_concurrent_requests > 0).then(|| {
                (
                    Arc::new(tokio::sync::Semaphore::new(opts.max_concurrent_requests)),
                    opts.max_concurrent_requests,
                )
            }),
        });
        Ok(Server {
            listener,
            api,
            prefix,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `cancel` fires, then stops accepting, lets in-flight requests
    /// finish (up to a few seconds) and returns.
    pub async fn run(self, cancel: CancellationToken) {
        let tracker = TaskTracker::new();
        let prefix: Arc<str> = self.prefix.into();
        loop {
            let (stream, _peer) = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Usually EMFILE; back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accepting HTTP connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let api = Arc::clone(&self.api);
            let prefix = Arc::clone(&prefix);
            let cancel = cancel.clone();
            tracker.spawn(async move {
                let svc = service_fn(move |req| {
                    let api = Arc::clone(&api);
                    let prefix = Arc::clone(&prefix);
                    async move { Ok::<_, Infallible>(handle(&api, &prefix, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), svc);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "HTTP connection ended with an error");
                        }
                    }
                    _ = cancel.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        drop(self.listener);
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("HTTP connections still open after the shutdown grace period");
        }
    }
}

/// Bodies smaller than this are sent as they are: gzip would save nothing.
const MIN_GZIP_BODY: usize = 1024;

/// Bodies larger than this are compressed on a blocking thread, off the runtime.
const BLOCKING_GZIP_BODY: usize = 256 * 1024;

/// Whether an `Accept-Encoding` header value accepts gzip (with a non-zero q).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

/// Gzips the body when the client accepts it and it is worth it, as Prometheus and
/// vmalert do: a 20,000-rule `/api/v1/rules` shrinks from tens of megabytes to a few.
async fn maybe_gzip(r: Reply, accept_gzip: bool) -> (Reply, bool) {
    if accept_gzip && r.body.len() > BLOCKING_GZIP_BODY {
        return tokio::task::spawn_blocking(move || gzip_reply(r, true))
            .await
            .unwrap_or_else(|e| {
                let msg = format!("compressing the answer failed: {e}");
                (Reply::text(StatusCode::INTERNAL_SERVER_ERROR, msg), false)
            });
    }
    gzip_reply(r, accept_gzip)
}

/// [`maybe_gzip`] on the current thread.
fn gzip_reply(mut r: Reply, accept_gzip: bool) -> (Reply, bool) {
    if !accept_gzip || r.body.len() < MIN_GZIP_BODY {
        return (r, false);
    }
    match gzip(&r.body) {
        Ok(c) => {
            r.body = Bytes::from(c);
            (r, true)
        }
        Err(_) => (r, false),
    }
}

fn to_response(r: Reply) -> Response<Full<Bytes>> {
    to_response_enc(r, false)
}

fn to_response_enc(r: Reply, gzipped: bool) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = r.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    if gzipped {
        resp.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let Some(allow) = r.allow {
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(tag) = r.etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        resp.headers_mut().insert(ETAG, tag);
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    resp
}

/// Every endpoint; vmalert's `/vmalert/api/...` aliases map to the same ones.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Endpoint {
    Index,
    Static,
    Notifiers,
    Rules,
    Alerts,
    Rule,
    Alert,
    Group,
    Status,
    RuntimeInfo,
    Metrics,
    Healthy,
    Ready,
    Reload,
}

impl Endpoint {
    fn route(path: &str) -> Option<Endpoint> {
        if ui::is_static_path(path) {
            return Some(Endpoint::Static);
        }
        // vmalert's `/vmalert/api/…` and VictoriaMetrics' `/prometheus/api/…` (which its
        // `-vmalert.proxyURL` forwards unchanged) are the same API.
        let api = ["/vmalert", "/prometheus"]
            .iter()
            .find_map(|p| path.strip_prefix(p).filter(|p| p.starts_with("/api/")))
            .unwrap_or(path);
        Some(match api {
            "/" | "/vmalert" | "/vmalert/" => Endpoint::Index,
            "/api/v1/rules" => Endpoint::Rules,
            "/api/v1/alerts" => Endpoint::Alerts,
            "/api/v1/notifiers" => Endpoint::Notifiers,
            "/api/v1/rule" => Endpoint::Rule,
            "/api/v1/alert" => Endpoint::Alert,
            "/api/v1/group" => Endpoint::Group,
            "/api/v1/status" => Endpoint::Status,
            "/api/v1/status/runtimeinfo" => Endpoint::RuntimeInfo,
            "/metrics" => Endpoint::Metrics,
            "/-/healthy" | "/health" => Endpoint::Healthy,
            "/-/ready" => Endpoint::Ready,
            "/-/reload" => Endpoint::Reload,
            _ => return None,
        })
    }

    /// The canonical path, for metrics labels.
    fn name(self) -> &'static str {
        match self {
            Endpoint::Index => "/",
            Endpoint::Static => "/static/",
            Endpoint::Notifiers => "/api/v1/notifiers",
            Endpoint::Rules => "/api/v1/rules",
            Endpoint::Alerts => "/api/v1/alerts",
            Endpoint::Rule => "/api/v1/rule",
            Endpoint::Alert => "/api/v1/alert",
            Endpoint::Group => "/api/v1/group",
            Endpoint::Status => "/api/v1/status",
            Endpoint::RuntimeInfo => "/api/v1/status/runtimeinfo",
            Endpoint::Metrics => "/metrics",
            Endpoint::Healthy => "/-/healthy",
            Endpoint::Ready => "/-/ready",
            Endpoint::Reload => "/-/reload",
        }
    }

    /// The `Allow` header value; reading endpoints take GET and HEAD, `/-/reload`
    /// takes GET (vmalert) and POST/PUT (Prometheus).
    fn allow(self) -> &'static str {
        match self {
            Endpoint::Reload => "GET, POST, PUT",
            _ => "GET, HEAD",
        }
    }

    /// Whether answering costs in proportion to the number of rules, alerts or series:
    /// such requests are rendered on a blocking thread, at most
    /// `-http.maxConcurrentRequests` at once, so API load cannot starve evaluation or
    /// the health checks.
    fn is_expensive(self) -> bool {
        matches!(self, Endpoint::Rules | Endpoint::Alerts | Endpoint::Metrics)
    }

    fn allows(self, m: &Method) -> bool {
        match self {
            Endpoint::Reload => m == Method::GET || m == Method::POST || m == Method::PUT,
            _ => m == Method::GET || m == Method::HEAD,
        }
    }
}

async fn handle(api: &Arc<Api>, prefix: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let (endpoint, resp) = dispatch(api, prefix, req).await;
    if let Some(m) = &api.http_metrics {
        let name = endpoint.map_or("other", Endpoint::name);
        m.observe(name, resp.status().as_u16(), started.elapsed());
    }
    resp
}

async fn dispatch(
    api: &Arc<Api>,
    prefix: &str,
    req: Request<Incoming>,
) -> (Option<Endpoint>, Response<Full<Bytes>>) {
    let full = req.uri().path();
    let local = match full.strip_prefix(prefix) {
        Some("") => Some("/"),
        Some(p) if p.starts_with('/') => Some(p),
        _ => None,
    };
    let route = local.and_then(Endpoint::route);
    let Some(endpoint) = route else {
        return (None, to_response(not_found(full)));
    };
    if !endpoint.allows(req.method()) {
        let mut r = Reply::text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed for {full}\n", req.method()),
        );
        r.allow = Some(endpoint.allow());
        return (Some(endpoint), to_response(r));
    }
    let mut q = Query::parse(req.uri().query());
    let accept_gzip = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let if_none_match = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if endpoint.is_expensive() {
        return (
            Some(endpoint),
            render_expensive(api, endpoint, full, q, accept_gzip).await,
        );
    }
    let reply = match endpoint {
        Endpoint::Index => api.index(local.unwrap_or_default()),
        Endpoint::Static => api.asset(local.unwrap_or_default()),
        Endpoint::Notifiers => api.notifiers(),
        Endpoint::Rules => api.rules(&q),
        Endpoint::Alerts => api.alerts(&q),
        Endpoint::Rule => api.rule(&q),
        Endpoint::Alert => api.alert(&q),
        Endpoint::Group => api.group(&q),
        Endpoint::Status => api.status(),
        Endpoint::RuntimeInfo => api.runtime_info(),
        Endpoint::Metrics => api.metrics(),
        Endpoint::Healthy => Reply::text(StatusCode::OK, "OK"),
        Endpoint::Ready => api.ready(),
        Endpoint::Reload => match read_form(req, &mut q)
            .await
            .and_then(|()| api.check_reload_auth(&q))
        {
            Ok(()) => api.reload().await,
            Err(r) => r,
        },
    };
    if let (Some(tag), Some(header)) = (&reply.etag, &if_none_match)
        && ui::none_match(header, tag)
    {
        let mut resp = to_response(Reply::text(StatusCode::NOT_MODIFIED, ""));
        resp.headers_mut().remove(CONTENT_TYPE);
        if let Ok(v) = HeaderValue::from_str(tag) {
            resp.headers_mut().insert(ETAG, v);
        }
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return (Some(endpoint), resp);
    }
    let (reply, gzipped) = maybe_gzip(reply, accept_gzip).await;
    (Some(endpoint), to_response_enc(reply, gzipped))
}

/// How long a client turned away by `-http.maxConcurrentRequests` should wait.
const RETRY_AFTER_SECS: u64 = 1;

/// Renders (and compresses) an expensive answer on a blocking thread, holding one of
/// the `-http.maxConcurrentRequests` slots; with none free, 503 and `Retry-After`.
async fn render_expensive(
    api: &Arc<Api>,
    endpoint: Endpoint,
    path: &str,
    q: Query,
    accept_gzip: bool,
) -> Response<Full<Bytes>> {
    let permit = match api.admit() {
        Ok(p) => p,
        Err(limit) => {
            let msg = format!(
                "too many concurrent requests ({limit} at once, -http.maxConcurrentRequests); retry {path} in {RETRY_AFTER_SECS} s"
            );
            let reply = if endpoint == Endpoint::Metrics {
                Reply::text(StatusCode::SERVICE_UNAVAILABLE, msg + "\n")
            } else {
                Reply::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &msg)
            };
            let mut resp = to_response(reply);
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return resp;
        }
    };
    let api = Arc::clone(api);
    let rendered = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let reply = match endpoint {
            Endpoint::Rules => api.rules(&q),
            Endpoint::Alerts => api.alerts(&q),
            _ => api.metrics(),
        };
        gzip_reply(reply, accept_gzip)
    })
    .await;
    match rendered {
        Ok((reply, gzipped)) => to_response_enc(reply, gzipped),
        Err(e) => to_response(Reply::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering {path} failed: {e}\n"),
        )),
    }
}

/// Adds the fields of an `application/x-www-form-urlencoded` body to `q`, as Go's
/// `Request.FormValue` (which vmalert uses for `authKey`) sees them.
async fn read_form(req: Request<Incoming>, q: &mut Query) -> Result<(), Reply> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(());
    }
    let body = Limited::new(req.into_body(), MAX_FORM_BODY)
        .collect()
        .await
        .map_err(|e| {
            Reply::text(
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {e}\n"),
            )
        })?
        .to_bytes();
    q.extend(Query::parse(Some(&String::from_utf8_lossy(&body))));
    Ok(())
}

fn not_found(path: &str) -> Reply {
    Reply::text(
        StatusCode::NOT_FOUND,
        format!("404 page not found: {path}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listen_addr_forms() {
        assert_eq!(
            resolve_listen_addr(":8880").await.unwrap(),
            "0.0.0.0:8880".parse().unwrap()
        );
        assert_eq!(
            resolve_listen_addr("127.0.0.1:9").await.unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert!(resolve_listen_addr(":x").await.is_err());
    }

    #[test]
    fn accept_encoding_forms() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("deflate, br"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = "x".repeat(5000);
        let z = gzip(body.as_bytes()).unwrap();
        assert!(z.len() < 200);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn routes_and_aliases() {
        assert_eq!(
            Endpoint::route("/vmalert/api/v1/rules"),
            Some(Endpoint::Rules)
        );
        assert_eq!(Endpoint::route("/api/v1/rules"), Some(Endpoint::Rules));
        assert_eq!(Endpoint::route("/vmalert"), Some(Endpoint::Index));
        assert_eq!(Endpoint::route("/vmalert/"), Some(Endpoint::Index));
        assert_eq!(Endpoint::route("/static/app.js"), Some(Endpoint::Static));
        assert_eq!(
            Endpoint::route("/vmalert/static/app.js"),
            Some(Endpoint::Static)
        );
        assert_eq!(
            Endpoint::route("/vmalert/api/v1/notifiers"),
            Some(Endpoint::Notifiers)
        );
        assert_eq!(Endpoint::route("/vmalert/metrics"), None);
        assert_eq!(
            Endpoint::route("/prometheus/api/v1/alerts"),
            Some(Endpoint::Alerts)
        );
        assert_eq!(Endpoint::route("/api/v1/rules/"), None);
        assert!(Endpoint::Reload.allows(&Method::POST));
        assert!(!Endpoint::Rules.allows(&Method::POST));
    }

    #[test]
    fn prefix_normalized() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("a/"), "/a");
        assert_eq!(normalize_prefix("/a/b/"), "/a/b");
    }
}
