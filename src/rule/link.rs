//! Where a notification's `generatorURL` (and the API's alert `source`) points.
//!
//! By default, Prometheus' link to the expression on its graph page
//! (`<-external.url>/graph?g0.expr=…&g0.tab=1`, one per rule). With vmalert's
//! `-external.alert.source`, a template rendered per alert as vmalert 1.145 renders it:
//! the alert's labels, value, `activeAt`, the rule's expression and `for`, the group and
//! alert ids, the external labels and URL, joined to `-external.url` with a `/`
//! (`explore?orgId=1&left=…{{ .Expr|jsonEscape|queryEscape }}…` for Grafana). Like
//! vmalert, it is rendered when the alert is sent, and `query` is not available to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Alert, RuleContext, system_time};
use crate::config::{self, RuleKind};
use crate::template::{Context, QueryEscaped, Template};

/// Prometheus' link to a rule's expression on its graph page,
/// `<-external.url>/graph?g0.expr=<expr, as Go's url.QueryEscape>&g0.tab=1`: the one
/// builder of it, for notifications' `generatorURL` and the API's alert `source`.
/// Written straight into a formatter (the API writes it into its JSON without a copy).
pub struct ExprLink<'a> {
    pub external_url: &'a str,
    pub expr: &'a str,
}

impl fmt::Display for ExprLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.external_url.trim_end_matches('/');
        write!(
            f,
            "{base}/graph?g0.expr={}&g0.tab=1",
            QueryEscaped(self.expr)
        )
    }
}

/// [`ExprLink`] as a string.
pub fn expr_link(external_url: &str, expr: &str) -> String {
    ExprLink { external_url, expr }.to_string()
}

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
    tctx.library = s.library.current();
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
    fn the_expression_link_escapes_like_go() {
        // Go's url.QueryEscape: space as `+`, `~` kept, UTF-8 bytes escaped one by one.
        assert_eq!(
            expr_link("http://x:9/", "up{job=\"a b\"} > 0"),
            "http://x:9/graph?g0.expr=up%7Bjob%3D%22a+b%22%7D+%3E+0&g0.tab=1"
        );
        assert_eq!(
            expr_link("", "{\"é~\"}"),
            "/graph?g0.expr=%7B%22%C3%A9~%22%7D&g0.tab=1"
        );
        assert_eq!(
            expr_link("http://x", ""),
            "http://x/graph?g0.expr=&g0.tab=1"
        );
    }

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
