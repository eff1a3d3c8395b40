//! No secret reaches a log line, an error, the API, the UI's JSON or `/metrics`: tocsin
//! runs with credentials for all four clients (in URLs, in flags, in files, and as
//! `authKey` query parameters) while the peers are down, answer 401 or answer 500;
//! then every answer of its HTTP server and its whole log are searched for the secrets.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::fake_http::serve_fn;
use support::peers::free_port;
use support::secrets::{Probe, RULES, basic, counter, has_error, secret};
use support::servers::start_tocsin;

/// How the fake peers fail.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Connections refused (notifier, remote write, remote read) or dropped without an
    /// answer (the datasource's failing queries).
    Down,
    Unauthorized,
    Failing,
}

/// One HTTP server standing in for all four peers under path prefixes (`/ds`, `/am`,
/// `/rw`, `/rr`). The datasource answers `vector(1)`-like results, except for queries
/// naming `failing`, which fail as `mode` says; the others always fail. Keeps the
/// `Authorization` header of every request, by prefix.
struct Peers {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Peers {
    fn authorizations(&self, prefix: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, a)| a.clone())
            .collect()
    }
}

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"j"},"value":[1700000000,"1"]}]}}"#;

/// The answer of the fake peers to a request on `path` with `body`; `None` drops the
/// connection.
fn answer(mode: Mode, path: &str, body: &str) -> Option<(u16, &'static str, String)> {
    let failing = !path.starts_with("/ds/") || body.contains("failing");
    let (status, text) = match (failing, mode) {
        (false, _) => (200, VECTOR),
        (true, Mode::Down) => return None,
        (true, Mode::Unauthorized) => (401, "unauthorized"),
        (true, Mode::Failing) => (500, "internal error"),
    };
    Some((status, "application/json", text.to_string()))
}

async fn peers(mode: Mode) -> Peers {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let (base, _) = serve_fn(move |_, req| {
        s.lock()
            .unwrap()
            .push((req.path.to_string(), req.authorization.to_string()));
        answer(mode, req.path, req.body)
    })
    .await;
    Peers { base, seen }
}

/// A URL where nothing listens.
fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// The flags of one run: every client's URL and credentials, and the secrets used.
struct Setup {
    args: Vec<String>,
    secrets: Vec<String>,
}

/// Where the credentials of a run come from.
#[derive(Clone, Copy)]
enum Source {
    Url,
    Flags,
    Files,
}

/// Builds the client flags for `client` (`datasource`, …) at `base`: an `authKey`
/// parameter in the URL, plus basic auth from `source`.
fn client_flags(client: &str, base: &str, source: Source, dir: &Path, s: &mut Setup) {
    let key = secret(&format!("KEY{client}"));
    let password = secret(&format!("PW{client}"));
    s.secrets.push(key.clone());
    s.secrets.push(password.clone());
    let (scheme, host) = base.split_once("://").unwrap();
    let url = match source {
        Source::Url => format!("{scheme}://tocsin:{password}@{host}?authKey={key}"),
        Source::Flags | Source::Files => format!("{base}?authKey={key}"),
    };
    s.args.push(format!("-{client}.url={url}"));
    if matches!(source, Source::Flags | Source::Files) {
        s.args.push(format!("-{client}.basicAuth.username=tocsin"));
    }
    match source {
        Source::Url => {}
        Source::Flags => s
            .args
            .push(format!("-{client}.basicAuth.password={password}")),
        Source::Files => {
            let f = dir.join(format!("{client}.password"));
            std::fs::write(&f, format!("{password}\n")).unwrap();
            s.args
                .push(format!("-{client}.basicAuth.passwordFile={}", f.display()));
        }
    }
}

