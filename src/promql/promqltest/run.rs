//! Runs the commands of a test file against the engine and checks each `eval` the way
//! Prometheus' runner does.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::Expr;

use super::{Command, EvalCmd, EvalKind, Expectation, Expected, Load, atmod};
use crate::labels::Labels;
use crate::promql::notation::SeqValue;
use crate::promql::value::{almost_equal, format_go};
use crate::promql::{Engine, EngineOptions, QueryResult, Value, parse};

/// How one `eval` went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// The case involves native histograms, which the engine does not support.
    Native,
}

/// The outcome of one `eval` command.
#[derive(Debug, Clone)]
pub struct EvalReport {
    pub line: usize,
    pub expr: String,
    pub outcome: Outcome,
}

/// The options Prometheus' PromQL tests run with.
pub fn test_options() -> EngineOptions {
    EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        delayed_name_removal: true,
        ..EngineOptions::default()
    }
}

/// Runs the commands; one report per `eval`.
pub fn run(commands: &[Command]) -> Vec<EvalReport> {
    let mut engine = Engine::new(test_options());
    let mut native: Vec<Labels> = Vec::new();
    let mut out = Vec::new();
    for c in commands {
        match c {
            Command::Clear => {
                engine = Engine::new(test_options());
                native.clear();
            }
            Command::Load(l) => load(&engine, l, &mut native),
            Command::Eval(e) => {
                let parsed = parse(&e.expr);
                let outcome = match &parsed {
                    _ if e.native => Outcome::Native,
                    Ok(x) if native.iter().any(|l| crate::promql::selects(x, l)) => Outcome::Native,
                    Ok(x) => match check_eval(&engine, e, x) {
                        Ok(()) => Outcome::Pass,
                        Err(m) => Outcome::Fail(m),
                    },
                    Err(err) => Outcome::Fail(format!("cannot parse: {err}")),
                };
                out.push(EvalReport {
                    line: e.line,
                    expr: e.expr.clone(),
                    outcome,
                });
            }
        }
    }
    out
}

fn load(engine: &Engine, l: &Load, native: &mut Vec<Labels>) {
    native.extend(l.native_series.iter().cloned());
    let mut store = engine.store_mut();
    for (labels, values) in &l.series {
        if l.with_nhcb {
            native.extend(nhcb_series(labels));
        }
        for (i, v) in values.iter().enumerate() {
            if let SeqValue::Value(f) = v {
                store.append(labels, i as i64 * l.step_ms, *f);
            }
        }
    }
}

/// The native histogram `load_with_nhcb` makes of a classic histogram's series.
fn nhcb_series(labels: &Labels) -> Option<Labels> {
    let name = labels.get("__name__")?;
    let base = ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|s| name.strip_suffix(s))?;
    let mut b = labels.to_builder();
    b.set("__name__", base).del("le");
    Some(b.build())
}

fn check_eval(engine: &Engine, e: &EvalCmd, expr: &Expr) -> Result<(), String> {
    match e.kind {
        EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        } => {
            let r = engine.range_expr(expr, start_ms, end_ms, step_ms);
            let Some(r) = check_error(e, r.map_err(|x| x.to_string()))? else {
                return Ok(());
            };
            check_annotations(e, &r)?;
            compare(e, &r.value, start_ms, end_ms, step_ms)
        }
        EvalKind::Instant { at_ms } => {
            let mut queries = vec![(expr.clone(), at_ms)];
            queries.extend(atmod::variants(expr, at_ms));
            for (q, t) in queries {
                check_instant(engine, e, &q, t)?;
            }
            Ok(())
        }
    }
}

/// Applies the failure expectations: `Ok(None)` when an expected failure happened.
fn check_error(e: &EvalCmd, r: Result<QueryResult, String>) -> Result<Option<QueryResult>, String> {
    match r {
        Err(err) if e.fail => {
            for x in &e.fail_expectation {
                if !x.matches(&err) {
                    return Err(format!("expected error {} but got: {err}", describe(x)));
                }
            }
            Ok(None)
        }
        Err(err) => Err(format!("error evaluating query: {err}")),
        Ok(_) if e.fail => Err("expected error evaluating query but got none".into()),
        Ok(r) => Ok(Some(r)),
    }
}

fn describe(x: &Expectation) -> String {
    match x {
        Expectation::Message(m) => format!("{m:?}"),
        Expectation::Pattern(p) => format!("matching {:?}", p.as_str()),
    }
}

