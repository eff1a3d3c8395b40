//! Our `/api/v1/rules` and `/api/v1/alerts` have the same JSON shape as a real
//! Prometheus serving equivalent rules: same keys and value types at every level, the
//! same time and value formats. Our extra keys are vmalert's fields, listed in
//! `VM_EXTRAS` and in docs/api.md; any other difference fails the test.

mod web_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use serde_json::Value;
use tocsin::labels::Labels;
use tocsin::web::{
    AlertState, AlertStatus, AlertingStatus, GroupStatus, Health, RuleKindStatus, RuleStatus,
    WebOptions,
};
use web_support::{Fake, get_json, start, t0};

/// Keys we add on top of Prometheus', per object kind (vmalert's API fields).
const VM_EXTRAS: &[(&str, &[&str])] = &[
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
        "rule",
        &[
            "keep_firing_for",
            "datasourceType",
            "lastSamples",
            "lastSeriesFetched",
            "id",
            "group_id",
            "group_name",
            "file",
            "debug",
            "max_updates_entries",
        ],
    ),
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

const RULES: &str = r#"groups:
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

fn prometheus_binary() -> Option<PathBuf> {
    let dir = std::env::var_os("TOCSIN_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".peers/usr/bin"));
    let bin = dir.join("prometheus");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("prometheus peer not found at {} (CI=true)", bin.display());
    }
    eprintln!(
        "SKIP: prometheus peer not found at {}; run integration/install-peers.sh or set TOCSIN_PEERS_DIR",
        bin.display()
    );
    None
}

/// Kills the child process when dropped, also on panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Prometheus' rules once every rule has been evaluated with the expected outcome.
async fn wait_for_prometheus(base: &str, deadline: Instant) -> Value {
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/api/v1/rules")).await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            let rules = &v["data"]["groups"][0]["rules"];
            if rules[0]["health"] == "ok"
                && rules[1]["state"] == "firing"
                && rules[2]["state"] == "pending"
                && rules[3]["health"] == "err"
            {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not evaluate the rules in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Our snapshot of the same rules in the same states.
fn equivalent_snapshot() -> Vec<Arc<GroupStatus>> {
    let at = Some(t0() + Duration::from_secs(5));
    let mut rec = RuleStatus::new(1, "job:one", "vector(1)", RuleKindStatus::Recording);
    rec.labels = Labels::from_pairs([("team", "a")]);
    let mut firing = AlertStatus::new(
        Labels::from_pairs([("alertname", "Always"), ("severity", "page")]),
        AlertState::Firing,
        t0(),
        1.0,
    );
    firing.annotations = Labels::from_pairs([("summary", "value 1")]);
    let pending = AlertStatus::new(
        Labels::from_pairs([("alertname", "Waiting")]),
        AlertState::Pending,
        t0(),
        2.0,
    );
    let mut always = RuleStatus::new(
        2,
        "Always",
        "vector(1)",
        RuleKindStatus::Alerting(AlertingStatus {
            annotations: Labels::from_pairs([("summary", "value {{ $value }}")]),
            alerts: vec![firing],
            ..Default::default()
        }),
    );
    always.labels = Labels::from_pairs([("severity", "page")]);
    let waiting = RuleStatus::new(
        3,
        "Waiting",
        "vector(2)",
        RuleKindStatus::Alerting(AlertingStatus {
            for_: Duration::from_secs(3600),
            alerts: vec![pending],
            ..Default::default()
        }),
    );
    let mut broken = RuleStatus::new(
        4,
        "Broken",
        "a + on() b",
        RuleKindStatus::Alerting(AlertingStatus::default()),
    );
    broken.health = Health::Err;
    broken.last_error = Some("found duplicate series for the match group".into());
    let mut rules = vec![rec, always, waiting, broken];
    for r in &mut rules {
        if r.health != Health::Err {
            r.health = Health::Ok;
        }
        r.last_evaluation = at;
        r.evaluation_time = Duration::from_micros(250);
    }
    let mut g = GroupStatus::new("rules.yml", "shape", Duration::from_secs(1));
    g.last_evaluation = at;
    g.evaluation_time = Duration::from_micros(900);
    g.rules = rules.into_iter().map(Arc::new).collect();
    vec![Arc::new(g)]
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The object kind at `path`, from the name of the array it sits in.
fn kind_of(path: &str) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or("");
    if last.starts_with("groups[") {
        "group"
    } else if last.starts_with("rules[") {
        "rule"
    } else if last.starts_with("alerts[") {
        "alert"
    } else {
        ""
    }
}

fn extras_for(kind: &str) -> &'static [&'static str] {
    VM_EXTRAS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, e)| *e)
        .unwrap_or(&[])
}

