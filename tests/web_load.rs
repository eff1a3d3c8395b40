//! The API under load (`-http.maxConcurrentRequests`): expensive answers render on
//! blocking threads, at most N at once; the next one is answered 503 with
//! `Retry-After`, and the health checks answer while every slot is taken. A state
//! source that blocks inside `groups()` until the test lets it go holds a slot for as
//! long as the test needs, so nothing here depends on timing.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use support::web::{Fake, fixture, server};
use tocsin::status::{BoxFuture, ReloadStatus, Snapshot, StateSource};
use tocsin::web::WebOptions;

/// Serves the fixture, but the first `groups()` call waits for `release`.
struct Stuck {
    inner: Arc<Fake>,
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

impl StateSource for Stuck {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_limit_expensive_requests_get_503_and_health_still_answers() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let state = Arc::new(Stuck {
        inner: Fake::new(fixture(), true),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(Some(release_rx)),
    });
    let srv = server()
        .state(state)
        .options(WebOptions {
            max_concurrent_requests: 1,
            ..WebOptions::default()
        })
        .start()
        .await;
    let client = reqwest::Client::new();
    let first = tokio::spawn(client.get(srv.url("/api/v1/rules")).send());
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();

    // The only slot is taken: rules, alerts and metrics are turned away at once.
    for path in ["/api/v1/alerts", "/api/v1/rules", "/metrics"] {
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
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["status"], "success");
    // The slot is free again.
    let r = client.get(srv.url("/api/v1/alerts")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    srv.shutdown().await;
}