/// Runs tocsin against the peers in `mode` with credentials from `source`, waits until
/// every client has failed at least once, then searches everything for the secrets.
async fn run(mode: Mode, source: Source, datasource_down: bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let p = peers(mode).await;
    let other = |prefix: &str| match mode {
        Mode::Down => closed_port_url(),
        _ => format!("{}{prefix}", p.base),
    };
    let ds = if datasource_down {
        closed_port_url()
    } else {
        format!("{}/ds", p.base)
    };
    let mut s = Setup {
        args: vec![
            format!("-rule={}", dir.path().join("rules.yml").display()),
            "-remoteWrite.flushInterval=200ms".into(),
            "-remoteWrite.retryMinInterval=100ms".into(),
            "-remoteWrite.retryMaxTime=500ms".into(),
            "-notifier.sendTimeout=2s".into(),
        ],
        secrets: Vec::new(),
    };
    client_flags("datasource", &ds, source, dir.path(), &mut s);
    client_flags("notifier", &other("/am"), source, dir.path(), &mut s);
    client_flags("remoteWrite", &other("/rw"), source, dir.path(), &mut s);
    client_flags("remoteRead", &other("/rr"), source, dir.path(), &mut s);

    let (mut tocsin, base) = start_tocsin(&s.args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    let probe = Probe::plain(&base);
    let wait = Duration::from_secs(30);
    let failed_everywhere = probe
        .wait_until(wait, |rules, notifiers, metrics| {
            has_error(rules, "/data/groups/0/rules", "name", "Broken")
                && (datasource_down
                    || (has_error(notifiers, "/data/notifiers/0/targets", "kind", "")
                        && counter(metrics, "tocsin_remotewrite_errors") > 0.0))
        })
        .await;
    let answers = probe.all_answers().await;
    tocsin.terminate(Duration::from_secs(10));
    let log = std::fs::read_to_string(&tocsin.log).unwrap_or_default();
    let context = format!("{mode:?}, datasource down: {datasource_down}\n{log}");
    assert!(failed_everywhere, "the clients did not all fail: {context}");
    assert!(
        log.contains("cannot restore alert state"),
        "the failures are logged: {context}"
    );
    let rules = &answers
        .iter()
        .find(|(p, _, _)| p == "/api/v1/rules")
        .unwrap()
        .2;
    assert!(
        rules.contains("authKey=xxxxx") && log.contains("authKey=xxxxx"),
        "errors name the URL, masked: {rules}\n{context}"
    );
    for secret in &s.secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} in the log: {context}"
        );
        for (path, _, body) in &answers {
            assert!(
                !body.contains(secret.as_str()),
                "{secret} in the answer of {path}: {body}"
            );
        }
    }
    if mode != Mode::Down && !datasource_down {
        // The credentials did reach the peers.
        for (prefix, client) in [
            ("/ds", "datasource"),
            ("/am", "notifier"),
            ("/rw", "remoteWrite"),
            ("/rr", "remoteRead"),
        ] {
            let password = s
                .secrets
                .iter()
                .find(|x| x.starts_with(&format!("S3CRETPW{client}")))
                .unwrap();
            let seen = p.authorizations(prefix);
            assert!(
                !seen.is_empty() && seen.iter().all(|a| *a == basic("tocsin", password)),
                "{client} sent {seen:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_peers_down_and_credentials_in_urls() {
    run(Mode::Down, Source::Url, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_the_datasource_down() {
    run(Mode::Down, Source::Url, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_peers_answering_401_and_credentials_in_flags() {
    run(Mode::Unauthorized, Source::Flags, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_peers_answering_500_and_credentials_in_files() {
    run(Mode::Failing, Source::Files, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_credentials_in_urls_answering_500() {
    run(Mode::Failing, Source::Url, false).await;
}

/// Credentials in a URL beside an auth flag of the same client: refused, naming both,
/// showing neither secret.
#[test]
fn url_credentials_beside_an_auth_flag_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = "groups: [{name: g, rules: [{alert: A, expr: vector(1)}]}]\n";
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    for (client, flag) in [
        ("datasource", "bearerToken"),
        ("notifier", "basicAuth.password"),
        ("remoteWrite", "basicAuth.username"),
        ("remoteRead", "bearerToken"),
    ] {
        let mut args = vec![
            format!("-rule={}", dir.path().join("rules.yml").display()),
            "-httpListenAddr=127.0.0.1:0".into(),
            format!("-{client}.url=http://u:URLPASSWORD@127.0.0.1:1"),
            format!("-{client}.{flag}=FLAGSECRET"),
        ];
        if client != "datasource" {
            args.push("-datasource.url=http://127.0.0.1:1".into());
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(&args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{client}: {text}");
        assert!(
            text.contains(&format!("-{client}.url")) && text.contains(&format!("-{client}.{flag}")),
            "{client}: {text}"
        );
        assert!(
            !text.contains("URLPASSWORD") && !text.contains("FLAGSECRET"),
            "{client}: {text}"
        );
    }
}
