//! What operators add around the rules: the `-rule.watchdog` dead man's switch, and
//! pausing rules (with the pauses of `-rule.pausesFile`).

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::cli::RunFlags;
use crate::clock::Clock;
use crate::manager::Engine;
use crate::manager::watchdog::{WatchdogMetrics, WatchdogTask};
use crate::status::{PauseBook, StatusBoard};

/// Pausing and resuming rules, with the pauses of `-rule.pausesFile` (if set) in force.
pub(super) fn pause_book(f: &RunFlags, board: &Arc<StatusBoard>) -> anyhow::Result<PauseBook> {
    let file = f
        .rule_pauses_file
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(path) = &file {
        let now = Clock::System.now_ms();
        let loaded = crate::status::pauses::load(path, now)?;
        if !loaded.is_empty() {
            tracing::info!(pauses = loaded.len(), file = %path.display(), "paused rules restored");
        }
        board.update_pauses(|p| *p = loaded);
    }
    Ok(PauseBook::new(board.clone(), file))
}

/// The `-rule.watchdog` task (not yet running), its metrics registered.
pub(super) fn watchdog(
    f: &RunFlags,
    engine: &Arc<Engine>,
    registry: &mut Registry,
) -> Option<WatchdogTask> {
    if f.rule_watchdog.is_empty() {
        return None;
    }
    let interval = if f.rule_watchdog_interval.is_zero() {
        f.evaluation_interval
    } else {
        f.rule_watchdog_interval
    };
    let metrics = WatchdogMetrics::default();
    metrics.register(registry);
    Some(WatchdogTask::new(
        engine.clone(),
        &f.rule_watchdog,
        interval,
        metrics,
    ))
}
