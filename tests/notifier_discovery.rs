//! `-notifier.config` in-process against fakes: a loopback DNS server
//! (`support::dns`), a Consul catalog stand-in and fake Alertmanagers. Targets appear and
//! disappear as discovery refreshes, a failing source keeps its last targets and is
//! counted, the first round's failure is an error naming the entry, alerts are
//! relabelled on their way, and per-group auth reaches the right Alertmanager without
//! its secret showing anywhere.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::dns::{Answer, DnsServer, Record};
use support::eventually;
use support::fake_http::{Seen, fake_consul, serve_fn};
use tocsin::dns::Resolver;
use tocsin::labels::Labels;
use tocsin::notifier::config;
use tocsin::notifier::discovery::{DiscoveryOptions, Pending, Watch};
use tocsin::notifier::{Kind, Notifier, NotifierMetrics, NotifierOptions, TargetStatus};
use tocsin::rule::{Annotations, Notification};
use tokio_util::sync::CancellationToken;

/// A fake Alertmanager keeping the bodies (and Authorization headers) it was sent.
struct FakeAm {
    port: u16,
    got: Arc<Mutex<Vec<(String, String)>>>,
}

async fn fake_am(status: u16) -> FakeAm {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let (url, _) = serve_fn(move |_, s: &Seen<'_>| {
        g.lock().unwrap().push((
            format!("{} {}", s.path, s.authorization),
            s.body.to_string(),
        ));
        Some((status, "application/json", String::new()))
    })
    .await;
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    FakeAm { port, got }
}

