//! Command-line flags, under vmalert's names.
//!
//! vmalert users paste their command lines as they are, so flags are accepted in Go's
//! styles (`-flag=value`, `-flag value`) as well as `--flag=value`. Go's single-dash long
//! flags are rewritten to double-dash before clap sees them (see [`normalize_args`]);
//! clap then does the parsing, the help text and the "did you mean" suggestions.

use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

/// tocsin: Prometheus-compatible alerting and recording rule evaluator (vmalert flags).
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rule files like `promtool check rules`: exit 0 when all are valid, 1 if not.
    Check(CheckArgs),
    /// Evaluate rules over a past range and write what they would have produced
    /// (recorded series, `ALERTS`, `ALERTS_FOR_STATE`), or report when alerts were
    /// pending and firing (`--report`).
    Replay(Box<ReplayArgs>),
    /// Replay two rule sets (old and new) over the same past range, writing nothing, and
    /// report what the change does: alerts firing only in one, pages per day, firing
    /// time, time to fire, flapping, and recorded samples that differ.
    Backtest(Box<BacktestArgs>),
    /// Unit tests, like `promtool test`.
    Test(TestArgs),
}

mod args;
mod commands;
mod endpoint;
mod errors;
mod run;
mod server;
#[cfg(test)]
pub(crate) mod tests;
mod values;

pub use args::{items, normalize_args, split_list};
pub use errors::{exit_on_error, one_line};
pub use values::{
    parse_count, parse_float, parse_go_bool, parse_go_duration, parse_header, parse_header_list,
    split_array,
};

pub use commands::*;
pub use endpoint::*;
pub use run::*;
pub use server::*;

/// A Prometheus duration (`7d`, `1h30m`).
fn parse_prom_duration(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_label_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("invalid label {s:?}: use name=value")),
    }
}

fn parse_log_level(s: &str) -> Result<String, String> {
    let up = s.to_ascii_uppercase();
    match up.as_str() {
        "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | "PANIC" => Ok(up),
        _ => Err(format!(
            "invalid level {s:?}: use one of DEBUG, INFO, WARN, ERROR, FATAL, PANIC"
        )),
    }
}
