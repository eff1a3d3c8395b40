//! The PromQL engine through its public API, in the configuration tocsin's rule tests
//! use (a Prometheus server's and promtool's defaults: names dropped at once), which
//! Prometheus' own test suite (run with delayed name removal) does not cover.

use tocsin::labels::Labels;
use tocsin::promql::notation::SeqValue;
use tocsin::promql::notation::parse_series;
use tocsin::promql::{Engine, EngineOptions, PromqlError, Value};

/// Loads promqltest-style lines at a 1m step.
fn engine(lines: &[&str], opts: EngineOptions) -> Engine {
    let e = Engine::new(opts);
    for l in lines {
        let (labels, values) = parse_series(l).unwrap();
        let points = values.iter().enumerate().filter_map(|(i, v)| match v {
            SeqValue::Value(f) => Some((i as i64 * 60_000, *f)),
            SeqValue::Omitted => None,
        });
        e.add_series(&labels, points);
    }
    e
}

fn vector(e: &Engine, q: &str, t: i64) -> Vec<(String, f64)> {
    match e.instant(q, t).unwrap().value {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> = v
                .into_iter()
                .map(|s| (s.labels.to_string(), s.value))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{q}: {other:?}"),
    }
}

const DATA: [&str; 2] = [r#"a_total{job="x"} 0+10x10"#, r#"b_total{job="x"} 0+20x10"#];

#[test]
fn names_go_at_once_by_default() {
    let e = engine(&DATA, EngineOptions::default());
    // The name is gone before label_replace can read it (Prometheus without
    // promql-delayed-name-removal).
    let got = vector(
        &e,
        r#"label_replace(rate(a_total[5m]), "n", "$1", "__name__", "(.*)")"#,
        600_000,
    );
    assert_eq!(got, vec![(r#"{job="x"}"#.to_string(), 10.0 / 60.0)]);
    // Two series that become the same once their names go collide in the function.
    let err = e
        .instant(r#"rate({__name__=~"a_total|b_total"}[5m])"#, 600_000)
        .unwrap_err();
    assert_eq!(
        err,
        PromqlError::Eval("vector cannot contain metrics with the same labelset".into())
    );
    // Comparisons keep the name; `bool` and arithmetic drop it.
    assert_eq!(
        vector(&e, "a_total > 50", 600_000)[0].0,
        r#"{__name__="a_total", job="x"}"#
    );
    assert_eq!(
        vector(&e, "a_total > bool 50", 600_000)[0].0,
        r#"{job="x"}"#
    );
}

#[test]
fn delayed_removal_lets_label_replace_read_the_name() {
    let e = engine(
        &DATA,
        EngineOptions {
            delayed_name_removal: true,
            ..EngineOptions::default()
        },
    );
    let got = vector(
        &e,
        r#"label_replace(rate(a_total[5m]), "n", "$1", "__name__", "(.*)")"#,
        600_000,
    );
    assert_eq!(
        got,
        vec![(r#"{job="x", n="a_total"}"#.to_string(), 10.0 / 60.0)]
    );
}

#[test]
fn staleness_lookback_and_at() {
    let e = engine(
        &[r#"up{job="x"} 1 1 stale _ _ 2"#, r#"old{job="y"} 1"#],
        EngineOptions::default(),
    );
    // A stale marker ends the series at once; without one it lasts the 5m lookback.
    assert_eq!(vector(&e, "up", 60_000).len(), 1);
    assert!(vector(&e, "up", 120_000).is_empty());
    assert_eq!(vector(&e, "old", 299_999).len(), 1);
    assert!(vector(&e, "old", 300_000).is_empty());
    // `@` pins the time whatever the evaluation time.
    assert_eq!(
        vector(&e, "up @ 300", 0),
        vec![(r#"{__name__="up", job="x"}"#.to_string(), 2.0)]
    );
    let r = e.range("up", 0, 300_000, 60_000).unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(
        m[0].labels,
        Labels::from_pairs([("__name__", "up"), ("job", "x")])
    );
    assert_eq!(m[0].points, vec![(0, 1.0), (60_000, 1.0), (300_000, 2.0)]);
}
