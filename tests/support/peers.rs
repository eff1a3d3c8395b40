//! Finding the real peers' binaries, and running child processes that die with the test.
//!
//! Two sets are installed by `integration/install-peers.sh`: Debian stable's
//! ([`PeerSet::Stable`]: Prometheus 2.42, Alertmanager, vmalert 1.79.5), for
//! compatibility with the old, and today's from Debian sid ([`PeerSet::Sid`]: Prometheus
//! 3.5, Alertmanager 0.33, vmalert 1.145), for comparisons against the new. A test that
//! cannot find a peer it needs fails under `CI=true` and is skipped (saying so) elsewhere.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Which set of installed peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerSet {
    /// Debian stable's: `$TOCSIN_PEERS_DIR`, default `<repo>/.peers/usr/bin`.
    Stable,
    /// Today's, from Debian sid: `$TOCSIN_PEERS_SID_DIR`, default
    /// `<repo>/.peers/sid/usr/bin`.
    Sid,
}

impl PeerSet {
    fn env_var(self) -> &'static str {
        match self {
            PeerSet::Stable => "TOCSIN_PEERS_DIR",
            PeerSet::Sid => "TOCSIN_PEERS_SID_DIR",
        }
    }

    /// Where this set's binaries live.
    pub fn dir(self) -> PathBuf {
        let default = match self {
            PeerSet::Stable => ".peers/usr/bin",
            PeerSet::Sid => ".peers/sid/usr/bin",
        };
        std::env::var_os(self.env_var())
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default))
    }

    /// The binary `name` of this set, if it is installed.
    pub fn find(self, name: &str) -> Option<PathBuf> {
        let p = self.dir().join(name);
        p.is_file().then_some(p)
    }

    /// The binary `name` of this set. When it is missing: panics under `CI=true` (a test
    /// must never pass silently without its server), else prints why it skips and
    /// returns `None`.
    pub fn require(self, name: &str) -> Option<PathBuf> {
        if let Some(p) = self.find(name) {
            return Some(p);
        }
        let at = self.dir().join(name);
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} peer not found at {} (CI=true)", at.display());
        }
        eprintln!(
            "SKIP: {name} peer not found at {}; run integration/install-peers.sh or set {}",
            at.display(),
            self.env_var()
        );
        None
    }
}

/// Debian stable's peer `name` (see [`PeerSet::require`]).
pub fn peer_or_skip(name: &str) -> Option<PathBuf> {
    PeerSet::Stable.require(name)
}

/// Today's peer `name`, from Debian sid (see [`PeerSet::require`]).
pub fn sid_peer_or_skip(name: &str) -> Option<PathBuf> {
    PeerSet::Sid.require(name)
}

/// `at` if it exists; else panics under `CI=true` (a test must never pass silently
/// without what it needs), or says why the test skips (`hint`: how to get it) and
/// returns `None`.
fn found_or_skip(what: &str, at: PathBuf, hint: &str) -> Option<PathBuf> {
    if at.exists() {
        return Some(at);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} not found at {} (CI=true)", at.display());
    }
    eprintln!("SKIP: {what} not found at {}; {hint}", at.display());
    None
}

/// Prometheus 3.5's Go sources installed with the sid peers (`promql/promqltest/testdata`,
/// `cmd/promtool/testdata`, …), with [`PeerSet::require`]'s rules when they are missing.
pub fn prometheus_sources_or_skip() -> Option<PathBuf> {
    let at = PeerSet::Sid
        .dir()
        .join("../share/gocode/src/github.com/prometheus/prometheus");
    found_or_skip(
        "Prometheus sources",
        at,
        "run integration/install-peers.sh or set TOCSIN_PEERS_SID_DIR",
    )
}

/// `kubernetes-validate` (PyPI, installed by `integration/install-peers.sh` into
/// `.peers/py`; `$TOCSIN_KUBERNETES_VALIDATE` overrides), with [`PeerSet::require`]'s
/// rules when it is missing.
pub fn kubernetes_validate_or_skip() -> Option<PathBuf> {
    let at = std::env::var_os("TOCSIN_KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/py/bin/kubernetes-validate")
        });
    found_or_skip(
        "kubernetes-validate",
        at,
        "run integration/install-peers.sh",
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
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
        Self::spawn_env(name, argv, dir, &[])
    }

    /// [`ChildGuard::spawn`] with `env` added to the inherited environment.
    pub fn spawn_env(
        name: &str,
        argv: &[String],
        dir: &Path,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty argv"))?;
        let child = Command::new(prog)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
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

    /// Sends SIGTERM and waits for the exit status (at most `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
