//! Replay steps the same core as live evaluation: the extensions fire at the same
//! instants in a replay (range queries, windows of a few steps) as step by step.

use std::time::Duration;

use tocsin::datasource::QueryError;
use tocsin::datasource::fake::FakeQuerier;
use tocsin::replay::{ReplayOptions, ReplayOutcome, plan, replay};

use super::*;

const RULES: &str = "  - alert: Hysteresis\n    expr: cpu > 90\n    recover_expr: cpu < 70\n  - alert: Dampened\n    expr: cpu > 90\n    for_count: {n: 2, of: 3}\n";

/// Instance a's CPU, one value per minute from T0.
const CPU: [f64; 12] = [
    95.0, 80.0, 75.0, 60.0, 95.0, 50.0, 95.0, 85.0, 95.0, 95.0, 65.0, 50.0,
];

/// The minutes at which each rule's alert fires, stepping the rules one by one.
fn live() -> Vec<Vec<i64>> {
    let g = group(RULES);
    let ctx = Arc::new(RuleContext::for_group(&g, &RuleSettings::default()));
    g.rules
        .iter()
        .map(|spec| {
            let mut r = AlertingRule::new(spec, ctx.clone());
            let mut firing = Vec::new();
            for (m, v) in CPU.iter().enumerate() {
                let m = m as i64;
                eval(&mut r, m, &[("a", *v)]);
                if state(&r, "a") == Some(AlertState::Firing) {
                    firing.push(m);
                }
            }
            firing
        })
        .collect()
}

/// The datasource over the range: both expressions as range answers.
fn datasource() -> Arc<FakeQuerier> {
    let f = Arc::new(FakeQuerier::new());
    let labels = Labels::from_pairs([("__name__", "cpu"), ("instance", "a")]);
    let points = |keep: fn(f64) -> bool| -> Vec<(i64, f64)> {
        CPU.iter()
            .enumerate()
            .filter(|(_, v)| keep(**v))
            .map(|(m, v)| (T0 + m as i64 * MIN, *v))
            .collect()
    };
    f.set_range("cpu > 90", Ok(vec![(labels.clone(), points(|v| v > 90.0))]));
    f.set_range("cpu < 70", Ok(vec![(labels, points(|v| v < 70.0))]));
    f
}

/// Replay over `steps` minutes from T0 in windows of `max_points` steps (so that held and
/// counted state must cross window edges), with no retry delays.
fn windowed(steps: usize, max_points: usize) -> ReplayOptions {
    ReplayOptions {
        from_ms: T0,
        to_ms: T0 + (steps as i64 - 1) * MIN,
        max_points,
        retry_attempts: 1,
        retry_backoff: Duration::from_millis(1),
        rules_delay: Duration::ZERO,
        ..ReplayOptions::default()
    }
}

