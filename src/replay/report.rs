//! What a replay found: per rule, the intervals in which each alert was pending or
//! firing, plus the counts the summary prints. Rendered as a table or as JSON.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::window::fmt_ms;
use crate::labels::Labels;
use crate::rule::{Alert, AlertState, is_stale_nan};
use crate::sample::Sample;

/// One stretch of evaluations in which an alert stayed in one state. `from` and `to`
/// are the first and last evaluation timestamps at which it was in that state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertInterval {
    pub state: &'static str,
    pub labels: Labels,
    #[serde(serialize_with = "ser_ts")]
    pub from: i64,
    #[serde(serialize_with = "ser_ts")]
    pub to: i64,
}

/// Serializes milliseconds since the epoch as RFC 3339 (`#[serde(serialize_with)]`).
pub fn ser_ts<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_ms(*ms))
}

/// Everything the replay of one rule produced, apart from the series themselves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleReport {
    pub group: String,
    pub file: String,
    pub rule: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub evaluations: u64,
    /// Evaluations that failed (query error after retries, or a rule error such as
    /// duplicate label sets or `limit`).
    pub errors: u64,
    pub samples_written: u64,
    /// Samples produced but not accepted by the remote-write target.
    pub samples_unwritten: u64,
    /// Query attempts repeated after transient failures.
    pub retries: u64,
    /// Distinct firing stretches (an alert that fires twice counts twice).
    pub alerts_fired: u64,
    pub intervals: Vec<AlertInterval>,
    /// What went wrong, each naming the window; kept short (first few).
    pub problems: Vec<String>,
    /// The samples of a recording rule, when asked for ([`super::ReplayOptions::collect`]).
    #[serde(skip)]
    pub recorded: Option<Recorded>,
}

/// The samples a recording rule produced, compactly: each series once, points by the
/// series' fingerprint. Staleness markers are left out (they only end series).
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub series: HashMap<u64, Labels>,
    /// (fingerprint, timestamp, value) in evaluation order.
    pub points: Vec<(u64, i64, f64)>,
}

impl Recorded {
    pub fn add(&mut self, samples: &[Sample]) {
        for s in samples {
            if is_stale_nan(s.value) {
                continue;
            }
            let fp = s.labels.fingerprint();
            self.series.entry(fp).or_insert_with(|| s.labels.clone());
            self.points.push((fp, s.timestamp_ms, s.value));
        }
    }
}

/// At most this many problem messages are kept per rule; the counts stay exact.
pub const MAX_PROBLEMS: usize = 10;

impl RuleReport {
    pub fn problem(&mut self, msg: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(msg);
        }
    }
}

/// Follows alert states from one evaluation to the next, closing an interval when an
/// alert changes state or disappears.
#[derive(Debug, Default)]
pub struct Tracker {
    open: HashMap<u64, AlertInterval>,
}

impl Tracker {
    /// Records the alerts held after the evaluation at `ts_ms`.
    pub fn observe<'a>(
        &mut self,
        ts_ms: i64,
        alerts: impl Iterator<Item = &'a Alert>,
        report: &mut RuleReport,
    ) {
        let mut seen: Vec<u64> = Vec::new();
        for a in alerts {
            let state = match a.state {
                AlertState::Pending => "pending",
                AlertState::Firing => "firing",
                AlertState::Inactive => continue,
            };
            let fp = a.labels.fingerprint();
            seen.push(fp);
            match self.open.get_mut(&fp) {
                Some(iv) if iv.state == state => iv.to = ts_ms,
                _ => {
                    let fresh = AlertInterval {
                        state,
                        labels: a.labels.clone(),
                        from: ts_ms,
                        to: ts_ms,
                    };
                    if state == "firing" {
                        report.alerts_fired += 1;
                    }
                    if let Some(old) = self.open.insert(fp, fresh) {
                        report.intervals.push(old);
                    }
                }
            }
        }
        if seen.len() != self.open.len() {
            let seen: std::collections::HashSet<u64> = seen.into_iter().collect();
            let gone: Vec<u64> = self
                .open
                .keys()
                .filter(|fp| !seen.contains(fp))
                .copied()
                .collect();
            for fp in gone {
                if let Some(iv) = self.open.remove(&fp) {
                    report.intervals.push(iv);
                }
            }
        }
    }

    /// Closes the intervals still open at the end of the range.
    pub fn finish(&mut self, report: &mut RuleReport) {
        report.intervals.extend(self.open.drain().map(|(_, iv)| iv));
        report
            .intervals
            .sort_by(|a, b| (a.from, &a.labels).cmp(&(b.from, &b.labels)));
    }
}

