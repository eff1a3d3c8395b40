//! Starting real servers on free ports, waiting until they are ready: the peers
//! (Prometheus, Alertmanager, VictoriaMetrics) from either [`super::peers::PeerSet`], and
//! the tocsin binary under test. Each returns its [`ChildGuard`] (killed on drop) and its
//! base URL.

use std::path::Path;
use std::time::{Duration, Instant};

use super::peers::{ChildGuard, free_port};

/// Starts `argv` as `name` (log in `dir/<name>.log`) and waits until `ready_path` on
/// `base` answers 2xx; fails with the log's tail if the process exits or `timeout`
/// passes first.
pub async fn spawn_ready(
    name: &str,
    argv: &[String],
    dir: &Path,
    base: &str,
    ready_path: &str,
    timeout: Duration,
) -> Result<ChildGuard, String> {
    let (client, url) = (reqwest::Client::new(), format!("{base}{ready_path}"));
    spawn_until(name, argv, dir, timeout, || client.get(&url)).await
}

/// Starts `argv` as `name` and waits until `ready()`'s request answers 2xx (a client of
/// its own: TLS, credentials); fails as [`spawn_ready`].
pub async fn spawn_until(
    name: &str,
    argv: &[String],
    dir: &Path,
    timeout: Duration,
    ready: impl Fn() -> reqwest::RequestBuilder,
) -> Result<ChildGuard, String> {
    let mut guard =
        ChildGuard::spawn(name, argv, dir).map_err(|e| format!("cannot start {name}: {e}"))?;
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = guard.exited() {
            return Err(format!("{name} exited ({status}):\n{}", guard.log_tail(30)));
        }
        let sent = ready().timeout(Duration::from_secs(2)).send().await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return Ok(guard);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "{name} did not become ready in {timeout:?}:\n{}",
        guard.log_tail(30)
    ))
}

/// Starts Prometheus with the remote-write receiver on, no scrape jobs, and the lookback
/// delta scaled like every other duration (`scale` 1.0: Prometheus' default 5m).
pub async fn start_prometheus(
    bin: &Path,
    dir: &Path,
    scale: f64,
) -> Result<(ChildGuard, String), String> {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global: {}\nscrape_configs: []\n").map_err(|e| e.to_string())?;
    let lookback_ms = ((300_000.0 * scale).round() as u64).max(1_000);
    start_prometheus_with(
        bin,
        dir,
        &cfg,
        &[format!("--query.lookback-delta={lookback_ms}ms")],
    )
    .await
}

/// Starts Prometheus scraping nothing, with the remote-write receiver on and the default
/// lookback.
pub async fn start_plain_prometheus(
    bin: &Path,
    dir: &Path,
) -> Result<(ChildGuard, String), String> {
    start_prometheus(bin, dir, 1.0).await
}

/// Starts Prometheus on `config` (data in `dir/tsdb`) with the
/// remote-write receiver on and `extra` flags.
pub async fn start_prometheus_with(
    bin: &Path,
    dir: &Path,
    config: &Path,
    extra: &[String],
) -> Result<(ChildGuard, String), String> {
    let port = free_port();
    let mut argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".to_string(),
    ];
    argv.extend(extra.iter().cloned());
    let url = format!("http://127.0.0.1:{port}");
    let guard = spawn_ready(
        "prometheus",
        &argv,
        dir,
        &url,
        "/-/ready",
        Duration::from_secs(30),
    )
    .await?;
    Ok((guard, url))
}

/// Starts Alertmanager on a free port with a receiver that goes nowhere and 1 s group
/// timers.
pub async fn start_alertmanager(bin: &Path, dir: &Path) -> Result<(ChildGuard, String), String> {
    start_alertmanager_with(bin, dir, QUIET_ALERTMANAGER, None).await
}

/// An Alertmanager configuration whose receiver goes nowhere, with 1 s group timers.
pub const QUIET_ALERTMANAGER: &str =
    "route: { receiver: none, group_wait: 1s, group_interval: 1s }\nreceivers: [{ name: none }]\n";

