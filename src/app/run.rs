//! The evaluator: wires datasource, notifier, remote write and the HTTP server together
//! ([`start`]: the port listens at once, `/-/ready` false), loads and applies the rules
//! ([`Running::first_load`]), applies reloads ([`Running::handle_reloads`]), and shuts
//! the parts down in order ([`Running::shutdown`]).
//!
//! A signal is honoured at any of these moments: [`super::signals::watch`] turns the
//! first SIGTERM/SIGINT into a cancelled token that start-up, a reload and the wait
//! for reloads all race against; the second exits at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::options;
use super::signals;
use super::state::{AppState, ReloadMetrics};
use super::templates::Templates;
use crate::cli::{RunFlags, items};
use crate::clock::Clock;
use crate::cluster::{Cluster, View};
use crate::config::{self, LoadOptions, RuleKind, RuleSet};
use crate::datasource::{DatasourceMetrics, PromClient, Querier};
use crate::dns::Resolver;
use crate::labels::Labels;
use crate::manager::restore::Restorer;
use crate::manager::watchdog::WatchdogTask;
use crate::manager::{Engine, EvalMetrics, Manager};
use crate::notifier::Notifier;
use crate::reload::{self, FileWatcher, ReloadRequest};
use crate::remote_write::{RemoteWriteMetrics, RemoteWriter};
use crate::rule::RuleSettings;
use crate::status::StatusBoard;
use crate::web;

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
                g.shown_file, g.name, rec.name
            )),
            RuleKind::Alerting(_) => None,
        })
    })
}

/// Runs until SIGTERM/SIGINT; a second signal exits at once.
pub async fn run(f: RunFlags, given: Vec<crate::flag_sources::SetFlag>) -> anyhow::Result<()> {
    let signal = signals::watch().context("signal handlers")?;
    let mut running = start(&f, &given).await?;
    if running.first_load(&f, &signal).await? {
        running.handle_reloads(&signal).await;
    }
    running.shutdown(f.shutdown_timeout).await;
    Ok(())
}

/// The parts that talk to the outside: where queries go, where alerts and series go,
/// and where alert state is restored from.
struct Io {
    querier: Arc<dyn Querier>,
    notifier: Option<Notifier>,
    writer: Option<RemoteWriter>,
    restorer: Option<Arc<Restorer>>,
}

/// The evaluator after start-up.
struct Running {
    patterns: Vec<String>,
    load: LoadOptions,
    /// Whether `-remoteWrite.url` is set (recording rules need it).
    remote_write: bool,
    manager: Manager,
    /// The rule set last loaded (all groups, whoever evaluates them).
    set: RuleSet,
    cluster: Arc<Cluster>,
    /// Changes of the cluster's membership.
    view_rx: watch::Receiver<Arc<View>>,
    /// The resolver of `-cluster.peers`, until the first load starts the membership.
    dns: Option<Resolver>,
    board: Arc<StatusBoard>,
    reload_metrics: ReloadMetrics,
    reload_tx: mpsc::Sender<ReloadRequest>,
    reload_rx: mpsc::Receiver<ReloadRequest>,
    /// Restores alert state of the groups started by the first load, and (on a cluster
    /// member) of the groups taken over from other members.
    restorer: Option<Arc<Restorer>>,
    /// The rule files' fingerprint at the last successful load.
    loaded_from: Option<u64>,
    /// `-rule.templates`, read again by each reload.
    templates: Templates,
    notify: super::notify::Notify,
    writer: Option<RemoteWriter>,
    /// Stops the group tasks (a child token) and the reload triggers.
    cancel: CancellationToken,
    /// Stops the notifier's and the writer's senders, after they flushed.
    io_cancel: CancellationToken,
    web_cancel: CancellationToken,
    web_task: JoinHandle<()>,
    _watcher: Option<FileWatcher>,
    /// `-rule.watchdog`, started once the first rules run.
    watchdog: Option<WatchdogTask>,
}

