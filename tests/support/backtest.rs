//! The rules and runner the `backtest` tests share: the replay benchmark's rules as the
//! old side, the change the tests make to them, and the tocsin binary run in a
//! directory.

use std::path::Path;
use std::process::Command;

/// The replay benchmark's rules, the old side of every backtest.
pub const OLD: &str = include_str!("../../integration/bench/replay-rules.yml");

/// One threshold, one `for` and one recording expression changed.
pub fn new_rules() -> String {
    OLD.replace("load > 1.0", "load > 0.95")
        .replace("for: 10m", "for: 5m")
        .replace("load[5m]", "load[10m]")
}

/// Runs the tocsin binary in `cwd`, off the runtime's threads (a test's in-process
/// servers keep answering): exit code, stdout, stderr.
pub async fn tocsin(args: Vec<String>, cwd: &Path) -> (i32, String, String) {
    let cwd = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(&args)
            .current_dir(cwd)
            .output()
            .expect("run tocsin");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// Writes `text` to `dir/name`; returns `name`.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}