/// Records every difference in keys, value types and array lengths; collects the
/// extra keys we emit.
fn compare(
    path: &str,
    prom: &Value,
    ours: &Value,
    diffs: &mut Vec<String>,
    seen_extras: &mut Vec<String>,
) {
    match (prom, ours) {
        (Value::Object(p), Value::Object(o)) => {
            for (k, pv) in p {
                match o.get(k) {
                    Some(ov) => compare(&format!("{path}.{k}"), pv, ov, diffs, seen_extras),
                    None => diffs.push(format!("{path}.{k}: missing in ours")),
                }
            }
            let kind = kind_of(path);
            for k in o.keys().filter(|k| !p.contains_key(*k)) {
                if extras_for(kind).contains(&k.as_str()) {
                    seen_extras.push(format!("{kind}.{k}"));
                } else {
                    diffs.push(format!(
                        "{path}.{k}: extra in ours, not a documented vmalert field"
                    ));
                }
            }
        }
        (Value::Array(p), Value::Array(o)) => {
            if p.len() != o.len() {
                diffs.push(format!(
                    "{path}: {} elements in Prometheus, {} in ours",
                    p.len(),
                    o.len()
                ));
            }
            for (i, (pv, ov)) in p.iter().zip(o).enumerate() {
                compare(&format!("{path}[{i}]"), pv, ov, diffs, seen_extras);
            }
        }
        (p, o) if type_name(p) != type_name(o) => {
            diffs.push(format!(
                "{path}: {} in Prometheus, {} in ours",
                type_name(p),
                type_name(o)
            ));
        }
        (Value::String(p), Value::String(o)) => {
            let time =
                regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$").unwrap();
            let exp = regex::Regex::new(r"^-?\d(\.\d+)?e[+-]\d{2,3}$").unwrap();
            for re in [&time, &exp] {
                if re.is_match(p) != re.is_match(o) {
                    diffs.push(format!("{path}: format differs: {p:?} vs {o:?}"));
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn rules_and_alerts_match_prometheus_shape() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(&bin)
        .current_dir(dir.path())
        .arg("--config.file=prometheus.yml")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let _guard = KillOnDrop(child);
    let prom = format!("http://127.0.0.1:{port}");
    let prom_rules = wait_for_prometheus(&prom, Instant::now() + Duration::from_secs(60)).await;
    let (_, prom_alerts) = get_json(&format!("{prom}/api/v1/alerts")).await;
    let (prom_bad_status, prom_bad) = get_json(&format!("{prom}/api/v1/rules?type=foo")).await;

    let srv = start(
        Fake::new(equivalent_snapshot(), true),
        Registry::default(),
        WebOptions::default(),
    )
    .await;
    let (_, our_rules) = get_json(&format!("{}/api/v1/rules", srv.base)).await;
    let (_, our_alerts) = get_json(&format!("{}/api/v1/alerts", srv.base)).await;
    let (our_bad_status, our_bad) = get_json(&format!("{}/api/v1/rules?type=foo", srv.base)).await;

    let mut diffs = Vec::new();
    let mut extras = Vec::new();
    compare("rules", &prom_rules, &our_rules, &mut diffs, &mut extras);
    compare("alerts", &prom_alerts, &our_alerts, &mut diffs, &mut extras);
    compare("error", &prom_bad, &our_bad, &mut diffs, &mut extras);
    assert_eq!(prom_bad_status, our_bad_status, "status of a bad request");
    assert_eq!(
        prom_bad["error"], our_bad["error"],
        "error text of a bad request"
    );
    assert!(diffs.is_empty(), "shape differences:\n{}", diffs.join("\n"));
    // Sanity: the comparison did walk into groups, rules and alerts.
    for k in ["group.id", "rule.datasourceType", "alert.rule_id"] {
        assert!(
            extras.iter().any(|e| e == k),
            "did not reach {k}; saw {extras:?}"
        );
    }
    srv.shutdown().await;
}
