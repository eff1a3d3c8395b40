//! Replay against real Prometheus, checked by Prometheus' own rule evaluation: a known
//! series set is turned into TSDB blocks (`promtool tsdb create-blocks-from
//! openmetrics`), Prometheus serves them and receives what tocsin's replay writes, and
//! `promtool test rules` — evaluating the same rules on the same series with Prometheus'
//! engine — must find exactly the firing alerts and recorded values tocsin wrote, at
//! every evaluation timestamp. Between evaluations, the instant answers Prometheus gives
//! from what tocsin wrote must equal promtool's too: a series that disappears is ended by
//! a staleness marker, not left to linger for the 5-minute lookback.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use support::peers::{ChildGuard, peer_or_skip};
use support::servers::start_prometheus_with;

const RULES: &str = r#"groups:
- name: replay
  interval: 1m
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - record: instance:x:copy
    expr: x
  - alert: JobHigh
    expr: job:x:sum > 15
    for: 3m
    labels:
      severity: page
  - alert: InstanceHigh
    expr: x > 5
    for: 2m
    keep_firing_for: 2m
    labels:
      who: 'instance {{ $labels.instance }}'
"#;

const MINUTES: i64 = 60;

/// Value of `x` for an instance at minute `m`, or `None` where the series has no sample.
fn value(instance: &str, m: i64) -> Option<f64> {
    match instance {
        "a" => Some(if (5..20).contains(&m) || (30..33).contains(&m) {
            10.0
        } else {
            1.0
        }),
        _ if (45..60).contains(&m) => None,
        _ => Some(if (10..40).contains(&m) { 10.0 } else { 2.0 }),
    }
}

fn openmetrics(t0_s: i64) -> String {
    let mut s = String::from("# TYPE x gauge\n");
    for inst in ["a", "b"] {
        for m in 0..=MINUTES {
            if let Some(v) = value(inst, m) {
                let _ = writeln!(
                    s,
                    "x{{instance=\"{inst}\",job=\"j\"}} {v} {}",
                    t0_s + m * 60
                );
            }
        }
    }
    s.push_str("# EOF\n");
    s
}

fn promtool_series() -> String {
    let mut s = String::new();
    for inst in ["a", "b"] {
        let vals: Vec<String> = (0..=MINUTES)
            .map(|m| value(inst, m).map_or("_".to_string(), |v| v.to_string()))
            .collect();
        let _ = writeln!(
            s,
            "  - series: 'x{{instance=\"{inst}\",job=\"j\"}}'\n    values: '{}'",
            vals.join(" ")
        );
    }
    s
}

/// Raw samples of `selector` in the range, by minute offset: label sets (without the
/// labels promtool does not expect) and values.
type ByMinute = BTreeMap<i64, Vec<(BTreeMap<String, String>, f64)>>;

/// Prometheus' answer to an instant query of `expr` at `time_s`; fails unless it succeeded.
async fn query(url: &str, expr: &str, time_s: impl ToString) -> serde_json::Value {
    let text = reqwest::Client::new()
        .post(format!("{url}/api/v1/query"))
        .form(&[("query", expr), ("time", &time_s.to_string())])
        .send()
        .await
        .expect("query prometheus")
        .text()
        .await
        .expect("answer");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(r["status"], "success", "{r}");
    r
}

