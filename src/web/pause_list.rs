//! `GET /api/v1/rules/pauses`: every pause in force, also those whose group or rule is
//! no longer in the rule files (`/api/v1/rules` shows a pause only on a loaded group or
//! rule, so such a pause showed nowhere, yet applies again when its group comes back).
//! Reading is guarded like the rest of the read API (basic auth only), as Prometheus'
//! API reads are; changing pauses takes the `-reloadAuthKey` key (`pauses.rs`).

use hyper::StatusCode;
use serde::Serialize;

use super::api::{Api, Reply};
use super::json::{PauseJson, Success};
use super::pauses::now_ms;
use crate::rule::pause::Pause;
use crate::status::GroupStatus;

/// The answer's `data`.
#[derive(Serialize)]
struct Listing {
    /// Whether the pauses survive a restart (`-rule.pausesFile`).
    persistent: bool,
    pauses: Vec<serde_json::Value>,
}

/// How many loaded rules `p` covers: 0 when its group, or its rule, is not loaded.
fn covered_rules(groups: &[std::sync::Arc<GroupStatus>], p: &Pause) -> usize {
    groups
        .iter()
        .filter(|g| *g.file == *p.target.file && *g.name == *p.target.group)
        .map(|g| match &p.target.rule {
            None => g.rules.len(),
            Some(name) => g.rules.iter().filter(|r| *r.name == **name).count(),
        })
        .sum()
}

/// `GET /api/v1/rules/pauses`: the pauses not over, by file, group and rule, each with
/// `covered_rules`. A server that cannot pause rules has none.
pub fn list(api: &Api) -> Reply {
    let book = api.state.pause_book();
    let now = now_ms(api);
    let groups = api.state.groups();
    let pauses = book.map(|b| b.pauses()).unwrap_or_default();
    let mut listed = Vec::with_capacity(pauses.len());
    // A pause over by its `until` is dropped at its rule's next evaluation; one whose
    // rule is not loaded would stay until the next change: neither applies any more.
    for p in pauses.iter().filter(|p| !p.is_over(now)) {
        let mut v = match serde_json::to_value(PauseJson(p)) {
            Ok(v) => v,
            Err(e) => {
                return Reply::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    &e.to_string(),
                );
            }
        };
        if let Some(m) = v.as_object_mut() {
            m.insert("covered_rules".into(), covered_rules(&groups, p).into());
        }
        listed.push(v);
    }
    let data = Listing {
        persistent: book.is_some_and(|b| b.persistent()),
        pauses: listed,
    };
    Reply::json(StatusCode::OK, &Success(data))
}