fn check_instant(engine: &Engine, e: &EvalCmd, expr: &Expr, t: i64) -> Result<(), String> {
    let r = engine.instant_expr(expr, t);
    let Some(r) = check_error(e, r.map_err(|x| x.to_string()))? else {
        return Ok(());
    };
    check_annotations(e, &r)?;
    compare(e, &r.value, t, t, 0)?;
    // The same query in range mode must give the same answer at t.
    let rr = engine
        .range_expr(expr, t - 60_000, t + 60_000, 60_000)
        .map_err(|x| format!("error evaluating query in range mode: {x}"))?;
    if e.ordered {
        return Ok(());
    }
    let Value::Matrix(m) = rr.value else {
        return Err("range mode did not return a matrix".into());
    };
    let at_t: Vec<crate::promql::Sample> = m
        .into_iter()
        .filter_map(|s| {
            s.points
                .iter()
                .find(|p| p.0 == t)
                .map(|p| crate::promql::Sample {
                    labels: s.labels.clone(),
                    value: p.1,
                    timestamp_ms: t,
                })
        })
        .collect();
    let v = match r.value {
        Value::Scalar { .. } => Value::Scalar {
            timestamp_ms: t,
            value: at_t.first().map(|s| s.value).unwrap_or(f64::NAN),
        },
        _ => Value::Vector(at_t),
    };
    compare(e, &v, t, t, 0).map_err(|m| format!("range mode: {m}"))
}

fn check_annotations(e: &EvalCmd, r: &QueryResult) -> Result<(), String> {
    if e.warn && r.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if e.info && r.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_expected(&e.expect_warn, &r.warnings, "warn")?;
    check_expected(&e.expect_info, &r.infos, "info")?;
    if e.no_warn && !r.warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {:?}", r.warnings));
    }
    if e.no_info && !r.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", r.infos));
    }
    Ok(())
}

fn check_expected(want: &[Expectation], got: &[String], kind: &str) -> Result<(), String> {
    if want.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for w in want {
        if !got.iter().any(|g| w.matches(g)) {
            return Err(format!(
                "expected {kind} annotation {} not found in {got:?}",
                describe(w)
            ));
        }
    }
    for g in got {
        if !want.iter().any(|w| w.matches(g)) {
            return Err(format!("unexpected {kind} annotation {g:?}"));
        }
    }
    Ok(())
}

/// Compares an answer with the expectation.
fn compare(e: &EvalCmd, v: &Value, start: i64, end: i64, step: i64) -> Result<(), String> {
    let expected: HashMap<&Labels, (&Vec<SeqValue>, usize)> = match &e.expected {
        Expected::Scalar(want) => {
            return match v {
                Value::Scalar { value, .. } if almost_equal(*want, *value, 1e-6) => Ok(()),
                Value::Scalar { value, .. } => Err(format!(
                    "expected scalar {} but got {}",
                    format_go(*want),
                    format_go(*value)
                )),
                other => Err(format!(
                    "expected scalar result, but got {}",
                    other.type_name()
                )),
            };
        }
        Expected::Series(s) => s.iter().map(|(l, v, p)| (l, (v, *p))).collect(),
    };
    match v {
        Value::Vector(samples) => {
            let mut seen = HashSet::new();
            for (i, s) in samples.iter().enumerate() {
                let Some((vals, pos)) = expected.get(&s.labels) else {
                    return Err(format!(
                        "unexpected metric {} in result, has value {}",
                        s.labels,
                        format_go(s.value)
                    ));
                };
                if e.ordered && *pos != i + 1 {
                    return Err(format!(
                        "expected metric {} at position {pos} but was at {}",
                        s.labels,
                        i + 1
                    ));
                }
                let want = match vals.first() {
                    Some(SeqValue::Value(f)) => *f,
                    _ => f64::NAN,
                };
                if !almost_equal(want, s.value, 1e-6) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        format_go(want),
                        s.labels,
                        format_go(s.value)
                    ));
                }
                seen.insert(&s.labels);
            }
            missing(&expected, &seen)
        }
        Value::Matrix(series) => compare_matrix(e, &expected, series, start, end, step),
        other => Err(format!(
            "expected vector or matrix result, but got {}",
            other.type_name()
        )),
    }
}

