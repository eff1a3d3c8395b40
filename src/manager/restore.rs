//! Restoring alert state at start-up from `ALERTS_FOR_STATE` (`-remoteRead.url`), so a
//! restart neither resets a pending alert's `for` clock nor re-pages a firing one.
//!
//! Rules: for each alerting rule, the last `ALERTS_FOR_STATE` sample of each of its alerts
//! within `-remoteRead.lookback` gives the alert's `ActiveAt`. The alert is created
//! pending with that `ActiveAt`; the first evaluation fires it if `for` has elapsed, and
//! then stamps it with the time it fired before the restart (the first evaluation tick at
//! or after `ActiveAt + for`), so Alertmanager sees the same `startsAt`. An alert whose
//! series is older than the lookback is not restored (the lookback is the outage
//! tolerance). An alert the first evaluation does not see is dropped, as a pending alert
//! would be. `keep_firing_for` is not restored: an alert that was only being kept firing
//! resolves at the first evaluation that does not see it. A datasource that cannot be
//! reached is logged and skipped: evaluation starts with empty state rather than not at all.

use std::sync::Arc;
use std::time::Duration;

use super::group::GroupRunner;
use crate::datasource::{InstantQuery, Querier};
use crate::labels::{Labels, METRIC_NAME};
use crate::rule::Rule;

/// Reads `ALERTS_FOR_STATE` back.
pub struct Restorer {
    pub querier: Arc<dyn Querier>,
    pub lookback: Duration,
    /// External labels are stripped from restored label sets (they are added on write).
    pub external_labels: Labels,
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Restorer {
    /// Restores the alerts of every alerting rule of the group.
    pub async fn restore(&self, runner: &mut GroupRunner) {
        let group = runner.def().name.clone();
        let now = runner.clock().now_ms();
        let secs = self.lookback.as_secs().max(1);
        for rule in runner.rules_mut() {
            let Rule::Alerting(a) = rule else { continue };
            let mut sel = format!("ALERTS_FOR_STATE{{alertname={}", quote(a.spec().name()));
            if !a.context().settings.disable_alertgroup_label {
                sel.push_str(&format!(",alertgroup={}", quote(&group)));
            }
            sel.push('}');
            let q = InstantQuery {
                expr: format!("last_over_time({sel}[{secs}s])"),
                time_ms: now,
                ..InstantQuery::default()
            };
            match self.querier.instant(&q).await {
                Ok(samples) => {
                    for s in samples {
                        let mut b = s.labels.to_builder();
                        b.del(METRIC_NAME);
                        for l in self.external_labels.iter() {
                            if s.labels.get(&l.name) == Some(&*l.value) {
                                b.del(&l.name);
                            }
                        }
                        if s.value.is_finite() && s.value > 0.0 {
                            a.restore(b.build(), (s.value * 1000.0) as i64);
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    group = %group,
                    rule = %a.spec().name(),
                    "cannot restore alert state from -remoteRead.url: {e}; starting with no state"
                ),
            }
        }
    }
}
