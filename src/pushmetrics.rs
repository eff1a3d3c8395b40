//! `-pushmetrics.*`: pushes tocsin's own `/metrics` to one or more URLs every
//! `-pushmetrics.interval`, for setups where nothing scrapes tocsin (behind the PROXY
//! protocol, in a short-lived job, across a firewall).
//!
//! The request is the one VictoriaMetrics' `lib/pushmetrics` (1.145) sends, so that
//! endpoints receiving vmalert's pushes take tocsin's unchanged: the method is GET,
//! `Content-Type: text/plain`, the Prometheus text exposition in the body, gzipped with
//! `Content-Encoding: gzip` unless `-pushmetrics.disableCompression`, with every
//! `-pushmetrics.extraLabel` added to every sample and every `-pushmetrics.header` sent.
//! VictoriaMetrics takes it at `/api/v1/import/prometheus`.
//!
//! Headers carry tokens and URLs may carry `user:password@`: both are secret flags
//! (shown as `secret` on `/flags` and in the start-up log), credentials in a URL travel
//! as basic auth, and logs and `/metrics` name each URL redacted.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{parse_go_duration, parse_header};
use crate::http::{ClientError, ClientOptions, Endpoint, HttpClient, Origin};

/// The `-pushmetrics.*` flags.
#[derive(Debug, Args, Clone)]
pub struct PushFlags {
    /// Push tocsin's own `/metrics` (Prometheus text format) to this URL every
    /// -pushmetrics.interval, as vmalert does; repeatable. For VictoriaMetrics:
    /// `http://host:8428/api/v1/import/prometheus`. Secret: shown as `secret`.
    #[arg(long = "pushmetrics.url", value_name = "URL")]
    pub url: Vec<String>,
    /// How often metrics are pushed to every -pushmetrics.url.
    #[arg(long = "pushmetrics.interval", default_value = "10s", value_parser = parse_go_duration)]
    pub interval: Duration,
    /// `name="value"` label added to every pushed sample; repeatable.
    #[arg(long = "pushmetrics.extraLabel", value_name = "NAME=\"VALUE\"",
          value_parser = parse_extra_label)]
    pub extra_label: Vec<String>,
    /// `Name: value` HTTP header sent with every push; repeatable. Secret: shown as
    /// `secret`.
    #[arg(long = "pushmetrics.header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub header: Vec<String>,
    /// Send the pushed metrics uncompressed (they are gzipped by default).
    #[arg(long = "pushmetrics.disableCompression", default_value = "false",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub disable_compression: bool,
}

/// Checks one `-pushmetrics.extraLabel`: `name="value"`, the value a double-quoted
/// string with backslash escapes, as VictoriaMetrics checks it.
pub fn parse_extra_label(s: &str) -> Result<String, String> {
    let bad = || {
        Err(format!(
            "invalid label {s:?}: use name=\"value\", like instance=\"a\""
        ))
    };
    let Some((name, value)) = s.split_once('=') else {
        return bad();
    };
    let mut chars = name.chars();
    let name_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return bad();
    };
    // An unescaped quote inside would end the value early.
    let mut escaped = false;
    for c in inner.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '"') | (_, '\n') => return bad(),
            _ => escaped = false,
        }
    }
    if !name_ok || escaped {
        return bad();
    }
    Ok(s.to_string())
}

