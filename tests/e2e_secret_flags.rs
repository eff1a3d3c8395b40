//! Every secret-carrying flag, each set to a value of its own, and none of the values
//! shows anywhere. tocsin's own parser says which flags are secret (names holding
//! `pass`, `key`, `secret` or `token`, and the clients' `-X.headers`); the runs below
//! must set every one of them, so a new secret flag fails this test until it is added
//! here.
//!
//! Six runs rotate each client (datasource, notifier, remote write, remote read)
//! through the six ways of giving it credentials (basic-auth password and password
//! file, bearer token and token file, OAuth2 client secret and secret file), with
//! secret headers, a client TLS pair and a token URL carrying an `authKey`; half of
//! the runs take their flags from the command line, half from the environment
//! (`-envflag.enable`). The peers answer 401 or 500, the token endpoints issue tokens
//! or answer HTML with 500; tocsin serves TLS with basic auth and every auth key.
//! When every client has failed, every answer of tocsin (the API, the UI, `/metrics`,
//! `/flags`, `/debug/pprof/`, refusals) and its whole log are searched for every
//! secret, and the peers must have received the credentials (nothing at all where the
//! token endpoint failed).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::CommandFactory;
use support::certs::{self, Ca};
use support::fake_http::{fake_consul, serve_fn};
use support::peers::{ChildGuard, free_port};
use support::secrets::{Probe, RULES, basic, counter, has_error, secret};
use tocsin::flag_sources::Secrets;

const CLIENTS: [(&str, &str); 4] = [
    ("datasource", "/ds"),
    ("notifier", "/am"),
    ("remoteWrite", "/rw"),
    ("remoteRead", "/rr"),
];

const METHODS: [&str; 6] = [
    "basicAuth.password",
    "basicAuth.passwordFile",
    "bearerToken",
    "bearerTokenFile",
    "oauth2.clientSecret",
    "oauth2.clientSecretFile",
];

const RUNS: usize = 6;

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"j"},"value":[1700000000,"1"]}]}}"#;

/// What a client's peer should have received.
enum Expect {
    /// This `Authorization` on every request.
    Authorization(String),
    /// Nothing: the token endpoint failed, and nothing goes out without credentials.
    Nothing,
}

/// One run: its flags, every secret in them, and what each client's peer should see.
struct Plan {
    flags: Vec<(String, String)>,
    secrets: Vec<String>,
    /// `(prefix, expected Authorization, header secret, token request Authorization)`.
    expect: Vec<(&'static str, Expect, String, Option<String>)>,
    from_env: bool,
}

/// Whether run `r`'s peers answer 401 (else 500) and its token endpoints issue tokens
/// (else answer HTML with 500; the datasource's always issues, so that rules evaluate).
fn unauthorized(r: usize) -> bool {
    (r / 2).is_multiple_of(2)
}

/// Where a run's clients send: the fake peers, the token they issue, the run's files.
struct Ctx<'a> {
    r: usize,
    fake: &'a str,
    access_token: &'a str,
    dir: &'a Path,
    ca: &'a Ca,
}

impl Plan {
    fn flag(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.flags.push((name.into(), value.into()));
    }

    /// A new secret named after `what`, remembered to search for.
    fn secret(&mut self, what: &str) -> String {
        let v = secret(what);
        self.secrets.push(v.clone());
        v
    }

    /// A TLS pair for `name` written into `dir`; the key's PEM is a secret.
    fn pair(&mut self, c: &Ctx<'_>, name: &str) -> (String, String) {
        let pair = c.ca.leaf(name);
        let (crt, key) = (
            c.dir.join(format!("{name}.crt")),
            c.dir.join(format!("{name}.key")),
        );
        std::fs::write(&crt, &pair.cert_pem).unwrap();
        std::fs::write(&key, &pair.key_pem).unwrap();
        self.secrets.push(key_line(&pair.key_pem));
        (crt.display().to_string(), key.display().to_string())
    }
}

