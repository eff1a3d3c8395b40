//! One alert instance of an alerting rule, and what is sent for it.

use crate::labels::Labels;

/// Prometheus' alert states. `Inactive` alerts are resolved ones kept for the resolved
/// retention so that Alertmanager keeps hearing that they are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert: identified by the fingerprint of its final label set. Times are
/// milliseconds since the epoch; `None` stands for Go's zero time.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Final labels (sample labels, group and rule labels, `alertname`, `alertgroup`),
    /// without external labels, as `/api/v1/alerts` shows them.
    pub labels: Labels,
    /// Rendered annotations, in name order; empty values are kept.
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    /// The query value that produced the alert at its last evaluation.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub last_sent_at_ms: Option<i64>,
    /// Since when a firing alert has been absent from the query result while
    /// `keep_firing_for` kept it firing.
    pub keep_firing_since_ms: Option<i64>,
    /// Until when Alertmanager should consider the alert firing without news from us.
    pub valid_until_ms: Option<i64>,
    /// Restored from `ALERTS_FOR_STATE` at start-up rather than first seen by us.
    pub restored: bool,
}

impl Alert {
    /// Prometheus' rule: pending alerts are never sent; an alert resolved since it was
    /// last sent is sent at once; otherwise alerts are re-sent once `resend_delay` has
    /// strictly passed since the last send.
    pub fn needs_sending(&self, ts_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at_ms;
        if let Some(resolved) = self.resolved_at_ms
            && last.is_none_or(|l| resolved > l)
        {
            return true;
        }
        match last {
            None => true,
            Some(l) => l + resend_delay_ms < ts_ms,
        }
    }
}

impl Alert {
    /// What is sent for this alert: `startsAt` is when it fired, external labels are
    /// added where the alert has none of that name.
    pub fn notification(&self, ends_at_ms: i64, external: &Labels, url: &str) -> Notification {
        Notification {
            labels: super::add_missing(&self.labels, external),
            annotations: self.annotations.clone(),
            starts_at_ms: self.fired_at_ms.unwrap_or(self.active_at_ms),
            ends_at_ms,
            generator_url: url.to_string(),
        }
    }
}

/// An alert as sent to Alertmanager (the notifier turns it into the wire format).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Final labels plus external labels where absent.
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub generator_url: String,
}
