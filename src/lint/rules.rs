//! Checks of one rule against its own group: templates vs. the labels the expression
//! produces, `for`/`keep_firing_for` vs. the interval, `rate` ranges, `absent`,
//! comparisons in recording rules, recording rule names.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use promql_parser::parser::{self, Expr, VectorSelector};

use super::labels::{Possible, possible};
use super::{
    ABSENT_AGGREGATION, EXTENSIONS, FOR_INTERVAL, Finding, KEEP_FIRING, LintFile, LintOptions,
    RATE_RANGE, RECORD_COMPARISON, RECORD_NAME, Site, TEMPLATE_LABEL,
};
use crate::config::{RuleKind, format_duration};

/// The labels each recording rule of the files writes, by record name, so that a
/// selector of a recorded series knows its labels (`None` for a name written by a rule
/// whose expression does not parse: anything).
pub struct RecordedLabels(HashMap<String, Option<Possible>>);

impl RecordedLabels {
    pub fn new(files: &[LintFile]) -> RecordedLabels {
        let mut map: HashMap<String, Option<Possible>> = HashMap::new();
        for site in super::sites(files) {
            let RuleKind::Recording(rec) = &site.rule.kind else {
                continue;
            };
            let labels = parser::parse(&site.rule.expr).ok().map(|e| {
                let extra: Vec<String> = site
                    .rule
                    .labels
                    .iter()
                    .map(|(k, _)| k.clone())
                    .chain(site.group.labels.iter().map(|l| l.name.to_string()))
                    .collect();
                possible(&e, &|_| None).with(&extra)
            });
            let entry = map
                .entry(rec.name.to_string())
                .or_insert_with(|| labels.clone());
            *entry = match (entry.take(), labels) {
                (Some(a), Some(b)) => Some(a.union(&b)),
                _ => None,
            };
        }
        RecordedLabels(map)
    }

    /// What a selector reads: the recorded labels for a recorded name selected by
    /// name alone (other matchers only narrow it down), else `None` (anything).
    fn of(&self, vs: &VectorSelector) -> Option<Possible> {
        let name = vs.name.as_ref()?;
        if !vs.matchers.or_matchers.is_empty() {
            return None;
        }
        self.0.get(name).cloned().flatten()
    }
}

/// Every per-rule check.
pub fn check_rule(site: &Site<'_>, opts: &LintOptions, recorded: &RecordedLabels) -> Vec<Finding> {
    let mut out: Vec<Finding> = extensions(site).into_iter().collect();
    let Ok(expr) = parser::parse(&site.rule.expr) else {
        // MetricsQL with -rule.validateExpressions=false: nothing to prove.
        return out;
    };
    match &site.rule.kind {
        RuleKind::Alerting(a) => {
            out.extend(template_labels(site, &expr, recorded));
            let interval = site.interval(opts);
            if !a.for_.is_zero()
                && (a.for_ < interval || a.for_.as_millis() % interval.as_millis() != 0)
            {
                let msg = format!(
                    "`for: {}` is {} the group interval {}: the alert fires after {} of the condition, not {}",
                    format_duration(a.for_),
                    if a.for_ < interval {
                        "shorter than"
                    } else {
                        "not a multiple of"
                    },
                    format_duration(interval),
                    format_duration(round_up(a.for_, interval)),
                    format_duration(a.for_),
                );
                out.extend(site.finding(&FOR_INTERVAL, "for", None, msg));
            }
            if !a.keep_firing_for.is_zero() && a.for_.is_zero() {
                let msg = format!(
                    "`keep_firing_for: {}` without `for`: one evaluation with the condition true fires the alert for at least that long; add a `for`",
                    format_duration(a.keep_firing_for)
                );
                out.extend(site.finding(&KEEP_FIRING, "keep_firing_for", None, msg));
            }
        }
        RuleKind::Recording(rec) => {
            if let Expr::Binary(b) = unparen(&expr)
                && b.op.is_comparison_operator()
                && !b.modifier.as_ref().is_some_and(|m| m.return_bool)
            {
                let msg = format!(
                    "the expression ends in a comparison `{}` without `bool`: only the series that pass are recorded; write `{} bool` to record 0 or 1",
                    b.op, b.op
                );
                out.extend(site.finding(&RECORD_COMPARISON, "expr", None, msg));
            }
            if !is_conventional_name(&rec.name) {
                let msg = format!(
                    "recording rule name {:?} is not of the form level:metric:operations (e.g. job:http_requests:rate5m)",
                    rec.name
                );
                out.extend(site.finding(&RECORD_NAME, "record", None, msg));
            }
        }
    }
    let mut short = Vec::new();
    short_rates(&expr, (site.interval(opts), "group interval"), &mut short);
    for msg in short {
        out.extend(site.finding(&RATE_RANGE, "expr", None, msg));
    }
    walk(&expr, &mut |e| {
        if let Some(msg) = absent_of_aggregation(e) {
            out.extend(site.finding(&ABSENT_AGGREGATION, "expr", None, msg));
        }
    });
    out
}

