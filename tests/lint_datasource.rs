//! `tocsin check --lint --datasource.url=…`: the series checks against a real Prometheus
//! (scraping itself) and a real VictoriaMetrics (fed by an import), and the cost check
//! (corpus tests/data/lint/datasource/cost.yml) against Prometheus (data backfilled with
//! promtool) and VictoriaMetrics 1.79 and 1.145 holding the same series; each through
//! the binary, as CI would run it.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::http::{poll_json, poll_victoria_metrics};
use support::peers::{free_port, peer_or_skip, sid_peer_or_skip};
use support::servers::{spawn_ready, start_plain_prometheus, start_victoria_metrics};

/// Every series the servers have is `up{job="self",…}` and friends; each `# expect`
/// comment names the finding its line must get, every other rule must get none.
const RULES: &str = r#"groups:
  - name: ds
    rules:
      - alert: Exists
        expr: up{job="self"} == 0
      - alert: NoSuchMetric
        expr: no_such_metric_total > 0 # expect promql/series
      - alert: NoSuchValue
        expr: up{job="nope"} == 0 # expect promql/series
      - alert: LabelNeverThere
        expr: up{team="x"} == 0 # expect promql/series-label
      - alert: EmptyMatcherMatchesMissingLabel
        expr: up{team=""} == 0
      - alert: AbsentIsMeantToMatchNothing
        expr: absent(no_such_metric_total)
      - record: job:up_written_later:sum
        expr: sum by (job) (up)
      - alert: RecordedSeriesMayNotExistYet
        expr: job:up_written_later:sum == 0
      # tocsin disable promql/series
      - alert: Silenced
        expr: another_missing_metric > 0
"#;

fn expected() -> Vec<(usize, String)> {
    RULES
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            l.split_once("# expect ")
                .map(|(_, id)| (i + 1, id.trim().to_string()))
        })
        .collect()
}

/// Runs `tocsin check --lint --datasource.url=URL FILE`; exit code and stderr.
fn check(dir: &Path, url: &str) -> (i32, String) {
    let file = dir.join("rules.yml");
    std::fs::write(&file, RULES).expect("write rules");
    check_file(&file, url, &[])
}

/// Runs `tocsin check --lint --lint-fatal --datasource.url=URL EXTRA… FILE`.
fn check_file(file: &Path, url: &str, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args([
            "check",
            "--lint",
            "--lint-fatal",
            &format!("--datasource.url={url}"),
        ])
        .args(extra)
        .arg(file)
        .output()
        .expect("tocsin runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (line, check id) of each finding printed.
fn found(stderr: &str) -> Vec<(usize, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split_once(".yml:")?.1;
            let line: usize = rest.split(':').next()?.parse().ok()?;
            let id = l.split_once(" [")?.1.split_once(']')?.0;
            Some((line, id.to_string()))
        })
        .collect()
}

fn assert_findings(dir: &Path, url: &str) {
    let (code, stderr) = check(dir, url);
    assert_eq!(found(&stderr), expected(), "{stderr}");
    assert_eq!(code, 3, "--lint-fatal: {stderr}");
    assert!(
        stderr.contains("group \"ds\", rule 4, \"LabelNeverThere\": warning [promql/series-label]: up has series in the last 1w, but none with label \"team\""),
        "{stderr}"
    );
}

/// Starts Prometheus scraping itself every second, with `extra` flags, and waits until
/// it has scraped; the guard and the URL.
async fn self_scraping_prometheus(
    bin: &Path,
    dir: &Path,
    extra: &[&str],
) -> (support::peers::ChildGuard, String) {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: self\n    static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n"),
    )
    .expect("config");
    let url = format!("http://127.0.0.1:{port}");
    let mut argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let guard = spawn_ready(
        "prometheus",
        &argv,
        dir,
        &url,
        "/-/ready",
        Duration::from_secs(30),
    )
    .await
    .expect("prometheus starts");
    let scraped = poll_json(
        &format!("{url}/api/v1/query?query=up"),
        Duration::from_secs(30),
        |v| {
            v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        },
    )
    .await;
    assert!(scraped.is_some(), "prometheus scraped itself");
    (guard, url)
}

