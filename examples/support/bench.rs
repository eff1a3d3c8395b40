//! What the memory examples share with the side-by-side benchmark (integration/bench):
//! the mock datasource's answer and rules.py's alerting rule, and dhat's live heap.

use tocsin::labels::Labels;
use tocsin::sample::Sample;

/// The mock's answer (integration/bench/mock.py): Kubernetes-like label sets, values
/// distinct per series.
pub fn answer(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            labels: Labels::from_pairs([
                ("__name__", "up".to_string()),
                ("job", "bench".to_string()),
                ("instance", format!("10.1.{}.{}:9100", i / 250, i % 250)),
                ("zone", format!("z{}", i % 3)),
                ("namespace", format!("ns-{}", i % 7)),
                ("pod", format!("api-{i:05}")),
            ]),
            value: 0.0,
            timestamp_ms: 0,
        })
        .collect()
}

/// rules.py's alerting rule `name` on `expr`, as a rule list item (6-space indent):
/// `for: 10s`, a static and a templated label, two templated annotations.
pub fn alerting_rule(name: &str, expr: &str) -> String {
    format!(
        "      - alert: {name}\n        expr: '{expr}'\n        for: 10s\n        labels:\n          severity: warning\n          zone: \"{{{{ $labels.zone }}}}\"\n        annotations:\n          summary: \"{{{{ $labels.instance }}}} of {{{{ $labels.job }}}} is down ({{{{ $value | humanize }}}})\"\n          description: \"{{{{ $labels.pod }}}} in {{{{ $labels.namespace }}}} has been down for a while.\"\n"
    )
}

/// Bytes live on dhat's heap now.
pub fn live() -> usize {
    dhat::HeapStats::get().curr_bytes
}