/// The JSON document of `--report --format json`.
#[derive(Debug, Serialize)]
pub struct ReportDoc<'a> {
    #[serde(serialize_with = "ser_ts")]
    pub from: i64,
    #[serde(serialize_with = "ser_ts")]
    pub to: i64,
    pub rules: &'a [RuleReport],
}

/// The report as JSON.
pub fn to_json(from: i64, to: i64, rules: &[RuleReport]) -> String {
    serde_json::to_string_pretty(&ReportDoc { from, to, rules }).unwrap_or_default()
}

/// An alert's labels for a human, without `alertname` and `alertgroup`.
pub fn labels_text(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .filter(|x| &*x.name != "alertname" && &*x.name != "alertgroup")
        .map(|x| format!("{}={:?}", x.name, &*x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The report as an aligned text table: one line per alert interval, then a line for
/// alerting rules that never became active.
pub fn to_table(rules: &[RuleReport]) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "GROUP".into(),
        "RULE".into(),
        "STATE".into(),
        "FROM".into(),
        "TO".into(),
        "LABELS".into(),
    ]];
    for r in rules.iter().filter(|r| r.kind == "alerting") {
        if r.intervals.is_empty() {
            rows.push([
                r.group.clone(),
                r.rule.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "(never active)".into(),
            ]);
        }
        for iv in &r.intervals {
            rows.push([
                r.group.clone(),
                r.rule.clone(),
                iv.state.into(),
                fmt_ms(iv.from),
                fmt_ms(iv.to),
                labels_text(&iv.labels),
            ]);
        }
    }
    align(&rows)
}

/// Rows as an aligned text table: each column as wide as its widest cell, two spaces
/// apart, the last column unpadded.
pub fn align<R: AsRef<[String]>>(rows: &[R]) -> String {
    let mut width: Vec<usize> = Vec::new();
    for row in rows {
        for (i, c) in row.as_ref().iter().enumerate() {
            if width.len() <= i {
                width.push(0);
            }
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let row = row.as_ref();
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{:<w$}  ", c, w = width[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The end-of-run summary: one line per rule, then totals.
pub fn summary(rules: &[RuleReport], wrote: bool) -> String {
    let mut out = String::new();
    let (mut written, mut unwritten, mut errors, mut retries, mut fired) = (0, 0, 0, 0, 0);
    for r in rules {
        let _ = write!(out, "{}/{}: {} evaluations", r.group, r.rule, r.evaluations);
        if wrote {
            let _ = write!(out, ", {} samples written", r.samples_written);
        }
        if r.kind == "alerting" {
            let _ = write!(out, ", {} alerts fired", r.alerts_fired);
        }
        if r.retries > 0 {
            let _ = write!(out, ", {} retries", r.retries);
        }
        if r.errors > 0 {
            let _ = write!(out, ", {} failed evaluations", r.errors);
        }
        if r.samples_unwritten > 0 {
            let _ = write!(out, ", {} samples NOT written", r.samples_unwritten);
        }
        out.push('\n');
        for p in &r.problems {
            let _ = writeln!(out, "  error: {p}");
        }
        written += r.samples_written;
        unwritten += r.samples_unwritten;
        errors += r.errors;
        retries += r.retries;
        fired += r.alerts_fired;
    }
    let _ = writeln!(
        out,
        "total: {} rules, {} samples written, {} alerts fired, {} retries, {} failed evaluations, {} samples not written",
        rules.len(),
        written,
        fired,
        retries,
        errors,
        unwritten
    );
    out
}
