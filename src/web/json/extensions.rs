//! tocsin's rule-file extensions of an alerting rule, as `/api/v1/rules` shows them
//! (`extensions`, only on rules that use any): the UI lists them on the rule.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::secs;
use crate::config::AlertExtensions;
use crate::web::format::GoFloat;

/// A rule's extensions, as written in the file (durations in seconds):
/// `{"recover_expr": "…", "for_count": {"n", "of"}, "flapping": {"changes", "within",
/// "hold"}, "no_data": {"after", "state"}, "on_error": {"after", "state"}}`, set ones only.
pub(super) struct ExtensionsJson<'a>(pub(super) &'a AlertExtensions);

#[derive(Serialize)]
struct ForCountJson {
    n: u32,
    of: u32,
}

#[derive(Serialize)]
struct FlappingJson {
    changes: u32,
    within: GoFloat,
    hold: bool,
}

#[derive(Serialize)]
struct PolicyJson {
    after: GoFloat,
    state: &'static str,
}

impl Serialize for ExtensionsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(e) = &x.recover_expr {
            m.serialize_entry("recover_expr", e)?;
        }
        if let Some(f) = x.for_count {
            m.serialize_entry("for_count", &ForCountJson { n: f.n, of: f.of })?;
        }
        if let Some(f) = x.flapping {
            let v = FlappingJson {
                changes: f.changes,
                within: secs(f.within),
                hold: f.hold,
            };
            m.serialize_entry("flapping", &v)?;
        }
        for (key, p) in [("no_data", x.no_data), ("on_error", x.on_error)] {
            if let Some(p) = p {
                let v = PolicyJson {
                    after: secs(p.after),
                    state: p.state.as_str(),
                };
                m.serialize_entry(key, &v)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Flapping, ForCount, Policy, PolicyState};

    #[test]
    fn only_the_extensions_set_are_shown_as_written() {
        let x = AlertExtensions {
            recover_expr: Some("cpu < 70".into()),
            for_count: Some(ForCount { n: 2, of: 3 }),
            flapping: Some(Flapping {
                changes: 4,
                within: Duration::from_secs(600),
                hold: true,
            }),
            no_data: None,
            on_error: Some(Policy {
                after: Duration::from_secs(90),
                state: PolicyState::Keep,
            }),
        };
        assert_eq!(
            serde_json::to_value(ExtensionsJson(&x)).unwrap(),
            serde_json::json!({
                "recover_expr": "cpu < 70",
                "for_count": {"n": 2, "of": 3},
                "flapping": {"changes": 4, "within": 600, "hold": true},
                "on_error": {"after": 90, "state": "keep"},
            })
        );
    }
}
