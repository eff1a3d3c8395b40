//! Heap bytes of scenario A of the side-by-side benchmark (docs/benchmarks.md), phase by
//! phase: `integration/bench/rules.py 100 20 10s` (2,000 rules, half alerting, each
//! answered by the mock's 10 series, so 10,000 firing alerts and 10,000 recorded
//! series), loaded, built into groups, and evaluated three times with API snapshots
//! and metrics, as `alert_memory` does for one group. No HTTP server, datasource
//! client, notifier or remote-write queue: what this prints is the rules' own heap,
//! which the process' resident size is compared with (see "Peak RSS floor" in
//! docs/benchmarks.md). dhat's allocator: exact, whatever the machine's load.
//!
//! ```sh
//! cargo run --release --example rule_set_memory [GROUPS] [PER_GROUP] [SERIES] [EVALUATIONS]
//! ```
//!
//! Three evaluations by default; with more (21 or so), every rule's `/api/v1/rule`
//! history fills to its `-rule.updateEntriesLimit` (20), as in a process that ran a
//! while, and the bytes each evaluation after the third adds are printed.

use std::path::Path;
use std::sync::Arc;

use tocsin::config::{LoadOptions, load_str};
use tocsin::datasource::fake::FakeQuerier;
use tocsin::manager::{Engine, GroupRunner};

#[path = "support/bench.rs"]
mod bench;
use bench::{alerting_rule, answer, live};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// rules.py's rule set: rules alternate alerting and recording.
fn rules_yaml(groups: usize, per: usize) -> String {
    let mut y = String::from("groups:\n");
    for g in 0..groups {
        y += &format!("  - name: bench-{g}\n    interval: 10s\n    rules:\n");
        for r in 0..per {
            if r % 2 == 0 {
                let expr = format!("up{{job=\"bench\", rule=\"{r}\"}} == 0");
                y += &alerting_rule(&format!("Bench_{g}_{r}"), &expr);
            } else {
                y += &format!(
                    "      - record: bench:up:g{g}_r{r}\n        expr: up{{job=\"bench\", rule=\"{r}\"}}\n"
                );
            }
        }
    }
    y
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let groups_n = args.first().copied().unwrap_or(100);
    let per = args.get(1).copied().unwrap_or(20);
    let series = args.get(2).copied().unwrap_or(10);
    let evaluations = args.get(3).copied().unwrap_or(3).max(3);
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rules_n = groups_n * per;
    let mb = |b: usize| {
        format!(
            "{:.2} MB ({b} bytes, {} a rule)",
            b as f64 / 1e6,
            b / rules_n
        )
    };
    println!(
        "sizes: Rule {}, AlertingRule {}, RecordingRule {}, config::Rule {}, RuleStatus {}, StateUpdate {}",
        size_of::<tocsin::rule::Rule>(),
        size_of::<tocsin::rule::AlertingRule>(),
        size_of::<tocsin::rule::RecordingRule>(),
        size_of::<tocsin::config::Rule>(),
        size_of::<tocsin::status::RuleStatus>(),
        size_of::<tocsin::status::StateUpdate>(),
    );

    let base = live();
    let yaml = rules_yaml(groups_n, per);
    let groups = load_str(Path::new("rules.yml"), &yaml, &LoadOptions::default())
        .expect("the generated rules load");
    drop(yaml);
    let loaded = live();
    println!("{rules_n} rules in {groups_n} groups, {series} series each");
    println!("config loaded: {}", mb(loaded - base));

    let querier = Arc::new(FakeQuerier::new());
    let data = answer(series);
    for r in 0..per {
        let sel = format!("up{{job=\"bench\", rule=\"{r}\"}}");
        querier.set(&format!("{sel} == 0"), Ok(data.clone()));
        querier.set(&sel, Ok(data.clone()));
    }
    let engine = Arc::new(Engine::querying(
        querier.clone(),
        tocsin::clock::Clock::System,
    ));
    let before_groups = live();
    let mut runners: Vec<GroupRunner> = groups
        .iter()
        .map(|g| {
            let r = GroupRunner::new(g.clone(), engine.clone());
            r.publish_initial();
            r
        })
        .collect();
    let built = live();
    println!(
        "groups built, initial snapshots: {}",
        mb(built - before_groups)
    );
    let mut after_three = 0;
    rt.block_on(async {
        for step in 0..evaluations {
            for g in &mut runners {
                g.evaluate(1_700_000_000_000 + step as i64 * 10_000).await;
            }
            querier.log.lock().expect("log").clear();
            if step == 2 {
                after_three = live();
                println!(
                    "after three evaluations (alerts firing, snapshots, metrics): +{}",
                    mb(after_three - built)
                );
            }
        }
    });
    let evaluated = live();
    if evaluations > 3 {
        println!(
            "after {evaluations} evaluations: +{} more than after three",
            mb(evaluated - after_three)
        );
    }
    println!(
        "in all: {} (the answers' {series} label sets shared by every rule)",
        mb(evaluated - base)
    );
}
