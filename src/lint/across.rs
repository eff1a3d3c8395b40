//! Checks over all the files at once: duplicate rules, and rules that read what another
//! rule records only after them.

use std::collections::HashMap;

use promql_parser::parser;

use super::{DEPENDENCY_ORDER, DUPLICATE, Finding, LintFile, LintOptions, Site, sites};
use crate::config::{RuleKind, format_duration};
use crate::rule::deps::selected_names;

/// Rules identical to an earlier one (kind, name, labels and parsed expression).
pub fn duplicates(files: &[LintFile]) -> Vec<Finding> {
    let mut first: HashMap<String, Site<'_>> = HashMap::new();
    let mut out = Vec::new();
    for site in sites(files) {
        let r = site.rule;
        // The parsed expression printed back, so spacing and parentheses do not matter.
        let expr = parser::parse(&r.expr).map_or_else(|_| r.expr.to_string(), |e| e.to_string());
        let labels = r.sorted_labels();
        let kind = if matches!(r.kind, RuleKind::Alerting(_)) {
            "alert"
        } else {
            "record"
        };
        let key = format!("{kind}\u{0}{}\u{0}{expr}\u{0}{labels:?}", r.name());
        match first.get(&key) {
            Some(f) => {
                let msg = format!(
                    "same {kind}, labels and expression as rule {} of group {:?} at {}:{}: it is evaluated twice and writes the same {}",
                    f.rule.index + 1,
                    f.group.name,
                    f.file.path.display(),
                    f.rule.line,
                    if kind == "alert" { "alerts" } else { "series" }
                );
                out.extend(site.finding(&DUPLICATE, kind, None, msg));
            }
            None => {
                first.insert(key, site);
            }
        }
    }
    out
}

/// Rules that read a series recorded only after them: later in their own group, or in a
/// later group with a longer interval.
pub fn dependency_order(files: &[LintFile], opts: &LintOptions) -> Vec<Finding> {
    let all: Vec<Site<'_>> = sites(files).collect();
    let mut writers: HashMap<&str, Vec<&Site<'_>>> = HashMap::new();
    for entry in &all {
        if let RuleKind::Recording(rec) = &entry.rule.kind {
            writers.entry(&*rec.name).or_default().push(entry);
        }
    }
    let mut out = Vec::new();
    for site in &all {
        let group_no = site.group_no;
        let Some(names) = selected_names(&site.rule.expr) else {
            continue;
        };
        let interval = site.interval(opts);
        for name in names {
            let Some(ws) = writers.get(name.as_str()) else {
                continue;
            };
            let before = |w: &&Site<'_>| {
                w.group_no < group_no || (w.group_no == group_no && w.rule.index < site.rule.index)
            };
            if ws.iter().any(before) {
                continue;
            }
            let same_group_later = ws.iter().find(|w| w.group_no == group_no);
            let msg = if let Some(w) = same_group_later {
                if w.rule.index == site.rule.index {
                    continue;
                }
                format!(
                    "reads {name}, which rule {} of this group records after it: every evaluation reads the previous cycle's value; move the recording rule first",
                    w.rule.index + 1
                )
            } else {
                let Some(w) = ws.iter().find(|w| w.interval(opts) > interval) else {
                    continue;
                };
                format!(
                    "reads {name}, recorded only by group {:?} ({}:{}), which comes later and runs every {} while this group runs every {}: the value read is up to {} old",
                    w.group.name,
                    w.file.path.display(),
                    w.rule.line,
                    format_duration(w.interval(opts)),
                    format_duration(interval),
                    format_duration(w.interval(opts))
                )
            };
            out.extend(site.finding(&DEPENDENCY_ORDER, "expr", None, msg));
        }
    }
    out
}
