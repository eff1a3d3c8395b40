//! tocsin against real servers: alerts reach real Alertmanager and resolve; recorded
//! series land in real VictoriaMetrics and Prometheus and read back; a chained rule sees
//! its predecessor's output in the same cycle.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::http::{
    alerts_named, force_flush_victoria_metrics, has_alert, poll_alertmanager, poll_json,
    poll_victoria_metrics, push,
};
use support::peers::peer_or_skip;
use support::servers::{Servers, start_tocsin, start_victoria_metrics};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_alertmanager_and_resolve() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let (prom_url, am_url) = (s.prom_url.clone(), s.am_url.clone());
    push(&prom_url, "demo_errors", &[("service", "api")], 5.0).await;

    let (mut t, url) = s
        .tocsin_on(
            r#"groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: TooManyErrors
        expr: demo_errors > 1
        for: 2s
        labels: { severity: page }
        annotations:
          summary: "{{ $labels.service }} has {{ $value }} errors"
"#,
            &[
                "-external.url=http://tocsin.example:8880".into(),
                "-external.label=cluster=e2e".into(),
                "-rule.resendDelay=1s".into(),
            ],
        )
        .await;

    // Pending first, visible in tocsin's API but not at Alertmanager.
    let pending = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(10),
        |v| v["data"]["alerts"][0]["state"] == "pending",
    )
    .await
    .expect("the alert goes pending");
    assert_eq!(pending["data"]["alerts"][0]["labels"]["severity"], "page");

    // Then firing at Alertmanager, with the annotation rendered and external labels.
    let am = poll_alertmanager(&am_url, Duration::from_secs(15), |v| {
        has_alert(v, "TooManyErrors")
    })
    .await
    .unwrap_or_else(|| panic!("alert never reached Alertmanager:\n{}", t.log_tail(30)));
    let a = alerts_named(&am, "TooManyErrors")[0];
    assert_eq!(a["annotations"]["summary"], "api has 5 errors");
    assert_eq!(a["labels"]["cluster"], "e2e");
    assert_eq!(a["labels"]["alertgroup"], "e2e");
    assert!(
        a["generatorURL"]
            .as_str()
            .unwrap()
            .starts_with("http://tocsin.example:8880/graph?g0.expr=demo_errors")
    );
    assert_eq!(a["status"]["state"], "active");

    // The condition clears: the alert is resolved at Alertmanager.
    push(&prom_url, "demo_errors", &[("service", "api")], 0.0).await;
    poll_alertmanager(&am_url, Duration::from_secs(15), |v| {
        !has_alert(v, "TooManyErrors")
    })
    .await
    .unwrap_or_else(|| panic!("alert never resolved:\n{}", t.log_tail(30)));

    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_series_land_in_victoria_metrics() {
    let Some(vm) = peer_or_skip("victoria-metrics") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_v, vm_url) = start_victoria_metrics(&vm, dir.path(), &[]).await.unwrap();
    push(&vm_url, "demo_requests", &[("code", "200")], 30.0).await;
    push(&vm_url, "demo_requests", &[("code", "500")], 12.0).await;
    force_flush_victoria_metrics(&vm_url).await;
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        r#"groups:
  - name: vm
    interval: 1s
    rules:
      - record: code:demo_requests:sum
        expr: sum by (code) (demo_requests)
        labels: { source: tocsin }
