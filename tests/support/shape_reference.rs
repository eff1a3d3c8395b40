//! What the shape tests against Prometheus share: the rule file they load, a real
//! Prometheus settled on it, and the keys tocsin adds on top of Prometheus' (vmalert's
//! fields).

use std::time::{Duration, SystemTime};

use serde_json::Value;
use tocsin::labels::Labels;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, Annotations, RuleKindStatus, RuleStatus,
};

/// Keys we add on top of Prometheus', per object kind (vmalert's API fields).
pub const VM_EXTRAS: &[(&str, &[&str])] = &[
    (
        "group",
        &[
            "id",
            "type",
            "concurrency",
            "labels",
            "params",
            "headers",
            "notifier_headers",
            "eval_offset",
            "eval_delay",
            "states",
        ],
    ),
    (
        "alerting",
        &[
            "keep_firing_for",
            RULE_EXTRAS[0],
            RULE_EXTRAS[1],
            RULE_EXTRAS[2],
            RULE_EXTRAS[3],
            RULE_EXTRAS[4],
            RULE_EXTRAS[5],
            RULE_EXTRAS[6],
            RULE_EXTRAS[7],
            RULE_EXTRAS[8],
        ],
    ),
    ("recording", RULE_EXTRAS),
    (
        "alert",
        &[
            "id",
            "rule_id",
            "group_id",
            "name",
            "expression",
            "source",
            "restored",
            "stabilizing",
        ],
    ),
];

/// [`VM_EXTRAS`] against Prometheus 3.5 as Debian builds it, which omits an empty
/// `labels` on recording rules where tocsin prints `{}` (a kind may be listed twice).
pub const VM_EXTRAS_3: &[(&str, &[&str])] = &[
    VM_EXTRAS[0],
    VM_EXTRAS[1],
    VM_EXTRAS[2],
    ("recording", &["labels"]),
    VM_EXTRAS[3],
];

/// vmalert's fields on both kinds of rule.
pub const RULE_EXTRAS: &[&str] = &[
    "datasourceType",
    "lastSamples",
    "lastSeriesFetched",
    "id",
    "group_id",
    "group_name",
    "file",
    "debug",
    "max_updates_entries",
];

/// The rules every shape test loads: a recording rule, a firing alert (with an
/// annotation that renders empty, which is kept) and a pending alert.
pub const COMMON_RULES: &str = r#"groups:
  - name: shape
    rules:
      - record: job:one
        expr: vector(1)
        labels: {team: a}
      - alert: Always
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "value {{ $value }}", runbook: "{{ if false }}x{{ end }}"}
      - alert: Waiting
        expr: vector(2)
        for: 1h
"#;

/// An alerting rule whose evaluation fails (many-to-many matching).
const BROKEN_RULE: &str = r#"      - alert: Broken
        expr: (label_replace(vector(1), "a", "1", "", "") or label_replace(vector(1), "a", "2", "", "")) + on() (label_replace(vector(1), "b", "1", "", "") or label_replace(vector(1), "b", "2", "", ""))
"#;

/// What the Prometheus shape tests load: [`COMMON_RULES`] and a broken rule.
pub fn rules() -> String {
    format!("{COMMON_RULES}{BROKEN_RULE}")
}

/// Tocsin's snapshot of [`COMMON_RULES`] in their settled states, evaluated at `at`,
/// with `alert_labels` added to every alert's labels (vmalert's `alertgroup`).
pub fn common_snapshot(at: SystemTime, alert_labels: &[(&str, &str)]) -> Vec<RuleStatus> {
    let labels =
        |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().chain(alert_labels).copied());
    let mut rec = RuleStatus::new(1, "job:one", "vector(1)", RuleKindStatus::Recording);
    rec.labels = Labels::from_pairs([("team", "a")]);
    let mut firing = AlertStatus::new(
        labels(&[("alertname", "Always"), ("severity", "page")]),
        AlertState::Firing,
        at,
        1.0,
    );
    firing.annotations = Annotations::from_pairs([("summary", "value 1"), ("runbook", "")]);
    let mut always = RuleStatus::new(
        2,
        "Always",
        "vector(1)",
        RuleKindStatus::Alerting(AlertingStatus {
            spec: written(
                Duration::ZERO,
                &[
                    ("summary", "value {{ $value }}"),
                    ("runbook", "{{ if false }}x{{ end }}"),
                ],
            ),
            alerts: vec![firing],
        }),
    );
    always.labels = Labels::from_pairs([("severity", "page")]);
    let pending = AlertStatus::new(
        labels(&[("alertname", "Waiting")]),
        AlertState::Pending,
        at,
        2.0,
    );
    let waiting = RuleStatus::new(
        3,
        "Waiting",
        "vector(2)",
        RuleKindStatus::Alerting(AlertingStatus {
            spec: written(Duration::from_secs(3600), &[]),
            alerts: vec![pending],
        }),
    );
    vec![rec, always, waiting]
}

/// An alerting rule's definition as the API shows it: `for` and annotations as written.
fn written(
    for_: Duration,
    annotations: &[(&str, &str)],
) -> std::sync::Arc<tocsin::config::AlertingSpec> {
    let t = |k: &str, v: &str| tocsin::template::Template::parse(k, v).expect("parses");
    std::sync::Arc::new(tocsin::config::AlertingSpec {
        for_,
        annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), t(k, v)))
            .collect(),
        ..Default::default()
    })
}

/// Whether every rule has been evaluated with the expected outcome.
pub fn settled(v: &Value) -> bool {
    let rules = &v["data"]["groups"][0]["rules"];
    rules[0]["health"] == "ok"
        && rules[1]["state"] == "firing"
        && rules[2]["state"] == "pending"
        && rules[3]["health"] == "err"
}

/// No keys allowed to be missing.
pub const NONE: &[(&str, &[&str])] = &[];

/// A real Prometheus evaluating [`rules`] every second (remote-write receiver on, so a
/// tocsin can write back into it), with its API answers once the rules have settled.
pub struct SettledPrometheus {
    pub url: String,
    pub rules: Value,
    pub alerts: Value,
    /// Where [`rules`] was written (`dir/rules.yml`).
    pub rules_file: std::path::PathBuf,
    _guard: super::peers::ChildGuard,
}

/// Starts Prometheus from `bin` in `dir` on [`rules`] and waits until they settle.
pub async fn start_settled(bin: &std::path::Path, dir: &std::path::Path) -> SettledPrometheus {
    let rules_file = dir.join("rules.yml");
    std::fs::write(&rules_file, rules()).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [{:?}]\n",
            rules_file.display().to_string()
        ),
    )
    .unwrap();
    let (guard, url) = super::servers::start_prometheus_with(bin, dir, &config, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = super::http::poll_json(
        &format!("{url}/api/v1/rules"),
        std::time::Duration::from_secs(60),
        settled,
    )
    .await
    .unwrap_or_else(|| panic!("Prometheus' rules did not settle:\n{}", guard.log_tail(20)));
    let (_, alerts) = super::http::get_json(&format!("{url}/api/v1/alerts")).await;
    SettledPrometheus {
        url,
        rules,
        alerts,
        rules_file,
        _guard: guard,
    }
}
