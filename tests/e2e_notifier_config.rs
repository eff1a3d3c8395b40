//! `-notifier.config` end to end: the tocsin binary, real Alertmanagers (0.33, Debian
//! sid), one found through `static_configs`, one through a DNS SRV record served by the
//! loopback DNS server (`-dns.server`) and one through a Consul catalog (an in-process
//! stand-in); alerts arrive relabelled, targets follow the
//! zone, a broken file at reload keeps the old targets, and the basic-auth password of
//! the config shows nowhere.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::dns::{Answer, DnsServer, Record};
use support::fake_http::fake_consul;
use support::http::{alerts_named, get_json, poll_alertmanager, poll_json};
use support::peers::{peer_or_skip, sid_peer_or_skip};
use support::servers::{start_alertmanager, start_plain_prometheus, start_tocsin};

/// `(kind, address)` of every target `/api/v1/notifiers` lists.
fn targets(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in v["data"]["notifiers"].as_array().into_iter().flatten() {
        for t in n["targets"].as_array().into_iter().flatten() {
            out.push((
                n["kind"].as_str().unwrap_or("").to_string(),
                t["address"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

async fn text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

fn label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_dns_srv_and_consul_alertmanagers_receive_relabelled_alerts() {
    let (Some(prom), Some(am_bin)) = (
        peer_or_skip("prometheus"),
        sid_peer_or_skip("prometheus-alertmanager"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2, d3) = (
        dir.path().join("am1"),
        dir.path().join("am2"),
        dir.path().join("am3"),
    );
    for d in [&d1, &d2, &d3] {
        std::fs::create_dir_all(d).unwrap();
    }
    let (_p, prom_url) = start_plain_prometheus(&prom, dir.path()).await.unwrap();
    let (_a1, am1) = start_alertmanager(&am_bin, &d1).await.unwrap();
    let (_a2, am2) = start_alertmanager(&am_bin, &d2).await.unwrap();
    let (_a3, am3) = start_alertmanager(&am_bin, &d3).await.unwrap();
    let port = |u: &str| u.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let consul = fake_consul(port(&am3)).await.url;

    let dns = DnsServer::start().await;
    let srv = Answer::Records(vec![Record::Srv {
        port: port(&am2),
        target: "localhost.".into(),
    }]);
    dns.set("_alertmanager._tcp.tocsin.test", srv);

    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n        labels: { internal_note: drop-me }\n",
    )
    .unwrap();
    let config = dir.path().join("notifier.yml");
    let good = format!(
        r#"
basic_auth: {{ username: tocsin, password: Am-pa55 }}
static_configs:
  - targets: [{am1}]
    alert_relabel_configs:
      - {{ target_label: route, replacement: static }}
dns_sd_configs:
  - names: [_alertmanager._tcp.tocsin.test]
    alert_relabel_configs:
      - {{ target_label: route, replacement: dns }}
consul_sd_configs:
  - server: {consul}
    services: [alertmanager]
    alert_relabel_configs:
      - {{ target_label: route, replacement: consul }}
alert_relabel_configs:
  - {{ action: labeldrop, regex: internal_.* }}
"#,
        am1 = am1.trim_start_matches("http://"),
        consul = consul.trim_start_matches("http://"),
    );
    std::fs::write(&config, &good).unwrap();

    let (t, url) = start_tocsin(
        &[
            format!("-rule={}", rules.display()),
            format!("-datasource.url={prom_url}"),
            format!("-notifier.config={}", config.display()),
            format!("-dns.server={}", dns.addr),
            "-promscrape.dnsSDCheckInterval=1s".into(),
            "-promscrape.consulSDCheckInterval=1s".into(),
            "-rule.resendDelay=1s".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();

    let (_, v) = get_json(&format!("{url}/api/v1/notifiers")).await;
    let mut want = vec![
        (
            "DNSSD".to_string(),
            format!("http://localhost:{}/api/v2/alerts", port(&am2)),
        ),
        ("static".to_string(), format!("{am1}/api/v2/alerts")),
        (
            "consulSD".to_string(),
            format!("http://127.0.0.1:{}/api/v2/alerts", port(&am3)),
        ),
    ];
    want.sort();
    let mut got = targets(&v);
    got.sort();
    assert_eq!(got, want, "{v}");

    for (am, route) in [(&am1, "static"), (&am2, "dns"), (&am3, "consul")] {
        let alerts = poll_alertmanager(am, Duration::from_secs(30), |a| {
            !alerts_named(a, "Always").is_empty()
        })
        .await
        .unwrap_or_else(|| panic!("{am} never got Always\n{}", t.log_tail(30)));
        let a = alerts_named(&alerts, "Always")[0];
        assert_eq!(label(a, "route"), route, "{a}");
        assert_eq!(
            label(a, "internal_note"),
            "",
            "dropped by the file's alert_relabel_configs: {a}"
        );
    }

    // A broken file at reload: an error naming file:line:col, the old targets stay.
    std::fs::write(&config, format!("{good}\nbogus_key: 1\n")).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{url}/-/reload"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_ne!(status, 200, "{body}");
    assert!(
        body.contains(&format!("{}:", config.display())) && body.contains("bogus_key"),
        "{body}"
    );
    let (_, v) = get_json(&format!("{url}/api/v1/notifiers")).await;
    assert_eq!(targets(&v).len(), 3, "{v}");

    // The SRV record goes: so does the DNS target, at the next refresh.
    std::fs::write(&config, &good).unwrap();
    dns.remove("_alertmanager._tcp.tocsin.test");
    let gone = poll_json(
        &format!("{url}/api/v1/notifiers"),
        Duration::from_secs(15),
        |v| targets(v).iter().all(|(k, _)| k != "DNSSD"),
    )
    .await;
    assert!(gone.is_some(), "{}", t.log_tail(30));

    // The config's password never shows.
    let (_, api) = get_json(&format!("{url}/api/v1/notifiers")).await;
    let metrics = text(&format!("{url}/metrics")).await;
    let log = t.log_tail(10_000);
    for (what, text) in [
        ("API", api.to_string()),
        ("/metrics", metrics),
        ("log", log),
    ] {
        assert!(!text.contains("Am-pa55"), "password in the {what}:\n{text}");
    }
}

/// Runs the tocsin binary with `args` until it exits (it must, at start-up); its exit
/// code and stderr.
fn run_to_exit(args: &[String]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .arg("-httpListenAddr=127.0.0.1:0")
        .output()
        .expect("run tocsin");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn start_up_refuses_a_broken_config_and_conflicting_flags() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    let config = dir.path().join("notifier.yml");
    std::fs::write(
        &config,
        "static_configs:\n  - targets: [a:1]\n    basic_auth: {username: u, password: S3cr3t-pw}\n    tagets: [b:1]\n",
    )
    .unwrap();
    let base = vec![
        format!("-rule={}", rules.display()),
        "-datasource.url=http://127.0.0.1:1".to_string(),
    ];
    let with = |extra: &[&str]| {
        let mut a = base.clone();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let flag = format!("-notifier.config={}", config.display());
    let (code, err) = run_to_exit(&with(&[&flag]));
    assert_ne!(code, Some(0), "{err}");
    let at = format!("{}:4:", config.display());
    assert!(err.contains(&at) && err.contains("tagets"), "{err}");
    assert!(!err.contains("S3cr3t-pw"), "{err}");

    let (code, err) = run_to_exit(&with(&[&flag, "-notifier.url=http://127.0.0.1:9093"]));
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("-notifier.url, -notifier.config and -notifier.blackhole exclude each other"),
        "{err}"
    );
    let (code, err) = run_to_exit(&with(&[
        "-notifier.blackhole",
        "-notifier.url=http://127.0.0.1:9093",
    ]));
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("exclude each other"), "{err}");
}

/// vmalert ignores the `-notifier.*` client flags beside `-notifier.config`; tocsin
/// refuses them, whether given on the command line or in the environment, naming the
/// config key each belongs in and never the value.
#[test]
fn start_up_refuses_notifier_auth_flags_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    let config = dir.path().join("notifier.yml");
    std::fs::write(&config, "static_configs:\n  - targets: [127.0.0.1:1]\n").unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            format!("-rule={}", rules.display()),
            "-datasource.url=http://127.0.0.1:1".to_string(),
            format!("-notifier.config={}", config.display()),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    for (flag, key) in [
        ("-notifier.basicAuth.username=am", "basic_auth.username"),
        (
            "-notifier.basicAuth.password=Fl4g-pw",
            "basic_auth.password",
        ),
        ("-notifier.bearerToken=Fl4g-pw", "bearer_token"),
        ("-notifier.bearerTokenFile=/run/t", "bearer_token_file"),
        (
            "-notifier.oauth2.clientSecret=Fl4g-pw",
            "oauth2.client_secret",
        ),
        ("-notifier.oauth2.tokenUrl=http://x/t", "oauth2.token_url"),
        ("-notifier.tlsCAFile=/run/ca.pem", "tls_config.ca_file"),
        (
            "-notifier.tlsInsecureSkipVerify",
            "tls_config.insecure_skip_verify",
        ),
        ("-notifier.headers=X-Key: Fl4g-pw", "headers"),
    ] {
        let (code, err) = run_to_exit(&args(&[flag]));
        assert_ne!(code, Some(0), "{flag}: {err}");
        let name = flag.split('=').next().unwrap();
        assert!(
            err.contains(&format!("{name} configures -notifier.url only"))
                && err.contains("with -notifier.config")
                && err.contains(key),
            "{flag}: {err}"
        );
        assert!(!err.contains("Fl4g-pw"), "{flag}: {err}");
    }
    // From the environment, several at once.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args(&["-envflag.enable", "-httpListenAddr=127.0.0.1:0"]))
        .env("notifier_basicAuth_password", "Env-pw-55")
        .env("notifier_tlsCertFile", "/run/c.pem")
        .output()
        .expect("run tocsin");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("-notifier.basicAuth.password, -notifier.tlsCertFile configure")
            && err.contains("basic_auth.password, tls_config.cert_file"),
        "{err}"
    );
    assert!(!err.contains("Env-pw-55"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blackhole_counts_alerts_as_sent_and_sends_nothing() {
    let Some(prom) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_p, prom_url) = start_plain_prometheus(&prom, dir.path()).await.unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let (t, url) = start_tocsin(
        &[
            format!("-rule={}", rules.display()),
            format!("-datasource.url={prom_url}"),
            "-notifier.blackhole".into(),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();
    let v = poll_json(
        &format!("{url}/api/v1/notifiers"),
        Duration::from_secs(15),
        |v| {
            v["data"]["notifiers"][0]["targets"][0]["sent"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await
    .unwrap_or_else(|| panic!("nothing counted as sent\n{}", t.log_tail(30)));
    assert_eq!(v["data"]["notifiers"][0]["kind"], "blackhole", "{v}");
    let metrics = text(&format!("{url}/metrics")).await;
    assert!(
        metrics.contains(r#"tocsin_notifier_alerts_sent_total{addr="blackhole"}"#),
        "{metrics}"
    );
}

/// A new notifier config whose first discovery round hangs (a Consul that accepts and
/// never answers, with a long timeout) does not hold back the rule files reloaded with
/// it; the old targets keep receiving alerts meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_discovery_round_does_not_hold_back_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let group = |name: &str| {
        format!(
            "groups:\n  - name: {name}\n    rules:\n      - alert: A\n        expr: vector(1)\n"
        )
    };
    std::fs::write(dir.path().join("a.yml"), group("first")).unwrap();
    // Not matched by the rules' *.yml.
    let config = dir.path().join("notifier.yaml");
    std::fs::write(&config, "static_configs:\n  - targets: [127.0.0.1:1]\n").unwrap();
    let (t, url) = start_tocsin(
        &[
            format!("-rule={}/*.yml", dir.path().display()),
            "-datasource.url=http://127.0.0.1:1".into(),
            format!("-notifier.config={}", config.display()),
        ],
        dir.path(),
        "tocsin",
    )
    .await
    .unwrap();

    // Accepts connections and never answers.
    let consul = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let consul_addr = consul.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = consul.accept().await {
            open.push(s);
        }
    });
    std::fs::write(
        &config,
        format!(
            "timeout: 10m\nstatic_configs:\n  - targets: [127.0.0.1:1]\nconsul_sd_configs:\n  - server: {consul_addr}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yml"), group("second")).unwrap();
    let pid = t.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();

    let names = |v: &Value| -> Vec<String> {
        (v["data"]["groups"].as_array().into_iter().flatten())
            .map(|g| g["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    // Far less than the config's 10 minutes; generous for a loaded machine.
    let v = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(120),
        |v| names(v).contains(&"second".to_string()),
    )
    .await
    .unwrap_or_else(|| panic!("the new rules waited for discovery\n{}", t.log_tail(30)));
    assert!(names(&v).contains(&"first".to_string()), "{v}");
    let (_, n) = get_json(&format!("{url}/api/v1/notifiers")).await;
    assert_eq!(
        targets(&n),
        [(
            "static".to_string(),
            "http://127.0.0.1:1/api/v2/alerts".to_string()
        )],
        "{n}"
    );
    held.abort();
}
