//! One request: path prefix, CORS preflight, credentials, route, method, handler, then
//! the response headers every answer carries (`-http.header.*`, CORS on the API).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH,
    RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use super::api::{Api, Reply};
use super::auth::{Denied, Guard};
use super::cache::{Key, Rendered};
use super::filter::Query;
use super::respond::{accepts_gzip, gzip_reply, maybe_gzip, to_response, to_response_enc};
use super::routes::Endpoint;
use super::{cluster, pause_list, pauses, pprof, ui};

/// Largest form body accepted (`/-/reload` carries only `authKey`; pause and resume
/// their parameters).
const MAX_FORM_BODY: usize = 64 * 1024;

/// `-http.header.hsts`, `-http.header.frameOptions`, `-http.header.csp` and
/// `-http.disableCORS`.
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders {
    pub hsts: Option<HeaderValue>,
    pub frame_options: Option<HeaderValue>,
    pub csp: Option<HeaderValue>,
    pub disable_cors: bool,
}

/// A `-http.header.*` value that cannot be sent as a header.
#[derive(Debug, thiserror::Error)]
#[error("-{flag}: not a valid HTTP header value (control characters or non-ASCII); fix the value")]
pub struct BadHeader {
    pub flag: &'static str,
}

impl ResponseHeaders {
    /// Takes the flag values; empty means "do not send".
    pub fn new(
        hsts: &str,
        frame_options: &str,
        csp: &str,
        disable_cors: bool,
    ) -> Result<Self, BadHeader> {
        let v = |flag: &'static str, s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                HeaderValue::from_str(s)
                    .map(Some)
                    .map_err(|_| BadHeader { flag })
            }
        };
        Ok(ResponseHeaders {
            hsts: v("http.header.hsts", hsts)?,
            frame_options: v("http.header.frameOptions", frame_options)?,
            csp: v("http.header.csp", csp)?,
            disable_cors,
        })
    }

    fn apply(&self, resp: &mut Response<Full<Bytes>>, endpoint: Option<Endpoint>) {
        let h = resp.headers_mut();
        let pairs = [
            ("strict-transport-security", &self.hsts),
            ("x-frame-options", &self.frame_options),
            ("content-security-policy", &self.csp),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                h.insert(HeaderName::from_static(name), v.clone());
            }
        }
        if !self.disable_cors && endpoint.is_some_and(Endpoint::is_api) {
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        }
    }

    /// vmalert answers every `OPTIONS` (a CORS preflight, which browsers send without
    /// credentials) with 204, allowing everything unless `-http.disableCORS`.
    fn preflight(&self) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::NO_CONTENT;
        if !self.disable_cors {
            let h = resp.headers_mut();
            for name in [
                "access-control-allow-origin",
                "access-control-allow-methods",
                "access-control-allow-headers",
            ] {
                h.insert(name, HeaderValue::from_static("*"));
            }
        }
        resp
    }
}

pub async fn handle(
    api: &Arc<Api>,
    prefix: &str,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let (endpoint, mut resp) = dispatch(api, prefix, req, peer).await;
    api.headers.apply(&mut resp, endpoint);
    if endpoint.is_some_and(|e| e == Endpoint::Ready || e.is_api()) {
        with_identity(api, &mut resp);
    }
    if let Some(m) = &api.http_metrics {
        let name = endpoint.map_or("other", Endpoint::name);
        m.observe(name, resp.status().as_u16(), started.elapsed());
    }
    resp
}

/// On a cluster member, the `Tocsin-Cluster` header: `/-/ready` and the API answers say
/// who answered and with which `-cluster.*` flags, so that the probes and the fan-out
/// of the cluster-wide API both find members that disagree.
fn with_identity(api: &Api, resp: &mut Response<Full<Bytes>>) {
    if let Some(c) = api.state.cluster()
        && let Ok(v) = HeaderValue::from_str(&c.identity_header())
    {
        resp.headers_mut().insert(crate::status::CLUSTER_HEADER, v);
    }
}

fn unauthorized(d: Denied) -> Response<Full<Bytes>> {
    let mut resp = to_response(Reply::text(StatusCode::UNAUTHORIZED, d.message()));
    if d == Denied::Basic {
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tocsin\""),
        );
    }
    resp
}

async fn dispatch(
    api: &Arc<Api>,
    prefix: &str,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> (Option<Endpoint>, Response<Full<Bytes>>) {
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return (None, api.headers.preflight());
    }
    let (endpoint, local, q) = match admit(api, prefix, &parts, body, peer).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let full = parts.uri.path();
    let cluster = api.state.cluster().filter(|_| !q.is_local());
    if let Some(c) = &cluster {
        // A merged answer costs what the local one does and a request to every member:
        // it holds a `-http.maxConcurrentRequests` slot for as long.
        let _slot = if matches!(endpoint, Endpoint::Rules | Endpoint::Alerts) {
            match api.admit() {
                Ok(slot) => slot,
                Err(limit) => return (Some(endpoint), busy(endpoint, full, limit)),
            }
        } else {
            None
        };
        if let Some(reply) = cluster_reply(api, c, endpoint, &q, &parts).await {
            return (Some(endpoint), finish(reply, &parts).await);
        }
    }
    if endpoint.is_expensive() {
        let accept_gzip = parts
            .headers
            .get(ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip);
        let resp = render_expensive(api, endpoint, full, q, accept_gzip).await;
        return (Some(endpoint), resp);
    }
    let resp = local_answer(api, endpoint, &local, &q, &parts, peer).await;
    (Some(endpoint), resp)
}