/// Run `r`'s flags, against the fake peers at `fake`, with files written into `dir`.
fn plan(c: &Ctx<'_>) -> Plan {
    let mut p = Plan {
        flags: Vec::new(),
        secrets: vec![c.access_token.to_string()],
        expect: Vec::new(),
        from_env: !c.r.is_multiple_of(2),
    };
    for (i, (client, prefix)) in CLIENTS.iter().enumerate() {
        client_plan(
            &mut p,
            c,
            client,
            prefix,
            METHODS[(c.r + i) % METHODS.len()],
        );
    }
    for name in [
        "httpAuth.password",
        "metricsAuthKey",
        "flagsAuthKey",
        "pprofAuthKey",
        "reloadAuthKey",
    ] {
        let v = p.secret(name);
        p.flag(name, v);
    }
    // Pushes of tocsin's metrics, refused by the peer (logged with the URL redacted).
    let push_password = p.secret("pushmetricspassword");
    let with_creds = format!("://pusher:{push_password}@");
    p.flag(
        "pushmetrics.url",
        format!("{}/push", c.fake.replacen("://", &with_creds, 1)),
    );
    let push_header = p.secret("pushmetricsheader");
    p.flag("pushmetrics.header", format!("X-Push-Token: {push_header}"));
    p.flag("pushmetrics.interval", "1s");
    let (crt, key) = p.pair(c, "tocsin");
    p.flag("httpAuth.username", "admin");
    p.flag("tls", "true");
    p.flag("tlsCertFile", crt);
    p.flag("tlsKeyFile", key);
    p
}

/// One client's flags: credentials given by `method`, a secret header, a TLS pair.
fn client_plan(p: &mut Plan, c: &Ctx<'_>, client: &str, prefix: &'static str, method: &str) {
    let value = p.secret(&format!("{client}{}", method.replace('.', "")));
    let given = if method.ends_with("File") {
        let f = c.dir.join(format!("{client}.{method}"));
        std::fs::write(&f, format!("{value}\n")).unwrap();
        f.display().to_string()
    } else {
        value.clone()
    };
    p.flag(format!("{client}.url"), format!("{}{prefix}", c.fake));
    p.flag(format!("{client}.{method}"), given);
    let header = p.secret(&format!("{client}header"));
    p.flag(format!("{client}.headers"), format!("X-Api-Key: {header}"));
    let (crt, key) = p.pair(c, client);
    p.flag(format!("{client}.tlsCertFile"), crt);
    p.flag(format!("{client}.tlsKeyFile"), key);
    let (expect, token_auth) = if method.starts_with("basicAuth") {
        p.flag(format!("{client}.basicAuth.username"), "tocsin");
        (Expect::Authorization(basic("tocsin", &value)), None)
    } else if method.starts_with("bearerToken") {
        (Expect::Authorization(format!("Bearer {value}")), None)
    } else {
        let key = p.secret(&format!("{client}tokenurlkey"));
        let id = format!("tocsin-{client}");
        p.flag(
            format!("{client}.oauth2.tokenUrl"),
            format!("{}/token{prefix}?authKey={key}", c.fake),
        );
        p.flag(format!("{client}.oauth2.clientID"), id.clone());
        let e = if unauthorized(c.r) || client == "datasource" {
            Expect::Authorization(format!("Bearer {}", c.access_token))
        } else {
            Expect::Nothing
        };
        (e, Some(basic(&id, &value)))
    };
    p.expect.push((prefix, expect, header, token_auth));
}

/// A line from the middle of a PEM private key: a piece of it showing anywhere is a leak.
fn key_line(pem: &str) -> String {
    pem.lines().nth(1).expect("a PEM body").to_string()
}

fn value<'a>(p: &'a Plan, name: &str) -> &'a str {
    &p.flags.iter().find(|(n, _)| n == name).unwrap().1
}

/// The secret flags tocsin's parser knows (`-secret.flags` itself names flags, no secret).
fn secret_flags() -> BTreeSet<String> {
    let secrets = Secrets::default();
    tocsin::cli::Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| secrets.is_secret(l) && *l != "secret.flags")
        .map(String::from)
        .collect()
}

#[test]
fn the_runs_set_every_secret_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let set: BTreeSet<String> = (0..RUNS)
        .flat_map(|r| {
            let c = Ctx {
                r,
                fake: "http://x",
                access_token: "t",
                dir: dir.path(),
                ca: &ca,
            };
            plan(&c).flags
        })
        .map(|(n, _)| n)
        .collect();
    let missing: Vec<_> = secret_flags().difference(&set).cloned().collect();
    assert!(missing.is_empty(), "secret flags no run sets: {missing:?}");
    assert!(secret_flags().len() > 40, "{:?}", secret_flags());
}

/// The fake peers under prefixes, and token endpoints under `/token/<prefix>`; keeps
/// `(path, Authorization, X-Api-Key)` of every request.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