/// An Alertmanager's `--web.config.file` (`tls_server_config`, `basic_auth_users`) and
/// what passes it: a client trusting its CA, and the user and password.
pub struct AmWeb {
    pub config_yaml: String,
    pub client: reqwest::Client,
    pub basic_auth: Option<(String, String)>,
}

impl AmWeb {
    /// A GET of `url` with this client and these credentials.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let r = self.client.get(url);
        match &self.basic_auth {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }
}

/// Starts Alertmanager on a free port with the configuration `config` (YAML), behind
/// `web` when given (its URL is `https://` when the web config has `tls_server_config`).
pub async fn start_alertmanager_with(
    bin: &Path,
    dir: &Path,
    config: &str,
    web: Option<&AmWeb>,
) -> Result<(ChildGuard, String), String> {
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(&cfg, config).map_err(|e| e.to_string())?;
    let port = free_port();
    let mut argv = vec![
        bin.display().to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--storage.path={}", dir.join("am").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_string(),
    ];
    let mut scheme = "http";
    if let Some(web) = web {
        let p = dir.join("web.yml");
        std::fs::write(&p, &web.config_yaml).map_err(|e| e.to_string())?;
        argv.push(format!("--web.config.file={}", p.display()));
        if web.config_yaml.contains("tls_server_config") {
            scheme = "https";
        }
    }
    let url = format!("{scheme}://127.0.0.1:{port}");
    let ready = format!("{url}/-/ready");
    let plain = reqwest::Client::new();
    let guard = spawn_until(
        "alertmanager",
        &argv,
        dir,
        Duration::from_secs(30),
        || match web {
            Some(w) => w.get(&ready),
            None => plain.get(&ready),
        },
    )
    .await
    .map_err(|e| format!("{e}\n(integration/install-peers.sh installs its templates)"))?;
    Ok((guard, url))
}