fn missing(
    expected: &HashMap<&Labels, (&Vec<SeqValue>, usize)>,
    seen: &HashSet<&Labels>,
) -> Result<(), String> {
    match expected.keys().find(|l| !seen.contains(**l)) {
        Some(l) => Err(format!("expected metric {l} not found")),
        None => Ok(()),
    }
}

fn compare_matrix(
    e: &EvalCmd,
    expected: &HashMap<&Labels, (&Vec<SeqValue>, usize)>,
    series: &[crate::promql::Series],
    start: i64,
    end: i64,
    step: i64,
) -> Result<(), String> {
    if e.ordered {
        return Err("expected ordered result, but query returned a matrix".into());
    }
    let mut seen = HashSet::new();
    for s in series {
        let Some((vals, _)) = expected.get(&s.labels) else {
            return Err(format!(
                "unexpected metric {} in result, has {:?}",
                s.labels, s.points
            ));
        };
        let mut want = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let t = start + i as i64 * step;
            if t > end {
                return Err(format!(
                    "expected {} points for {}, but query time range cannot return this many points",
                    vals.len(),
                    s.labels
                ));
            }
            if let SeqValue::Value(f) = v {
                want.push((t, *f));
            }
        }
        if want.len() != s.points.len() {
            return Err(format!(
                "expected {} points for {}, but got {:?}",
                want.len(),
                s.labels,
                s.points
            ));
        }
        for (w, g) in want.iter().zip(&s.points) {
            if w.0 != g.0 || !almost_equal(w.1, g.1, 1e-6) {
                return Err(format!(
                    "expected {}@{} for {} but got {}@{}",
                    format_go(w.1),
                    w.0,
                    s.labels,
                    format_go(g.1),
                    g.0
                ));
            }
        }
        seen.insert(&s.labels);
    }
    missing(expected, &seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::promqltest::parse as parse_file;

    fn outcomes(text: &str) -> Vec<Outcome> {
        run(&parse_file(text).unwrap())
            .into_iter()
            .map(|r| r.outcome)
            .collect()
    }

    const DATA: &str = "load 1m\n  up{job=\"a\"} 1 2 3\n  up{job=\"b\"} 5 5 5\n\n";

    #[test]
    fn right_answers_pass() {
        let t = format!(
            "{DATA}eval instant at 2m up\n  up{{job=\"a\"}} 3\n  up{{job=\"b\"}} 5\n\n\
             eval range from 0 to 2m step 1m up{{job=\"a\"}} * 2\n  {{job=\"a\"}} 2 4 6\n\n\
             eval instant at 1m scalar(up{{job=\"a\"}})\n  2\n\n\
             eval_fail instant at 1m up + on() up\n\n\
             eval_ordered instant at 2m sort_desc(up)\n  up{{job=\"b\"}} 5\n  up{{job=\"a\"}} 3\n"
        );
        assert_eq!(outcomes(&t), vec![Outcome::Pass; 5]);
    }

    #[test]
    fn wrong_answers_fail() {
        let cases = [
            "eval instant at 2m up\n  up{job=\"a\"} 4\n  up{job=\"b\"} 5\n",
            "eval instant at 2m up\n  up{job=\"a\"} 3\n",
            "eval instant at 2m up{job=\"a\"}\n  up{job=\"a\"} 3\n  up{job=\"c\"} 1\n",
            "eval range from 0 to 2m step 1m up{job=\"a\"}\n  up{job=\"a\"} 1 2\n",
            "eval_fail instant at 1m up\n",
            "eval_ordered instant at 2m sort(up)\n  up{job=\"b\"} 5\n  up{job=\"a\"} 3\n",
            "eval_warn instant at 2m up\n  up{job=\"a\"} 3\n  up{job=\"b\"} 5\n",
            "eval instant at 1m up + on() up\n",
        ];
        for c in cases {
            let got = outcomes(&format!("{DATA}{c}"));
            assert!(matches!(got[0], Outcome::Fail(_)), "{c}: {got:?}");
        }
    }

    #[test]
    fn native_histogram_cases_are_set_apart() {
        let t = "load 1m\n  h {{schema:0 sum:1 count:1}}x2\n  up 1\n\n\
                 eval instant at 1m h\n  {} 1\n\n\
                 eval instant at 0m up\n  up 1\n";
        assert_eq!(outcomes(t), vec![Outcome::Native, Outcome::Pass]);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let e = parse_file("load 1m\n  up 1 2 zz\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(
            parse_file("frobnicate\n")
                .unwrap_err()
                .message
                .contains("invalid command")
        );
    }
}
