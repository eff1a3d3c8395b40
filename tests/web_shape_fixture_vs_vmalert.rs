//! Our `/api/v1/rules` and `/api/v1/alerts` against a real vmalert (1.79, reading from
//! and writing to a real VictoriaMetrics) serving equivalent rules: every vmalert key
//! is present with the same JSON type, except the documented differences below (also
//! in docs/api.md, "Differences from vmalert").

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::http::{get_json, poll_json};
use support::peers::{free_port, peer_or_skip};
use support::servers::{spawn_ready, start_victoria_metrics};
use support::shape::Shape;
use support::shape_reference::{COMMON_RULES, common_snapshot};
use support::web::{server, t0};
use tocsin::status::{GroupStatus, Health};

/// vmalert keys we leave out: Prometheus omits an empty `lastError`, and recording
/// rules have no `state` or `duration`.
const MISSING_OK: &[(&str, &[&str])] = &[
    ("alerting", &["lastError"]),
    ("recording", &["lastError", "state", "duration"]),
];

/// Keys we add: Prometheus' fields vmalert 1.79 lacks, fields of newer vmalert
/// versions (group `states`, 1.145), and objects vmalert omits when empty (`labels`, `annotations`, `alerts`).
const EXTRAS: &[(&str, &[&str])] = &[
    ("group", &["limit", "evaluationTime", "states"]),
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
    let mut rules = common_snapshot(t0(), &[("alertgroup", "shape")]);
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
        (peer_or_skip("victoria-metrics"), peer_or_skip("vmalert"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yml"), COMMON_RULES).unwrap();
    let (_vm, vm_url) = start_victoria_metrics(&vm_bin, dir.path(), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let argv = vec![
        vmalert_bin.display().to_string(),
        format!("-rule={}", dir.path().join("rules.yml").display()),
        format!("-datasource.url={vm_url}"),
        format!("-remoteWrite.url={vm_url}"),
        // Nothing listens there: sending fails quietly, which does not matter here.
        format!("-notifier.url=http://127.0.0.1:{}", free_port()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-evaluationInterval=1s".to_string(),
    ];
    let vmalert = spawn_ready(
        "vmalert",
        &argv,
        dir.path(),
        &base,
        "/health",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let vm_rules = poll_json(
        &format!("{base}/api/v1/rules"),
        Duration::from_secs(60),
        settled,
    )
    .await
    .unwrap_or_else(|| panic!("vmalert's rules did not settle:\n{}", vmalert.log_tail(20)));
    let (_, vm_alerts) = get_json(&format!("{base}/api/v1/alerts")).await;

    let srv = server().groups(equivalent_snapshot()).start().await;
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
