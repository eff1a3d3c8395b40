//! JSON bodies written straight from the snapshots: Prometheus' field names, order,
//! omitempty rules and formats first, then vmalert's extra fields (see docs/api.md).
//! Borrowing wrappers implement `Serialize` by hand, so a response is one pass over the
//! snapshot into a byte buffer, with no intermediate `serde_json::Value`.

use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

mod extensions;

use super::filter::vm_state;
use super::format::{GoExp, GoFloat, GoTime};
use super::listing::Listing;
use crate::rule::link::ExprLink;
use crate::status::{
    AlertState, AlertStatus, Annotations, GroupStatus, Health, Pause, RuleStatus, StateUpdate,
};
use extensions::ExtensionsJson;

/// What every rendering needs besides the snapshot.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// `-external.url`, without a trailing slash, for vmalert's alert `source` link.
    pub external_url: &'a str,
    /// Prometheus' `exclude_alerts=true`: rules carry `"alerts": null`.
    pub exclude_alerts: bool,
    /// vmalert's `extended_states=true`: rules show their extended state
    /// ([`vm_state`]), recording rules too.
    pub extended_states: bool,
}

/// A pause: what it covers, who asked, why, since and until when (`null`: until
/// resumed), and whether it holds the alerts.
pub struct PauseJson<'a>(pub &'a Pause);

impl Serialize for PauseJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let at = |ms: i64| GoTime(Some(crate::rule::system_time(ms)));
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("file", &p.target.file)?;
        m.serialize_entry("group", &p.target.group)?;
        if let Some(r) = &p.target.rule {
            m.serialize_entry("rule", r)?;
        }
        m.serialize_entry("by", &p.by)?;
        m.serialize_entry("reason", &p.reason)?;
        m.serialize_entry("note", &p.note)?;
        m.serialize_entry("since", &at(p.since_ms))?;
        match p.until_ms {
            Some(u) => m.serialize_entry("until", &at(u))?,
            None => m.serialize_entry("until", &())?,
        }
        m.serialize_entry("hold", &p.hold)?;
        m.end()
    }
}

fn secs(d: Duration) -> GoFloat {
    GoFloat(d.as_secs_f64())
}

/// `{"status":"success","data":…}`.
pub struct Success<T>(pub T);

impl<T: Serialize> Serialize for Success<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("status", "success")?;
        m.serialize_entry("data", &self.0)?;
        m.end()
    }
}

/// Prometheus' error envelope.
pub struct ApiError<'a> {
    pub error_type: &'a str,
    pub error: &'a str,
}

impl Serialize for ApiError<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("status", "error")?;
        m.serialize_entry("errorType", self.error_type)?;
        m.serialize_entry("error", self.error)?;
        m.end()
    }
}

/// A group with the rules that passed the filter.
pub struct GroupJson<'a> {
    pub g: &'a GroupStatus,
    pub rules: Vec<&'a RuleStatus>,
    pub ctx: Ctx<'a>,
}

impl<'a> GroupJson<'a> {
    pub fn new(g: &'a GroupStatus, rules: Vec<&'a RuleStatus>, ctx: Ctx<'a>) -> Self {
        GroupJson { g, rules, ctx }
    }
}

/// vmalert 1.145's group `states`: how many of the listed rules are in each state (as
/// [`vm_state`] names it), keys in order as Go writes a map.
struct StateCounts<'a>(&'a [&'a RuleStatus], bool);

impl Serialize for StateCounts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in self.0 {
            let st = vm_state(r, self.1);
            match counts.iter_mut().find(|(k, _)| *k == st) {
                Some((_, n)) => *n += 1,
                None => counts.push((st, 1)),
            }
        }
        counts.sort_unstable();
        let mut m = s.serialize_map(Some(counts.len()))?;
        for (k, n) in counts {
            m.serialize_entry(k, &n)?;
        }
        m.end()
    }
}

