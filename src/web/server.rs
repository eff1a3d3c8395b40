//! The hyper 1 server: accept loop, PROXY protocol header, TLS handshake, HTTP/1
//! connections, graceful shutdown. Requests are handled in `dispatch`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::WebOptions;
use super::api::Api;
use super::dispatch::handle;
use super::tls::{CertStore, TlsError};
use super::{proxy_protocol, tls};
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
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// How long in-flight requests may take to finish after cancellation.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Clients must send their request headers within this time (slow-loris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A TLS handshake must finish within this time.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection needs.
struct Shared {
    api: Arc<Api>,
    prefix: Arc<str>,
    tls: Option<TlsAcceptor>,
    proxy_protocol: bool,
    keep_alive: bool,
}

/// A bound, not yet running server; binding first lets callers (and tests using port
/// 0) learn the address before serving.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    /// The certificate pair in service and how often to look for a new one.
    certs: Option<(Arc<CertStore>, Duration)>,
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
pub fn normalize_prefix(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

impl Server {
    /// Loads the TLS pair (if `-tls`) and binds `opts.listen_addr`.
    pub async fn bind(
        opts: WebOptions,
        state: Arc<dyn StateSource>,
        registry: Arc<Registry>,
    ) -> Result<Server, WebError> {
        let (tls, certs) = match &opts.tls {
            Some(t) => {
                let (config, store) = tls::server_config(t, opts.security_metrics.clone())?;
                (
                    Some(TlsAcceptor::from(config)),
                    Some((store, t.reload_interval)),
                )
            }
            None => (None, None),
        };
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
            access: opts.access,
            headers: opts.headers,
            flags_page: opts.flags_page,
            http_metrics: opts.http_metrics,
            security_metrics: opts.security_metrics,
            path_prefix: prefix.clone(),
            expose_metadata: opts.expose_metadata,
            started: SystemTime::now(),
            expensive: (opts.max_concurrent_requests > 0).then(|| {
                (
                    Arc::new(tokio::sync::Semaphore::new(opts.max_concurrent_requests)),
                    opts.max_concurrent_requests,
                )
            }),
            answers: Default::default(),
        });
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                api,
                prefix: prefix.into(),
                tls,
                proxy_protocol: opts.proxy_protocol,
                keep_alive: opts.keep_alive,
            }),
            certs,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` with `-tls`, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `cancel` fires, then stops accepting, lets in-flight requests
    /// finish (up to a few seconds) and returns.
    pub async fn run(self, cancel: CancellationToken) {
        if let Some((store, every)) = &self.certs {
            tls::watch(store.clone(), *every, cancel.clone());
        }
        let tracker = TaskTracker::new();
        loop {
            let (stream, peer) = tokio::select! {
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
            let shared = Arc::clone(&self.shared);
            let cancel = cancel.clone();
            tracker.spawn(connection(shared, stream, peer, cancel));
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

/// One accepted connection: PROXY header, TLS handshake, then HTTP.
async fn connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    mut peer: SocketAddr,
    cancel: CancellationToken,
) {
    if shared.proxy_protocol {
        match proxy_protocol::read_header(&mut stream).await {
            Ok(h) => peer = h.source.unwrap_or(peer),
            Err(e) => {
                if let Some(m) = &shared.api.security_metrics {
                    m.proxy_protocol_error();
                }
                tracing::warn!(
                    "connection from {peer} dropped: {e}; -httpListenAddr.useProxyProtocol is set, so every connection must start with a PROXY v1 or v2 header (send it from the load balancer, or unset the flag)"
                );
                return;
            }
        }
    }
    let Some(acceptor) = &shared.tls else {
        return serve_http(shared.clone(), stream, peer, cancel).await;
    };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_http(shared.clone(), tls, peer, cancel).await,
        // Probes and plain-HTTP clients end here all the time: not worth a warning.
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn serve_http<S>(shared: Arc<Shared>, stream: S, peer: SocketAddr, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let keep_alive = shared.keep_alive;
    let svc = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared.api, &shared.prefix, req, peer).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(keep_alive)
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
    fn prefix_normalized() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("a/"), "/a");
        assert_eq!(normalize_prefix("/a/b/"), "/a/b");
    }
}
