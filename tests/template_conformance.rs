//! Checks the template engine against the stored conformance table: (template, labels,
//! value) → the exact text real Prometheus (promtool 2.42) produced, or, for functions
//! promtool lacks, the output Go semantics and vmalert's documentation give. Regenerate
//! the promtool-sourced expectations with integration/template-golden.sh.

use std::collections::BTreeMap;

use serde::Deserialize;
use tocsin::labels::Labels;
use tocsin::sample::Sample;
use tocsin::template::{Context, Template, TemplateQuerier};

#[derive(Deserialize)]
struct Case {
    id: String,
    kind: String,
    source: String,
    template: String,
    labels: BTreeMap<String, String>,
    value: String,
    expected: String,
}

#[derive(Deserialize)]
struct SeriesFile {
    external_labels: BTreeMap<String, String>,
    external_url: String,
    series: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Answers `query` the way promtool does for a bare metric name: the input series of
/// that name, in label order.
struct FakeQuerier(Vec<Sample>);

impl TemplateQuerier for FakeQuerier {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let mut v: Vec<Sample> = self
            .0
            .iter()
            .filter(|s| s.labels.get("__name__") == Some(expr))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(v)
    }
}

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/templates")
}

fn load() -> (Vec<Case>, SeriesFile) {
    let text = std::fs::read_to_string(data_dir().join("cases.jsonl")).expect("cases.jsonl");
    let cases = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case line"))
        .collect();
    let series = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("series.json")).expect("series.json"),
    )
    .expect("series.json");
    (cases, series)
}

#[test]
fn conformance_table_matches_prometheus() {
    let (cases, env) = load();
    assert!(cases.len() >= 200, "table has {} cases", cases.len());
    let ext = Labels::from_pairs(env.external_labels.clone());
    let querier = FakeQuerier(
        env.series
            .iter()
            .map(|s| Sample {
                labels: Labels::from_pairs(s.labels.clone()),
                value: s.value,
                timestamp_ms: 0,
            })
            .collect(),
    );
    let mut failures = Vec::new();
    for c in &cases {
        // Prometheus hands alert templates the raw sample labels, `__name__` included.
        let mut labels = c.labels.clone();
        labels.insert("__name__".into(), format!("case_{}", c.id));
        let labels = Labels::from_pairs(labels);
        let value: f64 = c
            .value
            .parse()
            .unwrap_or_else(|_| panic!("{}: bad value {}", c.id, c.value));
        let t = match Template::parse(&format!("__alert_{}", c.id), &c.template) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{} parse error {e}: {:?}", c.id, c.template));
                continue;
            }
        };
        // vmalert's `$expr` is the rule's expression; the generated rules use `case_<id>`.
        let expr = format!("case_{}", c.id);
        let ctx = Context {
            expr: &expr,
            external_labels: &ext,
            external_url: &env.external_url,
            querier: Some(&querier),
            ..Context::new(&labels, value)
        };
        let got = t.render(&ctx);
        if got != c.expected {
            failures.push(format!(
                "{} [{} {}] {:?} value={}\n    want {:?}\n    got  {:?}",
                c.id, c.kind, c.source, c.template, c.value, c.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
