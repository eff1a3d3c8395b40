//! Recording rules: query results renamed to the record name, labels applied, written
//! back; series that disappear get staleness markers.

use std::sync::Arc;

use super::{
    EvalTime, Health, Outcome, RuleContext, StepOutput, add_missing, sorted, stale_sample,
};
use crate::config;
use crate::labels::{Labels, Str};
use crate::sample::Sample;
use crate::template::Context;

/// The error Prometheus reports when two samples map to one series.
pub const DUPLICATE_SERIES: &str =
    "vector contains metrics with the same labelset after applying rule labels";

/// A recording rule and the series it wrote last.
#[derive(Debug)]
pub struct RecordingRule {
    spec: Arc<config::Rule>,
    ctx: Arc<RuleContext>,
    /// `__name__`, then group labels, then rule labels (literal values), in
    /// application order; shared by every series the rule writes.
    labels: Vec<(Str, Str)>,
    /// Output label sets, sorted by the fingerprint of the query series each was made
    /// from, each with the evaluation attempt that last produced it. Output labels
    /// depend only on the input labels and the rule's fixed labels, so an entry stays
    /// valid until its series is absent from a successful evaluation (then it is
    /// removed, with a staleness marker); `update` retires them all. Between evaluations
    /// it is exactly what the last successful one wrote.
    ///
    /// A sorted vector rather than a hash table (see `rule/sorted.rs`): every rule holds
    /// one entry per series it writes ("Memory per rule, step 11" in
    /// docs/benchmarks.md).
    outputs: Vec<Output>,
    /// Series written under an earlier definition, ended at the next successful
    /// evaluation unless written again.
    retired: Vec<Labels>,
    /// Numbers evaluations, to tell what the current one produced.
    attempt: u64,
    outcome: Outcome,
}

/// One series the rule writes: see [`RecordingRule::outputs`].
#[derive(Debug)]
struct Output {
    /// The fingerprint of the query series it is made from.
    input: u64,
    labels: Labels,
    /// The evaluation attempt that last produced it.
    seen: u64,
}

impl RecordingRule {
    /// Builds the rule from a copy of `spec`; see [`RecordingRule::from_spec`].
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> RecordingRule {
        RecordingRule::from_spec(Arc::new(spec.clone()), ctx)
    }

    /// Builds the rule around `spec`, shared with the loaded rule set.
    pub fn from_spec(spec: Arc<config::Rule>, ctx: Arc<RuleContext>) -> RecordingRule {
        let empty = Labels::empty();
        let render_ctx = Context::new(&empty, 0.0);
        let mut labels: Vec<(Str, Str)> =
            vec![(super::shared::metric_name(), Str::from(spec.name()))];
        labels.extend(
            ctx.group_labels
                .iter()
                .filter(|l| !spec.labels.iter().any(|(n, _)| n.as_str() == &*l.name))
                .map(|l| (l.name.clone(), l.value.clone())),
        );
        labels.extend(
            spec.labels
                .iter()
                .map(|(n, t)| (Str::from(n.as_str()), Str::from(t.render(&render_ctx)))),
        );
        RecordingRule {
            spec,
            ctx,
            labels,
            outputs: Vec::new(),
            retired: Vec::new(),
            attempt: 0,
            outcome: Outcome::default(),
        }
    }

    pub fn spec(&self) -> &Arc<config::Rule> {
        &self.spec
    }

    pub fn context(&self) -> &Arc<RuleContext> {
        &self.ctx
    }

    pub fn health(&self) -> Health {
        self.outcome.health()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.outcome.last_error()
    }

