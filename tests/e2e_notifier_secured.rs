//! The notifier's TLS and basic auth against a real Alertmanager (0.33, Debian sid)
//! that enforces them with its own `--web.config.file`: one requiring a client
//! certificate and basic auth, reached through `-notifier.config`'s `tls_config` and
//! `basic_auth`; one serving TLS (a certificate for a name, not for the address tocsin
//! connects to) with basic auth, reached through the `-notifier.tls*` flags
//! (`-notifier.tlsServerName` included) and `-notifier.basicAuth.*`. Alerts arrive only if tocsin verified the server and
//! passed its credentials; the passwords show nowhere tocsin prints.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::certs::Ca;
use support::http::{alerts_named, get_json, poll_json};
use support::peers::{ChildGuard, peer_or_skip, sid_peer_or_skip};
use support::servers::{
    AmWeb, QUIET_ALERTMANAGER, start_alertmanager_with, start_plain_prometheus, start_tocsin,
};
use tocsin::http::{ClientOptions, HttpClient, Origin, TlsOptions};

/// bcrypt (cost 4) of `CONFIG_PASSWORD`, made once with Python's `bcrypt.hashpw`:
/// Alertmanager's web config holds only hashes, and none of the project's dependencies
/// computes bcrypt. Alertmanager checks the password against it, so a wrong password is
/// refused (asserted below).
const CONFIG_PASSWORD: &str = "Am-c0nfig-pa55";
const CONFIG_HASH: &str = "$2b$04$Otd2fX44yyz7TnZSfrcQBuA2w7aFPmBg/uqPAiMlaO3js/YzImZBm";
/// The same for `FLAG_PASSWORD`.
const FLAG_PASSWORD: &str = "Am-fl4g-pa55";
const FLAG_HASH: &str = "$2b$04$RyQuhjK1YEA44JvQrHkGMOn4lBzKGZkjDK5WVE/PzBfj5GksYFruC";

const RULES: &str = "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n";

