//! `-rule=http(s)://…` and `-rule.templates=http(s)://…`: rule and template files
//! fetched over HTTP, as vmalert 1.145 fetches `-rule` URLs. In-process against a
//! scripted server (credentials, 404, HTML, a server that never answers), and end to end
//! through the binary against a real static file server (`python3 -m http.server`):
//! fetched at start-up and at each reload, a failing URL keeps the old rules (and, for
//! `-rule.templates`, the old templates), `tocsin check` and `-dryRun` read URLs too.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::fake_http::{datasource_answering, serve_fn};
use support::http::{get_json, poll_json, post_reload, summary_becomes};
use support::peers::{ChildGuard, free_port};
use support::secrets::{Probe, counter};
use support::servers::{spawn_ready, start_tocsin};
use tocsin::config::{LoadOptions, load};

const RULES: &str = "groups:
- name: fetched
  interval: 1s
  rules:
  - alert: Fetched
    expr: up == 0
    annotations:
      summary: '{{ template \"where\" . }}'
";

const TEMPLATES: &str = "{{ define \"where\" }}on {{ .Labels.instance }}{{ end }}";

const PAGE: &str = "<!DOCTYPE html>\n<html><body>Sign in</body></html>\n";

fn opts(timeout_ms: u64) -> LoadOptions {
    LoadOptions {
        fetch_timeout: Duration::from_millis(timeout_ms),
        ..LoadOptions::default()
    }
}

