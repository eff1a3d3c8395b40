//! `topk`, `bottomk`, `limitk` and `limit_ratio`: aggregations that keep input samples.
//!
//! The order of their output (which `eval_ordered` tests and users see) comes from
//! Prometheus' use of Go's binary heap and sort; both are reproduced step for step so
//! that ties come out in the same order.

use std::collections::HashMap;

use promql_parser::parser::token::{self, TokenId};

use super::aggregate::Grouping;
use super::{Elem, EvalResult, Evaluator, Val, fail};
use crate::labels::Labels;

/// Go's `vectorByValueHeap.Less` (NaN smallest), or its reverse for `bottomk`.
fn less(a: f64, b: f64, reverse: bool) -> bool {
    if a.is_nan() {
        return true;
    }
    if reverse { a > b } else { a < b }
}

/// Go's `container/heap` over elements ordered by `less`.
struct GoHeap {
    items: Vec<Elem>,
    reverse: bool,
}

impl GoHeap {
    fn lt(&self, i: usize, j: usize) -> bool {
        less(self.items[i].f, self.items[j].f, self.reverse)
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, i0: usize) -> bool {
        let n = self.items.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.lt(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
        i > i0
    }

    fn push(&mut self, e: Elem) {
        self.items.push(e);
        let n = self.items.len() - 1;
        self.up(n);
    }

    fn fix_root(&mut self) {
        if !self.down(0) {
            self.up(0);
        }
    }

    /// `sort.Sort(sort.Reverse(heap))`: insertion sort, as Go uses for up to 12
    /// elements; larger inputs get a stable sort by the same order.
    fn sorted_reverse(mut self) -> Vec<Elem> {
        let rev = self.reverse;
        let before = |a: &Elem, b: &Elem| less(b.f, a.f, rev);
        if self.items.len() <= 12 {
            for i in 1..self.items.len() {
                let mut j = i;
                while j > 0 && before(&self.items[j], &self.items[j - 1]) {
                    self.items.swap(j, j - 1);
                    j -= 1;
                }
            }
        } else {
            self.items.sort_by(|a, b| {
                if before(a, b) {
                    std::cmp::Ordering::Less
                } else if before(b, a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
        }
        self.items
    }
}

/// Prometheus' `labels.Hash()`: XXH64 over name, 0xff, value, 0xff for each label.
pub(crate) fn prometheus_hash(l: &Labels) -> u64 {
    let mut buf = Vec::with_capacity(256);
    for p in l.iter() {
        buf.extend_from_slice(p.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(p.value.as_bytes());
        buf.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&buf, 0)
}

/// Whether `limit_ratio(r, …)` keeps a series: its hash, as a fraction of the hash
/// space, falls below `r` (or, for negative `r`, in the complementary top part).
fn ratio_keeps(r: f64, l: &Labels) -> bool {
    let offset = prometheus_hash(l) as f64 / u64::MAX as f64;
    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
}

impl Evaluator<'_> {
    pub(crate) fn aggregate_k(
        &self,
        op: TokenId,
        param: f64,
        input: Vec<Elem>,
        g: &Grouping,
    ) -> EvalResult {
        let (k, ratio) = match self.k_param(op, param, input.len())? {
            Some(p) => p,
            None => return Ok(Val::Vector(Vec::new())),
        };
        let mut groups: Vec<GoHeap> = Vec::new();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        for e in input {
            let key = g.key(&e.labels);
            let i = *index.entry(key).or_insert_with(|| {
                groups.push(GoHeap {
                    items: Vec::new(),
                    reverse: op == token::T_BOTTOMK,
                });
                groups.len() - 1
            });
            add_k(op, &mut groups[i], e, k, ratio);
        }
        let mut out = Vec::new();
        for heap in groups {
            if matches!(op, token::T_TOPK | token::T_BOTTOMK) {
                out.extend(heap.sorted_reverse());
            } else {
                out.extend(heap.items);
            }
        }
        Ok(Val::Vector(out))
    }

    /// `k` (capped at the input size) or the ratio; `None` when nothing is kept.
    fn k_param(
        &self,
        op: TokenId,
        param: f64,
        n: usize,
    ) -> Result<Option<(usize, f64)>, crate::promql::PromqlError> {
        if op == token::T_LIMIT_RATIO {
            if param.is_nan() {
                return fail(format!("Ratio value {} is NaN", "NaN"));
            }
            if !(-1.0..=1.0).contains(&param) {
                let cap = if param > 1.0 { 1 } else { -1 };
                self.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to {cap}",
                    crate::promql::value::format_go(param)
                ));
            }
            if param == 0.0 {
                return Ok(None);
            }
            return Ok(Some((0, param.clamp(-1.0, 1.0))));
        }
        if param.is_nan() || !(-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&param)
        {
            return fail(format!(
                "Scalar value {} overflows int64",
                crate::promql::value::format_go(param)
            ));
        }
        let k = param as i64;
        if k < 1 || n == 0 {
            return Ok(None);
        }
        Ok(Some(((k as u64).min(n as u64) as usize, 0.0)))
    }
}

fn add_k(op: TokenId, heap: &mut GoHeap, e: Elem, k: usize, ratio: f64) {
    match op {
        token::T_TOPK | token::T_BOTTOMK => {
            if heap.items.len() < k {
                heap.push(e);
            } else {
                let root = heap.items[0].f;
                let better = if op == token::T_TOPK {
                    root < e.f
                } else {
                    root > e.f
                };
                if better || (root.is_nan() && !e.f.is_nan()) {
                    heap.items[0] = e;
                    if k > 1 {
                        heap.fix_root();
                    }
                }
            }
        }
        token::T_LIMITK => {
            if heap.items.is_empty() {
                heap.items.push(e);
            } else if heap.items.len() < k {
                heap.push(e);
            }
        }
        _ => {
            if ratio_keeps(ratio, &e.labels) {
                heap.push(e);
            }
        }
    }
}
