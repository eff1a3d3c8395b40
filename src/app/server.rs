//! Flags → the HTTP server's options: TLS, credentials, headers, PROXY protocol, the
//! `/flags` page. Every problem is fatal at start-up with the flag's name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use prometheus_client::registry::Registry;

use crate::cli::RunFlags;
use crate::flag_sources::{self, Secrets, SetFlag};
use crate::secret::Secret;
use crate::web::{self, Access, BasicAuth, ResponseHeaders, TlsOptions, WebOptions};

/// How often the certificate files are checked for a new pair (vmalert: every second).
const CERT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

fn secret(flag: &str, value: &str) -> anyhow::Result<Option<Arc<Secret>>> {
    Ok(Secret::from_flag(flag, value)?.map(Arc::new))
}

fn access(f: &RunFlags) -> anyhow::Result<Access> {
    let s = &f.server;
    let basic = if s.http_auth_username.is_empty() {
        if !s.http_auth_password.is_empty() {
            tracing::warn!(
                "-httpAuth.password is set but -httpAuth.username is empty: basic auth stays off (as vmalert); set -httpAuth.username"
            );
        }
        None
    } else {
        Some(BasicAuth {
            username: s.http_auth_username.clone(),
            password: secret("httpAuth.password", &s.http_auth_password)?,
        })
    };
    Ok(Access {
        basic,
        metrics_key: secret("metricsAuthKey", &s.metrics_auth_key)?,
        flags_key: secret("flagsAuthKey", &s.flags_auth_key)?,
        pprof_key: secret("pprofAuthKey", &s.pprof_auth_key)?,
        reload_key: secret("reloadAuthKey", &f.reload_auth_key)?,
    })
}

fn tls(f: &RunFlags) -> anyhow::Result<Option<TlsOptions>> {
    let s = &f.server;
    if !s.tls {
        if s.tls_cert_file.is_some() || s.tls_key_file.is_some() {
            tracing::warn!(
                "-tlsCertFile/-tlsKeyFile are set but -tls is not: serving plain HTTP (as vmalert); add -tls to serve HTTPS"
            );
        }
        return Ok(None);
    }
    let file = |v: &Option<String>, flag: &str| -> anyhow::Result<PathBuf> {
        match v.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Ok(PathBuf::from(p)),
            None => bail!("-tls is set but -{flag} is empty: pass the PEM file, or drop -tls"),
        }
    };
    let min = s.tls_min_version.as_deref().unwrap_or("TLS12");
    if matches!(min, "TLS10" | "TLS11") {
        tracing::warn!(
            "-tlsMinVersion={min}: tocsin speaks TLS 1.2 and 1.3 only, so clients limited to TLS 1.0/1.1 are refused"
        );
    }
    Ok(Some(TlsOptions {
        cert_file: file(&s.tls_cert_file, "tlsCertFile")?,
        key_file: file(&s.tls_key_file, "tlsKeyFile")?,
        tls13_only: min == "TLS13",
        cipher_suites: crate::cli::items(&s.tls_cipher_suites),
        reload_interval: CERT_RELOAD_INTERVAL,
    }))
}

/// The server's options; registers its security metrics in `registry` and logs the
/// flags that were set (secrets masked).
pub fn web_options(
    f: &RunFlags,
    set: &[SetFlag],
    registry: &mut Registry,
) -> anyhow::Result<WebOptions> {
    let s = &f.server;
    let secrets = Secrets::new(&f.sources.secret_flags);
    flag_sources::log_flags(set, &secrets);
    let headers = ResponseHeaders::new(
        &s.header_hsts,
        &s.header_frame_options,
        &s.header_csp,
        s.disable_cors,
    )?;
    Ok(WebOptions {
        listen_addr: f.http_listen_addr.clone(),
        access: access(f)?,
        headers,
        tls: tls(f)?,
        proxy_protocol: s.use_proxy_protocol,
        keep_alive: !s.disable_keep_alive,
        expose_metadata: s.expose_metadata,
        flags_page: Arc::from(flag_sources::flags_page(set, &secrets)),
        path_prefix: f.http_path_prefix.clone(),
        external_url: f.external_url.clone().unwrap_or_default(),
        http_metrics: None,
        security_metrics: Some(web::metrics::SecurityMetrics::register(registry)),
        max_concurrent_requests: f.limits.http_max_concurrent_requests,
    })
}
