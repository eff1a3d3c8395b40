//! The rule-cost check (`rule/cost`, with `--datasource.url`): how many series a rule
//! reads at each evaluation and, when the datasource says, how many samples it loads;
//! a rule above `--lint.maxSeries` or `--lint.maxSamples` is reported with where its
//! cost comes from.
//!
//! Series are counted per distinct selector of the expression, over the window an
//! evaluation reads it: a range selector its range, an instant selector the 5m lookback,
//! a selector inside a subquery the subquery's range besides; at the time its offsets
//! point to. `count(last_over_time(SELECTOR[WINDOW]))` answers that on any
//! Prometheus-compatible datasource, so the figure is the same on Prometheus and
//! VictoriaMetrics. Samples come from the datasource's own statistics: the expression
//! is evaluated once with `stats=all`, and Prometheus answers with the samples it loaded
//! (`totalQueryableSamples`); a datasource that does not say (VictoriaMetrics) is not
//! held to the samples limit.

use std::collections::BTreeSet;
use std::time::Duration;

use promql_parser::parser::{self, Expr, Offset, VectorSelector, value::ValueType};

use super::series::{Cache, SeriesSource, Stopped, not_checked, plain};
use super::{COST, Finding, LintFile, Site, sites};
use crate::config::format_duration;
use crate::datasource::{InstantQuery, QueryError};

/// Prometheus' default lookback of an instant selector (`--query.lookback-delta`).
const LOOKBACK_DELTA: Duration = Duration::from_secs(300);

/// Above these, a rule is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLimits {
    /// Series read at one evaluation (`--lint.maxSeries`).
    pub max_series: u64,
    /// Samples loaded at one evaluation, where the datasource tells
    /// (`--lint.maxSamples`).
    pub max_samples: u64,
}

impl Default for CostLimits {
    fn default() -> Self {
        CostLimits {
            max_series: 10_000,
            max_samples: 1_000_000,
        }
    }
}

/// One selector as an evaluation reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Read {
    /// The selector without offset and `@`.
    selector: String,
    window: Duration,
    /// How far before the evaluation the window ends (offsets; negative: after).
    offset_ms: i64,
}

/// Runs the cost check, adding findings to `out`. A query the datasource refuses is a
/// finding (the rule's evaluations will be refused too); one that fails otherwise is a
/// finding that the rule was not checked; a datasource that stays unreachable stops
/// the check.
pub(super) async fn check(
    files: &[LintFile],
    src: &SeriesSource<'_>,
    limits: &CostLimits,
    cache: &mut Cache,
    out: &mut Vec<Finding>,
) -> Result<(), Stopped> {
    for site in sites(files) {
        let Ok(expr) = parser::parse(&site.rule.expr) else {
            continue;
        };
        let mut reads = BTreeSet::new();
        walk(&expr, Duration::ZERO, 0, &mut reads);
        if reads.is_empty() {
            continue; // numbers, `time()`, `vector(1)`: nothing read
        }
        match measure(&site, &expr, reads, src, cache).await {
            Ok((counted, evaluated)) => {
                out.extend(finding(&site, &counted, &evaluated, limits));
            }
            Err(e) if refused(&e) => {
                let msg = format!(
                    "the datasource refuses to evaluate the rule's queries ({e}): every evaluation will fail the same way"
                );
                out.extend(site.finding(&COST, "expr", None, msg));
            }
            Err(e) => {
                cache.stop_if_down(&site, &e)?;
                out.extend(not_checked(&site, &COST, "the rule's cost", &e));
            }
        }
    }
    Ok(())
}

/// The series of each read, and the expression's own statistics.
async fn measure(
    site: &Site<'_>,
    expr: &Expr,
    reads: BTreeSet<Read>,
    src: &SeriesSource<'_>,
    cache: &mut Cache,
) -> Result<(Vec<(Read, u64)>, Evaluated), QueryError> {
    let mut counted = Vec::with_capacity(reads.len());
    for r in reads {
        let n = cache
            .count(site, &r.selector, r.window, src.now_ms - r.offset_ms, src)
            .await?;
        counted.push((r, n));
    }
    Ok((counted, evaluate(site, expr, src).await?))
}

