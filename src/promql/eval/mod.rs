//! The evaluator: one expression at one timestamp, over the store. Range queries and
//! subqueries evaluate step by step; because every step is aligned to absolute time this
//! gives the same points as Prometheus' vectorised range evaluation.
//!
//! Values carry Prometheus 3's delayed `__name__` removal: operations that change a
//! metric's meaning mark samples (`drop_name`) and the names go at the end of the query,
//! so `label_replace` can still read them; with the option off they go at once, as in a
//! Prometheus server without `promql-delayed-name-removal`.

mod aggregate;
mod binary;
mod functions;
mod selector;
mod topk;

use std::cell::{Cell, RefCell};

use promql_parser::parser::{AtModifier, Expr, Offset};

use super::{EngineOptions, PromqlError};
use crate::labels::{Labels, METRIC_NAME};

use super::store::Store;

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub labels: Labels,
    pub f: f64,
    /// The metric name (and type/unit) are to be removed at the end of the query.
    pub drop_name: bool,
}

/// One series of a range vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct MSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Elem>),
    Matrix(Vec<MSeries>),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// Warnings and infos collected while evaluating, without duplicates.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// The labels that go with the metric name when it is dropped.
pub(crate) fn drop_metadata(labels: &Labels) -> Labels {
    if !labels
        .iter()
        .any(|l| matches!(&*l.name, METRIC_NAME | "__type__" | "__unit__"))
    {
        return labels.clone();
    }
    let mut b = labels.to_builder();
    b.del(METRIC_NAME).del("__type__").del("__unit__");
    b.build()
}

/// Evaluates expressions of one query.
pub(crate) struct Evaluator<'a> {
    pub store: &'a Store,
    pub opts: &'a EngineOptions,
    /// The query's start and end, for `@ start()` and `@ end()`.
    pub start: i64,
    pub end: i64,
    pub annotations: RefCell<Annotations>,
    pub(crate) selection: RefCell<selector::SelectionCache<'a>>,
    /// Samples read and steps evaluated so far, against `EngineOptions::max_samples`.
    loaded: Cell<u64>,
}

pub(crate) type EvalResult = Result<Val, PromqlError>;

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, PromqlError> {
    Err(PromqlError::Eval(msg.into()))
}

impl<'a> Evaluator<'a> {
    pub fn new(store: &'a Store, opts: &'a EngineOptions, start: i64, end: i64) -> Self {
        Evaluator {
            store,
            opts,
            start,
            end,
            annotations: RefCell::new(Annotations::default()),
            selection: RefCell::new(selector::SelectionCache::default()),
            loaded: Cell::new(0),
        }
    }

    pub fn warn(&self, msg: String) {
        let mut a = self.annotations.borrow_mut();
        let msg = format!("PromQL warning: {msg}");
        if !a.warnings.contains(&msg) {
            a.warnings.push(msg);
        }
    }

    pub fn info(&self, msg: String) {
        let mut a = self.annotations.borrow_mut();
        let msg = format!("PromQL info: {msg}");
        if !a.infos.contains(&msg) {
            a.infos.push(msg);
        }
    }

    /// Counts samples read (or subquery steps taken); a query that reads more than
    /// `max_samples` in all is stopped, which bounds its time and memory.
    pub fn charge(&self, n: usize) -> Result<(), PromqlError> {
        let total = self.loaded.get().saturating_add(n as u64);
        self.loaded.set(total);
        if total > self.opts.max_samples {
            return fail(
                "query processing would load too many samples into memory in query execution",
            );
        }
        Ok(())
    }

    /// Starts counting afresh (each step of a range query has its own budget).
    pub fn reset_charge(&self) {
        self.loaded.set(0);
    }

    /// Marks an element whose metric name no longer applies.
    pub fn mark_drop(&self, e: &mut Elem) {
        if self.opts.delayed_name_removal {
            e.drop_name = true;
        } else {
            e.labels = drop_metadata(&e.labels);
        }
    }

