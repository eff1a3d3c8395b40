//! Real peer processes for shape tests: locating binaries, free ports, and a guard
//! that kills the process on drop (also on panic).

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The peer binary `name`, from `$TOCSIN_PEERS_DIR` or `<repo>/.peers/usr/bin`. When it
/// is missing: panics if `CI=true`, else prints a skip message and returns `None`.
pub fn peer_binary(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TOCSIN_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".peers/usr/bin"));
    let bin = dir.join(name);
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} peer not found at {} (CI=true)", bin.display());
    }
    eprintln!(
        "SKIP: {name} peer not found at {}; run integration/install-peers.sh or set TOCSIN_PEERS_DIR",
        bin.display()
    );
    None
}

/// Kills the child process when dropped, also on panic.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `url` until its JSON satisfies `done`; panics after `timeout`.
pub async fn poll_json(url: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = reqwest::get(url).await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && done(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not reach the expected state in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
