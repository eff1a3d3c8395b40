//! Rule steps in steady state, query excluded: the per-evaluation CPU cost of the
//! semantic core. Throughput is per series, so `thrpt` reads as series per second.
//!
//! - `alerting_step_steady_firing`: static labels and annotations, every alert firing;
//! - `alerting_step_templated`: the alerting rule of the live benchmark
//!   (`../shared/bench/mkrules.py`: a templated label and annotations reading
//!   `$labels` and `$value`), every alert firing, the same answer every time;
//! - `alerting_step_templated_new_values`: the same with a new value at every step, so
//!   annotations reading `$value` are rendered again;
//! - `recording_step`: the recording rule of the live benchmark.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tocsin::config::{AlertingSpec, LoadOptions, Rule, RuleKind, load_str};
use tocsin::labels::Labels;
use tocsin::rule::{self as core, AlertingRule, EvalTime, RuleContext};
use tocsin::sample::Sample;
use tocsin::template::Template;

fn rule() -> Rule {
    let t = |n: &str, v: &str| (n.to_string(), Template::parse(n, v).expect("parses"));
    Rule {
        kind: RuleKind::Alerting(std::sync::Arc::new(AlertingSpec {
            name: "HighLatency".into(),
            for_: Duration::from_secs(60),
            keep_firing_for: Duration::ZERO,
            annotations: vec![
                t("summary", "latency is high"),
                t("runbook", "https://runbooks/x"),
            ],
            ext: Default::default(),
        })),
        expr: "histogram_quantile(0.99, rate(http_duration_seconds_bucket[5m])) > 0.5".into(),
        labels: vec![t("severity", "page"), t("team", "api")],
        debug: false,
        update_entries_limit: None,
        index: 0,
        line: 1,
    }
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            labels: Labels::from_pairs([
                (
                    "instance".to_string(),
                    format!("10.0.{}.{}:9090", i / 250, i % 250),
                ),
                ("job".to_string(), "api".to_string()),
                ("handler".to_string(), format!("/v1/items/{}", i % 17)),
            ]),
            value: 0.75,
            timestamp_ms: 0,
        })
        .collect()
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("alerting_step_steady_firing");
    for n in [10usize, 1000] {
        let ctx = Arc::new(RuleContext {
            group_name: "bench".into(),
            group_labels: Labels::from_pairs([("cluster", "eu1")]),
            ..RuleContext::default()
        });
        let mut r = AlertingRule::new(&rule(), ctx);
        let input = samples(n);
        let mut ts = 1_700_000_000_000i64;
        // Reach steady state: every alert firing.
        for _ in 0..3 {
            r.step(Ok(input.clone()), EvalTime::at(ts), None);
            ts += 60_000;
        }
        assert_eq!(r.alerts().count(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || input.clone(),
                |inp| {
                    ts += 60_000;
                    let out = r.step(Ok(inp), EvalTime::at(ts), None);
                    std::hint::black_box(out.series.len())
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The live benchmark's rules (see `../shared/bench/mkrules.py`).
const LIVE_RULES: &str = r#"
groups:
  - name: group-0
    interval: 10s
    rules:
      - alert: BenchAlert0_0
        expr: up{job="bench", rule="0"} == 0
        for: 10s
        labels:
          severity: warning
          shard: "{{ $labels.zone }}"
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})"
          description: "Instance {{ $labels.instance }} in zone {{ $labels.zone }} has been down for more than 10 seconds."
      - record: bench:up:rule0_1
        expr: up{job="bench", rule="1"}
"#;

fn live_rule(index: usize) -> core::Rule {
    let groups = load_str(
        std::path::Path::new("bench.yml"),
        LIVE_RULES,
        &LoadOptions::default(),
    )
    .expect("valid rules");
    let ctx = Arc::new(RuleContext {
        group_name: "group-0".into(),
        interval: Duration::from_secs(10),
        ..RuleContext::default()
    });
    core::Rule::new(&groups[0].rules[index], ctx)
}

/// The mock datasource's answer: `up` series with `job`, `instance` and `zone`.
fn up_series(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            labels: Labels::from_pairs([
                ("__name__".to_string(), "up".to_string()),
                ("job".to_string(), "bench".to_string()),
                ("instance".to_string(), format!("host-{i}:9100")),
                ("zone".to_string(), format!("z{}", i % 3)),
            ]),
            value: 0.0,
            timestamp_ms: 0,
        })
        .collect()
}

/// Steps `rule` in steady state; `vary` gives every step's samples a new value.
fn bench_live(c: &mut Criterion, name: &str, index: usize, vary: bool) {
    let mut group = c.benchmark_group(name);
    for n in [10usize, 1000] {
        let mut r = live_rule(index);
        let input = up_series(n);
        let mut ts = 1_700_000_000_000i64;
        for _ in 0..3 {
            r.step(Ok(input.clone()), EvalTime::at(ts), None);
            ts += 10_000;
        }
        let mut value = 0.0;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || {
                    let mut inp = input.clone();
                    if vary {
                        value += 1.0;
                        inp.iter_mut().for_each(|s| s.value = value);
                    }
                    inp
                },
                |inp| {
                    ts += 10_000;
                    let out = r.step(Ok(inp), EvalTime::at(ts), None);
                    assert!(out.error.is_none());
                    std::hint::black_box(out.series.len())
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_live_rules(c: &mut Criterion) {
    bench_live(c, "alerting_step_templated", 0, false);
    bench_live(c, "alerting_step_templated_new_values", 0, true);
    bench_live(c, "recording_step", 1, false);
}

criterion_group!(benches, bench_step, bench_live_rules);
criterion_main!(benches);