"#,
    )
    .unwrap();
    let (mut t, _url) = start_tocsin(
        &[
            format!("-rule={}", rules.display()),
            format!("-datasource.url={vm_url}"),
            format!("-remoteWrite.url={vm_url}"),
            "-remoteWrite.flushInterval=200ms".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();
    let q = "code:demo_requests:sum";
    let v = poll_victoria_metrics(&vm_url, q, Duration::from_secs(20), |v| {
        v["data"]["result"].as_array().is_some_and(|r| r.len() == 2)
    })
    .await
    .unwrap_or_else(|| panic!("recorded series never arrived:\n{}", t.log_tail(30)));
    let mut got: Vec<(String, String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["code"].as_str().unwrap().to_string(),
                s["metric"]["source"].as_str().unwrap().to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("200".into(), "tocsin".into(), "30".into()),
            ("500".into(), "tocsin".into(), "12".into())
        ]
    );
    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_rule_sees_its_predecessor_in_the_same_cycle() {
    let Some(s) = Servers::prometheus().await else {
        return;
    };
    let prom_url = s.prom_url.clone();
    push(&prom_url, "demo_load", &[("host", "a")], 7.0).await;
    // A long interval, and the group's only evaluation pinned a few seconds from now:
    // the alert can only fire if tocsin makes the recorded series visible before the
    // second rule queries, in the same cycle.
    let offset_s = (now_ms() / 1000 + 4) % 3600;
    let (t, url) = s
        .tocsin_on(
            &format!(
                r#"groups:
  - name: chain
    interval: 1h
    eval_offset: {offset_s}s
    rules:
      - record: host:demo_load:max
        expr: max by (host) (demo_load)
      - alert: HighLoad
        expr: host:demo_load:max > 5
"#
            ),
            &[format!("-remoteWrite.url={prom_url}")],
        )
        .await;
    let v = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(15),
        |v| {
            v["data"]["alerts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        },
    )
    .await
    .unwrap_or_else(|| {
        panic!(
            "the chained alert did not fire in the first cycle:\n{}",
            t.log_tail(30)
        )
    });
    let a = &v["data"]["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "HighLoad");
    assert_eq!(a["labels"]["host"], "a");
    assert_eq!(a["state"], "firing");
    let rules = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(5),
        |_| true,
    )
    .await
    .unwrap();
    let evaluated: Vec<&Value> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["health"] == "ok")
        .collect();
    assert_eq!(evaluated.len(), 2, "both rules ran once: {rules}");
}

/// `-rule.maxActiveAlerts` against a real Prometheus: the rule that would take the
/// budget past its limit fails (health, lastError in the API that the UI shows), holds
/// no alerts, is counted on `/metrics`; the rule evaluated before it keeps its alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_active_alerts_fails_the_rule_that_overflows() {
    let Some(s) = Servers::prometheus().await else {
        return;
    };
    let prom_url = s.prom_url.clone();
    for pod in ["p0", "p1", "p2", "p3", "p4"] {
        push(&prom_url, "demo_up", &[("pod", pod)], 0.0).await;
    }
    let (mut t, url) = s
        .tocsin_on(
            r#"groups:
  - name: budget
    interval: 1s
    rules:
      - alert: OnePodDown
        expr: demo_up{pod="p0"} == 0
      - alert: AllPodsDown
        expr: demo_up == 0
"#,
            &["-rule.maxActiveAlerts=3".into()],
        )
        .await;
    let rules_of = |v: &Value| -> Vec<Value> {
        v["data"]["groups"][0]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let v = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(20),
        |v| rules_of(v).iter().all(|r| r["health"] != "unknown") && !rules_of(v).is_empty(),
    )
    .await
    .unwrap_or_else(|| panic!("rules never evaluated:\n{}", t.log_tail(30)));
    let rules = rules_of(&v);
    assert_eq!(rules[0]["name"], "OnePodDown");
    assert_eq!(rules[0]["health"], "ok", "{}", rules[0]);
    assert_eq!(rules[0]["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(rules[1]["health"], "err", "{}", rules[1]);
    let e = rules[1]["lastError"].as_str().unwrap_or_default();
    assert!(
        e.contains("-rule.maxActiveAlerts of 3") && e.contains("would hold 5"),
        "{e}"
    );
    assert_eq!(rules[1]["alerts"].as_array().map(Vec::len), Some(0));
    let alerts = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(5),
        |_| true,
    )
    .await
    .unwrap();
    let names: Vec<&str> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    assert_eq!(names, ["OnePodDown"]);
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exceeded = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tocsin_rule_max_active_alerts_exceeded_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exceeded counter in /metrics"));
    assert!(exceeded >= 1.0, "{exceeded}");
    t.terminate(Duration::from_secs(15));
}