    /// One evaluation: on success the renamed samples plus staleness markers for series
    /// that vanished; on error nothing.
    pub fn step(&mut self, result: Result<Vec<Sample>, String>, t: EvalTime) -> StepOutput {
        let samples = match result {
            Ok(s) => s,
            Err(e) => return self.outcome.fail(e, 0),
        };
        self.attempt += 1;
        let attempt = self.attempt;
        let n = samples.len();
        let mut out = Vec::with_capacity(n + 1);
        let mut made = Vec::new();
        // An input series that came twice (a datasource answering with duplicates).
        let mut repeated = false;
        for s in samples {
            let key = s.labels.fingerprint();
            let held = self.outputs.binary_search_by_key(&key, |o| o.input);
            let labels = match held.map(|i| &mut self.outputs[i]) {
                Ok(o) => {
                    repeated |= o.seen == attempt;
                    o.seen = attempt;
                    o.labels.clone()
                }
                Err(_) => {
                    let labels = self.output_labels(&s.labels);
                    if let Err(e) = self.ctx.settings.limits.check_labels(&labels) {
                        return self.outcome.fail(e, n);
                    }
                    made.push((key, labels.clone()));
                    labels
                }
            };
            out.push(Sample {
                labels,
                value: s.value,
                timestamp_ms: t.query_ts_ms,
            });
        }
        // The outputs of series seen before are distinct: `outputs` holds what the last
        // successful evaluation wrote, checked then. Only new outputs or a repeated input
        // can collide, and only then are fingerprints sorted and compared.
        let mut sorted = None;
        if !made.is_empty() || repeated {
            let fps = sorted_fingerprints(&out);
            if fps.windows(2).any(|w| w[0] == w[1]) {
                return self.outcome.fail(DUPLICATE_SERIES.to_string(), n);
            }
            sorted = Some(fps);
        }
        if self.ctx.limit > 0 && n > self.ctx.limit {
            return self.outcome.fail(
                format!("exceeded limit of {} with {} series", self.ctx.limit, n),
                n,
            );
        }
        self.outcome.succeed();
        self.add_outputs(made, attempt);
        if self.outputs.len() > n || !self.retired.is_empty() {
            let fps = sorted.unwrap_or_else(|| sorted_fingerprints(&out));
            self.end_vanished(&mut out, &fps, attempt, t.query_ts_ms);
        }
        StepOutput {
            series: out,
            error: None,
            samples: n,
        }
    }

    /// Staleness markers at `ts` in `out` for the series written before and not now
    /// (`fps`: the sorted fingerprints of what is written now); they leave `outputs`.
    fn end_vanished(&mut self, out: &mut Vec<Sample>, fps: &[u64], attempt: u64, ts: i64) {
        let written_now = |l: &Labels| fps.binary_search(&l.fingerprint()).is_ok();
        self.outputs.retain(|o| {
            if o.seen != attempt && !written_now(&o.labels) {
                out.push(stale_sample(o.labels.clone(), ts));
            }
            o.seen == attempt
        });
        sorted::shrink_if_sparse(&mut self.outputs);
        for labels in std::mem::take(&mut self.retired) {
            if !written_now(&labels) {
                out.push(stale_sample(labels, ts));
            }
        }
    }

    /// Adds `made` (input fingerprint, output labels), series none of which is held and
    /// whose inputs are distinct: one merge into a vector of the exact size, so that the
    /// outputs keep no spare room.
    fn add_outputs(&mut self, mut made: Vec<(u64, Labels)>, attempt: u64) {
        made.sort_unstable_by_key(|(key, _)| *key);
        let made = made.into_iter().map(|(input, labels)| Output {
            input,
            labels,
            seen: attempt,
        });
        sorted::merge(&mut self.outputs, made.collect(), |o| o.input);
    }

    /// The series a query series is recorded as.
    fn output_labels(&self, input: &Labels) -> Labels {
        let mut b = input.to_builder();
        for (name, value) in &self.labels {
            b.set(name.clone(), value.clone());
        }
        if self.ctx.settings.external_labels_on_series {
            add_missing(&b.build(), &self.ctx.settings.external_labels)
        } else {
            b.build()
        }
    }

    pub(crate) fn take_written(&mut self) -> Vec<Labels> {
        let mut all = std::mem::take(&mut self.retired);
        all.extend(self.outputs.drain(..).map(|o| o.labels));
        all
    }

    /// Applies a changed definition; recording rules hold no state worth keeping
    /// beyond the series written, which stay so that vanished ones still get markers.
    pub fn update(&mut self, spec: Arc<config::Rule>, ctx: Arc<RuleContext>) {
        let written = self.take_written();
        *self = RecordingRule::from_spec(spec, ctx);
        self.retired = written;
    }
}

/// The fingerprints of `samples`' label sets, sorted.
fn sorted_fingerprints(samples: &[Sample]) -> Vec<u64> {
    let mut fps: Vec<u64> = samples.iter().map(|s| s.labels.fingerprint()).collect();
    fps.sort_unstable();
    fps
}
