//! The API stays fast with 20,000 rules: serializing straight from snapshots must not
//! turn quadratic. No absolute time is asserted (debug build, shared and noisy machine):
//! the answer for 10 times the rules must take well under 100 times as long (linear is
//! 10 times), both measured in the same run; the figures are printed for the record.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::http::get_json;
use support::web::{server, t0};
use tocsin::labels::Labels;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, Annotations, GroupStatus, Health, RuleKindStatus,
    RuleStatus,
};

/// `groups` groups x 100 rules; every other rule alerting with two alerts.
fn big_snapshot(groups: usize) -> Vec<Arc<GroupStatus>> {
    (0..groups)
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
                            for_: Duration::from_secs(300),
                            alerts,
                            ..Default::default()
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

/// The best of three answers to `path`: its time and body.
async fn best_of_3(client: &reqwest::Client, url: &str) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut body = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        body = client.get(url).send().await.unwrap().text().await.unwrap();
        best = best.min(t.elapsed());
    }
    (best, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_rules() {
    let small = server().groups(big_snapshot(20)).start().await;
    let srv = server().groups(big_snapshot(200)).start().await;
    let client = reqwest::Client::new();
    for (path, want_len) in [
        ("/api/v1/rules", 0usize),
        ("/api/v1/alerts", 20_000),
        ("/api/v1/rules?type=record&rule_group[]=group-7", 0),
    ] {
        let (best, body) = best_of_3(&client, &format!("{}{path}", srv.base)).await;
        let (small_best, _) = best_of_3(&client, &format!("{}{path}", small.base)).await;
        println!(
            "{path}: {} bytes, best of 3: {best:?} (2,000 rules: {small_best:?})",
            body.len()
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if want_len > 0 {
            assert_eq!(v["data"]["alerts"].as_array().unwrap().len(), want_len);
        }
        // A filtered answer is small at both sizes; only the full ones must scale.
        if !path.contains('?') {
            let ratio = best.as_secs_f64() / small_best.as_secs_f64().max(1e-3);
            assert!(
                ratio < 40.0,
                "{path}: 10x the rules took {ratio:.1}x as long"
            );
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
    srv.shutdown().await;
    small.shutdown().await;
}
