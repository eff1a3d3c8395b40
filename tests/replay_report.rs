//! Replay report mode on a fake datasource: which intervals each alert spent pending and
//! firing, as a table and as JSON, and how failures show up.

use std::sync::Arc;
use std::time::Duration;

use tocsin::config::{Group, LoadOptions, load_str};
use tocsin::datasource::fake::FakeQuerier;
use tocsin::datasource::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use tocsin::labels::Labels;
use tocsin::replay::report::{to_json, to_table};
use tocsin::replay::{ReplayOptions, plan, replay};
use tocsin::rule::RuleSettings;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn groups(text: &str) -> Vec<Arc<Group>> {
    load_str(
        std::path::Path::new("rules.yml"),
        text,
        &LoadOptions::default(),
    )
    .expect("valid rules")
}

const RULES: &str = r#"
groups:
- name: g
  interval: 1m
  rules:
  - alert: High
    expr: x > 5
    for: 2m
    labels:
      severity: page
  - alert: Never
    expr: y > 5
"#;

/// `x > 5` holds at minutes 2-5 and 8-9 for instance a.
fn fake() -> Arc<FakeQuerier> {
    let f = Arc::new(FakeQuerier::new());
    let labels = Labels::from_pairs([("__name__", "x"), ("instance", "a")]);
    let points = [2, 3, 4, 5, 8, 9]
        .iter()
        .map(|m| (T0 + m * MIN, 10.0))
        .collect();
    f.set_range("x > 5", Ok(vec![(labels, points)]));
    f
}

fn opts(max_points: usize) -> ReplayOptions {
    ReplayOptions {
        from_ms: T0,
        to_ms: T0 + 9 * MIN,
        max_points,
        retry_attempts: 3,
        retry_backoff: Duration::from_millis(1),
        concurrency: 2,
        ..ReplayOptions::default()
    }
}

async fn run(f: Arc<FakeQuerier>, o: &ReplayOptions) -> tocsin::replay::ReplayOutcome {
    let settings = RuleSettings::default();
    let plans = plan(&groups(RULES), &settings, o).expect("plannable");
    replay(&plans, &settings, f, None, o).await
}

#[tokio::test]
async fn intervals_follow_for_and_survive_window_edges() {
    let f = fake();
    // Windows of 4 steps: the `for` clock must carry across them.
    let out = run(f.clone(), &opts(4)).await;
    assert!(out.complete(), "{:?}", out.rules);
    let high = &out.rules[0];
    assert_eq!(high.evaluations, 10);
    let got: Vec<(&str, i64, i64)> = high
        .intervals
        .iter()
        .map(|i| (i.state, (i.from - T0) / MIN, (i.to - T0) / MIN))
        .collect();
    assert_eq!(
        got,
        vec![("pending", 2, 3), ("firing", 4, 5), ("pending", 8, 9)]
    );
    assert_eq!(high.alerts_fired, 1);
    assert!(out.rules[1].intervals.is_empty());
    // 10 steps in windows of 4 → 3 range queries per rule, aligned on the steps.
    let qs: Vec<(i64, i64)> = f
        .range_queries()
        .iter()
        .filter(|q| q.expr == "x > 5")
        .map(|q| ((q.start_ms - T0) / MIN, (q.end_ms - T0) / MIN))
        .collect();
    assert_eq!(qs, vec![(0, 3), (4, 7), (8, 9)]);
}

