//! Command-line flags, under vmalert's names.
//!
//! vmalert users paste their command lines as they are, so flags are accepted in Go's
//! styles (`-flag=value`, `-flag value`) as well as `--flag=value`. Go's single-dash long
//! flags are rewritten to double-dash before clap sees them (see [`normalize_args`]);
//! clap then does the parsing, the help text and the "did you mean" suggestions.

use std::ffi::OsString;
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

mod commands;
mod endpoint;
mod run;
mod server;
#[cfg(test)]
mod tests;

pub use commands::*;
pub use endpoint::*;
pub use run::*;
pub use server::*;

/// Rewrites Go-style flags (`-name`, `-name=value`) into clap's `--name` form.
///
/// A token is rewritten when it starts with a single dash followed by a letter and is
/// longer than two characters: `-rule=x` → `--rule=x`, `-dryRun` → `--dryRun`. Short
/// flags (`-h`, `-V`) and values that look negative (`-7d`, `-1`) stay as they are.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut rest_is_positional = false;
    for (i, a) in args.into_iter().enumerate() {
        let a: OsString = a.into();
        if i == 0 || rest_is_positional {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest_is_positional = true;
            out.push(a);
            continue;
        }
        let b = s.as_bytes();
        let go_long = b.len() > 2 && b[0] == b'-' && b[1].is_ascii_alphabetic();
        if go_long {
            out.push(OsString::from(format!("-{s}")));
        } else {
            out.push(a);
        }
    }
    out
}

/// Splits vmalert's comma-separated list values (`-rule=a.yml,b/*.yml`) while keeping
/// commas inside glob braces (`{a,b}.yml`) and brackets intact.
pub fn split_list(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let mut depth = 0i32;
        let mut cur = String::new();
        for c in v.chars() {
            match c {
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth <= 0 {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            } else {
                cur.push(c);
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
    }
    out
}

/// Parses a duration as Go's `time.ParseDuration` does (`1m30s`, `1.5h`, `300ms`), plus
/// the `d`, `w` and `y` units that VictoriaMetrics flags also accept. A bare `0` is zero.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}: use a number with a unit, like 30s, 1m or 1h30m");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return Err(err()),
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

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
