//! Looking for secrets in everything tocsin shows: every answer of its HTTP server (the
//! API, also under `/vmalert`, each group's, rule's and alert's detail, the UI's pages,
//! `/metrics`), asked through a [`Probe`] that passes its auth, and the state checks that
//! tell when every client has failed at least once.

use std::time::{Duration, Instant};

/// Rules that make every client work: an alert that fires (notifier), one whose query
/// fails, a recording rule (remote write).
pub const RULES: &str = "groups:
- name: g
  interval: 1s
  rules:
  - alert: Firing
    expr: firing_metric
  - alert: Broken
    expr: failing_metric > 0
  - record: job:recorded
    expr: recorded_metric
";

/// How to ask one tocsin: its base URL, the client (one trusting its CA when it serves
/// TLS), its `-httpAuth.*` credentials and the `authKey` of `/metrics`.
#[derive(Clone)]
pub struct Probe {
    pub base: String,
    pub client: reqwest::Client,
    pub basic_auth: Option<(String, String)>,
    pub metrics_key: Option<String>,
}

impl Probe {
    /// A tocsin at `base` with no auth, over plain HTTP.
    pub fn plain(base: &str) -> Probe {
        Probe {
            base: base.to_string(),
            client: reqwest::Client::new(),
            basic_auth: None,
            metrics_key: None,
        }
    }

    /// The status and body of a GET of `path` with the probe's credentials (0 and
    /// empty when the request fails).
    pub async fn get_status(&self, path: &str) -> (u16, String) {
        let mut r = self.client.get(format!("{}{path}", self.base));
        if let Some((u, p)) = &self.basic_auth {
            r = r.basic_auth(u, Some(p));
        }
        match r.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    /// The body of a GET of `path` (empty on failure).
    pub async fn get(&self, path: &str) -> String {
        self.get_status(path).await.1
    }

    /// `/metrics`, with the key when one is set.
    pub async fn metrics(&self) -> String {
        match &self.metrics_key {
            Some(k) => self.get(&format!("/metrics?authKey={k}")).await,
            None => self.get("/metrics").await,
        }
    }

    /// Every answer worth searching: the API (also under `/vmalert`), each group's,
    /// rule's and alert's detail, the UI's pages, `/metrics`; `(path, status, body)`.
    pub async fn all_answers(&self) -> Vec<(String, u16, String)> {
        let mut paths: Vec<String> = [
            "/",
            "/vmalert/",
            "/api/v1/rules",
            "/api/v1/alerts",
            "/api/v1/notifiers",
            "/api/v1/status",
            "/api/v1/status/runtimeinfo",
            "/vmalert/api/v1/rules",
            "/vmalert/api/v1/notifiers",
        ]
        .map(String::from)
        .to_vec();
        let rules: serde_json::Value =
            serde_json::from_str(&self.get("/api/v1/rules").await).unwrap_or_default();
        for g in rules["data"]["groups"].as_array().into_iter().flatten() {
            let gid = g["id"].as_str().unwrap_or_default();
            paths.push(format!("/api/v1/group?group_id={gid}"));
            for r in g["rules"].as_array().into_iter().flatten() {
                let rid = r["id"].as_str().unwrap_or_default();
                paths.push(format!("/api/v1/rule?group_id={gid}&rule_id={rid}"));
                for a in r["alerts"].as_array().into_iter().flatten() {
                    let aid = a["id"].as_str().unwrap_or_default();
                    paths.push(format!("/api/v1/alert?group_id={gid}&alert_id={aid}"));
                }
            }
        }
        let mut out = Vec::new();
        for p in paths {
            let (status, body) = self.get_status(&p).await;
            out.push((p, status, body));
        }
        out.push(("/metrics".into(), 200, self.metrics().await));
        out
    }

    /// Waits until `done(rules, notifiers, metrics)` holds, or `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&str, &str, &str) -> bool,
    ) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let rules = self.get("/api/v1/rules").await;
            let notifiers = self.get("/api/v1/notifiers").await;
            let metrics = self.metrics().await;
            if done(&rules, &notifiers, &metrics) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    }
}

/// Whether the item of the JSON array at `pointer` whose `key` is `value` (any item
/// when `value` is empty) has a non-empty `lastError`.
pub fn has_error(json: &str, pointer: &str, key: &str, value: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v.pointer(pointer)
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter(|item| value.is_empty() || item[key] == value)
        .any(|item| item["lastError"].as_str().is_some_and(|e| !e.is_empty()))
}

/// The sum of the samples of the metric families starting with `name`.
pub fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `Authorization` value reqwest itself writes for basic auth (an independent
/// encoder to compare with).
pub fn basic(user: &str, password: &str) -> String {
    let r = reqwest::Client::new()
        .get("http://x")
        .basic_auth(user, Some(password))
        .build()
        .unwrap();
    r.headers()["authorization"].to_str().unwrap().to_string()
}

/// A secret unique to this run, easy to grep for.
pub fn secret(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("S3CRET{what}{nanos}")
}
