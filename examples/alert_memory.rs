//! Heap bytes per active alert, beyond its label strings, in scenario C of the
//! side-by-side benchmark (docs/benchmarks.md): 10 alerting rules (the alerting rule of
//! `integration/bench/rules.py`: `for`, a static and a templated label, two templated
//! annotations), each answered by the same 1,000 series, every alert firing.
//!
//! The answer is built once and shared by every query (the fake datasource hands out
//! clones of the same label sets), so its label strings are counted once, before any
//! evaluation; everything the engine allocates on top while the alerts fire — alert
//! state, the alert's final label set, rendered annotations, the `ALERTS` and
//! `ALERTS_FOR_STATE` series, the render cache, the written-series record, the API
//! snapshot, per-rule metrics — is what an alert costs. The heap is measured with
//! dhat's allocator, so the figures are exact and repeatable.
//!
//! ```sh
//! cargo run --release --example alert_memory [SERIES] [RULES]
//! ```

use std::path::Path;
use std::sync::Arc;

use tocsin::config::{LoadOptions, load_str};
use tocsin::datasource::fake::FakeQuerier;
use tocsin::labels::Labels;
use tocsin::manager::{Engine, GroupRunner};
use tocsin::rule::{Alert, AlertingRule, EvalTime, Rule, RuleContext};
use tocsin::sample::Sample;

#[path = "support/bench.rs"]
mod bench;
use bench::{alerting_rule, answer, live};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const EXPR: &str = r#"up{job="bench"} == 0"#;

fn rules_yaml(rules: usize) -> String {
    let mut y = String::from("groups:\n  - name: bench\n    interval: 10s\n    rules:\n");
    for r in 0..rules {
        y += &alerting_rule(&format!("Bench_{r}"), EXPR);
    }
    y
}

fn label_string_bytes(samples: &[Sample]) -> usize {
    samples
        .iter()
        .flat_map(|s| s.labels.iter())
        .map(|l| l.name.len() + l.value.len())
        .sum()
}

/// Where an alert's bytes go, as far as its parts tell: its label set's array (the
/// strings are shared: the answer's, the rule's, interned renderings), its annotations
/// (a block of 40 bytes with an `Arc`'s counts, the names' pointer and the values'
/// string: each value after its length and a colon; the names are the rule's), the
/// alert itself in the rule's vector; the
/// rest is the rule's render cache (a 4-byte position per alert) and any spare room.
fn breakdown<'a>(alerts: impl Iterator<Item = &'a Alert>, per_alert: f64) {
    let (mut n, mut labels, mut annotations) = (0usize, 0usize, 0usize);
    for a in alerts {
        n += 1;
        labels += 16 + 16 * a.labels.len();
        annotations += 40;
        for (_, v) in a.annotations.iter() {
            annotations += v.len().to_string().len() + 1 + v.len();
        }
    }
    let n = n as f64;
    let (labels, annotations) = (labels as f64 / n, annotations as f64 / n);
    let alert = std::mem::size_of::<Alert>() as f64;
    println!(
        "  label set array {labels:.0}, annotations {annotations:.0}, Alert {alert:.0}, \
         the render cache and spare room (rest) {:.0}",
        per_alert - labels - annotations - alert
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let series = args.first().copied().unwrap_or(1000);
    let rules = args.get(1).copied().unwrap_or(10);
    let _profiler = dhat::Profiler::builder().testing().build();
    let groups = load_str(
        Path::new("bench.yml"),
        &rules_yaml(rules),
        &LoadOptions::default(),
    )
    .expect("the generated rules load");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let data = answer(series);
    println!(
        "{rules} alerting rules x {series} series; label text of the answer: {} bytes",
        label_string_bytes(&data)
    );
    println!(
        "sizes: Alert {} bytes, Labels {} (+ 16 + 16 per label on the heap), Annotations {} (+ 40 + the values' text with their lengths on the heap), the API's AlertStatus {}",
        std::mem::size_of::<Alert>(),
        std::mem::size_of::<Labels>(),
        std::mem::size_of::<tocsin::rule::Annotations>(),
        std::mem::size_of::<tocsin::status::AlertStatus>(),
    );

    // The rule core alone: rules stepped directly, outputs dropped.
    let base = live();
    // The group's name too: it is the `alertgroup` label of every alert.
    let ctx = Arc::new(RuleContext {
        interval: std::time::Duration::from_secs(10),
        group_name: groups[0].name.clone(),
        ..RuleContext::default()
    });
    let mut core: Vec<AlertingRule> = groups[0]
        .rules
        .iter()
        .map(|r| AlertingRule::new(r, ctx.clone()))
        .collect();
    let built = live();
    for step in 0..3 {
        for r in &mut core {
            let out = r.step(Ok(data.clone()), EvalTime::at(step * 10_000), None);
            assert!(out.error.is_none(), "{:?}", out.error);
            drop(r.alerts_to_send(step * 10_000));
        }
    }
    let alerts: usize = core.iter().map(|r| r.alerts().count()).sum();
    let per_alert = (live() - built) as f64 / alerts as f64;
    println!(
        "rule core: {alerts} alerts, {:.0} bytes per alert ({} bytes for the rules before any evaluation)",
        per_alert,
        built - base
    );
    breakdown(core.iter().flat_map(|r| r.alerts()), per_alert);
    drop(core);

    // The engine: the same rules as a group, evaluated three times (pending, then
    // firing), with API snapshots and metrics; no datasource, notifier or writer I/O.
    let querier = Arc::new(FakeQuerier::new());
    querier.set(EXPR, Ok(data.clone()));
    let base = live();
    let engine = Arc::new(Engine::querying(
        querier.clone(),
        tocsin::clock::Clock::System,
    ));
    let mut group = GroupRunner::new(groups[0].clone(), engine.clone());
    group.publish_initial();
    let built = live();
    rt.block_on(async {
        for step in 0..3 {
            group.evaluate(1_700_000_000_000 + step * 10_000).await;
        }
    });
    querier.log.lock().expect("log").clear();
    let alerts: usize = group
        .rules_mut()
        .map(|r| match r {
            Rule::Alerting(a) => a.alerts().count(),
            Rule::Recording(_) => 0,
        })
        .sum();
    let per_alert = (live() - built) as f64 / alerts as f64;
    println!(
        "engine (rule core, API snapshot, metrics): {alerts} alerts, {:.0} bytes per alert ({} bytes for the group before any evaluation)",
        per_alert,
        built - base
    );
}
