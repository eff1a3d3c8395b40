//! The two kinds of check and promtool's messages for them: firing alerts at an
//! `eval_time` (labels and annotations compared as sets), and expression results
//! (sorted by labels, values compared exactly or, with `fuzzy_compare`, to the last bit).

use std::collections::{HashMap, VecDeque};

use super::driver::Backend;
use super::file::{AlertTest, ExprTest, Flavour, TestGroup};
use super::format::{self, AlertView, alert_list, indent_lines, model_duration, quote};
use crate::labels::Labels;

/// A firing alert as the rule core holds it.
#[derive(Debug, Clone)]
pub struct Got {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
}

/// An alert test waiting for its evaluation.
pub struct AlertCheck<'a> {
    pub eval_time: std::time::Duration,
    test: &'a AlertTest,
}

const ALERTGROUP: &str = "alertgroup";

impl<'a> AlertCheck<'a> {
    /// The alert tests in the order they fall due: by `eval_time`, then file order.
    pub fn due_list(tests: &'a [AlertTest]) -> VecDeque<AlertCheck<'a>> {
        let mut v: Vec<AlertCheck<'a>> = tests
            .iter()
            .map(|t| AlertCheck {
                eval_time: t.eval_time,
                test: t,
            })
            .collect();
        v.sort_by_key(|c| c.eval_time);
        v.into()
    }

    /// Compares the firing alerts (by group and alert name) with the expected ones;
    /// returns promtool's message when they differ.
    pub fn compare(
        &self,
        group: &TestGroup,
        flavour: Flavour,
        firing: &HashMap<(String, String), Vec<Got>>,
        diff: bool,
    ) -> Option<String> {
        let t = self.test;
        let in_group = |g: &str| t.groupname.as_deref().is_none_or(|want| want == g);
        let keep_alertgroup = flavour == Flavour::VmalertTool && t.groupname.is_some();
        let mut got: Vec<AlertView> = firing
            .iter()
            .filter(|((g, a), _)| *a == t.alertname && in_group(g))
            .flat_map(|(_, alerts)| alerts)
            .map(|a| {
                let labels = a
                    .labels
                    .iter()
                    .filter(|l| keep_alertgroup || &*l.name != ALERTGROUP)
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect();
                AlertView::new(labels, a.annotations.clone())
            })
            .collect();
        let mut exp: Vec<AlertView> = t
            .exp_alerts
            .iter()
            .map(|e| {
                let mut labels: Vec<(String, String)> = e
                    .labels
                    .iter()
                    .filter(|(n, _)| n != "alertname" && (!keep_alertgroup || n != ALERTGROUP))
                    .cloned()
                    .collect();
                labels.push(("alertname".into(), t.alertname.clone()));
                if let (true, Some(g)) = (keep_alertgroup, &t.groupname) {
                    labels.push((ALERTGROUP.into(), g.clone()));
                }
                AlertView::new(labels, e.annotations.clone())
            })
            .collect();
        got.sort();
        exp.sort();
        if got == exp {
            return None;
        }
        let name = if group.name.is_empty() {
            String::new()
        } else {
            format!("    name: {},\n", group.name)
        };
        let indent = "            ";
        if diff {
            let d = super::diff::alerts(&exp, &got)?;
            return Some(format!(
                "{name}    alertname: {}, time: {}, \n        diff: {}",
                t.alertname,
                model_duration(t.eval_time),
                indent_lines(&d, indent)
            ));
        }
        Some(format!(
            "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
            t.alertname,
            model_duration(t.eval_time),
            indent_lines(&alert_list(&exp), indent),
            indent_lines(&alert_list(&got), indent),
        ))
    }
}

/// A sample of an expression test, expected or got.
#[derive(Debug, Clone)]
struct Point {
    labels: Labels,
    value: f64,
}

fn points_text(ps: &[Point]) -> String {
    if ps.is_empty() {
        return "nil".to_string();
    }
    ps.iter()
        .map(|p| format!("{} {}", format::labels(&p.labels), format::value(p.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Equal as promtool compares: exactly (so NaN never equals), or with `fuzzy`, also
/// when one is the next float up or down from the other.
fn same_value(x: f64, y: f64, fuzzy: bool) -> bool {
    x == y || (fuzzy && (x.next_down() == y || x.next_up() == y))
}

/// Runs one expression test; returns promtool's message when it fails.
pub fn expr_test(t: &ExprTest, backend: &dyn Backend, fuzzy: bool) -> Option<String> {
    let head = format!(
        "    expr: {}, time: {}",
        quote(&t.expr),
        model_duration(t.eval_time)
    );
    let at = i64::try_from(t.eval_time.as_millis()).unwrap_or(i64::MAX);
    let got = match backend.query(&t.expr, at) {
        Ok(v) => v,
        Err(e) => return Some(format!("{head}, err: {e}")),
    };
    let mut exp = Vec::with_capacity(t.exp_samples.len());
    for s in &t.exp_samples {
        let parsed = if !s.histogram.is_empty() {
            Err("native histograms are not supported by tocsin's engine".to_string())
        } else {
            backend.parse_labels(&s.labels.value)
        };
        match parsed {
            Ok(labels) => exp.push(Point {
                labels,
                value: s.value,
            }),
            Err(e) => {
                return Some(format!(
                    "{head}, err: labels {}: {e}",
                    quote(&s.labels.value)
                ));
            }
        }
    }
    let mut got: Vec<Point> = got
        .into_iter()
        .map(|s| Point {
            labels: s.labels,
            value: s.value,
        })
        .collect();
    exp.sort_by(|a, b| a.labels.cmp(&b.labels));
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    let equal = exp.len() == got.len()
        && exp
            .iter()
            .zip(&got)
            .all(|(e, g)| e.labels == g.labels && same_value(e.value, g.value, fuzzy));
    if equal {
        return None;
    }
    Some(format!(
        "{head},\n        exp: {}\n        got: {}",
        points_text(&exp),
        points_text(&got)
    ))
}