/// Starts single-node VictoriaMetrics on a free port (data in `dir/vm`), answering
/// queries over freshly written samples at once, plus `extra` flags.
pub async fn start_victoria_metrics(
    bin: &Path,
    dir: &Path,
    extra: &[String],
) -> Result<(ChildGuard, String), String> {
    let port = free_port();
    let mut argv = vec![
        bin.display().to_string(),
        format!("-storageDataPath={}", dir.join("vm").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-search.latencyOffset=0s".to_string(),
        "-search.disableCache".to_string(),
    ];
    argv.extend(extra.iter().cloned());
    let url = format!("http://127.0.0.1:{port}");
    let guard = spawn_ready(
        "victoria-metrics",
        &argv,
        dir,
        &url,
        "/health",
        Duration::from_secs(30),
    )
    .await?;
    Ok((guard, url))
}

/// Starts the tocsin binary with `args` (plus `-httpListenAddr` on a free port), its log
/// in `dir/<name>.log`, and waits until its API is ready.
pub async fn start_tocsin(
    args: &[String],
    dir: &Path,
    name: &str,
) -> Result<(ChildGuard, String), String> {
    start_tocsin_at(args, dir, name, free_port()).await
}

/// [`start_tocsin`] on a given port (for peer lists written before the start).
pub async fn start_tocsin_at(
    args: &[String],
    dir: &Path,
    name: &str,
    port: u16,
) -> Result<(ChildGuard, String), String> {
    let mut argv = vec![env!("CARGO_BIN_EXE_tocsin").to_string()];
    argv.extend(args.iter().cloned());
    argv.push(format!("-httpListenAddr=127.0.0.1:{port}"));
    let url = format!("http://127.0.0.1:{port}");
    let guard = spawn_ready(name, &argv, dir, &url, "/-/ready", Duration::from_secs(20)).await?;
    Ok((guard, url))
}

/// tocsin's flags to evaluate `rules` as a Prometheus at `prom` does, to compare the
/// two: querying and writing to that Prometheus every second, without vmalert's
/// `alertgroup` label (which Prometheus does not add).
pub fn args_like_prometheus(rules: &[&Path], prom: &str) -> Vec<String> {
    let mut args: Vec<String> = rules
        .iter()
        .map(|r| format!("-rule={}", r.display()))
        .collect();
    args.extend([
        format!("-datasource.url={prom}"),
        format!("-remoteWrite.url={prom}/api/v1/write"),
        "-evaluationInterval=1s".into(),
        "-disableAlertgroupLabel=true".into(),
    ]);
    args
}

/// What most end-to-end tests start from: a temporary directory holding a real
/// Prometheus (remote-write receiver on, default lookback) and, for tests that follow
/// alerts to their receiver, a real Alertmanager; tocsin is started against them with
/// [`Servers::tocsin`]. The servers stop when it is dropped.
pub struct Servers {
    // Fields drop in order: the servers stop before their directory goes.
    _am: Option<ChildGuard>,
    prom: Option<ChildGuard>,
    pub prom_url: String,
    /// Empty without an Alertmanager.
    pub am_url: String,
    pub dir: tempfile::TempDir,
}

impl Servers {
    /// Prometheus alone; `None` when it is not installed (outside CI).
    pub async fn prometheus() -> Option<Servers> {
        Servers::start(false).await
    }

    /// Prometheus and Alertmanager; `None` when either is not installed (outside CI).
    pub async fn with_alertmanager() -> Option<Servers> {
        Servers::start(true).await
    }

    async fn start(with_am: bool) -> Option<Servers> {
        let prom = super::peers::peer_or_skip("prometheus")?;
        let am_bin = match with_am {
            true => Some(super::peers::peer_or_skip("prometheus-alertmanager")?),
            false => None,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (p, prom_url) = start_plain_prometheus(&prom, dir.path())
            .await
            .expect("prometheus");
        let (am, am_url) = match am_bin {
            Some(bin) => {
                let (g, url) = start_alertmanager(&bin, dir.path())
                    .await
                    .expect("alertmanager");
                (Some(g), url)
            }
            None => (None, String::new()),
        };
        Some(Servers {
            _am: am,
            prom: Some(p),
            prom_url,
            am_url,
            dir,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Stops Prometheus (the datasource goes away; Alertmanager stays).
    pub fn stop_prometheus(&mut self) {
        self.prom = None;
    }

    /// Writes `text` to `name` in the directory; its path.
    pub fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// Starts tocsin as `name` with `args`, querying Prometheus and sending to the
    /// Alertmanager when there is one; panics with its log if it does not get ready.
    pub async fn tocsin(&self, name: &str, args: &[String]) -> (ChildGuard, String) {
        let mut all = args.to_vec();
        all.push(format!("-datasource.url={}", self.prom_url));
        if !self.am_url.is_empty() {
            all.push(format!("-notifier.url={}", self.am_url));
        }
        start_tocsin(&all, self.dir.path(), name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Servers::tocsin`] on the rule file `rules` (written as `rules.yml`) and `args`.
    pub async fn tocsin_on(&self, rules: &str, args: &[String]) -> (ChildGuard, String) {
        let file = self.write("rules.yml", rules);
        let mut all = vec![format!("-rule={}", file.display())];
        all.extend(args.iter().cloned());
        self.tocsin("tocsin", &all).await
    }
}

/// Starts `vmalert` (either peer set's binary `bin`) with `args` plus `-httpListenAddr`
/// on a free port, its log in `dir/vmalert.log`, and waits until it is healthy.
pub async fn start_vmalert(bin: &Path, args: &[String], dir: &Path) -> (ChildGuard, String) {
    let port = free_port();
    let mut argv = vec![bin.display().to_string()];
    argv.extend(args.iter().cloned());
    argv.push(format!("-httpListenAddr=127.0.0.1:{port}"));
    let base = format!("http://127.0.0.1:{port}");
    let guard = spawn_ready(
        "vmalert",
        &argv,
        dir,
        &base,
        "/health",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    (guard, base)
}
