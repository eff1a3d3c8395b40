//! Our `/api/v1/rules` and `/api/v1/alerts` against a real vmalert (1.79, reading from
//! and writing to a real VictoriaMetrics) serving equivalent rules: every vmalert key
//! is present with the same JSON type, except the documented differences below (also
//! in docs/api.md, "Differences from vmalert").

mod web_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde_json::Value;
use tocsin::labels::Labels;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, GroupStatus, Health, RuleKindStatus, RuleStatus,
};
use tocsin::web::WebOptions;
use web_support::peers::{KillOnDrop, free_port, peer_binary, poll_json};
use web_support::shape::Shape;
use web_support::{Fake, get_json, start, t0};

/// vmalert keys we leave out: Prometheus omits an empty `lastError`, and recording
/// rules have no `state` or `duration`.
const MISSING_OK: &[(&str, &[&str])] = &[
    ("alerting", &["lastError"]),
    ("recording", &["lastError", "state", "duration"]),
];

/// Keys we add: Prometheus' fields vmalert 1.79 lacks, fields of newer vmalert
/// versions, and objects vmalert omits when empty (`labels`, `annotations`, `alerts`).
const EXTRAS: &[(&str, &[&str])] = &[
    ("group", &["limit", "evaluationTime"]),
    (
        "alerting",
        &[
            "keepFiringFor",
            "keep_firing_for",
            "group_name",
            "file",
            "debug",
            "max_updates_entries",
            "labels",
            "annotations",
            "alerts",
        ],
    ),
    (
        "recording",
        &[
            "group_name",
            "file",
            "debug",
            "max_updates_entries",
            "labels",
        ],
    ),
    ("alert", &["stabilizing"]),
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
"#;

fn settled(v: &Value) -> bool {
    let rules = &v["data"]["groups"][0]["rules"];
    rules[0]["health"] == "ok"
        && rules[0]["lastSamples"] == 1
        && rules[1]["state"] == "firing"
        && rules[2]["state"] == "pending"
}

/// Our snapshot of the same rules in the same states, with vmalert's `alertgroup`
/// label on alerts as vmalert adds it.
fn equivalent_snapshot() -> Vec<Arc<GroupStatus>> {
    let at = Some(t0() + Duration::from_secs(5));
    let mut rec = RuleStatus::new(1, "job:one", "vector(1)", RuleKindStatus::Recording);
    rec.labels = Labels::from_pairs([("team", "a")]);
    let mut firing = AlertStatus::new(
        Labels::from_pairs([
            ("alertgroup", "shape"),
            ("alertname", "Always"),
            ("severity", "page"),
        ]),
        AlertState::Firing,
        t0(),
        1.0,
    );
    firing.annotations = Labels::from_pairs([("summary", "value 1")]);
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
    let pending = AlertStatus::new(
        Labels::from_pairs([("alertgroup", "shape"), ("alertname", "Waiting")]),
        AlertState::Pending,
        t0(),
        2.0,
    );
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
    let mut rules = vec![rec, always, waiting];
    for r in &mut rules {
        r.health = Health::Ok;
        r.last_evaluation = at;
        r.last_samples = 1;
    }
    let mut g = GroupStatus::new("rules.yml", "shape", Duration::from_secs(1));
    g.last_evaluation = at;
    g.rules = rules.into_iter().map(Arc::new).collect();
    vec![Arc::new(g)]
}

#[tokio::test]
async fn rules_and_alerts_match_vmalert_shape() {
    let (Some(vm_bin), Some(vmalert_bin)) =
        (peer_binary("victoria-metrics"), peer_binary("vmalert"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let vm_port = free_port();
    let vm = Command::new(&vm_bin)
        .current_dir(dir.path())
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("vm").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start victoria-metrics");
    let _vm = KillOnDrop(vm);
    let vm_url = format!("http://127.0.0.1:{vm_port}");
    poll_json(
        &format!("{vm_url}/api/v1/query?query=1"),
        Duration::from_secs(30),
        |v| v["status"] == "success",
    )
    .await;

    let port = free_port();
    let vmalert = Command::new(&vmalert_bin)
        .current_dir(dir.path())
        .arg("-rule=rules.yml")
        .arg(format!("-datasource.url={vm_url}"))
        .arg(format!("-remoteWrite.url={vm_url}"))
        // Nothing listens there: sending fails quietly, which does not matter here.
        .arg(format!("-notifier.url=http://127.0.0.1:{}", free_port()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-evaluationInterval=1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vmalert");
    let _vmalert = KillOnDrop(vmalert);
    let base = format!("http://127.0.0.1:{port}");
    let vm_rules = poll_json(
        &format!("{base}/api/v1/rules"),
        Duration::from_secs(60),
        settled,
    )
    .await;
    let (_, vm_alerts) = get_json(&format!("{base}/api/v1/alerts")).await;

    let srv = start(
        Fake::new(equivalent_snapshot(), true),
        Registry::default(),
        WebOptions::default(),
    )
    .await;
    let (_, our_rules) = get_json(&format!("{}/api/v1/rules", srv.base)).await;
    let (_, our_alerts) = get_json(&format!("{}/api/v1/alerts", srv.base)).await;

    let mut shape = Shape::new(EXTRAS, MISSING_OK);
    shape.compare("rules", &vm_rules, &our_rules);
    // vmalert sorts alerts by ID, we list them in rule order: compare as sets of shapes
    // by sorting both by alert name first.
    let by_name = |v: &Value| {
        let mut a = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
        a.sort_by_key(|x| x["labels"]["alertname"].as_str().unwrap_or("").to_string());
        serde_json::json!({"status": v["status"], "data": {"alerts": a}})
    };
    shape.compare("alerts", &by_name(&vm_alerts), &by_name(&our_alerts));
    assert!(
        shape.diffs.is_empty(),
        "shape differences from vmalert:\n{}",
        shape.diffs.join("\n")
    );
    for k in ["group.limit", "alerting.keepFiringFor", "alert.stabilizing"] {
        assert!(
            shape.seen_extras.iter().any(|e| e == k),
            "did not reach {k}; saw {:?}",
            shape.seen_extras
        );
    }
    srv.shutdown().await;
}
