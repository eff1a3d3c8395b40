//! The render phase's machinery: an alert's labels and annotations from its series,
//! rendered by the rule's templates and reused across evaluations while still valid.

use std::time::Duration;

use super::{AlertingRule, DUPLICATE_LABELSET, Observed};
use crate::config::RuleKind;
use crate::labels::{Interner, Labels, LabelsBuilder, METRIC_NAME, Str};
use crate::rule::alert::Annotations;
use crate::rule::limits::QueryBudget;
use crate::rule::{EvalTime, system_time};
use crate::sample::Sample;
use crate::template::{Context, Inputs, Template, TemplateQuerier};

// The render cache: labels and annotations rendered for one query series are reused
// while it comes back unchanged. They are not stored twice: the alert the series made
// holds them (with `Alert::source`, the series they were rendered from, and
// `Alert::value`, the value they were rendered with), and the cache is an index of the
// alerts by source (`Alerts::rendered`). A rendering is valid for its series' label set;
// it is invalidated by a different value when a template reads `$value`, is never used
// when a template reads volatile inputs ([`Inputs::volatile`]: `query`, `now`,
// `$activeAt`, library definitions), only an alert the last evaluation that ended
// returned holds one (see [`AlertingRule::index_rendered`]), and the whole cache is
// dropped when the rule is updated.

/// A rule label: its name, and its value when the template is static, shared by all
/// alerts of the rule.
#[derive(Debug)]
pub(super) struct LabelTemplate {
    pub(super) name: Str,
    pub(super) template: Template,
    fixed: Option<Str>,
}

impl LabelTemplate {
    /// The rule's labels with the group's merged under them, in application order.
    pub(super) fn all(group: &Labels, rule: &[(String, Template)]) -> Vec<LabelTemplate> {
        merged_labels(group, rule)
            .into_iter()
            .map(|(name, template)| LabelTemplate {
                name: name.into(),
                fixed: template.is_static().then(|| template.source().into()),
                template,
            })
            .collect()
    }
}

/// What all templates of a list read together.
pub(super) fn inputs_of<'a>(templates: impl Iterator<Item = &'a Template>) -> Inputs {
    templates.fold(Inputs::default(), |acc, t| acc.union(t.inputs()))
}

