//! `-pushmetrics.*` end to end: tocsin's own metrics arrive in a real VictoriaMetrics
//! 1.145 with the extra label, the request has the shape vmalert 1.145's push has
//! (both push to one recording endpoint), a failing endpoint is counted, and the header
//! and URL credentials stay secret.

mod support;

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::eventually;
use support::fake_http::serve_fn;
use support::http::poll_victoria_metrics;
use support::peers::{ChildGuard, sid_peer_or_skip};
use support::secrets::Probe;
use support::servers::{start_tocsin, start_victoria_metrics};

const RULES: &str = "groups:
- name: g
  interval: 1s
  rules:
  - alert: Never
    expr: vector(1) == 2
";

/// One push the recording endpoint received.
#[derive(Clone, Debug)]
struct Push {
    path: String,
    method: String,
    content_type: String,
    encoding: String,
    authorization: String,
    token: String,
    /// The body, gunzipped when it came gzipped.
    text: String,
}

type Pushes = Arc<Mutex<Vec<Push>>>;

fn header(r: &support::fake_http::Seen<'_>, name: &str) -> String {
    let v = r.headers.get(name).and_then(|v| v.to_str().ok());
    v.unwrap_or("").to_string()
}

/// An endpoint keeping every push; `/fail` answers 404.
async fn recorder() -> (String, Pushes) {
    let pushes: Pushes = Arc::default();
    let p = pushes.clone();
    let (url, _) = serve_fn(move |_, r| {
        let encoding = header(r, "content-encoding");
        let mut text = String::new();
        if encoding == "gzip" {
            let mut d = flate2::read::GzDecoder::new(r.raw);
            d.read_to_string(&mut text).expect("a gzipped body");
        } else {
            text = r.body.to_string();
        }
        p.lock().unwrap().push(Push {
            path: r.path.to_string(),
            method: r.method.to_string(),
            content_type: header(r, "content-type"),
            encoding,
            authorization: r.authorization.to_string(),
            token: header(r, "x-push-token"),
            text,
        });
        let status = if r.path == "/fail" { 404 } else { 204 };
        Some((status, "text/plain", String::new()))
    })
    .await;
    (url, pushes)
}

fn pushes_to(pushes: &Pushes, path: &str) -> Vec<Push> {
    let all = pushes.lock().unwrap();
    all.iter().filter(|p| p.path == path).cloned().collect()
}

