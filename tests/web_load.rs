//! The API under load (`-http.maxConcurrentRequests`): expensive answers render on
//! blocking threads, at most N at once; the next one is answered 503 with
//! `Retry-After`, and the health checks answer while every slot is taken. Identical
//! requests share one rendering per status change, so a storm of them is answered in
//! full and costs one rendering (counted by `tocsin_http_renders_total`). A state
//! source that blocks inside `groups()` until the test lets it go holds a slot for as
//! long as the test needs, so nothing here depends on timing. On a cluster member the
//! merged answers (a request to every other member) hold a slot too.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::registry::Registry;
use support::web::{Fake, fixture, server, t0};
use tocsin::labels::Labels;
use tocsin::status::RuleStatus;
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, Annotations, BoxFuture, ClusterSource, ClusterStatus,
    GroupStatus, MemberStatus, PeerAnswer, ReloadStatus, RuleKindStatus, Snapshot, StateSource,
};
use tocsin::web::WebOptions;
use tocsin::web::metrics::HttpMetrics;

/// Serves the fixture, but the first `groups()` call waits for `release`.
struct Stuck {
    inner: Arc<Fake>,
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

impl StateSource for Stuck {
    fn version(&self) -> u64 {
        self.inner.version()
    }

    fn groups(&self) -> Snapshot {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let rx = self.release.lock().unwrap().take().unwrap();
            tx.send(()).unwrap();
            rx.recv().unwrap();
        }
        self.inner.groups()
    }

    fn reload_status(&self) -> ReloadStatus {
        self.inner.reload_status()
    }

    fn reload(&self) -> BoxFuture<Result<(), String>> {
        self.inner.reload()
    }
}

/// A server with one rendering slot (`-http.maxConcurrentRequests=1`) over `state`.
async fn one_slot_server(state: Arc<dyn StateSource>) -> support::web::Running {
    server()
        .state(state)
        .options(WebOptions {
            max_concurrent_requests: 1,
            ..WebOptions::default()
        })
        .start()
        .await
}

/// `path` is turned away at once: 503, `Retry-After: 1`, and a body naming the flag
/// (returned).
async fn assert_turned_away(
    client: &reqwest::Client,
    srv: &support::web::Running,
    path: &str,
) -> String {
    let r = client.get(srv.url(path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503, "{path}");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1"),
        "{path}"
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains("-http.maxConcurrentRequests"),
        "{path}: {body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_limit_expensive_requests_get_503_and_health_still_answers() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let state = Arc::new(Stuck {
        inner: Fake::new(fixture(), true),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(Some(release_rx)),
    });
    let srv = one_slot_server(state).await;
    let client = reqwest::Client::new();
    let first = tokio::spawn(client.get(srv.url("/api/v1/rules")).send());
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();

    // The same request waits for the rendering under way and shares it.
    let same = tokio::spawn(client.get(srv.url("/api/v1/rules")).send());

    // The only slot is taken: other answers are turned away at once.
    for path in ["/api/v1/alerts", "/api/v1/rules?type=alert", "/metrics"] {
        let body = assert_turned_away(&client, &srv, path).await;
        if path != "/metrics" {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["status"], "error");
            assert_eq!(v["errorType"], "unavailable");
        }
    }
    // Cheap endpoints do not queue behind the expensive one.
    for path in ["/-/healthy", "/-/ready", "/api/v1/status"] {
        let r = client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }

    release_tx.send(()).unwrap();
    let r = first.await.unwrap().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success");
    let r = same.await.unwrap().unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "it waited instead of being turned away"
    );
    assert_eq!(r.text().await.unwrap(), body);
    // The slot is free again.
    let r = client.get(srv.url("/api/v1/alerts")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    srv.shutdown().await;
}

/// `groups` groups of 10 alerting rules with `alerts` firing alerts each.
fn many_alerts(groups: usize, alerts: usize) -> Vec<Arc<GroupStatus>> {
    (0..groups)
        .map(|gi| {
            let mut g = GroupStatus::new(
                "/rules/storm.yml",
                &format!("g{gi}"),
                Duration::from_secs(60),
            );
            g.rules = (0..10u64)
                .map(|ri| {
                    let name = format!("Storm{gi}_{ri}");
                    let alerts = (0..alerts)
                        .map(|ai| {
                            let labels = Labels::from_pairs([
                                ("alertname", name.as_str()),
                                ("instance", &format!("host-{ai}:9100")),
                            ]);
                            let mut a = AlertStatus::new(labels, AlertState::Firing, t0(), 1.0);
                            a.annotations =
                                Annotations::from_pairs([("summary", "a storm of requests")]);
                            a
                        })
                        .collect();
                    let kind = RuleKindStatus::Alerting(AlertingStatus {
                        alerts,
                        ..Default::default()
                    });
                    Arc::new(RuleStatus::new(ri, &name, "up == 0", kind))
                })
                .collect();
            Arc::new(g)
        })
        .collect()
}