/// `rule/extensions`: a rule that uses tocsin's extensions, at the first one it writes
/// (at the rule when it only inherits its group's `no_data`/`on_error`).
fn extensions(site: &Site<'_>) -> Option<Finding> {
    let RuleKind::Alerting(a) = &site.rule.kind else {
        return None;
    };
    let keys = a.ext.keys();
    // `no_data` and `on_error` may come from the group: point at a key the rule writes
    // when there is one (an inherited key is not found, and the rule's line is taken).
    let own = |k: &&&str| !matches!(**k, "no_data" | "on_error");
    let first = keys.iter().find(own).or(keys.first())?;
    let msg = format!(
        "uses tocsin's extensions {}: this file loads in tocsin only, not in Prometheus or vmalert",
        keys.join(", ")
    );
    site.finding(&EXTENSIONS, first, None, msg)
}

fn round_up(d: Duration, step: Duration) -> Duration {
    let (d, s) = (d.as_millis(), step.as_millis().max(1));
    Duration::from_millis(d.div_ceil(s).saturating_mul(s) as u64)
}

/// `level:metric:operations`: three non-empty parts.
fn is_conventional_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty())
}

/// Labels templates read that the expression cannot produce.
fn template_labels(site: &Site<'_>, expr: &Expr, recorded: &RecordedLabels) -> Vec<Finding> {
    let produced = possible(expr, &|vs| recorded.of(vs));
    let RuleKind::Alerting(a) = &site.rule.kind else {
        return Vec::new();
    };
    // Annotations see the alert's final labels: the rule's and the group's too.
    let mut extra: Vec<String> = site.rule.labels.iter().map(|(k, _)| k.clone()).collect();
    extra.extend(site.group.labels.iter().map(|l| l.name.to_string()));
    extra.extend(["alertname".to_string(), "alertgroup".to_string()]);
    let in_annotations = produced.with(&extra);
    let mut out = Vec::new();
    let templates = site
        .rule
        .labels
        .iter()
        .map(|(k, t)| ("label", k, t, &produced))
        .chain(
            a.annotations
                .iter()
                .map(|(k, t)| ("annotation", k, t, &in_annotations)),
        );
    for (section, key, t, have) in templates {
        let missing: BTreeSet<String> = t
            .label_refs()
            .into_iter()
            .filter(|l| !have.may_have(l))
            .collect();
        for l in missing {
            let msg = format!(
                "{section} {key:?} uses $labels.{l}, but the expression's result never has label {l:?} ({}); it always renders empty",
                describe(have)
            );
            out.extend(site.finding(&TEMPLATE_LABEL, &format!("{section}s"), Some(key), msg));
        }
    }
    out
}

fn describe(p: &Possible) -> String {
    match p {
        Possible::Only(s) if s.is_empty() => "it has no labels".to_string(),
        Possible::Only(s) => format!(
            "it can only have {}",
            s.iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Possible::Any { except } => format!(
            "{} removed",
            except
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        _ => e,
    }
}

/// Calls `f` on `e` and every expression inside it.
pub(crate) fn walk<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    for c in children(e) {
        walk(c, f);
    }
}

/// The expressions directly inside `e`.
fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => std::iter::once(&*a.expr)
            .chain(a.param.as_deref())
            .collect(),
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Subquery(s) => vec![&s.expr],
        Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => Vec::new(),
    }
}

/// Short `rate` ranges in `e`, evaluated every `step`: the group interval, or inside a
/// subquery its step (a subquery without one runs at the group interval too).
fn short_rates(e: &Expr, step: (Duration, &'static str), out: &mut Vec<String>) {
    out.extend(short_rate(e, step));
    let inner = match e {
        Expr::Subquery(s) => s.step.map_or(step, |d| (d, "subquery step")),
        _ => step,
    };
    for c in children(e) {
        short_rates(c, inner, out);
    }
}

/// `rate(x[r])` (or `irate`, `increase`) with `r` < 2 × the step it runs at.
fn short_rate(e: &Expr, (interval, what): (Duration, &str)) -> Option<String> {
    let Expr::Call(c) = e else { return None };
    if !matches!(c.func.name, "rate" | "irate" | "increase") {
        return None;
    }
    let range = match c.args.args.first().map(|a| unparen(a)) {
        Some(Expr::MatrixSelector(m)) => m.range,
        Some(Expr::Subquery(s)) => s.range,
        _ => return None,
    };
    (range < interval * 2).then(|| {
        format!(
            "{}() over [{}] is shorter than twice the {what} {}: windows with fewer than two samples give no result; use at least [{}]",
            c.func.name,
            format_duration(range),
            format_duration(interval),
            format_duration(interval * 2)
        )
    })
}

/// `absent(...)` whose argument aggregates.
fn absent_of_aggregation(e: &Expr) -> Option<String> {
    let Expr::Call(c) = e else { return None };
    if !matches!(c.func.name, "absent" | "absent_over_time") {
        return None;
    }
    let mut aggregates = None;
    for a in &c.args.args {
        walk(a, &mut |x| {
            if let Expr::Aggregate(ag) = x {
                aggregates.get_or_insert_with(|| ag.op.to_string());
            }
        });
    }
    aggregates.map(|op| {
        format!(
            "{}() over an aggregation ({op}) returns a series without labels, so the alert cannot say what is missing; put the selector itself inside {}()",
            c.func.name, c.func.name
        )
    })
}
