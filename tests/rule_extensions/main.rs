//! tocsin's alerting-rule extensions step by step, with explicit timestamps:
//! `recover_expr` (hysteresis) and `for_count` (dampening), alone and with `for`,
//! `keep_firing_for`, a reload (`update`), a restart (`restore`) and replay.
//!
//! Rules are loaded from YAML, as a user writes them, into a group with a 1-minute
//! interval. The datasource is simulated from a CPU value per instance and step: `expr`
//! is `cpu > 90`, `recover_expr` is `cpu < 70`, so each test reads as a CPU curve.

mod dampening;
mod flapping;
mod hysteresis;
mod policy;
mod replay;

use std::path::Path;
use std::sync::Arc;

use tocsin::config::{Group, LoadOptions, load_str};
use tocsin::labels::Labels;
use tocsin::rule::{
    Alert, AlertState, AlertingRule, Answer, EvalTime, RuleContext, RuleSettings, StepOutput,
};
use tocsin::sample::Sample;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// The one group of a file holding `rule` (a YAML list item, indented for `rules:`).
fn group(rule: &str) -> Arc<Group> {
    let text = format!("groups:\n- name: g\n  interval: 1m\n  rules:\n{rule}");
    load_str(Path::new("rules.yml"), &text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("rules load: {e:?}"))
        .remove(0)
}

fn settings() -> RuleSettings {
    RuleSettings {
        disable_alertgroup_label: true,
        ..RuleSettings::default()
    }
}

/// The alerting rule `rule` as the engine builds it.
fn alerting(rule: &str) -> AlertingRule {
    let g = group(rule);
    let ctx = Arc::new(RuleContext::for_group(&g, &settings()));
    AlertingRule::new(&g.rules[0], ctx)
}

/// `High` on `cpu > 90`, with `extra` keys (YAML lines, indented as rule keys).
fn high(extra: &str) -> AlertingRule {
    alerting(&format!(
        "  - alert: High\n    expr: cpu > 90\n{extra}    labels:\n      severity: page\n"
    ))
}

fn cpu_sample(name: &str, instance: &str, v: f64) -> Sample {
    Sample {
        labels: Labels::from_pairs([("__name__", name), ("instance", instance)]),
        value: v,
        timestamp_ms: 0,
    }
}

/// What the datasource answers for `cpu > 90` and `cpu < 70` when `cpu` is `values`.
fn answer(values: &[(&str, f64)]) -> Answer {
    let filter = |keep: &dyn Fn(f64) -> bool| -> Vec<Sample> {
        values
            .iter()
            .filter(|(_, v)| keep(*v))
            .map(|(i, v)| cpu_sample("cpu", i, *v))
            .collect()
    };
    Answer {
        expr: Ok(filter(&|v| v > 90.0)),
        recover: Some(Ok(filter(&|v| v < 70.0))),
        has_data: None,
        partial: false,
    }
}

/// One evaluation at minute `m` with `cpu` at `values`.
fn eval(r: &mut AlertingRule, m: i64, values: &[(&str, f64)]) -> StepOutput {
    let out = r.step_answer(answer(values), EvalTime::at(T0 + m * MIN), None);
    assert_eq!(out.error, None, "minute {m}");
    out
}

/// The state of instance `inst`'s alert, `None` when the rule holds none.
fn state(r: &AlertingRule, inst: &str) -> Option<AlertState> {
    alert(r, inst).map(|a| a.state)
}

fn alert(r: &AlertingRule, inst: &str) -> Option<Alert> {
    r.alerts()
        .find(|a| a.labels.get("instance") == Some(inst))
        .cloned()
}

/// Feeds one CPU value of instance `a` per minute from minute 0 and returns the state
/// after each evaluation (`-` for no alert, `P`, `F`, `R` for resolved).
fn timeline(r: &mut AlertingRule, cpu: &[f64]) -> String {
    cpu.iter()
        .enumerate()
        .map(|(m, v)| {
            eval(r, m as i64, &[("a", *v)]);
            letter(state(r, "a"))
        })
        .collect()
}

fn letter(s: Option<AlertState>) -> char {
    match s {
        None => '-',
        Some(AlertState::Pending) => 'P',
        Some(AlertState::Firing) => 'F',
        Some(AlertState::Inactive) => 'R',
    }
}

/// The labels of `High`'s alert for `inst`, as `ALERTS_FOR_STATE` gives them back.
fn high_labels(inst: &str) -> Labels {
    Labels::from_pairs([
        ("alertname", "High"),
        ("instance", inst),
        ("severity", "page"),
    ])
}
