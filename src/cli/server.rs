//! Flags of tocsin's HTTP server.

use super::*;

/// vmalert's flags for tocsin's own HTTP server: TLS, authentication, security headers,
/// PROXY protocol.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerFlags {
    /// Serve HTTPS on `-httpListenAddr`; needs `-tlsCertFile` and `-tlsKeyFile`.
    #[arg(long = "tls", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub tls: bool,
    /// PEM certificate (chain) for `-tls`; re-read when the file changes.
    #[arg(long = "tlsCertFile", value_name = "PATH")]
    pub tls_cert_file: Option<String>,
    /// PEM private key for `-tls`; re-read when the file changes.
    #[arg(long = "tlsKeyFile", value_name = "PATH")]
    pub tls_key_file: Option<String>,
    /// Lowest TLS version accepted with `-tls`: TLS12 or TLS13 (TLS10 and TLS11 are
    /// accepted as names but mean TLS12, the lowest that tocsin speaks).
    #[arg(long = "tlsMinVersion", value_name = "VERSION", value_parser = ["TLS10", "TLS11", "TLS12", "TLS13"])]
    pub tls_min_version: Option<String>,
    /// TLS 1.2 cipher suites allowed with `-tls`, by Go's names (comma-separated); TLS 1.3
    /// suites stay enabled unless some are listed.
    #[arg(long = "tlsCipherSuites", value_name = "NAMES")]
    pub tls_cipher_suites: Vec<String>,
    /// User name for basic auth on every route but `/health`, `/-/healthy` and `/-/ready`;
    /// empty disables basic auth.
    #[arg(long = "httpAuth.username", default_value = "")]
    pub http_auth_username: String,
    /// Password for `-httpAuth.username` (or `file:///path`, re-read when it changes).
    #[arg(
        long = "httpAuth.password",
        default_value = "",
        hide_default_value = true
    )]
    pub http_auth_password: String,
    /// Key for `/metrics`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "metricsAuthKey", default_value = "", hide_default_value = true)]
    pub metrics_auth_key: String,
    /// Key for `/flags`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "flagsAuthKey", default_value = "", hide_default_value = true)]
    pub flags_auth_key: String,
    /// Key for `/debug/pprof/*`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "pprofAuthKey", default_value = "", hide_default_value = true)]
    pub pprof_auth_key: String,
    /// `Strict-Transport-Security` header value, e.g. `max-age=31536000; includeSubDomains`.
    #[arg(long = "http.header.hsts", default_value = "")]
    pub header_hsts: String,
    /// `X-Frame-Options` header value, e.g. `DENY`.
    #[arg(long = "http.header.frameOptions", default_value = "")]
    pub header_frame_options: String,
    /// `Content-Security-Policy` header value, e.g. `default-src 'self'`.
    #[arg(long = "http.header.csp", default_value = "")]
    pub header_csp: String,
    /// Do not answer CORS preflights and API responses with `Access-Control-Allow-*: *`.
    #[arg(long = "http.disableCORS", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_cors: bool,
    /// Expect a PROXY protocol (v1 or v2) header on every connection to `-httpListenAddr`.
    #[arg(long = "httpListenAddr.useProxyProtocol", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub use_proxy_protocol: bool,
    /// Close every connection to `-httpListenAddr` after one request.
    #[arg(long = "http.disableKeepAlive", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_keep_alive: bool,
    /// `# HELP`, `# TYPE` and `# UNIT` lines on `/metrics`. On here (as Prometheus);
    /// vmalert leaves them out unless set.
    #[arg(long = "metrics.exposeMetadata", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub expose_metadata: bool,
}
