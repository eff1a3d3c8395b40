//! The engine's groups on paused time (`tokio::time::pause`): the same manager, group
//! tasks and schedule that `tocsin` runs, on a clock that moves only when every task
//! sleeps, so hours of evaluation take milliseconds and every timestamp is exact. The
//! datasource is in-process; the real-server versions of these paths are in
//! `e2e_engine.rs` and `e2e_lifecycle.rs`.

use std::sync::Arc;
use std::time::Duration;

use tocsin::clock::Clock;
use tocsin::config::{Group, LoadOptions, RuleSet, load_str};
use tocsin::datasource::fake::FakeQuerier;
use tocsin::datasource::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use tocsin::labels::Labels;
use tocsin::manager::restore::Restorer;
use tocsin::manager::{Engine, EvalMetrics, Manager};
use tocsin::rule::RuleSettings;
use tocsin::sample::Sample;
use tocsin::status::{AlertState, RuleStatus, StatusBoard};
use tokio_util::sync::CancellationToken;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// 2023-11-14T22:13:20Z: 20 s past a minute, so a group with `interval: 1m` and
/// `eval_offset: 30s` first evaluates at `T0 + 10 s`.
const T0: i64 = 1_700_000_000_000;

fn groups(text: &str) -> Vec<Arc<Group>> {
    load_str("rules.yml".as_ref(), text, &LoadOptions::default()).expect("test rules load")
}

/// A manager over `querier` on `clock`.
fn engine(querier: Arc<dyn Querier>, clock: Clock) -> (Manager, Arc<Engine>, CancellationToken) {
    let engine = Arc::new(Engine {
        querier,
        notifier: None,
        writer: None,
        board: Arc::new(StatusBoard::new()),
        settings: RuleSettings {
            disable_alertgroup_label: true,
            ..RuleSettings::default()
        },
        metrics: EvalMetrics::default(),
        clock,
    });
    let cancel = CancellationToken::new();
    (Manager::new(engine.clone(), cancel.clone()), engine, cancel)
}

/// Sleeps (on paused time: jumps) until the engine's clock reads `T0 + ms`.
async fn until(engine: &Engine, ms: i64) {
    engine.clock.sleep_until_ms(T0 + ms).await;
}