/// Starts every part and serves HTTP (`/-/ready` false until the first load is
/// applied), with no rules yet. Fails, before anything runs, on invalid flags.
async fn start(f: &RunFlags, given: &[crate::flag_sources::SetFlag]) -> anyhow::Result<Running> {
    let patterns = items(&f.rule);
    if patterns.is_empty() {
        bail!("no rule files: pass -rule=PATH (files or globs, repeatable)");
    }
    let Some(ds_url) = f.datasource_url.clone().filter(|u| !u.is_empty()) else {
        bail!(
            "-datasource.url is empty: tocsin needs a Prometheus-compatible query API to evaluate rules against"
        );
    };
    let remote_write_url = f.remote_write_url.clone().filter(|u| !u.is_empty());
    let templates = Templates::load(items(&f.rule_templates))?;
    let settings = rule_settings(f, &templates)?;

    let cancel = CancellationToken::new();
    let io_cancel = CancellationToken::new();
    let mut registry = Registry::default();
    let notify = super::notify::start(f, &mut registry, &io_cancel).await?;
    let io = start_io(
        f,
        &ds_url,
        remote_write_url.as_deref(),
        notify.notifier.clone(),
        &mut registry,
        &io_cancel,
    )?;
    let eval_metrics = EvalMetrics::default();
    eval_metrics.register(&mut registry);
    let reload_metrics = ReloadMetrics::default();
    reload_metrics.register(&mut registry);
    if let Some(b) = &settings.alert_budget {
        registry.register(
            "tocsin_rule_max_active_alerts_exceeded",
            "Rule evaluations that failed because -rule.maxActiveAlerts was reached",
            b.exceeded.clone(),
        );
    }
    let (cluster, dns) = super::cluster::build(f, &mut registry)?;

    let board = Arc::new(StatusBoard::new());
    let pauses = super::operator::pause_book(f, &board)?;
    let engine = Arc::new(Engine {
        querier: io.querier,
        notifier: io.notifier.clone(),
        writer: io.writer.clone(),
        board: board.clone(),
        settings,
        metrics: eval_metrics,
        clock: Clock::System,
    });
    let watchdog = super::operator::watchdog(f, &engine, &mut registry);
    let manager = Manager::new(engine, cancel.child_token());
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(1);
    let web_cancel = CancellationToken::new();
    let state = Arc::new(AppState {
        board: board.clone(),
        reload_tx: reload_tx.clone(),
        notifier: io.notifier.clone(),
        cluster: cluster.is_clustered().then(|| cluster.clone()),
        pauses,
    });
    let web_task = start_web(f, given, state, registry, web_cancel.clone()).await?;
    Ok(Running {
        loaded_from: None,
        templates,
        patterns,
        load: super::load_options(f),
        remote_write: remote_write_url.is_some(),
        manager,
        set: RuleSet::default(),
        view_rx: cluster.subscribe(),
        cluster,
        dns,
        board,
        reload_metrics,
        reload_tx,
        reload_rx,
        restorer: io.restorer,
        notify,
        writer: io.writer,
        cancel,
        io_cancel,
        web_cancel,
        web_task,
        _watcher: None,
        watchdog,
    })
}

/// The rules' settings from the flags, rendering with the `-rule.templates` library.
fn rule_settings(f: &RunFlags, templates: &Templates) -> anyhow::Result<RuleSettings> {
    let mut settings = options::rule_settings(f, templates.shared());
    if !f.external_alert_source.is_empty() {
        let t =
            crate::template::Template::parse("-external.alert.source", &f.external_alert_source)
                .map_err(|e| anyhow::anyhow!("-external.alert.source: {e}"))?;
        settings.alert_source = Some(t);
    }
    Ok(settings)
}

