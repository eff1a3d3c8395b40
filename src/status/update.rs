//! Turning rule state into snapshots after each evaluation, and carrying a rule's
//! history over a reload.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::history::{GroupQuery, RuleQuery, StateUpdate};
use super::model::{AlertStatus, AlertingStatus, RuleKindStatus, RuleStatus};
use crate::labels::Str;
use crate::rule::{AlertState, AlertingRule, Health, Rule};

/// (firing, pending) alert counts.
pub fn count_states(a: &AlertingRule) -> (i64, i64) {
    a.alerts().fold((0, 0), |(f, p), x| match x.state {
        AlertState::Firing => (f + 1, p),
        AlertState::Pending => (f, p + 1),
        AlertState::Inactive => (f, p),
    })
}

fn alert_statuses(a: &AlertingRule) -> Vec<AlertStatus> {
    // Sized exactly: collected from a filter, the vector would grow by doubling and keep
    // up to twice the room it needs for as long as the snapshot lives (10 alerts: 16).
    let (firing, pending) = count_states(a);
    let mut v: Vec<AlertStatus> = Vec::with_capacity((firing + pending) as usize);
    v.extend(
        a.alerts()
            .filter(|x| x.state != AlertState::Inactive)
            .map(|x| {
                let mut s = AlertStatus::at_ms(x.labels.clone(), x.state, x.active_at_ms, x.value);
                s.annotations = x.annotations.clone();
                s.keep_firing_since_ms = x.keep_firing_since_ms();
                s.restored = x.restored;
                s.flapping = a.is_flapping(x);
                s.source = a.alert_source(x).map(Into::into);
                s
            }),
    );
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

/// What one evaluation of a rule reported.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    /// The scheduled evaluation time.
    pub at: SystemTime,
    /// Wall-clock time the evaluation started, and how long it took.
    pub started: SystemTime,
    pub elapsed: Duration,
    /// Samples the query returned.
    pub samples: usize,
    /// Series the datasource reports having fetched for the query, if it does.
    pub series_fetched: Option<usize>,
    pub error: Option<&'a str>,
    /// What the group's evaluations ask alike (`params`, query time), for the command
    /// that reproduces the query.
    pub group: &'a Arc<GroupQuery>,
}

/// The rule's snapshot after evaluation `e`, derived from the previous one (copying
/// only what the evaluation did not replace).
pub fn rule_status(prev: &RuleStatus, rule: &Rule, e: &Evaluation<'_>) -> RuleStatus {
    let last_error: Option<Str> = e.error.map(Str::from);
    let kind = match (&prev.kind, rule) {
        (RuleKindStatus::Alerting(st), Rule::Alerting(a)) => {
            RuleKindStatus::Alerting(AlertingStatus {
                spec: st.spec.clone(),
                alerts: alert_statuses(a),
            })
        }
        (k, _) => k.clone(),
    };
    let mut updates = Vec::new();
    if prev.max_updates > 0 {
        // Newest first, as vmalert lists them (and `RuleStatus::updates` promises).
        let keep = prev.updates.len().min(prev.max_updates - 1);
        updates.reserve_exact(keep + 1);
        let u = StateUpdate::new(e.started, e.at, e.elapsed)
            .with_counts(e.samples, e.series_fetched)
            .with_error(last_error.clone())
            .with_request(request_of(prev, e));
        updates.push(u);
        updates.extend_from_slice(&prev.updates[..keep]);
    }
    RuleStatus {
        id: prev.id,
        name: prev.name.clone(),
        query: prev.query.clone(),
        labels: prev.labels.clone(),
        // An evaluation that failed outside the rule (a panic, after which the rule is
        // rebuilt without history) is unhealthy all the same.
        health: if e.error.is_some() {
            Health::Err
        } else {
            rule.health()
        },
        last_error,
        evaluation_time: e.elapsed,
        last_evaluation: Some(e.at),
        last_samples: e.samples,
        last_series_fetched: e.series_fetched,
        debug: prev.debug,
        max_updates: prev.max_updates,
        updates,
        kind,
        paused: prev.paused.clone(),
    }
}

/// The request of the rule's evaluations: its latest entry's when that asked the same
/// (the entries share one), else a new one.
fn request_of(prev: &RuleStatus, e: &Evaluation<'_>) -> Arc<RuleQuery> {
    match prev.updates.first().and_then(StateUpdate::request) {
        Some(r) if Arc::ptr_eq(&r.expr, &prev.query) && Arc::ptr_eq(&r.group, e.group) => r.clone(),
        _ => Arc::new(RuleQuery {
            expr: prev.query.clone(),
            group: e.group.clone(),
        }),
    }
}

