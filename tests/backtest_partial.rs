//! `tocsin backtest` when part of the range cannot be evaluated, and its concurrency:
//! the library against in-process fake datasources (one that goes down part-way, one
//! that counts the queries in flight), and the binary against a fake HTTP datasource
//! that fails after two hours. The old side is the replay benchmark's rules.

mod support;

use std::path::Path;

use support::backtest::{OLD, new_rules, tocsin, write};
use support::fake_http::serve_fn;

/// A fake datasource around `inner` for the library tests: range queries starting at
/// or after `down_ms` fail as unreachable (a datasource that goes down part-way); the
/// others answer after `delay`, and the range queries in flight at once are counted.
struct TestSource {
    inner: tocsin::datasource::fake::FakeQuerier,
    down_ms: i64,
    delay: std::time::Duration,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl TestSource {
    fn new(inner: tocsin::datasource::fake::FakeQuerier) -> Self {
        TestSource {
            inner,
            down_ms: i64::MAX,
            delay: std::time::Duration::ZERO,
            now: Default::default(),
            most: Default::default(),
        }
    }
}

impl tocsin::datasource::Querier for TestSource {
    fn instant<'a>(
        &'a self,
        q: &'a tocsin::datasource::InstantQuery,
    ) -> tocsin::datasource::BoxFuture<
        'a,
        Result<Vec<tocsin::sample::Sample>, tocsin::datasource::QueryError>,
    > {
        self.inner.instant(q)
    }

    fn range<'a>(
        &'a self,
        q: &'a tocsin::datasource::RangeQuery,
    ) -> tocsin::datasource::BoxFuture<
        'a,
        Result<Vec<tocsin::datasource::RangeSeries>, tocsin::datasource::QueryError>,
    > {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            if q.start_ms >= self.down_ms {
                return Err(tocsin::datasource::QueryError::Unreachable {
                    url: "http://ds".into(),
                    message: "connection refused".into(),
                });
            }
            let n = self.now.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(n, SeqCst);
            tokio::time::sleep(self.delay).await;
            let answer = self.inner.range(q).await;
            self.now.fetch_sub(1, SeqCst);
            answer
        })
    }
}

/// The start of the library tests' two hours, and a minute.
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// A side of the library tests, loaded from `text`.
fn lib_side(name: tocsin::backtest::SideName, text: &str) -> tocsin::backtest::Side {
    use tocsin::config::{LoadOptions, load_str};
    tocsin::backtest::Side {
        name,
        sources: vec![format!("{name}.yml")],
        groups: load_str(Path::new("r.yml"), text, &LoadOptions::default()).unwrap(),
    }
}

/// One `load` series over two hours from `T0`, above both thresholds for 20 minutes in
/// every 30.
fn flapping_load() -> tocsin::datasource::RangeSeries {
    let x =
        tocsin::labels::Labels::from_pairs([("__name__", "load"), ("instance", "a"), ("job", "j")]);
    let points = (0..120)
        .map(|m| (T0 + m * MIN, if m % 30 < 20 { 1.5 } else { 0.5 }))
        .collect();
    (x, points)
}