/// vmalert 1.145 pushing its metrics to `url` every second.
async fn start_vmalert(
    bin: &std::path::Path,
    dir: &std::path::Path,
    rules: &str,
    ds: &str,
    url: &str,
) -> ChildGuard {
    let args: Vec<String> = vec![
        format!("-rule={rules}"),
        format!("-datasource.url={ds}"),
        "-notifier.blackhole".into(),
        format!("-pushmetrics.url={url}"),
        "-pushmetrics.interval=1s".into(),
        "-pushmetrics.extraLabel=instance=\"vmalert-push\"".into(),
    ];
    support::servers::start_vmalert(bin, &args, dir).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_arrive_in_victoria_metrics_with_the_extra_label_as_vmalert_pushes_them() {
    let (Some(vm_bin), Some(vmalert_bin)) = (
        sid_peer_or_skip("victoria-metrics"),
        sid_peer_or_skip("vmalert"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let (_vm, vm) = start_victoria_metrics(&vm_bin, dir.path(), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rec, pushes) = recorder().await;
    let rec_creds = rec.replace("http://", "http://pusher:pw-in-url@");
    let args: Vec<String> = vec![
        format!("-rule={}", rules.display()),
        format!("-datasource.url={vm}"),
        "-notifier.blackhole".into(),
        format!("-pushmetrics.url={vm}/api/v1/import/prometheus"),
        format!("-pushmetrics.url={rec_creds}/tocsin"),
        format!("-pushmetrics.url={rec}/fail"),
        "-pushmetrics.interval=1s".into(),
        "-pushmetrics.extraLabel=instance=\"tocsin-push\"".into(),
        "-pushmetrics.extraLabel=dc=\"eu,1\"".into(),
        "-pushmetrics.header=X-Push-Token: hdr-s3cret".into(),
    ];
    let (tocsin, base) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _vmalert = start_vmalert(
        &vmalert_bin,
        dir.path(),
        &rules.display().to_string(),
        &vm,
        &format!("{rec}/vmalert"),
    )
    .await;

    // tocsin's own metrics, with both extra labels, in VictoriaMetrics.
    let q = "tocsin_pushmetrics_pushes_total%7Binstance%3D%22tocsin-push%22%2Cdc%3D%22eu%2C1%22%7D";
    let v = poll_victoria_metrics(&vm, q, Duration::from_secs(30), |v| {
        v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no pushed tocsin metric in VictoriaMetrics\n{}",
            tocsin.log_tail(20)
        )
    });
    let urls: Vec<&str> = (v["data"]["result"].as_array().unwrap().iter())
        .filter_map(|s| s["metric"]["url"].as_str())
        .collect();
    assert!(
        urls.iter()
            .any(|u| u.ends_with("/api/v1/import/prometheus")),
        "{v}"
    );

    // The request's shape is vmalert 1.145's.
    let both =
        || !pushes_to(&pushes, "/tocsin").is_empty() && !pushes_to(&pushes, "/vmalert").is_empty();
    assert!(
        eventually(Duration::from_secs(30), both).await,
        "pushes from both"
    );
    let ours = pushes_to(&pushes, "/tocsin").remove(0);
    let theirs = pushes_to(&pushes, "/vmalert").remove(0);
    assert_eq!(
        (&ours.method, &ours.content_type, &ours.encoding),
        (&theirs.method, &theirs.content_type, &theirs.encoding),
        "tocsin's push differs from vmalert's"
    );
    assert_eq!(
        (ours.method.as_str(), ours.encoding.as_str()),
        ("GET", "gzip")
    );
    // Labels go where vmalert puts them: first in every sample's label set.
    assert!(
        theirs.text.contains("{instance=\"vmalert-push\""),
        "{}",
        theirs.text
    );
    let sample = (ours.text.lines())
        .find(|l| l.starts_with("tocsin_http_requests_total{"))
        .unwrap_or_else(|| panic!("no request counter pushed:\n{}", ours.text));
    assert!(
        sample.starts_with("tocsin_http_requests_total{instance=\"tocsin-push\",dc=\"eu,1\","),
        "{sample}"
    );
    // The header is sent, URL credentials travel as basic auth.
    assert_eq!(ours.token, "hdr-s3cret");
    assert_eq!(ours.authorization, "Basic cHVzaGVyOnB3LWluLXVybA==");

    // A failing endpoint is counted, and named redacted.
    let probe = Probe::plain(&base);
    let fail_url = format!("{rec}/fail");
    let failure_counted = |_: &str, _: &str, m: &str| {
        m.lines().any(|l| {
            l.starts_with("tocsin_pushmetrics_errors_total{")
                && l.contains(&fail_url)
                && !l.ends_with(" 0")
        })
    };
    let failed = probe
        .wait_until(Duration::from_secs(30), failure_counted)
        .await;
    let m = probe.metrics().await;
    assert!(failed, "no counted failure for {fail_url}\n{m}");

    // Secrets stay secret: /flags, /metrics and the log.
    let flags = probe.get("/flags").await;
    assert!(flags.contains("-pushmetrics.header=\"secret\""), "{flags}");
    let log = std::fs::read_to_string(&tocsin.log).unwrap();
    for shown in [flags.as_str(), m.as_str(), log.as_str()] {
        assert!(
            !shown.contains("hdr-s3cret") && !shown.contains("pw-in-url"),
            "{shown}"
        );
    }
    assert!(
        log.contains("cannot push metrics") && log.contains("404"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_compression_sends_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let (rec, pushes) = recorder().await;
    let (ds, _) = serve_fn(|_, _| {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        Some((200, "application/json", empty.to_string()))
    })
    .await;
    let args: Vec<String> = vec![
        format!("-rule={}", rules.display()),
        format!("-datasource.url={ds}"),
        "-notifier.blackhole".into(),
        format!("-pushmetrics.url={rec}/plain"),
        "-pushmetrics.interval=1s".into(),
        "-pushmetrics.disableCompression".into(),
    ];
    let (_tocsin, _) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pushed = || !pushes_to(&pushes, "/plain").is_empty();
    assert!(eventually(Duration::from_secs(30), pushed).await);
    let p = pushes_to(&pushes, "/plain").remove(0);
    assert_eq!(
        (p.encoding.as_str(), p.content_type.as_str()),
        ("", "text/plain")
    );
    assert!(
        p.text.contains("\ntocsin_pushmetrics_pushes_total{url="),
        "{}",
        p.text
    );
}

#[test]
fn malformed_push_flags_stop_start_up_naming_the_flag() {
    for (arg, flag) in [
        (
            "-pushmetrics.extraLabel=instance",
            "-pushmetrics.extraLabel",
        ),
        ("-pushmetrics.header=NoColon", "-pushmetrics.header"),
        ("-pushmetrics.interval=10", "-pushmetrics.interval"),
        ("-pushmetrics.url=ftp://u:secretpw@h/x", "-pushmetrics.url"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args([
                "-rule=/nonexistent.yml",
                "-datasource.url=http://127.0.0.1:1",
                arg,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{arg}");
        assert!(err.contains(flag), "{arg}: {err}");
        assert!(!err.contains("secretpw"), "{err}");
    }
}
