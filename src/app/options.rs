//! Flags → the option structs of each component.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::RunFlags;
use crate::datasource::DatasourceOptions;
use crate::http::{
    ClientError, ClientOptions, OAuth2Options, Origin, Secret, TlsOptions, parse_headers,
    url_credentials,
};
use crate::notifier::{NotifierOptions, TargetOptions};
use crate::remote_write::RemoteWriteOptions;

/// The settings of one client from its `-<prefix>.*` flags; `get(key)` reads one flag
/// (for the notifier, the value paired with the URL at hand).
fn client_options(
    prefix: &str,
    get: &dyn Fn(&str) -> Option<String>,
    insecure_skip_verify: bool,
    idle_conn_timeout: Option<Duration>,
) -> Result<ClientOptions, ClientError> {
    let origin = Origin::flags(prefix);
    let path = |k: &str| get(k).map(PathBuf::from);
    let oauth2 = match (get("oauth2.clientID"), get("oauth2.tokenUrl")) {
        (None, None)
            if get("oauth2.clientSecret").is_none() && get("oauth2.clientSecretFile").is_none() =>
        {
            None
        }
        (id, url) => Some(OAuth2Options {
            client_id: id.unwrap_or_default(),
            client_secret: get("oauth2.clientSecret").map(Secret::new),
            client_secret_file: path("oauth2.clientSecretFile"),
            scopes: get("oauth2.scopes")
                .map(|s| s.split(';').map(|x| x.trim().to_string()).collect())
                .unwrap_or_default(),
            token_url: url.unwrap_or_default(),
            endpoint_params: match get("oauth2.endpointParams") {
                None => Vec::new(),
                Some(json) => {
                    serde_json::from_str::<std::collections::BTreeMap<String, String>>(&json)
                        .map_err(|e| ClientError::Setting {
                            setting: origin.name("oauth2.endpointParams"),
                            message: format!(
                                "not a JSON object of strings ({e}); use '{{\"name\":\"value\"}}'"
                            ),
                        })?
                        .into_iter()
                        .collect()
                }
            },
            tls: TlsOptions::default(),
        }),
    };
    Ok(ClientOptions {
        basic_auth_username: get("basicAuth.username"),
        basic_auth_username_file: path("basicAuth.usernameFile"),
        basic_auth_password: get("basicAuth.password").map(Secret::new),
        basic_auth_password_file: path("basicAuth.passwordFile"),
        bearer_token: get("bearerToken").map(Secret::new),
        bearer_token_file: path("bearerTokenFile"),
        oauth2,
        headers: match get("headers") {
            Some(h) => parse_headers(&origin.name("headers"), &h)?,
            None => Vec::new(),
        },
        tls: TlsOptions {
            ca_file: path("tlsCAFile"),
            cert_file: path("tlsCertFile"),
            key_file: path("tlsKeyFile"),
            server_name: get("tlsServerName"),
            insecure_skip_verify,
        },
        idle_conn_timeout,
        max_idle_per_host: None,
        proxy_url: None,
    })
}

/// The rule settings that come from flags (`-rule.templates` loaded by the caller).
pub fn rule_settings(
    f: &RunFlags,
    library: crate::template::SharedLibrary,
) -> crate::rule::RuleSettings {
    crate::rule::RuleSettings {
        default_interval: f.evaluation_interval,
        external_labels: crate::labels::Labels::from_pairs(f.external_label.iter().cloned()),
        external_labels_on_series: true,
        external_url: f.external_url.clone().unwrap_or_default(),
        resend_delay: f.rule_resend_delay,
        max_resolve_duration: f.rule_max_resolve_duration,
        resolved_retention: f.rule_resolved_retention,
        results_limit: f.rule_results_limit,
        eval_delay: f.rule_eval_delay,
        max_start_delay: f.group_max_start_delay,
        update_entries_limit: f.rule_update_entries_limit,
        disable_alertgroup_label: f.disable_alertgroup_label,
        library,
        alert_source: None,
        limits: f.limits.rule_limits(),
        alert_budget: (f.rule_max_active_alerts > 0)
            .then(|| crate::rule::AlertBudget::new(f.rule_max_active_alerts)),
    }
}

pub fn datasource(f: &RunFlags, url: &str) -> Result<DatasourceOptions, ClientError> {
    let a = &f.datasource_auth;
    let mut auth = client_options(
        "datasource",
        &|k| a.value(k, 0),
        a.tls_insecure_skip_verify,
        Some(f.datasource_idle_conn_timeout),
    )?;
    Ok(DatasourceOptions {
        url: url_credentials("datasource", url, &mut auth)?,
        auth,
        origin: Origin::flags("datasource"),
        query_timeout: f.datasource_query_timeout,
        lookback: f.datasource_lookback,
        query_step: f.datasource_query_step,
        disable_step: f.datasource_disable_step_param,
        round_digits: f.datasource_round_digits,
        type_prefix: f.datasource_append_type_prefix,
        max_response_size: f.limits.datasource_max_response_size,
        max_concurrent: f.limits.datasource_max_concurrent_queries,
    })
}

/// Idle connections the `-remoteRead.url` client keeps. Restores come in bursts (at
/// start-up, when a cluster member takes groups over: one query per alerting rule), up
/// to `-datasource.maxConcurrentQueries` at once; kept open afterwards, a burst's
/// connections would count against the TSDB's connection limit (Prometheus'
/// `--web.max-connections`, 512 by default) for as long as `-remoteRead.idleConnTimeout`,
/// and with a few cluster members the TSDB stops accepting the next member's queries.
/// During a burst connections are reused as queries finish; a few stay for the next.
const RESTORE_IDLE_CONNECTIONS: usize = 4;

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
    let a = &f.remote_read_auth;
    let mut auth = client_options(
        "remoteRead",
        &|k| a.value(k, 0),
        a.tls_insecure_skip_verify,
        Some(f.remote_read_idle_conn_timeout),
    )?;
    auth.max_idle_per_host = Some(RESTORE_IDLE_CONNECTIONS);
    Ok(DatasourceOptions {
        url: url_credentials("remoteRead", &url, &mut auth)?,
        auth,
        origin: Origin::flags("remoteRead"),
        query_timeout: f.datasource_query_timeout,
        lookback: std::time::Duration::ZERO,
        query_step: std::time::Duration::ZERO,
        disable_step: true,
        round_digits: 0,
        type_prefix: false,
        max_response_size: f.limits.datasource_max_response_size,
        max_concurrent: f.limits.datasource_max_concurrent_queries,
    })
}

pub fn notifier(f: &RunFlags, urls: &[String]) -> Result<NotifierOptions, ClientError> {
    let mut targets = Vec::with_capacity(urls.len());
    for (i, u) in urls.iter().enumerate() {
        let a = &f.notifier_auth;
        let mut auth = client_options(
            "notifier",
            &|k| a.value(k, i),
            a.tls_insecure_skip_verify,
            None,
        )?;
        targets.push(TargetOptions {
            url: url_credentials("notifier", u, &mut auth)?,
            auth,
        });
    }
    Ok(NotifierOptions {
        targets,
        send_timeout: f.notifier_send_timeout,
        show_url: f.notifier_show_url,
        ..NotifierOptions::default()
    })
}

pub fn remote_write(f: &RunFlags, url: &str) -> Result<RemoteWriteOptions, ClientError> {
    let a = &f.remote_write_auth;
    let mut auth = client_options(
        "remoteWrite",
        &|k| a.value(k, 0),
        a.tls_insecure_skip_verify,
        Some(f.remote_write_idle_conn_timeout),
    )?;
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
