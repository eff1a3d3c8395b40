//! The four upstream test cases as data: input series, the possible alert snapshots over
//! time ("phases"), and the notification trains the alert receiver must see.
//!
//! All times are virtual milliseconds relative to the moment the first samples are written,
//! with the upstream spacing (15 s between samples, 30 s group interval). The rules API
//! and `ALERTS` expectations are derived from the same phases, as upstream does by hand.

mod new_alerts_order;
mod pending_firing_resolved;
mod pending_resolved_inactive;
mod zero_small_for;

use std::collections::BTreeMap;

use super::timebase::{MAX_RTT_MS, RESEND_DELAY_MS};

/// A sorted label set (ordering matches Prometheus' `labels.Compare`).
pub type Labels = BTreeMap<String, String>;

/// Sample spacing of every case.
pub const RW_MS: i64 = 15_000;
/// Group interval of every case.
pub const GI_MS: i64 = 30_000;
/// Name of the input metric.
pub const SOURCE_METRIC: &str = "alert_generator_test_suite";

/// Builds a label set from pairs.
pub fn lbl(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Time of the n-th sample.
pub const fn nth(n: i64) -> i64 {
    n * RW_MS
}

/// An alert as `/api/v1/alerts` and `/api/v1/rules` must show it.
#[derive(Clone, Debug)]
pub struct ExpAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: &'static str,
    pub value: f64,
    /// Earliest acceptable `activeAt`; up to one interval + 2·MaxRTT later is accepted.
    pub active_at: i64,
}

/// One possible snapshot of the group's active alerts, valid inside any of its windows.
#[derive(Clone, Debug)]
pub struct Phase {
    pub name: &'static str,
    /// `(start, end)` in virtual ms: valid when `start < t <= end + 2·MaxRTT`.
    pub windows: Vec<(i64, i64)>,
    pub alerts: Vec<ExpAlert>,
}

impl Phase {
    /// Whether this snapshot is acceptable at relative virtual time `t`.
    pub fn possible_at(&self, t: i64) -> bool {
        self.windows
            .iter()
            .any(|&(s, e)| t > s && t <= e + 2 * MAX_RTT_MS)
    }
}

/// A run of notifications for one label set: the first at `from`, then one per resend
/// delay while `ts < until`.
#[derive(Clone, Debug)]
pub struct Train {
    pub labels: Labels,
    pub annotations: Labels,
    pub resolved: bool,
    pub from: i64,
    /// `None`: until `resolved_at` + the inactive-alert retention.
    pub until: Option<i64>,
    pub starts_at: i64,
    pub next_state: Option<i64>,
    pub resolved_at: Option<i64>,
    /// The first notification of this train continues an earlier train (value change).
    pub first_is_resend: bool,
}

/// One expected notification (upstream `ExpectedAlert`), in absolute virtual ms.
#[derive(Clone, Debug)]
pub struct ExpectedNotification {
    pub ordering_id: usize,
    pub tolerance: i64,
    pub ts: i64,
    pub next_state: Option<i64>,
    pub resolved: bool,
    pub resend: bool,
    pub resolved_time: Option<i64>,
    pub ends_at_delta: i64,
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: i64,
}

/// An input series with samples at relative virtual ms.
#[derive(Clone, Debug)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// A whole test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub group: &'static str,
    pub description: &'static str,
    pub series: Vec<Series>,
    /// Relative virtual ms after which the case is over.
    pub test_until: i64,
    pub phases: Vec<Phase>,
    pub trains: Vec<Train>,
}

/// All cases, sorted by group name as upstream runs them.
pub fn all() -> Vec<Case> {
    let mut v = vec![
        new_alerts_order::case(),
        pending_firing_resolved::case(),
        pending_resolved_inactive::case(),
        zero_small_for::case(),
    ];
    v.sort_by_key(|c| c.group);
    v
}