#[tokio::test]
async fn table_and_json_say_when_alerts_were_pending_and_firing() {
    let out = run(fake(), &opts(1000)).await;
    let table = to_table(&out.rules);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("GROUP"), "{table}");
    assert!(
        lines[2].contains("firing")
            && lines[2].contains("2023-11-14T22:17:20Z")
            && lines[2].contains("2023-11-14T22:18:20Z")
            && lines[2].contains(r#"instance="a""#)
            && lines[2].contains(r#"severity="page""#),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Never") && l.contains("never active")),
        "{table}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&to_json(T0, T0 + 9 * MIN, &out.rules)).expect("valid JSON");
    let iv = &doc["rules"][0]["intervals"][1];
    assert_eq!(iv["state"], "firing");
    assert_eq!(iv["from"], "2023-11-14T22:17:20Z");
    assert_eq!(iv["to"], "2023-11-14T22:18:20Z");
    assert_eq!(iv["labels"]["alertname"], "High");
    assert_eq!(iv["labels"]["instance"], "a");
    assert_eq!(doc["rules"][0]["alerts_fired"], 1);
    assert_eq!(doc["from"], "2023-11-14T22:13:20Z");
}

#[tokio::test]
async fn a_rejected_query_names_the_rule_and_window_and_is_not_retried() {
    let f = fake();
    f.set_range(
        "y > 5",
        Err(QueryError::Status {
            url: "http://ds/api/v1/query_range".into(),
            status: 422,
            message: "bad query".into(),
        }),
    );
    let out = run(f.clone(), &opts(1000)).await;
    assert!(!out.complete());
    let never = &out.rules[1];
    assert_eq!(never.errors, 10);
    assert_eq!(never.retries, 0);
    assert!(
        never.problems[0].contains("window 2023-11-14T22:13:20Z..2023-11-14T22:22:20Z")
            && never.problems[0].contains("422"),
        "{:?}",
        never.problems
    );
    // The other rule is unaffected.
    assert_eq!(out.rules[0].errors, 0);
    assert_eq!(out.rules[0].alerts_fired, 1);
}

#[tokio::test]
async fn an_unreachable_datasource_is_retried_then_reported() {
    let f = fake();
    f.set_range(
        "y > 5",
        Err(QueryError::Unreachable {
            url: "http://ds".into(),
            message: "connection refused".into(),
        }),
    );
    let out = run(f.clone(), &opts(1000)).await;
    let never = &out.rules[1];
    assert_eq!(never.retries, 2, "3 attempts = 2 retries");
    assert!(
        never.problems[0].contains("after 3 attempt(s)"),
        "{:?}",
        never.problems
    );
    assert!(!out.complete());
}

#[test]
fn from_after_to_is_refused() {
    let o = ReplayOptions {
        from_ms: T0,
        to_ms: T0 - 1,
        ..ReplayOptions::default()
    };
    let e = plan(&groups(RULES), &RuleSettings::default(), &o).unwrap_err();
    assert!(e.to_string().contains("is after to"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_query_at_the_evaluation_timestamp() {
    let rules = r#"
groups:
- name: q
  interval: 1m
  rules:
  - alert: WithQuery
    expr: x > 5
    labels:
      owner: '{{ with query "owner" }}{{ . | first | label "team" }}{{ end }}'
"#;
    let f = fake();
    f.set(
        "owner",
        Ok(vec![tocsin::sample::Sample {
            labels: Labels::from_pairs([("team", "db")]),
            value: 1.0,
            timestamp_ms: 0,
        }]),
    );
    let o = opts(1000);
    let settings = RuleSettings::default();
    let plans = plan(&groups(rules), &settings, &o).expect("plannable");
    let out = replay(&plans, &settings, f.clone(), None, &o).await;
    assert!(out.complete(), "{:?}", out.rules);
    let iv = &out.rules[0].intervals[0];
    assert_eq!(iv.labels.get("owner"), Some("db"));
    // One template query per active sample, each at the evaluation timestamp.
    let times: Vec<i64> = f.queries().iter().map(|q| (q.time_ms - T0) / MIN).collect();
    assert_eq!(times, vec![2, 3, 4, 5, 8, 9]);
}

/// Answers the windows before `until_ms` from `inner`; a query for a later window
/// interrupts the replay (as SIGTERM would) and never answers.
struct InterruptAt {
    inner: Arc<FakeQuerier>,
    until_ms: i64,
    cancel: tokio_util::sync::CancellationToken,
}

impl Querier for InterruptAt {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<tocsin::sample::Sample>, QueryError>> {
        self.inner.instant(q)
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        if q.start_ms < self.until_ms {
            return self.inner.range(q);
        }
        self.cancel.cancel();
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn an_interrupted_replay_stops_at_a_window_edge_and_says_where() {
    // One evaluation per window, ten windows; the query of the fourth never answers
    // and interrupts the replay while it waits.
    let o = opts(1);
    let q = Arc::new(InterruptAt {
        inner: fake(),
        until_ms: T0 + 3 * MIN,
        cancel: o.cancel.clone(),
    });
    let settings = RuleSettings::default();
    let plans = plan(&groups(RULES), &settings, &o).expect("plannable");
    // The bound only turns a hang (the signal ignored) into a failure.
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        replay(&plans, &settings, q, None, &o),
    )
    .await
    .expect("the replay ends once interrupted, without the answer it waits for");
    assert!(!out.complete(), "an interrupted replay is incomplete");
    for r in &out.rules {
        assert!(
            (1..=3).contains(&r.evaluations),
            "{}: the windows answered before the signal are evaluated, none after: {}",
            r.rule,
            r.evaluations
        );
        let said = r
            .problems
            .iter()
            .find(|p| p.contains("interrupted by a signal"));
        let said = said.unwrap_or_else(|| panic!("{}: {:?}", r.rule, r.problems));
        assert!(said.contains("of 10 windows"), "{said}");
        assert!(said.contains("not replayed from 2023-11-14T22:"), "{said}");
    }
}
