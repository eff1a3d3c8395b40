//! Turning rule state into the API's snapshots after each evaluation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::labels::Labels;
use crate::rule::{AlertState, AlertingRule, Rule, system_time};
use crate::web::{AlertStatus, RuleKindStatus, RuleStatus, StateUpdate};

/// (firing, pending) alert counts.
pub fn count_states(a: &AlertingRule) -> (i64, i64) {
    a.alerts().fold((0, 0), |(f, p), x| match x.state {
        AlertState::Firing => (f + 1, p),
        AlertState::Pending => (f, p + 1),
        AlertState::Inactive => (f, p),
    })
}

fn alert_statuses(a: &AlertingRule) -> Vec<AlertStatus> {
    let mut v: Vec<AlertStatus> = a
        .alerts()
        .filter(|x| x.state != AlertState::Inactive)
        .map(|x| {
            let mut s = AlertStatus::new(
                x.labels.clone(),
                x.state,
                system_time(x.active_at_ms),
                x.value,
            );
            s.annotations =
                Labels::from_pairs(x.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            s.keep_firing_since = x.keep_firing_since_ms.map(system_time);
            s
        })
        .collect();
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

/// The rule's snapshot after an evaluation at `at`, derived from the previous one.
#[allow(clippy::too_many_arguments)]
pub fn rule_status(
    prev: &RuleStatus,
    rule: &Rule,
    at: SystemTime,
    started: SystemTime,
    elapsed: Duration,
    samples: usize,
    error: Option<&str>,
    params: &[(String, String)],
    query_ts_ms: i64,
) -> RuleStatus {
    let mut s = prev.clone();
    s.health = rule.health();
    s.last_error = error.map(Arc::from);
    s.evaluation_time = elapsed;
    s.last_evaluation = Some(at);
    s.last_samples = samples;
    s.last_series_fetched = Some(samples);
    if let (RuleKindStatus::Alerting(st), Rule::Alerting(a)) = (&mut s.kind, rule) {
        st.alerts = alert_statuses(a);
    }
    if s.max_updates > 0 {
        // Newest first, as vmalert lists them (and `RuleStatus::updates` promises).
        s.updates.truncate(s.max_updates - 1);
        s.updates.insert(
            0,
            StateUpdate {
                time: started,
                at,
                duration: elapsed,
                samples,
                series_fetched: Some(samples),
                error: s.last_error.clone(),
                curl: Some(Arc::from(reproduce(rule.expr(), query_ts_ms, params))),
            },
        );
    }
    s
}

/// The exact request that reproduces an evaluation, for the rule's page.
fn reproduce(expr: &str, query_ts_ms: i64, params: &[(String, String)]) -> String {
    let mut q = format!(
        "curl -s --data-urlencode 'query={}' --data-urlencode 'time={}'",
        expr.replace('\'', r"'\''"),
        crate::datasource::format_ts(query_ts_ms)
    );
    for (k, v) in params {
        q.push_str(&format!(
            " --data-urlencode '{}={}'",
            k.replace('\'', r"'\''"),
            v.replace('\'', r"'\''")
        ));
    }
    q.push_str(" <datasource>/api/v1/query");
    q
}

/// A rule kept across a reload keeps its evaluation history in the new snapshot.
pub fn carry_over(fresh: &Arc<RuleStatus>, old: &Arc<RuleStatus>) -> Arc<RuleStatus> {
    let mut s = (**fresh).clone();
    s.health = old.health;
    s.last_error = old.last_error.clone();
    s.evaluation_time = old.evaluation_time;
    s.last_evaluation = old.last_evaluation;
    s.last_samples = old.last_samples;
    s.last_series_fetched = old.last_series_fetched;
    s.updates = old.updates.clone();
    if let (RuleKindStatus::Alerting(new), RuleKindStatus::Alerting(prev)) =
        (&mut s.kind, &old.kind)
    {
        new.alerts = prev.alerts.clone();
    }
    Arc::new(s)
}
