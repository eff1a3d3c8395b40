//! The evaluation loop on a fake store whose answers are functions of what was written
//! (no PromQL here: the engine has its own tests, and the corpus runs both together).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::driver::{Backend, GroupRun, InputData};
use super::file::{self, Flavour};
use crate::config;
use crate::labels::Labels;
use crate::sample::Sample;

type Answer = Box<dyn Fn(&[Sample], i64) -> Result<Vec<Sample>, String> + Send + Sync>;

/// A store that keeps every appended sample and answers expressions from a table.
#[derive(Default)]
struct Fake {
    written: Vec<Sample>,
    answers: HashMap<String, Answer>,
    /// Every (expression, time) asked, in order.
    asked: std::sync::Mutex<Vec<(String, i64)>>,
}

impl Fake {
    fn answer(
        mut self,
        expr: &str,
        f: impl Fn(&[Sample], i64) -> Result<Vec<Sample>, String> + Send + Sync + 'static,
    ) -> Self {
        self.answers.insert(expr.to_string(), Box::new(f));
        self
    }
}

impl Backend for Fake {
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<Sample>, String> {
        self.asked.lock().unwrap().push((expr.to_string(), t_ms));
        match self.answers.get(expr) {
            Some(f) => f(&self.written, t_ms),
            None => Ok(Vec::new()),
        }
    }

    fn append(&mut self, samples: &[Sample]) {
        self.written.extend_from_slice(samples);
    }

    fn dump(&self, _t_ms: i64) -> Result<super::driver::SeriesDump, String> {
        Err("no dump in the fake".into())
    }

    fn parse_labels(&self, text: &str) -> Result<Labels, String> {
        match text {
            "" => Ok(Labels::empty()),
            name if name.chars().all(|c| c.is_ascii_alphanumeric() || c == ':') => {
                Ok(Labels::from_pairs([("__name__", name)]))
            }
            _ => Err(format!("fake cannot parse {text:?}")),
        }
    }
}

