//! Replay's writes: every sample acknowledged by the target is counted as written, and
//! a target that rejects samples makes the replay incomplete, naming rule and window.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use support::fake_http::{Canned, fake_http};
use tocsin::config::{LoadOptions, load_str};
use tocsin::datasource::fake::FakeQuerier;
use tocsin::labels::Labels;
use tocsin::remote_write::{RemoteWriteMetrics, RemoteWriteOptions, RemoteWriter};
use tocsin::replay::{ReplayOptions, plan, replay};
use tocsin::rule::RuleSettings;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// A remote-write endpoint answering every request with `status`; counts requests.
async fn endpoint(status: u16) -> (String, Arc<AtomicUsize>) {
    let f = fake_http(vec![Canned::status(status)]).await;
    (f.url, f.hits)
}

async fn run(url: &str) -> tocsin::replay::ReplayOutcome {
    let groups = load_str(
        std::path::Path::new("r.yml"),
        "groups:\n- name: g\n  interval: 1m\n  rules:\n  - record: r\n    expr: x\n",
        &LoadOptions::default(),
    )
    .expect("valid");
    let f = Arc::new(FakeQuerier::new());
    let points = (0..10).map(|m| (T0 + m * MIN, m as f64)).collect();
    f.set_range(
        "x",
        Ok(vec![(Labels::from_pairs([("__name__", "x")]), points)]),
    );
    let o = ReplayOptions {
        from_ms: T0,
        to_ms: T0 + 9 * MIN,
        max_points: 4,
        retry_attempts: 2,
        retry_backoff: Duration::from_millis(1),
        write_batch: 3,
        ..ReplayOptions::default()
    };
    let writer = RemoteWriter::start(
        RemoteWriteOptions {
            url: url.to_string(),
            retry_min_interval: Duration::from_millis(10),
            retry_max_time: Duration::from_millis(50),
            ..RemoteWriteOptions::default()
        },
        RemoteWriteMetrics::default(),
        CancellationToken::new(),
    )
    .expect("writer");
    let settings = RuleSettings::default();
    let plans = plan(&groups, &settings, &o).expect("plan");
    replay(&plans, &settings, f, Some(writer), &o).await
}

#[tokio::test]
async fn acknowledged_samples_are_counted_as_written() {
    let (url, hits) = endpoint(204).await;
    let out = run(&url).await;
    assert!(out.complete(), "{:?}", out.rules);
    // Ten recorded samples, and the staleness marker that ends the series at the first
    // evaluation after the range (which lies in the past).
    assert_eq!(out.rules[0].samples_written, 11);
    // Windows of 4, 4 and 2 samples in batches of 3: 2 + 2 + 1 requests, then the
    // marker.
    assert_eq!(hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn a_rejecting_target_makes_the_replay_incomplete() {
    let (url, _) = endpoint(400).await;
    let out = run(&url).await;
    assert!(!out.complete());
    let r = &out.rules[0];
    assert_eq!((r.samples_written, r.samples_unwritten), (0, 11));
    assert!(
        r.problems[0].starts_with("window 2023-11-14T22:13:20Z..2023-11-14T22:16:20Z")
            && r.problems[0].contains("400"),
        "{:?}",
        r.problems
    );
}

#[tokio::test]
async fn an_unavailable_target_is_retried_then_reported() {
    let (url, hits) = endpoint(503).await;
    let out = run(&url).await;
    let r = &out.rules[0];
    assert_eq!(r.samples_unwritten, 11);
    assert!(!out.complete());
    // Each window's first batch is attempted (with the writer's own retries) twice
    // (-replay.ruleRetryAttempts=2); the rest of the window is not tried.
    assert!(
        hits.load(Ordering::SeqCst) >= 6,
        "{}",
        hits.load(Ordering::SeqCst)
    );
}
