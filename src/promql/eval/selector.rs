//! Selectors and subqueries: what the store holds at (or in a window before) a time.
//!
//! An instant selector takes each series' newest sample in `(t - lookback, t]`, unless it
//! is a stale marker. A range selector takes the samples in `(t - range, t]`, stale
//! markers left out. A subquery evaluates its expression at the multiples of its step in
//! `(t - range, t]`.

use std::collections::HashMap;
use std::rc::Rc;

use promql_parser::label::{MatchOp, Matcher as ParsedMatcher};
use promql_parser::parser::{MatrixSelector, SubqueryExpr, VectorSelector};

use super::{Elem, EvalResult, Evaluator, MSeries, Val, fail};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::PromqlError;
use crate::promql::store::{MatchKind, Matcher, StoredSeries, anchored_regex, is_stale};

/// The most steps one subquery evaluation may take before the query is refused.
const MAX_SUBQUERY_STEPS: i64 = 1_000_000;

fn convert(m: &ParsedMatcher) -> Matcher {
    let regex =
        |fallback: &regex::Regex| anchored_regex(&m.value).unwrap_or_else(|_| fallback.clone());
    let op = match &m.op {
        MatchOp::Equal => MatchKind::Equal(m.value.clone()),
        MatchOp::NotEqual => MatchKind::NotEqual(m.value.clone()),
        MatchOp::Re(r) => MatchKind::Regex(regex(r)),
        MatchOp::NotRe(r) => MatchKind::NotRegex(regex(r)),
    };
    Matcher {
        name: m.name.clone(),
        op,
    }
}

/// The matcher groups of a selector (one, or several with `or`), the metric name
/// included.
pub(crate) fn matcher_groups(vs: &VectorSelector) -> Vec<Vec<Matcher>> {
    let parsed: Vec<&Vec<ParsedMatcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![&vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers.iter().collect()
    };
    parsed
        .into_iter()
        .map(|group| {
            let mut g: Vec<Matcher> = group.iter().map(convert).collect();
            if let Some(name) = &vs.name
                && !group.iter().any(|m| m.name == METRIC_NAME)
            {
                g.push(Matcher {
                    name: METRIC_NAME.into(),
                    op: MatchKind::Equal(name.clone()),
                });
            }
            g
        })
        .collect()
}

/// Selected series per selector, computed once per query.
#[derive(Default)]
pub(crate) struct SelectionCache<'a> {
    by_selector: HashMap<usize, Rc<Vec<&'a StoredSeries>>>,
}

impl<'a> Evaluator<'a> {
    /// The series a selector matches, sorted by labels.
    pub(crate) fn selected(&self, vs: &VectorSelector) -> Rc<Vec<&'a StoredSeries>> {
        let key = vs as *const VectorSelector as usize;
        if let Some(s) = self.selection.borrow().by_selector.get(&key) {
            return s.clone();
        }
        let groups = matcher_groups(vs);
        let mut series = self.store.select(&groups);
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let series = Rc::new(series);
        self.selection
            .borrow_mut()
            .by_selector
            .insert(key, series.clone());
        series
    }

    pub(crate) fn eval_vector_selector(&self, vs: &VectorSelector, ts: i64) -> EvalResult {
        let t = self.selector_time(&vs.at, &vs.offset, ts);
        let v = self
            .instant_points(vs, t)?
            .into_iter()
            .map(|(labels, _, f)| Elem {
                labels,
                f,
                drop_name: false,
            })
            .collect();
        Ok(Val::Vector(v))
    }

    /// Each selected series' newest sample in the lookback window before `t`, with its
    /// own timestamp.
    pub(crate) fn instant_points(
        &self,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vec<(Labels, i64, f64)>, PromqlError> {
        let lookback = self.opts.lookback_delta_ms;
        let out: Vec<(Labels, i64, f64)> = self
            .selected(vs)
            .iter()
            .filter_map(|s| {
                let (pt, f) = s.at_or_before(t)?;
                (pt > t - lookback && !is_stale(f)).then(|| (s.labels.clone(), pt, f))
            })
            .collect();
        self.charge(out.len())?;
        Ok(out)
    }

    pub(crate) fn eval_matrix_selector(&self, ms: &MatrixSelector, ts: i64) -> EvalResult {
        let t = self.selector_time(&ms.vs.at, &ms.vs.offset, ts);
        let range = ms.range.as_millis() as i64;
        let out: Vec<MSeries> = self
            .selected(&ms.vs)
            .iter()
            .filter_map(|s| {
                let points: Vec<(i64, f64)> = s
                    .window(t - range, t)
                    .iter()
                    .copied()
                    .filter(|p| !is_stale(p.1))
                    .collect();
                (!points.is_empty()).then(|| MSeries {
                    labels: s.labels.clone(),
                    points,
                    drop_name: false,
                })
            })
            .collect();
        self.charge(out.iter().map(|s| s.points.len()).sum())?;
        Ok(Val::Matrix(out))
    }

    pub(crate) fn eval_subquery(&self, sq: &SubqueryExpr, ts: i64) -> EvalResult {
        let t = self.selector_time(&sq.at, &sq.offset, ts);
        let range = sq.range.as_millis() as i64;
        let step = match sq.step {
            Some(s) if !s.is_zero() => s.as_millis() as i64,
            _ => self.opts.default_subquery_step_ms,
        };
        if step <= 0 {
            return fail("subquery step must be positive");
        }
        if range / step > MAX_SUBQUERY_STEPS {
            return fail(format!(
                "subquery of {} steps exceeds the limit; use a larger step",
                range / step
            ));
        }
        // The first multiple of the step after t - range.
        let from = t - range;
        let mut at = from.div_euclid(step) * step;
        if at <= from {
            at += step;
        }
        let mut series: Vec<MSeries> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        while at <= t {
            self.charge(1)?;
            self.collect_step(&sq.expr, at, &mut series, &mut index)?;
            at += step;
        }
        Ok(Val::Matrix(series))
    }

    /// Evaluates `expr` at `at` and appends its samples to the series they belong to.
    pub(crate) fn collect_step(
        &self,
        expr: &promql_parser::parser::Expr,
        at: i64,
        series: &mut Vec<MSeries>,
        index: &mut HashMap<Labels, usize>,
    ) -> Result<(), PromqlError> {
        let elems = match self.eval(expr, at)? {
            Val::Scalar(f) => vec![Elem {
                labels: Labels::empty(),
                f,
                drop_name: false,
            }],
            Val::Vector(v) => v,
            other => {
                return fail(format!(
                    "subquery and range evaluation need an instant vector or scalar, got {}",
                    other.type_name()
                ));
            }
        };
        for e in elems {
            let i = *index.entry(e.labels.clone()).or_insert_with(|| {
                series.push(MSeries {
                    labels: e.labels.clone(),
                    points: Vec::new(),
                    drop_name: e.drop_name,
                });
                series.len() - 1
            });
            let s = &mut series[i];
            if s.points.last().is_some_and(|p| p.0 == at) {
                return fail("vector cannot contain metrics with the same labelset");
            }
            s.points.push((at, e.f));
            s.drop_name |= e.drop_name;
        }
        Ok(())
    }
}