/// Expands the upstream value notation: `"V"` sets the value, `"AxB"` adds `A` `B` times;
/// every produced value is one sample, 15 s apart, starting at 0.
pub fn sample_slice(values: &[&str]) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut val = 0.0;
    for v in values {
        match v.split_once('x') {
            Some((a, b)) => {
                let a: f64 = a.parse().unwrap_or(0.0);
                let b: usize = b.parse().unwrap_or(0);
                for _ in 0..b {
                    val += a;
                    out.push((out.len() as i64 * RW_MS, val));
                }
            }
            None => {
                val = v.parse().unwrap_or(0.0);
                out.push((out.len() as i64 * RW_MS, val));
            }
        }
    }
    out
}

/// The labels of a case's input series for one alerting rule.
pub fn metric_labels(group: &str, alertname: &str) -> Labels {
    lbl(&[
        ("__name__", SOURCE_METRIC),
        ("rulegroup", group),
        ("alertname", alertname),
    ])
}

impl Case {
    /// Expands the trains into the expected notifications, absolute virtual ms. `run_end`
    /// is the relative end of the whole run: the receiver keeps judging alerts until then.
    pub fn expected_notifications(
        &self,
        zero: i64,
        retention: i64,
        run_end: i64,
    ) -> Vec<ExpectedNotification> {
        let ends_at_delta = 4 * RESEND_DELAY_MS.max(GI_MS);
        let mut out = Vec::new();
        for tr in &self.trains {
            // Resends due after the run ends can never be checked; leaving them out keeps a
            // long (unscaled) retention from flooding the report with re-timed resends.
            let horizon = run_end + RESEND_DELAY_MS;
            let until = tr
                .until
                .unwrap_or_else(|| tr.resolved_at.unwrap_or(tr.from) + retention)
                .min(horizon);
            let mut ts = tr.from;
            while ts < until {
                let first = ts == tr.from;
                // The first resolved notification may come one interval late: the alert is
                // only seen resolved at the evaluation after the value drops.
                let tolerance = if tr.resolved && first {
                    2 * GI_MS
                } else {
                    GI_MS
                };
                out.push(ExpectedNotification {
                    ordering_id: out.len() + 1,
                    tolerance,
                    ts: zero + ts,
                    next_state: tr.next_state.map(|n| zero + n),
                    resolved: tr.resolved,
                    resend: !first || tr.first_is_resend,
                    resolved_time: tr.resolved_at.map(|r| zero + r),
                    ends_at_delta,
                    labels: tr.labels.clone(),
                    annotations: tr.annotations.clone(),
                    starts_at: zero + tr.starts_at,
                });
                ts += RESEND_DELAY_MS;
            }
        }
        out
    }
}

/// Shorthand for an expected API alert.
pub fn alert(
    labels: &Labels,
    annotations: Labels,
    state: &'static str,
    value: f64,
    active_at: i64,
) -> ExpAlert {
    ExpAlert {
        labels: labels.clone(),
        annotations,
        state,
        value,
        active_at,
    }
}

/// Shorthand for a phase.
pub fn phase(name: &'static str, windows: &[(i64, i64)], alerts: Vec<ExpAlert>) -> Phase {
    Phase {
        name,
        windows: windows.to_vec(),
        alerts,
    }
}

/// One second, the slack upstream subtracts from window starts.
pub const S: i64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notation_expands_like_upstream() {
        let got: Vec<f64> = sample_slice(&["1x1", "0x3", "5x3", "9", "8", "-2x2"])
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            got,
            vec![1.0, 1.0, 1.0, 1.0, 6.0, 11.0, 16.0, 9.0, 8.0, 6.0, 4.0]
        );
    }

    #[test]
    fn case_lengths_match_upstream() {
        let by: BTreeMap<_, _> = all().into_iter().map(|c| (c.group, c.test_until)).collect();
        assert_eq!(by["PendingAndFiringAndResolved"], nth(150));
        assert_eq!(by["ZeroFor_SmallFor"], nth(127));
        assert_eq!(by["NewAlerts_OrderCheck"], nth(94));
        assert_eq!(by["PendingAndResolved_AlwaysInactive"], nth(60));
    }
}
