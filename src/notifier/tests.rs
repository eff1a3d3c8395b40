use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::relabel::RawRelabel;

fn alert(name: &str) -> Notification {
    Notification {
        labels: Labels::from_pairs([("alertname", name), ("internal_id", "7")]),
        annotations: crate::rule::Annotations::default(),
        starts_at_ms: 0,
        ends_at_ms: 0,
        generator_url: "".into(),
    }
}

fn spec(url: &str, relabel: Vec<Relabel>) -> TargetSpec {
    TargetSpec {
        url: url.into(),
        kind: Kind::Dns,
        labels: Labels::empty(),
        client: None,
        alert_relabel: Arc::new(relabel),
    }
}

fn step(yaml: &str) -> Relabel {
    let raw: RawRelabel = serde_saphyr::from_str(yaml).unwrap();
    raw.compile().unwrap()
}

fn queued_names(n: &Notifier, url: &str) -> Vec<String> {
    let targets = n.targets();
    let t = targets.iter().find(|t| t.spec.url == url).unwrap();
    let q = t.queue.lock().unwrap();
    q.iter()
        .map(|(_, a)| {
            let l = &a.0.labels;
            let pairs: Vec<String> = l
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            pairs.join(",")
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn alerts_are_relabelled_globally_then_per_target_group() {
    let n = Notifier::new(
        NotifierOptions::default(),
        NotifierMetrics::default(),
        CancellationToken::new(),
    );
    n.set_alert_relabel(Arc::new(vec![step(
        "action: labeldrop\nregex: internal_.*\n",
    )]));
    n.set_targets(
        1,
        vec![
            spec(
                "http://a/api/v2/alerts",
                vec![step("target_label: team\nreplacement: sre\n")],
            ),
            spec(
                "http://b/api/v2/alerts",
                vec![step(
                    "source_labels: [alertname]\nregex: Drop.*\naction: drop\n",
                )],
            ),
        ],
    );
    // Hold the senders off: the queues are what is under test.
    n.send(&[alert("Up"), alert("DropMe")], &[]);
    assert_eq!(
        queued_names(&n, "http://a/api/v2/alerts"),
        ["alertname=Up,team=sre", "alertname=DropMe,team=sre"]
    );
    assert_eq!(queued_names(&n, "http://b/api/v2/alerts"), ["alertname=Up"]);
}

#[tokio::test(start_paused = true)]
async fn set_targets_keeps_unchanged_targets_and_stops_removed_ones() {
    let m = NotifierMetrics::default();
    let n = Notifier::new(
        NotifierOptions::default(),
        m.clone(),
        CancellationToken::new(),
    );
    n.set_targets(
        1,
        vec![spec("http://a/x", vec![]), spec("http://b/x", vec![])],
    );
    let a_before = n.targets()[0].clone();
    let b_before = n.targets()[1].clone();
    n.set_targets(
        1,
        vec![spec("http://a/x", vec![]), spec("http://c/x", vec![])],
    );
    let now = n.targets();
    assert!(
        Arc::ptr_eq(&now[0], &a_before),
        "same generation and URL: kept"
    );
    assert!(b_before.cancel.is_cancelled(), "removed: its sender stops");
    let urls: Vec<&str> = now.iter().map(|t| t.spec.url.as_str()).collect();
    assert_eq!(urls, ["http://a/x", "http://c/x"]);
    // A new generation (a reloaded config) makes new targets even for the same URL.
    n.set_targets(2, vec![spec("http://a/x", vec![])]);
    assert!(!Arc::ptr_eq(&n.targets()[0], &a_before));
    assert!(a_before.cancel.is_cancelled());
    // Removed targets' series are gone from /metrics.
    let mut r = prometheus_client::registry::Registry::default();
    m.register(&mut r);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
    assert!(
        !text.contains("http://b/x") && !text.contains("http://c/x"),
        "{text}"
    );
    assert!(text.contains("http://a/x"), "{text}");
}

#[tokio::test]
async fn the_blackhole_counts_alerts_as_sent() {
    let n = Notifier::blackhole(NotifierMetrics::default(), CancellationToken::new());
    n.send(&[alert("A"), alert("B")], &[]);
    let left = n
        .flush(tokio::time::Instant::now() + std::time::Duration::from_secs(1))
        .await;
    let st = &n.status()[0];
    assert_eq!((left, st.sent, st.errors), (0, 2, 0), "{st:?}");
    assert_eq!((st.kind, st.url.as_str()), (Kind::Blackhole, "blackhole"));
}
