//! Real peers for tests: finding the binaries (failing under CI=true when one is
//! missing), free ports, child processes that die with the test, and ready-to-use
//! Prometheus, Alertmanager, VictoriaMetrics and tocsin processes. Every test that needs
//! a real server uses this one module (`#[path]`-included).
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the peer binaries live: `$TOCSIN_PEERS_DIR` or `<repo>/.peers/usr/bin`.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("TOCSIN_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/usr/bin"))
}

/// The path of a peer binary if it is present.
pub fn peer(name: &str) -> Option<PathBuf> {
    let p = peers_dir().join(name);
    p.is_file().then_some(p)
}

/// The peer binary `name`. When it is missing: panics if `CI=true` (a test must never
/// pass silently without its server), else prints a skip message and returns `None`.
pub fn peer_or_skip(name: &str) -> Option<PathBuf> {
    if let Some(p) = peer(name) {
        return Some(p);
    }
    let at = peers_dir().join(name);
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} peer not found at {} (CI=true)", at.display());
    }
    eprintln!(
        "SKIP: {name} peer not found at {}; run integration/install-peers.sh or set TOCSIN_PEERS_DIR",
        at.display()
    );
    None
}

/// Where today's peers from Debian sid live: `$TOCSIN_PEERS_SID_DIR` or
/// `<repo>/.peers/sid/usr/bin`.
pub fn sid_peers_dir() -> PathBuf {
    std::env::var_os("TOCSIN_PEERS_SID_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/sid/usr/bin"))
}

/// A sid peer binary (or a path under the sid tree, such as Prometheus' Go sources),
/// with [`peer_or_skip`]'s rules: panics under `CI=true` when it is missing.
pub fn sid_path_or_skip(relative: &str) -> Option<PathBuf> {
    let at = sid_peers_dir().join(relative);
    if at.exists() {
        return Some(at);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} not found (CI=true)", at.display());
    }
    eprintln!(
        "SKIP: {} not found; run integration/install-peers.sh or set TOCSIN_PEERS_SID_DIR",
        at.display()
    );
    None
}

/// Prometheus 3.5's sources from sid (`promql/promqltest/testdata`,
/// `cmd/promtool/testdata`, …), or `None` as [`sid_path_or_skip`] says.
pub fn prometheus_sources_or_skip() -> Option<PathBuf> {
    sid_path_or_skip("../share/gocode/src/github.com/prometheus/prometheus")
}

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed when dropped (also on panic), with its log file.
pub struct ChildGuard {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl ChildGuard {
    /// Starts `argv` with stdout and stderr going to `<dir>/<name>.log`.
    pub fn spawn(name: &str, argv: &[String], dir: &Path) -> std::io::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty argv"))?;
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(s)) => Some(s.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        format!(
            "[{} log]\n{}",
            self.name,
            all[all.len().saturating_sub(lines)..].join("\n")
        )
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers 200 or `timeout` passes.
pub async fn wait_ok(url: &str, timeout: Duration) -> bool {
    let client = reqwest::Client::new();
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Starts Prometheus with the remote-write receiver on, no scrape jobs, and the lookback
/// delta scaled like every other duration. Returns the guard and its base URL.
pub async fn start_prometheus(
    bin: &Path,
    dir: &Path,
    scale: f64,
) -> Result<(ChildGuard, String), String> {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global: {}\nscrape_configs: []\n").map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let lookback_ms = ((300_000.0 * scale).round() as u64).max(1_000);
    let argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".to_string(),
        format!("--query.lookback-delta={lookback_ms}ms"),
    ];
    let guard = ChildGuard::spawn("prometheus", &argv, dir)
        .map_err(|e| format!("cannot start prometheus: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    if !wait_ok(&format!("{url}/-/ready"), Duration::from_secs(30)).await {
        return Err(format!(
            "prometheus did not become ready:\n{}",
            guard.log_tail(20)
        ));
    }
    Ok((guard, url))
}

/// Starts Alertmanager on a free port with a receiver that goes nowhere; returns the
/// guard and its base URL.
pub async fn start_alertmanager(bin: &Path, dir: &Path) -> Result<(ChildGuard, String), String> {
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route: { receiver: none, group_wait: 1s, group_interval: 1s }\nreceivers: [{ name: none }]\n",
    )
    .map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.path={}", dir.join("am").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_string(),
    ];
    let guard = ChildGuard::spawn("alertmanager", &argv, dir)
        .map_err(|e| format!("cannot start alertmanager: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    if !wait_ok(&format!("{url}/-/ready"), Duration::from_secs(30)).await {
        return Err(format!(
            "alertmanager did not become ready (integration/install-peers.sh installs its templates):\n{}",
            guard.log_tail(20)
        ));
    }
    Ok((guard, url))
}

/// Starts single-node VictoriaMetrics on a free port; returns the guard and base URL.
pub async fn start_victoria_metrics(
    bin: &Path,
    dir: &Path,
) -> Result<(ChildGuard, String), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let argv = vec![
        bin.display().to_string(),
        format!("-storageDataPath={}", dir.join("vm").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-search.latencyOffset=0s".to_string(),
        "-search.disableCache".to_string(),
    ];
    let guard = ChildGuard::spawn("victoria-metrics", &argv, dir)
        .map_err(|e| format!("cannot start victoria-metrics: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    if !wait_ok(&format!("{url}/health"), Duration::from_secs(30)).await {
        return Err(format!(
            "victoria-metrics did not become ready:\n{}",
            guard.log_tail(20)
        ));
    }
    Ok((guard, url))
}

/// Starts Prometheus scraping nothing, with the remote-write receiver on and a default
/// lookback.
pub async fn start_plain_prometheus(
    bin: &Path,
    dir: &Path,
) -> Result<(ChildGuard, String), String> {
    start_prometheus(bin, dir, 1.0).await
}

/// GETs `url` until its JSON satisfies `done`; returns the last JSON, or `None` after
/// `timeout`.
pub async fn poll_json(
    url: &str,
    timeout: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(url).await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && done(&v)
        {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts the tocsin binary with `args` (plus `-httpListenAddr` on a free port) and
/// waits until its API is ready; returns the guard and its base URL.
pub async fn start_tocsin(
    args: &[String],
    dir: &Path,
    name: &str,
) -> Result<(ChildGuard, String), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut argv = vec![env!("CARGO_BIN_EXE_tocsin").to_string()];
    argv.extend(args.iter().cloned());
    argv.push(format!("-httpListenAddr=127.0.0.1:{port}"));
    let mut guard =
        ChildGuard::spawn(name, &argv, dir).map_err(|e| format!("cannot start tocsin: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(status) = guard.exited() {
            return Err(format!("tocsin exited ({status}):\n{}", guard.log_tail(30)));
        }
        if wait_ok(&format!("{url}/-/ready"), Duration::from_millis(200)).await {
            return Ok((guard, url));
        }
    }
    Err(format!(
        "tocsin did not become ready:\n{}",
        guard.log_tail(30)
    ))
}

/// Sends SIGTERM and waits for the exit status (at most `timeout`).
pub fn terminate(guard: &mut ChildGuard, timeout: Duration) -> Option<std::process::ExitStatus> {
    let pid = guard.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(s)) = guard.child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
