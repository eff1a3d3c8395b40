//! Asking servers over HTTP and waiting for them: readiness, JSON answers that reach a
//! state, and the alerts a real Alertmanager holds.

use std::time::{Duration, Instant};

use serde_json::Value;

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

/// The alerts named `name` in an Alertmanager `/api/v2/alerts` answer.
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

/// Whether an Alertmanager `/api/v2/alerts` answer holds an alert named `name`.
pub fn has_alert(alerts: &Value, name: &str) -> bool {
    !alerts_named(alerts, name).is_empty()
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
