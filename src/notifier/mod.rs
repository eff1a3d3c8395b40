//! Alertmanager notifier: API v2 (`POST /api/v2/alerts`), every target in parallel,
//! a bounded queue per target that drops the *oldest* alerts when full (newer news about
//! an alert supersedes older), batches of up to `max_batch` alerts.
//!
//! A failed POST is logged and counted but not retried: the alert is sent again at its
//! next resend, and Alertmanager de-duplicates, so retrying would only delay newer news.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::http::{self, ClientError, ClientOptions, Endpoint, HttpClient, Origin};
use crate::rule::{Annotations, Notification};

/// One Alertmanager target's settings.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    /// Base URL; `/api/v2/alerts` is appended.
    pub url: String,
    pub auth: ClientOptions,
}

/// `-notifier.showURL`: show the URL's query parameters (credentials taken out of the URL
/// are never shown).
fn endpoint(url: String, show_url: bool) -> Endpoint {
    if show_url {
        Endpoint::unredacted(url)
    } else {
        Endpoint::new(url)
    }
}

/// `-notifier.*` settings.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    pub targets: Vec<TargetOptions>,
    pub send_timeout: Duration,
    /// Alerts queued per target before the oldest are dropped.
    pub queue_capacity: usize,
    /// Alerts per POST.
    pub max_batch: usize,
    /// vmalert's `-notifier.showURL`.
    pub show_url: bool,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            targets: Vec::new(),
            send_timeout: Duration::from_secs(10),
            queue_capacity: 10_000,
            max_batch: 64,
            show_url: false,
        }
    }
}

/// The `addr` label of per-target metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AddrLabel {
    pub addr: String,
}

/// Per-target counters (label `addr`).
#[derive(Clone, Default)]
pub struct NotifierMetrics {
    pub sent: Family<AddrLabel, Counter>,
    pub errors: Family<AddrLabel, Counter>,
    pub dropped: Family<AddrLabel, Counter>,
    pub queue_length: Family<AddrLabel, Gauge>,
}

impl NotifierMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_notifier_alerts_sent",
            "Alerts accepted by Alertmanager",
            self.sent.clone(),
        );
        r.register(
            "tocsin_notifier_errors",
            "Alerts in POSTs to Alertmanager that failed",
            self.errors.clone(),
        );
        r.register(
            "tocsin_notifier_alerts_dropped",
            "Alerts dropped because the target's queue was full",
            self.dropped.clone(),
        );
        r.register(
            "tocsin_notifier_queue_length",
            "Alerts waiting to be sent",
            self.queue_length.clone(),
        );
    }
}

/// Alertmanager's v2 alert, written straight from the notification when a batch is
/// encoded: queuing an alert for every target copies a few pointers, not its text.
#[derive(Debug, Clone)]
pub struct WireAlert(pub Notification);

impl From<&Notification> for WireAlert {
    fn from(n: &Notification) -> Self {
        WireAlert(n.clone())
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Annotations as a JSON object in name order (a later duplicate name wins).
struct AnnotationMap<'a>(&'a Annotations);

impl Serialize for AnnotationMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let sorted: std::collections::BTreeMap<&str, &str> = self.0.iter().collect();
        let mut m = s.serialize_map(Some(sorted.len()))?;
        for (k, v) in sorted {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for WireAlert {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = &self.0;
        let mut m = s.serialize_struct("WireAlert", 5)?;
        m.serialize_field("labels", &n.labels)?;
        m.serialize_field("annotations", &AnnotationMap(&n.annotations))?;
        m.serialize_field("startsAt", &rfc3339(n.starts_at_ms))?;
        m.serialize_field("endsAt", &rfc3339(n.ends_at_ms))?;
        m.serialize_field("generatorURL", &*n.generator_url)?;
        m.end()
    }
}

type Item = (Arc<Vec<(String, String)>>, WireAlert);

struct Target {
    url: Endpoint,
    client: HttpClient,
    queue: Mutex<VecDeque<Item>>,
    wake: Notify,
    addr: AddrLabel,
    /// Why the most recent POST failed; cleared by the next success (status page).
    last_error: Mutex<Option<String>>,
}

impl Target {
    fn set_last_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e;
        }
    }
}

