//! Aggregation operators: `sum`, `avg`, `count`, `group`, `min`, `max`, `stddev`,
//! `stdvar`, `quantile` and `count_values` here; `topk`, `bottomk`, `limitk` and
//! `limit_ratio` in `topk.rs`.

use std::collections::HashMap;

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::{Elem, EvalResult, Evaluator, Val, fail, signature};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::PromqlError;
use crate::promql::value::format_plain;

/// How an aggregation groups: `by` (listed labels) or `without` (all but listed).
pub(crate) struct Grouping {
    pub by: bool,
    pub labels: Vec<String>,
}

impl Grouping {
    pub fn of(a: &AggregateExpr) -> Grouping {
        match &a.modifier {
            Some(LabelModifier::Include(l)) => Grouping {
                by: true,
                labels: l.labels.clone(),
            },
            Some(LabelModifier::Exclude(l)) => Grouping {
                by: false,
                labels: l.labels.clone(),
            },
            None => Grouping {
                by: true,
                labels: Vec::new(),
            },
        }
    }

    pub fn key(&self, l: &Labels) -> Vec<u8> {
        signature(l, self.by, &self.labels)
    }

    /// The labels of a group's result.
    pub fn labels(&self, l: &Labels) -> Labels {
        let mut b = l.to_builder();
        for p in l.iter() {
            let listed = self.labels.iter().any(|n| **n == *p.name);
            let drop = if self.by {
                !listed
            } else {
                listed || &*p.name == METRIC_NAME
            };
            if drop {
                b.del(&p.name);
            }
        }
        b.build()
    }
}

/// `kahanSumInc`: compensated summation step; the compensation is reset once the sum
/// is infinite.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The running state of one group.
#[derive(Default)]
struct Group {
    labels: Labels,
    value: f64,
    kahan_c: f64,
    mean: f64,
    count: f64,
    incremental_mean: bool,
    values: Vec<f64>,
}

pub(crate) fn is_k_op(op: TokenId) -> bool {
    matches!(
        op,
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK | token::T_LIMIT_RATIO
    )
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&self, a: &AggregateExpr, ts: i64) -> EvalResult {
        let op = a.op.id();
        let grouping = Grouping::of(a);
        if op == token::T_COUNT_VALUES {
            return self.count_values(a, &grouping, ts);
        }
        let param = match &a.param {
            Some(p) if op != token::T_COUNT_VALUES => Some(self.eval_scalar(p, ts)?),
            _ => None,
        };
        if op == token::T_QUANTILE
            && let Some(q) = param
            && (q.is_nan() || !(0.0..=1.0).contains(&q))
        {
            self.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                crate::promql::value::format_go(q)
            ));
        }
        let input = self.eval_vector(&a.expr, ts)?;
        if is_k_op(op) {
            return self.aggregate_k(op, param.unwrap_or(f64::NAN), input, &grouping);
        }
        Ok(Val::Vector(aggregate_floats(
            op,
            param.unwrap_or(f64::NAN),
            input,
            &grouping,
        )?))
    }

    fn count_values(&self, a: &AggregateExpr, g: &Grouping, ts: i64) -> EvalResult {
        let label = match a.param.as_deref() {
            Some(Expr::StringLiteral(s)) => s.val.clone(),
            Some(Expr::Paren(p)) => match &*p.expr {
                Expr::StringLiteral(s) => s.val.clone(),
                _ => return fail("count_values needs a string parameter"),
            },
            _ => return fail("count_values needs a string parameter"),
        };
        if !crate::promql::valid_label_name(&label) {
            return fail(format!("invalid label name {label:?}"));
        }
        let mut grouping = Grouping {
            by: g.by,
            labels: g.labels.clone(),
        };
        if g.by {
            grouping.labels.push(label.clone());
        }
        let input = self.eval_vector(&a.expr, ts)?;
        let mut order: Vec<(Labels, f64)> = Vec::new();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        for e in input {
            let mut b = e.labels.to_builder();
            b.set(label.as_str(), format_plain(e.f));
            let l = b.build();
            let key = grouping.key(&l);
            match index.get(&key) {
                Some(&i) => order[i].1 += 1.0,
                None => {
                    index.insert(key, order.len());
                    order.push((grouping.labels(&l), 1.0));
                }
            }
        }
        Ok(Val::Vector(
            order
                .into_iter()
                .map(|(labels, f)| Elem {
                    labels,
                    f,
                    drop_name: false,
                })
                .collect(),
        ))
    }
}

