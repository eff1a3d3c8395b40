//! `-external.alert.source` against a live vmalert 1.145: both evaluate one rule over
//! one datasource and notify one real Alertmanager 0.33 with the same template; the
//! `generatorURL` Alertmanager holds, and the `source` of each one's
//! `/api/v1/alerts`, are the same link.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::fake_http::datasource_answering;
use support::http::{get_json, poll_alertmanager};
use support::peers::{free_port, sid_peer_or_skip};
use support::servers::{start_alertmanager, start_tocsin, start_vmalert};

const RULES: &str = "groups:
- name: links
  interval: 1s
  rules:
  - alert: InstanceDown
    expr: up == 0
";

/// Grafana's explore link from vmalert's `-help`, plus the alert's labels and value.
const SOURCE: &str = r#"explore?orgId=1&left={"datasource":"VictoriaMetrics","queries":[{"expr":{{.Expr|jsonEscape|queryEscape}},"refId":"A"}],"range":{"from":"now-1h","to":"now"}}&instance={{ $labels.instance | queryEscape }}&v={{ $value }}"#;

const EXTERNAL_URL: &str = "http://grafana.example:3000";

/// A datasource answering every query with `up{instance="db 1",job="node"} 0`.
async fn datasource() -> String {
    datasource_answering(r#"{"__name__":"up","instance":"db 1","job":"node"}"#, "0").await
}

/// The `generatorURL` Alertmanager holds for the alert labelled `from=<from>`.
fn generator_url(alerts: &Value, from: &str) -> Option<String> {
    (alerts.as_array()?.iter())
        .find(|a| a["labels"]["from"] == from)
        .and_then(|a| a["generatorURL"].as_str())
        .map(str::to_string)
}

/// The `source` of the first alert of an `/api/v1/alerts` answer.
async fn api_source(base: &str) -> String {
    let (_, v) = get_json(&format!("{base}/api/v1/alerts")).await;
    v["data"]["alerts"][0]["source"]
        .as_str()
        .unwrap_or_else(|| panic!("no alert source in {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_gets_the_same_generator_url_from_tocsin_and_vmalert_145() {
    let (Some(vmalert_bin), Some(am_bin)) = (
        sid_peer_or_skip("vmalert"),
        sid_peer_or_skip("prometheus-alertmanager"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let ds = datasource().await;
    let (_am, am) = start_alertmanager(&am_bin, dir.path())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let common = |from: &str| -> Vec<String> {
        vec![
            format!("-rule={}", rules.display()),
            format!("-datasource.url={ds}"),
            format!("-notifier.url={am}"),
            format!("-external.url={EXTERNAL_URL}"),
            format!("-external.alert.source={SOURCE}"),
            format!("-external.label=from={from}"),
        ]
    };
    let (tocsin, ours) = start_tocsin(&common("tocsin"), dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_vmalert, theirs) = start_vmalert(&vmalert_bin, &common("vmalert"), dir.path()).await;

    let both =
        |a: &Value| generator_url(a, "tocsin").is_some() && generator_url(a, "vmalert").is_some();
    let alerts = poll_alertmanager(&am, Duration::from_secs(60), both)
        .await
        .unwrap_or_else(|| {
            panic!(
                "Alertmanager did not get both alerts\n{}",
                tocsin.log_tail(20)
            )
        });
    let from_tocsin = generator_url(&alerts, "tocsin").unwrap();
    let from_vmalert = generator_url(&alerts, "vmalert").unwrap();
    assert_eq!(from_tocsin, from_vmalert);
    // Not a link that would match by being empty or the default.
    assert!(
        from_tocsin.starts_with(&format!("{EXTERNAL_URL}/explore?orgId=1&left=")),
        "{from_tocsin}"
    );
    assert!(
        from_tocsin.contains("%22up+%3D%3D+0%22") && from_tocsin.ends_with("&instance=db+1&v=0"),
        "{from_tocsin}"
    );
    // The API's `source` is the same link, as in vmalert's.
    assert_eq!(api_source(&ours).await, from_tocsin);
    assert_eq!(api_source(&theirs).await, from_vmalert);
}

#[test]
fn a_template_that_does_not_parse_stops_start_up_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg(format!("-rule={}", rules.display()))
        .arg("-datasource.url=http://127.0.0.1:1")
        .arg("-external.alert.source=explore?q={{ .Expr | noSuchFunc }}")
        .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("-external.alert.source") && err.contains("noSuchFunc"),
        "{err}"
    );
}