/// The two hours from `T0`, 30 evaluations per window (4 windows).
fn two_hours() -> tocsin::replay::ReplayOptions {
    tocsin::replay::ReplayOptions {
        from_ms: T0,
        to_ms: T0 + 119 * MIN,
        max_points: 30,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_datasource_failing_part_way_gives_a_partial_report() {
    use tocsin::backtest::{SideName, backtest, render};
    let old = lib_side(SideName::Old, OLD);
    let new = lib_side(SideName::New, &new_rules());
    let inner = tocsin::datasource::fake::FakeQuerier::new();
    for expr in ["load > 1.0", "load > 0.95"] {
        inner.set_range(expr, Ok(vec![flapping_load()]));
    }
    let q = std::sync::Arc::new(TestSource {
        down_ms: T0 + 60 * MIN,
        ..TestSource::new(inner)
    });
    let opts = tocsin::replay::ReplayOptions {
        retry_attempts: 2,
        retry_backoff: std::time::Duration::from_millis(1),
        ..two_hours()
    };
    let settings = tocsin::rule::RuleSettings::default();
    let r = backtest(&old, &new, &settings, q, &opts).await.unwrap();
    assert!(r.partial);
    assert_eq!((r.old.evaluations, r.old.failed_evaluations), (600, 300));
    assert!(
        r.problems
            .iter()
            .any(|p| p.starts_with("old: bench/LoadHigh: window")
                && p.contains("connection refused")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems.iter().any(|p| p.starts_with("new: ")),
        "{:?}",
        r.problems
    );
    // What was evaluated is still compared.
    assert!(r.alerting[0].diff.new.as_ref().unwrap().pages > 0);
    assert!(render::table(&r, &[]).contains("PARTIAL REPORT"));
}

/// A rule the same on both sides is replayed once and reported for both: its figures
/// are the old side's, it adds no query, and the side summaries still count it.
#[tokio::test]
async fn an_unchanged_rule_is_replayed_once_for_both_sides() {
    use tocsin::backtest::{SideName, backtest};
    // Only JobLoadHigh's `for` changes.
    let old = lib_side(SideName::Old, OLD);
    let new = lib_side(SideName::New, &OLD.replace("for: 10m", "for: 5m"));
    let fake = std::sync::Arc::new(tocsin::datasource::fake::FakeQuerier::new());
    let (_, points) = flapping_load();
    fake.set_range("load > 1.0", Ok(vec![flapping_load()]));
    let j = tocsin::labels::Labels::from_pairs([("job", "j")]);
    fake.set_range("sum by (job) (load) > 10.4", Ok(vec![(j, points)]));
    let settings = tocsin::rule::RuleSettings::default();
    let r = backtest(&old, &new, &settings, fake.clone(), &two_hours())
        .await
        .unwrap();
    // 4 windows: the old side's 5 rules and the new JobLoadHigh ask, once each.
    assert_eq!((r.queries.asked, r.queries.sent), (24, 20));
    assert_eq!(fake.range_queries().len(), 20);
    assert_eq!((r.old.evaluations, r.new.evaluations), (600, 600));
    let row = |name: &str| {
        r.alerting
            .iter()
            .find(|a| a.new_rule.as_ref().is_some_and(|n| n.name == name))
            .unwrap()
    };
    let same = &row("LoadHigh").diff;
    assert!(same.old.as_ref().unwrap().pages > 0);
    assert_eq!(same.old, same.new);
    assert_eq!((same.only_old, same.only_new), (0, 0));
    let changed = &row("JobLoadHigh").diff;
    let (o, n) = (changed.old.as_ref().unwrap(), changed.new.as_ref().unwrap());
    assert_eq!(o.pages, n.pages);
    assert!(
        n.time_to_fire_seconds_median < o.time_to_fire_seconds_median,
        "a shorter `for` fires sooner: {n:?} {o:?}"
    );
}

/// One `name=value` of a form body.
fn form_value<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// A range answer: one series at 1.5 (above both `load` thresholds) at every step.
fn matrix(body: &str) -> Option<String> {
    let secs = |v: &str| v.parse::<f64>().ok();
    let start = secs(form_value(body, "start")?)?;
    let end = secs(form_value(body, "end")?)?;
    let step = form_value(body, "step")?
        .strip_suffix("ms")?
        .parse::<f64>()
        .ok()?
        / 1000.0;
    let mut values = Vec::new();
    let mut t = start;
    while t <= end {
        values.push(format!("[{t},\"1.5\"]"));
        t += step;
    }
    Some(format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"instance":"a","job":"j"}},"values":[{}]}}]}}}}"#,
        values.join(",")
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_marks_a_partial_report_and_exits_1() {
    let to_s: i64 = 1_700_000_000 / 3600 * 3600;
    let from_s = to_s - 4 * 3600;
    let down_s = from_s + 2 * 3600;
    // Answers the first two hours, then fails as a datasource that went down.
    let (url, _) = serve_fn(move |_, req| {
        if req.path != "/api/v1/query_range" {
            return Some((404, "text/plain", "not found".into()));
        }
        let start = form_value(req.body, "start")?.parse::<f64>().ok()?;
        if start >= down_s as f64 {
            return Some((503, "text/plain", "down for maintenance".into()));
        }
        Some((200, "application/json", matrix(req.body)?))
    })
    .await;
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "old.yml", OLD);
    write(d.path(), "new.yml", &new_rules());
    let args = vec![
        "backtest".to_string(),
        "--old=old.yml".into(),
        "--new=new.yml".into(),
        format!("--from={from_s}"),
        format!("--to={to_s}"),
        format!("-datasource.url={url}"),
        "-replay.disableProgressBar".into(),
        "-replay.maxDatapointsPerQuery=60".into(),
        "-replay.ruleRetryAttempts=1".into(),
    ];
    let (code, out, err) = tocsin(args, d.path()).await;
    assert_eq!(code, 1, "a partial report exits 1: {err}\n{out}");
    assert!(out.contains("PARTIAL REPORT"), "{out}");
    assert!(
        out.contains("down for maintenance"),
        "the cause is named: {out}"
    );
    assert!(
        err.contains("backtest incomplete: some evaluations failed"),
        "{err}"
    );
    // What was evaluated before the failure is still compared: both sides page.
    assert!(out.contains("bench/LoadHigh"), "{out}");
}

/// `-replay.ruleEvaluationConcurrency` bounds both sides together: a backtest has as many
/// range queries in flight as one replay, not one bound's worth per side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_share_the_concurrency_bound() {
    use tocsin::backtest::{SideName, backtest};
    let old = lib_side(SideName::Old, OLD);
    let new = lib_side(SideName::New, &new_rules());
    let q = std::sync::Arc::new(TestSource {
        delay: std::time::Duration::from_millis(5),
        ..TestSource::new(tocsin::datasource::fake::FakeQuerier::new())
    });
    q.inner.set_range("load > 1.0", Ok(vec![flapping_load()]));
    let opts = tocsin::replay::ReplayOptions {
        concurrency: 2,
        ..two_hours()
    };
    let settings = tocsin::rule::RuleSettings::default();
    let r = backtest(&old, &new, &settings, q.clone(), &opts)
        .await
        .unwrap();
    assert!(!r.partial);
    assert!(r.queries.sent > 20, "both sides query: {:?}", r.queries);
    let most = q.most.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        most, 2,
        "at most (and, with 7 rules, at some point) 2 in flight"
    );
}