async fn fake_peers(r: usize, access_token: String) -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let (base, _) = serve_fn(move |_, req| {
        let key = req.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        s.lock().unwrap().push((
            req.path.to_string(),
            req.authorization.to_string(),
            key.unwrap_or("").to_string(),
        ));
        let fail = if unauthorized(r) { 401 } else { 500 };
        Some(if let Some(p) = req.path.strip_prefix("/token") {
            if unauthorized(r) || p == "/ds" {
                let t = format!(
                    r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":3600}}"#
                );
                (200, "application/json", t)
            } else {
                (
                    500,
                    "text/html",
                    "<html><body>token service down</body></html>".into(),
                )
            }
        } else if req.path.starts_with("/ds/") && !req.body.contains("failing") {
            (200, "application/json", VECTOR.to_string())
        } else {
            (fail, "application/json", r#"{"error":"no"}"#.to_string())
        })
    })
    .await;
    (base, seen)
}

/// Starts tocsin with `p`'s flags (on the command line or in the environment).
fn spawn(p: &Plan, d: &Path, port: u16) -> ChildGuard {
    let mut argv = vec![
        env!("CARGO_BIN_EXE_tocsin").to_string(),
        format!("-rule={}", d.join("rules.yml").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-loggerLevel=DEBUG".into(),
        "-remoteWrite.flushInterval=200ms".into(),
        "-remoteWrite.retryMinInterval=100ms".into(),
        "-remoteWrite.retryMaxTime=500ms".into(),
        "-notifier.sendTimeout=2s".into(),
    ];
    let mut env = Vec::new();
    if p.from_env {
        argv.push("-envflag.enable".into());
        env = (p.flags.iter())
            .map(|(n, v)| (n.replace('.', "_"), v.clone()))
            .collect();
    } else {
        argv.extend(p.flags.iter().map(|(n, v)| format!("-{n}={v}")));
    }
    ChildGuard::spawn_env("tocsin", &argv, d, &env).unwrap()
}

async fn run(r: usize) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rules.yml"), RULES).unwrap();
    let access_token = secret("accesstoken");
    let (fake, seen) = fake_peers(r, access_token.clone()).await;
    let ca = Ca::new();
    let p = plan(&Ctx {
        r,
        fake: &fake,
        access_token: &access_token,
        dir: d,
        ca: &ca,
    });
    let port = free_port();
    let mut t = spawn(&p, d, port);
    let probe = Probe {
        base: format!("https://127.0.0.1:{port}"),
        client: certs::client(&ca.pem, false),
        basic_auth: Some(("admin".into(), value(&p, "httpAuth.password").into())),
        metrics_key: Some(value(&p, "metricsAuthKey").into()),
    };
    let failed = probe
        .wait_until(Duration::from_secs(90), |rules, notifiers, metrics| {
            has_error(rules, "/data/groups/0/rules", "name", "Broken")
                && has_error(notifiers, "/data/notifiers/0/targets", "kind", "")
                && counter(metrics, "tocsin_remotewrite_errors") > 0.0
        })
        .await;
    let mut answers = probe.all_answers().await;
    for (path, status, body) in &answers {
        assert_eq!(*status, 200, "{path}: {body}\n{}", t.log_tail(30));
    }
    answers.extend(keys_and_refusals(&probe, &p, &t).await);
    t.terminate(Duration::from_secs(10));
    let log = std::fs::read_to_string(&t.log).unwrap_or_default();
    let context = format!("run {r} (environment: {})\n{log}", p.from_env);
    assert!(failed, "the clients did not all fail: {context}");
    assert!(log.contains("cannot restore alert state"), "{context}");
    let flags = &(answers.iter())
        .find(|(p, _, _)| p.starts_with("/flags"))
        .unwrap()
        .2;
    for (name, _) in p.flags.iter().filter(|(n, _)| secret_flags().contains(n)) {
        let masked = format!("-{name}=\"secret\"");
        assert!(flags.contains(&masked), "{masked} not in /flags:\n{flags}");
    }
    answers.push(("log".into(), 0, log));
    for s in &p.secrets {
        for (what, _, body) in &answers {
            let shown = body.contains(s.as_str());
            assert!(!shown, "run {r}: {s} in {what}:\n{body}");
        }
    }
    check_peers(r, &p, &seen.lock().unwrap());
}