fn rule(engine: &Engine, name: &str) -> Arc<RuleStatus> {
    engine
        .board
        .snapshot()
        .iter()
        .flat_map(|g| g.rules.iter())
        .find(|r| &*r.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no rule {name} on the board"))
}

/// `(state, activeAt ms)` of each active alert of rule `name`.
fn alerts(engine: &Engine, name: &str) -> Vec<(AlertState, i64)> {
    rule(engine, name)
        .active_alerts()
        .map(|a| {
            let at = a.active_at.duration_since(std::time::UNIX_EPOCH).unwrap();
            (a.state, at.as_millis() as i64)
        })
        .collect()
}

fn down(instance: &str) -> Sample {
    Sample {
        labels: Labels::from_pairs([("instance", instance)]),
        value: 0.0,
        timestamp_ms: 0,
    }
}

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
    let q = Arc::new(FakeQuerier::new());
    q.set("up == 0", Ok(vec![down("a")]));
    let (mut m, e, cancel) = engine(q.clone(), Clock::tokio_at(T0));
    m.apply(
        &RuleSet {
            groups: groups(ONE_HOUR_FOR),
            files: vec![],
        },
        None,
    )
    .await;

    until(&e, 30 * MIN).await;
    assert_eq!(alerts(&e, "Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    // `for` has elapsed at T0 + 1h 10s, which is a tick: it fires there, not a tick later.
    until(&e, HOUR + 10 * SEC - 1).await;
    assert_eq!(alerts(&e, "Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    until(&e, HOUR + 10 * SEC + 1).await;
    assert_eq!(alerts(&e, "Down"), [(AlertState::Firing, T0 + 10 * SEC)]);

    q.set("up == 0", Ok(vec![]));
    until(&e, 3 * HOUR).await;
    assert!(
        alerts(&e, "Down").is_empty(),
        "resolved once the series went away"
    );

    // One query per minute, on the tick, for three hours: none missed, none doubled.
    let times: Vec<i64> = q.queries().iter().map(|q| q.time_ms).collect();
    let want: Vec<i64> = (0..180).map(|k| T0 + 10 * SEC + k * MIN).collect();
    assert_eq!(times, want);
    let r = rule(&e, "Down");
    assert_eq!(
        r.last_evaluation,
        Some(std::time::UNIX_EPOCH + Duration::from_millis((T0 + 10 * SEC + 179 * MIN) as u64))
    );
    cancel.cancel();
    m.wait().await;
}

/// Answers like `inner`, but a query at one of `slow_at` takes `delay`.
struct Slow {
    inner: FakeQuerier,
    slow_at: Vec<i64>,
    delay: Duration,
}

impl Querier for Slow {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move {
            if self.slow_at.contains(&q.time_ms) {
                tokio::time::sleep(self.delay).await;
            }
            self.inner.instant(q).await
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        self.inner.range(q)
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_evaluation_skips_the_ticks_it_overran_and_counts_them() {
    let first = T0 + 10 * SEC;
    let q = Arc::new(Slow {
        inner: FakeQuerier::new(),
        // The third evaluation takes two and a half intervals.
        slow_at: vec![first + 2 * MIN],
        delay: Duration::from_secs(150),
    });
    let (mut m, e, cancel) = engine(q.clone(), Clock::tokio_at(T0));
    m.apply(
        &RuleSet {
            groups: groups(ONE_HOUR_FOR),
            files: vec![],
        },
        None,
    )
    .await;
    until(&e, 10 * MIN).await;

    // Ticks at +3m and +4m passed while the +2m evaluation ran (it ended at +4m30s):
    // the group goes on at +5m, still on its schedule.
    let times: Vec<i64> = q.inner.queries().iter().map(|q| q.time_ms).collect();
    let mut want: Vec<i64> = vec![first, first + MIN, first + 2 * MIN];
    want.extend((5..10).map(|k| first + k * MIN));
    assert_eq!(times, want);
    let mut text = String::new();
    prometheus_client::encoding::text::encode_registry(&mut text, &{
        let mut r = prometheus_client::registry::Registry::default();
        e.metrics.register(&mut r);
        r
    })
    .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("tocsin_group_iterations_missed_total{") && l.ends_with(" 2")),
        "two skipped ticks counted:\n{text}"
    );
    cancel.cancel();
    m.wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_keeps_the_for_clock() {
    // Before the restart: pending since T0 + 10 s.
    let clock = Clock::tokio_at(T0);
    let q = Arc::new(FakeQuerier::new());
    q.set("up == 0", Ok(vec![down("a")]));
    let (mut m, e, cancel) = engine(q.clone(), clock);
    m.apply(
        &RuleSet {
            groups: groups(ONE_HOUR_FOR),
            files: vec![],
        },
        None,
    )
    .await;
    until(&e, 20 * MIN).await;
    let before = alerts(&e, "Down");
    assert_eq!(before, [(AlertState::Pending, T0 + 10 * SEC)]);
    cancel.cancel();
    m.wait().await;

    // After it: a new engine reads the `ALERTS_FOR_STATE` series the first one wrote
    // (here answered in-process: its value is activeAt in seconds).
    let q2 = Arc::new(AlertsForState {
        inner: FakeQuerier::new(),
        active_at_s: (before[0].1 / 1000) as f64,
    });
    q2.inner.set("up == 0", Ok(vec![down("a")]));
    let (mut m2, e2, cancel2) = engine(q2.clone(), clock);
    let restorer = Restorer {
        querier: q2.clone(),
        lookback: Duration::from_secs(3600),
        external_labels: Labels::empty(),
    };
    until(&e2, 25 * MIN).await;
    m2.apply(
        &RuleSet {
            groups: groups(ONE_HOUR_FOR),
            files: vec![],
        },
        Some(&restorer),
    )
    .await;
    until(&e2, 30 * MIN).await;
    assert_eq!(alerts(&e2, "Down"), [(AlertState::Pending, T0 + 10 * SEC)]);
    // Fires an hour after it first went pending, not an hour after the restart.
    until(&e2, HOUR + 10 * SEC + 1).await;
    assert_eq!(alerts(&e2, "Down"), [(AlertState::Firing, T0 + 10 * SEC)]);
    cancel2.cancel();
    m2.wait().await;
}

/// Answers `ALERTS_FOR_STATE` queries with one series for instance `a` of `Down`.
struct AlertsForState {
    inner: FakeQuerier,
    active_at_s: f64,
}

impl Querier for AlertsForState {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move {
            if q.expr.contains("ALERTS_FOR_STATE") && q.expr.contains(r#"alertname="Down""#) {
                return Ok(vec![Sample {
                    labels: Labels::from_pairs([
                        ("__name__", "ALERTS_FOR_STATE"),
                        ("alertname", "Down"),
                        ("instance", "a"),
                    ]),
                    value: self.active_at_s,
                    timestamp_ms: q.time_ms,
                }]);
            }
            self.inner.instant(q).await
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        self.inner.range(q)
    }
}