/// Builds the datasource client and starts the remote writer where its flags are set.
fn start_io(
    f: &RunFlags,
    ds_url: &str,
    remote_write_url: Option<&str>,
    notifier: Option<Notifier>,
    registry: &mut Registry,
    io_cancel: &CancellationToken,
) -> anyhow::Result<Io> {
    let ds_metrics = DatasourceMetrics::new(Some(registry));
    let datasource =
        PromClient::new(options::datasource(f, ds_url)?, ds_metrics).context("-datasource.*")?;
    for (flag, why) in f.compat.given() {
        tracing::warn!(flag, "vmalert flag accepted but has no effect: {why}");
    }
    let writer = match remote_write_url {
        None => None,
        Some(url) => {
            let m = RemoteWriteMetrics::default();
            m.register(registry);
            Some(
                RemoteWriter::start(options::remote_write(f, url)?, m, io_cancel.clone())
                    .context("-remoteWrite.*")?,
            )
        }
    };
    let restorer = match f.remote_read_url.clone().filter(|u| !u.is_empty()) {
        None => None,
        Some(url) => Some(Arc::new(Restorer {
            querier: Arc::new(
                PromClient::new(options::remote_read(f, &url)?, DatasourceMetrics::new(None))
                    .context("-remoteRead.*")?
                    .sharing_slots(&datasource),
            ),
            lookback: f.remote_read_lookback,
            external_labels: Labels::from_pairs(f.external_label.iter().cloned()),
        })),
    };
    let querier: Arc<dyn Querier> = Arc::new(datasource);
    Ok(Io {
        querier,
        notifier,
        writer,
        restorer,
    })
}

/// Binds the HTTP server (its request metrics registered in `registry`) and serves
/// until `cancel` fires.
async fn start_web(
    f: &RunFlags,
    given: &[crate::flag_sources::SetFlag],
    state: Arc<AppState>,
    mut registry: Registry,
    cancel: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let http_metrics = web::metrics::HttpMetrics::register(&mut registry);
    let push_metrics = crate::pushmetrics::PushMetrics::register(&mut registry);
    let web_opts = web::WebOptions {
        http_metrics: Some(http_metrics),
        ..super::server::web_options(f, given, &mut registry)?
    };
    let registry = Arc::new(registry);
    let server = web::Server::bind(web_opts, state, registry.clone()).await?;
    let metadata = f.server.expose_metadata;
    let render: crate::pushmetrics::Render =
        Arc::new(move || web::metrics::encode(&registry, metadata).unwrap_or_default());
    crate::pushmetrics::start(&f.push, render, push_metrics, &cancel)?;
    tracing::info!(addr = ?server.local_addr().ok(), scheme = server.scheme(), "HTTP server listening");
    Ok(tokio::spawn(server.run(cancel)))
}

