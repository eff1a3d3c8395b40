//! The backtest report as a text table (the default), as JSON and as Markdown for a
//! pull-request comment.

use std::fmt::Write as _;

use serde::Serialize;

use super::fail_on::Crossed;
use super::{AlertingRow, RecordingRow, Report, SideFigures, row_name};
use crate::replay::report::{align, labels_text};
use crate::replay::window::fmt_ms;

/// Examples of alerts firing on one side only shown per rule in the table and in
/// Markdown (JSON has up to [`super::alerts::MAX_EXAMPLES`]).
const SHOWN_EXAMPLES: usize = 5;

/// `3d4h`, `2h5m`, `40s`: the two largest units.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "-".into();
    }
    let s = secs.round() as i64;
    let parts = [
        (s / 86_400, "d"),
        (s % 86_400 / 3600, "h"),
        (s % 3600 / 60, "m"),
        (s % 60, "s"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n != 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if shown.is_empty() {
        "0s".into()
    } else {
        shown.concat()
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `old → new` of one figure; `-` on a side without the rule.
fn change(
    row: &AlertingRow,
    f: impl Fn(&SideFigures) -> Option<f64>,
    show: impl Fn(f64) -> String,
) -> String {
    let side = |s: &Option<SideFigures>| {
        s.as_ref()
            .and_then(&f)
            .map_or_else(|| "-".to_string(), &show)
    };
    let (o, n) = (side(&row.diff.old), side(&row.diff.new));
    if o == n { o } else { format!("{o} → {n}") }
}

fn alerting_cells(r: &AlertingRow) -> Vec<String> {
    let d = &r.diff;
    vec![
        row_name(&r.old_rule, &r.new_rule),
        r.matched_by.text().to_string(),
        change(r, |f| Some(f.pages_per_day), num),
        d.only_old.to_string(),
        d.only_new.to_string(),
        change(r, |f| Some(f.firing_seconds_total), duration),
        change(r, |f| f.firing_seconds_median, duration),
        change(r, |f| f.time_to_fire_seconds_median, duration),
        format!(
            "+{} -{}",
            d.started_flapping.len(),
            d.stopped_flapping.len()
        ),
    ]
}

const ALERTING_HEAD: [&str; 9] = [
    "ALERTING RULE",
    "MATCHED BY",
    "PAGES/DAY",
    "ONLY OLD",
    "ONLY NEW",
    "FIRING TOTAL",
    "MEDIAN FIRING",
    "MEDIAN TIME TO FIRE",
    "FLAPPING +STARTED -STOPPED",
];

fn recording_cells(r: &RecordingRow) -> Vec<String> {
    let mut cells = vec![
        row_name(&r.old_rule, &r.new_rule),
        r.matched_by.text().to_string(),
    ];
    match &r.diff {
        Some(d) if d.compared => cells.extend([
            format!("{} / {}", d.old_samples, d.new_samples),
            d.differing.to_string(),
            d.only_old.to_string(),
            d.only_new.to_string(),
            format!("{:.6}", d.max_abs_difference),
            format!("{:.4}", d.max_rel_difference),
        ]),
        Some(_) => cells.extend(["same rule: not compared".into()]),
        None => {}
    }
    cells
}

const RECORDING_HEAD: [&str; 8] = [
    "RECORDING RULE",
    "MATCHED BY",
    "SAMPLES OLD / NEW",
    "DIFFERING",
    "ONLY OLD",
    "ONLY NEW",
    "MAX ABS DIFF",
    "MAX REL DIFF",
];

fn head(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

fn intro(r: &Report) -> String {
    let mut out = String::new();
    let days = (r.to - r.from) as f64 / 86_400_000.0;
    let _ = writeln!(
        out,
        "backtest {} .. {} ({days:.2} days)",
        fmt_ms(r.from),
        fmt_ms(r.to)
    );
    for (name, s) in [("old", &r.old), ("new", &r.new)] {
        let _ = writeln!(
            out,
            "{name}: {} ({} groups, {} rules, {} evaluations, {} failed)",
            s.sources.join(" "),
            s.groups,
            s.rules,
            s.evaluations,
            s.failed_evaluations
        );
    }
    let _ = writeln!(
        out,
        "range queries: {} sent to the datasource for {} asked by the rules of both sides",
        r.queries.sent, r.queries.asked
    );
    out
}

fn partial_note(r: &Report) -> Option<String> {
    r.partial.then(|| {
        "PARTIAL REPORT: some evaluations failed (see the problems below); the figures cover only what was evaluated".to_string()
    })
}

/// One line per alert firing on one side only, for the rules that have any.
fn examples(r: &Report, per_rule: usize) -> Vec<String> {
    let mut out = Vec::new();
    for row in &r.alerting {
        let name = row_name(&row.old_rule, &row.new_rule);
        for (side, pages, total) in [
            ("only old", &row.diff.only_old_examples, row.diff.only_old),
            ("only new", &row.diff.only_new_examples, row.diff.only_new),
        ] {
            for p in pages.iter().take(per_rule) {
                out.push(format!(
                    "{name}: {side}: {} firing {} .. {}",
                    labels_text(&p.labels),
                    fmt_ms(p.from),
                    fmt_ms(p.to)
                ));
            }
            if total as usize > per_rule.min(pages.len()) {
                out.push(format!(
                    "{name}: {side}: … and {} more",
                    total as usize - per_rule.min(pages.len())
                ));
            }
        }
    }
    out
}

fn crossed_lines(crossed: &[Crossed]) -> Vec<String> {
    crossed
        .iter()
        .map(|c| {
            format!(
                "--fail-on '{}' crossed by {} ({})",
                c.text,
                c.rule,
                num(c.value)
            )
        })
        .collect()
}

/// The report as text tables.
pub fn table(r: &Report, crossed: &[Crossed]) -> String {
    let mut out = intro(r);
    if let Some(p) = partial_note(r) {
        let _ = writeln!(out, "{p}");
    }
    out.push('\n');
    if !r.alerting.is_empty() {
        let mut rows = vec![head(&ALERTING_HEAD)];
        rows.extend(r.alerting.iter().map(alerting_cells));
        out.push_str(&align(&rows));
        out.push('\n');
    }
    if !r.recording.is_empty() {
        let mut rows = vec![head(&RECORDING_HEAD)];
        rows.extend(r.recording.iter().map(recording_cells));
        out.push_str(&align(&rows));
        out.push('\n');
    }
    for l in examples(r, SHOWN_EXAMPLES)
        .into_iter()
        .chain(r.problems.iter().map(|p| format!("problem: {p}")))
        .chain(crossed_lines(crossed))
    {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// The JSON document of `--format json`: the report, plus the thresholds crossed.
#[derive(Serialize)]
struct JsonDoc<'a> {
    #[serde(flatten)]
    report: &'a Report,
    fail_on: &'a [Crossed],
}

pub fn json(r: &Report, crossed: &[Crossed]) -> String {
    serde_json::to_string_pretty(&JsonDoc {
        report: r,
        fail_on: crossed,
    })
    .unwrap_or_default()
}

fn md_row(cells: &[String]) -> String {
    let esc: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", esc.join(" | "))
}

fn md_table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = md_row(&head(headers));
    out.push_str(&md_row(&vec!["---".to_string(); headers.len()]));
    for mut r in rows {
        r.resize(headers.len(), String::new());
        out.push_str(&md_row(&r));
    }
    out
}

/// The report as Markdown, for a pull-request comment.
pub fn markdown(r: &Report, crossed: &[Crossed]) -> String {
    let mut out = String::from("### tocsin backtest\n\n");
    if let Some(p) = partial_note(r) {
        let _ = writeln!(out, "> **{p}**\n");
    }
    for l in crossed_lines(crossed) {
        let _ = writeln!(out, "- :x: {}", l.replace('\'', "`"));
    }
    if !crossed.is_empty() {
        out.push('\n');
    }
    out.push_str("```\n");
    out.push_str(&intro(r));
    out.push_str("```\n\n");
    if !r.alerting.is_empty() {
        out.push_str(&md_table(
            &ALERTING_HEAD,
            r.alerting.iter().map(alerting_cells).collect(),
        ));
        out.push('\n');
    }
    if !r.recording.is_empty() {
        out.push_str(&md_table(
            &RECORDING_HEAD,
            r.recording.iter().map(recording_cells).collect(),
        ));
        out.push('\n');
    }
    let details: Vec<String> = examples(r, SHOWN_EXAMPLES)
        .into_iter()
        .chain(r.problems.iter().map(|p| format!("problem: {p}")))
        .collect();
    if !details.is_empty() {
        out.push_str(
            "<details><summary>Alerts firing on one side only, problems</summary>\n\n```\n",
        );
        for l in details {
            let _ = writeln!(out, "{}", l.replace("```", "'''"));
        }
        out.push_str("```\n</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_the_two_largest_units() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(40.0), "40s");
        assert_eq!(duration(3_900.0), "1h5m");
        assert_eq!(duration(90_061.0), "1d1h");
        assert_eq!(duration(86_400.0 + 60.0), "1d");
    }
}