/// The rule's snapshot after a paused evaluation step: its alerts as they are now (all
/// resolved, or held), nothing else changed.
pub fn with_alerts_of(prev: &RuleStatus, rule: &Rule) -> RuleStatus {
    let mut s = prev.clone();
    if let (RuleKindStatus::Alerting(st), Rule::Alerting(a)) = (&mut s.kind, rule) {
        st.alerts = alert_statuses(a);
    }
    s
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{LoadOptions, load_str};
    use crate::rule::{RuleContext, RuleSettings};
    use crate::schedule::Schedule;

    const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n";

    /// A group of one-minute interval whose queries run `query_offset_ms` before the
    /// evaluation, with `params` `a=<a>`.
    fn group(query_offset_ms: u64, a: &str) -> Arc<GroupQuery> {
        let schedule = Schedule::new(
            Duration::from_secs(60),
            None,
            Some(Duration::from_millis(query_offset_ms)),
            None,
            None,
            0,
            Duration::from_secs(300),
        );
        Arc::new(GroupQuery {
            params: vec![("a".to_string(), a.to_string())],
            query_time: schedule.query_time(),
        })
    }

    fn eval<'a>(
        at_s: u64,
        started_ns: u64,
        group: &'a Arc<GroupQuery>,
        error: Option<&'a str>,
    ) -> Evaluation<'a> {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(at_s);
        Evaluation {
            at,
            started: at + Duration::from_nanos(started_ns),
            elapsed: Duration::from_nanos(1_234_567),
            samples: 2,
            series_fetched: None,
            error,
            group,
        }
    }

    fn rule_and_status(max_updates: usize) -> (Rule, RuleStatus) {
        let g = load_str(Path::new("r.yml"), RULES, &LoadOptions::default()).unwrap();
        let settings = RuleSettings::default();
        let rule = Rule::new(
            &g[0].rules[0],
            Arc::new(RuleContext::for_group(&g[0], &settings)),
        );
        let s = RuleStatus::from_config(&g[0].rules[0], 1, &g[0].labels, max_updates);
        (rule, s)
    }

    /// `/api/v1/rule`'s `updates`, newest first, each with its own times, error and
    /// request: a reload that changes the group's `params` or `query_offset` shows in
    /// the entries after it, not in those before.
    #[test]
    fn each_update_keeps_its_own_times_and_request() {
        let (rule, mut s) = rule_and_status(3);
        let (before, after) = (group(250, "1"), group(500, "2"));
        s = rule_status(&s, &rule, &eval(60, 123_456_789, &before, None));
        s = rule_status(&s, &rule, &eval(120, 5, &before, Some("boom")));
        s = rule_status(&s, &rule, &eval(180, 0, &after, None));
        let shown: Vec<(SystemTime, SystemTime, Duration, Option<&str>, String)> = s
            .updates
            .iter()
            .map(|u| {
                let curl = u.curl().map(|c| c.to_string()).unwrap_or_default();
                (u.time(), u.at(), u.duration(), u.error(), curl)
            })
            .collect();
        let t = |s: u64, ns: u64| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_nanos(ns)
        };
        let curl = |ts: &str, a: &str| {
            format!(
                "curl -s --data-urlencode 'query=up' --data-urlencode 'time={ts}' --data-urlencode 'a={a}' <datasource>/api/v1/query"
            )
        };
        let took = Duration::from_nanos(1_234_567);
        assert_eq!(
            shown,
            [
                (t(180, 0), t(180, 0), took, None, curl("179.500", "2")),
                (
                    t(120, 5),
                    t(120, 0),
                    took,
                    Some("boom"),
                    curl("119.750", "1")
                ),
                (
                    t(60, 123_456_789),
                    t(60, 0),
                    took,
                    None,
                    curl("59.750", "1")
                ),
            ]
        );
    }

    /// A rule keeps its last `update_entries_limit` evaluations, newest first, sharing
    /// one request while it is the same; told 0, it keeps one, as vmalert does.
    #[test]
    fn keeps_the_last_limit_entries_sharing_their_request() {
        let (rule, mut s) = rule_and_status(20);
        let g = group(0, "1");
        for i in 1..=25 {
            s = rule_status(&s, &rule, &eval(60 * i, 0, &g, None));
        }
        let ats: Vec<SystemTime> = s.updates.iter().map(StateUpdate::at).collect();
        let want: Vec<SystemTime> = (6..=25)
            .rev()
            .map(|i| SystemTime::UNIX_EPOCH + Duration::from_secs(60 * i))
            .collect();
        assert_eq!(ats, want);
        assert_eq!(s.updates.capacity(), 20, "sized to what it keeps");
        let first = s.updates[0].request().unwrap();
        assert!(
            s.updates
                .iter()
                .all(|u| Arc::ptr_eq(u.request().unwrap(), first))
        );

        let (rule, mut s) = rule_and_status(0);
        assert_eq!(
            s.max_updates, 1,
            "vmalert shows max_updates_entries: 1 for 0"
        );
        for i in 1..=3 {
            s = rule_status(&s, &rule, &eval(60 * i, 0, &g, None));
        }
        let ats: Vec<SystemTime> = s.updates.iter().map(StateUpdate::at).collect();
        assert_eq!(ats, [SystemTime::UNIX_EPOCH + Duration::from_secs(180)]);
        assert_eq!(s.last_samples, 2, "the rule's own fields still change");
    }
}