/// `/flags`, `/debug/pprof/` with their keys, refusals of the wrong ones (each key
/// tried where it does not belong), a wrong password, and a reload with its key.
async fn keys_and_refusals(probe: &Probe, p: &Plan, t: &ChildGuard) -> Vec<(String, u16, String)> {
    let key = |k: &str| value(p, k).to_string();
    let mut answers = Vec::new();
    for (path, want) in [
        (format!("/flags?authKey={}", key("flagsAuthKey")), 200),
        (
            format!("/debug/pprof/?authKey={}", key("pprofAuthKey")),
            200,
        ),
        (format!("/flags?authKey={}", key("metricsAuthKey")), 401),
        (format!("/metrics?authKey={}", key("flagsAuthKey")), 401),
    ] {
        let (status, body) = probe.get_status(&path).await;
        assert_eq!(status, want, "{path}: {body}\n{}", t.log_tail(30));
        answers.push((path, status, body));
    }
    let wrong = Probe {
        basic_auth: Some(("admin".into(), key("reloadAuthKey"))),
        ..probe.clone()
    };
    let (status, body) = wrong.get_status("/api/v1/rules").await;
    assert_eq!(status, 401, "{body}");
    answers.push(("/api/v1/rules, wrong password".into(), status, body));
    let reload = format!("{}/-/reload?authKey={}", probe.base, key("reloadAuthKey"));
    let resp = probe.client.post(reload).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    answers
}