impl AlertingRule {
    /// Phase 1: the alert each series stands for. Fails when two series make one alert.
    pub(super) fn render(
        &mut self,
        samples: &[Sample],
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Result<Vec<Observed>, String> {
        let limits = self.ctx.settings.limits;
        // Template queries of this whole evaluation count against one budget, not only
        // per render: 500 series × 100 queries each would flood the datasource.
        let budget = querier.map(|q| QueryBudget::new(q, limits.template_queries));
        let querier = budget.as_ref().map(|b| b as &dyn TemplateQuerier);
        let mut observed = Vec::with_capacity(samples.len());
        for s in samples {
            // A breached limit fails the evaluation before anything is written or sent.
            let (labels, annotations) = self.render_series(s, t, querier)?;
            if let Some(e) = budget.as_ref().and_then(QueryBudget::exceeded) {
                return Err(e);
            }
            observed.push(Observed {
                fingerprint: labels.fingerprint(),
                source: s.labels.fingerprint(),
                value: s.value,
                labels,
                annotations,
            });
        }
        // Sorted, duplicates are neighbours: found without building a map.
        observed.sort_unstable_by_key(|o| o.fingerprint);
        if observed
            .windows(2)
            .any(|w| w[0].fingerprint == w[1].fingerprint)
        {
            // Two series make one alert (rule labels overwrote what told them apart):
            // its value and annotations would depend on the order of the result, so
            // Prometheus fails the whole evaluation and leaves the alerts as they were.
            return Err(DUPLICATE_LABELSET.to_string());
        }
        Ok(observed)
    }

    /// The labels and annotations of the alert a sample stands for: reused from the
    /// render cache when still valid (see above), else rendered and checked against
    /// `-rule.maxLabelsSize` and its kin. A reused rendering was checked when it was
    /// made: the limits are the rule's context's, which changes only with `update`,
    /// which drops the cache.
    fn render_series(
        &self,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Result<(Labels, Annotations), String> {
        let limits = &self.ctx.settings.limits;
        let key = s.labels.fingerprint();
        let bits = s.value.to_bits();
        let (li, ai) = (self.label_inputs, self.annotation_inputs);
        // The alert holding this series' last rendering, if any; its labels are reused
        // unless they read a value that changed.
        let cached = (!li.volatile && !ai.volatile)
            .then(|| self.active.rendered(key, self.rendered_at))
            .flatten()
            .filter(|a| !li.value || a.value.to_bits() == bits);
        let labels = match cached {
            Some(a) if !ai.volatile && (!ai.value || a.value.to_bits() == bits) => {
                return Ok((a.labels.clone(), a.annotations.clone()));
            }
            Some(a) => a.labels.clone(),
            None => {
                let labels = self.render_labels(s, t, querier);
                limits.check_labels(&labels)?;
                labels
            }
        };
        let annotations = self.render_annotations(&labels, s, t, querier);
        limits.check_annotations(&annotations)?;
        Ok((labels, annotations))
    }

    /// At the end of an evaluation that kept its alerts: the alerts it returned hold
    /// the renderings of their series for the next one (an alert absent now may hold an
    /// older rendering of a series that made another alert since). Without reusable
    /// templates there is nothing to index.
    pub(super) fn index_rendered(&mut self) {
        let (li, ai) = (self.label_inputs, self.annotation_inputs);
        if !li.volatile && !ai.volatile {
            self.active.index_sources();
            self.rendered_at = self.attempt;
        }
    }

    /// The template data for a sample.
    fn template_context<'a>(
        &'a self,
        s: &'a Sample,
        t: EvalTime,
        querier: Option<&'a dyn TemplateQuerier>,
    ) -> Context<'a> {
        let for_ = match &self.spec.kind {
            RuleKind::Alerting(a) => a.for_,
            RuleKind::Recording(_) => Duration::ZERO,
        };
        let mut tctx = Context::new(&s.labels, s.value);
        tctx.external_labels = &self.ctx.settings.external_labels;
        tctx.external_url = &self.ctx.settings.external_url;
        tctx.expr = &self.spec.expr;
        tctx.for_ = for_;
        tctx.group_id = self.ctx.group_id;
        tctx.is_partial = self.partial;
        tctx.querier = querier;
        tctx.library = self.ctx.settings.library.current();
        tctx.eval_time = Some(system_time(t.ts_ms));
        tctx.active_at = Some(system_time(t.ts_ms));
        tctx
    }

    /// The alert's final labels: the sample's without `__name__`, rule labels rendered,
    /// `alertname` and `alertgroup`.
    fn render_labels(
        &self,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Labels {
        let tctx = self.template_context(s, t, querier);
        let mut b: LabelsBuilder = s.labels.to_builder();
        b.del(METRIC_NAME);
        for l in &self.labels {
            match &l.fixed {
                Some(v) => b.set(l.name.clone(), v.clone()),
                // Interned: alerts whose rendering is equal share one string.
                None => b.set(
                    l.name.clone(),
                    Interner::global().intern(&l.template.render(&tctx)),
                ),
            };
        }
        for (name, value) in &self.identity {
            b.set(name.clone(), value.clone());
        }
        b.build()
    }

    fn render_annotations(
        &self,
        labels: &Labels,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Annotations {
        let mut tctx = self.template_context(s, t, querier);
        tctx.alert_id = labels.fingerprint();
        let values = self.annotations().iter().map(|(_, t)| render(t, &tctx));
        Annotations::new(&self.annotation_names, values)
    }

    fn annotations(&self) -> &[(String, Template)] {
        match &self.spec.kind {
            RuleKind::Alerting(a) => &a.annotations,
            RuleKind::Recording(_) => &[],
        }
    }
}

/// Group labels first, then rule labels, so rule labels win on a name clash.
fn merged_labels(group: &Labels, rule: &[(String, Template)]) -> Vec<(String, Template)> {
    let mut out: Vec<(String, Template)> = group
        .iter()
        .filter(|l| !rule.iter().any(|(n, _)| n.as_str() == &*l.name))
        .filter_map(|l| {
            Template::parse(&l.name, &l.value)
                .or_else(|_| crate::config::names::literal_template(&l.name, &l.value))
                .ok()
                .map(|t| (l.name.to_string(), t))
        })
        .collect();
    out.extend(rule.iter().cloned());
    out
}

fn render(t: &Template, ctx: &Context<'_>) -> String {
    if t.is_static() {
        t.source().to_string()
    } else {
        t.render(ctx)
    }
}
