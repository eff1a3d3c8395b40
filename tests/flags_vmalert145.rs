//! vmalert 1.145's flags that change what tocsin does, end to end through the binary:
//! what the datasource is asked, what the API, `/metrics` and the log show.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::eventually;
use support::fake_http::serve_fn;
use support::http::get_json;
use support::servers::start_tocsin;

const EMPTY: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

const RULES: &str = "groups:
- name: hourly
  interval: 1h
  rules:
  - alert: HourlyDown
    expr: up{job=\"hourly\"} == 0
- name: fast
  interval: 1s
  rules:
  - alert: FastDown
    expr: up{job=\"fast\"} == 0
";

/// A query the fake datasource received: path and form body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The form parameter `name` of a query body.
fn param(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vmalert_145_flags_shape_queries_api_metrics_and_logs() {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let (ds, _) = serve_fn(move |_, r| {
        s.lock()
            .unwrap()
            .push((r.path.to_string(), r.body.to_string()));
        Some((200, "application/json", EMPTY.to_string()))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("tenant-secret-bucket");
    std::fs::create_dir(&rules_dir).unwrap();
    let rules = rules_dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let long_url = format!("http://example.com/{}", "a".repeat(100));
    let args: Vec<String> = [
        format!("-rule={}", rules.display()),
        format!("-datasource.url={ds}/select/0"),
        format!("-external.url={long_url}"),
        "-datasource.appendTypePrefix".into(),
        "-datasource.roundDigits=3".into(),
        "-datasource.disableStepParam".into(),
        "-rule.evalDelay=5m".into(),
        "-group.maxStartDelay=0".into(),
        "-rule.updateEntriesLimit=2".into(),
        "-rule.stripFilePath".into(),
        "-metrics.exposeMetadata=false".into(),
        "-http.disableKeepAlive".into(),
        "-loggerFormat=json".into(),
        "-loggerJSONFields=ts:time,msg:message".into(),
        "-loggerMaxArgLen=10".into(),
    ]
    .into();
    let (guard, base) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // -group.maxStartDelay=0: the hourly group is evaluated at once, not somewhere
    // within its first 5 minutes.
    let hourly = || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b.contains("hourly"))
    };
    assert!(
        eventually(Duration::from_secs(30), hourly).await,
        "no query of the hourly group\n{}",
        guard.log_tail(20)
    );
    let (path, body) = seen.lock().unwrap()[0].clone();
    // -datasource.appendTypePrefix: under /prometheus, after the URL's own path.
    assert_eq!(path, "/select/0/prometheus/api/v1/query");
    // -datasource.disableStepParam, -datasource.roundDigits.
    assert_eq!(param(&body, "step"), None, "{body}");
    assert_eq!(param(&body, "round_digits").as_deref(), Some("3"), "{body}");
    // -rule.evalDelay=5m: the query time is 5 minutes back.
    let t: f64 = param(&body, "time").unwrap().parse().unwrap();
    let behind = now_s() - t;
    assert!((300.0..330.0).contains(&behind), "queried {behind}s back");

    // -rule.stripFilePath: <group id>/rules.yml in the API and /metrics.
    let (_, v) = get_json(&format!("{base}/api/v1/rules")).await;
    let groups = v["data"]["groups"].as_array().unwrap();
    for g in groups {
        let file = g["file"].as_str().unwrap();
        assert_eq!(file, format!("{}/rules.yml", g["id"].as_str().unwrap()));
        for r in g["rules"].as_array().unwrap() {
            // -rule.updateEntriesLimit.
            assert_eq!(r["max_updates_entries"], 2, "{r}");
        }
    }
    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    // -http.disableKeepAlive: the server closes the connection after the answer.
    assert_eq!(
        resp.headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close")
    );
    let metrics = resp.text().await.unwrap();
    assert!(!metrics.contains("tenant-secret-bucket"));
    assert!(metrics.contains("rules.yml"), "{metrics}");
    // -metrics.exposeMetadata=false: samples without # HELP / # TYPE.
    assert!(!metrics.contains("# HELP") && !metrics.contains("# TYPE"));
    assert!(metrics.contains("process_resident_memory_bytes"));

    // -loggerFormat=json with -loggerJSONFields and -loggerMaxArgLen.
    let log = std::fs::read_to_string(&guard.log).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let url_line = lines
        .iter()
        .find(|l| l["message"] == "flag" && l["flag"] == "external.url")
        .unwrap_or_else(|| panic!("no flag line for -external.url:\n{log}"));
    assert!(url_line["time"].is_string() && url_line["level"] == "info");
    assert!(url_line["caller"].is_string());
    // Values are cut, flag names never (`external.url` is longer than 10).
    assert_eq!(url_line["value"], "http..aaaa", "{url_line}");
    assert!(!log.contains(&long_url));
}

#[test]
fn a_default_rule_type_tocsin_cannot_evaluate_fails_the_groups_without_type() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: typed\n  type: prometheus\n  rules:\n  - record: a\n    expr: up\n- name: untyped\n  rules:\n  - record: b\n    expr: up\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .arg(format!("-rule={}", rules.display()))
            .arg("-dryRun")
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&["-rule.defaultRuleType=prometheus"]).status.success());
    let out = run(&["-rule.defaultRuleType=graphite"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("untyped") && err.contains("-rule.defaultRuleType=\"graphite\""),
        "{err}"
    );
    assert!(!err.contains("\"typed\""), "the typed group loads: {err}");
    let out = run(&["-rule.defaultRuleType=sql"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-rule.defaultRuleType") && err.contains("prometheus"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2));
}