#[tokio::test]
async fn prometheus_scraping_itself() {
    let Some(bin) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_guard, url) = self_scraping_prometheus(&bin, dir.path(), &[]).await;
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || assert_findings(&d, &url))
        .await
        .expect("check");
}

/// The line of `RULES` that holds `text`.
fn line_of(text: &str) -> usize {
    RULES
        .lines()
        .position(|l| l.contains(text))
        .expect("in RULES")
        + 1
}

/// A Prometheus whose `--query.max-samples` is below what a week of `up` holds: a
/// query over the lookback would be refused, the series lookups are not (they read the
/// index only), so the series checks find exactly what they find on an unlimited one;
/// the rules whose own evaluation windows exceed the limit get a `rule/cost` finding
/// each, and the run goes on.
#[tokio::test]
async fn prometheus_with_a_small_sample_limit() {
    let Some(bin) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_guard, url) =
        self_scraping_prometheus(&bin, dir.path(), &["--query.max-samples=3"]).await;
    // Wait until a week of `up` is more than the limit allows.
    let client = reqwest::Client::new();
    let q = format!("{url}/api/v1/query?query=count(last_over_time(up[1w]))");
    let started = std::time::Instant::now();
    loop {
        let r = client.get(&q).send().await.expect("prometheus answers");
        if r.status() == 422 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the query over the lookback was never refused"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let d = dir.path().to_path_buf();
    let stderr = tokio::task::spawn_blocking(move || {
        let (code, stderr) = check(&d, &url);
        assert_eq!(code, 3, "--lint-fatal, nothing stopped: {stderr}");
        stderr
    })
    .await
    .expect("check");
    let mut want = expected();
    for rule in [
        "expr: up{job=\"self\"} == 0",
        "expr: up{team=\"\"} == 0",
        "expr: sum by (job) (up)",
    ] {
        want.push((line_of(rule), "rule/cost".to_string()));
    }
    want.sort();
    assert_eq!(found(&stderr), want, "{stderr}");
    assert!(
        stderr.contains("\"Exists\": warning [rule/cost]: the datasource refuses to evaluate the rule's queries (")
            && stderr.contains("query processing would load too many samples into memory"),
        "{stderr}"
    );
}

/// Imports Prometheus text (`name{labels} value [ms]` lines) into VictoriaMetrics.
async fn import(url: &str, body: String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/import/prometheus"))
        .body(body)
        .send()
        .await
        .expect("import");
    assert!(r.status().is_success(), "import: {}", r.status());
}

/// VictoriaMetrics with `body` (Prometheus text holding `up`) imported and searchable.
async fn victoria_metrics_with_up(
    bin: &Path,
    dir: &Path,
    body: &str,
) -> (support::peers::ChildGuard, String) {
    let (guard, url) = start_victoria_metrics(bin, dir, &[])
        .await
        .expect("vm starts");
    import(&url, body.to_string()).await;
    let searchable = poll_victoria_metrics(&url, "up", Duration::from_secs(30), |v| {
        v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    })
    .await;
    assert!(
        searchable.is_some(),
        "the imported series became searchable"
    );
    (guard, url)
}

#[tokio::test]
async fn victoria_metrics_with_imported_series() {
    let Some(bin) = peer_or_skip("victoria-metrics") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "up{job=\"self\",instance=\"a:1\"} 1\nprocess_cpu_seconds_total{job=\"self\",instance=\"a:1\"} 3\n";
    let (_guard, url) = victoria_metrics_with_up(&bin, dir.path(), body).await;
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || assert_findings(&d, &url))
        .await
        .expect("check");
}