/// The peers got the credentials and headers (and nothing without them).
fn check_peers(r: usize, p: &Plan, seen: &[(String, String, String)]) {
    for (prefix, expect, header, token_auth) in &p.expect {
        let at: Vec<_> = seen
            .iter()
            .filter(|(path, _, _)| path.starts_with(prefix))
            .collect();
        match expect {
            Expect::Authorization(a) => {
                assert!(!at.is_empty(), "run {r}: nothing reached {prefix}");
                for (path, auth, key) in &at {
                    assert_eq!(auth, a, "run {r}: {path}");
                    assert_eq!(key, header, "run {r}: {path}");
                }
            }
            Expect::Nothing => assert!(at.is_empty(), "run {r}: sent without a token: {at:?}"),
        }
        if let Some(want) = token_auth {
            let token_path = format!("/token{prefix}");
            let asked: Vec<_> = seen
                .iter()
                .filter(|(path, _, _)| *path == token_path)
                .collect();
            assert!(!asked.is_empty(), "run {r}: {token_path} never asked");
            assert!(
                asked.iter().all(|(_, a, _)| a == want),
                "run {r}: {asked:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_0_command_line_peers_401() {
    run(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_1_environment_peers_401() {
    run(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_2_command_line_peers_500_token_endpoint_down() {
    run(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_3_environment_peers_500_token_endpoint_down() {
    run(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_4_command_line_peers_401() {
    run(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_flags_hidden_run_5_environment_peers_401() {
    run(5).await;
}

/// The notifier config: each static group with its own way of authenticating, Consul
/// with a token and basic auth, headers for all; `s` holds the secrets.
fn notifier_yaml(am: &str, fake: &str, consul: &str, s: &[String]) -> String {
    format!(
        r#"
headers: ["X-Api-Key: {s1}"]
static_configs:
  - targets: [{am}/am1]
    bearer_token: {s2}
  - targets: [{am}/am2]
    oauth2: {{ client_id: cfg, client_secret: {s3}, token_url: "{fake}/token/am2?authKey={s4}" }}
  - targets: [{am}/am3]
    basic_auth: {{ username: u3, password_file: am3.pass }}
  - targets: [{am}/am4]
    basic_auth: {{ username: u4, password: {s0} }}
consul_sd_configs:
  - server: {consul}
    token: {s6}
    username: c
    password: {s7}
    services: [alertmanager]
"#,
        consul = consul.trim_start_matches("http://"),
        s0 = s[0],
        s1 = s[1],
        s2 = s[2],
        s3 = s[3],
        s4 = s[4],
        s6 = s[6],
        s7 = s[7],
    )
}

/// Whether all five targets of the config have an error.
fn all_failed(notifiers: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(notifiers).unwrap_or_default();
    let targets: Vec<_> = (v["data"]["notifiers"].as_array().into_iter().flatten())
        .flat_map(|n| n["targets"].as_array().cloned().unwrap_or_default())
        .collect();
    let failed = |t: &serde_json::Value| t["lastError"].as_str().is_some_and(|e| !e.is_empty());
    targets.len() == 5 && targets.iter().all(failed)
}

/// The notifier config's secrets (basic-auth passwords inline and in a file, a bearer
/// token, an OAuth2 client secret whose token endpoint answers HTML with 500, a token
/// URL's `authKey`, headers, Consul's token and password) against Alertmanagers
/// answering 500; a reload with a broken file. None shows anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifier_config_secrets_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Alerting rules only: recording rules would need -remoteWrite.url.
    let rules =
        "groups: [{name: g, interval: 1s, rules: [{alert: Firing, expr: firing_metric}]}]\n";
    std::fs::write(d.join("rules.yml"), rules).unwrap();
    // Run 2's peers: 500 everywhere, token endpoints down but the datasource's.
    let (fake, seen) = fake_peers(2, secret("accesstoken")).await;
    let am = fake.trim_start_matches("http://");
    let am_port: u16 = am.rsplit(':').next().unwrap().parse().unwrap();
    let fake_consul = fake_consul(am_port).await;
    let (consul, consul_seen) = (fake_consul.url.clone(), fake_consul.seen.clone());
    let s: Vec<String> = (0..8).map(|i| secret(&format!("cfg{i}"))).collect();
    std::fs::write(d.join("am3.pass"), format!("{}\n", s[5])).unwrap();
    let config = d.join("notifier.yml");
    let yaml = notifier_yaml(am, &fake, &consul, &s);
    std::fs::write(&config, &yaml).unwrap();
    let port = free_port();
    let argv = vec![
        env!("CARGO_BIN_EXE_tocsin").to_string(),
        format!("-rule={}", d.join("rules.yml").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        format!("-datasource.url={fake}/ds"),
        format!("-notifier.config={}", config.display()),
        "-loggerLevel=DEBUG".into(),
    ];
    let mut t = ChildGuard::spawn_env("tocsin", &argv, d, &[]).unwrap();
    let probe = Probe::plain(&format!("http://127.0.0.1:{port}"));
    let wait = Duration::from_secs(90);
    if !probe.wait_until(wait, |_, n, _| all_failed(n)).await {
        let n = probe.get("/api/v1/notifiers").await;
        let log = std::fs::read_to_string(&t.log).unwrap_or_default();
        let log: Vec<_> = log.lines().filter(|l| !l.contains("DEBUG")).collect();
        panic!("not every target failed: {n}\n{}", log.join("\n"));
    }
    std::fs::write(&config, format!("{yaml}\nbogus: {}\n", s[0])).unwrap();
    let reload = format!("{}/-/reload", probe.base);
    let resp = probe.client.post(reload).send().await.unwrap();
    let reload = (resp.status().as_u16(), resp.text().await.unwrap());
    assert!(reload.0 != 200 && reload.1.contains("bogus"), "{reload:?}");
    let mut answers = probe.all_answers().await;
    answers.push(("/flags".into(), 0, probe.get("/flags").await));
    answers.push(("/-/reload".into(), reload.0, reload.1));
    t.terminate(Duration::from_secs(10));
    answers.push(("log".into(), 0, std::fs::read_to_string(&t.log).unwrap()));
    for secret in &s {
        for (what, _, body) in &answers {
            let shown = body.contains(secret.as_str());
            assert!(!shown, "{secret} in {what}:\n{body}");
        }
    }
    check_config_peers(&seen.lock().unwrap(), &consul_seen.lock().unwrap(), &s);
}

/// Each Alertmanager got its group's credentials and the headers; Consul its token and
/// basic auth; nothing went out without the OAuth2 token.
fn check_config_peers(
    seen: &[(String, String, String)],
    consul: &[(String, String)],
    s: &[String],
) {
    let auth_at = |path: &str| -> Vec<(String, String)> {
        (seen.iter().filter(|(p, _, _)| p == path))
            .map(|(_, a, k)| (a.clone(), k.clone()))
            .collect()
    };
    let key = s[1].clone();
    // A path in a target replaces /api/v2/alerts, as in vmalert; the target found in
    // Consul has the top level's settings: headers only.
    for (path, want) in [
        ("/am1", format!("Bearer {}", s[2])),
        ("/am3", basic("u3", &s[5])),
        ("/am4", basic("u4", &s[0])),
        ("/api/v2/alerts", String::new()),
    ] {
        let got = auth_at(path);
        let all = got.iter().all(|g| *g == (want.clone(), key.clone()));
        assert!(!got.is_empty() && all, "{path}: {got:?}");
    }
    assert!(auth_at("/am2").is_empty(), "sent without a token");
    assert!(!auth_at("/token/am2").is_empty());
    let right = |(t, a): &(String, String)| *t == s[6] && *a == basic("c", &s[7]);
    assert!(consul.iter().all(right), "{consul:?}");
}
