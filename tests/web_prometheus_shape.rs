//! Our `/api/v1/rules` and `/api/v1/alerts` have the same JSON shape as a real
//! Prometheus serving equivalent rules: same keys and value types at every level, the
//! same time and value formats. Our extra keys are vmalert's fields, listed in
//! `VM_EXTRAS` and in docs/api.md; any other difference fails the test.
//! `web_shapes_vs_prometheus.rs` does the same with the tocsin binary evaluating the
//! same rule file as Prometheus.

mod web_support;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde_json::Value;
use tocsin::labels::Labels;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, GroupStatus, Health, RuleKindStatus, RuleStatus,
};
use tocsin::web::WebOptions;
use web_support::peers::peer_binary;
use web_support::prometheus::{NONE, VM_EXTRAS, start_settled};
use web_support::shape::Shape;
use web_support::{Fake, get_json, start, t0};

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
    let p = start_settled(&bin, dir.path()).await;
    let prom = p.url.clone();
    let (prom_rules, prom_alerts) = (p.rules.clone(), p.alerts.clone());
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
