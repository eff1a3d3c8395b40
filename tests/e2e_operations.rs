//! Operating tocsin with real Prometheus (datasource) and Alertmanager: the
//! `-rule.watchdog` dead man's switch reaches Alertmanager while the pipeline works and
//! leaves it when the datasource stops; a rule paused through the API leaves
//! Alertmanager, stays paused across a restart (`-rule.pausesFile`) and comes back when
//! resumed.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::http::{
    alerts_named, get_json, has_alert, poll_alertmanager, poll_json, poll_tocsin_alerts, post_form,
};
use support::peers::ChildGuard;
use support::servers::Servers;

fn rfc3339_ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a time, got {v}"));
    let t = humantime::parse_rfc3339_weak(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One group, every second: a recording rule and an alert that always fires.
const RULES: &str = "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n      - alert: Always\n        expr: vector(1)\n";

/// tocsin on [`RULES`] with `extra` flags, querying and writing to `s`'s Prometheus,
/// sending to its Alertmanager.
async fn tocsin_with(s: &Servers, extra: &[&str]) -> (ChildGuard, String) {
    let mut args = vec![format!("-remoteWrite.url={}", s.prom_url)];
    args.extend(extra.iter().map(|a| a.to_string()));
    s.tocsin_on(RULES, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_reaches_alertmanager_and_leaves_when_the_datasource_stops() {
    let Some(mut s) = Servers::with_alertmanager().await else {
        return;
    };
    let am_url = s.am_url.clone();
    let (mut t, url) = tocsin_with(
        &s,
        &[
            "-rule.watchdog=DeadMansSwitch",
            "-rule.watchdog.interval=1s",
            "-external.label=cluster=e2e",
        ],
    )
    .await;

    let am = poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        has_alert(v, "DeadMansSwitch")
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the watchdog never reached Alertmanager:\n{}",
            t.log_tail(30)
        )
    });
    let w = alerts_named(&am, "DeadMansSwitch")[0];
    assert_eq!(w["labels"]["cluster"], "e2e", "{w}");
    // Valid for 4 intervals only: Alertmanager expires it soon after tocsin stops.
    let ends = rfc3339_ms(&w["endsAt"]);
    assert!(ends - now_ms() <= 5_000, "endsAt too far: {w}");

    // tocsin shows it as a firing alert of a healthy rule in the group `-rule.watchdog`.
    let alerts = poll_tocsin_alerts(&url, Duration::from_secs(5), |a| {
        has_alert(a, "DeadMansSwitch")
    })
    .await
    .expect("tocsin lists the watchdog");
    assert_eq!(
        alerts_named(&alerts, "DeadMansSwitch")[0]["state"],
        "firing"
    );
    let (_, rules) = get_json(&format!("{url}/api/v1/rules")).await;
    let group = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["file"] == "-rule.watchdog")
        .unwrap_or_else(|| panic!("no watchdog group: {rules}"));
    assert_eq!(group["rules"][0]["health"], "ok", "{group}");

    // The datasource stops: the watchdog leaves Alertmanager, and tocsin says why.
    s.stop_prometheus();
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "DeadMansSwitch")
    })
    .await
    .unwrap_or_else(|| panic!("the watchdog stayed at Alertmanager:\n{}", t.log_tail(30)));
    let rules = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(10),
        |v| v.to_string().contains("the datasource last answered"),
    )
    .await
    .unwrap_or_else(|| panic!("tocsin does not say why:\n{}", t.log_tail(30)));
    assert!(rules.to_string().contains("\"err\""), "{rules}");
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tocsin_watchdog_healthy 0"), "{metrics}");
    assert!(
        metrics.lines().any(|l| l
            .starts_with("tocsin_watchdog_unhealthy_checks_total{reason=\"datasource\"}")
            && !l.ends_with(" 0")),
        "{metrics}"
    );

    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}

/// The rule `Always` in tocsin's `/api/v1/rules`.
fn always(rules: &Value) -> &Value {
    rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Always")
        .unwrap_or_else(|| panic!("no rule Always: {rules}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_rule_leaves_alertmanager_and_stays_paused_across_a_restart() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let am_url = s.am_url.clone();
    let pauses = s.path().join("pauses.json");
    let flags = [
        format!("-rule.pausesFile={}", pauses.display()),
        "-reloadAuthKey=k".to_string(),
        "-rule.resendDelay=1s".to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (mut t, url) = tocsin_with(&s, &flags).await;
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| has_alert(v, "Always"))
        .await
        .unwrap_or_else(|| panic!("Always never reached Alertmanager:\n{}", t.log_tail(30)));

    let form = [
        ("group", "g"),
        ("rule", "Always"),
        ("reason", "maintenance"),
        ("by", "alice"),
        ("note", "INC-1"),
    ];
    let (code, _) = post_form(&format!("{url}/api/v1/rules/pause"), &form).await;
    assert_eq!(code, 401, "the reload key guards pausing");
    let mut keyed = form.to_vec();
    keyed.push(("authKey", "k"));
    let (code, v) = post_form(&format!("{url}/api/v1/rules/pause"), &keyed).await;
    assert_eq!(code, 200, "{v}");
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| {
        !has_alert(v, "Always")
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the paused alert stayed at Alertmanager:\n{}",
            t.log_tail(30)
        )
    });
    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");

    // Restarted on the same file: still paused, never evaluated, nothing sent.
    let (mut t, url) = tocsin_with(&s, &flags).await;
    let rules = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(30),
        |v| {
            v["data"]["groups"][0]["rules"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["name"] == "one" && r["health"] == "ok"))
        },
    )
    .await
    .unwrap_or_else(|| panic!("the group never ran after the restart:\n{}", t.log_tail(30)));
    let a = always(&rules);
    assert_eq!(a["paused"]["by"], "alice", "{a}");
    assert_eq!(a["paused"]["reason"], "maintenance");
    assert_eq!(a["paused"]["note"], "INC-1");
    assert_eq!(
        a["lastEvaluation"], "0001-01-01T00:00:00Z",
        "not evaluated: {a}"
    );
    // Two more evaluations of the group; still nothing at Alertmanager.
    let seen = rules["data"]["groups"][0]["lastEvaluation"].clone();
    poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(30),
        |v| v["data"]["groups"][0]["lastEvaluation"] != seen,
    )
    .await
    .expect("the group evaluates");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, am) = get_json(&format!("{am_url}/api/v2/alerts")).await;
    assert!(!has_alert(&am, "Always"), "{am}");

    // Resumed: evaluated and sent again.
    let resume = [("group", "g"), ("rule", "Always"), ("authKey", "k")];
    let (code, v) = post_form(&format!("{url}/api/v1/rules/resume"), &resume).await;
    assert_eq!(code, 200, "{v}");
    poll_alertmanager(&am_url, Duration::from_secs(30), |v| has_alert(v, "Always"))
        .await
        .unwrap_or_else(|| panic!("Always did not come back:\n{}", t.log_tail(30)));
    let saved = std::fs::read_to_string(&pauses).unwrap();
    assert!(
        !saved.contains("Always"),
        "resumed pauses leave the file: {saved}"
    );
    let status = t
        .terminate(Duration::from_secs(15))
        .expect("tocsin stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
}
