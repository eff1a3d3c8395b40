//! `-rule.templates` is read again at each reload, as vmalert 1.145 reads it: through
//! the binary, side by side with a live vmalert 1.145 on the same files. A changed
//! definition reaches the next evaluations after SIGHUP; a file that no longer parses
//! fails the reload (metrics, `/-/reload`, `/api/v1/status` name the file) and both keep
//! rendering with the old definitions; tocsin's file watcher also sees the template
//! directory. URLs: see `tests/rule_sources_url.rs`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::fake_http::datasource_answering;
use support::http::{get_json, post_reload as reload, summary_becomes};
use support::peers::{ChildGuard, sid_peer_or_skip};
use support::secrets::{Probe, counter};
use support::servers::{start_tocsin, start_vmalert};

const RULES: &str = "groups:
- name: g
  interval: 1s
  rules:
  - alert: Down
    expr: up == 0
    annotations:
      summary: '{{ template \"where\" . }}'
";

fn definition(version: &str) -> String {
    format!("{{{{ define \"where\" }}}}{version} on {{{{ .Labels.instance }}}}{{{{ end }}}}")
}

/// Does not parse: `}` alone ends no action.
const BROKEN: &str = "{{ define \"where\" }}v3 on {{ .Labels.instance }{{ end }}";

/// The alert's summary after at least two more evaluations (1s interval) of `base`.
async fn summary_later(base: &str) -> String {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, v) = get_json(&format!("{base}/api/v1/alerts")).await;
    let summary = &v["data"]["alerts"][0]["annotations"]["summary"];
    summary.as_str().unwrap_or_default().to_string()
}

fn sighup(guard: &ChildGuard) {
    let pid = guard.child.id().to_string();
    let ok = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(ok.success(), "kill -HUP {pid}");
}

/// Waits until `metric` (a gauge of the last reload's outcome) reads `want`.
async fn reload_outcome(base: &str, metric: &str, want: f64, log: &ChildGuard) {
    let probe = Probe::plain(base);
    for _ in 0..300 {
        if counter(&probe.metrics().await, metric) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{metric} never became {want}\n{}", log.log_tail(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reads_the_templates_again_and_a_broken_file_keeps_the_old_as_vmalert_145() {
    let Some(vmalert_bin) = sid_peer_or_skip("vmalert") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    // In a directory of their own, so that the watcher has to watch it for them.
    std::fs::create_dir(dir.path().join("tpl")).unwrap();
    let tpl = dir.path().join("tpl/where.tpl");
    std::fs::write(&tpl, definition("v1")).unwrap();
    let ds = datasource_answering(r#"{"__name__":"up","instance":"db1"}"#, "0").await;
    let args = vec![
        format!("-rule={}", rules.display()),
        format!("-rule.templates={}", tpl.display()),
        format!("-datasource.url={ds}"),
        "-notifier.blackhole".to_string(),
    ];
    let (tocsin, ours) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (vmalert, theirs) = start_vmalert(&vmalert_bin, &args, dir.path()).await;
    let both = [(&tocsin, ours.as_str()), (&vmalert, theirs.as_str())];
    for (log, base) in both {
        summary_becomes(base, "v1 on db1", log).await;
    }

    // A changed definition: SIGHUP, and the next evaluations render with it.
    std::fs::write(&tpl, definition("v2")).unwrap();
    for (log, base) in both {
        sighup(log);
        summary_becomes(base, "v2 on db1", log).await;
    }
    reload_outcome(&ours, "tocsin_config_last_reload_successful", 1.0, &tocsin).await;
    let errors_before = counter(
        &Probe::plain(&ours).metrics().await,
        "tocsin_config_reload_errors_total",
    );

    // A file that no longer parses: the reload fails, the old definitions stay.
    std::fs::write(&tpl, BROKEN).unwrap();
    sighup(&tocsin);
    sighup(&vmalert);
    reload_outcome(&ours, "tocsin_config_last_reload_successful", 0.0, &tocsin).await;
    reload_outcome(
        &theirs,
        "vmalert_config_last_reload_successful",
        0.0,
        &vmalert,
    )
    .await;
    assert_eq!(summary_later(&ours).await, "v2 on db1");
    assert_eq!(summary_later(&theirs).await, "v2 on db1");
    let metrics = Probe::plain(&ours).metrics().await;
    assert!(
        counter(&metrics, "tocsin_config_reload_errors_total") > errors_before,
        "{metrics}"
    );
    // The error names the flag, the file and the place in it.
    let shown = format!("{}:1:", tpl.display());
    let (_, status) = get_json(&format!("{ours}/api/v1/status")).await;
    assert!(
        status.to_string().contains(&shown) && status.to_string().contains("-rule.templates"),
        "{status}"
    );
    let (code, body) = reload(&ours).await;
    assert!(code >= 400 && body.contains(&shown), "{code}: {body}");
    assert!(
        std::fs::read_to_string(&tocsin.log)
            .unwrap()
            .contains(&shown),
        "{}",
        tocsin.log_tail(20)
    );

    // Fixed: /-/reload brings the new definition.
    std::fs::write(&tpl, definition("v3")).unwrap();
    let (code, body) = reload(&ours).await;
    assert_eq!(code, 200, "{body}");
    summary_becomes(&ours, "v3 on db1", &tocsin).await;
    reload_outcome(&ours, "tocsin_config_last_reload_successful", 1.0, &tocsin).await;

    // tocsin's file watcher sees the template directory: no signal needed.
    std::fs::write(&tpl, definition("v4")).unwrap();
    summary_becomes(&ours, "v4 on db1", &tocsin).await;
}

#[test]
fn dry_run_reads_the_templates_and_fails_on_a_broken_file_as_vmalert_145() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let tpl = dir.path().join("where.tpl");
    let run = |bin: &str| {
        Command::new(bin)
            .arg(format!("-rule={}", rules.display()))
            .arg(format!("-rule.templates={}", tpl.display()))
            .arg("-dryRun")
            .output()
            .unwrap()
    };
    let ours = env!("CARGO_BIN_EXE_tocsin");
    std::fs::write(&tpl, definition("v1")).unwrap();
    let out = run(ours);
    assert!(out.status.success(), "{out:?}");
    std::fs::write(&tpl, BROKEN).unwrap();
    let out = run(ours);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("{}:1:", tpl.display())),
        "{err}"
    );
    if let Some(vmalert) = sid_peer_or_skip("vmalert") {
        let out = run(&vmalert.display().to_string());
        assert!(!out.status.success(), "vmalert accepted it: {out:?}");
    }
}
