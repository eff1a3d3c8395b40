//! tocsin's rule extensions against real Prometheus (datasource) and Alertmanager:
//! `recover_expr` keeps an alert firing at Alertmanager between the thresholds and
//! resolves it below the recovery threshold; `for_count` delays firing by the counted
//! evaluations.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use support::http::{alerts_named, has_alert, poll_alertmanager, poll_json, push};
use support::peers::peer_or_skip;
use support::servers::{start_alertmanager, start_plain_prometheus, start_tocsin};

/// Writes `demo_cpu{instance="a"} value` into Prometheus, stamped now.
async fn push_cpu(prom_url: &str, value: f64) {
    push(prom_url, "demo_cpu", &[("instance", "a")], value).await;
}

const RULES: &str = r#"groups:
  - name: ext
    interval: 1s
    rules:
      - alert: HighCPU
        expr: demo_cpu > 90
        recover_expr: demo_cpu < 70
      - alert: HighCPUPlain
        expr: demo_cpu > 90
      - alert: HighCPUCounted
        expr: demo_cpu > 90
        for_count: {n: 3, of: 3}
"#;

fn rfc3339_ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a time, got {v}"));
    let t = humantime::parse_rfc3339_weak(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hysteresis_and_dampening_reach_alertmanager() {
    let (Some(prom), Some(am_bin)) = (
        peer_or_skip("prometheus"),
        peer_or_skip("prometheus-alertmanager"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_p, prom_url) = start_plain_prometheus(&prom, dir.path()).await.unwrap();
    let (_a, am_url) = start_alertmanager(&am_bin, dir.path()).await.unwrap();
    push_cpu(&prom_url, 95.0).await;
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let (mut t, url) = start_tocsin(
        &[
            format!("-rule={}", rules.display()),
            format!("-datasource.url={prom_url}"),
            format!("-notifier.url={am_url}"),
            "-rule.resendDelay=1s".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();

    // All three fire at 95.
    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        ["HighCPU", "HighCPUPlain", "HighCPUCounted"]
            .iter()
            .all(|n| has_alert(v, n))
    })
    .await
    .unwrap_or_else(|| panic!("alerts never reached Alertmanager:\n{}", t.log_tail(30)));
    // `for_count: {n: 3, of: 3}` fired at the third evaluation that returned the series:
    // two intervals after it went pending; the plain rule fired at its first.
    let api = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(5),
        |v| v["data"]["alerts"].as_array().is_some_and(|a| a.len() == 3),
    )
    .await
    .expect("tocsin lists the three alerts");
    let active_at = |name: &str| {
        let a = api["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .unwrap_or_else(|| panic!("{name} in {api}"));
        rfc3339_ms(&a["activeAt"])
    };
    let starts_at = |name: &str| rfc3339_ms(&alerts_named(&am, name)[0]["startsAt"]);
    assert!(
        starts_at("HighCPUCounted") - active_at("HighCPUCounted") >= 2000,
        "counted: activeAt {} startsAt {}",
        active_at("HighCPUCounted"),
        starts_at("HighCPUCounted")
    );
    assert_eq!(starts_at("HighCPUPlain"), active_at("HighCPUPlain"));

    // 80: between the thresholds. The plain rule resolves (so tocsin has seen 80);
    // the hysteresis rule is still firing at Alertmanager then.
    push_cpu(&prom_url, 80.0).await;
    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "HighCPUPlain")
    })
    .await
    .unwrap_or_else(|| panic!("the plain alert never resolved:\n{}", t.log_tail(30)));
    assert!(has_alert(&am, "HighCPU"), "held between thresholds: {am}");
    let rules_api = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(5),
        |v| {
            v["data"]["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x["labels"]["alertname"] == "HighCPU"))
        },
    )
    .await
    .expect("only the held alert is active in tocsin");
    assert_eq!(rules_api["data"]["alerts"][0]["state"], "firing");

    // 60: below the recovery threshold: resolved at Alertmanager.
    push_cpu(&prom_url, 60.0).await;
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "HighCPU")
    })
    .await
    .unwrap_or_else(|| panic!("the held alert never resolved:\n{}", t.log_tail(30)));

    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}
