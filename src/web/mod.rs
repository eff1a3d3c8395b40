//! The HTTP server: Prometheus' and vmalert's rule/alert API, `/metrics`, health,
//! readiness, `/-/reload`, and the status UI (`ui`: static assets built into the binary
//! that read the same API from the browser).
//!
//! The server never reaches into the rule engine. It renders the
//! [`GroupStatus`](crate::status::GroupStatus) snapshots that the rest of tocsin
//! publishes through a [`StateSource`] (for instance a
//! [`StatusBoard`](crate::status::StatusBoard)), so API load never contends with
//! evaluation. See `docs/api.md`.

mod api;
pub mod auth;
mod cache;
mod cluster;
mod dispatch;
mod filter;
mod format;
mod json;
mod listing;
pub mod metrics;
mod pause_list;
mod pauses;
mod pprof;
pub mod proxy_protocol;
mod respond;
mod routes;
mod server;
pub mod tls;
mod ui;

use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::status::StateSource;

pub use auth::{Access, BasicAuth};
pub use dispatch::{BadHeader, ResponseHeaders};
pub use format::{GoExp, GoFloat, GoTime};
pub use routes::{RouteInfo, routes};
pub use server::{Server, WebError, normalize_prefix, resolve_listen_addr};
pub use tls::TlsOptions;

/// Server options, named after vmalert's flags.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `-httpListenAddr`: `:8880` (all interfaces), `host:port` or `[v6]:port`.
    pub listen_addr: String,
    /// `-httpAuth.*` and the `-*AuthKey` flags.
    pub access: Access,
    /// `-http.header.*`, `-http.disableCORS`.
    pub headers: ResponseHeaders,
    /// `-tls*`: serve HTTPS.
    pub tls: Option<TlsOptions>,
    /// `-httpListenAddr.useProxyProtocol`.
    pub proxy_protocol: bool,
    /// Not `-http.disableKeepAlive`: a connection may carry several requests.
    pub keep_alive: bool,
    /// `-metrics.exposeMetadata`: `/metrics` carries `# HELP`, `# TYPE` and `# UNIT`.
    pub expose_metadata: bool,
    /// The `/flags` page (secrets already masked).
    pub flags_page: Arc<str>,
    /// `-http.pathPrefix`: every path is served under this prefix.
    pub path_prefix: String,
    /// `-external.url`: base of the alert `source` links.
    pub external_url: String,
    /// Request counters, if the application registered them (see
    /// [`metrics::HttpMetrics::register`]).
    pub http_metrics: Option<metrics::HttpMetrics>,
    /// Auth failures, certificate reloads, PROXY errors, if registered (see
    /// [`metrics::SecurityMetrics::register`]).
    pub security_metrics: Option<metrics::SecurityMetrics>,
    /// `-http.maxConcurrentRequests`: expensive requests (rules, alerts, metrics)
    /// rendered at once; more are answered 503 with `Retry-After`. 0 = no limit.
    pub max_concurrent_requests: usize,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            listen_addr: ":8880".to_string(),
            access: Access::default(),
            headers: ResponseHeaders::default(),
            tls: None,
            proxy_protocol: false,
            keep_alive: true,
            expose_metadata: true,
            flags_page: Arc::from(""),
            path_prefix: String::new(),
            external_url: String::new(),
            http_metrics: None,
            security_metrics: None,
            max_concurrent_requests: 4,
        }
    }
}

/// Binds `opts.listen_addr` and serves until `cancel` fires (then shuts down
/// gracefully). Fails only if the address is invalid or cannot be bound.
pub async fn serve(
    opts: WebOptions,
    state: Arc<dyn StateSource>,
    registry: Arc<Registry>,
    cancel: CancellationToken,
) -> Result<(), WebError> {
    let server = Server::bind(opts, state, registry).await?;
    tracing::info!(addr = ?server.local_addr().ok(), scheme = server.scheme(), "HTTP server listening");
    server.run(cancel).await;
    Ok(())
}
