//! Our `/api/v1/rules` and `/api/v1/alerts` have the same JSON shape as a real
//! Prometheus serving equivalent rules: same keys and value types at every level, the
//! same time and value formats. Our extra keys are vmalert's fields, listed in
//! `VM_EXTRAS` and in docs/api.md; any other difference fails the test.

mod web_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tocsin::labels::Labels;
use tocsin::web::{
    AlertState, AlertStatus, AlertingStatus, GroupStatus, Health, RuleKindStatus, RuleStatus,
    WebOptions,
};
use web_support::peers::{KillOnDrop, free_port, peer_binary, poll_json};
use web_support::shape::Shape;
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
const RULE_EXTRAS: &[&str] = &[
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

/// Whether every rule has been evaluated with the expected outcome.
fn settled(v: &Value) -> bool {
    let rules = &v["data"]["groups"][0]["rules"];
    rules[0]["health"] == "ok"
        && rules[1]["state"] == "firing"
        && rules[2]["state"] == "pending"
        && rules[3]["health"] == "err"
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

const NONE: &[(&str, &[&str])] = &[];

/// Every alert `value` string in a rules or alerts response, in order.
fn values(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let (Some(Value::String(s)), Some(_)) = (m.get("value"), m.get("activeAt")) {
                    out.push(s.clone());
                }
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn rules_and_alerts_match_prometheus_shape() {
    let Some(bin) = peer_binary("prometheus") else {
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
    let prom_rules = poll_json(
        &format!("{prom}/api/v1/rules"),
        Duration::from_secs(60),
        settled,
    )
    .await;
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

    let mut shape = Shape::new(VM_EXTRAS, NONE);
    shape.compare("rules", &prom_rules, &our_rules);
    shape.compare("alerts", &prom_alerts, &our_alerts);
    shape.compare("error", &prom_bad, &our_bad);
    assert!(
        shape.diffs.is_empty(),
        "shape differences:\n{}",
        shape.diffs.join("\n")
    );
    // Sanity: the comparison did walk into groups, rules and alerts.
    for k in [
        "group.id",
        "alerting.datasourceType",
        "recording.datasourceType",
        "alert.rule_id",
    ] {
        assert!(
            shape.seen_extras.iter().any(|e| e == k),
            "did not reach {k}; saw {:?}",
            shape.seen_extras
        );
    }
    assert_eq!(
        values(&prom_rules),
        values(&our_rules),
        "alert value strings"
    );
    assert_eq!(
        values(&prom_alerts),
        values(&our_alerts),
        "alert value strings"
    );
    assert_eq!(prom_bad_status, our_bad_status, "status of a bad request");
    assert_eq!(
        prom_bad["error"], our_bad["error"],
        "error text of a bad request"
    );
    srv.shutdown().await;
}

/// Fields Grafana's Prometheus data source reads from `/api/v1/rules` and
/// `/api/v1/alerts` (its `PromRuleGroupDTO`, `PromAlertingRuleDTO`,
/// `PromRecordingRuleDTO` and `Alert` types), with the JSON type each must have.
const GRAFANA_FIELDS: &[(&str, &[(&str, &str)])] = &[
    (
        "group",
        &[
            ("name", "string"),
            ("file", "string"),
            ("rules", "array"),
            ("interval", "number"),
            ("evaluationTime", "number"),
            ("lastEvaluation", "string"),
        ],
    ),
    (
        "rule",
        &[
            ("name", "string"),
            ("query", "string"),
            ("labels", "object"),
            ("health", "string"),
            ("type", "string"),
            ("evaluationTime", "number"),
            ("lastEvaluation", "string"),
        ],
    ),
    (
        "alerting",
        &[
            ("state", "string"),
            ("duration", "number"),
            ("annotations", "object"),
            ("alerts", "array"),
        ],
    ),
    (
        "alert",
        &[
            ("labels", "object"),
            ("annotations", "object"),
            ("state", "string"),
            ("activeAt", "string"),
            ("value", "string"),
        ],
    ),
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every Grafana field missing from `obj` or of the wrong type, as `path.key`.
fn grafana_gaps(kind: &str, path: &str, obj: &Value, out: &mut Vec<String>) {
    for (k, fields) in GRAFANA_FIELDS {
        if *k != kind {
            continue;
        }
        for (f, ty) in *fields {
            match obj.get(f) {
                Some(v) if json_type(v) == *ty => {}
                Some(v) => out.push(format!("{path}.{f}: {} instead of {ty}", json_type(v))),
                None => out.push(format!("{path}.{f}: missing")),
            }
        }
    }
}

/// What must be equal between Prometheus and tocsin evaluating the same rules: names,
/// files, intervals, queries, labels, annotations, states, health, types and alerts
/// (sorted by labels), leaving out times, durations, error wording and whitespace in
/// queries.
fn essentials(rules: &Value) -> Value {
    let groups = rules["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pick = |o: &Value, keys: &[&str]| -> Value {
        let m: serde_json::Map<String, Value> = keys
            .iter()
            .filter_map(|k| o.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        Value::Object(m)
    };
    let alerts = |r: &Value| -> Value {
        let mut a: Vec<Value> = r["alerts"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|a| pick(a, &["labels", "annotations", "state", "value"]))
                    .collect()
            })
            .unwrap_or_default();
        a.sort_by_key(|x| x["labels"].to_string());
        Value::Array(a)
    };
    Value::Array(
        groups
            .iter()
            .map(|g| {
                let mut gg = pick(g, &["name", "file", "interval", "limit"]);
                let rules: Vec<Value> = g["rules"]
                    .as_array()
                    .map(|rs| {
                        rs.iter()
                            .map(|r| {
                                let mut rr = pick(
                                    r,
                                    &[
                                        "name",
                                        "query",
                                        "type",
                                        "health",
                                        "state",
                                        "labels",
                                        "annotations",
                                        "duration",
                                        "keepFiringFor",
                                    ],
                                );
                                // Prometheus prints its own formatting of the parsed
                                // expression (`on ()`); tocsin the text as written.
                                rr["query"] = Value::String(
                                    r["query"]
                                        .as_str()
                                        .unwrap_or("")
                                        .split_whitespace()
                                        .collect(),
                                );
                                rr["alerts"] = alerts(r);
                                rr["hasLastError"] = Value::Bool(r.get("lastError").is_some());
                                rr
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                gg["rules"] = Value::Array(rules);
                gg
            })
            .collect(),
    )
}

/// `v` without the fields that change at every evaluation.
fn without_volatile(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "lastEvaluation" | "evaluationTime"))
                .map(|(k, v)| (k.clone(), without_volatile(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_volatile).collect()),
        other => other.clone(),
    }
}

/// The same rule file loaded into a real Prometheus and into the tocsin binary (which
/// queries that Prometheus): `/api/v1/rules` and `/api/v1/alerts` agree in shape and in
/// every value that does not depend on timing; Grafana's fields are all there; and the
/// same bodies come back under vmalert's `/vmalert/api/v1/…` paths and through a real
/// VictoriaMetrics whose `-vmalert.proxyURL` points at tocsin.
#[tokio::test]
async fn live_tocsin_answers_like_prometheus_on_the_same_rules() {
    use web_support::peers::common;
    let (Some(prom_bin), Some(vm_bin)) =
        (peer_binary("prometheus"), peer_binary("victoria-metrics"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [{:?}]\n",
            rules.display().to_string()
        ),
    )
    .unwrap();
    let port = free_port();
    let argv: Vec<String> = vec![
        prom_bin.display().to_string(),
        format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".into(),
    ];
    let _prom = common::ChildGuard::spawn("prometheus", &argv, dir.path()).expect("prometheus");
    let prom = format!("http://127.0.0.1:{port}");
    let prom_rules = poll_json(
        &format!("{prom}/api/v1/rules"),
        Duration::from_secs(60),
        settled,
    )
    .await;
    let (_, prom_alerts) = get_json(&format!("{prom}/api/v1/alerts")).await;

    let (tocsin_guard, tocsin) = common::start_tocsin(
        &[
            format!("-rule={}", rules.display()),
            format!("-datasource.url={prom}"),
            format!("-remoteWrite.url={prom}/api/v1/write"),
            "-evaluationInterval=1s".into(),
            // Prometheus adds no `alertgroup` label; vmalert (and tocsin by default) do.
            "-disableAlertgroupLabel=true".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let our_rules = poll_json(
        &format!("{tocsin}/api/v1/rules"),
        Duration::from_secs(30),
        settled,
    )
    .await;
    let (_, our_alerts) = get_json(&format!("{tocsin}/api/v1/alerts")).await;

    let mut shape = Shape::new(VM_EXTRAS, NONE);
    shape.compare("rules", &prom_rules, &our_rules);
    shape.compare("alerts", &prom_alerts, &our_alerts);
    assert!(
        shape.diffs.is_empty(),
        "shape differences:\n{}",
        shape.diffs.join("\n")
    );
    assert_eq!(
        essentials(&prom_rules),
        essentials(&our_rules),
        "rule values"
    );
    let sorted_alerts = |v: &Value| {
        let mut a: Vec<Value> = v["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| json!({"labels": a["labels"], "annotations": a["annotations"], "state": a["state"], "value": a["value"]}))
            .collect();
        a.sort_by_key(|x| x["labels"].to_string());
        a
    };
    assert_eq!(
        sorted_alerts(&prom_alerts),
        sorted_alerts(&our_alerts),
        "alerts"
    );
    assert_eq!(
        sorted_alerts(&our_alerts).len(),
        2,
        "one firing and one pending alert"
    );

    let mut gaps = Vec::new();
    for (gi, g) in our_rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        grafana_gaps("group", &format!("groups[{gi}]"), g, &mut gaps);
        for (ri, r) in g["rules"].as_array().unwrap().iter().enumerate() {
            let p = format!("groups[{gi}].rules[{ri}]");
            grafana_gaps("rule", &p, r, &mut gaps);
            if r["type"] == "alerting" {
                grafana_gaps("alerting", &p, r, &mut gaps);
                for (ai, a) in r["alerts"].as_array().into_iter().flatten().enumerate() {
                    grafana_gaps("alert", &format!("{p}.alerts[{ai}]"), a, &mut gaps);
                }
            }
        }
    }
    for (ai, a) in our_alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        grafana_gaps("alert", &format!("alerts[{ai}]"), a, &mut gaps);
    }
    assert!(
        gaps.is_empty(),
        "fields Grafana reads:\n{}",
        gaps.join("\n")
    );

    // vmalert's paths, and VictoriaMetrics proxying to us: VictoriaMetrics 1.79 forwards
    // `/api/v1/{rules,alerts}`, `/prometheus/api/v1/…` and `/vmalert/…` unchanged.
    let vm_port = free_port();
    let vm_argv = vec![
        vm_bin.display().to_string(),
        format!("-storageDataPath={}", dir.path().join("vm").display()),
        format!("-httpListenAddr=127.0.0.1:{vm_port}"),
        format!("-vmalert.proxyURL={tocsin}"),
    ];
    let _vm = common::ChildGuard::spawn("victoria-metrics", &vm_argv, dir.path()).expect("vm");
    let vm = format!("http://127.0.0.1:{vm_port}");
    assert!(
        common::wait_ok(&format!("{vm}/health"), Duration::from_secs(30)).await,
        "victoria-metrics did not start"
    );
    for what in ["rules", "alerts"] {
        let (_, direct) = get_json(&format!("{tocsin}/api/v1/{what}")).await;
        let want = without_volatile(&direct);
        for url in [
            format!("{tocsin}/vmalert/api/v1/{what}"),
            format!("{vm}/api/v1/{what}"),
            format!("{vm}/vmalert/api/v1/{what}"),
            format!("{vm}/prometheus/api/v1/{what}"),
        ] {
            let (status, got) = get_json(&url).await;
            assert_eq!(status, 200, "{url}");
            assert_eq!(
                without_volatile(&got),
                want,
                "{url} serves what /api/v1/{what} does"
            );
        }
    }
    // The UI also works through the proxy: its page and assets come from /vmalert/.
    let page = reqwest::get(format!("{vm}/vmalert/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/vmalert/static/app.js"), "{page}");
    let js = reqwest::get(format!("{vm}/vmalert/static/app.js"))
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    drop(tocsin_guard);
}
