//! A reader and runner of Prometheus' PromQL test files (`promql/promqltest/testdata/
//! *.test`): `load` blocks in the series notation, `clear`, and `eval` commands with
//! their expected results, failures (`eval_fail`, `expected_fail_message`,
//! `expected_fail_regexp`), annotations (`eval_warn`, `eval_info`, `expect …` lines) and
//! order (`eval_ordered`, `expect ordered`).
//!
//! [`parse`] reads a file into [`Command`]s; [`run`](run::run) executes them and reports
//! an [`Outcome`] per `eval`, checked the way Prometheus' own runner checks (including
//! re-running instant queries with `@` pinned and in range mode).

mod atmod;
mod run;

use std::sync::LazyLock;

use regex::Regex;

use super::notation::{self, NotationError, SeqValue};
use crate::config::duration::parse_duration;
use crate::labels::Labels;

pub use run::{EvalReport, Outcome, run};

/// A mistake in a test file, at a line (1-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TestFileError {
    pub line: usize,
    pub message: String,
}

fn error<T>(line: usize, message: impl Into<String>) -> Result<T, TestFileError> {
    Err(TestFileError {
        line: line + 1,
        message: message.into(),
    })
}

/// One command of a test file.
#[derive(Debug, Clone)]
pub enum Command {
    Clear,
    Load(Load),
    Eval(Box<EvalCmd>),
}

/// A `load` block.
#[derive(Debug, Clone)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    pub series: Vec<(Labels, Vec<SeqValue>)>,
    /// `load_with_nhcb`: classic histograms are also loaded as native ones.
    pub with_nhcb: bool,
    /// Series with native histogram samples (not loaded).
    pub native_series: Vec<Labels>,
}

/// When an `eval` runs.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalKind {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// What an `expect` line or `expected_fail_*` line accepts.
#[derive(Debug, Clone)]
pub enum Expectation {
    Message(String),
    Pattern(Regex),
}

impl Expectation {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Expectation::Message(m) => m == s,
            Expectation::Pattern(r) => r.is_match(s),
        }
    }
}

/// The expected answer.
#[derive(Debug, Clone)]
pub enum Expected {
    Scalar(f64),
    /// Series with their values and 1-based position (for ordered checks).
    Series(Vec<(Labels, Vec<SeqValue>, usize)>),
}

/// An `eval` command.
#[derive(Debug, Clone)]
pub struct EvalCmd {
    /// 1-based line of the `eval`.
    pub line: usize,
    pub expr: String,
    pub kind: EvalKind,
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub ordered: bool,
    pub fail_expectation: Vec<Expectation>,
    pub expect_warn: Vec<Expectation>,
    pub expect_info: Vec<Expectation>,
    pub no_warn: bool,
    pub no_info: bool,
    pub expected: Expected,
    /// The expected results hold native histograms.
    pub native: bool,
}

fn regex(re: &str) -> Regex {
    Regex::new(re).expect("valid regex")
}

static LOAD: LazyLock<Regex> = LazyLock::new(|| regex(r"^load(?:_(with_nhcb))?\s+(.+?)$"));
static EVAL_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
});
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
});

fn lines(input: &str) -> Vec<String> {
    input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }.to_string()
        })
        .collect()
}

fn duration_ms(s: &str, line: usize, what: &str) -> Result<i64, TestFileError> {
    match parse_duration(s.trim()) {
        Ok(d) => Ok(d.as_millis() as i64),
        Err(e) => error(line, format!("invalid {what} {s:?}: {e}")),
    }
}

/// Reads a test file.
pub fn parse(input: &str) -> Result<Vec<Command>, TestFileError> {
    let lines = lines(input);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split_whitespace().next().unwrap_or("").to_lowercase();
        let (next, cmd) = if word == "clear" {
            (i, Command::Clear)
        } else if word.starts_with("load") {
            let (n, load) = parse_load(&lines, i)?;
            (n, Command::Load(load))
        } else if word.starts_with("eval") {
            let (n, e) = parse_eval(&lines, i)?;
            (n, Command::Eval(Box::new(e)))
        } else {
            return error(i, format!("invalid command {l:?}"));
        };
        out.push(cmd);
        i = next + 1;
    }
    Ok(out)
}

fn notation_error(line: usize, e: NotationError) -> TestFileError {
    TestFileError {
        line: line + 1,
        message: e.to_string(),
    }
}

fn parse_load(lines: &[String], start: usize) -> Result<(usize, Load), TestFileError> {
    let Some(c) = LOAD.captures(&lines[start]) else {
        return error(
            start,
            "invalid load command. (load[_with_nhcb] <step:duration>)",
        );
    };
    let mut load = Load {
        line: start + 1,
        step_ms: duration_ms(&c[2], start, "step definition")?,
        series: Vec::new(),
        with_nhcb: c.get(1).is_some(),
        native_series: Vec::new(),
    };
    let mut i = start;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        if lines[i].contains("{{") {
            let (labels, _) =
                notation::split_series(&lines[i]).map_err(|e| notation_error(i, e))?;
            load.native_series.push(labels);
            continue;
        }
        let s = notation::parse_series(&lines[i]).map_err(|e| notation_error(i, e))?;
        load.series.push(s);
    }
    Ok((i, load))
}

