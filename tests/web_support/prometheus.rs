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
        annotations: {summary: "value {{ $value }}", runbook: "{{ if false }}x{{ end }}"}
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

/// A real Prometheus evaluating [`RULES`] every second (remote-write receiver on, so a
/// tocsin can write back into it), with its API answers once the rules have settled.
pub struct SettledPrometheus {
    pub url: String,
    pub rules: Value,
    pub alerts: Value,
    /// Where `RULES` was written (`dir/rules.yml`).
    pub rules_file: std::path::PathBuf,
    _guard: super::peers::KillOnDrop,
}

/// Starts Prometheus from `bin` in `dir` on [`RULES`] and waits until they settle.
pub async fn start_settled(bin: &std::path::Path, dir: &std::path::Path) -> SettledPrometheus {
    use std::process::{Command, Stdio};
    let rules_file = dir.join("rules.yml");
    std::fs::write(&rules_file, RULES).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [{:?}]\n",
            rules_file.display().to_string()
        ),
    )
    .unwrap();
    let port = super::peers::free_port();
    let child = Command::new(bin)
        .current_dir(dir)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let guard = super::peers::KillOnDrop(child);
    let url = format!("http://127.0.0.1:{port}");
    let rules = super::peers::poll_json(
        &format!("{url}/api/v1/rules"),
        std::time::Duration::from_secs(60),
        settled,
    )
    .await;
    let (_, alerts) = super::get_json(&format!("{url}/api/v1/alerts")).await;
    SettledPrometheus {
        url,
        rules,
        alerts,
        rules_file,
        _guard: guard,
    }
}
