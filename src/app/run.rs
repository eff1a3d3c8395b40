//! The evaluator: wires datasource, notifier, remote write, groups, HTTP server and
//! reload triggers together, and shuts them down in order.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::options;
use crate::cli::{RunFlags, split_list};
use crate::clock::Clock;
use crate::config::{self, LoadOptions, RuleKind, RuleSet};
use crate::datasource::{DatasourceMetrics, PromClient, Querier};
use crate::labels::Labels;
use crate::manager::restore::Restorer;
use crate::manager::{Engine, EvalMetrics, Manager};
use crate::notifier::{Notifier, NotifierMetrics};
use crate::reload::{self, ReloadRequest, Trigger};
use crate::remote_write::{RemoteWriteMetrics, RemoteWriter};
use crate::status::{
    BoxFuture, GroupStatus, NotifierStatus, ReloadStatus, StateSource, StatusBoard,
};
use crate::template::Library;
use crate::web;

/// Config-reload metrics, named like Prometheus' own.
#[derive(Clone, Default)]
struct ReloadMetrics {
    successful: Gauge,
    success_ts: Gauge,
    total: Counter,
    errors: Counter,
}

impl ReloadMetrics {
    fn register(&self, r: &mut Registry) {
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

    fn record(&self, ok: bool) {
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
struct AppState {
    board: Arc<StatusBoard>,
    reload_tx: mpsc::Sender<ReloadRequest>,
    notifier: Option<Notifier>,
}

impl StateSource for AppState {
    fn groups(&self) -> Vec<Arc<GroupStatus>> {
        self.board.snapshot()
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

fn load_options(f: &RunFlags) -> LoadOptions {
    LoadOptions {
        validate_expressions: f.validate_expressions,
        validate_templates: f.validate_templates,
        ..LoadOptions::default()
    }
}

/// Loads rules off the async runtime (file reads, YAML, validation).
async fn load_rules(patterns: Vec<String>, opts: LoadOptions) -> Result<RuleSet, String> {
    tokio::task::spawn_blocking(move || config::load(&patterns, &opts).map_err(|e| e.to_string()))
        .await
        .map_err(|e| format!("loading rules failed: {e}"))?
}

fn needs_remote_write(set: &RuleSet) -> Option<String> {
    set.groups.iter().find_map(|g| {
        g.rules.iter().find_map(|r| match &r.kind {
            RuleKind::Recording(rec) => Some(format!(
                "{}: group {:?}, recording rule {:?}",
                g.file.display(),
                g.name,
                rec.name
            )),
            RuleKind::Alerting(_) => None,
        })
    })
}

/// Runs until SIGTERM/SIGINT; a second signal exits at once.
pub async fn run(f: RunFlags) -> anyhow::Result<()> {
    let patterns = split_list(&f.rule);
    if patterns.is_empty() {
        bail!("no rule files: pass -rule=PATH (files or globs, repeatable)");
    }
    let Some(ds_url) = f.datasource_url.clone().filter(|u| !u.is_empty()) else {
        bail!(
            "-datasource.url is empty: tocsin needs a Prometheus-compatible query API to evaluate rules against"
        );
    };
    let set = load_rules(patterns.clone(), load_options(&f))
        .await
        .map_err(|e| anyhow::anyhow!("the rule files are invalid:\n{e}"))?;
    let remote_write_url = f.remote_write_url.clone().filter(|u| !u.is_empty());
    if remote_write_url.is_none()
        && let Some(what) = needs_remote_write(&set)
    {
        bail!(
            "recording rules need -remoteWrite.url to write their results to (first one: {what})"
        );
    }
    let library = if f.rule_templates.is_empty() {
        None
    } else {
        Some(Arc::new(
            Library::load(&split_list(&f.rule_templates)).context("-rule.templates")?,
        ))
    };

    let cancel = CancellationToken::new();
    let groups_cancel = cancel.child_token();
    let io_cancel = CancellationToken::new();
    let mut registry = Registry::default();

    let ds_metrics = DatasourceMetrics::new(Some(&mut registry));
    let querier: Arc<dyn Querier> = Arc::new(
        PromClient::new(options::datasource(&f, &ds_url)?, ds_metrics).context("-datasource.*")?,
    );
    for (flag, why) in f.compat.given() {
        tracing::warn!(flag, "vmalert flag accepted but has no effect: {why}");
    }
    let notifier_urls = split_list(&f.notifier_url);
    let notifier = if notifier_urls.is_empty() {
        tracing::warn!("no -notifier.url: alerts are evaluated but not sent anywhere");
        None
    } else {
        let m = NotifierMetrics::default();
        m.register(&mut registry);
        Some(
            Notifier::start(options::notifier(&f, &notifier_urls)?, m, io_cancel.clone())
                .context("-notifier.*")?,
        )
    };
    let writer = match &remote_write_url {
        None => None,
        Some(url) => {
            let m = RemoteWriteMetrics::default();
            m.register(&mut registry);
            Some(
                RemoteWriter::start(options::remote_write(&f, url)?, m, io_cancel.clone())
                    .context("-remoteWrite.*")?,
            )
        }
    };
    let restorer = match f.remote_read_url.clone().filter(|u| !u.is_empty()) {
        None => None,
        Some(url) => Some(Restorer {
            querier: Arc::new(
                PromClient::new(
                    options::remote_read(&f, &url)?,
                    DatasourceMetrics::new(None),
                )
                .context("-remoteRead.*")?,
            ),
            lookback: f.remote_read_lookback,
            external_labels: Labels::from_pairs(f.external_label.iter().cloned()),
        }),
    };
    let eval_metrics = EvalMetrics::default();
    eval_metrics.register(&mut registry);
    let reload_metrics = ReloadMetrics::default();
    reload_metrics.register(&mut registry);

    let board = Arc::new(StatusBoard::new());
    let engine = Arc::new(Engine {
        querier,
        notifier: notifier.clone(),
        writer: writer.clone(),
        board: board.clone(),
        settings: options::rule_settings(&f, library),
        metrics: eval_metrics,
        clock: Clock::System,
    });
    let mut manager = Manager::new(engine, groups_cancel.clone());
    let applied = manager.apply(&set, restorer.as_ref()).await;
    board.record_reload(SystemTime::now(), Ok(()));
    reload_metrics.record(true);
    tracing::info!(
        groups = applied.added,
        rules = set.rule_count(),
        files = set.files.len(),
        "rules loaded; evaluating"
    );

    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(1);
    let web_cancel = CancellationToken::new();
    let state = Arc::new(AppState {
        board: board.clone(),
        reload_tx: reload_tx.clone(),
        notifier: notifier.clone(),
    });
    let web_opts = web::WebOptions {
        listen_addr: f.http_listen_addr.clone(),
        reload_auth_key: Some(f.reload_auth_key.clone()).filter(|k| !k.is_empty()),
        path_prefix: f.http_path_prefix.clone(),
        external_url: f.external_url.clone().unwrap_or_default(),
        http_metrics: None,
    };
    let server = web::Server::bind(web_opts, state, Arc::new(registry))
        .await
        .context("-httpListenAddr")?;
    tracing::info!(addr = ?server.local_addr().ok(), "HTTP server listening");
    let web_task = tokio::spawn(server.run(web_cancel.clone()));

    let roots = reload::watch_roots(&patterns, &set.files);
    let _watcher = match reload::watch(
        &roots,
        Duration::from_millis(200),
        reload_tx.clone(),
        cancel.clone(),
    ) {
        Ok((w, problems)) => {
            for p in problems {
                tracing::warn!(
                    "{p}; edits there are picked up by SIGHUP, /-/reload or -configCheckInterval only"
                );
            }
            Some(w)
        }
        Err(e) => {
            tracing::warn!(
                "{e}; rule files are reloaded on SIGHUP, /-/reload or -configCheckInterval only"
            );
            None
        }
    };
    reload::on_sighup(reload_tx.clone(), cancel.clone()).context("SIGHUP handler")?;
    reload::periodic(f.config_check_interval, reload_tx.clone(), cancel.clone());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    let mut loaded_from = config::sources_fingerprint(&patterns);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            req = reload_rx.recv() => {
                let Some(req) = req else { break };
                let fp = {
                    let p = patterns.clone();
                    tokio::task::spawn_blocking(move || config::sources_fingerprint(&p)).await.ok().flatten()
                };
                if fp.is_some() && fp == loaded_from {
                    // Same files, same bytes: nothing to do (and nothing to log).
                    board.record_reload(SystemTime::now(), Ok(()));
                    reload_metrics.record(true);
                    if let Some(r) = req.reply {
                        let _ = r.send(Ok(()));
                    }
                    continue;
                }
                let result = match load_rules(patterns.clone(), load_options(&f)).await {
                    Err(e) => Err(e),
                    Ok(set) if remote_write_url.is_none() && needs_remote_write(&set).is_some() => {
                        Err(format!("recording rules need -remoteWrite.url ({})", needs_remote_write(&set).unwrap_or_default()))
                    }
                    Ok(set) => {
                        let a = manager.apply(&set, None).await;
                        if a.added + a.removed + a.changed > 0 {
                            tracing::info!(trigger = req.trigger.as_str(), added = a.added, removed = a.removed, changed = a.changed, unchanged = a.unchanged, "rules reloaded");
                        }
                        loaded_from = fp;
                        Ok(())
                    }
                };
                if let Err(e) = &result {
                    tracing::error!(trigger = req.trigger.as_str(), "reload failed; the previous rules keep running:\n{e}");
                }
                board.record_reload(SystemTime::now(), result.clone());
                reload_metrics.record(result.is_ok());
                if let Some(r) = req.reply {
                    let _ = r.send(result);
                }
            }
        }
    }

    tracing::info!(
        "shutting down: finishing evaluations, flushing alerts and samples (up to {:?}); signal again to exit at once",
        f.shutdown_timeout
    );
    tokio::spawn(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::warn!("second signal: exiting now");
        std::process::exit(1);
    });
    let deadline = Instant::now() + f.shutdown_timeout;
    cancel.cancel();
    if tokio::time::timeout_at(deadline, manager.wait())
        .await
        .is_err()
    {
        tracing::warn!("evaluations still running at the shutdown deadline");
    }
    if let Some(n) = &notifier {
        let left = n.flush(deadline).await;
        if left > 0 {
            tracing::warn!(left, "alerts not sent before the shutdown deadline");
        }
    }
    if let Some(w) = &writer {
        let left = w.flush(deadline).await;
        if left > 0 {
            tracing::warn!(left, "samples not written before the shutdown deadline");
        }
    }
    io_cancel.cancel();
    web_cancel.cancel();
    let _ = web_task.await;
    tracing::info!("stopped");
    Ok(())
}