/// The rustls client the test itself uses to ask the Alertmanager, trusting `ca`, with
/// the client pair at `identity` (cert then key, PEM) when given.
fn client(ca: &Ca, identity: Option<String>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap());
    if let Some(pem) = identity {
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// Waits until the Alertmanager behind `web` holds an alert named `Always`.
async fn wait_for_always(web: &AmWeb, am: &str, t: &ChildGuard) {
    let start = std::time::Instant::now();
    loop {
        let r = web
            .get(&format!("{am}/api/v2/alerts"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        if !alerts_named(&v, "Always").is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the secured Alertmanager never got Always: {v}\n{}",
            t.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Asserts that `secret` is nowhere in tocsin's notifier API, `/metrics`, `/flags` or log.
async fn assert_hidden(url: &str, t: &ChildGuard, secret: &str) {
    let (_, api) = get_json(&format!("{url}/api/v1/notifiers")).await;
    let get = |p: &str| {
        let u = format!("{url}{p}");
        async move { reqwest::get(u).await.unwrap().text().await.unwrap() }
    };
    for (what, text) in [
        ("API", api.to_string()),
        ("/metrics", get("/metrics").await),
        ("/flags", get("/flags").await),
        ("log", t.log_tail(10_000)),
    ] {
        assert!(
            !text.contains(secret),
            "the password in the {what}:\n{text}"
        );
    }
}

/// Starts Prometheus (the datasource) and returns it with the rule file written in `dir`.
async fn datasource(prom: &Path, dir: &Path) -> (ChildGuard, String, String) {
    let (p, url) = start_plain_prometheus(prom, dir).await.unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    (p, url, format!("-rule={}", rules.display()))
}

/// The peers, a scratch directory (the Alertmanager's in `am/`) and a test CA.
struct Setup {
    prom: PathBuf,
    am_bin: PathBuf,
    dir: tempfile::TempDir,
    am_dir: PathBuf,
    ca: Ca,
    ca_file: PathBuf,
}

fn setup() -> Option<Setup> {
    let prom = peer_or_skip("prometheus")?;
    let am_bin = sid_peer_or_skip("prometheus-alertmanager")?;
    let dir = tempfile::tempdir().unwrap();
    let am_dir = dir.path().join("am");
    std::fs::create_dir_all(&am_dir).unwrap();
    let ca = Ca::new();
    let ca_file = ca.write(dir.path());
    Some(Setup {
        prom,
        am_bin,
        dir,
        am_dir,
        ca,
        ca_file,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifier_config_tls_client_cert_and_basic_auth_pass_a_real_alertmanager() {
    let Some(Setup {
        prom,
        am_bin,
        dir,
        am_dir,
        ca,
        ca_file,
    }) = setup()
    else {
        return;
    };
    let (server_crt, server_key) = ca.leaf("alertmanager").write(&am_dir);
    let tocsin_pair = ca.leaf("tocsin");
    std::fs::write(dir.path().join("client.crt"), &tocsin_pair.cert_pem).unwrap();
    std::fs::write(dir.path().join("client.key"), &tocsin_pair.key_pem).unwrap();
    let web = AmWeb {
        config_yaml: format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  tocsin: {CONFIG_HASH}\n",
            server_crt.display(),
            server_key.display(),
            ca_file.display()
        ),
        client: client(
            &ca,
            Some(format!("{}{}", tocsin_pair.cert_pem, tocsin_pair.key_pem)),
        ),
        basic_auth: Some(("tocsin".into(), CONFIG_PASSWORD.into())),
    };
    let (_a, am) = start_alertmanager_with(&am_bin, &am_dir, QUIET_ALERTMANAGER, Some(&web))
        .await
        .unwrap();
    // The Alertmanager enforces both: a wrong password, and no client certificate.
    let wrong = web.client.get(format!("{am}/api/v2/alerts"));
    let r = wrong
        .basic_auth("tocsin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let no_cert = client(&ca, None).get(format!("{am}/api/v2/alerts"));
    let r = no_cert
        .basic_auth("tocsin", Some(CONFIG_PASSWORD))
        .send()
        .await;
    assert!(r.is_err(), "served without a client certificate: {r:?}");

    let (_p, prom_url, rule_flag) = datasource(&prom, dir.path()).await;
    std::fs::write(dir.path().join("am.pass"), format!("{CONFIG_PASSWORD}\n")).unwrap();
    let config = dir.path().join("notifier.yml");
    // Relative paths: from the config file's directory.
    std::fs::write(
        &config,
        format!(
            "scheme: https\ntls_config: {{ ca_file: ca.pem, cert_file: client.crt, key_file: client.key }}\nbasic_auth: {{ username: tocsin, password_file: am.pass }}\nstatic_configs:\n  - targets: [{}]\n",
            am.trim_start_matches("https://")
        ),
    )
    .unwrap();
    let (t, url) = start_tocsin(
        &[
            rule_flag,
            format!("-datasource.url={prom_url}"),
            format!("-notifier.config={}", config.display()),
            "-rule.resendDelay=1s".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();
    wait_for_always(&web, &am, &t).await;
    let n = poll_json(
        &format!("{url}/api/v1/notifiers"),
        Duration::from_secs(30),
        |v| v["data"]["notifiers"][0]["targets"][0]["sent"].as_u64() > Some(0),
    )
    .await
    .unwrap_or_else(|| panic!("no alert counted as sent\n{}", t.log_tail(30)));
    assert_eq!(
        n["data"]["notifiers"][0]["targets"][0]["address"],
        format!("{am}/api/v2/alerts"),
        "{n}"
    );
    assert_hidden(&url, &t, CONFIG_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifier_flags_tls_server_name_and_basic_auth_pass_a_real_alertmanager() {
    let Some(Setup {
        prom,
        am_bin,
        dir,
        am_dir,
        ca,
        ca_file,
    }) = setup()
    else {
        return;
    };
    // Valid for a name only, not for the 127.0.0.1 tocsin connects to: only
    // -notifier.tlsServerName makes it acceptable.
    let (crt, key) = ca
        .leaf_for("alertmanager", &["alertmanager.test"])
        .write(&am_dir);
    let web = AmWeb {
        config_yaml: format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  tocsin: {FLAG_HASH}\n",
            crt.display(),
            key.display()
        ),
        // The test's own client checks the chain, not the name.
        client: reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
            .danger_accept_invalid_hostnames(true)
            .build()
            .unwrap(),
        basic_auth: Some(("tocsin".into(), FLAG_PASSWORD.into())),
    };
    let (_a, am) = start_alertmanager_with(&am_bin, &am_dir, QUIET_ALERTMANAGER, Some(&web))
        .await
        .unwrap();
    let r = web.client.get(format!("{am}/api/v2/alerts")).send().await;
    assert_eq!(r.unwrap().status().as_u16(), 401, "no credentials");
    // tocsin's client refuses the name mismatch unless told the name.
    for (server_name, handshake) in [(None, false), (Some("alertmanager.test"), true)] {
        let o = ClientOptions {
            tls: TlsOptions {
                ca_file: Some(ca_file.clone()),
                server_name: server_name.map(String::from),
                ..TlsOptions::default()
            },
            ..ClientOptions::default()
        };
        let c = HttpClient::new(&Origin::flags("notifier"), &o, Duration::from_secs(10)).unwrap();
        let sent = c.get(&format!("{am}/-/ready")).await.unwrap().send().await;
        assert_eq!(sent.is_ok(), handshake, "{server_name:?}: {sent:?}");
    }

    let (_p, prom_url, rule_flag) = datasource(&prom, dir.path()).await;
    let (t, url) = start_tocsin(
        &[
            rule_flag,
            format!("-datasource.url={prom_url}"),
            format!("-notifier.url={am}"),
            format!("-notifier.tlsCAFile={}", ca_file.display()),
            "-notifier.tlsServerName=alertmanager.test".into(),
            "-notifier.basicAuth.username=tocsin".into(),
            format!("-notifier.basicAuth.password={FLAG_PASSWORD}"),
            "-rule.resendDelay=1s".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();
    wait_for_always(&web, &am, &t).await;
    assert_hidden(&url, &t, FLAG_PASSWORD).await;
}