async fn raw(url: &str, selector: &str, t0_s: i64, drop: &[&str]) -> ByMinute {
    let end = t0_s + MINUTES * 60;
    let q = format!("{selector}[{}s]", MINUTES * 60 + 1);
    let r = query(url, &q, end).await;
    let mut out = ByMinute::new();
    for s in r["data"]["result"].as_array().into_iter().flatten() {
        let mut labels = BTreeMap::new();
        for (k, v) in s["metric"].as_object().into_iter().flatten() {
            if !drop.contains(&k.as_str()) {
                labels.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
        for p in s["values"].as_array().into_iter().flatten() {
            let t = p[0].as_f64().unwrap_or_default() as i64;
            let v: f64 = p[1]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap_or(f64::NAN);
            assert_eq!((t - t0_s) % 60, 0, "sample off the evaluation grid: {p}");
            out.entry((t - t0_s) / 60)
                .or_default()
                .push((labels.clone(), v));
        }
    }
    out
}

/// An instant query at `t_s`: label sets (without `drop`) and values, sorted.
async fn instant(
    url: &str,
    expr: &str,
    t_s: f64,
    drop: &[&str],
) -> Vec<(BTreeMap<String, String>, f64)> {
    let r = query(url, expr, t_s).await;
    let mut out = Vec::new();
    for s in r["data"]["result"].as_array().into_iter().flatten() {
        let labels: BTreeMap<String, String> = s["metric"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !drop.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let v = s["value"][1]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or(f64::NAN);
        out.push((labels, v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Everything the replay writes except `ALERTS_FOR_STATE` (its value is an absolute
/// time, which differs between promtool's clock and the test's).
const WRITTEN: &str = r#"{__name__=~"ALERTS|job:x:sum|instance:x:copy"}"#;

fn yaml_map(m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn prom_selector(name: &str, m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", parts.join(","))
}

async fn start_prometheus(bin: &Path, dir: &Path) -> (ChildGuard, String) {
    let cfg = dir.join("prometheus.yml");
    // Replay writes into the time range the blocks already cover: accept it.
    std::fs::write(
        &cfg,
        "global: {}\nscrape_configs: []\nstorage:\n  tsdb:\n    out_of_order_time_window: 30d\n",
    )
    .expect("write config");
    start_prometheus_with(bin, dir, &cfg, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The data starts on the hour, five hours ago (inside Prometheus' retention, outside
/// its head block).
fn start_of_data() -> i64 {
    let now_s = chrono::Utc::now().timestamp();
    (now_s - 5 * 3600) / 3600 * 3600
}

/// Turns the series into TSDB blocks and starts Prometheus on them.
async fn serve_data(prom: &Path, promtool: &Path, d: &Path, t0_s: i64) -> (ChildGuard, String) {
    std::fs::write(d.join("data.om"), openmetrics(t0_s)).expect("write data");
    let made = std::process::Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(d.join("data.om"))
        .arg(d.join("tsdb"))
        .output()
        .expect("run promtool");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    start_prometheus(prom, d).await
}

/// `tocsin replay` of `rules` from `from_s` to `to_s`, reading and writing Prometheus.
fn replay(d: &Path, rules: &str, from_s: i64, to_s: i64, url: &str) -> std::process::Output {
    replay_with(d, rules, from_s, to_s, url, &[])
}

/// [`replay`] with more flags.
fn replay_with(
    d: &Path,
    rules: &str,
    from_s: i64,
    to_s: i64,
    url: &str,
    extra: &[&str],
) -> std::process::Output {
    std::fs::write(d.join("rules.yml"), rules).expect("write rules");
    std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("replay")
        .arg(format!("--from={from_s}"))
        .arg(format!("--to={to_s}"))
        .arg(format!("-rule={}", d.join("rules.yml").display()))
        .arg(format!("-datasource.url={url}"))
        .arg(format!("-remoteWrite.url={url}"))
        .args([
            "-replay.rulesDelay=0",
            "-disableAlertgroupLabel",
            "-replay.maxDatapointsPerQuery=25",
        ])
        .args(extra)
        .output()
        .expect("run tocsin replay")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_alerts_and_records_match_promtool() {
    let (Some(prom), Some(promtool)) = (peer_or_skip("prometheus"), peer_or_skip("promtool"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let t0_s = start_of_data();
    let (mut guard, url) = serve_data(&prom, &promtool, d, t0_s).await;
    let out = replay(d, RULES, t0_s, t0_s + MINUTES * 60, &url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "replay failed:\n{stderr}\n{}",
        guard.log_tail(20)
    );

    let alerts = raw(
        &url,
        r#"ALERTS{alertstate="firing"}"#,
        t0_s,
        &["__name__", "alertstate"],
    )
    .await;
    let records = raw(&url, "job:x:sum", t0_s, &[]).await;
    let _ = guard.exited();
    assert!(
        alerts.len() > 10 && records.len() == (MINUTES + 1) as usize,
        "too little was written to compare (alerts at {} minutes, records at {}):\n{stderr}",
        alerts.len(),
        records.len()
    );

    // promtool checks every evaluation timestamp against what tocsin wrote.
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n{}  alert_rule_test:\n",
        promtool_series()
    );
    for m in 0..=MINUTES {
        for name in ["JobHigh", "InstanceHigh"] {
            let _ = writeln!(
                test,
                "  - eval_time: {m}m\n    alertname: {name}\n    exp_alerts:"
            );
            for (labels, _) in alerts.get(&m).into_iter().flatten() {
                if labels.get("alertname").map(String::as_str) != Some(name) {
                    continue;
                }
                let mut l = labels.clone();
                l.remove("alertname");
                let _ = writeln!(test, "    - exp_labels: {}", yaml_map(&l));
            }
            if !alerts
                .get(&m)
                .into_iter()
                .flatten()
                .any(|(l, _)| l.get("alertname").map(String::as_str) == Some(name))
            {
                test = test.trim_end_matches("    exp_alerts:\n").to_string();
                test.push_str("    exp_alerts: []\n");
            }
        }
    }
    test.push_str("  promql_expr_test:\n");
    for m in 0..=MINUTES {
        let _ = writeln!(
            test,
            "  - expr: job:x:sum\n    eval_time: {m}m\n    exp_samples:"
        );
        for (labels, v) in records.get(&m).into_iter().flatten() {
            let mut l = labels.clone();
            l.remove("__name__");
            let _ = writeln!(
                test,
                "    - labels: '{}'\n      value: {v}",
                prom_selector("job:x:sum", &l)
            );
        }
    }
    // Half-way between evaluations, what Prometheus answers from tocsin's series must
    // be what promtool's own evaluation leaves: series that disappeared are gone (a
    // staleness marker), not still visible through the lookback.
    let mut between = 0;
    for m in 0..MINUTES {
        let got = instant(&url, WRITTEN, (t0_s + m * 60 + 30) as f64, &[]).await;
        between += got.len();
        let _ = writeln!(
            test,
            "  - expr: '{WRITTEN}'\n    eval_time: {m}m30s\n    exp_samples:"
        );
        for (labels, v) in &got {
            let mut l = labels.clone();
            let name = l.remove("__name__").unwrap_or_default();
            let _ = writeln!(
                test,
                "    - labels: '{}'\n      value: {v}",
                prom_selector(&name, &l)
            );
        }
    }
    assert!(
        between > 100,
        "too few series between evaluations: {between}"
    );
    // The range ends at minute 60: what was still there ends at the next evaluation
    // timestamp, as when live evaluation drops a rule, instead of lingering 5 minutes.
    let end = t0_s + MINUTES * 60;
    let last = instant(&url, WRITTEN, (end + 30) as f64, &[]).await;
    let after = instant(&url, WRITTEN, (end + 90) as f64, &[]).await;
    assert!(
        !last.is_empty() && after.is_empty(),
        "at the end of the range: {last:?}; a minute later: {after:?}"
    );
    std::fs::write(d.join("test.yml"), &test).expect("write test");
    let checked = std::process::Command::new(&promtool)
        .current_dir(d)
        .args(["test", "rules", "test.yml"])
        .output()
        .expect("run promtool test rules");
    assert!(
        checked.status.success(),
        "promtool disagrees with what tocsin wrote:\n{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// vmalert's timing settings, which Prometheus (and so promtool) does not have.
const TIMING_RULES: &str = r#"groups:
- name: offset
  interval: 1m
  eval_offset: 30s
  rules:
  - record: x:offset
    expr: x
- name: aligned
  interval: 1m
  eval_delay: 20s
  eval_alignment: true
  rules:
  - record: x:aligned
    expr: x
- name: default_delay
  interval: 1m
  eval_alignment: true
  rules:
  - record: x:default_delay
    expr: x
"#;

/// Raw samples of `selector` between `t0_s` and `end_s`, by instance: (seconds after
/// `t0_s`, value).
async fn points(
    url: &str,
    selector: &str,
    t0_s: i64,
    end_s: i64,
) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let q = format!("{selector}[{}s]", end_s - t0_s + 1);
    let r = query(url, &q, end_s).await;
    for s in r["data"]["result"].as_array().into_iter().flatten() {
        let inst = s["metric"]["instance"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for p in s["values"].as_array().into_iter().flatten() {
            let t = p[0].as_f64().unwrap_or_default() as i64;
            let v = p[1]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap_or(f64::NAN);
            out.entry(inst.clone()).or_default().push((t - t0_s, v));
        }
    }
    out
}

/// With `eval_offset`, `eval_delay` and `eval_alignment`, replay evaluates and queries
/// at the timestamps live evaluation would use, and each recorded value is what
/// Prometheus answers an instant query at that query timestamp. `-rule.evalDelay` is
/// the delay of the group without `eval_delay` only: a group's own wins, and a group
/// with `eval_offset` is not delayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_evaluates_at_the_live_schedule() {
    let (Some(prom), Some(promtool)) = (peer_or_skip("prometheus"), peer_or_skip("promtool"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let t0_s = start_of_data();
    let (mut guard, url) = serve_data(&prom, &promtool, d, t0_s).await;
    // From 10 s past the hour to 30 minutes past it.
    let (from, to) = (t0_s + 10, t0_s + 30 * 60);
    let out = replay_with(d, TIMING_RULES, from, to, &url, &["-rule.evalDelay=40s"]);
    assert!(
        out.status.success(),
        "replay failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        guard.log_tail(20)
    );
    // The instant answer of `x` at a timestamp, by instance.
    let truth = |t: i64| {
        let url = url.clone();
        async move {
            instant(&url, "x", t as f64, &[])
                .await
                .into_iter()
                .map(|(l, v)| (l["instance"].clone(), v))
                .collect::<BTreeMap<_, _>>()
        }
    };
    // eval_offset 30s: evaluations at hh:mm:30, the first one after `from`.
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for m in 0..30 {
        let t = m * 60 + 30;
        for (inst, v) in truth(t0_s + t).await {
            want.entry(inst).or_default().push((t, v));
        }
    }
    let got = points(&url, "x:offset", t0_s, to + 120).await;
    assert_eq!(
        got, want,
        "eval_offset: written samples (seconds after the hour)"
    );
    // Evaluations at from + k·1m; each queries at (ts - 20s) truncated to the minute,
    // and writes there. The first one queries before the data starts (nothing).
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for k in 0..30 {
        let q = (from + k * 60 - 20).div_euclid(60) * 60;
        for (inst, v) in truth(q).await {
            want.entry(inst).or_default().push((q - t0_s, v));
        }
    }
    let got = points(&url, "x:aligned", t0_s, to + 120).await;
    assert_eq!(got, want, "eval_delay + eval_alignment: written samples");
    assert!(want.values().map(Vec::len).sum::<usize>() > 50);
    // The same with -rule.evalDelay's 40s.
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for k in 0..30 {
        let q = (from + k * 60 - 40).div_euclid(60) * 60;
        for (inst, v) in truth(q).await {
            want.entry(inst).or_default().push((q - t0_s, v));
        }
    }
    let got = points(&url, "x:default_delay", t0_s, to + 120).await;
    assert_eq!(
        got, want,
        "-rule.evalDelay + eval_alignment: written samples"
    );
    let _ = guard.exited();
}
