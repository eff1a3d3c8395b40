//! The engine's groups on paused time (`tokio::time::pause`): the same manager, group
//! tasks and schedule that `tocsin` runs, on a clock that moves only when every task
//! sleeps, so hours of evaluation take milliseconds and every timestamp is exact. The
//! datasource is in-process; the real-server versions of these paths are in
//! `e2e_engine.rs` and `e2e_lifecycle.rs`.

mod support;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use support::engine::{HOUR, MIN, PausedEngine, SEC, T0};
use tocsin::clock::Clock;
use tocsin::datasource::fake::FakeQuerier;
use tocsin::datasource::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use tocsin::labels::Labels;
use tocsin::manager::restore::Restorer;
use tocsin::sample::Sample;
use tocsin::status::{AlertState, Health};

fn down(instance: &str) -> Sample {
    Sample {
        labels: Labels::from_pairs([("instance", instance)]),
        value: 0.0,
        timestamp_ms: 0,
    }
}

/// A group with `interval: 1m` and `eval_offset: 30s` first evaluates at `T0 + 10 s`.
const ONE_HOUR_FOR: &str = r#"groups:
  - name: slow
    interval: 1m
    eval_offset: 30s
    rules:
      - alert: Down
        expr: up == 0
        for: 1h
"#;

#[tokio::test(start_paused = true)]
async fn a_group_runs_for_simulated_hours_in_milliseconds() {
    let q = Arc::new(Scripted::default());
    q.inner.set("up == 0", Ok(vec![down("a")]));
    let r = PausedEngine::start(ONE_HOUR_FOR, q.clone(), Clock::tokio_at(T0), None).await;

    r.until(30 * MIN).await;
    assert_eq!(r.alerts("Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    // `for` has elapsed at T0 + 1h 10s, which is a tick: it fires there, not a tick later.
    r.until(HOUR + 10 * SEC - 1).await;
    assert_eq!(r.alerts("Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    r.until(HOUR + 10 * SEC + 1).await;
    assert_eq!(r.alerts("Down"), [(AlertState::Firing, T0 + 10 * SEC)]);

    q.inner.set("up == 0", Ok(vec![]));
    r.until(3 * HOUR).await;
    assert!(
        r.alerts("Down").is_empty(),
        "resolved once the series went away"
    );

    // One query per minute, on the tick, for three hours: none missed, none doubled.
    let want: Vec<i64> = (0..180).map(|k| T0 + 10 * SEC + k * MIN).collect();
    assert_eq!(q.query_times(), want);
    let last = UNIX_EPOCH + Duration::from_millis((T0 + 10 * SEC + 179 * MIN) as u64);
    assert_eq!(r.rule("Down").last_evaluation, Some(last));
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_late_evaluation_skips_the_ticks_it_overran_and_counts_them() {
    let first = T0 + 10 * SEC;
    // The third evaluation takes two and a half intervals.
    let q = Arc::new(Scripted {
        slow_at: vec![first + 2 * MIN],
        delay: Duration::from_secs(150),
        ..Scripted::default()
    });
    let r = PausedEngine::start(ONE_HOUR_FOR, q.clone(), Clock::tokio_at(T0), None).await;
    r.until(10 * MIN).await;

    // Ticks at +3m and +4m passed while the +2m evaluation ran (it ended at +4m30s):
    // the group goes on at +5m, still on its schedule.
    let mut want: Vec<i64> = vec![first, first + MIN, first + 2 * MIN];
    want.extend((5..10).map(|k| first + k * MIN));
    assert_eq!(q.query_times(), want);
    let text = r.metrics();
    assert!(
        text.lines()
            .any(|l| l.starts_with("tocsin_group_iterations_missed_total{") && l.ends_with(" 2")),
        "two skipped ticks counted:\n{text}"
    );
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_keeps_the_for_clock() {
    // Before the restart: pending since T0 + 10 s.
    let clock = Clock::tokio_at(T0);
    let q = Arc::new(Scripted::default());
    q.inner.set("up == 0", Ok(vec![down("a")]));
    let r = PausedEngine::start(ONE_HOUR_FOR, q.clone(), clock, None).await;
    r.until(20 * MIN).await;
    let before = r.alerts("Down");
    assert_eq!(before, [(AlertState::Pending, T0 + 10 * SEC)]);
    let restored: Vec<bool> = r.rule("Down").active_alerts().map(|a| a.restored).collect();
    assert_eq!(restored, [false], "first seen by this engine, not restored");
    r.stop().await;

    // After it, five minutes later: a new engine reads back the `ALERTS_FOR_STATE`
    // series the first one wrote (answered in-process: its value is activeAt in seconds).
    let q2 = Arc::new(Scripted {
        for_state_s: Some((before[0].1 / 1000) as f64),
        ..Scripted::default()
    });
    q2.inner.set("up == 0", Ok(vec![down("a")]));
    let restorer = Arc::new(Restorer {
        querier: q2.clone(),
        lookback: Duration::from_secs(3600),
        external_labels: Labels::empty(),
    });
    clock.sleep_until_ms(T0 + 25 * MIN).await;
    let r2 = PausedEngine::start(ONE_HOUR_FOR, q2.clone(), clock, Some(restorer)).await;
    r2.until(30 * MIN).await;
    assert_eq!(r2.alerts("Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    // The API says where its activeAt came from.
    let restored: Vec<bool> = r2
        .rule("Down")
        .active_alerts()
        .map(|a| a.restored)
        .collect();
    assert_eq!(restored, [true]);
    // Fires an hour after it first went pending, not an hour after the restart.
    r2.until(HOUR + 10 * SEC + 1).await;
    assert_eq!(r2.alerts("Down"), [(AlertState::Firing, T0 + 10 * SEC)]);
    r2.stop().await;
}

/// A group every 10 s, first evaluated at `T0 + 5 s` (ticks at 5 s past each 10 s).
const TEN_SECONDS: &str = r#"groups:
  - name: fast
    interval: 10s
    eval_offset: 5s
    rules:
      - alert: Down
        expr: up == 0
        for: 1h
"#;

/// A TSDB that hangs during the restore (a handover or a restart) delays the group's
/// first evaluation by one interval, not by `-datasource.queryTimeout` (30 s, three
/// intervals here) nor forever: the group then starts with no state.
#[tokio::test(start_paused = true)]
async fn a_hanging_restore_delays_the_first_evaluation_by_one_interval_at_most() {
    let q = Arc::new(Scripted {
        slow_expr: Some(r#"last_over_time(ALERTS_FOR_STATE{alertname="Down"}[3600s])"#),
        // Longer than the whole test: the restore never answers (the state it holds,
        // pending since T0 - 10m, never arrives).
        delay: Duration::from_secs(24 * 3600),
        for_state_s: Some(((T0 - 10 * MIN) / 1000) as f64),
        ..Scripted::default()
    });
    q.inner.set("up == 0", Ok(vec![down("a")]));
    let restorer = Arc::new(Restorer {
        querier: q.clone(),
        lookback: Duration::from_secs(3600),
        external_labels: Labels::empty(),
    });
    let r = PausedEngine::start(TEN_SECONDS, q.clone(), Clock::tokio_at(T0), Some(restorer)).await;
    r.until(MIN).await;
    // Without a restore the first tick is T0 + 5 s; the restore waited one interval
    // (10 s), so the group evaluates from the tick after it, T0 + 15 s, on schedule.
    let want: Vec<i64> = (0..5).map(|k| T0 + 15 * SEC + k * 10 * SEC).collect();
    assert_eq!(q.query_times(), want);
    // Started without the state it could not read: pending since its first evaluation.
    assert_eq!(r.alerts("Down"), [(AlertState::Pending, T0 + 15 * SEC)]);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn restore_asks_once_per_group_and_gives_each_rule_its_own_alerts() {
    let active_at = T0 - 10 * MIN;
    let q = Arc::new(Scripted {
        for_state_s: Some((active_at / 1000) as f64),
        ..Scripted::default()
    });
    q.inner.set("up == 0", Ok(vec![down("a")]));
    q.inner.set("late == 1", Ok(vec![down("a")]));
    let restorer = Arc::new(Restorer {
        querier: q.clone(),
        lookback: Duration::from_secs(3600),
        external_labels: Labels::empty(),
    });
    // ONE_HOUR_FOR's group with a second alerting rule.
    let two_alerts =
        format!("{ONE_HOUR_FOR}      - alert: Late\n        expr: late == 1\n        for: 1h\n");
    let r = PausedEngine::start(&two_alerts, q.clone(), Clock::tokio_at(T0), Some(restorer)).await;
    r.until(MIN).await;
    for name in ["Down", "Late"] {
        assert_eq!(r.alerts(name), [(AlertState::Pending, active_at)], "{name}");
    }
    let restores: Vec<String> = q
        .inner
        .queries()
        .into_iter()
        .filter(|q| q.expr.contains("ALERTS_FOR_STATE"))
        .map(|q| q.expr)
        .collect();
    assert_eq!(
        restores,
        [r#"last_over_time(ALERTS_FOR_STATE{alertname=~"Down|Late"}[3600s])"#],
        "one query for the group's two rules"
    );
    r.stop().await;
}

/// Two rules run one after the other: the first fails at once, the second waits 30 s
/// for its answer.
const BROKEN_THEN_SLOW: &str = r#"groups:
  - name: two
    interval: 1m
    eval_offset: 30s
    rules:
      - alert: Broken
        expr: broken
      - alert: Slow
        expr: slow
"#;

#[tokio::test(start_paused = true)]
async fn a_rules_health_shows_as_soon_as_the_rule_finished() {
    let q = Arc::new(Scripted {
        slow_expr: Some("slow"),
        delay: Duration::from_secs(30),
        ..Scripted::default()
    });
    let failed = QueryError::Failed {
        error_type: "execution".into(),
        error: "query timed out in expression evaluation".into(),
    };
    q.inner.set("broken", Err(failed));
    let r = PausedEngine::start(BROKEN_THEN_SLOW, q.clone(), Clock::tokio_at(T0), None).await;
    // The evaluation began at T0 + 10 s; the second rule waits for its answer until
    // T0 + 40 s, but the first one's failure is on the board already.
    r.until(11 * SEC).await;
    let broken = r.rule("Broken");
    assert_eq!(broken.health, Health::Err);
    assert!(
        broken
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("timed out")
    );
    assert_eq!(
        r.rule("Slow").health,
        Health::Unknown,
        "still waiting for its answer"
    );
    r.until(41 * SEC).await;
    assert_eq!(r.rule("Slow").health, Health::Ok);
    r.stop().await;
}

/// The alerts whose `ALERTS_FOR_STATE` series [`Scripted`] holds, whatever the query
/// selects (the restorer must pick its rules' own).
const FOR_STATE_NAMES: &[&str] = &["Down", "Late", "Elsewhere"];

/// Answers like a [`FakeQuerier`] (which logs every query), except that a query at one
/// of `slow_at` (or of the expression `slow_expr`) first takes `delay`, and
/// `ALERTS_FOR_STATE` answers one series for instance `a` of each of
/// [`FOR_STATE_NAMES`] with value `for_state_s` when set.
#[tokio::test(start_paused = true)]
async fn a_panicking_evaluation_costs_its_rule_that_evaluation_only() {
    let rules = r#"groups:
  - name: g
    interval: 1m
    eval_offset: 30s
    rules:
      - record: before
        expr: up == 0
      - alert: Broken
        expr: broken
      - alert: Down
        expr: up == 0
"#;
    let q = Arc::new(Scripted {
        panic_expr: Some("broken"),
        ..Scripted::default()
    });
    q.inner.set("up == 0", Ok(vec![down("a")]));
    let r = PausedEngine::start(rules, q.clone(), Clock::tokio_at(T0), None).await;
    r.until(2 * MIN + 20 * SEC).await;

    let broken = r.rule("Broken");
    assert_eq!(broken.health, Health::Err);
    let error = broken.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("internal error") && error.contains("querying broken panicked"),
        "{error}"
    );
    // The rules before and after it evaluated at every tick, and the group went on.
    for name in ["before", "Down"] {
        let s = r.rule(name);
        assert_eq!(s.health, Health::Ok, "{name}");
        let last = UNIX_EPOCH + Duration::from_millis((T0 + 2 * MIN + 10 * SEC) as u64);
        assert_eq!(s.last_evaluation, Some(last), "{name}");
    }
    assert_eq!(r.alerts("Down"), [(AlertState::Firing, T0 + 10 * SEC)]);
    assert_eq!(
        q.query_times().len(),
        6,
        "two rules querying `up == 0` at 3 ticks"
    );
    r.stop().await;
}

#[derive(Default)]
struct Scripted {
    inner: FakeQuerier,
    slow_at: Vec<i64>,
    slow_expr: Option<&'static str>,
    /// Querying this expression panics (a bug in a datasource client).
    panic_expr: Option<&'static str>,
    delay: Duration,
    for_state_s: Option<f64>,
}

impl Scripted {
    /// Evaluation timestamps of the rule's queries, in order.
    fn query_times(&self) -> Vec<i64> {
        let queries = self.inner.queries();
        queries
            .iter()
            .filter(|q| q.expr == "up == 0")
            .map(|q| q.time_ms)
            .collect()
    }
}

impl Querier for Scripted {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move {
            if self.panic_expr == Some(q.expr.as_str()) {
                panic!("querying {} panicked", q.expr);
            }
            if self.slow_at.contains(&q.time_ms) || self.slow_expr == Some(q.expr.as_str()) {
                tokio::time::sleep(self.delay).await;
            }
            let answer = self.inner.instant(q).await;
            match self.for_state_s {
                Some(v) if q.expr.contains("ALERTS_FOR_STATE") => Ok(FOR_STATE_NAMES
                    .iter()
                    .map(|name| Sample {
                        labels: Labels::from_pairs([
                            ("__name__", "ALERTS_FOR_STATE"),
                            ("alertname", name),
                            ("instance", "a"),
                        ]),
                        value: v,
                        timestamp_ms: q.time_ms,
                    })
                    .collect()),
                _ => answer,
            }
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        self.inner.range(q)
    }
}