/// Starts the reload triggers other than `/-/reload`: the file watcher (if the rule
/// directories can be watched), SIGHUP and `-configCheckInterval`.
fn start_triggers(
    f: &RunFlags,
    patterns: &[String],
    set: &RuleSet,
    reload_tx: mpsc::Sender<ReloadRequest>,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<FileWatcher>> {
    let roots = reload::watch_roots(patterns, &set.files);
    let watcher = match reload::watch(
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
    reload::periodic(f.config_check_interval, reload_tx, cancel.clone());
    Ok(watcher)
}

impl Running {
    /// Loads the rules at start-up (invalid rules stop tocsin), starts their groups and
    /// the reload triggers. `Ok(false)` when a signal came first.
    async fn first_load(
        &mut self,
        f: &RunFlags,
        signal: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let loading = load_rules(self.patterns.clone(), self.load.clone());
        let set = tokio::select! {
            biased;
            _ = signal.cancelled() => return Ok(false),
            set = loading => set.map_err(|e| anyhow::anyhow!("the rule files are invalid:\n{e}"))?,
        };
        if !self.remote_write
            && let Some(what) = needs_remote_write(&set)
        {
            bail!(
                "recording rules need -remoteWrite.url to write their results to (first one: {what})"
            );
        }
        self.cluster
            .set_groups(&set.groups, &self.manager.engine().settings);
        let applying = super::cluster::apply_assigned(
            &mut self.manager,
            &self.cluster,
            &set,
            None,
            self.restorer.as_ref(),
        );
        let applied = tokio::select! {
            biased;
            _ = signal.cancelled() => return Ok(false),
            a = applying => a,
        };
        self.board.record_reload(SystemTime::now(), Ok(()));
        self.reload_metrics.record(true);
        self.loaded_from = config::sources_fingerprint(&self.patterns);
        tracing::info!(
            groups = applied.added,
            rules = set.rule_count(),
            files = set.files.len(),
            "rules loaded; evaluating"
        );
        // The watcher watches the template files' directories too.
        let watched: Vec<String> = (self.patterns.iter())
            .chain(self.templates.patterns())
            .cloned()
            .collect();
        self._watcher = start_triggers(f, &watched, &set, self.reload_tx.clone(), &self.cancel)?;
        self.set = set;
        if let Some(w) = self.watchdog.take() {
            tokio::spawn(w.run(self.cancel.child_token()));
        }
        // Ready from here on: the membership rounds start (peers see this member).
        self.cluster.start(self.dns.take(), self.cancel.clone());
        Ok(true)
    }

    /// Applies reload requests until `signal` fires; a reload in progress is abandoned
    /// when it does (the running groups are stopped by the shutdown that follows).
    async fn handle_reloads(&mut self, signal: &CancellationToken) {
        loop {
            let req = tokio::select! {
                biased;
                _ = signal.cancelled() => return,
                changed = self.view_rx.changed() => {
                    if changed.is_ok() {
                        self.rebalance(signal).await;
                    }
                    continue;
                }
                req = self.reload_rx.recv() => match req {
                    Some(req) => req,
                    None => return,
                },
            };
            tracing::debug!(trigger = req.trigger.as_str(), "reload requested");
            let result = tokio::select! {
                biased;
                _ = signal.cancelled() => {
                    tracing::warn!(trigger = req.trigger.as_str(), "reload abandoned: shutting down");
                    if let Some(r) = req.reply {
                        let _ = r.send(Err("tocsin is shutting down".to_string()));
                    }
                    return;
                }
                r = self.reload_all(&req) => r,
            };
            self.board.record_reload(SystemTime::now(), result.clone());
            self.reload_metrics.record(result.is_ok());
            if let Some(r) = req.reply {
                let _ = r.send(result);
            }
        }
    }

    /// Reloads `-notifier.config`, and `-rule.templates` then the rule files, each
    /// keeping what runs when its new version fails (new templates are used only once
    /// the rule files reloaded too). The notifier and the rules reload side by side: a
    /// new notifier config's first discovery round (DNS and Consul look-ups, each up to
    /// its timeout) does not hold back the new rules.
    async fn reload_all(&mut self, req: &ReloadRequest) -> Result<(), String> {
        let trigger = req.trigger.as_str();
        let Running {
            notify,
            patterns,
            load,
            remote_write,
            manager,
            loaded_from,
            set,
            cluster,
            restorer,
            templates,
            ..
        } = self;
        let rules = RuleReload {
            patterns,
            load,
            remote_write: *remote_write,
            manager,
            loaded_from,
            set,
            cluster,
            restorer: restorer.as_ref(),
        };
        let rules = async {
            let library = templates
                .read()
                .await
                .map_err(|e| reload_failed(trigger, e))?;
            rules.run(trigger).await?;
            templates.apply(library, trigger);
            Ok(())
        };
        match tokio::join!(notify.reload(trigger), rules) {
            (Ok(()), rules) => rules,
            (Err(e), Ok(())) => Err(e),
            (Err(n), Err(r)) => Err(format!("{n}\n{r}")),
        }
    }

    /// Runs what the new cluster view assigns to this member; the files did not change.
    /// A signal abandons it (the shutdown that follows stops every group).
    async fn rebalance(&mut self, signal: &CancellationToken) {
        let version = self.view_rx.borrow_and_update().version;
        tracing::debug!(version, "cluster view changed; re-applying the assignment");
        let applying = super::cluster::apply_assigned(
            &mut self.manager,
            &self.cluster,
            &self.set,
            Some(&self.set),
            self.restorer.as_ref(),
        );
        tokio::select! {
            biased;
            _ = signal.cancelled() => {}
            _ = applying => {}
        }
    }

    /// Stops serving HTTP and evaluating, then flushes alerts and samples, all within
    /// `timeout` (a second signal exits at once: see [`signals::watch`]).
    ///
    /// The HTTP server stops first, as vmalert's does: it accepts no new connection and
    /// closes each open one after the request under way. Left serving until the end, an
    /// API storm kept the two cores busy while the evaluations finished and the queues
    /// flushed (a debug build took 7.9 s to exit under 200 clients).
    async fn shutdown(self, timeout: Duration) {
        tracing::info!(
            "shutting down: finishing evaluations, flushing alerts and samples (up to {timeout:?}); signal again to exit at once"
        );
        let deadline = Instant::now() + timeout;
        self.web_cancel.cancel();
        self.cancel.cancel();
        if tokio::time::timeout_at(deadline, self.manager.wait())
            .await
            .is_err()
        {
            tracing::warn!("evaluations still running at the shutdown deadline");
        }
        if let Some(n) = &self.notify.notifier {
            let left = n.flush(deadline).await;
            if left > 0 {
                tracing::warn!(left, "alerts not sent before the shutdown deadline");
            }
        }
        if let Some(w) = &self.writer {
            let left = w.flush(deadline).await;
            if left > 0 {
                tracing::warn!(left, "samples not written before the shutdown deadline");
            }
        }
        self.io_cancel.cancel();
        let _ = self.web_task.await;
        tracing::info!("stopped");
    }
}

/// What reloading the rule files needs of [`Running`], borrowed apart from the
/// notifier so that the two reload side by side.
struct RuleReload<'a> {
    patterns: &'a [String],
    load: &'a LoadOptions,
    remote_write: bool,
    manager: &'a mut Manager,
    /// The rule files' fingerprint at the last successful load.
    loaded_from: &'a mut Option<u64>,
    /// The rule set last loaded, replaced by a successful reload.
    set: &'a mut RuleSet,
    cluster: &'a Cluster,
    restorer: Option<&'a Arc<Restorer>>,
}

impl RuleReload<'_> {
    /// Reloads the rule files, if they changed since the last successful load; a
    /// failed reload keeps the running rules.
    async fn run(self, trigger: &str) -> Result<(), String> {
        let fp = {
            let p = self.patterns.to_vec();
            tokio::task::spawn_blocking(move || config::sources_fingerprint(&p))
                .await
                .ok()
                .flatten()
        };
        if fp.is_some() && fp == *self.loaded_from {
            // Same files, same bytes: nothing to do (and nothing to log).
            return Ok(());
        }
        let set = match load_rules(self.patterns.to_vec(), self.load.clone()).await {
            Ok(set) => set,
            Err(e) => return Err(reload_failed(trigger, e)),
        };
        if !self.remote_write
            && let Some(what) = needs_remote_write(&set)
        {
            let e = format!("recording rules need -remoteWrite.url ({what})");
            return Err(reload_failed(trigger, e));
        }
        self.cluster
            .set_groups(&set.groups, &self.manager.engine().settings);
        // A single evaluator restores nothing on reload (new groups have no past); a
        // cluster member restores the groups a changed `shard_key` brought here.
        let restore = self.restorer.filter(|_| self.cluster.is_clustered());
        let a = super::cluster::apply_assigned(
            self.manager,
            self.cluster,
            &set,
            Some(&*self.set),
            restore,
        )
        .await;
        *self.set = set;
        if a.added + a.removed + a.changed > 0 {
            tracing::info!(
                trigger,
                added = a.added,
                removed = a.removed,
                changed = a.changed,
                unchanged = a.unchanged,
                "rules reloaded"
            );
        }
        *self.loaded_from = fp;
        Ok(())
    }
}

fn reload_failed(trigger: &str, e: String) -> String {
    tracing::error!(
        trigger,
        "reload failed; the previous rules keep running:\n{e}"
    );
    e
}
