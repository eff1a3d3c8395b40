//! `tocsin backtest` against real VictoriaMetrics holding the replay benchmark's data and
//! rules (`integration/bench/replay_data.py`: `load{instance,job}`, one sample a minute;
//! `integration/bench/replay-rules.yml`):
//! a threshold change and a `for` change must give exactly the difference that two
//! separate `tocsin replay --report` runs, compared here by hand, give; a recording
//! change exactly the difference of the two expressions' range answers. Then bad input.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::backtest::{OLD, new_rules, tocsin, write};
use support::peers::{ChildGuard, sid_peer_or_skip};
use support::servers::start_victoria_metrics;

const DAY_S: i64 = 86_400;

/// The replay benchmark's data (`integration/bench/replay_data.py`) for `series` series
/// from `from_s` to `to_s`, in Prometheus' text format.
fn bench_data(from_s: i64, to_s: i64, series: usize) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/bench/replay_data.py"
    );
    let out = Command::new("python3")
        .args([
            script,
            &from_s.to_string(),
            &to_s.to_string(),
            &series.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("python3 {script}: {e} (install python3)"));
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 data")
}

struct Source {
    _vm: ChildGuard,
    url: String,
    from_s: i64,
    to_s: i64,
    dir: tempfile::TempDir,
}

/// VictoriaMetrics with `series` series over the day before `to` (a whole hour, a few
/// hours ago).
async fn source(series: usize) -> Option<Source> {
    let vm = sid_peer_or_skip("victoria-metrics")?;
    let dir = tempfile::tempdir().unwrap();
    let (guard, url) = start_victoria_metrics(&vm, dir.path(), &["-retentionPeriod=100y".into()])
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let to_s = (now - 3 * 3600) / 3600 * 3600;
    let from_s = to_s - DAY_S;
    let body = bench_data(from_s, to_s, series);
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{url}/api/v1/import/prometheus"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    c.get(format!("{url}/internal/force_flush"))
        .send()
        .await
        .unwrap();
    Some(Source {
        _vm: guard,
        url,
        from_s,
        to_s,
        dir,
    })
}

fn range_args(s: &Source) -> Vec<String> {
    vec![
        format!("--from={}", s.from_s),
        format!("--to={}", s.to_s),
        format!("-datasource.url={}", s.url),
        "-replay.disableProgressBar".into(),
    ]
}

