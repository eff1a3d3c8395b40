//! Alertmanager's API v2 alert as tocsin writes it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::rule::{Annotations, Notification};

/// Alertmanager's v2 alert, written straight from the notification when a batch is
/// encoded: queuing an alert for every target copies a few pointers, not its text.
#[derive(Debug, Clone)]
pub struct WireAlert(pub Notification);

impl From<&Notification> for WireAlert {
    fn from(n: &Notification) -> Self {
        WireAlert(n.clone())
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Annotations as a JSON object in name order (a later duplicate name wins).
struct AnnotationMap<'a>(&'a Annotations);

impl Serialize for AnnotationMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let sorted: std::collections::BTreeMap<&str, &str> = self.0.iter().collect();
        let mut m = s.serialize_map(Some(sorted.len()))?;
        for (k, v) in sorted {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for WireAlert {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = &self.0;
        let mut m = s.serialize_struct("WireAlert", 5)?;
        m.serialize_field("labels", &n.labels)?;
        m.serialize_field("annotations", &AnnotationMap(&n.annotations))?;
        m.serialize_field("startsAt", &rfc3339(n.starts_at_ms))?;
        m.serialize_field("endsAt", &rfc3339(n.ends_at_ms))?;
        m.serialize_field("generatorURL", &*n.generator_url)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn wire_format_matches_alertmanager_v2() {
        let n = Notification {
            labels: Labels::from_pairs([("alertname", "A")]),
            annotations: Annotations::from_pairs([("summary", "s")]),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: 1_700_000_240_500,
            generator_url: "http://x/graph".into(),
        };
        let j = serde_json::to_string(&WireAlert::from(&n)).unwrap();
        assert_eq!(
            j,
            r#"{"labels":{"alertname":"A"},"annotations":{"summary":"s"},"startsAt":"2023-11-14T22:13:20.000Z","endsAt":"2023-11-14T22:17:20.500Z","generatorURL":"http://x/graph"}"#
        );
    }
}
