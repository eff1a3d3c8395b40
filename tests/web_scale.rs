//! The API answers completely with 20,000 rules, from one snapshot shared by every
//! request. How fast is a benchmark figure (`integration/soak.sh`, the `api` probe, in
//! docs/benchmarks.md), not an assertion: the machine is shared, and a time bound failed
//! under load once. The figures printed here are for the record only.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::http::get_json;
use support::web::{Fake, server, t0};
use tocsin::labels::Labels;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, Annotations, GroupStatus, Health, RuleKindStatus,
    RuleStatus,
};

/// 200 groups x 100 rules; every other rule alerting with two alerts.
fn big_snapshot() -> Vec<Arc<GroupStatus>> {
    (0..200)
        .map(|gi| {
            let mut g = GroupStatus::new(
                &format!("/rules/f{}.yml", gi % 10),
                &format!("group-{gi}"),
                Duration::from_secs(30),
            );
            g.last_evaluation = Some(t0());
            g.rules = (0..100u64)
                .map(|ri| {
                    let name = format!("rule_{gi}_{ri}");
                    let kind = if ri % 2 == 0 {
                        let alerts = (0..2)
                            .map(|ai| {
                                let labels = Labels::from_pairs([
                                    ("alertname", name.as_str()),
                                    ("instance", &format!("host-{ai}:9100")),
                                    ("job", "node"),
                                    ("severity", "warning"),
                                ]);
                                let mut a =
                                    AlertStatus::new(labels, AlertState::Firing, t0(), 0.93);
                                a.annotations = Annotations::from_pairs([(
                                    "summary",
                                    "disk almost full on host",
                                )]);
                                a
                            })
                            .collect();
                        RuleKindStatus::Alerting(AlertingStatus {
                            spec: Arc::new(tocsin::config::AlertingSpec {
                                for_: Duration::from_secs(300),
                                ..Default::default()
                            }),
                            alerts,
                        })
                    } else {
                        RuleKindStatus::Recording
                    };
                    let mut r = RuleStatus::new(
                        ri,
                        &name,
                        "sum by (job) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
                        kind,
                    );
                    r.health = Health::Ok;
                    r.last_evaluation = Some(t0());
                    Arc::new(r)
                })
                .collect();
            Arc::new(g)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_rules() {
    let state = Fake::new(big_snapshot(), true);
    let before = state.board.snapshot();
    let srv = server().state(state.clone()).start().await;
    let client = reqwest::Client::new();
    for (path, want_len) in [
        ("/api/v1/rules", 0usize),
        ("/api/v1/alerts", 20_000),
        ("/api/v1/rules?type=record&rule_group[]=group-7", 0),
    ] {
        let mut best = Duration::MAX;
        let mut bytes = 0;
        let mut body = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            body = client
                .get(format!("{}{path}", srv.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            best = best.min(t.elapsed());
            bytes = body.len();
        }
        println!("{path}: {bytes} bytes, best of 3: {best:?}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if want_len > 0 {
            assert_eq!(v["data"]["alerts"].as_array().unwrap().len(), want_len);
        }
    }
    let (_, v) = get_json(&format!("{}/api/v1/rules", srv.base)).await;
    let rules: usize = v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_array().unwrap().len())
        .sum();
    assert_eq!(rules, 20_000);
    // Nine requests later the board hands out the same snapshot: answers read the one
    // built after the last change, they do not copy the status per request.
    let after = state.board.snapshot();
    assert!(Arc::ptr_eq(&before.groups, &after.groups));
    assert_eq!(before.version, after.version);
    srv.shutdown().await;
}
