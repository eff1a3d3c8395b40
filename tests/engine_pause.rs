//! Paused rules in the engine, on paused time: a paused rule is not queried, its alerts
//! are resolved at its first paused evaluation (or held, with `hold`), the other rules
//! of its group run on, and a pause with `until` ends by itself at the first evaluation
//! at or after it.

mod support;

use std::sync::Arc;

use support::engine::{MIN, PausedEngine, SEC, T0};
use tocsin::clock::Clock;
use tocsin::datasource::fake::FakeQuerier;
use tocsin::labels::Labels;
use tocsin::rule::pause::{Pause, PauseTarget};
use tocsin::sample::Sample;
use tocsin::status::{AlertState, PauseBook};

/// Two rules that fire at once, evaluated every 10 s from `T0 + 5 s`.
const RULES: &str = r#"groups:
  - name: g
    interval: 10s
    eval_offset: 5s
    rules:
      - alert: Paused
        expr: up == 1
      - alert: Running
        expr: other == 1
"#;

fn one() -> Vec<Sample> {
    vec![Sample {
        labels: Labels::from_pairs([("instance", "a")]),
        value: 1.0,
        timestamp_ms: 0,
    }]
}

fn pause(rule: Option<&str>, until_ms: Option<i64>, hold: bool) -> Pause {
    Pause {
        target: PauseTarget {
            file: "rules.yml".into(),
            group: "g".into(),
            rule: rule.map(str::to_string),
        },
        since_ms: T0,
        until_ms,
        by: "test".into(),
        reason: "maintenance".into(),
        note: String::new(),
        hold,
    }
}

/// The evaluation times (ms after T0) of `expr`.
fn times(q: &FakeQuerier, expr: &str) -> Vec<i64> {
    q.queries()
        .iter()
        .filter(|x| x.expr == expr)
        .map(|x| x.time_ms - T0)
        .collect()
}

async fn start() -> (Arc<FakeQuerier>, PausedEngine, PauseBook) {
    start_with(RULES).await
}

/// `rules` started over a datasource where `up == 1`, `up >= 1` and `other == 1` return
/// one series each.
async fn start_with(rules: &str) -> (Arc<FakeQuerier>, PausedEngine, PauseBook) {
    let q = Arc::new(FakeQuerier::new());
    for expr in ["up == 1", "up >= 1", "other == 1"] {
        q.set(expr, Ok(one()));
    }
    let r = PausedEngine::start(rules, q.clone(), Clock::tokio_at(T0), None).await;
    let book = PauseBook::new(r.engine.board.clone(), None);
    (q, r, book)
}