/// The finding for one rule's figures, if they are above a limit.
fn finding(
    site: &Site<'_>,
    counted: &[(Read, u64)],
    answer: &Evaluated,
    limits: &CostLimits,
) -> Option<Finding> {
    let series: u64 = counted.iter().map(|(_, n)| n).sum();
    let over_series = series > limits.max_series;
    let over_samples = answer
        .samples_queried
        .is_some_and(|s| s > limits.max_samples);
    if !over_series && !over_samples {
        return None;
    }
    let mut parts = Vec::new();
    let limit = |over: bool, flag: &str, max: u64| {
        if over {
            format!(", more than {flag}={max}")
        } else {
            String::new()
        }
    };
    parts.push(format!(
        "reads {series} series per evaluation{} ({})",
        limit(over_series, "--lint.maxSeries", limits.max_series),
        breakdown(counted)
    ));
    if let Some(s) = answer.samples_queried {
        parts.push(format!(
            "loads {s} samples per evaluation by the datasource's statistics{}",
            limit(over_samples, "--lint.maxSamples", limits.max_samples)
        ));
    }
    parts.push(format!("returns {} series", answer.returns));
    site.finding(&COST, "expr", None, parts.join("; "))
}

/// The selectors by series read, most first (at most three named).
fn breakdown(counted: &[(Read, u64)]) -> String {
    let mut v: Vec<&(Read, u64)> = counted.iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut parts: Vec<String> = v
        .iter()
        .take(3)
        .map(|(r, n)| {
            let offset = match r.offset_ms {
                0 => String::new(),
                ms if ms < 0 => format!(" offset -{}", format_duration(ms_duration(-ms))),
                ms => format!(" offset {}", format_duration(ms_duration(ms))),
            };
            format!(
                "{}{offset} over {}: {n}",
                r.selector,
                format_duration(r.window)
            )
        })
        .collect();
    if v.len() > 3 {
        parts.push(format!("{} more selectors", v.len() - 3));
    }
    parts.join(", ")
}

/// What one evaluation of the rule costs by the datasource's statistics, and how many
/// series it returns.
struct Evaluated {
    samples_queried: Option<u64>,
    returns: u64,
}

/// The rule's expression evaluated now with `stats=all`, wrapped in `count()` when it
/// returns a vector (the samples loaded are the same; the answer is one number).
async fn evaluate(
    site: &Site<'_>,
    expr: &Expr,
    src: &SeriesSource<'_>,
) -> Result<Evaluated, QueryError> {
    let mut params = site.group.params.clone();
    params.push(("stats".into(), "all".into()));
    let vector = expr.value_type() == ValueType::Vector;
    let q = InstantQuery {
        // On lines of their own: the expression may end in a `#` comment.
        expr: if vector {
            format!("count(\n{}\n)", site.rule.expr)
        } else {
            site.rule.expr.to_string()
        },
        time_ms: src.now_ms,
        params,
        headers: site.group.headers.clone(),
    };
    let a = src.querier.instant_answer(&q).await?;
    let returns = match (vector, a.samples.first()) {
        (true, Some(s)) => s.value.max(0.0) as u64,
        (true, None) => 0,
        (false, _) => a.samples.len() as u64,
    };
    Ok(Evaluated {
        samples_queried: a.samples_queried,
        returns,
    })
}

/// Whether the datasource answered and refused this query (as opposed to failing).
fn refused(e: &QueryError) -> bool {
    matches!(
        e,
        QueryError::Failed { .. }
            | QueryError::Status {
                status: 400 | 422,
                ..
            }
    )
}

fn ms_duration(ms: i64) -> Duration {
    Duration::from_millis(ms.unsigned_abs())
}

/// A signed offset in milliseconds.
fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// The selectors of `e` with the window and offset an evaluation reads them at;
/// `extra` and `shift` are those of the enclosing subqueries.
fn walk(e: &Expr, extra: Duration, shift: i64, out: &mut BTreeSet<Read>) {
    let mut read = |vs: &VectorSelector, window: Duration| {
        out.insert(Read {
            selector: plain(vs).to_string(),
            window: window + extra,
            offset_ms: shift + offset_ms(&vs.offset),
        });
    };
    match e {
        Expr::VectorSelector(vs) => read(vs, LOOKBACK_DELTA),
        Expr::MatrixSelector(ms) => read(&ms.vs, ms.range),
        Expr::Aggregate(a) => {
            walk(&a.expr, extra, shift, out);
            if let Some(p) = &a.param {
                walk(p, extra, shift, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, extra, shift, out),
        Expr::Binary(b) => {
            walk(&b.lhs, extra, shift, out);
            walk(&b.rhs, extra, shift, out);
        }
        Expr::Paren(p) => walk(&p.expr, extra, shift, out),
        Expr::Subquery(s) => walk(&s.expr, extra + s.range, shift + offset_ms(&s.offset), out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, extra, shift, out)),
        _ => {}
    }
}
