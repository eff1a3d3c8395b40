//! Who may call what, against the real thing: tocsin and vmalert 1.145 started with the
//! same `-httpAuth.*` and `-*AuthKey` flags refuse and admit the same requests.

mod support;

use std::time::{Duration, Instant};

use support::peers::{ChildGuard, free_port, sid_peer_or_skip};

const FLAGS: &[&str] = &[
    "-httpAuth.username=admin",
    "-httpAuth.password=pw",
    "-metricsAuthKey=k-metrics",
    "-flagsAuthKey=k-flags",
    "-pprofAuthKey=k-pprof",
    "-reloadAuthKey=k-reload",
];

async fn start(bin: &str, name: &str, dir: &std::path::Path) -> (ChildGuard, String) {
    let port = free_port();
    let dead = free_port();
    let mut argv = vec![
        bin.to_string(),
        format!("-rule={}", dir.join("r.yml").display()),
        format!("-datasource.url=http://127.0.0.1:{dead}"),
        format!("-notifier.url=http://127.0.0.1:{dead}"),
        format!("-httpListenAddr=127.0.0.1:{port}"),
    ];
    argv.extend(FLAGS.iter().map(|s| s.to_string()));
    let mut g = ChildGuard::spawn(name, &argv, dir).expect("start");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Some(s) = g.exited() {
            panic!("{name} exited ({s}):\n{}", g.log_tail(30));
        }
        if let Ok(r) = reqwest::get(format!("{base}/health")).await
            && r.status() == 200
        {
            return (g, base);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            g.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The key a route takes, if any (as the flags above name them).
fn key_of(path: &str) -> Option<&'static str> {
    match path {
        "/metrics" => Some("k-metrics"),
        "/flags" => Some("k-flags"),
        "/-/reload" => Some("k-reload"),
        p if p.starts_with("/debug/pprof/") => Some("k-pprof"),
        _ => None,
    }
}

/// Status codes for no, wrong and right credentials, then right basic auth on a key
/// route (which the key replaces).
async fn codes(base: &str, path: &str) -> Vec<u16> {
    let c = reqwest::Client::new();
    let url = format!("{base}{path}");
    let get = |u: String| c.get(u);
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = vec![
        get(url.clone()).send().await.unwrap().status().as_u16(),
        get(format!("{url}{sep}authKey=wrong"))
            .basic_auth("admin", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
    ];
    let right = match key_of(path) {
        Some(k) => get(format!("{url}{sep}authKey={k}")),
        None => get(url.clone()).basic_auth("admin", Some("pw")),
    };
    out.push(right.send().await.unwrap().status().as_u16());
    if key_of(path).is_some() {
        let basic_only = get(url)
            .basic_auth("admin", Some("pw"))
            .send()
            .await
            .unwrap();
        out.push(basic_only.status().as_u16());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_refusals_as_vmalert_1_145() {
    let Some(vmalert) = sid_peer_or_skip("vmalert") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: vector(1)\n",
    )
    .unwrap();
    let (_vm, vm_base) = start(&vmalert.display().to_string(), "vmalert", dir.path()).await;
    let (_t, t_base) = start(env!("CARGO_BIN_EXE_tocsin"), "tocsin", dir.path()).await;
    for path in [
        "/health",
        "/-/healthy",
        "/-/ready",
        "/metrics",
        "/flags",
        "/debug/pprof/",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/notifiers",
        "/vmalert/api/v1/rules",
        "/api/v1/no-such-path",
        "/-/reload",
    ] {
        let (vm, ours) = (codes(&vm_base, path).await, codes(&t_base, path).await);
        let refused = |v: &[u16]| v.iter().map(|c| *c == 401).collect::<Vec<_>>();
        assert_eq!(
            refused(&ours),
            refused(&vm),
            "{path}: tocsin {ours:?}, vmalert {vm:?}"
        );
        if path != "/api/v1/no-such-path" {
            // Where both admit the request, both answer it the same way.
            let ok = |v: &[u16]| v.iter().map(|c| *c == 200).collect::<Vec<_>>();
            assert_eq!(
                ok(&ours),
                ok(&vm),
                "{path}: tocsin {ours:?}, vmalert {vm:?}"
            );
        }
    }
}
