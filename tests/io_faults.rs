//! The I/O edges under faults, against small in-process HTTP servers: a datasource that
//! is down, slow, failing or answering HTML; a remote-write endpoint that fails, then
//! recovers, or rejects; an Alertmanager that is down while alerts pile up.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use support::eventually;
use support::fake_http::{Canned, fake_http};
use tocsin::datasource::{
    DatasourceMetrics, DatasourceOptions, InstantQuery, PromClient, Querier, QueryError,
};
use tocsin::labels::Labels;
use tocsin::notifier::{Notifier, NotifierMetrics, NotifierOptions, TargetOptions};
use tocsin::remote_write::{RemoteWriteMetrics, RemoteWriteOptions, RemoteWriter, proto};
use tocsin::rule::Notification;
use tocsin::sample::Sample;

fn client(url: &str) -> PromClient {
    PromClient::new(
        DatasourceOptions {
            url: url.to_string(),
            query_timeout: Duration::from_millis(500),
            ..DatasourceOptions::default()
        },
        DatasourceMetrics::new(None),
    )
    .unwrap()
}

async fn query(c: &PromClient) -> Result<Vec<Sample>, QueryError> {
    c.instant(&InstantQuery {
        expr: "up".into(),
        time_ms: 1_700_000_000_000,
        ..InstantQuery::default()
    })
    .await
}

#[tokio::test]
async fn datasource_faults_have_precise_errors() {
    // Down: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = query(&client(&format!("http://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(matches!(e, QueryError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("127.0.0.1:{port}/api/v1/query")),
        "{e}"
    );

    // Slow: answers after the timeout.
    let f = fake_http(vec![Canned(
        200,
        "application/json",
        "{}".into(),
        Duration::from_secs(3),
    )])
    .await;
    let e = query(&client(&f.url)).await.unwrap_err();
    assert!(matches!(e, QueryError::Timeout { .. }), "{e}");

    // 500 with Prometheus' error envelope, then 422, then HTML from a proxy.
    let f = fake_http(vec![
        Canned(500, "application/json", r#"{"status":"error","errorType":"internal","error":"out of memory"}"#.into(), Duration::ZERO),
        Canned(422, "application/json", r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples"}"#.into(), Duration::ZERO),
        Canned(200, "text/html", "<html><body>Sign in</body></html>".into(), Duration::ZERO),
        Canned::ok(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
    ])
    .await;
    let c = client(&f.url);
    let e = query(&c).await.unwrap_err().to_string();
    assert!(e.contains("answered 500: internal: out of memory"), "{e}");
    let e = query(&c).await.unwrap_err().to_string();
    assert!(
        e.contains("answered 422: execution: query processing"),
        "{e}"
    );
    let e = query(&c).await.unwrap_err();
    assert!(matches!(e, QueryError::NotJson { .. }), "{e}");
    let e = query(&c).await.unwrap_err().to_string();
    assert!(e.contains("matrix"), "{e}");
}

#[tokio::test]
async fn a_large_answer_decodes() {
    let series: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                r#"{{"metric":{{"__name__":"up","instance":"h{i}"}},"value":[1700000000,"1"]}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        series.join(",")
    );
    let f = fake_http(vec![Canned(200, "application/json", body, Duration::ZERO)]).await;
    let c = PromClient::new(
        DatasourceOptions {
            url: f.url.clone(),
            ..DatasourceOptions::default()
        },
        DatasourceMetrics::new(None),
    )
    .unwrap();
    assert_eq!(query(&c).await.unwrap().len(), 100_000);
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            labels: Labels::from_pairs([("__name__", "x".to_string()), ("i", i.to_string())]),
            value: i as f64,
            timestamp_ms: 1,
        })
        .collect()
}

fn writer(url: &str, m: RemoteWriteMetrics, queue: usize) -> RemoteWriter {
    RemoteWriter::start(
        RemoteWriteOptions {
            url: url.to_string(),
            max_queue_size: queue,
            retry_min_interval: Duration::from_millis(20),
            retry_max_time: Duration::from_secs(2),
            flush_interval: Duration::from_millis(50),
            ..RemoteWriteOptions::default()
        },
        m,
        CancellationToken::new(),
    )
    .unwrap()
}