/// What the request asks for, once it may: the endpoint, the path after the prefix and
/// the parameters (with a form body's, where the endpoint takes one); or the refusal
/// (unknown path, missing credentials, wrong method).
async fn admit(
    api: &Api,
    prefix: &str,
    parts: &Parts,
    body: Incoming,
    peer: SocketAddr,
) -> Result<(Endpoint, String, Query), (Option<Endpoint>, Response<Full<Bytes>>)> {
    let full = parts.uri.path();
    let local = match full.strip_prefix(prefix) {
        Some("") => Some("/"),
        Some(p) if p.starts_with('/') => Some(p),
        _ => None,
    };
    let route = local.and_then(Endpoint::route);
    let mut q = Query::parse(parts.uri.query());
    if route.is_some_and(Endpoint::takes_form)
        && let Err(r) = read_form(parts, body, &mut q).await
    {
        return Err((route, to_response(r)));
    }
    if let Err(d) = api.access.check(
        route.map_or(Guard::Basic, Endpoint::guard),
        &parts.headers,
        &q,
    ) {
        if let Some(m) = &api.security_metrics {
            m.auth_failed(d.reason());
        }
        tracing::debug!(%peer, path = full, reason = d.reason(), "request refused");
        return Err((route, unauthorized(d)));
    }
    let Some(endpoint) = route else {
        return Err((None, to_response(not_found(full))));
    };
    if !endpoint.allows(&parts.method) {
        let mut r = Reply::text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed for {full}\n", parts.method),
        );
        r.allow = Some(endpoint.allow());
        return Err((Some(endpoint), to_response(r)));
    }
    Ok((endpoint, local.unwrap_or_default().to_string(), q))
}

/// This server's own answer of an endpoint that is not rendered on a blocking thread.
async fn local_answer(
    api: &Arc<Api>,
    endpoint: Endpoint,
    local: &str,
    q: &Query,
    parts: &Parts,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let reply = match endpoint {
        Endpoint::Index => api.index(local),
        Endpoint::Static => api.asset(local),
        Endpoint::Notifiers => api.notifiers(),
        Endpoint::Rules => api.rules(q),
        Endpoint::Alerts => api.alerts(q),
        Endpoint::Rule => api.rule(q),
        Endpoint::Alert => api.alert(q),
        Endpoint::Group => api.group(q),
        Endpoint::Status => api.status(),
        Endpoint::RuntimeInfo => api.runtime_info(),
        Endpoint::Metrics => api.metrics(),
        Endpoint::Healthy => Reply::text(StatusCode::OK, "OK"),
        // The cluster identity header is added by `handle`.
        Endpoint::Ready => return to_response(api.ready()),
        Endpoint::Reload => api.reload().await,
        Endpoint::Pause => pauses::pause(api, q, caller(parts, peer)).await,
        Endpoint::Resume => pauses::resume(api, q).await,
        Endpoint::Pauses => pause_list::list(api),
        Endpoint::Flags => Reply::text(StatusCode::OK, api.flags_page.to_string()),
        Endpoint::PprofIndex => pprof_index(api, local),
        // Already gzipped: sent as it is.
        Endpoint::PprofProfile => return to_response(pprof_profile(q).await),
    };
    finish(reply, parts).await
}

/// Who asks, for a pause without `by`: the basic-auth user, else the client's address.
fn caller(parts: &Parts, peer: SocketAddr) -> String {
    super::auth::basic_user(&parts.headers).unwrap_or_else(|| peer.ip().to_string())
}

/// The cluster-wide answer of the endpoints that have one (`None` for the others).
async fn cluster_reply(
    api: &Arc<Api>,
    c: &std::sync::Arc<dyn crate::status::ClusterSource>,
    endpoint: Endpoint,
    q: &Query,
    parts: &Parts,
) -> Option<Reply> {
    let auth = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Some(match endpoint {
        Endpoint::Rules => cluster::rules(api, c, q, auth).await,
        Endpoint::Alerts => cluster::alerts(api, c, q, auth).await,
        Endpoint::Group => cluster::from_owner(c, endpoint.name(), q, auth, api.group(q)).await,
        Endpoint::Rule => cluster::from_owner(c, endpoint.name(), q, auth, api.rule(q)).await,
        Endpoint::Alert => cluster::from_owner(c, endpoint.name(), q, auth, api.alert(q)).await,
        _ => return None,
    })
}

