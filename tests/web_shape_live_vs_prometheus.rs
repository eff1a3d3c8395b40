//! The same rule file loaded into a real Prometheus and into the tocsin binary, which
//! evaluates it against that Prometheus: `/api/v1/rules` and `/api/v1/alerts` must agree
//! in shape (keys and JSON types at every level; tocsin may add only vmalert's
//! documented fields) and in every value that does not depend on timing; every field
//! Grafana's Prometheus data source reads must be there; and vmalert's paths and a real
//! VictoriaMetrics proxying to tocsin (`-vmalert.proxyURL`) must serve the same bodies.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::http::{get_json, poll_json};
use support::peers::peer_or_skip;
use support::servers::{args_like_prometheus, start_tocsin, start_victoria_metrics};
use support::shape::{Shape, type_name};
use support::shape_reference::{NONE, VM_EXTRAS, settled, start_settled};

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

/// Every Grafana field missing from `obj` or of the wrong type, as `path.key`.
fn grafana_gaps(kind: &str, path: &str, obj: &Value, out: &mut Vec<String>) {
    for (k, fields) in GRAFANA_FIELDS {
        if *k != kind {
            continue;
        }
        for (f, ty) in *fields {
            match obj.get(f) {
                Some(v) if type_name(v) == *ty => {}
                Some(v) => out.push(format!("{path}.{f}: {} instead of {ty}", type_name(v))),
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
    let (Some(prom_bin), Some(vm_bin)) =
        (peer_or_skip("prometheus"), peer_or_skip("victoria-metrics"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = start_settled(&prom_bin, dir.path()).await;
    let (prom, rules) = (p.url.clone(), p.rules_file.clone());
    let (prom_rules, prom_alerts) = (p.rules.clone(), p.alerts.clone());

    let args = args_like_prometheus(&[&rules], &prom);
    let (tocsin_guard, tocsin) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let our_rules = poll_json(
        &format!("{tocsin}/api/v1/rules"),
        Duration::from_secs(30),
        settled,
    )
    .await
    .unwrap_or_else(|| {
        panic!(
            "tocsin's rules did not settle:\n{}",
            tocsin_guard.log_tail(30)
        )
    });
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
    let (_vm, vm) = start_victoria_metrics(
        &vm_bin,
        dir.path(),
        &[format!("-vmalert.proxyURL={tocsin}")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
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