/// The latest sample of each series named `name` at or before `t` (no lookback limit).
fn latest(written: &[Sample], name: &str, t: i64) -> Vec<Sample> {
    let mut by: HashMap<Labels, Sample> = HashMap::new();
    for s in written.iter().filter(|s| s.timestamp_ms <= t) {
        if s.labels.get("__name__") == Some(name) && !crate::rule::is_stale_nan(s.value) {
            let keep = by
                .get(&s.labels)
                .is_none_or(|o| o.timestamp_ms <= s.timestamp_ms);
            if keep {
                by.insert(s.labels.clone(), s.clone());
            }
        }
    }
    let mut v: Vec<Sample> = by.into_values().collect();
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

fn rules(yaml: &str) -> Vec<Arc<config::Group>> {
    config::load_str(
        Path::new("rules.yml"),
        yaml,
        &config::LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn test_file(yaml: &str) -> file::TestFile {
    file::parse(Path::new("t.yml"), yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn up(values: &[f64]) -> InputData {
    InputData {
        labels: Labels::from_pairs([("__name__", "up"), ("job", "a")]),
        samples: values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 60_000, *v))
            .collect(),
    }
}

fn run(
    tf: &file::TestFile,
    groups: &[Arc<config::Group>],
    fake: &mut Fake,
    input: Vec<InputData>,
) -> Vec<String> {
    GroupRun {
        test: &tf.tests[0],
        flavour: tf.flavour,
        evaluation_interval: tf.evaluation_interval,
        groups,
        fuzzy_compare: tf.fuzzy_compare,
        diff: false,
    }
    .run(fake, input)
    .errors
}

fn down_answer(w: &[Sample], t: i64) -> Result<Vec<Sample>, String> {
    Ok(latest(w, "up", t)
        .into_iter()
        .filter(|s| s.value == 0.0)
        .collect())
}

const DOWN_RULE: &str = r#"
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} is down ({{ $value }})"}
"#;

#[test]
fn alerts_fire_after_for_and_failures_read_like_promtool() {
    let tf = test_file(
        r#"
tests:
  - name: down
    alert_rule_test:
      - eval_time: 2m
        alertname: Down
        exp_alerts: []
      - eval_time: 3m30s
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: b}
            exp_annotations: {summary: "a is down (0)"}
"#,
    );
    let mut fake = Fake::default().answer("up == 0", down_answer);
    let errors = run(
        &tf,
        &rules(DOWN_RULE),
        &mut fake,
        vec![up(&[1.0, 0.0, 0.0, 0.0, 0.0])],
    );
    assert_eq!(
        errors,
        [r#"    name: down,
    alertname: Down, time: 3m30s, 
        exp:[
            0:
              Labels:{alertname="Down", job="b", severity="page"}
              Annotations:{summary="a is down (0)"}
            ], 
        got:[
            0:
              Labels:{alertname="Down", job="a", severity="page"}
              Annotations:{summary="a is down (0)"}
            ]"#]
    );
    // Evaluated at 0, 1m, 2m and 3m: the check at 3m30s reads the 3m evaluation, and
    // nothing past the largest eval_time runs.
    let times: Vec<i64> = fake.asked.lock().unwrap().iter().map(|a| a.1).collect();
    assert_eq!(times, [0, 60_000, 120_000, 180_000]);
    // ALERTS and ALERTS_FOR_STATE were written back, as Prometheus' rule manager does.
    let alerts: Vec<&Sample> = fake
        .written
        .iter()
        .filter(|s| s.labels.get("__name__") == Some("ALERTS"))
        .filter(|s| !crate::rule::is_stale_nan(s.value))
        .collect();
    assert_eq!(
        alerts.last().unwrap().labels.get("alertstate"),
        Some("firing")
    );
    assert_eq!(alerts.last().unwrap().timestamp_ms, 180_000);
}

#[test]
fn a_rule_error_ends_the_group_with_promtools_message() {
    let tf = test_file(
        "tests:\n  - promql_expr_test:\n      - expr: x\n        eval_time: 5m\n        exp_samples: [{labels: x, value: 1}]\n",
    );
    let groups =
        rules("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n");
    let mut fake = Fake::default().answer("vector(1)", |_, t| {
        if t < 120_000 {
            Ok(vec![])
        } else {
            Err("boom".into())
        }
    });
    let errors = run(&tf, &groups, &mut fake, vec![]);
    assert_eq!(errors, ["    rule: r, time: 2m0s, err: boom"]);
    assert!(
        !fake.asked.lock().unwrap().iter().any(|(e, _)| e == "x"),
        "the expression tests do not run after a rule error"
    );
}

#[test]
fn rule_results_are_visible_to_later_rules_at_once_and_to_expression_tests() {
    let tf = test_file(
        r#"
evaluation_interval: 30s
tests:
  - promql_expr_test:
      - expr: doubled
        eval_time: 1m
        exp_samples: [{labels: doubled, value: 4}]
      - expr: doubled
        eval_time: 1m
        exp_samples: [{labels: doubled, value: 5}]
"#,
    );
    let groups = rules(
        "groups:\n  - name: g\n    rules:\n      - record: base\n        expr: vector(2)\n      - record: doubled\n        expr: base * 2\n",
    );
    let mut fake = Fake::default()
        .answer("vector(2)", |_, t| {
            Ok(vec![Sample {
                labels: Labels::empty(),
                value: 2.0,
                timestamp_ms: t,
            }])
        })
        .answer("base * 2", |w, t| {
            // Only what was written at this very step counts: the rule before this one
            // must have been written already.
            Ok(latest(w, "base", t)
                .into_iter()
                .filter(|s| s.timestamp_ms == t)
                .map(|s| Sample {
                    labels: Labels::empty(),
                    value: s.value * 2.0,
                    timestamp_ms: t,
                })
                .collect())
        })
        .answer("doubled", |w, t| Ok(latest(w, "doubled", t)));
    let errors = run(&tf, &groups, &mut fake, vec![]);
    assert_eq!(
        errors,
        [
            "    expr: \"doubled\", time: 1m,\n        exp: {__name__=\"doubled\"} 5E+00\n        got: {__name__=\"doubled\"} 4E+00"
        ]
    );
}

#[test]
fn input_samples_appear_only_up_to_the_evaluation_reached() {
    let tf = test_file(
        "tests:\n  - promql_expr_test:\n      - expr: up\n        eval_time: 1m\n        exp_samples: [{labels: up, value: 0}]\n",
    );
    let mut fake = Fake::default().answer("up", |w, _| {
        // Whatever is stored, at any time: samples after 1m must not be there.
        Ok(w.iter()
            .filter(|s| s.timestamp_ms > 60_000)
            .cloned()
            .collect())
    });
    let errors = run(&tf, &[], &mut fake, vec![up(&[1.0, 2.0, 3.0, 4.0])]);
    assert_eq!(
        errors,
        ["    expr: \"up\", time: 1m,\n        exp: {__name__=\"up\"} 0E+00\n        got: nil"]
    );
    assert_eq!(fake.written.len(), 2);
}

#[test]
fn vmalert_tool_alerts_carry_their_group() {
    let tf = test_file(
        r#"
tests:
  - alert_rule_test:
      - eval_time: 3m
        groupname: g
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: a}
            exp_annotations: {summary: "a is down (0)"}
      - eval_time: 3m
        groupname: other
        alertname: Down
        exp_alerts: []
"#,
    );
    assert_eq!(tf.flavour, Flavour::VmalertTool);
    let mut fake = Fake::default().answer("up == 0", down_answer);
    let errors = run(
        &tf,
        &rules(DOWN_RULE),
        &mut fake,
        vec![up(&[1.0, 0.0, 0.0, 0.0])],
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn endless_evaluations_are_refused_before_they_start() {
    let tf = test_file(
        "evaluation_interval: 1ms\ntests:\n  - promql_expr_test:\n      - expr: x\n        eval_time: 100d\n",
    );
    let mut fake = Fake::default();
    let errors = run(&tf, &rules(DOWN_RULE), &mut fake, vec![]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("raise evaluation_interval or lower eval_time"),
        "{}",
        errors[0]
    );
    assert!(fake.asked.lock().unwrap().is_empty());
}

/// An engine whose series are `name` and whose values are a sample count.
struct FakeEngine {
    max: usize,
}

impl super::run::Engine for FakeEngine {
    fn new_backend(&self, _: std::time::Duration) -> Box<dyn Backend> {
        Box::new(Fake::default())
    }

    fn parse_input(
        &self,
        series: &str,
        values: &str,
        interval: std::time::Duration,
    ) -> Result<InputData, super::run::InputError> {
        let n: usize = values.parse().map_err(|_| super::run::InputError {
            in_values: true,
            column: 1,
            message: "not a count".into(),
        })?;
        let step = interval.as_millis() as i64;
        Ok(InputData {
            labels: Labels::from_pairs([("__name__", series)]),
            samples: (0..n).map(|i| (i as i64 * step, 1.0)).collect(),
        })
    }

    fn max_input_samples(&self) -> usize {
        self.max
    }
}

#[test]
fn input_past_the_group_limit_is_refused_where_it_overflows() {
    let dir = tempfile::tempdir().unwrap();
    let t = "tests:\n  - input_series:\n      - {series: a, values: 6}\n      - {series: b, values: 5}\n  - input_series:\n      - {series: a, values: x}\n";
    std::fs::write(dir.path().join("t.yml"), t).unwrap();
    let f = dir.path().join("t.yml").display().to_string();
    let out = super::test_rules_captured(
        std::slice::from_ref(&f),
        &Default::default(),
        &FakeEngine { max: 10 },
    );
    assert_eq!(out.exit_code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "  FAILED:\n{f}:4:29: input_series: the test group's series expand to more than 10 samples; use fewer or shorter series (or a longer interval)\n{f}:6:29: input_series values \"x\", column 1: not a count\n"
        )
    );
    assert_eq!(out.stdout, "\n\n\n");
    let out = super::test_rules_captured(&[f], &Default::default(), &FakeEngine { max: 11 });
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
}
