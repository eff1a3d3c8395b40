//! From parsed flags to a finished replay: load rules, plan, say what will happen,
//! replay, print the report and the summary.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{GroupPlan, ReplayOptions, plan, replay, report};
use crate::cli::{ReplayFlags, items};
use crate::config::{self, LoadOptions};
use crate::datasource::{DatasourceMetrics, DatasourceOptions, PromClient, Querier};
use crate::remote_write::{RemoteWriteMetrics, RemoteWriteOptions, RemoteWriter};
use crate::rule::{RuleSettings, deps};
use crate::template::Library;
use crate::timeparse::parse_time;

/// Samples per remote-write request at least: a replay writes far more than live
/// evaluation, and larger requests repeat each series' labels less often.
pub const MIN_WRITE_BATCH: usize = 10_000;

/// How `--report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
}

/// Everything a replay run needs, already taken from the flags.
#[derive(Debug, Clone)]
pub struct Launch {
    pub patterns: Vec<String>,
    pub load: LoadOptions,
    pub rule_templates: Vec<String>,
    pub from: String,
    pub to: Option<String>,
    pub datasource: Option<DatasourceOptions>,
    pub remote_write: Option<RemoteWriteOptions>,
    pub settings: RuleSettings,
    pub flags: ReplayFlags,
    /// `Some` in report mode: nothing is written.
    pub report: Option<ReportFormat>,
    /// Cancelled by SIGTERM/SIGINT: the replay stops at the next window's edge,
    /// writes what it evaluated and reports where it stopped.
    pub interrupt: CancellationToken,
}