#[tokio::test(start_paused = true)]
async fn a_paused_rule_is_not_evaluated_and_resumes_at_until() {
    let (q, r, book) = start().await;
    r.until(10 * SEC).await;
    assert_eq!(r.alerts("Paused"), [(AlertState::Firing, T0 + 5 * SEC)]);

    // Paused at T0 + 10 s until T0 + 45 s: the evaluations at 15 s … 35 s skip it.
    book.pause(pause(Some("Paused"), Some(T0 + 45 * SEC), false))
        .await
        .unwrap();
    assert!(r.rule("Paused").paused.is_some(), "shown at once");
    assert!(r.rule("Running").paused.is_none());
    r.until(16 * SEC).await;
    assert!(
        r.alerts("Paused").is_empty(),
        "resolved at the first paused evaluation"
    );
    r.until(40 * SEC).await;
    assert_eq!(times(&q, "up == 1"), [5 * SEC]);
    assert_eq!(
        times(&q, "other == 1"),
        [5 * SEC, 15 * SEC, 25 * SEC, 35 * SEC],
        "the rest of the group runs on"
    );
    assert_eq!(r.alerts("Running"), [(AlertState::Firing, T0 + 5 * SEC)]);

    // Over at 45 s: evaluated there, firing anew, and the pause is gone.
    r.until(46 * SEC).await;
    assert_eq!(times(&q, "up == 1"), [5 * SEC, 45 * SEC]);
    assert_eq!(r.alerts("Paused"), [(AlertState::Firing, T0 + 45 * SEC)]);
    assert!(r.engine.board.pauses().is_empty());
    assert!(r.rule("Paused").paused.is_none());
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_group_pause_covers_every_rule_and_hold_keeps_the_alerts() {
    let (q, r, book) = start().await;
    r.until(10 * SEC).await;
    book.pause(pause(None, None, true)).await.unwrap();
    r.until(MIN).await;
    assert_eq!(times(&q, "up == 1"), [5 * SEC]);
    assert_eq!(times(&q, "other == 1"), [5 * SEC]);
    // Held: as they were before the pause.
    assert_eq!(r.alerts("Paused"), [(AlertState::Firing, T0 + 5 * SEC)]);
    assert_eq!(r.alerts("Running"), [(AlertState::Firing, T0 + 5 * SEC)]);
    let g = r.engine.board.snapshot()[0].clone();
    assert_eq!(g.paused.as_ref().unwrap().reason, "maintenance");

    // Resumed: the next evaluation continues from the held state (same activeAt).
    let target = pause(None, None, true).target;
    assert!(book.resume(&target).await.unwrap().is_some());
    r.until(MIN + 10 * SEC).await;
    assert_eq!(times(&q, "up == 1"), [5 * SEC, 65 * SEC]);
    assert_eq!(r.alerts("Paused"), [(AlertState::Firing, T0 + 5 * SEC)]);
    r.stop().await;
}

/// `Slow` waits `for: 20s`; `Kept` has `keep_firing_for: 1m`.
const TIMED: &str = r#"groups:
  - name: g
    interval: 10s
    eval_offset: 5s
    rules:
      - alert: Slow
        expr: up == 1
        for: 20s
      - alert: Kept
        expr: other == 1
        keep_firing_for: 1m
"#;

#[tokio::test(start_paused = true)]
async fn with_for_a_pending_alert_starts_over_after_a_pause_unless_held() {
    // Resolved by the pause: the pending alert is dropped (never sent), and after the
    // pause `for` counts from the first evaluation again.
    let (_, r, book) = start_with(TIMED).await;
    r.until(10 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Pending, T0 + 5 * SEC)]);
    let slow = pause(Some("Slow"), None, false);
    book.pause(slow.clone()).await.unwrap();
    r.until(16 * SEC).await;
    assert!(r.alerts("Slow").is_empty(), "dropped at 15 s");
    book.resume(&slow.target).await.unwrap();
    r.until(26 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Pending, T0 + 25 * SEC)]);
    r.until(36 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Pending, T0 + 25 * SEC)]);
    r.until(46 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Firing, T0 + 25 * SEC)]);
    r.stop().await;

    // Held: the pending alert keeps its `activeAt`, and the first evaluation after the
    // pause finds `for` elapsed since 5 s: it fires at once.
    let (_, r, book) = start_with(TIMED).await;
    r.until(10 * SEC).await;
    let held = pause(Some("Slow"), None, true);
    book.pause(held.clone()).await.unwrap();
    r.until(30 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Pending, T0 + 5 * SEC)]);
    book.resume(&held.target).await.unwrap();
    r.until(36 * SEC).await;
    assert_eq!(r.alerts("Slow"), [(AlertState::Firing, T0 + 5 * SEC)]);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn keep_firing_for_does_not_delay_the_resolution_of_a_paused_rule() {
    // `keep_firing_for` outlives a condition that went away; a pause is no such thing:
    // the operator switched the rule off, so its alert ends at the first paused
    // evaluation, and the condition found again after the pause is a new alert.
    let (_, r, book) = start_with(TIMED).await;
    r.until(10 * SEC).await;
    assert_eq!(r.alerts("Kept"), [(AlertState::Firing, T0 + 5 * SEC)]);
    let kept = pause(Some("Kept"), Some(T0 + 25 * SEC), false);
    book.pause(kept).await.unwrap();
    r.until(16 * SEC).await;
    assert!(
        r.alerts("Kept").is_empty(),
        "resolved at 15 s, not 1m later"
    );
    r.until(26 * SEC).await;
    assert_eq!(r.alerts("Kept"), [(AlertState::Firing, T0 + 25 * SEC)]);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_pause_also_of_a_changed_or_removed_rule() {
    let (q, mut r, book) = start().await;
    r.until(10 * SEC).await;
    book.pause(pause(Some("Paused"), None, false))
        .await
        .unwrap();
    // The rule's expression changes: the pause names file, group and rule, so the new
    // rule is paused too and its expression never queried.
    let changed = RULES.replace("up == 1", "up >= 1");
    r.reload(&changed).await;
    r.until(30 * SEC).await;
    assert!(r.rule("Paused").paused.is_some());
    assert!(times(&q, "up >= 1").is_empty());
    // The group leaves the files and comes back: still paused.
    r.reload("groups:\n  - name: h\n    rules:\n      - alert: H\n        expr: other == 1\n")
        .await;
    r.until(40 * SEC).await;
    assert_eq!(
        r.engine.board.pauses().len(),
        1,
        "kept while its group is gone"
    );
    r.reload(&changed).await;
    r.until(50 * SEC).await;
    assert!(r.rule("Paused").paused.is_some());
    assert!(times(&q, "up >= 1").is_empty());
    // Resumed: evaluated at the next tick.
    book.resume(&pause(Some("Paused"), None, false).target)
        .await
        .unwrap();
    r.until(56 * SEC).await;
    assert_eq!(times(&q, "up >= 1"), [55 * SEC]);
    r.stop().await;
}
