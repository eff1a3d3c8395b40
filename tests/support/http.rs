//! Asking servers over HTTP and waiting for them: readiness, JSON answers that reach a
//! state, the alerts a real Alertmanager holds, and samples written by remote write.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tocsin::labels::Labels;
use tocsin::remote_write::proto;
use tocsin::sample::Sample;

/// Polls `url` until it answers 2xx or `timeout` passes; whether it did.
pub async fn wait_ok(url: &str, timeout: Duration) -> bool {
    let client = reqwest::Client::new();
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// GETs `url` until its JSON satisfies `done`; returns that JSON, or `None` after
/// `timeout`.
pub async fn poll_json(
    url: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(url).await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && done(&v)
        {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GETs `url` and parses the body as JSON; returns the status and the body.
pub async fn get_json(url: &str) -> (u16, Value) {
    let resp = reqwest::get(url).await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

/// POSTs `form` to `url`; returns the status and the body as JSON (a body that is not
/// JSON as a JSON string).
pub async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// The alerts named `name` in an Alertmanager `/api/v2/alerts` answer, or in the alerts
/// [`poll_tocsin_alerts`] returns.
pub fn alerts_named<'a>(alerts: &'a Value, name: &str) -> Vec<&'a Value> {
    alerts
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["labels"]["alertname"] == name)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether an Alertmanager `/api/v2/alerts` answer (or tocsin's alerts) holds an alert
/// named `name`.
pub fn has_alert(alerts: &Value, name: &str) -> bool {
    !alerts_named(alerts, name).is_empty()
}

/// Polls the `/api/v1/alerts` of the tocsin at `url` until its alerts (`data.alerts`,
/// an array) satisfy `done`; returns that array, or `None` after `timeout`.
pub async fn poll_tocsin_alerts(
    url: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let answer = poll_json(&format!("{url}/api/v1/alerts"), timeout, |v| {
        done(&v["data"]["alerts"])
    })
    .await;
    answer.map(|mut v| v["data"]["alerts"].take())
}

/// Polls the Alertmanager at `am_url` until its active alerts (`/api/v2/alerts`) satisfy
/// `done`; returns them, or `None` after `timeout`.
pub async fn poll_alertmanager(
    am_url: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Option<Value> {
    poll_json(&format!("{am_url}/api/v2/alerts"), timeout, done).await
}

/// Asks the VictoriaMetrics at `vm_url` to make every sample it has ingested searchable
/// now (`/internal/force_flush`) instead of at its next in-memory flush, seconds later.
pub async fn force_flush_victoria_metrics(vm_url: &str) {
    let r = reqwest::get(format!("{vm_url}/internal/force_flush"))
        .await
        .expect("victoria-metrics answers /internal/force_flush");
    assert!(r.status().is_success(), "force_flush: {}", r.status());
}

/// Queries the VictoriaMetrics at `vm_url` (`/api/v1/query?query=…`), flushing what it
/// ingested before each try, until the answer satisfies `done`; returns it, or `None`
/// after `timeout`.
pub async fn poll_victoria_metrics(
    vm_url: &str,
    query: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let start = Instant::now();
    let url = format!("{vm_url}/api/v1/query?query={query}");
    loop {
        force_flush_victoria_metrics(vm_url).await;
        if let Some(v) = poll_json(&url, Duration::ZERO, &done).await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes one sample of `name{labels}`, stamped now, into the remote-write receiver at
/// `url` (Prometheus with `--web.enable-remote-write-receiver`, VictoriaMetrics).
pub async fn push(url: &str, name: &str, labels: &[(&str, &str)], value: f64) {
    let mut pairs = vec![("__name__", name)];
    pairs.extend_from_slice(labels);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = proto::encode(&[Sample {
        labels: Labels::from_pairs(pairs),
        value,
        timestamp_ms: now_ms,
    }]);
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("remote write reaches the receiver");
    assert!(r.status().is_success(), "remote write: {}", r.status());
}

/// `POST <base>/-/reload`: the status and the body.
pub async fn post_reload(base: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Waits until the first alert of `base`'s `/api/v1/alerts` has the annotation
/// `summary` = `want`; panics with the last answer and `log` if it never does.
pub async fn summary_becomes(base: &str, want: &str, log: &super::peers::ChildGuard) {
    let url = format!("{base}/api/v1/alerts");
    let summary = |v: &Value| v["data"]["alerts"][0]["annotations"]["summary"].clone();
    let seen = poll_json(&url, Duration::from_secs(30), |v| summary(v) == want).await;
    if seen.is_none() {
        let (_, v) = get_json(&url).await;
        panic!(
            "{base}: summary never became {want:?}: {v}\n{}",
            log.log_tail(20)
        );
    }
}
