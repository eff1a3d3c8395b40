//! Groups and rules: `/api/v1/rules` (with its pages) and `/api/v1/rule`, Prometheus'
//! fields then vmalert's.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::alerts::AlertList;
use super::extensions::ExtensionsJson;
use super::pause::PauseJson;
use super::{AnnotationsJson, Ctx, Id, secs};
use crate::status::{GroupStatus, Health, RuleStatus, StateUpdate};
use crate::web::filter::vm_state;
use crate::web::format::GoTime;
use crate::web::listing::Listing;

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
        let r = self.r;
        let mut m = s.serialize_map(None)?;
        self.by_kind(&mut m)?;
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
        let kind = match r.alerting() {
            Some(_) => "alerting",
            None => "recording",
        };
        m.serialize_entry("type", kind)?;
        self.vmalert_extras(&mut m)?;
        m.end()
    }
}

impl RuleJson<'_> {
    /// Prometheus' fields before `health`: an alerting rule's state, `for`,
    /// annotations and alerts; a recording rule's name, query and labels.
    fn by_kind<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let (g, r) = (self.g, self.r);
        let Some(a) = r.alerting() else {
            // Prometheus' recording rules have no state; vmalert's extended one has.
            if self.ctx.extended_states {
                m.serialize_entry("state", vm_state(r, true))?;
            }
            m.serialize_entry("name", &*r.name)?;
            m.serialize_entry("query", &*r.query)?;
            return m.serialize_entry("labels", &r.labels);
        };
        m.serialize_entry("state", vm_state(r, self.ctx.extended_states))?;
        m.serialize_entry("name", &*r.name)?;
        m.serialize_entry("query", &*r.query)?;
        m.serialize_entry("duration", &secs(a.for_()))?;
        m.serialize_entry("keepFiringFor", &secs(a.keep_firing_for()))?;
        m.serialize_entry("labels", &r.labels)?;
        m.serialize_entry("annotations", &AnnotationsJson::of(a.annotations()))?;
        if self.ctx.exclude_alerts {
            return m.serialize_entry("alerts", &());
        }
        let ctx = self.ctx;
        m.serialize_entry("alerts", &AlertList { g, r, ctx })
    }

    /// vmalert's fields after Prometheus' (and tocsin's own, where used).
    fn vmalert_extras<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let (g, r) = (self.g, self.r);
        if let Some(a) = r.alerting() {
            m.serialize_entry("keep_firing_for", &secs(a.keep_firing_for()))?;
            // tocsin's own: the extensions the rule uses, only when it uses any.
            if let Some(x) = a.extensions() {
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
        Ok(())
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
        m.serialize_entry("time", &GoTime(Some(u.time())))?;
        m.serialize_entry("at", &GoTime(Some(u.at())))?;
        // vmalert writes Go's `time.Duration` here: nanoseconds.
        m.serialize_entry("duration", &u.duration_ns())?;
        m.serialize_entry("samples", &u.samples())?;
        m.serialize_entry("series_fetched", &u.series_fetched())?;
        m.serialize_entry("error", &u.error())?;
        let curl = u.curl().map(|c| c.to_string()).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::status::{AlertState, AlertStatus, Annotations, RuleKindStatus};

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

    /// vmalert's `updates` entry, byte for byte: `time` to the nanosecond, `at`,
    /// `duration` in nanoseconds (Go's `time.Duration`), the counts, the error and the
    /// curl command at the query time the group's schedule gives.
    #[test]
    fn an_update_entry_as_vmalert_writes_it() {
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        let schedule = crate::schedule::Schedule::new(
            Duration::from_secs(60),
            None,
            Some(Duration::from_millis(250)),
            None,
            None,
            0,
            Duration::from_secs(300),
        );
        let request = std::sync::Arc::new(crate::status::RuleQuery {
            expr: "up{job='a'}".into(),
            group: std::sync::Arc::new(crate::status::GroupQuery {
                params: vec![("nocache".to_string(), "1".to_string())],
                query_time: schedule.query_time(),
            }),
        });
        let failed = StateUpdate::new(
            epoch + Duration::new(1_700_000_060, 123_456_789),
            epoch + Duration::from_secs(1_700_000_060),
            Duration::from_nanos(1_234_567),
        )
        .with_counts(3, None)
        .with_error(Some("boom".into()))
        .with_request(request);
        let vm = StateUpdate::new(epoch, epoch, Duration::ZERO).with_counts(0, Some(7));
        assert_eq!(
            serde_json::to_string(&Updates(&[failed, vm])).unwrap(),
            concat!(
                r#"[{"time":"2023-11-14T22:14:20.123456789Z","at":"2023-11-14T22:14:20Z","#,
                r#""duration":1234567,"samples":3,"series_fetched":null,"error":"boom","#,
                r#""curl":"curl -s --data-urlencode 'query=up{job='\\''a'\\''}' "#,
                r#"--data-urlencode 'time=1700000059.750' --data-urlencode 'nocache=1' "#,
                r#"<datasource>/api/v1/query"},"#,
                r#"{"time":"1970-01-01T00:00:00Z","at":"1970-01-01T00:00:00Z","duration":0,"#,
                r#""samples":0,"series_fetched":7,"error":null,"curl":""}]"#,
            )
        );
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
                spec: std::sync::Arc::new(crate::config::AlertingSpec {
                    annotations: vec![(
                        "summary".into(),
                        crate::template::Template::parse("summary", "{{ if false }}x{{ end }}")
                            .unwrap(),
                    )],
                    ..Default::default()
                }),
                alerts: vec![alert],
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
            serde_json::to_string(&AnnotationsJson::of(repeated.iter())).unwrap(),
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
        let rule = |ext: Option<crate::config::AlertExtensions>| {
            let used = ext.is_some();
            let spec = crate::config::AlertingSpec {
                ext: ext.unwrap_or_default(),
                ..Default::default()
            };
            RuleStatus::new(
                1,
                "A",
                "up",
                RuleKindStatus::Alerting(crate::status::AlertingStatus {
                    spec: std::sync::Arc::new(spec),
                    alerts: vec![alert(used), alert(false)],
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
        let v = render(&rule(Some(ext)));
        assert_eq!(
            v["extensions"],
            serde_json::json!({"recover_expr": "up > 0"})
        );
        assert_eq!(v["alerts"][0]["flapping"], true);
        assert!(v["alerts"][1].get("flapping").is_none(), "{v}");
    }
}
