//! Real peers for the harness: finding the binaries, free ports, child processes that die
//! with the test, and a Prometheus configured as sample receiver and querier.

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
