//! Where a notification's `generatorURL` (and the API's alert `source`) points.
//!
//! By default, Prometheus' link to the expression on its graph page
//! (`<-external.url>/graph?g0.expr=…&g0.tab=1`, one per rule). With vmalert's
//! `-external.alert.source`, a template rendered per alert as vmalert 1.145 renders it:
//! the alert's labels, value, `activeAt`, the rule's expression and `for`, the group and
//! alert ids, the external labels and URL, joined to `-external.url` with a `/`
//! (`explore?orgId=1&left=…{{ .Expr|jsonEscape|queryEscape }}…` for Grafana). Like
//! vmalert, it is rendered when the alert is sent, and `query` is not available to it.

use std::sync::Arc;
use std::time::Duration;

use super::{Alert, RuleContext, system_time};
use crate::config::{self, RuleKind};
use crate::template::{Context, Template};

/// The link for `a`: the rendered `-external.alert.source` when set, else `default`
/// (the rule's Prometheus link).
pub(crate) fn alert_link(
    default: &Arc<str>,
    ctx: &RuleContext,
    spec: &config::Rule,
    a: &Alert,
) -> Arc<str> {
    match &ctx.settings.alert_source {
        Some(t) => render_source(t, ctx, spec, a).into(),
        None => default.clone(),
    }
}

/// `-external.alert.source` rendered for `a`, after `-external.url` and a `/`.
pub fn render_source(t: &Template, ctx: &RuleContext, spec: &config::Rule, a: &Alert) -> String {
    let s = &ctx.settings;
    let mut tctx = Context::new(&a.labels, a.value);
    tctx.external_labels = &s.external_labels;
    tctx.external_url = &s.external_url;
    tctx.expr = &spec.expr;
    tctx.for_ = match &spec.kind {
        RuleKind::Alerting(r) => r.for_,
        RuleKind::Recording(_) => Duration::ZERO,
    };
    tctx.group_id = ctx.group_id;
    tctx.alert_id = a.labels.fingerprint();
    tctx.active_at = Some(system_time(a.active_at_ms));
    tctx.library = s.library.as_deref();
    format!(
        "{}/{}",
        s.external_url.trim_end_matches('/'),
        t.render(&tctx)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};
    use crate::labels::Labels;
    use crate::rule::{Annotations, RuleSettings};

    #[test]
    fn the_source_template_sees_the_alert_and_follows_the_external_url() {
        let text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n";
        let path = std::path::Path::new("r.yml");
        let g = load_str(path, text, &LoadOptions::default())
            .unwrap()
            .remove(0);
        let source =
            "g?e={{ .Expr|queryEscape }}&i={{ $labels.instance }}&for={{ $for }}&v={{ $value }}";
        let settings = RuleSettings {
            external_url: "http://x/".into(),
            alert_source: Some(Template::parse("s", source).unwrap()),
            ..RuleSettings::default()
        };
        let ctx = RuleContext::for_group(&g, &settings);
        let labels = Labels::from_pairs([("instance", "a")]);
        let a = Alert::new(labels, Annotations::default(), 3.0, 0);
        let default: Arc<str> = "http://x/graph".into();
        assert_eq!(
            &*alert_link(&default, &ctx, &g.rules[0], &a),
            "http://x/g?e=up+%3D%3D+0&i=a&for=5m0s&v=3"
        );
        let plain = RuleContext::for_group(&g, &RuleSettings::default());
        assert_eq!(
            &*alert_link(&default, &plain, &g.rules[0], &a),
            "http://x/graph"
        );
    }
}
