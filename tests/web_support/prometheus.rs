//! What both Prometheus shape tests share: the rule file they load, when its evaluation
//! has settled, and the keys tocsin adds on top of Prometheus' (vmalert's fields).

use serde_json::Value;

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

pub const RULES: &str = r#"groups:
  - name: shape
    rules:
      - record: job:one
        expr: vector(1)
        labels: {team: a}
      - alert: Always
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "value {{ $value }}"}
      - alert: Waiting
        expr: vector(2)
        for: 1h
      - alert: Broken
        expr: (label_replace(vector(1), "a", "1", "", "") or label_replace(vector(1), "a", "2", "", "")) + on() (label_replace(vector(1), "b", "1", "", "") or label_replace(vector(1), "b", "2", "", ""))
"#;

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
