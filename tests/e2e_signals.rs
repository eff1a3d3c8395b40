//! Signals are honoured at any moment, as an operator sends them: the tocsin binary,
//! SIGTERM while the rule files are still being read at start-up, and while a reload
//! is reading them; a second SIGTERM while the shutdown waits. A rule file that is a
//! named pipe with no writer makes reading it block for as long as the test wants, so
//! the signal lands mid-load every time.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::eventually;
use support::fake_http::{Canned, FakeHttp, fake_http};
use support::peers::{ChildGuard, free_port};
use support::servers::start_tocsin;

const RULES: &str =
    "groups:\n- name: g\n  interval: 1h\n  rules:\n  - alert: A\n    expr: vector(1)\n";

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", path.display());
}

fn log_has(g: &ChildGuard, needle: &str) -> bool {
    std::fs::read_to_string(&g.log).is_ok_and(|t| t.contains(needle))
}

/// Waits (at most `limit`, a guard against hanging, not a speed check) for the exit
/// after SIGTERM; the exit status.
fn terminate(g: &mut ChildGuard, limit: Duration) -> std::process::ExitStatus {
    g.terminate(limit)
        .unwrap_or_else(|| panic!("still running after SIGTERM\n{}", g.log_tail(30)))
}

/// tocsin evaluating one rule against a datasource that never answers (nothing times
/// out for an hour): after a SIGTERM, its shutdown waits for that evaluation. Returns
/// the datasource (keep it), tocsin and its URL, once the query is under way.
async fn waiting_on_an_endless_query(dir: &Path) -> (FakeHttp, ChildGuard, String) {
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let ds = fake_http(vec![Canned(
        200,
        "application/json",
        vector.into(),
        Duration::from_secs(3600),
    )])
    .await;
    // Evaluated within a second of the start.
    std::fs::write(dir.join("a.yml"), RULES.replace("1h", "1s")).unwrap();
    let args = vec![
        format!("-rule={}/a.yml", dir.display()),
        format!("-datasource.url={}", ds.url),
        "-datasource.queryTimeout=1h".to_string(),
        "-shutdownTimeout=1h".to_string(),
    ];
    let (g, url) = start_tocsin(&args, dir, "tocsin").await.unwrap();
    let querying = eventually(Duration::from_secs(60), || {
        ds.hits.load(std::sync::atomic::Ordering::SeqCst) >= 1
    })
    .await;
    assert!(querying, "the evaluation is waiting\n{}", g.log_tail(20));
    (ds, g, url)
}

/// Sends SIGTERM and waits until tocsin logs that its shutdown began.
async fn sigterm_until_the_shutdown_begins(g: &ChildGuard) {
    let pid = g.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let begun = eventually(Duration::from_secs(30), || {
        log_has(g, "finishing evaluations")
    })
    .await;
    assert!(begun, "{}", g.log_tail(20));
}