#[tokio::test]
async fn remote_write_retries_5xx_and_429_then_lands() {
    let f = fake_http(vec![
        Canned(500, "text/plain", "busy".into(), Duration::ZERO),
        Canned(429, "text/plain", "slow down".into(), Duration::ZERO),
        Canned(204, "text/plain", String::new(), Duration::ZERO),
    ])
    .await;
    let m = RemoteWriteMetrics::default();
    let w = writer(&f.url, m.clone(), 100);
    w.write_now(&samples(3)).await.expect("lands after retries");
    assert_eq!(f.hits.load(Ordering::SeqCst), 3);
    assert_eq!(m.retries.get(), 2);
    assert_eq!(m.samples_sent.get(), 3);
    assert_eq!(m.samples_dropped.get(), 0);
    // What arrived is a valid snappy protobuf WriteRequest.
    let last = f.bodies.lock().unwrap().last().cloned().unwrap();
    let req = proto::decode(&last).unwrap();
    assert_eq!(req.timeseries.len(), 3);
}

#[tokio::test]
async fn remote_write_does_not_retry_4xx_and_counts_drops() {
    let f = fake_http(vec![Canned(
        400,
        "text/plain",
        "out of order sample".into(),
        Duration::ZERO,
    )])
    .await;
    let m = RemoteWriteMetrics::default();
    let w = writer(&f.url, m.clone(), 100);
    let e = w.write_now(&samples(4)).await.unwrap_err().to_string();
    assert!(
        e.contains("400") && e.contains("out of order sample"),
        "{e}"
    );
    assert_eq!(f.hits.load(Ordering::SeqCst), 1, "a 400 is never retried");
    assert_eq!(m.samples_dropped.get(), 4);
}

#[tokio::test]
async fn full_remote_write_queue_counts_what_it_drops_and_flush_drains() {
    let f = fake_http(vec![Canned(
        204,
        "text/plain",
        String::new(),
        Duration::ZERO,
    )])
    .await;
    let m = RemoteWriteMetrics::default();
    let w = writer(&f.url, m.clone(), 10);
    w.push(samples(15));
    assert_eq!(m.samples_dropped.get(), 5);
    let left = w
        .flush(tokio::time::Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(left, 0);
    // The flusher may have sent part of it too; together everything kept was sent.
    eventually(Duration::from_secs(5), || m.samples_sent.get() >= 10).await;
    assert_eq!(m.samples_sent.get(), 10);
}

fn alert(i: usize) -> Notification {
    Notification {
        labels: Labels::from_pairs([("alertname", format!("A{i}"))]),
        annotations: Default::default(),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: 1_700_000_240_000,
        generator_url: "http://x/graph".into(),
    }
}

#[tokio::test]
async fn alertmanager_down_counts_errors_and_a_full_queue_drops_the_oldest() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = NotifierMetrics::default();
    let n = Notifier::start(
        NotifierOptions {
            targets: vec![TargetOptions {
                url: format!("http://127.0.0.1:{port}"),
                auth: Default::default(),
            }],
            queue_capacity: 5,
            send_timeout: Duration::from_millis(300),
            ..NotifierOptions::default()
        },
        m.clone(),
        CancellationToken::new(),
    )
    .unwrap();
    // Eight alerts into a five-alert queue: three oldest dropped.
    n.send(&(0..8).map(alert).collect::<Vec<_>>(), &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    n.flush(deadline).await;
    eventually(Duration::from_secs(5), || n.status()[0].errors >= 5).await;
    let st = &n.status()[0];
    assert_eq!(st.dropped, 3, "{st:?}");
    assert_eq!(
        st.errors, 5,
        "every kept alert failed and was counted: {st:?}"
    );
    assert_eq!(st.sent, 0);
    assert_eq!(st.queued, 0);
}

#[tokio::test]
async fn alerts_reach_a_fake_alertmanager_as_v2_json_with_group_headers() {
    let f = fake_http(vec![Canned(
        200,
        "application/json",
        String::new(),
        Duration::ZERO,
    )])
    .await;
    let m = NotifierMetrics::default();
    let n = Notifier::start(
        NotifierOptions {
            targets: vec![TargetOptions {
                url: f.url.clone(),
                auth: Default::default(),
            }],
            ..NotifierOptions::default()
        },
        m,
        CancellationToken::new(),
    )
    .unwrap();
    n.send(&[alert(1), alert(2)], &[("X-Tenant".into(), "t1".into())]);
    n.flush(tokio::time::Instant::now() + Duration::from_secs(5))
        .await;
    eventually(Duration::from_secs(5), || n.status()[0].sent >= 2).await;
    let bodies = f.bodies.lock().unwrap().clone();
    let all: Vec<serde_json::Value> = bodies
        .iter()
        .flat_map(|b| serde_json::from_slice::<Vec<serde_json::Value>>(b).unwrap_or_default())
        .collect();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["labels"]["alertname"], "A1");
    assert_eq!(all[0]["startsAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(n.status()[0].sent, 2);
}