async fn replay_report(s: &Source, rules: &Path) -> Value {
    let mut args = vec![
        "replay".to_string(),
        "--report".into(),
        "--format=json".into(),
    ];
    args.extend(range_args(s));
    args.push(format!("-rule={}", rules.display()));
    let (code, out, err) = tocsin(args, s.dir.path()).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A firing stretch by hand: identity (labels without alertname and severity), first
/// and last firing evaluation, and when its condition started.
struct Stretch {
    id: BTreeMap<String, String>,
    from: i64,
    to: i64,
    cond: i64,
}

fn ts(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp()
}

fn stretches(replay: &Value, rule: &str) -> Vec<Stretch> {
    let r = replay["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap();
    let ivs = r["intervals"].as_array().unwrap();
    let labels = |iv: &Value| -> BTreeMap<String, String> {
        iv["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    };
    ivs.iter()
        .filter(|iv| iv["state"] == "firing")
        .map(|f| {
            let (from, to) = (ts(&f["from"]), ts(&f["to"]));
            let cond = ivs
                .iter()
                .find(|p| {
                    p["state"] == "pending" && labels(p) == labels(f) && ts(&p["to"]) + 60 == from
                })
                .map_or(from, |p| ts(&p["from"]));
            let mut id = labels(f);
            id.remove("alertname");
            id.remove("severity");
            Stretch { id, from, to, cond }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    serde_json::json!(m)
}

/// One side's figures by hand, as the backtest's JSON spells them.
fn figures(st: &[Stretch]) -> Value {
    let firing: Vec<f64> = st.iter().map(|s| (s.to - s.from + 60) as f64).collect();
    let ttf: Vec<f64> = st.iter().map(|s| (s.from - s.cond) as f64).collect();
    serde_json::json!({
        "pages": st.len(),
        "pages_per_day": st.len() as f64,
        "firing_seconds_total": firing.iter().sum::<f64>(),
        "firing_seconds_median": median(firing),
        "time_to_fire_seconds_median": median(ttf),
    })
}

fn only_in(a: &[Stretch], b: &[Stretch]) -> usize {
    a.iter()
        .filter(|x| {
            !b.iter()
                .any(|y| y.id == x.id && x.from <= y.to && y.from <= x.to)
        })
        .count()
}

/// `expr` over the range, every minute, by instance: the samples a recording rule of it
/// records.
async fn range_answer(s: &Source, expr: &str) -> BTreeMap<(String, i64), f64> {
    let text = reqwest::Client::new()
        .post(format!("{}/api/v1/query_range", s.url))
        .form(&[
            ("query", expr),
            ("start", &s.from_s.to_string()),
            ("end", &s.to_s.to_string()),
            ("step", "60"),
            ("nocache", "1"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for series in r["data"]["result"].as_array().unwrap() {
        let inst = series["metric"]["instance"].as_str().unwrap().to_string();
        for p in series["values"].as_array().unwrap() {
            let v: f64 = p[1].as_str().unwrap().parse().unwrap();
            out.insert((inst.clone(), p[0].as_f64().unwrap() as i64), v);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_and_a_for_change_give_the_difference_of_two_replays() {
    let Some(s) = source(200).await else { return };
    let (old, new) = (s.dir.path().join("old.yml"), s.dir.path().join("new.yml"));
    std::fs::write(&old, OLD).unwrap();
    std::fs::write(&new, new_rules()).unwrap();
    let (ro, rn) = (replay_report(&s, &old).await, replay_report(&s, &new).await);
    let mut args = vec![
        "backtest".to_string(),
        format!("--old={}", old.display()),
        format!("--new={}", new.display()),
        "--format=json".into(),
    ];
    args.extend(range_args(&s));
    let (code, out, err) = tocsin(args, s.dir.path()).await;
    assert_eq!(code, 0, "{err}\n{out}");
    let bt: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(bt["partial"], false);
    let mut nontrivial = 0;
    for rule in ["LoadHigh", "JobLoadHigh"] {
        let (o, n) = (stretches(&ro, rule), stretches(&rn, rule));
        let row = bt["alerting"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["new_rule"]["name"] == rule)
            .unwrap();
        assert_eq!(row["matched_by"], "name");
        for (side, st) in [("old", &o), ("new", &n)] {
            let want = figures(st);
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&row[side][k], v, "{rule} {side} {k}");
            }
        }
        assert_eq!(row["only_old"], only_in(&o, &n), "{rule}");
        assert_eq!(row["only_new"], only_in(&n, &o), "{rule}");
        nontrivial += only_in(&n, &o) + only_in(&o, &n);
        assert!(!o.is_empty() && !n.is_empty(), "{rule} fires on both sides");
    }
    assert!(nontrivial > 0, "the changes made a difference");
    // The recording change: the difference of the two expressions' answers.
    let (a, b) = (
        range_answer(&s, "avg_over_time(load[5m])").await,
        range_answer(&s, "avg_over_time(load[10m])").await,
    );
    let keys: HashSet<_> = a.keys().chain(b.keys()).collect();
    let (mut differing, mut max_abs) = (0u64, 0f64);
    for k in keys {
        if let (Some(x), Some(y)) = (a.get(k), b.get(k))
            && x != y
        {
            differing += 1;
            max_abs = max_abs.max((x - y).abs());
        }
    }
    let rec = &bt["recording"];
    assert_eq!(rec[0]["diff"]["compared"], true);
    assert_eq!(rec[0]["diff"]["differing"], differing);
    assert_eq!(
        rec[0]["diff"]["max_abs_difference"],
        serde_json::json!(max_abs)
    );
    assert!(differing > 0);
    // Unchanged recording rules are known to be equal without comparing.
    assert_eq!(rec[1]["diff"]["compared"], false);
    // 8 rules × 2 windows asked (the two unchanged recording rules are replayed once,
    // for both sides); 7 distinct expressions × 2 windows sent.
    assert_eq!(bt["queries"]["asked"], 16, "{}", bt["queries"]);
    assert_eq!(bt["queries"]["sent"], 14, "{}", bt["queries"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_fail_on_and_the_old_side_from_git() {
    let Some(s) = source(20).await else { return };
    let d = s.dir.path();
    let git = |args: &[&str]| git_in(d, args);
    git(&["init", "-q"]);
    write(d, "rules.yml", OLD);
    git(&["add", "rules.yml"]);
    git(&["commit", "-q", "-m", "old"]);
    write(d, "rules.yml", &new_rules());
    let mut args = vec![
        "backtest".to_string(),
        "--old=git:HEAD:rules.yml".into(),
        "--new=rules.yml".into(),
        "--format=markdown".into(),
        "--fail-on=new_pages_per_day > 1000".into(),
        "--fail-on=only_new_alerts > 0".into(),
    ];
    args.extend(range_args(&s));
    let (code, out, err) = tocsin(args, d).await;
    assert_eq!(code, 11, "the second threshold fails: {err}\n{out}");
    assert!(out.starts_with("### tocsin backtest"), "{out}");
    assert!(out.contains("| bench/LoadHigh | name |"), "{out}");
    assert!(
        out.contains("`only_new_alerts > 0` crossed by bench/LoadHigh"),
        "{out}"
    );
    assert!(!out.contains("new_pages_per_day > 1000"), "{out}");
    assert!(out.contains("old: git:HEAD:rules.yml"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_side_and_the_cause() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    write(d, "ok.yml", OLD);
    write(
        d,
        "broken.yml",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n",
    );
    let run = |old: &str, new: &str, extra: &[&str]| {
        let mut a = vec![
            "backtest".to_string(),
            format!("--old={old}"),
            format!("--new={new}"),
            "--from=-1h".into(),
            "-datasource.url=http://127.0.0.1:9".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        tocsin(a, d)
    };
    let (code, _, err) = run("broken.yml", "ok.yml", &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("the old rules (--old) cannot be loaded") && err.contains("broken.yml:5"),
        "{err}"
    );
    let (code, _, err) = run("ok.yml", "missing.yml", &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("the new rules (--new)") && err.contains("missing.yml"),
        "{err}"
    );
    let (code, _, err) = run("git:no-such-rev:ok.yml", "ok.yml", &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("--old") && err.contains("no-such-rev"),
        "{err}"
    );
    let (code, _, err) = run("ok.yml", "ok.yml", &["--fail-on=pages > 1"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("unknown metric \"pages\""), "{err}");
}

/// Runs `git ARGS` in `dir` (a throwaway identity, no signing).
fn git_in(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// In a repository: a revision that does not exist, a path that does not exist at a
/// revision that does, and a file that does not load at its revision; each names the
/// side, the source and git's or the loader's reason. Also a reversed range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_sources_that_do_not_exist_or_load_name_the_side() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    git_in(d, &["init", "-q"]);
    write(d, "rules.yml", OLD);
    write(
        d,
        "broken.yml",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n",
    );
    git_in(d, &["add", "rules.yml", "broken.yml"]);
    git_in(d, &["commit", "-q", "-m", "rules"]);
    let run = |old: &str, new: &str, extra: &[&str]| {
        let mut a = vec![
            "backtest".to_string(),
            format!("--old={old}"),
            format!("--new={new}"),
            "-datasource.url=http://127.0.0.1:9".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        if !extra.iter().any(|e| e.starts_with("--from")) {
            a.push("--from=-1h".into());
        }
        tocsin(a, d)
    };
    let (code, _, err) = run("git:no-such-rev:rules.yml", "rules.yml", &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the old rules (--old) cannot be loaded")
            && err.contains("git show no-such-rev:rules.yml failed")
            && err.contains("no-such-rev"),
        "{err}"
    );
    let (code, _, err) = run("rules.yml", "git:HEAD:missing.yml", &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the new rules (--new) cannot be loaded")
            && err.contains("git show HEAD:missing.yml failed")
            && err.contains("missing.yml"),
        "{err}"
    );
    let (code, _, err) = run("git:HEAD:broken.yml", "rules.yml", &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the old rules (--old) cannot be loaded")
            && err.contains("git:HEAD:broken.yml:5"),
        "the source as given and the line: {err}"
    );
    let (code, _, err) = run(
        "git:HEAD:rules.yml",
        "rules.yml",
        &["--from=-1h", "--to=-2h"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot be replayed over this range") && err.contains("is after to"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_without_data_is_an_error() {
    let Some(vm) = sid_peer_or_skip("victoria-metrics") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_vm, url) = start_victoria_metrics(&vm, dir.path(), &[]).await.unwrap();
    let rules = write(dir.path(), "r.yml", OLD);
    let args = vec![
        "backtest".to_string(),
        format!("--old={rules}"),
        format!("--new={rules}"),
        "--from=-2h".into(),
        "--to=-1h".into(),
        format!("-datasource.url={url}"),
    ];
    let (code, out, err) = tocsin(args, dir.path()).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("no data: none of the 5 range queries"),
        "{err}"
    );
}