#[tokio::test]
async fn sigterm_during_the_first_load_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rules.yml");
    mkfifo(&fifo);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let argv = vec![
        env!("CARGO_BIN_EXE_tocsin").to_string(),
        format!("-rule={}", fifo.display()),
        "-datasource.url=http://127.0.0.1:1".to_string(),
        format!("-httpListenAddr=127.0.0.1:{port}"),
    ];
    let mut g = ChildGuard::spawn("tocsin", &argv, dir.path()).unwrap();
    // The port listens while the rules are still being read: healthy, not ready.
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            client
                .get(format!("{url}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    };
    let mut healthy = None;
    for _ in 0..200 {
        healthy = status("/-/healthy").await;
        if healthy.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(healthy, Some(200), "{}", g.log_tail(20));
    assert_eq!(
        status("/-/ready").await,
        Some(503),
        "not ready before the rules are applied"
    );
    let s = terminate(&mut g, Duration::from_secs(30));
    assert!(
        s.success(),
        "a clean exit, not death by signal: {s}\n{}",
        g.log_tail(20)
    );
    assert!(log_has(&g, "shutting down"), "{}", g.log_tail(20));
    assert!(log_has(&g, "stopped"), "{}", g.log_tail(20));
}

#[tokio::test]
async fn sigterm_during_a_reload_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), RULES).unwrap();
    let args = vec![
        format!("-rule={}/*.yml", dir.path().display()),
        "-datasource.url=http://127.0.0.1:1".to_string(),
        "-loggerLevel=DEBUG".to_string(),
    ];
    let (mut g, _url) = start_tocsin(&args, dir.path(), "tocsin").await.unwrap();
    // A new rule file nobody writes: the reload that picks it up blocks reading it.
    mkfifo(&dir.path().join("b.yml"));
    let pid = g.child.id().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let requested = eventually(Duration::from_secs(30), || log_has(&g, "reload requested")).await;
    assert!(requested, "{}", g.log_tail(20));
    let s = terminate(&mut g, Duration::from_secs(30));
    assert!(s.success(), "{s}\n{}", g.log_tail(20));
    assert!(log_has(&g, "reload abandoned"), "{}", g.log_tail(20));
    assert!(log_has(&g, "stopped"), "{}", g.log_tail(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_replay_stops_it_at_a_window_edge() {
    // The first range query is answered, the second never: the replay is waiting on
    // the datasource when the signal comes.
    let empty = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    let ds = fake_http(vec![
        Canned::ok(empty),
        Canned(
            200,
            "application/json",
            empty.into(),
            Duration::from_secs(3600),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let argv = vec![
        env!("CARGO_BIN_EXE_tocsin").to_string(),
        "replay".to_string(),
        "--from=1700000000".to_string(),
        "--to=1700036000".to_string(),
        "--report".to_string(),
        format!("-rule={}", rules.display()),
        format!("-datasource.url={}", ds.url),
        "-replay.maxDatapointsPerQuery=1".to_string(),
        "-replay.disableProgressBar=true".to_string(),
    ];
    let mut g = ChildGuard::spawn("tocsin-replay", &argv, dir.path()).unwrap();
    let waiting = eventually(Duration::from_secs(60), || {
        ds.hits.load(std::sync::atomic::Ordering::SeqCst) >= 2
    })
    .await;
    assert!(waiting, "the second query was sent\n{}", g.log_tail(20));
    let s = terminate(&mut g, Duration::from_secs(30));
    assert_eq!(
        s.code(),
        Some(1),
        "an interrupted replay exits 1 (incomplete), not killed: {s}\n{}",
        g.log_tail(20)
    );
    assert!(
        log_has(&g, "interrupted by a signal after"),
        "the report says where the rule stopped\n{}",
        g.log_tail(20)
    );
    assert!(
        log_has(&g, "replay interrupted by a signal"),
        "{}",
        g.log_tail(20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once_while_the_shutdown_waits() {
    // The datasource never answers and nothing times out for an hour: after the first
    // SIGTERM the shutdown waits for the evaluation under way; the second ends it.
    let dir = tempfile::tempdir().unwrap();
    let (_ds, mut g, _url) = waiting_on_an_endless_query(dir.path()).await;
    sigterm_until_the_shutdown_begins(&g).await;
    assert!(
        g.child.try_wait().unwrap().is_none(),
        "the shutdown waits for the evaluation\n{}",
        g.log_tail(20)
    );
    let s = terminate(&mut g, Duration::from_secs(30));
    assert_eq!(s.code(), Some(1), "{s}\n{}", g.log_tail(20));
    assert!(log_has(&g, "second signal"), "{}", g.log_tail(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_server_stops_when_the_shutdown_begins_not_after_it() {
    // The shutdown waits for an evaluation that never ends (until the second signal);
    // meanwhile the port is closed, so API clients no longer hold the cores the
    // evaluations and flushes need (as vmalert, which stops its server first).
    let dir = tempfile::tempdir().unwrap();
    let (_ds, mut g, url) = waiting_on_an_endless_query(dir.path()).await;
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "the port listens before the signal"
    );
    sigterm_until_the_shutdown_begins(&g).await;
    let closed = eventually(Duration::from_secs(30), || {
        std::net::TcpStream::connect(&addr).is_err()
    })
    .await;
    assert!(
        closed,
        "the port still accepts while the shutdown waits\n{}",
        g.log_tail(20)
    );
    assert!(
        g.child.try_wait().unwrap().is_none(),
        "still waiting for the evaluation: the port closed first\n{}",
        g.log_tail(20)
    );
    // The second signal ends the wait.
    terminate(&mut g, Duration::from_secs(30));
}