impl FakeAm {
    fn bodies(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
    fn requests(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }
}

fn alert(name: &str) -> Notification {
    Notification {
        labels: Labels::from_pairs([("alertname", name), ("secret_id", "x")]),
        annotations: Annotations::default(),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: 1_700_000_300_000,
        generator_url: "http://tocsin/".into(),
    }
}

fn opts(dns: &DnsServer) -> DiscoveryOptions {
    DiscoveryOptions {
        dns_interval: Duration::from_millis(100),
        consul_interval: Duration::from_millis(100),
        resolver: Resolver::with_server(dns.addr, Duration::from_millis(300)).unwrap(),
        quiet_duplicates: false,
    }
}

struct Running {
    notifier: Notifier,
    metrics: NotifierMetrics,
    _dir: tempfile::TempDir,
    _watch: Watch,
}

async fn prepare(
    yaml: &str,
    o: DiscoveryOptions,
) -> (
    Result<Pending, String>,
    Notifier,
    NotifierMetrics,
    tempfile::TempDir,
) {
    prepare_in(tempfile::tempdir().unwrap(), yaml, o).await
}

type Prepared = (
    Result<Pending, String>,
    Notifier,
    NotifierMetrics,
    tempfile::TempDir,
);

/// [`prepare`] with the config written into `dir` (relative paths in it are read there).
async fn prepare_in(dir: tempfile::TempDir, yaml: &str, o: DiscoveryOptions) -> Prepared {
    let path = dir.path().join("notifier.yml");
    std::fs::write(&path, yaml).unwrap();
    let metrics = NotifierMetrics::default();
    let notifier = Notifier::new(
        NotifierOptions::default(),
        metrics.clone(),
        CancellationToken::new(),
    );
    let cfg = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let pending = Watch::prepare(cfg, o, &notifier, &CancellationToken::new())
        .await
        .map_err(|e| e.to_string());
    (pending, notifier, metrics, dir)
}

async fn start(yaml: &str, o: DiscoveryOptions) -> Running {
    start_in(tempfile::tempdir().unwrap(), yaml, o).await
}

async fn start_in(dir: tempfile::TempDir, yaml: &str, o: DiscoveryOptions) -> Running {
    let (pending, notifier, metrics, dir) = prepare_in(dir, yaml, o).await;
    let watch = pending.unwrap_or_else(|e| panic!("{e}")).run();
    Running {
        notifier,
        metrics,
        _dir: dir,
        _watch: watch,
    }
}

fn urls(st: &[TargetStatus], kind: Kind) -> Vec<String> {
    st.iter()
        .filter(|t| t.kind == kind)
        .map(|t| t.url.clone())
        .collect()
}

fn metrics_text(m: &NotifierMetrics) -> String {
    let mut r = prometheus_client::registry::Registry::default();
    m.register(&mut r);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
    text
}

fn srv(port: u16) -> Record {
    Record::Srv {
        port,
        target: "127.0.0.1.".into(),
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_srv_targets_follow_the_zone_and_survive_an_outage() {
    let (am1, am2) = (fake_am(200).await, fake_am(200).await);
    let dns = DnsServer::start().await;
    dns.set(
        "_am._tcp.test",
        Answer::Records(vec![srv(am1.port), srv(am2.port)]),
    );
    let r = start(
        r#"
dns_sd_configs:
  - names: [_am._tcp.test]
    alert_relabel_configs:
      - target_label: found_by
        replacement: dns
relabel_configs:
  - source_labels: [__meta_dns_name]
    target_label: dns_name
alert_relabel_configs:
  - action: labeldrop
    regex: secret_.*
"#,
        opts(&dns),
    )
    .await;
    let st = r.notifier.status();
    let want = |p: u16| format!("http://127.0.0.1:{p}/api/v2/alerts");
    let mut expected = vec![want(am1.port), want(am2.port)];
    expected.sort();
    assert_eq!(urls(&st, Kind::Dns), expected);
    assert_eq!(st[0].labels.get("dns_name"), Some("_am._tcp.test"));
    assert_eq!(
        st[0].labels.get("__meta_dns_name"),
        None,
        "meta labels dropped"
    );

    // Alerts reach both, relabelled: the file's step, then the group's.
    r.notifier.send(&[alert("Up")], &[]);
    for am in [&am1, &am2] {
        assert!(eventually(WAIT, || !am.bodies().is_empty()).await);
        let body = &am.bodies()[0];
        assert!(body.contains(r#""found_by":"dns""#), "{body}");
        assert!(!body.contains("secret_id"), "{body}");
    }

    // One Alertmanager leaves the zone: its target goes at the next refresh.
    dns.set("_am._tcp.test", Answer::Records(vec![srv(am2.port)]));
    let n = &r.notifier;
    assert!(eventually(WAIT, || urls(&n.status(), Kind::Dns) == [want(am2.port)]).await);

    // The DNS server fails: the last targets stay, and the failure is counted.
    dns.set("_am._tcp.test", Answer::ServFail);
    let m = &r.metrics;
    let failed = eventually(WAIT, || {
        metrics_text(m).contains(r#"tocsin_notifier_discovery_errors_total{kind="DNSSD"}"#)
    })
    .await;
    assert!(failed, "{}", metrics_text(m));
    assert_eq!(urls(&n.status(), Kind::Dns), [want(am2.port)]);

    // The name is gone (NXDOMAIN): so are its targets.
    dns.remove("_am._tcp.test");
    assert!(
        eventually(WAIT, || n.status().is_empty()).await,
        "{:?}",
        n.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_with_a_port_and_path_prefix() {
    let am = fake_am(200).await;
    let dns = DnsServer::start().await;
    dns.set(
        "am.test",
        Answer::Records(vec![Record::Ip("127.0.0.1".parse::<IpAddr>().unwrap())]),
    );
    let yaml = format!(
        "path_prefix: /prefix\ndns_sd_configs:\n  - names: [am.test]\n    type: A\n    port: {}\n",
        am.port
    );
    let r = start(&yaml, opts(&dns)).await;
    r.notifier.send(&[alert("Up")], &[]);
    assert!(eventually(WAIT, || !am.requests().is_empty()).await);
    assert_eq!(am.requests()[0], "/prefix/api/v2/alerts ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_round_failing_is_an_error_naming_the_entry() {
    let dns = DnsServer::start().await;
    dns.set("_am._tcp.test", Answer::ServFail);
    let yaml = "dns_sd_configs:\n  - names: [_am._tcp.test]\n";
    let (pending, notifier, _, _dir) = prepare(yaml, opts(&dns)).await;
    let e = pending
        .err()
        .expect("a failing DNS server fails the first round");
    assert!(e.contains("notifier.yml: dns_sd_configs[0]:"), "{e}");
    assert!(e.contains("_am._tcp.test"), "{e}");
    assert!(notifier.status().is_empty());

    let yaml = "consul_sd_configs:\n  - server: 127.0.0.1:1\n    token: tok-s3cret\n";
    let (pending, _, _, _dir) = prepare(yaml, opts(&dns)).await;
    let e = pending.err().expect("Consul down fails the first round");
    assert!(
        e.contains(
            "consul_sd_configs[0]: cannot reach Consul at http://127.0.0.1:1/v1/catalog/services"
        ),
        "{e}"
    );
    assert!(!e.contains("tok-s3cret"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consul_targets_with_token_and_an_outage_that_keeps_them() {
    let am = fake_am(200).await;
    let dns = DnsServer::start().await;
    let consul = fake_consul(am.port).await;
    let yaml = format!(
        r#"
consul_sd_configs:
  - server: {}
    token: tok-s3cret
    services: [alertmanager]
relabel_configs:
  - source_labels: [__meta_consul_health]
    regex: passing
    action: keep
  - source_labels: [__meta_consul_dc]
    target_label: dc
"#,
        consul.url.trim_start_matches("http://")
    );
    let r = start(&yaml, opts(&dns)).await;
    let st = r.notifier.status();
    assert_eq!(
        urls(&st, Kind::Consul),
        [format!("http://127.0.0.1:{}/api/v2/alerts", am.port)]
    );
    assert_eq!(st[0].labels.get("dc"), Some("dc1"));
    let seen = consul.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(t, _)| t == "tok-s3cret"), "{seen:?}");

    consul.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let m = &r.metrics;
    let failed = eventually(WAIT, || {
        metrics_text(m).contains(r#"tocsin_notifier_discovery_errors_total{kind="consulSD"}"#)
    })
    .await;
    assert!(failed);
    assert_eq!(
        r.notifier.status().len(),
        1,
        "Consul down: the last targets stay"
    );
    r.notifier.send(&[alert("Up")], &[]);
    assert!(eventually(WAIT, || !am.bodies().is_empty()).await);
    assert!(!metrics_text(m).contains("tok-s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_groups_carry_their_own_auth_and_secrets_stay_hidden() {
    let (open, locked) = (fake_am(200).await, fake_am(401).await);
    let dns = DnsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "file-t0ken\n").unwrap();
    let yaml = format!(
        r#"
headers: ['X-Scope: team-a']
static_configs:
  - targets: [127.0.0.1:{open}]
    basic_auth:
      username: alice
      password: pa55-word
  - targets: [127.0.0.1:{locked}]
    bearer_token_file: token
"#,
        open = open.port,
        locked = locked.port,
    );
    let r = start_in(dir, &yaml, opts(&dns)).await;
    r.notifier.send(&[alert("Up")], &[]);
    assert!(
        eventually(WAIT, || !open.requests().is_empty()
            && !locked.requests().is_empty())
        .await
    );
    // base64("alice:pa55-word")
    assert_eq!(
        open.requests()[0],
        "/api/v2/alerts Basic YWxpY2U6cGE1NS13b3Jk"
    );
    assert_eq!(locked.requests()[0], "/api/v2/alerts Bearer file-t0ken");
    let n = &r.notifier;
    assert!(eventually(WAIT, || n.status().iter().any(|t| t.last_error.is_some())).await);
    let shown = format!("{:?}\n{}", n.status(), metrics_text(&r.metrics));
    for secret in ["pa55-word", "file-t0ken", "YWxpY2U6cGE1NS13b3Jk"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
}

/// A token endpoint answering `status` (a token when 200); keeps `authorization|body`
/// of every request.
async fn token_endpoint(status: u16, seen: Arc<Mutex<Vec<String>>>) -> String {
    let (url, _) = serve_fn(move |_, s: &Seen<'_>| {
        seen.lock()
            .unwrap()
            .push(format!("{}|{}", s.authorization, s.body));
        Some(match status {
            200 => (
                200,
                "application/json",
                r#"{"access_token":"0auth-t0ken","token_type":"Bearer","expires_in":3600}"#.into(),
            ),
            _ => (status, "text/html", "<html>sorry</html>".into()),
        })
    })
    .await;
    format!("{url}/oauth2/token")
}

/// The config's `oauth2` (client credentials; no real OAuth2 server is installable
/// from Debian, PyPI or crates.io, so the token endpoint is a loopback stand-in): one
/// token for many sends, the client's credentials and parameters on the token request,
/// and a token endpoint that fails sends nothing without auth and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_group_oauth2_fetches_one_token_and_fails_closed() {
    let am = fake_am(200).await;
    let dns = DnsServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let token_url = token_endpoint(200, seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.secret"), "cl1ent-s3cret\n").unwrap();
    let yaml = |url: &str| {
        format!(
            "oauth2:\n  client_id: tocsin\n  client_secret_file: client.secret\n  scopes: [alerts.write]\n  token_url: {url}\n  endpoint_params: {{ audience: am }}\nstatic_configs:\n  - targets: [127.0.0.1:{}]\n",
            am.port
        )
    };
    let r = start_in(dir, &yaml(&token_url), opts(&dns)).await;
    for i in 0..3 {
        r.notifier.send(&[alert(&format!("Up{i}"))], &[]);
        assert!(eventually(WAIT, || am.requests().len() > i).await);
    }
    assert!(
        am.requests()
            .iter()
            .all(|q| q == "/api/v2/alerts Bearer 0auth-t0ken"),
        "{:?}",
        am.requests()
    );
    let tokens = seen.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1, "one token for every send: {tokens:?}");
    // base64("tocsin:cl1ent-s3cret"), the client's credentials (RFC 6749 §2.3.1).
    let (auth, body) = tokens[0].split_once('|').unwrap();
    assert_eq!(auth, "Basic dG9jc2luOmNsMWVudC1zM2NyZXQ=");
    for want in [
        "grant_type=client_credentials",
        "scope=alerts.write",
        "audience=am",
    ] {
        assert!(body.contains(want), "{want} missing: {body}");
    }

    // A token endpoint answering HTML with 500: nothing reaches the Alertmanager.
    let am2 = fake_am(200).await;
    let failing = token_endpoint(500, Arc::new(Mutex::new(Vec::new()))).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.secret"), "cl1ent-s3cret\n").unwrap();
    let yaml2 = yaml(&failing).replace(&format!(":{}]", am.port), &format!(":{}]", am2.port));
    let r2 = start_in(dir, &yaml2, opts(&dns)).await;
    r2.notifier.send(&[alert("Up")], &[]);
    let n = &r2.notifier;
    assert!(eventually(WAIT, || n.status().iter().any(|t| t.last_error.is_some())).await);
    let err = n.status()[0].last_error.clone().unwrap();
    assert!(err.contains("token"), "{err}");
    assert!(am2.requests().is_empty(), "{:?}", am2.requests());
    let shown = format!("{:?}\n{}", n.status(), metrics_text(&r2.metrics));
    assert!(!shown.contains("cl1ent-s3cret"), "{shown}");
}

/// `consul_sd_configs[].proxy_url`: Consul asked through an HTTP proxy (the stand-in
/// answers the proxied requests itself; `consul.invalid` resolves nowhere, so only the
/// proxy can have answered). A proxy URL tocsin cannot use is an error naming the entry
/// and not the URL, which may carry a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consul_through_its_proxy_url() {
    let am = fake_am(200).await;
    let dns = DnsServer::start().await;
    let proxy = fake_consul(am.port).await;
    let yaml = format!(
        "consul_sd_configs:\n  - server: consul.invalid:8500\n    proxy_url: {}\n    services: [alertmanager]\n",
        proxy.url
    );
    let r = start(&yaml, opts(&dns)).await;
    assert_eq!(
        urls(&r.notifier.status(), Kind::Consul),
        [format!("http://127.0.0.1:{}/api/v2/alerts", am.port)]
    );
    assert!(!proxy.seen.lock().unwrap().is_empty());

    let yaml = "consul_sd_configs:\n  - server: consul.invalid:8500\n    proxy_url: socks5://u:Pr0xy-pw@p:1080\n";
    let (pending, _, _, _dir) = prepare(yaml, opts(&dns)).await;
    let e = pending.err().expect("a socks proxy is refused");
    assert!(
        e.contains("consul_sd_configs[0].proxy_url: only http and https proxies"),
        "{e}"
    );
    assert!(!e.contains("Pr0xy-pw"), "{e}");
}

/// A Consul answering garbage (HTML with 200, JSON of the wrong shape) fails the first
/// round with an error naming the entry and what came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consul_answering_garbage_is_an_error_naming_the_entry() {
    let dns = DnsServer::start().await;
    for (ctype, body, said) in [
        ("text/html", "<html>captive portal</html>", "captive portal"),
        (
            "application/json",
            r#"["not", "a", "map"]"#,
            "expected a map",
        ),
    ] {
        let (url, _) = serve_fn(move |_, _| Some((200, ctype, body.to_string()))).await;
        let yaml = format!(
            "consul_sd_configs:\n  - server: {}\n    token: tok-s3cret\n",
            url.trim_start_matches("http://")
        );
        let (pending, notifier, _, _dir) = prepare(&yaml, opts(&dns)).await;
        let e = pending.err().expect("garbage fails the first round");
        assert!(
            e.contains("notifier.yml: consul_sd_configs[0]: Consul's answer for")
                && e.contains("/v1/catalog/services is not what its API returns"),
            "{e}"
        );
        assert!(e.contains(said), "{e}");
        assert!(!e.contains("tok-s3cret"), "{e}");
        assert!(notifier.status().is_empty());
    }
}
