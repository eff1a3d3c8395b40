//! Restoring alert state at start-up from `ALERTS_FOR_STATE` (`-remoteRead.url`), so a
//! restart neither resets a pending alert's `for` clock nor re-pages a firing one.
//!
//! Rules: one query per group reads the last `ALERTS_FOR_STATE` sample within
//! `-remoteRead.lookback` of every series of the group's alerting rules (by `alertname`,
//! and `alertgroup` unless `-disableAlertgroupLabel`); each rule takes the series of its
//! name, and each series gives one alert's `ActiveAt`. (Prometheus asks once per rule,
//! vmalert once per alert: a group of many rules would otherwise cost as many queries at
//! every start.) The alert is created pending with that `ActiveAt`; the first evaluation
//! fires it if `for` has elapsed, and then stamps it with the time it fired before the
//! restart (the first evaluation tick at or after `ActiveAt + for`), so Alertmanager
//! sees the same `startsAt`. An alert whose series is older than the lookback is not
//! restored (the lookback is the outage tolerance). An alert the first evaluation does
//! not see is dropped, as a pending alert would be. `keep_firing_for` is not restored:
//! an alert that was only being kept firing resolves at the first evaluation that does
//! not see it. A datasource that cannot be reached, or does not answer within the
//! group's interval, is logged and skipped: evaluation starts with empty state (one
//! interval late at most) rather than not at all. Starting empty, a pending alert starts
//! its `for` again; a firing alert with `for` goes back to pending (it is not sent while
//! pending, so Alertmanager resolves it when its last `endsAt` passes, and pages again
//! when it fires); a firing alert without `for` fires again at once with the same labels,
//! which Alertmanager merges into the alert it still holds (keeping its `startsAt`).

use std::sync::Arc;
use std::time::Duration;

use super::group::GroupRunner;
use crate::datasource::{InstantQuery, Querier};
use crate::labels::{Labels, METRIC_NAME};
use crate::rule::Rule;
use crate::sample::Sample;

/// Reads `ALERTS_FOR_STATE` back.
pub struct Restorer {
    pub querier: Arc<dyn Querier>,
    pub lookback: Duration,
    /// External labels are stripped from restored label sets (they are added on write).
    pub external_labels: Labels,
}

/// `s` as a PromQL double-quoted string.
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

/// The selector of the group's `ALERTS_FOR_STATE` series: `alertname="A"` for one alert
/// name, `alertname=~"A|B"` (names regex-escaped) for several; `None` when the group
/// has no alerting rule.
fn selector(names: &[&str], group: Option<&str>) -> Option<String> {
    let mut sel = match names {
        [] => return None,
        [one] => format!("ALERTS_FOR_STATE{{alertname={}", quote(one)),
        many => {
            let alternatives: Vec<String> = many.iter().map(|n| regex::escape(n)).collect();
            format!(
                "ALERTS_FOR_STATE{{alertname=~{}",
                quote(&alternatives.join("|"))
            )
        }
    };
    if let Some(g) = group {
        sel.push_str(&format!(",alertgroup={}", quote(g)));
    }
    sel.push('}');
    Some(sel)
}

impl Restorer {
    /// Restores the alerts of every alerting rule of the group, with one query.
    pub async fn restore(&self, runner: &mut GroupRunner) {
        let group = runner.def().name.clone();
        let now = runner.clock().now_ms();
        let mut names: Vec<&str> = Vec::new();
        let mut with_group = false;
        for rule in runner.rules_mut() {
            if let Rule::Alerting(a) = rule {
                with_group |= !a.context().settings.disable_alertgroup_label;
                names.push(a.spec().name());
            }
        }
        names.sort_unstable();
        names.dedup();
        let Some(sel) = selector(&names, with_group.then_some(&*group)) else {
            return;
        };
        let secs = self.lookback.as_secs().max(1);
        let q = InstantQuery {
            expr: format!("last_over_time({sel}[{secs}s])"),
            time_ms: now,
            ..InstantQuery::default()
        };
        // Bounded by the group's interval, whatever `-datasource.queryTimeout` says: a
        // TSDB that hangs delays the first evaluation by one interval at most.
        let bound = runner.interval();
        let samples = match tokio::time::timeout(bound, self.querier.instant(&q)).await {
            Ok(Ok(samples)) => samples,
            Ok(Err(e)) => {
                tracing::warn!(
                    group = %group,
                    "cannot restore alert state from -remoteRead.url: {e}; starting with no state"
                );
                return;
            }
            Err(_) => {
                tracing::warn!(
                    group = %group,
                    "-remoteRead.url did not answer within the group's interval ({bound:?}) while restoring alert state; starting with no state"
                );
                return;
            }
        };
        for rule in runner.rules_mut() {
            let Rule::Alerting(a) = rule else { continue };
            let name = a.spec().name().to_string();
            let mine = samples
                .iter()
                .filter(|s| s.labels.get("alertname") == Some(name.as_str()));
            a.restore(mine.filter_map(|s| self.restored(s)));
        }
    }

    /// The alert labels and `ActiveAt` (ms) one `ALERTS_FOR_STATE` sample stands for:
    /// its labels without the metric name and the external labels written with it.
    fn restored(&self, s: &Sample) -> Option<(Labels, i64)> {
        if !(s.value.is_finite() && s.value > 0.0) {
            return None;
        }
        let mut b = s.labels.to_builder();
        b.del(METRIC_NAME);
        for l in self.external_labels.iter() {
            if s.labels.get(&l.name) == Some(&*l.value) {
                b.del(&l.name);
            }
        }
        Some((b.build(), (s.value * 1000.0) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::selector;

    #[test]
    fn one_selector_for_the_group() {
        assert_eq!(selector(&[], Some("g")), None);
        assert_eq!(
            selector(&["Down"], Some("g")).unwrap(),
            r#"ALERTS_FOR_STATE{alertname="Down",alertgroup="g"}"#
        );
        assert_eq!(
            selector(&["Down", "a.b"], None).unwrap(),
            r#"ALERTS_FOR_STATE{alertname=~"Down|a\\.b"}"#
        );
    }
}
