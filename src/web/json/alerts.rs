//! Alerts: in a rule's `alerts` (`/api/v1/rules`) and in `/api/v1/alerts`, Prometheus'
//! fields then vmalert's (with the `source` link).

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::{AnnotationsJson, Ctx, Id};
use crate::rule::link::ExprLink;
use crate::status::{AlertState, AlertStatus, GroupStatus, RuleStatus};
use crate::web::format::{GoExp, GoTime};

/// A rule's `alerts` list.
pub(super) struct AlertList<'a> {
    pub(super) g: &'a GroupStatus,
    pub(super) r: &'a RuleStatus,
    pub(super) ctx: Ctx<'a>,
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

impl Serialize for AlertJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (g, r, a) = (self.g, self.r, self.a);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("labels", &a.labels)?;
        m.serialize_entry("annotations", &AnnotationsJson::of(a.annotations.iter()))?;
        m.serialize_entry("state", a.state.as_str())?;
        m.serialize_entry("activeAt", &GoTime(Some(a.active_at())))?;
        if let Some(t) = a.keep_firing_since() {
            m.serialize_entry("keepFiringSince", &GoTime(Some(t)))?;
        }
        m.serialize_entry("value", &GoExp(a.value))?;
        // vmalert extras.
        m.serialize_entry("id", &Id(a.id()))?;
        m.serialize_entry("rule_id", &Id(r.id))?;
        m.serialize_entry("group_id", &Id(g.id))?;
        m.serialize_entry("name", &*r.name)?;
        m.serialize_entry("expression", &*r.query)?;
        match &a.source {
            // -external.alert.source, rendered by the rule core.
            Some(link) => m.serialize_entry("source", link.as_str())?,
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
            &(a.state == AlertState::Firing && a.keep_firing_since_ms.get().is_some()),
        )?;
        // tocsin's own, only when true: the rule's `flapping` says the alert flaps.
        if a.flapping {
            m.serialize_entry("flapping", &true)?;
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
