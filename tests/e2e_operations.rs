//! Operating tocsin with real Prometheus (datasource) and Alertmanager: the
//! `-rule.watchdog` dead man's switch reaches Alertmanager while the pipeline works and
//! leaves it when the datasource stops.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::http::{alerts_named, get_json, has_alert, poll_alertmanager, poll_json};
use support::peers::{ChildGuard, peer_or_skip};
use support::servers::{start_alertmanager, start_plain_prometheus, start_tocsin};

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

/// tocsin with one trivial group and `extra` flags, querying `prom_url`, sending to
/// `am_url`.
async fn tocsin_with(
    dir: &Path,
    prom_url: &str,
    am_url: &str,
    extra: &[&str],
) -> (ChildGuard, String) {
    let file = dir.join("rules.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    let mut args = vec![
        format!("-rule={}", file.display()),
        format!("-datasource.url={prom_url}"),
        format!("-notifier.url={am_url}"),
        format!("-remoteWrite.url={prom_url}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    start_tocsin(&args, dir, "tocsin").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_reaches_alertmanager_and_leaves_when_the_datasource_stops() {
    let (Some(prom), Some(am_bin)) = (
        peer_or_skip("prometheus"),
        peer_or_skip("prometheus-alertmanager"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (p, prom_url) = start_plain_prometheus(&prom, dir.path()).await.unwrap();
    let (_a, am_url) = start_alertmanager(&am_bin, dir.path()).await.unwrap();
    let (mut t, url) = tocsin_with(
        dir.path(),
        &prom_url,
        &am_url,
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
    let alerts = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(5),
        |v| {
            v["data"]["alerts"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["labels"]["alertname"] == "DeadMansSwitch")
            })
        },
    )
    .await
    .expect("tocsin lists the watchdog");
    assert!(alerts.to_string().contains("\"firing\""), "{alerts}");
    let (_, rules) = get_json(&format!("{url}/api/v1/rules")).await;
    let group = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["file"] == "-rule.watchdog")
        .unwrap_or_else(|| panic!("no watchdog group: {rules}"));
    assert_eq!(group["rules"][0]["health"], "ok", "{group}");

    // The datasource stops: the watchdog leaves Alertmanager, and tocsin says why.
    drop(p);
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