#[test]
fn a_datasource_that_does_not_answer_fails_the_run_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}", free_port());
    let (code, stderr) = check(dir.path(), &url);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("FAILED: the datasource checks stopped: cannot reach")
            && stderr.contains("after 3 failed queries in a row; the rules from ")
            && stderr.contains("rules.yml:"),
        "{stderr}"
    );
}

/// Two groups; the datasource refuses every query of the second one (its `params`
/// carry a filter VictoriaMetrics cannot parse).
const REFUSED: &str = r#"groups:
  - name: fine
    rules:
      - alert: Missing
        expr: no_such_metric_total > 0 # expect promql/series
  - name: refused
    params:
      extra_filters[]: ["{bad"]
    rules:
      - alert: NotCheckable
        expr: up{job="self"} == 0 # expect promql/series rule/cost
  - name: after
    rules:
      - alert: StillChecked
        expr: up{job="nope"} == 0 # expect promql/series
"#;

/// A query the datasource refuses is a finding for the rule that needed it, naming
/// the datasource's error; the rules after it are still checked.
async fn a_refused_query_is_a_finding_for_its_rule(bin: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "up{job=\"self\",instance=\"a:1\"} 1\n";
    let (_guard, url) = victoria_metrics_with_up(bin, dir.path(), body).await;
    let file = dir.path().join("refused.yml");
    std::fs::write(&file, REFUSED).expect("write rules");
    let (code, stderr) = tokio::task::spawn_blocking(move || check_file(&file, &url, &[]))
        .await
        .expect("check");
    let want: Vec<(usize, String)> = REFUSED
        .lines()
        .enumerate()
        .filter_map(|(i, l)| Some((i + 1, l.split_once("# expect ")?.1)))
        .flat_map(|(n, ids)| ids.split(' ').map(move |id| (n, id.to_string())))
        .collect();
    assert_eq!(found(&stderr), want, "{stderr}");
    assert_eq!(code, 3, "--lint-fatal; the checks did not stop: {stderr}");
    assert!(
        stderr.contains("\"NotCheckable\": warning [promql/series]: not checked: the datasource failed to answer about up{job=\"self\"}: ")
            && stderr.contains("cannot parse extra_filters"),
        "the rule, the selector and the datasource's error: {stderr}"
    );
    assert!(!stderr.contains("FAILED"), "{stderr}");
}

#[tokio::test]
async fn a_refused_query_is_a_finding_on_victoria_metrics_1_79_and_1_145() {
    let bins = [
        peer_or_skip("victoria-metrics"),
        sid_peer_or_skip("victoria-metrics"),
    ];
    for bin in bins.into_iter().flatten() {
        a_refused_query_is_a_finding_for_its_rule(&bin).await;
    }
}

const COST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/lint/datasource/cost.yml"
);

/// The corpus' data (see its header) ending at `now_s`: (series, seconds, value).
fn cost_data(now_s: i64) -> Vec<(String, i64, f64)> {
    let mut out = Vec::new();
    for i in 0..30 {
        let team = if i < 10 { "a" } else { "b" };
        for k in 0..=180 {
            let t = now_s - 1800 + k * 10;
            out.push((format!("cost_load{{i=\"{i}\",team=\"{team}\"}}"), t, 1.0));
            if t <= now_s - 900 {
                out.push((format!("cost_old{{i=\"{i}\"}}"), t, 1.0));
            }
        }
    }
    out
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The corpus' expected (line, check) on a datasource that reports samples or not.
fn cost_expected(reports_samples: bool) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(COST).expect("corpus");
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let (_, rest) = l.split_once("# expect ")?;
            match rest.trim().strip_prefix("prometheus ") {
                Some(id) if reports_samples => Some((i + 1, id.to_string())),
                Some(_) => None,
                None => Some((i + 1, rest.trim().to_string())),
            }
        })
        .collect()
}