/// `tocsin_http_renders_total{path}` as `/metrics` shows it.
async fn renders(client: &reqwest::Client, srv: &support::web::Running, path: &str) -> u64 {
    let text = client
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("tocsin_http_renders_total{{path=\"{path}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// `n` identical requests at once, all answered: their status codes and bodies.
async fn storm(
    client: &reqwest::Client,
    url: String,
    n: usize,
    gzip: bool,
) -> Vec<(u16, bytes::Bytes)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let mut req = client.get(&url);
            if gzip {
                req = req.header("accept-encoding", "gzip");
            }
            tokio::spawn(async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_identical_requests_renders_once_per_change_and_is_answered_in_full() {
    // 20,000 alerts: a few megabytes of JSON per answer.
    let state = Fake::new(many_alerts(200, 10), true);
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry);
    let srv = server()
        .state(state.clone())
        .registry(registry)
        .options(WebOptions {
            max_concurrent_requests: 2,
            http_metrics: Some(http),
            ..WebOptions::default()
        })
        .start()
        .await;
    let client = reqwest::Client::new();

    // 200 clients at once, with 2 rendering slots: without sharing, most would be
    // turned away with 503 and each of the others would hold its own copy.
    let answers = storm(&client, srv.url("/api/v1/alerts"), 200, false).await;
    let first = &answers[0].1;
    assert!(first.len() > 1_000_000, "{} bytes", first.len());
    for (code, body) in &answers {
        assert_eq!(*code, 200);
        assert_eq!(body, first, "every client gets the same answer");
    }
    let v: serde_json::Value = serde_json::from_slice(first).unwrap();
    assert_eq!(v["data"]["alerts"].as_array().unwrap().len(), 20_000);
    assert_eq!(renders(&client, &srv, "/api/v1/alerts").await, 1);

    // Gzipped, and the rules: one rendering each.
    let zipped = storm(&client, srv.url("/api/v1/alerts"), 50, true).await;
    assert!(zipped.iter().all(|(c, b)| *c == 200 && b == &zipped[0].1));
    assert!(
        zipped[0].1.len() < first.len() / 5,
        "compressed once, shared"
    );
    let rules = storm(
        &client,
        srv.url("/api/v1/rules?exclude_alerts=true"),
        50,
        false,
    )
    .await;
    assert!(rules.iter().all(|(c, b)| *c == 200 && b == &rules[0].1));
    assert_eq!(renders(&client, &srv, "/api/v1/alerts").await, 2);
    assert_eq!(renders(&client, &srv, "/api/v1/rules").await, 1);

    // A change: the next requests see it, rendered once more.
    let mut g = (*state.board.snapshot()[0]).clone();
    g.rules.truncate(1);
    state.board.publish(Arc::new(g));
    let after = storm(&client, srv.url("/api/v1/alerts"), 100, false).await;
    assert!(after.iter().all(|(c, b)| *c == 200 && b == &after[0].1));
    let v: serde_json::Value = serde_json::from_slice(&after[0].1).unwrap();
    assert_eq!(v["data"]["alerts"].as_array().unwrap().len(), 20_000 - 90);
    assert_eq!(renders(&client, &srv, "/api/v1/alerts").await, 3);
    srv.shutdown().await;
}

/// A cluster of this member and one other, whose answer to the first fanned-out
/// request waits for `release`.
struct StuckPeer {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Arc<tokio::sync::Notify>,
}

impl ClusterSource for StuckPeer {
    fn identity_header(&self) -> String {
        "instance=test; member=; count=1; replication=1; view=0".into()
    }

    fn status(&self) -> ClusterStatus {
        ClusterStatus {
            mode: "dynamic",
            members: vec![
                MemberStatus {
                    name: "a".into(),
                    addr: None,
                    me: true,
                },
                MemberStatus {
                    name: "b".into(),
                    addr: Some("127.0.0.1:1".into()),
                    me: false,
                },
            ],
            replication: 1,
            converged: true,
            ..ClusterStatus::default()
        }
    }

    fn owners(&self, _id: u64) -> Vec<String> {
        vec!["a".into()]
    }

    fn all_groups(&self) -> Vec<Arc<GroupStatus>> {
        fixture()
    }

    fn fan_out(&self, _path: String, _auth: Option<String>) -> BoxFuture<Vec<PeerAnswer>> {
        let entered = self.entered.lock().unwrap().take();
        let release = self.release.clone();
        Box::pin(async move {
            if let Some(tx) = entered {
                tx.send(()).unwrap();
                release.notified().await;
            }
            vec![PeerAnswer {
                member: "b".into(),
                addr: Some("127.0.0.1:1".into()),
                body: Ok(r#"{"status":"success","data":{"groups":[],"alerts":[]}}"#.into()),
                problems: Vec::new(),
            }]
        })
    }
}

/// The fixture's state on a cluster member.
struct Member {
    inner: Arc<Fake>,
    cluster: Arc<StuckPeer>,
}

impl StateSource for Member {
    fn groups(&self) -> Snapshot {
        self.inner.groups()
    }

    fn reload_status(&self) -> ReloadStatus {
        self.inner.reload_status()
    }

    fn reload(&self) -> BoxFuture<Result<(), String>> {
        self.inner.reload()
    }

    fn cluster(&self) -> Option<Arc<dyn ClusterSource>> {
        Some(self.cluster.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_wide_answers_hold_a_slot_too() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let state = Arc::new(Member {
        inner: Fake::new(fixture(), true),
        cluster: Arc::new(StuckPeer {
            entered: Mutex::new(Some(entered_tx)),
            release: release.clone(),
        }),
    });
    let srv = one_slot_server(state).await;
    let client = reqwest::Client::new();
    // A cluster-wide answer waiting for the other member holds the only slot.
    let first = tokio::spawn(client.get(srv.url("/api/v1/rules")).send());
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();
    for path in [
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/rules?local=1",
        "/metrics",
    ] {
        assert_turned_away(&client, &srv, path).await;
    }
    for path in ["/-/healthy", "/-/ready", "/api/v1/status"] {
        let r = client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    release.notify_one();
    let r = first.await.unwrap().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["partial"], false, "{v}");
    // The slot is free again, for the cluster-wide answer as for the local one.
    for path in ["/api/v1/alerts", "/api/v1/rules?local=1"] {
        let r = client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    srv.shutdown().await;
}