/// The float aggregations, groups in order of first appearance.
fn aggregate_floats(
    op: TokenId,
    param: f64,
    input: Vec<Elem>,
    g: &Grouping,
) -> Result<Vec<Elem>, PromqlError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for e in &input {
        let key = g.key(&e.labels);
        match index.get(&key) {
            Some(&i) => add(op, &mut groups[i], e.f),
            None => {
                index.insert(key, groups.len());
                groups.push(start(op, g.labels(&e.labels), e.f));
            }
        }
    }
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(i, gr)| Elem {
            f: finish(op, param, &gr),
            labels: gr.labels,
            // Prometheus carries the name-dropping mark of the input series at the
            // group's position (an accident of its implementation that tests rely on).
            drop_name: input.get(i).is_some_and(|e| e.drop_name),
        })
        .collect())
}

fn start(op: TokenId, labels: Labels, f: f64) -> Group {
    let mut g = Group {
        labels,
        value: f,
        mean: f,
        count: 1.0,
        ..Group::default()
    };
    match op {
        token::T_STDDEV | token::T_STDVAR => {
            g.value = if f.is_nan() || f.is_infinite() {
                f64::NAN
            } else {
                0.0
            }
        }
        token::T_QUANTILE => g.values.push(f),
        token::T_GROUP => g.value = 1.0,
        _ => {}
    }
    g
}

fn add(op: TokenId, g: &mut Group, f: f64) {
    match op {
        token::T_SUM => (g.value, g.kahan_c) = kahan_inc(f, g.value, g.kahan_c),
        token::T_AVG => add_avg(g, f),
        token::T_MAX if g.value < f || g.value.is_nan() => g.value = f,
        token::T_MIN if g.value > f || g.value.is_nan() => g.value = f,
        token::T_COUNT => g.count += 1.0,
        token::T_STDDEV | token::T_STDVAR => {
            g.count += 1.0;
            let delta = f - g.mean;
            g.mean += delta / g.count;
            g.value += delta * (f - g.mean);
        }
        token::T_QUANTILE => g.values.push(f),
        _ => {}
    }
}

/// Averages by compensated summation, switching to an incremental mean once the sum
/// overflows, as Prometheus does.
fn add_avg(g: &mut Group, f: f64) {
    g.count += 1.0;
    if !g.incremental_mean {
        let (v, c) = kahan_inc(f, g.value, g.kahan_c);
        if !v.is_infinite() {
            g.value = v;
            g.kahan_c = c;
            return;
        }
        g.incremental_mean = true;
        g.mean = g.value / (g.count - 1.0);
        g.kahan_c /= g.count - 1.0;
    }
    let q = (g.count - 1.0) / g.count;
    (g.mean, g.kahan_c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
}

fn finish(op: TokenId, param: f64, g: &Group) -> f64 {
    match op {
        token::T_SUM => g.value + g.kahan_c,
        token::T_AVG if g.incremental_mean => g.mean + g.kahan_c,
        token::T_AVG => g.value / g.count + g.kahan_c / g.count,
        token::T_COUNT => g.count,
        token::T_STDVAR => g.value / g.count,
        token::T_STDDEV => (g.value / g.count).sqrt(),
        token::T_QUANTILE => quantile(param, &mut g.values.clone()),
        _ => g.value,
    }
}

/// The φ-quantile of values by linear interpolation between closest ranks
/// (Prometheus' `quantile`): NaN for no values, ±Inf for φ out of [0, 1].
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as Go's sort of `vectorByValueHeap` puts it.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
