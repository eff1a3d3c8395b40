//! `tocsin check --lint --datasource.url=…`: the series checks against a real Prometheus
//! (scraping itself) and a real VictoriaMetrics (fed by an import), each through the
//! binary, as CI would run it.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::http::{poll_json, poll_victoria_metrics};
use support::peers::{free_port, peer_or_skip};
use support::servers::{spawn_ready, start_victoria_metrics};

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
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args([
            "check",
            "--lint",
            "--lint-fatal",
            &format!("--datasource.url={url}"),
        ])
        .arg(&file)
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
            let rest = l.split_once("rules.yml:")?.1;
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

#[tokio::test]
async fn prometheus_scraping_itself() {
    let Some(bin) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: self\n    static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n"),
    )
    .expect("config");
    let url = format!("http://127.0.0.1:{port}");
    let argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    let _guard = spawn_ready(
        "prometheus",
        &argv,
        dir.path(),
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
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || assert_findings(&d, &url))
        .await
        .expect("check");
}

#[tokio::test]
async fn victoria_metrics_with_imported_series() {
    let Some(bin) = peer_or_skip("victoria-metrics") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_guard, url) = start_victoria_metrics(&bin, dir.path(), &[])
        .await
        .expect("vm starts");
    let body = "up{job=\"self\",instance=\"a:1\"} 1\nprocess_cpu_seconds_total{job=\"self\",instance=\"a:1\"} 3\n";
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/import/prometheus"))
        .body(body)
        .send()
        .await
        .expect("import");
    assert!(r.status().is_success(), "import: {}", r.status());
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
        stderr.contains("FAILED: the series checks stopped: cannot reach"),
        "{stderr}"
    );
}
