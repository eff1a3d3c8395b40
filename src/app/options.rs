//! Flags → the option structs of each component.

use std::path::PathBuf;

use crate::cli::{DatasourceAuth, NotifierAuth, RemoteReadAuth, RemoteWriteAuth, RunFlags};
use crate::datasource::DatasourceOptions;
use crate::http::{AuthOptions, ClientError, parse_headers, url_credentials};
use crate::notifier::{NotifierOptions, TargetOptions};
use crate::remote_write::RemoteWriteOptions;

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|v| !v.is_empty())
}

fn path(s: &Option<String>) -> Option<PathBuf> {
    non_empty(s).map(PathBuf::from)
}

macro_rules! single_auth {
    ($fn:ident, $t:ty) => {
        fn $fn(a: &$t) -> Result<AuthOptions, ClientError> {
            Ok(AuthOptions {
                basic_auth_username: non_empty(&a.basic_auth_username),
                basic_auth_password: non_empty(&a.basic_auth_password),
                basic_auth_password_file: path(&a.basic_auth_password_file),
                bearer_token: non_empty(&a.bearer_token),
                bearer_token_file: path(&a.bearer_token_file),
                headers: match &a.headers {
                    Some(h) => parse_headers(h)?,
                    None => Vec::new(),
                },
                tls_ca_file: path(&a.tls_ca_file),
                tls_cert_file: path(&a.tls_cert_file),
                tls_key_file: path(&a.tls_key_file),
                tls_server_name: non_empty(&a.tls_server_name),
                tls_insecure_skip_verify: a.tls_insecure_skip_verify,
            })
        }
    };
}

single_auth!(datasource_auth, DatasourceAuth);
single_auth!(remote_write_auth, RemoteWriteAuth);
single_auth!(remote_read_auth, RemoteReadAuth);

/// vmalert pairs the i-th value of each `-notifier.*` list with the i-th `-notifier.url`.
fn notifier_auth(a: &NotifierAuth, i: usize) -> Result<AuthOptions, ClientError> {
    let at = |v: &Vec<String>| v.get(i).cloned().filter(|s| !s.is_empty());
    Ok(AuthOptions {
        basic_auth_username: at(&a.basic_auth_username),
        basic_auth_password: at(&a.basic_auth_password),
        basic_auth_password_file: at(&a.basic_auth_password_file).map(PathBuf::from),
        bearer_token: at(&a.bearer_token),
        bearer_token_file: at(&a.bearer_token_file).map(PathBuf::from),
        headers: match at(&a.headers) {
            Some(h) => parse_headers(&h)?,
            None => Vec::new(),
        },
        tls_ca_file: at(&a.tls_ca_file).map(PathBuf::from),
        tls_cert_file: at(&a.tls_cert_file).map(PathBuf::from),
        tls_key_file: at(&a.tls_key_file).map(PathBuf::from),
        tls_server_name: at(&a.tls_server_name),
        tls_insecure_skip_verify: a.tls_insecure_skip_verify,
    })
}

/// The rule settings that come from flags (`-rule.templates` loaded by the caller).
pub fn rule_settings(
    f: &RunFlags,
    library: Option<std::sync::Arc<crate::template::Library>>,
) -> crate::rule::RuleSettings {
    crate::rule::RuleSettings {
        default_interval: f.evaluation_interval,
        external_labels: crate::labels::Labels::from_pairs(f.external_label.iter().cloned()),
        external_url: f.external_url.clone().unwrap_or_default(),
        resend_delay: f.rule_resend_delay,
        max_resolve_duration: f.rule_max_resolve_duration,
        resolved_retention: f.rule_resolved_retention,
        disable_alertgroup_label: f.disable_alertgroup_label,
        library,
        limits: f.limits.rule_limits(),
    }
}

pub fn datasource(f: &RunFlags, url: &str) -> Result<DatasourceOptions, ClientError> {
    let mut auth = datasource_auth(&f.datasource_auth)?;
    Ok(DatasourceOptions {
        url: url_credentials("datasource", url, &mut auth)?,
        auth,
        query_timeout: f.datasource_query_timeout,
        lookback: f.datasource_lookback,
        query_step: f.datasource_query_step,
        max_response_size: f.limits.datasource_max_response_size,
        max_concurrent: f.limits.datasource_max_concurrent_queries,
    })
}

/// With `-remoteRead.disablePathAppend` the URL already ends in the query path; the
/// client appends `/api/v1/query` itself, so the path is taken off here once.
pub fn remote_read(f: &RunFlags, url: &str) -> Result<DatasourceOptions, ClientError> {
    let url = if f.remote_read_disable_path_append {
        let split = url.find(['?', '#']).unwrap_or(url.len());
        let (path, query) = url.split_at(split);
        let path = path.trim_end_matches('/');
        format!(
            "{}{query}",
            path.strip_suffix("/api/v1/query").unwrap_or(path)
        )
    } else {
        url.to_string()
    };
    let mut auth = remote_read_auth(&f.remote_read_auth)?;
    Ok(DatasourceOptions {
        url: url_credentials("remoteRead", &url, &mut auth)?,
        auth,
        query_timeout: f.datasource_query_timeout,
        lookback: std::time::Duration::ZERO,
        query_step: std::time::Duration::ZERO,
        max_response_size: f.limits.datasource_max_response_size,
        max_concurrent: f.limits.datasource_max_concurrent_queries,
    })
}

pub fn notifier(f: &RunFlags, urls: &[String]) -> Result<NotifierOptions, ClientError> {
    let mut targets = Vec::with_capacity(urls.len());
    for (i, u) in urls.iter().enumerate() {
        let mut auth = notifier_auth(&f.notifier_auth, i)?;
        targets.push(TargetOptions {
            url: url_credentials("notifier", u, &mut auth)?,
            auth,
        });
    }
    Ok(NotifierOptions {
        targets,
        send_timeout: f.notifier_send_timeout,
        ..NotifierOptions::default()
    })
}

pub fn remote_write(f: &RunFlags, url: &str) -> Result<RemoteWriteOptions, ClientError> {
    let mut auth = remote_write_auth(&f.remote_write_auth)?;
    Ok(RemoteWriteOptions {
        url: url_credentials("remoteWrite", url, &mut auth)?,
        disable_path_append: f.remote_write_disable_path_append,
        auth,
        max_queue_size: f.remote_write_max_queue_size,
        max_batch_size: f.remote_write_max_batch_size.max(1),
        concurrency: f.remote_write_concurrency.max(1),
        flush_interval: f.remote_write_flush_interval,
        send_timeout: f.remote_write_send_timeout,
        retry_min_interval: f.remote_write_retry_min_interval,
        retry_max_time: f.remote_write_retry_max_time,
    })
}