/// A server that accepts connections and never answers.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_load_with_credentials_and_fail_clearly_naming_the_url_redacted() {
    let (base, _) = serve_fn(|_, r| match r.path {
        "/rules.yml" if r.authorization == "Basic dTpwdy1zZWNyZXQ=" => {
            Some((200, "text/plain", RULES.to_string()))
        }
        "/rules.yml" => Some((401, "text/plain", "who are you".to_string())),
        "/page" => Some((200, "text/html; charset=utf-8", PAGE.to_string())),
        "/page-as-text" => Some((200, "text/plain", PAGE.to_string())),
        _ => Some((404, "text/plain", "404 page not found".to_string())),
    })
    .await;
    let with_creds = base.replace("http://", "http://u:pw-secret@");
    let silent = silent_server().await;
    let load_one = |url: String, timeout_ms: u64| {
        tokio::task::spawn_blocking(move || load(&[url], &opts(timeout_ms)))
    };

    let set = load_one(format!("{with_creds}/rules.yml"), 5000)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.groups.len(), 1);
    let file = set.groups[0].file.display().to_string();
    assert!(
        file.ends_with("/rules.yml") && file.starts_with("http://u:"),
        "{file}"
    );
    assert!(!file.contains("pw-secret"), "{file}");

    let cases = [
        (format!("{with_creds}/gone.yml"), "404 Not Found"),
        (format!("{base}/rules.yml"), "401 Unauthorized"),
        (format!("{with_creds}/page"), "an HTML page"),
        (format!("{base}/page-as-text"), "an HTML page"),
        (format!("{silent}/rules.yml"), "no answer within 0.3s"),
    ];
    for (url, what) in cases {
        let e = load_one(url.clone(), 300).await.unwrap().err();
        let e = e.expect("the load fails").to_string();
        let path = url.split_once('@').map_or(url.as_str(), |(_, p)| p);
        let path = path.trim_start_matches("http://");
        assert!(e.contains(path) && e.contains(what), "{url}: {e}");
        assert!(e.contains("cannot fetch the rules"), "{e}");
        assert!(!e.contains("pw-secret"), "{e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }

    // Templates too.
    let (tpl_base, _) = serve_fn(|_, r| match r.path {
        "/t.tpl" => Some((200, "text/plain", TEMPLATES.to_string())),
        _ => Some((404, "text/plain", String::new())),
    })
    .await;
    let ok = vec![format!("{tpl_base}/t.tpl")];
    let lib = tokio::task::spawn_blocking(move || tocsin::template::Library::load(&ok));
    if let Err(e) = lib.await.unwrap() {
        panic!("{e}");
    }
    let bad = vec![format!("{tpl_base}/none.tpl")];
    let lib = tokio::task::spawn_blocking(move || tocsin::template::Library::load(&bad));
    let e = lib.await.unwrap().expect_err("no library").to_string();
    assert!(e.contains("/none.tpl") && e.contains("404"), "{e}");
}

/// `python3 -m http.server` serving `dir` on a free port.
async fn static_server(dir: &Path) -> (ChildGuard, String) {
    let port = free_port();
    let argv: Vec<String> = vec![
        "python3".into(),
        "-m".into(),
        "http.server".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--directory".into(),
        dir.display().to_string(),
    ];
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(dir.join("ready"), "").unwrap();
    let guard = spawn_ready(
        "http.server",
        &argv,
        dir,
        &base,
        "/ready",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("{e} (install python3)"));
    (guard, base)
}

async fn group_names(base: &str) -> Vec<String> {
    let (_, v) = get_json(&format!("{base}/api/v1/rules")).await;
    let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> = (groups.iter())
        .map(|g| g["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_file_server_serves_rules_at_start_and_reload_and_a_failure_keeps_them() {
    let served = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(served.path().join("t.tpl"), TEMPLATES).unwrap();
    std::fs::write(served.path().join("page.html"), PAGE).unwrap();
    let (_files, files) = static_server(served.path()).await;
    let rules_url = format!("{files}/rules.yml");

    // tocsin check and -dryRun read the URL.
    let bin = env!("CARGO_BIN_EXE_tocsin");
    let out = Command::new(bin)
        .args(["check", &rules_url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SUCCESS: 1 rules found"),
        "{stdout}"
    );
    let page = format!("{files}/page.html");
    let out = Command::new(bin)
        .args([format!("-rule={page}"), "-dryRun".into()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&page) && err.contains("HTML"),
        "{err}"
    );

    let (ds, _) = serve_fn(|_, _| {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        Some((200, "application/json", empty.to_string()))
    })
    .await;
    let args = vec![
        format!("-rule={rules_url}"),
        format!("-rule.templates={files}/t.tpl"),
        format!("-datasource.url={ds}"),
        "-notifier.blackhole".into(),
    ];
    let (tocsin, base) = start_tocsin(&args, work.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(group_names(&base).await, ["fetched"]);
    let (_, v) = get_json(&format!("{base}/api/v1/rules")).await;
    assert_eq!(v["data"]["groups"][0]["file"], rules_url.as_str());

    // A reload fetches the URL again.
    let more = format!("{RULES}- name: added\n  rules:\n  - alert: Added\n    expr: vector(1)\n");
    std::fs::write(served.path().join("rules.yml"), more).unwrap();
    let (code, body) = post_reload(&base).await;
    assert_eq!(code, 200, "{body}");
    let seen = poll_json(
        &format!("{base}/api/v1/rules"),
        Duration::from_secs(30),
        |v| v.to_string().contains("\"added\""),
    )
    .await;
    assert!(
        seen.is_some(),
        "the reload did not fetch again\n{}",
        tocsin.log_tail(20)
    );

    // The file is gone (404): the reload fails naming the URL, the rules stay.
    std::fs::remove_file(served.path().join("rules.yml")).unwrap();
    let (code, body) = post_reload(&base).await;
    assert!(
        code >= 400 && body.contains(&rules_url) && body.contains("404"),
        "{code}: {body}"
    );
    let status = poll_json(
        &format!("{base}/api/v1/status"),
        Duration::from_secs(30),
        |v| v.to_string().contains("404"),
    )
    .await
    .unwrap_or_else(|| panic!("reload error never shown\n{}", tocsin.log_tail(20)));
    assert!(status.to_string().contains(&rules_url), "{status}");
    assert_eq!(group_names(&base).await, ["added", "fetched"]);
    let metrics = Probe::plain(&base).metrics().await;
    assert_eq!(
        counter(&metrics, "tocsin_config_last_reload_successful"),
        0.0
    );
    assert!(counter(&metrics, "tocsin_config_reload_errors_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_url_is_fetched_again_at_each_reload_and_a_failure_keeps_the_old_templates() {
    let served = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let define = |v: &str| {
        format!("{{{{ define \"where\" }}}}{v} on {{{{ .Labels.instance }}}}{{{{ end }}}}")
    };
    std::fs::write(served.path().join("t.tpl"), define("v1")).unwrap();
    let (_files, files) = static_server(served.path()).await;
    let rules = work.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let ds = datasource_answering(r#"{"__name__":"up","instance":"db1"}"#, "0").await;
    // Credentials in the URL: sent (the server ignores them), never shown.
    let with_creds = files.replace("http://", "http://u:pw-secret@");
    let args = vec![
        format!("-rule={}", rules.display()),
        format!("-rule.templates={with_creds}/t.tpl"),
        format!("-datasource.url={ds}"),
        "-notifier.blackhole".into(),
    ];
    let (tocsin, base) = start_tocsin(&args, work.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    summary_becomes(&base, "v1 on db1", &tocsin).await;

    // Changed on the server: the reload fetches it again, the rules render with it.
    std::fs::write(served.path().join("t.tpl"), define("v2")).unwrap();
    let (code, body) = post_reload(&base).await;
    assert_eq!(code, 200, "{body}");
    summary_becomes(&base, "v2 on db1", &tocsin).await;

    // 404, then an HTML page: each reload fails naming the URL (credentials masked),
    // and the rules keep rendering with the templates fetched before.
    let shown = format!("{}/t.tpl", files.trim_start_matches("http://"));
    std::fs::remove_file(served.path().join("t.tpl")).unwrap();
    let (code, body) = post_reload(&base).await;
    assert!(
        code >= 400 && body.contains(&shown) && body.contains("404"),
        "{code}: {body}"
    );
    assert!(!body.contains("pw-secret"), "{body}");
    std::fs::write(served.path().join("t.tpl"), PAGE).unwrap();
    let (code, body) = post_reload(&base).await;
    assert!(
        code >= 400 && body.contains(&shown) && body.contains("HTML"),
        "{code}: {body}"
    );
    let metrics = Probe::plain(&base).metrics().await;
    assert_eq!(
        counter(&metrics, "tocsin_config_last_reload_successful"),
        0.0
    );
    assert!(counter(&metrics, "tocsin_config_reload_errors_total") >= 2.0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    summary_becomes(&base, "v2 on db1", &tocsin).await;
    let (_, status) = get_json(&format!("{base}/api/v1/status")).await;
    assert!(status.to_string().contains(&shown), "{status}");
    assert!(!status.to_string().contains("pw-secret"), "{status}");
    let log = std::fs::read_to_string(&tocsin.log).unwrap();
    assert!(log.contains(&shown) && !log.contains("pw-secret"), "{log}");

    // Served again: the next reload succeeds.
    std::fs::write(served.path().join("t.tpl"), define("v3")).unwrap();
    let (code, body) = post_reload(&base).await;
    assert_eq!(code, 200, "{body}");
    summary_becomes(&base, "v3 on db1", &tocsin).await;
}
