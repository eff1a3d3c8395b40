//! One alerting-rule step in steady state (every alert already firing), over 1,000 and
//! 10 result series: the per-evaluation CPU cost of the semantic core, query excluded.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tocsin::config::{AlertingSpec, Rule, RuleKind};
use tocsin::labels::Labels;
use tocsin::rule::{AlertingRule, EvalTime, RuleContext};
use tocsin::sample::Sample;
use tocsin::template::Template;

fn rule() -> Rule {
    let t = |n: &str, v: &str| (n.to_string(), Template::parse(n, v).expect("parses"));
    Rule {
        kind: RuleKind::Alerting(AlertingSpec {
            name: "HighLatency".into(),
            for_: Duration::from_secs(60),
            keep_firing_for: Duration::ZERO,
            annotations: vec![
                t("summary", "latency is high"),
                t("runbook", "https://runbooks/x"),
            ],
        }),
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

criterion_group!(benches, bench_step);
criterion_main!(benches);