impl Serialize for GroupJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.g;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &*g.name)?;
        m.serialize_entry("file", &*g.file)?;
        m.serialize_entry("rules", &RuleList(&self.rules, g, self.ctx))?;
        m.serialize_entry("interval", &secs(g.interval))?;
        m.serialize_entry("limit", &g.limit)?;
        m.serialize_entry("evaluationTime", &secs(g.evaluation_time))?;
        m.serialize_entry("lastEvaluation", &GoTime(g.last_evaluation))?;
        // vmalert extras.
        m.serialize_entry("id", &Id(g.id))?;
        m.serialize_entry("type", g.datasource_type)?;
        m.serialize_entry("concurrency", &g.concurrency)?;
        if !g.labels.is_empty() {
            m.serialize_entry("labels", &g.labels)?;
        }
        if !g.params.is_empty() {
            m.serialize_entry("params", &g.params)?;
        }
        if !g.headers.is_empty() {
            m.serialize_entry("headers", &g.headers)?;
        }
        if !g.notifier_headers.is_empty() {
            m.serialize_entry("notifier_headers", &g.notifier_headers)?;
        }
        if let Some(d) = g.eval_offset.filter(|d| !d.is_zero()) {
            m.serialize_entry("eval_offset", &secs(d))?;
        }
        if let Some(d) = g.eval_delay.filter(|d| !d.is_zero()) {
            m.serialize_entry("eval_delay", &secs(d))?;
        }
        m.serialize_entry(
            "states",
            &StateCounts(&self.rules, self.ctx.extended_states),
        )?;
        if let Some(p) = &g.paused {
            m.serialize_entry("paused", &PauseJson(p))?;
        }
        m.end()
    }
}

struct RuleList<'a>(&'a [&'a RuleStatus], &'a GroupStatus, Ctx<'a>);

impl Serialize for RuleList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&RuleJson {
                g: self.1,
                r,
                ctx: self.2,
                with_updates: false,
            })?;
        }
        seq.end()
    }
}

/// One rule; `with_updates` adds vmalert's `updates` list (`/api/v1/rule`).
pub struct RuleJson<'a> {
    pub g: &'a GroupStatus,
    pub r: &'a RuleStatus,
    pub ctx: Ctx<'a>,
    pub with_updates: bool,
}

impl Serialize for RuleJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (g, r) = (self.g, self.r);
        let mut m = s.serialize_map(None)?;
        let alerting = r.alerting();
        if let Some(a) = alerting {
            m.serialize_entry("state", vm_state(r, self.ctx.extended_states))?;
            m.serialize_entry("name", &*r.name)?;
            m.serialize_entry("query", &*r.query)?;
            m.serialize_entry("duration", &secs(a.for_))?;
            m.serialize_entry("keepFiringFor", &secs(a.keep_firing_for))?;
            m.serialize_entry("labels", &r.labels)?;
            m.serialize_entry("annotations", &AnnotationsJson(&a.annotations))?;
            if self.ctx.exclude_alerts {
                m.serialize_entry("alerts", &())?;
            } else {
                m.serialize_entry(
                    "alerts",
                    &AlertList {
                        g,
                        r,
                        ctx: self.ctx,
                    },
                )?;
            }
        } else {
            // Prometheus' recording rules have no state; vmalert's extended one has.
            if self.ctx.extended_states {
                m.serialize_entry("state", vm_state(r, true))?;
            }
            m.serialize_entry("name", &*r.name)?;
            m.serialize_entry("query", &*r.query)?;
            m.serialize_entry("labels", &r.labels)?;
        }
        m.serialize_entry("health", r.health.as_str())?;
        match r.last_error.as_deref().filter(|e| !e.is_empty()) {
            Some(e) => m.serialize_entry("lastError", e)?,
            // The compliance spec requires a non-empty lastError when health is "err".
            None if r.health == Health::Err => {
                m.serialize_entry("lastError", "evaluation failed")?
            }
            None => {}
        }
        m.serialize_entry("evaluationTime", &secs(r.evaluation_time))?;
        m.serialize_entry("lastEvaluation", &GoTime(r.last_evaluation))?;
        m.serialize_entry(
            "type",
            if alerting.is_some() {
                "alerting"
            } else {
                "recording"
            },
        )?;
        // vmalert extras.
        if let Some(a) = alerting {
            m.serialize_entry("keep_firing_for", &secs(a.keep_firing_for))?;
            // tocsin's own: the extensions the rule uses, only when it uses any.
            if let Some(x) = &a.extensions {
                m.serialize_entry("extensions", &ExtensionsJson(x))?;
            }
        }
        m.serialize_entry("datasourceType", g.datasource_type)?;
        m.serialize_entry("lastSamples", &r.last_samples)?;
        if let Some(n) = r.last_series_fetched {
            m.serialize_entry("lastSeriesFetched", &n)?;
        }
        m.serialize_entry("id", &Id(r.id))?;
        m.serialize_entry("group_id", &Id(g.id))?;
        m.serialize_entry("group_name", &*g.name)?;
        m.serialize_entry("file", &*g.file)?;
        m.serialize_entry("debug", &r.debug)?;
        m.serialize_entry("max_updates_entries", &r.max_updates)?;
        if self.with_updates {
            m.serialize_entry("updates", &Updates(&r.updates))?;
        }
        if let Some(p) = &r.paused {
            m.serialize_entry("paused", &PauseJson(p))?;
        }
        m.end()
    }
}

