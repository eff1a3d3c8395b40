//! Alertmanager notifier: API v2 (`POST /api/v2/alerts`), every target in parallel,
//! a bounded queue per target that drops the *oldest* alerts when full (newer news about
//! an alert supersedes older), batches of up to `max_batch` alerts.
//!
//! The targets come from `-notifier.url` (fixed), from `-notifier.config` (static
//! groups and service discovery, replaced as discovery refreshes and the file is
//! reloaded: [`Notifier::set_targets`]) or are a blackhole (`-notifier.blackhole`).
//! Alerts are relabelled (`alert_relabel_configs`: the file's, then the target group's)
//! before they are queued.
//!
//! A failed POST is logged and counted but not retried: the alert is sent again at its
//! next resend, and Alertmanager de-duplicates, so retrying would only delay newer news.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::http::{self, ClientError, ClientOptions, Endpoint, HttpClient, Origin};
use crate::labels::Labels;
use crate::relabel::{self, Relabel};
use crate::rule::Notification;

pub mod config;
pub mod discovery;
mod metrics;
mod send;
pub mod targets;
mod wire;

pub use metrics::{AddrLabel, NotifierMetrics};
pub use wire::WireAlert;

/// One `-notifier.url` target's settings.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    /// Base URL; `/api/v2/alerts` is appended.
    pub url: String,
    pub auth: ClientOptions,
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

/// Where a target comes from (vmalert's names, shown as `kind` in `/api/v1/notifiers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `-notifier.url` or the config's `static_configs`.
    Static,
    /// `dns_sd_configs`.
    Dns,
    /// `consul_sd_configs`.
    Consul,
    /// `-notifier.blackhole`.
    Blackhole,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Dns => "DNSSD",
            Kind::Consul => "consulSD",
            Kind::Blackhole => "blackhole",
        }
    }
}

/// A target to send to, as the flags or the config describe it.
#[derive(Clone)]
pub struct TargetSpec {
    /// The full URL alerts are POSTed to.
    pub url: String,
    pub kind: Kind,
    /// The target's labels after `relabel_configs` (shown in the API).
    pub labels: Labels,
    /// `None` for the blackhole.
    pub client: Option<HttpClient>,
    /// The target group's `alert_relabel_configs`.
    pub alert_relabel: Arc<Vec<Relabel>>,
}

type Item = (Arc<Vec<(String, String)>>, WireAlert);

struct Target {
    spec: TargetSpec,
    /// Which config the target belongs to: a reloaded config makes new targets even
    /// where the URL is the same, since its client settings may differ.
    generation: u64,
    url: Endpoint,
    queue: Mutex<VecDeque<Item>>,
    wake: Notify,
    addr: AddrLabel,
    /// Why the most recent POST failed; cleared by the next success (status page).
    last_error: Mutex<Option<String>>,
    /// Stops this target's sender when it is removed.
    cancel: CancellationToken,
}

impl Target {
    fn set_last_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e;
        }
    }

    fn queued(&self) -> usize {
        self.queue.lock().map(|q| q.len()).unwrap_or(0)
    }
}

struct Shared {
    targets: RwLock<Arc<Vec<Arc<Target>>>>,
    /// The config's top-level `alert_relabel_configs`.
    alert_relabel: RwLock<Arc<Vec<Relabel>>>,
    cancel: CancellationToken,
}

/// Handle to all targets; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    opts: Arc<NotifierOptions>,
    metrics: NotifierMetrics,
}

/// What the status page shows per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub url: String,
    pub kind: Kind,
    pub labels: Labels,
    pub sent: u64,
    pub errors: u64,
    pub dropped: u64,
    pub queued: usize,
    /// Why the most recent POST failed, if it did.
    pub last_error: Option<String>,
}

impl Notifier {
    /// A notifier without targets yet ([`Notifier::set_targets`] gives them).
    pub fn new(opts: NotifierOptions, metrics: NotifierMetrics, cancel: CancellationToken) -> Self {
        Notifier {
            shared: Arc::new(Shared {
                targets: RwLock::new(Arc::new(Vec::new())),
                alert_relabel: RwLock::new(Arc::new(Vec::new())),
                cancel,
            }),
            opts: Arc::new(opts),
            metrics,
        }
    }

    /// The `-notifier.url` targets: builds a client per target and starts its sender.
    pub fn start(
        opts: NotifierOptions,
        metrics: NotifierMetrics,
        cancel: CancellationToken,
    ) -> Result<Notifier, ClientError> {
        let mut specs = Vec::new();
        for t in &opts.targets {
            let client = HttpClient::new(&Origin::flags("notifier"), &t.auth, opts.send_timeout)?;
            specs.push(TargetSpec {
                url: http::join_path(&t.url, "/api/v2/alerts"),
                kind: Kind::Static,
                labels: Labels::empty(),
                client: Some(client),
                alert_relabel: Arc::new(Vec::new()),
            });
        }
        let n = Notifier::new(opts, metrics, cancel);
        n.set_targets(0, specs);
        Ok(n)
    }

    /// `-notifier.blackhole`: alerts are counted as sent and go nowhere.
    pub fn blackhole(metrics: NotifierMetrics, cancel: CancellationToken) -> Notifier {
        let n = Notifier::new(NotifierOptions::default(), metrics, cancel);
        n.set_targets(
            0,
            vec![TargetSpec {
                url: "blackhole".into(),
                kind: Kind::Blackhole,
                labels: Labels::empty(),
                client: None,
                alert_relabel: Arc::new(Vec::new()),
            }],
        );
        n
    }

    /// Replaces the targets: those of the same `generation` and URL keep their queue,
    /// counters and sender; the others start; targets no longer listed stop.
    pub fn set_targets(&self, generation: u64, specs: Vec<TargetSpec>) {
        self.replace_targets(generation, specs, None);
    }