/// Lints the corpus against `url` and compares with its expectations.
fn assert_cost_findings(url: &str, reports_samples: bool) -> String {
    let (code, stderr) = check_file(
        Path::new(COST),
        url,
        &["--lint.maxSeries=20", "--lint.maxSamples=1000"],
    );
    assert_eq!(found(&stderr), cost_expected(reports_samples), "{stderr}");
    assert_eq!(code, 3, "--lint-fatal: {stderr}");
    assert!(
        stderr.contains("rule 1, \"ReadsEverySeries\": warning [rule/cost]: reads 30 series per evaluation, more than --lint.maxSeries=20 (cost_load over 5m: 30); "),
        "{stderr}"
    );
    assert!(
        stderr.contains("(cost_load{team=\"b\"} over 5m: 20, cost_load{team=\"a\"} over 5m: 10)"),
        "the selectors add up, the largest first: {stderr}"
    );
    assert!(
        stderr.contains("(cost_old over 35m: 30)"),
        "a subquery's range widens the window: {stderr}"
    );
    assert!(
        stderr.contains("(cost_old offset 20m over 5m: 30)"),
        "an offset moves it: {stderr}"
    );
    stderr
}

async fn victoria_metrics_cost(bin: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_guard, url) = start_victoria_metrics(bin, dir.path(), &[])
        .await
        .expect("vm starts");
    let body: String = cost_data(now_s())
        .iter()
        .map(|(s, t, v)| format!("{s} {v} {}\n", t * 1000))
        .collect();
    import(&url, body).await;
    let q = "count(last_over_time(cost_load[1m]))";
    let searchable = poll_victoria_metrics(&url, q, Duration::from_secs(30), |v| {
        v["data"]["result"][0]["value"][1] == "30"
    })
    .await;
    assert!(
        searchable.is_some(),
        "the imported series became searchable"
    );
    let stderr = tokio::task::spawn_blocking(move || assert_cost_findings(&url, false))
        .await
        .expect("check");
    assert!(
        !stderr.contains("samples per evaluation"),
        "VictoriaMetrics reports no samples: {stderr}"
    );
}

#[tokio::test]
async fn rule_cost_on_victoria_metrics_1_79() {
    if let Some(bin) = peer_or_skip("victoria-metrics") {
        victoria_metrics_cost(&bin).await;
    }
}

#[tokio::test]
async fn rule_cost_on_victoria_metrics_1_145() {
    if let Some(bin) = sid_peer_or_skip("victoria-metrics") {
        victoria_metrics_cost(&bin).await;
    }
}

#[tokio::test]
async fn rule_cost_on_prometheus_with_backfilled_data() {
    let (Some(prom), Some(promtool)) = (peer_or_skip("prometheus"), peer_or_skip("promtool"))
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut om: String = cost_data(now_s())
        .iter()
        .map(|(s, t, v)| format!("{s} {v} {t}\n"))
        .collect();
    om.push_str("# EOF\n");
    let om_file = dir.path().join("data.om");
    std::fs::write(&om_file, om).expect("write data");
    let tsdb = dir.path().join("tsdb");
    let st = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om_file)
        .arg(&tsdb)
        .output()
        .expect("promtool runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    // The blocks are in dir/tsdb, where Prometheus keeps its data.
    let (_guard, url) = start_plain_prometheus(&prom, dir.path())
        .await
        .expect("prometheus starts");
    let stderr = tokio::task::spawn_blocking(move || assert_cost_findings(&url, true))
        .await
        .expect("check");
    assert!(
        stderr.contains("\"team:cost_load:rate10m\": warning [rule/cost]: reads 20 series per evaluation (cost_load{team=\"b\"} over 10m: 20); loads "),
        "{stderr}"
    );
    assert!(
        stderr.contains("samples per evaluation by the datasource's statistics, more than --lint.maxSamples=1000; returns 1 series"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"UnknownToTheDatasource\": warning [rule/cost]: the datasource refuses to evaluate the rule's queries ("),
        "{stderr}"
    );
}
