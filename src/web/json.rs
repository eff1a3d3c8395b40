//! JSON bodies written straight from the snapshots: Prometheus' field names, order,
//! omitempty rules and formats first, then vmalert's extra fields (see docs/api.md).
//! Borrowing wrappers implement `Serialize` by hand, so a response is one pass over the
//! snapshot into a byte buffer, with no intermediate `serde_json::Value`.
//!
//! One module per answer: groups and rules (`rules`), alerts (`alerts`), pauses
//! (`pause`), the cluster (`cluster`); here what they share.

use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

mod alerts;
mod cluster;
mod extensions;
mod pause;
mod rules;

use super::format::GoFloat;
use crate::rule::alert::sorted_pairs;

pub use alerts::{AlertJson, AlertsData};
pub use cluster::ClusterJson;
pub use pause::PauseJson;
pub use rules::{GroupJson, RuleJson, RulesReply};

/// What every rendering needs besides the snapshot.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// `-external.url`, without a trailing slash, for vmalert's alert `source` link.
    pub external_url: &'a str,
    /// Prometheus' `exclude_alerts=true`: rules carry `"alerts": null`.
    pub exclude_alerts: bool,
    /// vmalert's `extended_states=true`: rules show their extended state
    /// ([`vm_state`](super::filter::vm_state)), recording rules too.
    pub extended_states: bool,
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

/// Annotations as a JSON object in name order, empty values included (as Prometheus
/// shows them); of a repeated name, the last one.
struct AnnotationsJson<'a>(Vec<(&'a str, &'a str)>);

impl<'a> AnnotationsJson<'a> {
    /// Name and value pairs in their order: an alert's rendered annotations, or a rule's
    /// as written.
    fn of(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        AnnotationsJson(sorted_pairs(pairs))
    }
}

impl Serialize for AnnotationsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// vmalert's IDs: decimal in a JSON string (so JavaScript does not round them),
/// written without allocating.
struct Id(u64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}