struct AlertList<'a> {
    g: &'a GroupStatus,
    r: &'a RuleStatus,
    ctx: Ctx<'a>,
}

impl Serialize for AlertList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for a in self.r.active_alerts() {
            seq.serialize_element(&AlertJson {
                g: self.g,
                r: self.r,
                a,
                ctx: self.ctx,
            })?;
        }
        seq.end()
    }
}

/// One alert: Prometheus' fields, then vmalert's.
pub struct AlertJson<'a> {
    pub g: &'a GroupStatus,
    pub r: &'a RuleStatus,
    pub a: &'a AlertStatus,
    pub ctx: Ctx<'a>,
}

/// vmalert's IDs: decimal in a JSON string (so JavaScript does not round them),
/// written without allocating.
/// Annotations as a JSON object in name order, empty values included (as Prometheus
/// shows them).
struct AnnotationsJson<'a>(&'a Annotations);

impl Serialize for AnnotationsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs = self.0.sorted();
        let mut m = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

struct Id(u64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for AlertJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (g, r, a) = (self.g, self.r, self.a);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("labels", &a.labels)?;
        m.serialize_entry("annotations", &AnnotationsJson(&a.annotations))?;
        m.serialize_entry("state", a.state.as_str())?;
        m.serialize_entry("activeAt", &GoTime(Some(a.active_at)))?;
        if let Some(t) = a.keep_firing_since {
            m.serialize_entry("keepFiringSince", &GoTime(Some(t)))?;
        }
        m.serialize_entry("value", &GoExp(a.value))?;
        // vmalert extras.
        m.serialize_entry("id", &Id(a.id))?;
        m.serialize_entry("rule_id", &Id(r.id))?;
        m.serialize_entry("group_id", &Id(g.id))?;
        m.serialize_entry("name", &*r.name)?;
        m.serialize_entry("expression", &*r.query)?;
        match &a.source {
            // -external.alert.source, rendered by the rule core.
            Some(link) => m.serialize_entry("source", &**link)?,
            None => {
                let link = ExprLink {
                    external_url: self.ctx.external_url,
                    expr: &r.query,
                };
                m.serialize_entry("source", &format_args!("{link}"))?
            }
        }
        m.serialize_entry("restored", &a.restored)?;
        m.serialize_entry(
            "stabilizing",
            &(a.state == AlertState::Firing && a.keep_firing_since.is_some()),
        )?;
        // tocsin's own, only when true: the rule's `flapping` says the alert flaps.
        if a.flapping {
            m.serialize_entry("flapping", &true)?;
        }
        m.end()
    }
}

struct Updates<'a>(&'a [StateUpdate]);

impl Serialize for Updates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for u in self.0 {
            seq.serialize_element(&UpdateJson(u))?;
        }
        seq.end()
    }
}

struct UpdateJson<'a>(&'a StateUpdate);

impl Serialize for UpdateJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("time", &GoTime(Some(u.time)))?;
        m.serialize_entry("at", &GoTime(Some(u.at)))?;
        // vmalert writes Go's `time.Duration` here: nanoseconds.
        m.serialize_entry("duration", &(u.duration.as_nanos() as u64))?;
        m.serialize_entry("samples", &u.samples)?;
        m.serialize_entry("series_fetched", &u.series_fetched)?;
        m.serialize_entry("error", &u.error.as_deref())?;
        let curl = u.curl.as_ref().map(|c| c.to_string()).unwrap_or_default();
        m.serialize_entry("curl", &curl)?;
        m.end()
    }
}

/// The whole `/api/v1/rules` answer: Prometheus' envelope, vmalert's page counters
/// next to `data` (as vmalert places them), `groupNextToken` inside it (Prometheus).
pub struct RulesReply<'a>(pub Listing<'a>);

impl Serialize for RulesReply<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = &self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("status", "success")?;
        if let Some(p) = l.pages {
            if let Some(n) = p.page {
                m.serialize_entry("page", &n)?;
            }
            m.serialize_entry("total_pages", &p.total_pages)?;
            // Omitted when zero, as vmalert's `omitempty` does.
            if p.total_groups > 0 {
                m.serialize_entry("total_groups", &p.total_groups)?;
                m.serialize_entry("total_rules", &p.total_rules)?;
            }
        }
        m.serialize_entry("data", &RulesData(l))?;
        m.end()
    }
}

struct RulesData<'a>(&'a Listing<'a>);

impl Serialize for RulesData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("groups", &self.0.groups)?;
        if let Some(t) = &self.0.next_token {
            m.serialize_entry("groupNextToken", t)?;
        }
        m.end()
    }
}

/// `data` of `/api/v1/alerts`.
pub struct AlertsData<'a> {
    pub alerts: Vec<AlertJson<'a>>,
}