/// Why a replay could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Usage(String),
    #[error("the rule files are invalid:\n{0}")]
    Rules(String),
    #[error(transparent)]
    Plan(#[from] super::PlanError),
    #[error("{what}: {message}")]
    Setup { what: &'static str, message: String },
    #[error("interrupted by a signal before anything was replayed")]
    Interrupted,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the replay; `Ok(true)` when everything was evaluated and written.
pub async fn run(l: Launch) -> Result<bool, LaunchError> {
    let (from_ms, to_ms) = range(&l)?;
    if l.patterns.is_empty() {
        return Err(LaunchError::Usage(
            "replay needs -rule naming the rule files".into(),
        ));
    }
    let Some(ds) = l.datasource.clone() else {
        return Err(LaunchError::Usage(
            "replay needs -datasource.url to run range queries against".into(),
        ));
    };
    if l.report.is_none() && l.remote_write.is_none() {
        return Err(LaunchError::Usage(
            "replay writes its results through -remoteWrite.url; set it, or use --report to only see when alerts were pending and firing".into(),
        ));
    }
    // A rule file that blocks (a pipe, a hung network mount) must not hold a signal.
    let set = tokio::select! {
        set = load_rules(&l) => set?,
        _ = l.interrupt.cancelled() => return Err(LaunchError::Interrupted),
    };
    let settings = settings(&l)?;
    let opts = ReplayOptions {
        from_ms,
        to_ms,
        max_points: l.flags.max_datapoints_per_query,
        rules_delay: l.flags.rules_delay,
        retry_attempts: l.flags.rule_retry_attempts,
        concurrency: l.flags.rule_evaluation_concurrency,
        progress: !l.flags.disable_progress_bar,
        write_batch: l
            .remote_write
            .as_ref()
            .map(|w| w.max_batch_size.max(MIN_WRITE_BATCH))
            .unwrap_or(MIN_WRITE_BATCH),
        cancel: l.interrupt.clone(),
        ..ReplayOptions::default()
    };
    let plans = plan(&set.groups, &settings, &opts)?;
    announce(&l, &set, &plans, &opts);
    let querier: Arc<dyn Querier> = Arc::new(
        PromClient::new(ds, DatasourceMetrics::new(None)).map_err(|e| LaunchError::Setup {
            what: "-datasource.*",
            message: e.to_string(),
        })?,
    );
    let cancel = CancellationToken::new();
    let writer = match (&l.report, &l.remote_write) {
        (None, Some(w)) => Some(
            RemoteWriter::start(w.clone(), RemoteWriteMetrics::default(), cancel.clone()).map_err(
                |e| LaunchError::Setup {
                    what: "-remoteWrite.*",
                    message: e.to_string(),
                },
            )?,
        ),
        _ => None,
    };
    let wrote = writer.is_some();
    let outcome = replay(&plans, &settings, querier, writer, &opts).await;
    cancel.cancel();
    match l.report {
        Some(ReportFormat::Table) => print!("{}", report::to_table(&outcome.rules)),
        Some(ReportFormat::Json) => println!("{}", report::to_json(from_ms, to_ms, &outcome.rules)),
        None => {}
    }
    eprint!("{}", report::summary(&outcome.rules, wrote));
    let ok = outcome.complete();
    if l.interrupt.is_cancelled() {
        eprintln!(
            "replay interrupted by a signal: what was evaluated before it is written; each rule's report says where it stopped"
        );
    } else if !ok {
        eprintln!(
            "replay incomplete: see the errors above; some evaluations or samples are missing"
        );
    }
    Ok(ok)
}

/// `--from` and `--to` (default: now) in milliseconds.
fn range(l: &Launch) -> Result<(i64, i64), LaunchError> {
    parse_range(&l.from, l.to.as_deref())
}

/// A range as `--from` and `--to` give it (`to` empty or absent: now), in milliseconds.
pub fn parse_range(from: &str, to: Option<&str>) -> Result<(i64, i64), LaunchError> {
    let now = now_ms();
    let from_ms = parse_time(from, now).map_err(|e| LaunchError::Usage(format!("--from: {e}")))?;
    let to_ms = match to {
        Some(t) if !t.is_empty() => {
            parse_time(t, now).map_err(|e| LaunchError::Usage(format!("--to: {e}")))?
        }
        _ => now,
    };
    Ok((from_ms, to_ms))
}

/// Loads the rule files (off the runtime).
async fn load_rules(l: &Launch) -> Result<config::RuleSet, LaunchError> {
    let patterns = l.patterns.clone();
    let load = l.load.clone();
    tokio::task::spawn_blocking(move || config::load(&patterns, &load).map_err(|e| e.to_string()))
        .await
        .map_err(|e| LaunchError::Rules(e.to_string()))?
        .map_err(LaunchError::Rules)
}

/// The rule settings, with the `-rule.templates` library loaded.
fn settings(l: &Launch) -> Result<RuleSettings, LaunchError> {
    settings_with_templates(&l.settings, &l.rule_templates)
}

/// `base` with the `-rule.templates` library (`templates`) loaded.
pub fn settings_with_templates(
    base: &RuleSettings,
    templates: &[String],
) -> Result<RuleSettings, LaunchError> {
    let mut settings = base.clone();
    if !templates.is_empty() {
        let lib = Library::load(&items(templates)).map_err(|e| LaunchError::Setup {
            what: "-rule.templates",
            message: e.to_string(),
        })?;
        settings.library = crate::template::SharedLibrary::new(Some(lib));
    }
    Ok(settings)
}

/// Says what the replay will do, before it starts.
fn announce(l: &Launch, set: &config::RuleSet, plans: &[GroupPlan], opts: &ReplayOptions) {
    let windows: u64 = plans
        .iter()
        .map(|p| p.plan.windows() * p.group.rules.len() as u64)
        .sum();
    let evals: u64 = plans
        .iter()
        .map(|p| p.plan.count * p.group.rules.len() as u64)
        .sum();
    eprintln!(
        "replaying {} groups ({} rules) from {} to {}: {} rule evaluations in {} range queries",
        plans.len(),
        set.rule_count(),
        super::window::fmt_ms(opts.from_ms),
        super::window::fmt_ms(opts.to_ms),
        evals,
        windows
    );
    if l.report.is_some() {
        for g in &set.groups {
            let d = deps::dependencies(&g.rules);
            if let Some(i) = (0..d.len()).find(|&i| !d[i].is_empty()) {
                eprintln!(
                    "note: in report mode nothing is written, so rule {:?} of group {:?} does not see what earlier rules of its group would have written",
                    g.rules[i].name(),
                    g.name
                );
            }
        }
    }
}
