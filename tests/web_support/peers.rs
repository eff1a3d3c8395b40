//! The web shape tests' view of the shared peer helpers (tests/common/peers.rs), in the
//! shapes those tests use.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use serde_json::Value;

#[path = "../common/peers.rs"]
pub mod common;

/// The peer binary `name`; panics under `CI=true` when missing, else skips.
pub fn peer_binary(name: &str) -> Option<PathBuf> {
    common::peer_or_skip(name)
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
    common::free_port().expect("free port")
}

/// Polls `url` until its JSON satisfies `done`; panics after `timeout`.
pub async fn poll_json(url: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
    common::poll_json(url, timeout, done)
        .await
        .unwrap_or_else(|| panic!("{url} did not reach the expected state in {timeout:?}"))
}