impl Serialize for AlertsData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("alerts", &self.alerts)?;
        m.end()
    }
}

/// `data.cluster` of `/api/v1/status` on a cluster member: membership and assignment.
pub struct ClusterJson<'a>(pub &'a crate::status::ClusterStatus);

impl Serialize for ClusterJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let members: Vec<serde_json::Value> = c
            .members
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "address": m.addr, "self": m.me}))
            .collect();
        let peers: Vec<serde_json::Value> = c
            .peers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "address": p.addr, "ready": p.ready, "member": p.member, "error": p.error
                })
            })
            .collect();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("mode", c.mode)?;
        m.serialize_entry("members", &members)?;
        m.serialize_entry("replicationFactor", &c.replication)?;
        m.serialize_entry("converged", &c.converged)?;
        m.serialize_entry("groupsOwned", &c.groups_owned)?;
        m.serialize_entry("groupsTotal", &c.groups_total)?;
        m.serialize_entry("peers", &peers)?;
        m.serialize_entry("problems", &c.problems)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::RuleKindStatus;

    fn render(r: &RuleStatus) -> serde_json::Value {
        let g = GroupStatus::new("f.yml", "g", Duration::from_secs(60));
        let ctx = Ctx {
            external_url: "",
            exclude_alerts: false,
            extended_states: false,
        };
        let j = RuleJson {
            g: &g,
            r,
            ctx,
            with_updates: false,
        };
        serde_json::to_value(&j).unwrap()
    }

    #[test]
    fn last_error_is_never_empty_for_err_health() {
        let mut r = RuleStatus::new(1, "r", "up", RuleKindStatus::Recording);
        assert!(render(&r).get("lastError").is_none());
        r.health = Health::Err;
        assert_eq!(render(&r)["lastError"], "evaluation failed");
        r.last_error = Some("boom".into());
        assert_eq!(render(&r)["lastError"], "boom");
    }

    #[test]
    fn annotations_that_render_empty_are_kept_in_name_order() {
        let mut alert = AlertStatus::new(
            crate::labels::Labels::from_pairs([("alertname", "A")]),
            AlertState::Firing,
            std::time::UNIX_EPOCH,
            1.0,
        );
        alert.annotations = Annotations::from_pairs([("summary", ""), ("description", "d")]);
        let r = RuleStatus::new(
            1,
            "A",
            "up",
            RuleKindStatus::Alerting(crate::status::AlertingStatus {
                annotations: Annotations::from_pairs([("summary", "{{ if false }}x{{ end }}")]),
                alerts: vec![alert],
                ..Default::default()
            }),
        );
        let v = render(&r);
        assert_eq!(
            v["annotations"],
            serde_json::json!({"summary": "{{ if false }}x{{ end }}"})
        );
        assert_eq!(
            v["alerts"][0]["annotations"],
            serde_json::json!({"description": "d", "summary": ""})
        );
        // In name order, as Go writes a map; of a repeated name, the last one.
        let repeated = Annotations::from_pairs([("z", ""), ("b", "1"), ("z", "2")]);
        assert_eq!(
            serde_json::to_string(&AnnotationsJson(&repeated)).unwrap(),
            r#"{"b":"1","z":"2"}"#
        );
    }

    #[test]
    fn extensions_and_flapping_are_shown_only_where_used() {
        let alert = |flapping| {
            let mut a = AlertStatus::new(
                crate::labels::Labels::from_pairs([("alertname", "A")]),
                AlertState::Firing,
                std::time::UNIX_EPOCH,
                1.0,
            );
            a.flapping = flapping;
            a
        };
        let rule = |extensions: Option<std::sync::Arc<crate::config::AlertExtensions>>| {
            RuleStatus::new(
                1,
                "A",
                "up",
                RuleKindStatus::Alerting(crate::status::AlertingStatus {
                    alerts: vec![alert(extensions.is_some()), alert(false)],
                    extensions,
                    ..Default::default()
                }),
            )
        };
        let plain = render(&rule(None));
        assert!(plain.get("extensions").is_none(), "{plain}");
        assert!(plain["alerts"][0].get("flapping").is_none(), "{plain}");
        let ext = crate::config::AlertExtensions {
            recover_expr: Some("up > 0".into()),
            ..Default::default()
        };
        let v = render(&rule(Some(std::sync::Arc::new(ext))));
        assert_eq!(
            v["extensions"],
            serde_json::json!({"recover_expr": "up > 0"})
        );
        assert_eq!(v["alerts"][0]["flapping"], true);
        assert!(v["alerts"][1].get("flapping").is_none(), "{v}");
    }
}