/// The minutes at which each replayed rule's alert fired; no rule may have failed.
fn firing_minutes(out: &ReplayOutcome) -> Vec<Vec<i64>> {
    out.rules
        .iter()
        .map(|r| {
            assert_eq!(r.errors, 0, "{:?}", r.problems);
            r.intervals
                .iter()
                .filter(|i| i.state == "firing")
                .flat_map(|i| ((i.from - T0) / MIN)..=((i.to - T0) / MIN))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn replay_fires_at_the_same_instants_as_live_evaluation() {
    let groups = vec![group(RULES)];
    let settings = RuleSettings::default();
    // Windows of five steps: held and counted state must cross window edges.
    let o = windowed(CPU.len(), 5);
    let plans = plan(&groups, &settings, &o).expect("plannable");
    let f = datasource();
    let out = replay(&plans, &settings, f.clone(), None, &o).await;
    assert!(out.complete(), "{:?}", out.rules);
    let replayed = firing_minutes(&out);
    let want = live();
    // Hysteresis: fires at 0 and holds through 80 and 75 until 60 at minute 3; fires
    // again at 4 and holds (50 at minute 5 recovers it); 6–9 fire or hold; 65 at 10.
    assert_eq!(want[0], [0, 1, 2, 4, 6, 7, 8, 9]);
    // Dampening: two of three at minutes 6 (4, 6), 8 (6, 8) and 9.
    assert_eq!(want[1], [6, 8, 9]);
    assert_eq!(replayed, want);
    let recover_queries = f
        .range_queries()
        .iter()
        .filter(|q| q.expr == "cpu < 70")
        .count();
    assert_eq!(
        recover_queries, 3,
        "one range query per window of five steps"
    );
}

/// Instance a's CPU with gaps (no data at all), one value per minute from T0.
const GAPPY: [Option<f64>; 10] = [
    Some(95.0),
    None,
    None,
    None,
    Some(50.0),
    None,
    Some(95.0),
    None,
    None,
    Some(95.0),
];

const NO_DATA_RULE: &str =
    "  - alert: Gaps\n    expr: cpu > 90\n    no_data: {after: 1m, state: alerting}\n";

/// (alertstate_reason or "", minute) of every firing alert, evaluation by evaluation.
type Firing = Vec<(String, i64)>;

/// The firing minutes of the first replayed rule's alerts, as [`firing_of`] lists them.
fn firing_by_reason(out: &ReplayOutcome) -> Firing {
    let mut replayed: Firing = out.rules[0]
        .intervals
        .iter()
        .filter(|i| i.state == "firing")
        .flat_map(|i| {
            let reason = i.labels.get("alertstate_reason").unwrap_or("").to_string();
            ((i.from - T0) / MIN..=(i.to - T0) / MIN).map(move |m| (reason.clone(), m))
        })
        .collect();
    replayed.sort_by_key(|(_, m)| *m);
    replayed
}

fn firing_of<'a>(alerts: impl Iterator<Item = &'a Alert>, m: i64, out: &mut Firing) {
    for a in alerts.filter(|a| a.state == AlertState::Firing) {
        let reason = a.labels.get("alertstate_reason").unwrap_or("").to_string();
        out.push((reason, m));
    }
}

#[tokio::test]
async fn no_data_alerts_fire_at_the_same_instants_in_replay() {
    let g = group(NO_DATA_RULE);
    let ctx = Arc::new(RuleContext::for_group(&g, &RuleSettings::default()));
    let mut r = AlertingRule::new(&g.rules[0], ctx);
    let presence = r.presence_query().expect("no_data asks").to_string();
    assert_eq!(presence, "count(cpu)");
    let mut live = Firing::new();
    for (m, v) in GAPPY.iter().enumerate() {
        let expr: Vec<Sample> = v
            .filter(|v| *v > 90.0)
            .map(|v| cpu_sample("cpu", "a", v))
            .into_iter()
            .collect();
        let has_data = expr.is_empty().then_some(v.is_some());
        let answer = Answer {
            expr: Ok(expr),
            recover: None,
            has_data,
            partial: false,
        };
        let out = r.step_answer(answer, EvalTime::at(T0 + m as i64 * MIN), None);
        assert_eq!(out.error, None);
        firing_of(r.alerts(), m as i64, &mut live);
    }
    // a fires at 0; no data from 1: kept at 1, resolved at 2 when the no-data alert
    // fires, until data at 4; again from 5 (kept), the no-data alert fires only at 8
    // (a returned at 6 and kept at 7).
    let want: Firing = [
        ("", 0),
        ("", 1),
        ("no_data", 2),
        ("no_data", 3),
        ("", 6),
        ("", 7),
        ("no_data", 8),
        ("", 9),
    ]
    .iter()
    .map(|(r, m)| (r.to_string(), *m))
    .collect();
    assert_eq!(live, want);

    let f = Arc::new(FakeQuerier::new());
    let labels = Labels::from_pairs([("__name__", "cpu"), ("instance", "a")]);
    let points = |keep: fn(f64) -> bool, value: fn(f64) -> f64| -> Vec<(i64, f64)> {
        GAPPY
            .iter()
            .enumerate()
            .filter_map(|(m, v)| {
                v.filter(|v| keep(*v))
                    .map(|v| (T0 + m as i64 * MIN, value(v)))
            })
            .collect()
    };
    f.set_range("cpu > 90", Ok(vec![(labels, points(|v| v > 90.0, |v| v))]));
    f.set_range(
        &presence,
        Ok(vec![(Labels::empty(), points(|_| true, |_| 1.0))]),
    );
    let o = windowed(GAPPY.len(), 4);
    let groups = vec![g];
    let plans = plan(&groups, &RuleSettings::default(), &o).expect("plannable");
    let out = replay(&plans, &RuleSettings::default(), f, None, &o).await;
    assert!(out.complete(), "{:?}", out.rules);
    let replayed = firing_by_reason(&out);
    assert_eq!(out.rules[0].errors, 0, "{:?}", out.rules[0].problems);
    assert_eq!(replayed, live);
}

const FLAPPING_RULES: &str = "  - alert: Flaps\n    expr: cpu > 90\n    for: 1m\n    flapping: {changes: 2, within: 5m}\n  - alert: Holds\n    expr: cpu > 90\n    keep_firing_for: 1m\n    flapping: {changes: 1, within: 4m, hold: true}\n";

#[tokio::test]
async fn flapping_rules_fire_at_the_same_instants_in_replay() {
    // `flapping` changes what is sent, never the state: with `for` and
    // `keep_firing_for`, and its history crossing window edges, replay's firing
    // intervals are live evaluation's.
    let g = group(FLAPPING_RULES);
    let ctx = Arc::new(RuleContext::for_group(&g, &RuleSettings::default()));
    let mut live = Vec::new();
    let mut flapped = Vec::new();
    for spec in &g.rules {
        let mut r = AlertingRule::new(spec, ctx.clone());
        let (mut firing, mut flapping) = (Vec::new(), Vec::new());
        for (m, v) in CPU.iter().enumerate() {
            let m = m as i64;
            eval(&mut r, m, &[("a", *v)]);
            if let Some(a) = alert(&r, "a") {
                if a.state == AlertState::Firing {
                    firing.push(m);
                }
                if r.is_flapping(&a) {
                    flapping.push(m);
                }
            }
        }
        live.push(firing);
        flapped.push(flapping);
    }
    // Flaps (`for` 1m) fires only after two minutes in a row above 90: at 9.
    assert_eq!(live[0], [9]);
    // Holds: fires at 0 and is kept a minute after each fall: 0-1, 4-5, 6-7, 8-10.
    assert_eq!(live[1], [0, 1, 4, 5, 6, 7, 8, 9, 10]);
    assert!(!flapped[1].is_empty(), "the curve makes Holds flap");
    let o = windowed(CPU.len(), 5);
    let groups = vec![g];
    let plans = plan(&groups, &RuleSettings::default(), &o).expect("plannable");
    let out = replay(&plans, &RuleSettings::default(), datasource(), None, &o).await;
    assert!(out.complete(), "{:?}", out.rules);
    let replayed = firing_minutes(&out);
    assert_eq!(replayed, live);
}

const ON_ERROR_RULE: &str =
    "  - alert: Errs\n    expr: cpu > 90\n    on_error: {after: 1m, state: alerting}\n";

#[tokio::test]
async fn on_error_alerts_fire_at_the_same_instants_in_replay() {
    // Minutes 4-7 fail (live: each evaluation; replay: the window of those four steps).
    let failing = 4..=7;
    let g = group(ON_ERROR_RULE);
    let ctx = Arc::new(RuleContext::for_group(&g, &RuleSettings::default()));
    let mut r = AlertingRule::new(&g.rules[0], ctx);
    let mut live = Firing::new();
    for (m, v) in CPU.iter().enumerate() {
        let m = m as i64;
        let t = EvalTime::at(T0 + m * MIN);
        if failing.contains(&m) {
            r.step_answer(Answer::of(Err("bad_data".into())), t, None);
        } else {
            eval(&mut r, m, &[("a", *v)]);
        }
        firing_of(r.alerts(), m, &mut live);
    }
    // a fires at 0 (95), is gone at 3 (60) and stays gone through the errors; the error
    // alert fires a minute into them (5) until data comes back (8), where a fires again.
    let want: Firing = [
        ("", 0),
        ("error", 5),
        ("error", 6),
        ("error", 7),
        ("", 8),
        ("", 9),
    ]
    .iter()
    .map(|(r, m)| (r.to_string(), *m))
    .collect();
    assert_eq!(live, want);

    let o = windowed(CPU.len(), 4);
    let groups = vec![g];
    let plans = plan(&groups, &RuleSettings::default(), &o).expect("plannable");
    let f = datasource();
    let bad_data = QueryError::Status {
        url: "fake".into(),
        status: 422,
        message: "bad_data".into(),
    };
    f.fail_ranges_at(T0 + 4 * MIN, bad_data);
    let out = replay(&plans, &RuleSettings::default(), f, None, &o).await;
    assert_eq!(
        out.rules[0].errors, 4,
        "one per failed step: {:?}",
        out.rules[0]
    );
    let replayed = firing_by_reason(&out);
    assert_eq!(replayed, live);
}