/// Handle to all targets; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    targets: Arc<Vec<Arc<Target>>>,
    opts: Arc<NotifierOptions>,
    metrics: NotifierMetrics,
}

/// What the status page shows per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub url: String,
    pub sent: u64,
    pub errors: u64,
    pub dropped: u64,
    pub queued: usize,
    /// Why the most recent POST failed, if it did.
    pub last_error: Option<String>,
}

impl Notifier {
    /// Builds a client per target and starts one sender task per target.
    pub fn start(
        opts: NotifierOptions,
        metrics: NotifierMetrics,
        cancel: CancellationToken,
    ) -> Result<Notifier, ClientError> {
        let mut targets = Vec::new();
        for t in &opts.targets {
            let client = HttpClient::new(&Origin::flags("notifier"), &t.auth, opts.send_timeout)?;
            let url = endpoint(http::join_path(&t.url, "/api/v2/alerts"), opts.show_url);
            targets.push(Arc::new(Target {
                addr: AddrLabel {
                    addr: url.shown.clone(),
                },
                url,
                client,
                queue: Mutex::new(VecDeque::new()),
                last_error: Mutex::new(None),
                wake: Notify::new(),
            }));
        }
        let n = Notifier {
            targets: Arc::new(targets),
            opts: Arc::new(opts),
            metrics,
        };
        for t in n.targets.iter() {
            // Every target's series exist from the start at 0, so that the first error
            // or drop is an increase that `increase()`-based alerts can see.
            let m = &n.metrics;
            let _ = m.sent.get_or_create(&t.addr);
            let _ = m.errors.get_or_create(&t.addr);
            let _ = m.dropped.get_or_create(&t.addr);
            let _ = m.queue_length.get_or_create(&t.addr);
            let me = n.clone();
            let t = t.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move { me.sender(t, cancel).await });
        }
        Ok(n)
    }

    /// True when at least one target is configured.
    pub fn is_enabled(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Queues alerts for every target; never blocks.
    pub fn send(&self, alerts: &[Notification], headers: &[(String, String)]) {
        if alerts.is_empty() || self.targets.is_empty() {
            return;
        }
        let headers = Arc::new(headers.to_vec());
        let wire: Vec<WireAlert> = alerts.iter().map(WireAlert::from).collect();
        for t in self.targets.iter() {
            let (len, dropped) = {
                let Ok(mut q) = t.queue.lock() else { continue };
                q.extend(wire.iter().map(|a| (headers.clone(), a.clone())));
                let over = q.len().saturating_sub(self.opts.queue_capacity);
                q.drain(..over);
                (q.len(), over)
            };
            if dropped > 0 {
                self.metrics
                    .dropped
                    .get_or_create(&t.addr)
                    .inc_by(dropped as u64);
                tracing::warn!(target = %t.url, dropped, "notifier queue full: dropped the oldest alerts");
            }
            self.metrics
                .queue_length
                .get_or_create(&t.addr)
                .set(len as i64);
            t.wake.notify_one();
        }
    }

    /// Sends what is queued on every target, until `deadline`; returns alerts left.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> usize {
        let mut left = 0;
        for t in self.targets.iter() {
            loop {
                let batch = self.take_batch(t);
                if batch.is_empty() {
                    break;
                }
                let n = batch.len();
                if tokio::time::timeout_at(deadline, self.post(t, batch))
                    .await
                    .is_err()
                {
                    left += n + t.queue.lock().map(|q| q.len()).unwrap_or(0);
                    break;
                }
            }
        }
        left
    }

    /// Per-target counters for the status page.
    pub fn status(&self) -> Vec<TargetStatus> {
        self.targets
            .iter()
            .map(|t| TargetStatus {
                url: t.url.shown.clone(),
                sent: self.metrics.sent.get_or_create(&t.addr).get(),
                errors: self.metrics.errors.get_or_create(&t.addr).get(),
                dropped: self.metrics.dropped.get_or_create(&t.addr).get(),
                queued: t.queue.lock().map(|q| q.len()).unwrap_or(0),
                last_error: t.last_error.lock().ok().and_then(|e| e.clone()),
            })
            .collect()
    }

    /// Up to `max_batch` queued alerts sharing the first alert's header set.
    fn take_batch(&self, t: &Target) -> Vec<Item> {
        let Ok(mut q) = t.queue.lock() else {
            return Vec::new();
        };
        let Some(first) = q.front().map(|(h, _)| h.clone()) else {
            return Vec::new();
        };
        let mut n = 0;
        while n < q.len() && n < self.opts.max_batch && q[n].0 == first {
            n += 1;
        }
        let batch = q.drain(..n).collect();
        self.metrics
            .queue_length
            .get_or_create(&t.addr)
            .set(q.len() as i64);
        batch
    }

    async fn sender(self, t: Arc<Target>, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = t.wake.notified() => {}
            }
            loop {
                let batch = self.take_batch(&t);
                if batch.is_empty() {
                    break;
                }
                self.post(&t, batch).await;
            }
        }
    }

    async fn post(&self, t: &Target, batch: Vec<Item>) {
        let headers = batch[0].0.clone();
        let alerts: Vec<&WireAlert> = batch.iter().map(|(_, a)| a).collect();
        let n = alerts.len() as u64;
        let body = match serde_json::to_vec(&alerts) {
            Ok(b) => b,
            Err(e) => {
                self.metrics.errors.get_or_create(&t.addr).inc_by(n);
                tracing::error!(target = %t.url, "cannot encode {n} alerts: {e}");
                t.set_last_error(Some(format!("cannot encode {n} alerts: {e}")));
                return;
            }
        };
        let mut req = match t.client.post(&t.url.url).await {
            Ok(r) => r.header("Content-Type", "application/json").body(body),
            Err(e) => {
                self.metrics.errors.get_or_create(&t.addr).inc_by(n);
                tracing::error!(target = %t.url, "cannot send {n} alerts: {e}");
                t.set_last_error(Some(format!("cannot send {n} alerts: {e}")));
                return;
            }
        };
        if let Ok(h) = http::header_map(&headers) {
            req = req.headers(h);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                self.metrics.sent.get_or_create(&t.addr).inc_by(n);
                t.set_last_error(None);
            }
            Ok(r) => {
                let status = r.status();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                self.metrics.errors.get_or_create(&t.addr).inc_by(n);
                tracing::error!(target = %t.url, %status, "Alertmanager rejected {n} alerts: {body}");
                t.set_last_error(Some(format!("Alertmanager answered {status}: {body}")));
            }
            Err(e) => {
                self.metrics.errors.get_or_create(&t.addr).inc_by(n);
                let e = http::error_chain(&e);
                tracing::error!(target = %t.url, "cannot send {n} alerts: {e}");
                t.set_last_error(Some(format!("cannot send {n} alerts: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn wire_format_matches_alertmanager_v2() {
        let n = Notification {
            labels: Labels::from_pairs([("alertname", "A")]),
            annotations: Annotations::new(vec![("summary".into(), "s".into())]),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: 1_700_000_240_500,
            generator_url: "http://x/graph".into(),
        };
        let j = serde_json::to_string(&WireAlert::from(&n)).unwrap();
        assert_eq!(
            j,
            r#"{"labels":{"alertname":"A"},"annotations":{"summary":"s"},"startsAt":"2023-11-14T22:13:20.000Z","endsAt":"2023-11-14T22:17:20.500Z","generatorURL":"http://x/graph"}"#
        );
    }
}
