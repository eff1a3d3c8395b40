//! What the running evaluator shows: the state the HTTP server reads (and through
//! which it asks for reloads), and the reload metrics.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};

use crate::notifier::Notifier;
use crate::reload::{ReloadRequest, Trigger};
use crate::status::{
    BoxFuture, ClusterSource, NotifierStatus, ReloadStatus, Snapshot, StateSource, StatusBoard,
};

/// Config-reload metrics, named like Prometheus' own.
#[derive(Clone, Default)]
pub(super) struct ReloadMetrics {
    successful: Gauge,
    success_ts: Gauge,
    total: Counter,
    errors: Counter,
}

impl ReloadMetrics {
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_config_last_reload_successful",
            "1 if the last reload of the rule files succeeded, 0 if it failed",
            self.successful.clone(),
        );
        r.register(
            "tocsin_config_last_reload_success_timestamp_seconds",
            "When the rule files were last loaded successfully",
            self.success_ts.clone(),
        );
        r.register(
            "tocsin_config_reloads",
            "Reloads of the rule files attempted",
            self.total.clone(),
        );
        r.register(
            "tocsin_config_reload_errors",
            "Reloads of the rule files that failed (the old rules kept running)",
            self.errors.clone(),
        );
    }

    pub(super) fn record(&self, ok: bool) {
        self.total.inc();
        if ok {
            self.successful.set(1);
            self.success_ts.set(unix_now());
        } else {
            self.successful.set(0);
            self.errors.inc();
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What the HTTP server reads and how it asks for reloads.
pub(super) struct AppState {
    pub(super) board: Arc<StatusBoard>,
    pub(super) reload_tx: mpsc::Sender<ReloadRequest>,
    pub(super) notifier: Option<Notifier>,
    /// Set on a cluster member.
    pub(super) cluster: Option<Arc<crate::cluster::Cluster>>,
    pub(super) pauses: crate::status::PauseBook,
}

impl StateSource for AppState {
    fn groups(&self) -> Snapshot {
        self.board.snapshot()
    }

    fn version(&self) -> u64 {
        self.board.version()
    }

    fn reload_status(&self) -> ReloadStatus {
        self.board.reload_status()
    }

    fn notifiers(&self) -> Vec<NotifierStatus> {
        self.notifier
            .as_ref()
            .map(Notifier::status)
            .unwrap_or_default()
    }

    fn cluster(&self) -> Option<Arc<dyn ClusterSource>> {
        self.cluster.clone().map(|c| c as Arc<dyn ClusterSource>)
    }

    fn pause_book(&self) -> Option<&crate::status::PauseBook> {
        Some(&self.pauses)
    }

    fn reload(&self) -> BoxFuture<Result<(), String>> {
        let tx = self.reload_tx.clone();
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            tx.send(ReloadRequest {
                trigger: Trigger::Http,
                reply: Some(reply),
            })
            .await
            .map_err(|_| "tocsin is shutting down".to_string())?;
            rx.await
                .map_err(|_| "tocsin is shutting down".to_string())?
        })
    }
}
