//! From parsed flags to a printed backtest and its exit code.

use std::sync::Arc;

use super::fail_on::{self, Threshold};
use super::{BacktestError, backtest, render, sides};
use crate::cli::ReplayFlags;
use crate::config::LoadOptions;
use crate::datasource::{DatasourceMetrics, DatasourceOptions, PromClient, Querier};
use crate::replay::ReplayOptions;
use crate::replay::launch::{parse_range, settings_with_templates};
use crate::rule::RuleSettings;

/// Exit code: the report is complete and no `--fail-on` threshold was crossed.
pub const EXIT_OK: u8 = 0;
/// Exit code: the report is partial (evaluations failed, the datasource failed part-way).
pub const EXIT_PARTIAL: u8 = 1;
/// Exit code: no report (bad flags, a side that does not load, no data in the range).
pub const EXIT_NO_REPORT: u8 = 2;

/// How the report prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

/// Everything a backtest needs, taken from the flags.
#[derive(Debug, Clone)]
pub struct Launch {
    pub old: Vec<String>,
    pub new: Vec<String>,
    pub load: LoadOptions,
    pub rule_templates: Vec<String>,
    pub from: String,
    pub to: Option<String>,
    pub datasource: Option<DatasourceOptions>,
    pub settings: RuleSettings,
    pub flags: ReplayFlags,
    pub format: Format,
    pub fail_on: Vec<String>,
}

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Replay(#[from] crate::replay::launch::LaunchError),
    #[error(transparent)]
    Backtest(#[from] BacktestError),
}

/// Runs the backtest, prints the report on stdout, and returns the exit code: see
/// [`EXIT_OK`], [`EXIT_PARTIAL`], and [`fail_on::EXIT_BASE`] plus the position of the
/// first threshold crossed. A partial report exits [`EXIT_PARTIAL`] even when a
/// threshold was crossed: its figures are incomplete.
pub async fn run(l: Launch) -> Result<u8, LaunchError> {
    let thresholds: Vec<Threshold> = l
        .fail_on
        .iter()
        .map(|t| fail_on::parse(t))
        .collect::<Result<_, _>>()
        .map_err(LaunchError::Usage)?;
    let (from_ms, to_ms) = parse_range(&l.from, l.to.as_deref())?;
    let Some(ds) = l.datasource.clone() else {
        return Err(LaunchError::Usage(
            "backtest needs -datasource.url to run range queries against".into(),
        ));
    };
    let (load, old, new) = (l.load.clone(), l.old.clone(), l.new.clone());
    let (old, new) = tokio::task::spawn_blocking(move || {
        Ok::<_, sides::SideError>((
            sides::load(sides::SideName::Old, &old, &load)?,
            sides::load(sides::SideName::New, &new, &load)?,
        ))
    })
    .await
    .map_err(|e| LaunchError::Usage(format!("internal error while loading rules: {e}")))?
    .map_err(BacktestError::from)?;
    let settings = settings_with_templates(&l.settings, &l.rule_templates)?;
    let querier: Arc<dyn Querier> = Arc::new(
        PromClient::new(ds, DatasourceMetrics::new(None))
            .map_err(|e| LaunchError::Usage(format!("-datasource.*: {e}")))?,
    );
    let opts = ReplayOptions {
        from_ms,
        to_ms,
        max_points: l.flags.max_datapoints_per_query,
        // Nothing is written, so there is nothing to wait for.
        rules_delay: std::time::Duration::ZERO,
        retry_attempts: l.flags.rule_retry_attempts,
        concurrency: l.flags.rule_evaluation_concurrency,
        ..ReplayOptions::default()
    };
    eprintln!(
        "backtesting {} old and {} new rules from {} to {}",
        old.rule_count(),
        new.rule_count(),
        crate::replay::window::fmt_ms(from_ms),
        crate::replay::window::fmt_ms(to_ms)
    );
    let report = backtest(&old, &new, &settings, querier, &opts).await?;
    let crossed = fail_on::check(&thresholds, &report);
    match l.format {
        Format::Table => print!("{}", render::table(&report, &crossed)),
        Format::Json => println!("{}", render::json(&report, &crossed)),
        Format::Markdown => print!("{}", render::markdown(&report, &crossed)),
    }
    if report.partial {
        eprintln!("backtest incomplete: some evaluations failed; the report is partial");
        return Ok(EXIT_PARTIAL);
    }
    Ok(fail_on::exit_code(&crossed).unwrap_or(EXIT_OK))
}