    /// Evaluates `expr` at `ts` (milliseconds).
    pub fn eval(&self, expr: &Expr, ts: i64) -> EvalResult {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Unary(u) => self.eval_unary(&u.expr, ts),
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, ts),
            Expr::MatrixSelector(ms) => self.eval_matrix_selector(ms, ts),
            Expr::Subquery(sq) => self.eval_subquery(sq, ts),
            Expr::Binary(b) => self.eval_binary(b, ts),
            Expr::Aggregate(a) => self.eval_aggregate(a, ts),
            Expr::Call(c) => self.eval_call(c, ts),
            Expr::Extension(_) => fail("extension expressions are not supported"),
        }
    }

    fn eval_unary(&self, inner: &Expr, ts: i64) -> EvalResult {
        match self.eval(inner, ts)? {
            Val::Scalar(f) => Ok(Val::Scalar(-f)),
            Val::Vector(mut v) => {
                for e in &mut v {
                    e.f = -e.f;
                    self.mark_drop(e);
                }
                self.check_unique(&v)?;
                Ok(Val::Vector(v))
            }
            other => fail(format!(
                "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                other.type_name()
            )),
        }
    }

    /// Evaluates to an instant vector (or fails with Prometheus' type message).
    pub fn eval_vector(&self, expr: &Expr, ts: i64) -> Result<Vec<Elem>, PromqlError> {
        match self.eval(expr, ts)? {
            Val::Vector(v) => Ok(v),
            other => fail(format!(
                "expected type instant vector, got {}",
                other.type_name()
            )),
        }
    }

    /// Evaluates to a scalar.
    pub fn eval_scalar(&self, expr: &Expr, ts: i64) -> Result<f64, PromqlError> {
        match self.eval(expr, ts)? {
            Val::Scalar(f) => Ok(f),
            other => fail(format!("expected type scalar, got {}", other.type_name())),
        }
    }

    /// Without delayed name removal, a vector whose names were dropped must still hold
    /// distinct label sets.
    pub fn check_unique(&self, v: &[Elem]) -> Result<(), PromqlError> {
        if self.opts.delayed_name_removal {
            return Ok(());
        }
        if has_duplicates(v.iter().map(|e| &e.labels)) {
            return fail("vector cannot contain metrics with the same labelset");
        }
        Ok(())
    }

    /// The time a selector or subquery reads at: `@` replaces the evaluation time,
    /// then the offset moves it back.
    pub fn selector_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, ts: i64) -> i64 {
        let base = match at {
            None => ts,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(t)) => crate::rule::epoch_ms(*t),
        };
        base - offset_ms(offset)
    }
}

/// The key elements match (`on`) or group (`by`) on: the listed labels, or (`ignoring`,
/// `without`) all labels but the listed ones and the metric name.
pub(crate) fn signature(l: &Labels, on: bool, names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in l.iter() {
        let listed = names.iter().any(|n| **n == *p.name);
        let keep = if on {
            listed
        } else {
            !listed && &*p.name != METRIC_NAME
        };
        if keep {
            out.extend_from_slice(p.name.as_bytes());
            out.push(0xff);
            out.extend_from_slice(p.value.as_bytes());
            out.push(0xff);
        }
    }
    out
}

/// Whether any selector of `expr` selects a series with these labels.
pub(crate) fn selects(expr: &Expr, labels: &Labels) -> bool {
    let sel = |vs: &promql_parser::parser::VectorSelector| {
        selector::matcher_groups(vs)
            .iter()
            .any(|g| g.iter().all(|m| m.matches(labels)))
    };
    match expr {
        Expr::VectorSelector(vs) => sel(vs),
        Expr::MatrixSelector(ms) => sel(&ms.vs),
        Expr::Subquery(sq) => selects(&sq.expr, labels),
        Expr::Paren(p) => selects(&p.expr, labels),
        Expr::Unary(u) => selects(&u.expr, labels),
        Expr::Binary(b) => selects(&b.lhs, labels) || selects(&b.rhs, labels),
        Expr::Aggregate(a) => {
            selects(&a.expr, labels) || a.param.as_ref().is_some_and(|p| selects(p, labels))
        }
        Expr::Call(c) => c.args.args.iter().any(|a| selects(a, labels)),
        _ => false,
    }
}

/// Whether label sets repeat.
pub(crate) fn has_duplicates<'l>(labels: impl Iterator<Item = &'l Labels>) -> bool {
    let mut seen = std::collections::HashSet::new();
    labels.into_iter().any(|l| !seen.insert(l))
}

pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}