    /// [`Notifier::set_targets`], unless `stop` fired (checked under the lock, so that a
    /// stopped discovery never overwrites its successor's targets).
    pub fn replace_targets(
        &self,
        generation: u64,
        specs: Vec<TargetSpec>,
        stop: Option<&CancellationToken>,
    ) {
        let Ok(mut current) = self.shared.targets.write() else {
            return;
        };
        if stop.is_some_and(|s| s.is_cancelled()) {
            return;
        }
        let old = current.clone();
        let mut next = Vec::with_capacity(specs.len());
        for spec in specs {
            let kept = old
                .iter()
                .find(|t| t.generation == generation && t.spec.url == spec.url);
            match kept {
                Some(t) => next.push(t.clone()),
                None => next.push(self.start_target(generation, spec)),
            }
        }
        for t in old.iter() {
            if !next.iter().any(|n| Arc::ptr_eq(n, t)) {
                self.stop_target(t, next.iter().any(|n| n.addr == t.addr));
            }
        }
        self.metrics.count_targets(next.iter().map(|t| t.spec.kind));
        *current = Arc::new(next);
    }

    /// The config's top-level `alert_relabel_configs`, applied to every alert first.
    pub fn set_alert_relabel(&self, steps: Arc<Vec<Relabel>>) {
        if let Ok(mut g) = self.shared.alert_relabel.write() {
            *g = steps;
        }
    }

    fn start_target(&self, generation: u64, spec: TargetSpec) -> Arc<Target> {
        let url = if self.opts.show_url {
            Endpoint::unredacted(spec.url.clone())
        } else {
            Endpoint::new(spec.url.clone())
        };
        let t = Arc::new(Target {
            generation,
            addr: AddrLabel {
                addr: url.shown.clone(),
            },
            url,
            spec,
            queue: Mutex::new(VecDeque::new()),
            last_error: Mutex::new(None),
            wake: Notify::new(),
            cancel: self.shared.cancel.child_token(),
        });
        // Every target's series exist from the start at 0, so that the first error or
        // drop is an increase that `increase()`-based alerts can see.
        self.metrics.touch(&t.addr);
        let me = self.clone();
        let sender = t.clone();
        tokio::spawn(async move { me.sender(sender).await });
        t
    }

    fn stop_target(&self, t: &Target, addr_still_used: bool) {
        t.cancel.cancel();
        let left = t.queued();
        if left > 0 {
            tracing::warn!(target = %t.url, left, "notifier target removed with alerts queued; they go out again at their next resend");
        }
        if !addr_still_used {
            self.metrics.forget(&t.addr);
        }
    }

    /// The current targets.
    fn targets(&self) -> Arc<Vec<Arc<Target>>> {
        self.shared
            .targets
            .read()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// True when at least one target is configured.
    pub fn is_enabled(&self) -> bool {
        !self.targets().is_empty()
    }

    /// Relabels the alerts and queues them for every target; never blocks.
    pub fn send(&self, alerts: &[Notification], headers: &[(String, String)]) {
        let targets = self.targets();
        if alerts.is_empty() || targets.is_empty() {
            return;
        }
        let global = self
            .shared
            .alert_relabel
            .read()
            .map(|g| g.clone())
            .unwrap_or_default();
        let alerts: Vec<Notification> = alerts
            .iter()
            .filter_map(|a| relabelled(&global, a))
            .collect();
        let headers = Arc::new(headers.to_vec());
        for t in targets.iter() {
            let wire: Vec<WireAlert> = alerts
                .iter()
                .filter_map(|a| relabelled(&t.spec.alert_relabel, a))
                .map(WireAlert)
                .collect();
            self.enqueue(t, &headers, wire);
        }
    }

    fn enqueue(&self, t: &Target, headers: &Arc<Vec<(String, String)>>, wire: Vec<WireAlert>) {
        if wire.is_empty() {
            return;
        }
        let (len, dropped) = {
            let Ok(mut q) = t.queue.lock() else { return };
            q.extend(wire.into_iter().map(|a| (headers.clone(), a)));
            let over = q.len().saturating_sub(self.opts.queue_capacity);
            q.drain(..over);
            (q.len(), over)
        };
        if dropped > 0 {
            self.metrics.dropped(&t.addr, dropped as u64);
            tracing::warn!(target = %t.url, dropped, "notifier queue full: dropped the oldest alerts");
        }
        self.metrics.queue_length(&t.addr, len);
        t.wake.notify_one();
    }

    /// Per-target counters for the status page, by kind and URL.
    pub fn status(&self) -> Vec<TargetStatus> {
        let mut out: Vec<TargetStatus> = self
            .targets()
            .iter()
            .map(|t| {
                let (sent, errors, dropped) = self.metrics.counts(&t.addr);
                TargetStatus {
                    url: t.url.shown.clone(),
                    kind: t.spec.kind,
                    labels: t.spec.labels.clone(),
                    sent,
                    errors,
                    dropped,
                    queued: t.queued(),
                    last_error: t.last_error.lock().ok().and_then(|e| e.clone()),
                }
            })
            .collect();
        out.sort_by(|a, b| (a.kind, &a.url).cmp(&(b.kind, &b.url)));
        out
    }
}

/// The alert with relabelled labels, or `None` when relabelling drops it.
fn relabelled(steps: &[Relabel], a: &Notification) -> Option<Notification> {
    if steps.is_empty() {
        return Some(a.clone());
    }
    let labels = relabel::apply(steps, &a.labels)?;
    Some(Notification {
        labels,
        ..a.clone()
    })
}

#[cfg(test)]
mod tests;
