//! Limits on what one evaluation may produce (`-rule.max*`), in the rule core: a breach
//! fails the evaluation with a message naming the flag, the rule's health is `err`,
//! nothing is written and nothing is sent; the next good evaluation recovers.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::rules::{alerting_with, arc, ctx, recording, sample};
use tocsin::rule::{
    AlertingRule, EvalTime, Health, Limits, RecordingRule, Rule, RuleContext, StepOutput,
};
use tocsin::sample::Sample;
use tocsin::template::TemplateQuerier;

const T0: i64 = 1_700_000_000_000;

fn with_limits(limits: Limits) -> Arc<RuleContext> {
    let mut c = ctx();
    c.settings.limits = limits;
    arc(c)
}

fn alerting_rule(annotations: &[(&str, &str)], limits: Limits) -> AlertingRule {
    let spec = alerting_with("Big", "up == 0", 0, 0, &[], annotations);
    match Rule::new(&spec, with_limits(limits)) {
        Rule::Alerting(a) => *a,
        Rule::Recording(_) => unreachable!(),
    }
}

fn recording_rule(limits: Limits) -> RecordingRule {
    match Rule::new(&recording("job:up", "up", &[]), with_limits(limits)) {
        Rule::Recording(r) => *r,
        Rule::Alerting(_) => unreachable!(),
    }
}

/// The evaluation failed with a message containing `flag`: health `err`, the message
/// kept as the last error, no series.
fn assert_failed(out: &StepOutput, health: Health, last: Option<&str>, flag: &str) {
    let e = out.error.as_deref().expect("the evaluation fails");
    assert!(e.contains(flag), "{e}");
    assert_eq!(health, Health::Err);
    assert_eq!(last, Some(e));
    assert!(out.series.is_empty(), "nothing written: {:?}", out.series);
}

#[test]
fn a_label_value_over_the_limit_fails_the_alerting_rule_and_sends_nothing() {
    let limits = Limits {
        label_value_length: 1024,
        ..Limits::default()
    };
    let mut r = alerting_rule(&[], limits);
    let huge = "v".repeat(10 << 20);
    let out = r.step(
        Ok(vec![sample(&[("instance", "a"), ("blob", &huge)], 1.0)]),
        EvalTime::at(T0),
        None,
    );
    assert_failed(
        &out,
        r.health(),
        r.last_error(),
        "-rule.maxLabelValueLength=1 KiB",
    );
    assert!(out.error.unwrap().len() < 200, "the value is not quoted");
    assert!(r.alerts_to_send(T0).is_empty(), "nothing sent");
    assert_eq!(r.alerts().count(), 0, "no alert kept the monster");
    // The answer shrinks back: the rule recovers.
    let out = r.step(
        Ok(vec![sample(&[("instance", "a")], 1.0)]),
        EvalTime::at(T0 + 60_000),
        None,
    );
    assert!(out.error.is_none());
    assert_eq!(r.health(), Health::Ok);
}

#[test]
fn too_many_labels_or_a_long_name_fail_the_recording_rule() {
    let limits = Limits {
        labels_per_series: 4,
        label_name_length: 16,
        ..Limits::default()
    };
    let mut r = recording_rule(limits);
    let many: Vec<(String, String)> = (0..5).map(|i| (format!("l{i}"), "x".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let out = r.step(Ok(vec![sample(&many, 1.0)]), EvalTime::at(T0));
    // `__name__` is one of them: job:up plus five is six.
    assert_failed(
        &out,
        r.health(),
        r.last_error(),
        "-rule.maxLabelsPerSeries=4",
    );
    let long = "n".repeat(17);
    let out = r.step(
        Ok(vec![sample(&[(long.as_str(), "1")], 1.0)]),
        EvalTime::at(T0),
    );
    assert_failed(
        &out,
        r.health(),
        r.last_error(),
        "-rule.maxLabelNameLength=16",
    );
    let out = r.step(Ok(vec![sample(&[("job", "a")], 1.0)]), EvalTime::at(T0));
    assert!(out.error.is_none());
    assert_eq!(out.series.len(), 1);
}

#[test]
fn annotations_over_the_size_limit_fail_the_rule() {
    let limits = Limits {
        annotations_size: 64 << 10,
        ..Limits::default()
    };
    // 1 MiB of annotation per alert, from a template: 500 series would make one
    // /api/v1/alerts answer of half a gigabyte.
    let text = "{{ $labels.instance }}".to_string() + &"a".repeat(1 << 20);
    let mut r = alerting_rule(&[("description", text.as_str())], limits);
    let samples: Vec<Sample> = (0..500)
        .map(|i| sample(&[("instance", &i.to_string())], 1.0))
        .collect();
    let out = r.step(Ok(samples), EvalTime::at(T0), None);
    assert_failed(
        &out,
        r.health(),
        r.last_error(),
        "-rule.maxAnnotationsSize=64 KiB",
    );
    assert!(r.alerts_to_send(T0).is_empty());
}

/// A datasource for templates that counts what reached it and answers `series`
/// samples to every query.
struct Counting {
    queries: AtomicUsize,
    series: usize,
}

impl TemplateQuerier for Counting {
    fn query(&self, _: &str) -> Result<Vec<Sample>, String> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        Ok((0..self.series)
            .map(|i| sample(&[("i", &i.to_string())], 1.0))
            .collect())
    }
}

#[test]
fn template_queries_are_budgeted_per_evaluation_not_per_render() {
    let limits = Limits {
        template_queries: 1000,
        ..Limits::default()
    };
    // Each render queries once, then once more per series of that answer (100 per
    // render at most): 500 alerts would send 500 × 100 queries.
    let tmpl = "{{ range query \"a\" }}{{ range query \"b\" }}{{ end }}{{ end }}";
    let mut r = alerting_rule(&[("summary", tmpl)], limits);
    let ds = Counting {
        queries: AtomicUsize::new(0),
        series: 99,
    };
    let samples: Vec<Sample> = (0..500)
        .map(|i| sample(&[("instance", &i.to_string())], 1.0))
        .collect();
    let out = r.step(Ok(samples), EvalTime::at(T0), Some(&ds));
    assert_failed(
        &out,
        r.health(),
        r.last_error(),
        "-rule.maxTemplateQueries=1000",
    );
    let sent = ds.queries.load(Ordering::Relaxed);
    assert!(sent <= 1000, "{sent} queries reached the datasource");
    assert!(r.alerts_to_send(T0).is_empty());
    // Within the budget the same rule evaluates.
    let ds = Counting {
        queries: AtomicUsize::new(0),
        series: 1,
    };
    let samples: Vec<Sample> = (0..10)
        .map(|i| sample(&[("instance", &i.to_string())], 1.0))
        .collect();
    let out = r.step(Ok(samples), EvalTime::at(T0 + 60_000), Some(&ds));
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(ds.queries.load(Ordering::Relaxed), 20);
}

#[test]
fn no_limits_means_none() {
    let mut r = alerting_rule(&[], Limits::none());
    let huge = "v".repeat(1 << 20);
    let out = r.step(
        Ok(vec![sample(&[("blob", &huge)], 1.0)]),
        EvalTime::at(T0),
        None,
    );
    assert!(out.error.is_none());
}