/// How long a client turned away by `-http.maxConcurrentRequests` should wait.
const RETRY_AFTER_SECS: u64 = 1;

/// An expensive answer: rules and alerts from the answers rendered for the current
/// status version (see `cache`), `/metrics` rendered for each request.
async fn render_expensive(
    api: &Arc<Api>,
    endpoint: Endpoint,
    path: &str,
    q: Query,
    accept_gzip: bool,
) -> Response<Full<Bytes>> {
    let rendered = if endpoint == Endpoint::Metrics {
        render(api, endpoint, path, q, accept_gzip).await
    } else {
        let key = Key::new(endpoint, &q, accept_gzip);
        let slot = api.answers.slot(key, api.state.version());
        slot.get_or_try_init(|| render(api, endpoint, path, q, accept_gzip))
            .await
            .cloned()
    };
    match rendered {
        Ok((reply, gzipped)) => to_response_enc(reply, gzipped),
        Err(resp) => resp,
    }
}

/// Renders (and compresses) an expensive answer on a blocking thread, holding one of
/// the `-http.maxConcurrentRequests` slots; with none free, the 503 (with
/// `Retry-After`) to send instead.
async fn render(
    api: &Arc<Api>,
    endpoint: Endpoint,
    path: &str,
    q: Query,
    accept_gzip: bool,
) -> Result<Rendered, Response<Full<Bytes>>> {
    let permit = api.admit().map_err(|limit| busy(endpoint, path, limit))?;
    if let Some(m) = &api.http_metrics {
        m.rendered(endpoint.name());
    }
    let api = Arc::clone(api);
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let reply = match endpoint {
            Endpoint::Rules => api.rules(&q),
            Endpoint::Alerts => api.alerts(&q),
            _ => api.metrics(),
        };
        gzip_reply(reply, accept_gzip)
    })
    .await
    .map_err(|e| {
        to_response(Reply::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering {path} failed: {e}\n"),
        ))
    })
}

/// The answer beyond `-http.maxConcurrentRequests`: 503 with `Retry-After`.
fn busy(endpoint: Endpoint, path: &str, limit: usize) -> Response<Full<Bytes>> {
    let msg = format!(
        "too many concurrent requests ({limit} at once, -http.maxConcurrentRequests); retry {path} in {RETRY_AFTER_SECS} s"
    );
    let reply = if endpoint.is_api() {
        Reply::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &msg)
    } else {
        Reply::text(StatusCode::SERVICE_UNAVAILABLE, msg + "\n")
    };
    let mut resp = to_response(reply);
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

/// Revalidation (`If-None-Match`) and gzip.
async fn finish(reply: Reply, parts: &Parts) -> Response<Full<Bytes>> {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let (Some(tag), Some(inm)) = (&reply.etag, header(IF_NONE_MATCH))
        && ui::none_match(inm, tag)
    {
        let mut resp = to_response(Reply::text(StatusCode::NOT_MODIFIED, ""));
        resp.headers_mut().remove(CONTENT_TYPE);
        if let Ok(v) = HeaderValue::from_str(tag) {
            resp.headers_mut().insert(ETAG, v);
        }
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    }
    let accept_gzip = header(ACCEPT_ENCODING).is_some_and(accepts_gzip);
    let (reply, gzipped) = maybe_gzip(reply, accept_gzip).await;
    to_response_enc(reply, gzipped)
}

fn pprof_index(api: &Api, local: &str) -> Reply {
    match local.trim_start_matches("/debug/pprof").trim_matches('/') {
        "" => {
            let mut r = Reply::text(StatusCode::OK, pprof::index_html(&api.path_prefix));
            r.content_type = "text/html; charset=utf-8";
            r
        }
        other => Reply::text(
            StatusCode::NOT_FOUND,
            format!("Unknown profile: {other}; tocsin serves /debug/pprof/profile (CPU) only\n"),
        ),
    }
}

async fn pprof_profile(q: &Query) -> Reply {
    let seconds = match q.get("seconds").filter(|s| !s.is_empty()) {
        None => pprof::DEFAULT_SECONDS,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Reply::text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "invalid seconds={s:?}: use a whole number of seconds, 1 to {}\n",
                        pprof::MAX_SECONDS
                    ),
                );
            }
        },
    };
    match pprof::cpu_profile(seconds).await {
        Ok(body) => {
            let mut r = Reply::text(StatusCode::OK, "");
            r.content_type = "application/octet-stream";
            r.body = Bytes::from(body);
            r
        }
        Err(e @ pprof::ProfileError::Busy) => Reply::text(StatusCode::CONFLICT, format!("{e}\n")),
        Err(e) => Reply::text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Adds the fields of an `application/x-www-form-urlencoded` body to `q`, as Go's
/// `Request.FormValue` (which vmalert uses for `authKey`) sees them.
async fn read_form(parts: &Parts, body: Incoming, q: &mut Query) -> Result<(), Reply> {
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(());
    }
    let body = Limited::new(body, MAX_FORM_BODY)
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