/// Parses a number as Go's `ParseInt(s, 0, 64)` then `ParseFloat` would.
fn parse_number(s: &str) -> Option<f64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    s.parse::<i64>()
        .ok()
        .map(|v| v as f64)
        .or_else(|| notation::parse_number(s))
}

fn eval_header(lines: &[String], i: usize) -> Result<EvalCmd, TestFileError> {
    let l = &lines[i];
    let (modifier, expr, kind) = if let Some(c) = EVAL_INSTANT.captures(l) {
        let at = c.get(2).map(|m| m.as_str()).unwrap_or("");
        let at_ms = duration_ms(at, i, "timestamp definition")?;
        (
            c.get(1).map(|m| m.as_str()),
            c[3].to_string(),
            EvalKind::Instant { at_ms },
        )
    } else if let Some(c) = EVAL_RANGE.captures(l) {
        let start_ms = duration_ms(&c[2], i, "start timestamp definition")?;
        let end_ms = duration_ms(&c[3], i, "end timestamp definition")?;
        let step_ms = duration_ms(&c[4], i, "step definition")?;
        if end_ms < start_ms {
            return error(
                i,
                "invalid test definition, end timestamp is before start timestamp",
            );
        }
        let kind = EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        };
        (c.get(1).map(|m| m.as_str()), c[5].to_string(), kind)
    } else {
        return error(i, "invalid evaluation command");
    };
    Ok(EvalCmd {
        line: i + 1,
        expr,
        kind,
        fail: modifier == Some("fail"),
        warn: modifier == Some("warn"),
        info: modifier == Some("info"),
        ordered: modifier == Some("ordered"),
        fail_expectation: Vec::new(),
        expect_warn: Vec::new(),
        expect_info: Vec::new(),
        no_warn: false,
        no_info: false,
        expected: Expected::Series(Vec::new()),
        native: false,
    })
}

fn parse_eval(lines: &[String], start: usize) -> Result<(usize, EvalCmd), TestFileError> {
    let mut cmd = eval_header(lines, start)?;
    let mut i = start;
    let mut pos = 0;
    let mut series = Vec::new();
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let l = &lines[i];
        if cmd.fail
            && let Some(m) = l.strip_prefix("expected_fail_message")
        {
            cmd.fail_expectation
                .push(Expectation::Message(m.trim().to_string()));
            break;
        }
        if cmd.fail
            && let Some(p) = l.strip_prefix("expected_fail_regexp")
        {
            let re = Regex::new(p.trim())
                .or_else(|e| error(i, format!("invalid expected_fail_regexp: {e}")))?;
            cmd.fail_expectation.push(Expectation::Pattern(re));
            break;
        }
        if l.split(' ').next() == Some("expect") {
            parse_expect(l, i, &mut cmd)?;
            continue;
        }
        if let Some(f) = parse_number(l) {
            cmd.expected = Expected::Scalar(f);
            break;
        }
        pos += 1;
        if l.contains("{{") {
            cmd.native = true;
            continue;
        }
        let (labels, vals) = notation::parse_series(l).map_err(|e| notation_error(i, e))?;
        if vals.len() > 1 && matches!(cmd.kind, EvalKind::Instant { .. }) {
            return error(
                i,
                "expecting multiple values in instant evaluation not allowed",
            );
        }
        series.push((labels, vals, pos));
    }
    if !matches!(cmd.expected, Expected::Scalar(_)) {
        cmd.expected = Expected::Series(series);
    }
    Ok((i, cmd))
}

fn parse_expect(l: &str, i: usize, cmd: &mut EvalCmd) -> Result<(), TestFileError> {
    let Some(c) = EXPECT.captures(l.trim()) else {
        return error(
            i,
            "invalid expect statement, must match `expect <type> <match_type>: <string>` format",
        );
    };
    let expectation = match c.get(2).map(|m| m.as_str()) {
        Some("msg") => Expectation::Message(c[3].trim().to_string()),
        Some(_) => Expectation::Pattern(
            Regex::new(c[3].trim()).or_else(|e| error(i, format!("invalid regex: {e}")))?,
        ),
        None => Expectation::Pattern(regex("^.*$")),
    };
    match &c[1] {
        "ordered" => cmd.ordered = true,
        "fail" => {
            cmd.fail = true;
            cmd.fail_expectation.push(expectation);
        }
        "warn" => cmd.expect_warn.push(expectation),
        "info" => cmd.expect_info.push(expectation),
        "no_warn" => cmd.no_warn = true,
        _ => cmd.no_info = true,
    }
    Ok(())
}
