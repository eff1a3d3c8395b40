//! Our `/api/v1/rules` and `/api/v1/alerts` have the same JSON shape as a real
//! Prometheus serving equivalent rules: same keys and value types at every level, the
//! same time and value formats. Our extra keys are vmalert's fields, listed in
//! `VM_EXTRAS` and in docs/api.md; any other difference fails the test.
//! `web_shape_live_vs_prometheus.rs` does the same with the tocsin binary evaluating the
//! same rule file as Prometheus.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::http::get_json;
use support::peers::peer_or_skip;
use support::shape::Shape;
use support::shape_reference::{NONE, VM_EXTRAS, common_snapshot, start_settled};
use support::web::{server, t0};
use tocsin::status::{AlertingStatus, GroupStatus, Health, RuleKindStatus, RuleStatus};

/// Our snapshot of the same rules in the same states.
fn equivalent_snapshot() -> Vec<Arc<GroupStatus>> {
    let at = Some(t0() + Duration::from_secs(5));
    let mut broken = RuleStatus::new(
        4,
        "Broken",
        "a + on() b",
        RuleKindStatus::Alerting(AlertingStatus::default()),
    );
    broken.health = Health::Err;
    broken.last_error = Some("found duplicate series for the match group".into());
    let mut rules = common_snapshot(t0(), &[]);
    rules.push(broken);
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
    let Some(bin) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = start_settled(&bin, dir.path()).await;
    let prom = p.url.clone();
    let (prom_rules, prom_alerts) = (p.rules.clone(), p.alerts.clone());
    let (prom_bad_status, prom_bad) = get_json(&format!("{prom}/api/v1/rules?type=foo")).await;

    let srv = server().groups(equivalent_snapshot()).start().await;
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
