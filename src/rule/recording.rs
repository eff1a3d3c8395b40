//! Recording rules: query results renamed to the record name, labels applied, written
//! back; series that disappear get staleness markers.

use std::collections::HashMap;
use std::sync::Arc;

use super::{EvalTime, Health, Outcome, RuleContext, StepOutput, add_missing, diff_written};
use crate::config;
use crate::labels::{Labels, METRIC_NAME};
use crate::sample::Sample;
use crate::template::Context;

/// The error Prometheus reports when two samples map to one series.
pub const DUPLICATE_SERIES: &str =
    "vector contains metrics with the same labelset after applying rule labels";

/// A recording rule and the series it wrote last.
#[derive(Debug)]
pub struct RecordingRule {
    spec: config::Rule,
    ctx: Arc<RuleContext>,
    /// Group labels, then rule labels (literal values), in application order.
    labels: Vec<(String, String)>,
    written: HashMap<u64, Labels>,
    outcome: Outcome,
}

impl RecordingRule {
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> RecordingRule {
        let empty = Labels::empty();
        let render_ctx = Context::new(&empty, 0.0);
        let mut labels: Vec<(String, String)> = ctx
            .group_labels
            .iter()
            .filter(|l| !spec.labels.iter().any(|(n, _)| n.as_str() == &*l.name))
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        labels.extend(
            spec.labels
                .iter()
                .map(|(n, t)| (n.clone(), t.render(&render_ctx))),
        );
        RecordingRule {
            spec: spec.clone(),
            ctx,
            labels,
            written: HashMap::new(),
            outcome: Outcome::default(),
        }
    }

    pub fn spec(&self) -> &config::Rule {
        &self.spec
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
        let n = samples.len();
        let mut out = Vec::with_capacity(n + 1);
        let mut now_written = HashMap::with_capacity(n);
        for s in samples {
            let mut b = s.labels.to_builder();
            b.set(METRIC_NAME, self.spec.name());
            for (name, value) in &self.labels {
                b.set(name.as_str(), value.as_str());
            }
            let labels = add_missing(&b.build(), &self.ctx.external_labels);
            if now_written
                .insert(labels.fingerprint(), labels.clone())
                .is_some()
            {
                return self.outcome.fail(DUPLICATE_SERIES.to_string(), n);
            }
            out.push(Sample {
                labels,
                value: s.value,
                timestamp_ms: t.query_ts_ms,
            });
        }
        if self.ctx.limit > 0 && n > self.ctx.limit {
            return self.outcome.fail(
                format!("exceeded limit of {} with {} series", self.ctx.limit, n),
                n,
            );
        }
        self.outcome.succeed();
        diff_written(&mut self.written, now_written, t.query_ts_ms, &mut out);
        StepOutput {
            series: out,
            error: None,
            samples: n,
        }
    }

    pub(crate) fn take_written(&mut self) -> HashMap<u64, Labels> {
        std::mem::take(&mut self.written)
    }

    /// Applies a changed definition; recording rules hold no state worth keeping
    /// beyond the series written, which stay so that vanished ones still get markers.
    pub fn update(&mut self, spec: &config::Rule, ctx: Arc<RuleContext>) {
        let written = std::mem::take(&mut self.written);
        *self = RecordingRule::new(spec, ctx);
        self.written = written;
    }
}