/// Why pushing could not be set up: names the flag.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("-pushmetrics.url {url}: {message}")]
    Url { url: String, message: String },
    #[error("-pushmetrics.interval must be positive")]
    Interval,
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Pushes and failed pushes by URL (redacted), as vmalert's `metrics_push_total` and
/// `metrics_push_errors_total`.
#[derive(Clone, Debug, Default)]
pub struct PushMetrics {
    pushes: Family<[(&'static str, String); 1], Counter>,
    errors: Family<[(&'static str, String); 1], Counter>,
}

impl PushMetrics {
    /// Registers `tocsin_pushmetrics_pushes_total{url}` and
    /// `tocsin_pushmetrics_errors_total{url}`.
    pub fn register(registry: &mut Registry) -> PushMetrics {
        let m = PushMetrics::default();
        registry.register(
            "tocsin_pushmetrics_pushes",
            "Pushes of tocsin's metrics to -pushmetrics.url, by URL.",
            m.pushes.clone(),
        );
        registry.register(
            "tocsin_pushmetrics_errors",
            "Pushes of tocsin's metrics to -pushmetrics.url that failed, by URL.",
            m.errors.clone(),
        );
        m
    }
}

/// One push destination.
struct Target {
    client: HttpClient,
    endpoint: Endpoint,
    interval: Duration,
    extra_labels: String,
    compress: bool,
}

/// Renders the metrics text to push.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Starts one pushing task per `-pushmetrics.url`; they stop when `cancel` fires.
/// Fails, before anything runs, on a malformed URL.
pub fn start(
    flags: &PushFlags,
    render: Render,
    metrics: PushMetrics,
    cancel: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>, PushError> {
    let urls = crate::cli::items(&flags.url);
    if !urls.is_empty() && flags.interval.is_zero() {
        return Err(PushError::Interval);
    }
    let headers = flags
        .header
        .iter()
        .map(|h| crate::http::parse_headers("-pushmetrics.header", h))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let mut tasks = Vec::new();
    for url in urls {
        let target = target(&url, flags, headers.clone())?;
        tracing::info!(url = %target.endpoint, interval = ?flags.interval, "pushing metrics");
        tasks.push(tokio::spawn(run(
            target,
            render.clone(),
            metrics.clone(),
            cancel.clone(),
        )));
    }
    Ok(tasks)
}

fn target(
    url: &str,
    flags: &PushFlags,
    headers: Vec<(String, String)>,
) -> Result<Target, PushError> {
    let shown = crate::http::redact_url(url);
    let bad = |message: &str| PushError::Url {
        url: shown.clone(),
        message: message.to_string(),
    };
    let rest = (url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://")))
    .ok_or_else(|| bad("unsupported scheme: use http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.rsplit('@').next().unwrap_or("").is_empty() {
        return Err(bad("the host is missing"));
    }
    let mut auth = ClientOptions {
        headers,
        ..ClientOptions::default()
    };
    let clean = crate::http::url_credentials("pushmetrics", url, &mut auth)?;
    // As vmalert: a push may take up to the interval (and a second) before it is given up.
    let timeout = flags.interval + Duration::from_secs(1);
    Ok(Target {
        client: HttpClient::new(&Origin::flags("pushmetrics"), &auth, timeout)?,
        endpoint: Endpoint::shown_as(shown, clean),
        interval: flags.interval,
        extra_labels: flags.extra_label.join(","),
        compress: !flags.disable_compression,
    })
}

async fn run(t: Target, render: Render, metrics: PushMetrics, cancel: CancellationToken) {
    let start = tokio::time::Instant::now() + t.interval;
    let mut tick = tokio::time::interval_at(start, t.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let key = [("url", t.endpoint.shown.clone())];
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        metrics.pushes.get_or_create(&key).inc();
        let text = render();
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = push(&t, &text) => r,
        };
        if let Err(e) = result {
            metrics.errors.get_or_create(&key).inc();
            tracing::error!(url = %t.endpoint, error = %e, "cannot push metrics");
        }
    }
}

/// One push of `text`; the error says what the endpoint did (redacted).
async fn push(t: &Target, text: &str) -> Result<(), String> {
    let text = if t.extra_labels.is_empty() {
        text.to_string()
    } else {
        add_labels(text, &t.extra_labels)
    };
    let mut req = (t.client.get(&t.endpoint.url).await)
        .map_err(|e| e.to_string())?
        .header("Content-Type", "text/plain");
    let body = if t.compress {
        req = req.header("Content-Encoding", "gzip");
        gzip(text.as_bytes())
    } else {
        text.into_bytes()
    };
    let resp = (req.body(body).send().await).map_err(|e| crate::http::error_chain(&e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(512).collect();
    Err(crate::http::redact_text(&format!(
        "unexpected status {status} (expected 2xx); response: {body:?}"
    )))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Adds `labels` (`a="x",b="y"`) to every sample line of a Prometheus text exposition:
/// first in the label set, or as the label set of a sample without one. Comments and
/// `# EOF` stay as they are; empty lines are dropped.
pub fn add_labels(text: &str, labels: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            out.push_str(line);
        } else if let Some(open) = line
            .find(['{', ' '])
            .filter(|&i| line[i..].starts_with('{'))
        {
            let (head, rest) = line.split_at(open + 1);
            let sep = if rest.starts_with('}') { "" } else { "," };
            out.push_str(&format!("{head}{labels}{sep}{rest}"));
        } else {
            let (name, rest) = line.split_at(line.find(' ').unwrap_or(line.len()));
            out.push_str(&format!("{name}{{{labels}}}{rest}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_labels_go_into_every_sample() {
        let text =
            "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\nb{x=\"1\"} 2\nc{} 1\n# EOF\n";
        assert_eq!(
            add_labels(text, "job=\"t\",dc=\"eu\""),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{job=\"t\",dc=\"eu\"} 3\nb{job=\"t\",dc=\"eu\",x=\"1\"} 2\nc{job=\"t\",dc=\"eu\"} 1\n# EOF\n"
        );
    }

    #[test]
    fn extra_labels_are_checked_as_victoria_metrics_checks_them() {
        for ok in ["instance=\"a\"", "_x=\"\"", "a=\"q\\\"uote\""] {
            assert_eq!(parse_extra_label(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "instance",
            "instance=a",
            "1a=\"x\"",
            "a=\"x",
            "a=\"x\"y\"",
            "a=\"x\\\"",
        ] {
            let e = parse_extra_label(bad).unwrap_err();
            assert!(e.contains("use name=\"value\""), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_urls_are_refused_redacted_and_naming_the_flag() {
        let flags = PushFlags {
            url: vec![],
            interval: Duration::from_secs(10),
            extra_label: vec![],
            header: vec![],
            disable_compression: false,
        };
        for (url, what) in [
            ("ftp://u:pw@h/x", "unsupported scheme"),
            ("http://u:pw@/x", "host is missing"),
        ] {
            let e = target(url, &flags, vec![]).err().unwrap().to_string();
            assert!(
                e.starts_with("-pushmetrics.url ") && e.contains(what),
                "{e}"
            );
            assert!(!e.contains("pw"), "{e}");
        }
    }
}
