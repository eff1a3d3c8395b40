//! tocsin's rule extensions against real Prometheus (datasource) and Alertmanager:
//! `recover_expr` keeps an alert firing at Alertmanager between the thresholds and
//! resolves it below the recovery threshold; `for_count` delays firing by the counted
//! evaluations; `flapping` labels a flapping alert or holds it; `no_data` and `on_error`
//! raise their synthetic alerts.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use support::http::{
    alerts_named, get_json, has_alert, poll_alertmanager, poll_tocsin_alerts, push,
};
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
    let api = poll_tocsin_alerts(&url, Duration::from_secs(5), |a| {
        a.as_array().is_some_and(|a| a.len() == 3)
    })
    .await
    .expect("tocsin lists the three alerts");
    let active_at = |name: &str| {
        let a = alerts_named(&api, name);
        rfc3339_ms(&a.first().unwrap_or_else(|| panic!("{name} in {api}"))["activeAt"])
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
    let active = poll_tocsin_alerts(&url, Duration::from_secs(5), |a| {
        a.as_array()
            .is_some_and(|a| a.iter().all(|x| x["labels"]["alertname"] == "HighCPU"))
    })
    .await
    .expect("only the held alert is active in tocsin");
    assert_eq!(active[0]["state"], "firing");

    // 60: below the recovery threshold: resolved at Alertmanager.
    push_cpu(&prom_url, 60.0).await;
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "HighCPU")
    })
    .await
    .unwrap_or_else(|| panic!("the held alert never resolved:\n{}", t.log_tail(30)));

    // Bad extension input in a reload: a misspelt key, `for_count` with n > of and
    // `recover_expr` on a recording rule. The API refuses the reload naming each
    // mistake by file:line:col, group and rule, and the rules keep running.
    let bad = RULES
        .replace(
            "recover_expr: demo_cpu < 70",
            "recovery_expr: demo_cpu < 70",
        )
        .replace("{n: 3, of: 3}", "{n: 4, of: 3}")
        + "      - record: cpu:recovered\n        expr: demo_cpu\n        recover_expr: demo_cpu < 70\n";
    let file = s.write("rules.yml", &bad);
    let r = reqwest::Client::new()
        .post(format!("{url}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    let file = file.display();
    for want in [
        format!("{file}:7:9: group \"ext\", rule 1, \"HighCPU\": unknown field \"recovery_expr\""),
        "did you mean \"recover_expr\"?".to_string(),
        format!(
            "{file}:12:24: group \"ext\", rule 3, \"HighCPUCounted\": invalid `for_count`: n: 4, of: 3"
        ),
        format!(
            "{file}:15:9: group \"ext\", rule 4, \"cpu:recovered\": invalid field 'recover_expr' in recording rule"
        ),
    ] {
        assert!(body.contains(&want), "{want:?} not in {body}");
    }
    let (_, rules) = get_json(&format!("{url}/api/v1/rules")).await;
    let names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HighCPU", "HighCPUPlain", "HighCPUCounted"], "kept");

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
    let api = poll_tocsin_alerts(&url, Duration::from_secs(5), |a| {
        !with_reason(a, "CPUNoData", "no_data").is_empty()
    })
    .await
    .expect("tocsin lists the no-data alert");
    let listed = with_reason(&api, "CPUNoData", "no_data")[0];
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
const FLAPPING_RULES: &str = r#"groups:
  - name: flap
    interval: 1s
    rules:
      - alert: Flappy
        expr: demo_flap > 90
        flapping: {changes: 2, within: 30s}
      - alert: FlappyHeld
        expr: demo_flap > 90
        flapping: {changes: 2, within: 30s, hold: true}
"#;

/// The alerts named `name` at Alertmanager whose `flapping` label is `flapping` (""
/// for none).
fn flapping_at<'a>(alerts: &'a Value, name: &str, flapping: &str) -> Vec<&'a Value> {
    alerts_named(alerts, name)
        .into_iter()
        .filter(|a| a["labels"]["flapping"].as_str().unwrap_or("") == flapping)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_alerts_reach_alertmanager_labelled_or_held() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let (prom_url, am_url) = (s.prom_url.clone(), s.am_url.clone());
    let flap = |v: f64| {
        let prom_url = prom_url.clone();
        async move { push(&prom_url, "demo_flap", &[("instance", "a")], v).await }
    };
    let wait = Duration::from_secs(60);
    flap(95.0).await;
    let (mut t, url) = s.tocsin_on(FLAPPING_RULES, &resend_every_second()).await;
    // First change: both fire, plain.
    poll_alertmanager(&am_url, wait, |v| {
        flapping_at(v, "Flappy", "").len() == 1 && flapping_at(v, "FlappyHeld", "").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("the alerts never fired:\n{}", t.log_tail(30)));
    // Second change: both resolve.
    flap(50.0).await;
    poll_alertmanager(&am_url, wait, |v| {
        !has_alert(v, "Flappy") && !has_alert(v, "FlappyHeld")
    })
    .await
    .unwrap_or_else(|| panic!("the alerts never resolved:\n{}", t.log_tail(30)));
    // Third change within 30s: more than 2, flapping. Flappy reaches Alertmanager with
    // `flapping="true"`; FlappyHeld fires in tocsin but nothing is sent for it.
    flap(95.0).await;
    let am = poll_alertmanager(&am_url, wait, |v| {
        flapping_at(v, "Flappy", "true").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("no flapping alert at Alertmanager:\n{}", t.log_tail(30)));
    assert!(flapping_at(&am, "Flappy", "").is_empty(), "{am}");
    let api = poll_tocsin_alerts(&url, wait, |a| {
        a.as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x["flapping"] == true))
    })
    .await
    .expect("tocsin lists both alerts as flapping");
    assert!(
        api.as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "firing" && a["labels"].get("flapping").is_none()),
        "{api}"
    );
    // Two resend delays later, the held alert is still not at Alertmanager.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, am) = get_json(&format!("{am_url}/api/v2/alerts")).await;
    assert!(!has_alert(&am, "FlappyHeld"), "held while flapping: {am}");
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str, rule: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("rule=\"{rule}\"")))
            .unwrap_or_else(|| panic!("no {name} of {rule} in /metrics:\n{metrics}"))
            .to_string()
    };
    assert!(line("tocsin_alerts_flapping{", "Flappy").ends_with(" 1"));
    assert!(line("tocsin_alerts_flapping_transitions_total{", "FlappyHeld").ends_with(" 3"));

    // Steady for the 30s window: it settles. Alertmanager gets the plain Flappy firing
    // and the `flapping="true"` one resolved, and FlappyHeld again.
    poll_alertmanager(&am_url, wait, |v| {
        flapping_at(v, "Flappy", "").len() == 1
            && flapping_at(v, "Flappy", "true").is_empty()
            && flapping_at(v, "FlappyHeld", "").len() == 1
    })
    .await
    .unwrap_or_else(|| panic!("the alerts never settled:\n{}", t.log_tail(30)));

    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}
