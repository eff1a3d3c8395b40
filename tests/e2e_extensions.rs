//! tocsin's rule extensions against real Prometheus (datasource) and Alertmanager:
//! `recover_expr` keeps an alert firing at Alertmanager between the thresholds and
//! resolves it below the recovery threshold; `for_count` delays firing by the counted
//! evaluations.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use support::http::{alerts_named, has_alert, poll_alertmanager, poll_json, push};
use support::servers::Servers;

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

/// tocsin's flags here besides the rule file: alerts resent every second.
fn resend_every_second() -> Vec<String> {
    vec!["-rule.resendDelay=1s".into()]
}

fn rfc3339_ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a time, got {v}"));
    let t = humantime::parse_rfc3339_weak(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hysteresis_and_dampening_reach_alertmanager() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let (prom_url, am_url) = (s.prom_url.clone(), s.am_url.clone());
    push_cpu(&prom_url, 95.0).await;
    let (mut t, url) = s.tocsin_on(RULES, &resend_every_second()).await;

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

const POLICY_RULES: &str = r#"groups:
  - name: policies
    interval: 1s
    rules:
      - alert: CPUNoData
        expr: demo_nd_cpu > 90
        no_data: {after: 2s, state: alerting}
      - alert: CPUErrors
        expr: demo_err_cpu > on() group_left() demo_err_dup
        on_error: {after: 0s, state: alerting}
"#;

/// The alerts named `name` whose `alertstate_reason` is `reason` ("" for none).
fn with_reason<'a>(alerts: &'a Value, name: &str, reason: &str) -> Vec<&'a Value> {
    alerts_named(alerts, name)
        .into_iter()
        .filter(|a| a["labels"]["alertstate_reason"].as_str().unwrap_or("") == reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_and_error_alerts_reach_alertmanager() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let (prom_url, am_url) = (s.prom_url.clone(), s.am_url.clone());
    let push_one = |name: &'static str, inst: &'static str, v: f64| {
        let prom_url = prom_url.clone();
        async move { push(&prom_url, name, &[("instance", inst)], v).await }
    };
    // Data below the threshold: the condition is false, which is not "no data".
    push_one("demo_nd_cpu", "a", 50.0).await;
    push_one("demo_err_cpu", "a", 95.0).await;
    push_one("demo_err_dup", "a", 1.0).await;
    let (mut t, url) = s.tocsin_on(POLICY_RULES, &resend_every_second()).await;
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        with_reason(v, "CPUErrors", "").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("CPUErrors never fired:\n{}", t.log_tail(30)));

    // The series ends (a staleness marker): no data. After 2s, the no-data alert.
    let ended = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    push_one("demo_nd_cpu", "a", tocsin::rule::stale_nan()).await;
    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        with_reason(v, "CPUNoData", "no_data").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("the no-data alert never fired:\n{}", t.log_tail(30)));
    let nd = with_reason(&am, "CPUNoData", "no_data")[0];
    assert!(
        rfc3339_ms(&nd["startsAt"]) >= ended,
        "raised only once the data was gone: {nd}"
    );
    let api = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(5),
        |v| {
            v["data"]["alerts"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["labels"]["alertstate_reason"] == "no_data")
            })
        },
    )
    .await
    .expect("tocsin lists the no-data alert");
    let listed = api["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["labels"]["alertstate_reason"] == "no_data")
        .unwrap();
    let started = rfc3339_ms(&listed["activeAt"]);
    assert!(
        rfc3339_ms(&nd["startsAt"]) - started >= 2000,
        "fired `after` 2s of no data: activeAt {started}, startsAt {}",
        nd["startsAt"]
    );

    // Data again: the no-data alert resolves.
    push_one("demo_nd_cpu", "a", 50.0).await;
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "CPUNoData")
    })
    .await
    .unwrap_or_else(|| panic!("the no-data alert never resolved:\n{}", t.log_tail(30)));

    // A second `demo_err_dup` makes the query fail in Prometheus (duplicate series on
    // the "one" side): the error alert fires, and the rule's own alert stays at
    // Alertmanager, re-sent with a later `endsAt` while the errors last.
    push_one("demo_err_dup", "b", 1.0).await;
    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        with_reason(v, "CPUErrors", "error").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("the error alert never fired:\n{}", t.log_tail(30)));
    let err_start = rfc3339_ms(&with_reason(&am, "CPUErrors", "error")[0]["startsAt"]);
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        with_reason(v, "CPUErrors", "")
            .first()
            .is_some_and(|a| rfc3339_ms(&a["endsAt"]) > err_start + 5000)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the kept alert was not re-sent during the errors:\n{}",
            t.log_tail(30)
        )
    });

    // The duplicate ends: the error alert resolves, the rule's alert fires on.
    push_one("demo_err_dup", "b", tocsin::rule::stale_nan()).await;
    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        with_reason(v, "CPUErrors", "error").is_empty()
    })
    .await
    .unwrap_or_else(|| panic!("the error alert never resolved:\n{}", t.log_tail(30)));
    assert_eq!(with_reason(&am, "CPUErrors", "").len(), 1, "{am}");

    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}
