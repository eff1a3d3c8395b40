//! `POST /api/v1/rules/pause` and `/api/v1/rules/resume`: which rule or group the
//! request names, and the pause it asks for (see `docs/api.md`). The pauses themselves
//! live in [`crate::status::PauseBook`]; what a paused rule does, in
//! [`crate::rule::pause`].

use std::sync::Arc;

use hyper::StatusCode;

use super::api::{Api, Reply};
use super::filter::Query;
use super::json::{PauseJson, Success};
use crate::rule::pause::{Pause, PauseTarget};
use crate::status::{GroupStatus, PauseBook};

/// Why a request names no rule or group that can be paused.
fn bad(msg: String) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "bad_data", &msg)
}

fn not_found(msg: String) -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "not_found", &msg)
}

/// The group the request names: `group_id`, or `group` (with `file` when two files
/// have a group of that name).
fn find_group<'a>(groups: &'a [Arc<GroupStatus>], q: &Query) -> Result<&'a GroupStatus, Reply> {
    let nonempty = |k| q.get(k).filter(|v| !v.is_empty());
    if let Some(id) = nonempty("group_id") {
        let id: u64 = id
            .parse()
            .map_err(|e| bad(format!("group_id: cannot parse {id:?} as an ID: {e}")))?;
        return groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| &**g)
            .ok_or_else(|| {
                not_found(format!(
                    "no group with id {id}; /api/v1/rules lists the ids"
                ))
            });
    }
    let Some(name) = nonempty("group") else {
        return Err(bad(
            "name the group: group=NAME (and file=PATH if two files have one of that name) or group_id=ID"
                .into(),
        ));
    };
    let file = nonempty("file");
    let found: Vec<&GroupStatus> = groups
        .iter()
        .filter(|g| &*g.name == name && file.is_none_or(|f| &*g.file == f))
        .map(|g| &**g)
        .collect();
    match found.as_slice() {
        [g] => Ok(g),
        [] => Err(not_found(match file {
            Some(f) => format!("no group {name:?} in {f}"),
            None => format!("no group {name:?}"),
        })),
        many => Err(bad(format!(
            "group {name:?} is in {} files ({}): add file=PATH",
            many.len(),
            many.iter().map(|g| &*g.file).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// What the request names: a group, or one rule name of it (`rule` or `rule_id`).
fn target(groups: &[Arc<GroupStatus>], q: &Query) -> Result<PauseTarget, Reply> {
    let g = find_group(groups, q)?;
    if &*g.file == crate::manager::watchdog::WATCHDOG_FILE {
        return Err(bad(
            "the watchdog cannot be paused: it is no rule; restart without -rule.watchdog, or silence it in Alertmanager"
                .into(),
        ));
    }
    let nonempty = |k| q.get(k).filter(|v| !v.is_empty());
    let rule = match (nonempty("rule"), nonempty("rule_id")) {
        (None, None) => None,
        (Some(name), _) => match g.rules.iter().find(|r| &*r.name == name) {
            Some(r) => Some(r.name.to_string()),
            None => {
                return Err(not_found(format!(
                    "no rule {name:?} in group {:?} ({}); its rules: {}",
                    &*g.name,
                    g.file,
                    g.rules
                        .iter()
                        .map(|r| &*r.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
        (None, Some(id)) => {
            let found = id
                .parse::<u64>()
                .ok()
                .and_then(|id| g.rules.iter().find(|r| r.id == id));
            match found {
                Some(r) => Some(r.name.to_string()),
                None => {
                    return Err(not_found(format!(
                        "no rule with id {id} in group {:?} ({})",
                        &*g.name, g.file
                    )));
                }
            }
        }
    };
    Ok(PauseTarget {
        file: g.file.to_string(),
        group: g.name.to_string(),
        rule,
    })
}

/// The one pause whose names the request gives (`group`, `file` if given, `rule`),
/// so that a pause of a group or rule no longer in the files can be resumed.
fn named_pause(book: &PauseBook, q: &Query) -> Option<PauseTarget> {
    let nonempty = |k| q.get(k).filter(|v| !v.is_empty());
    let group = nonempty("group")?;
    let (file, rule) = (nonempty("file"), nonempty("rule"));
    let pauses = book.pauses();
    let mut found = pauses.iter().map(|p| &p.target).filter(|t| {
        t.group == group && file.is_none_or(|f| t.file == f) && t.rule.as_deref() == rule
    });
    match (found.next(), found.next()) {
        (Some(t), None) => Some(t.clone()),
        _ => None,
    }
}

/// `until`: a duration from now (`30m`, `2h`), RFC 3339 or unix seconds; in the future.
fn until(q: &Query, now_ms: i64) -> Result<Option<i64>, Reply> {
    let Some(v) = q.get("until").map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let at = match crate::cli::parse_go_duration(v) {
        Ok(d) => now_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        Err(_) => crate::timeparse::parse_time(v, now_ms).map_err(|_| {
            bad(format!(
                "until={v:?}: use a duration from now (30m, 2h), RFC 3339 (2026-11-01T00:00:00Z) or unix seconds"
            ))
        })?,
    };
    if at <= now_ms {
        return Err(bad(format!("until={v:?} is not in the future")));
    }
    Ok(Some(at))
}

fn book(api: &Api) -> Result<&PauseBook, Reply> {
    api.state.pause_book().ok_or_else(|| {
        Reply::error(
            StatusCode::NOT_IMPLEMENTED,
            "unavailable",
            "this server cannot pause rules",
        )
    })
}

pub(super) fn now_ms(api: &Api) -> i64 {
    api.state
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `POST /api/v1/rules/pause`; `caller` names who asks when the request has no `by`.
pub async fn pause(api: &Api, q: &Query, caller: String) -> Reply {
    let book = match book(api) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = now_ms(api);
    let target = match target(&api.state.groups(), q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(reason) = q.get("reason").map(str::trim).filter(|r| !r.is_empty()) else {
        return bad("reason is required: say why the rule is paused (reason=...)".into());
    };
    let until_ms = match until(q, now) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let hold = match q.get("hold").unwrap_or("false") {
        "" | "false" => false,
        "true" => true,
        v => {
            return bad(format!(
                "hold={v:?}: use true (keep the alerts) or false (resolve them)"
            ));
        }
    };
    let p = Pause {
        target,
        since_ms: now,
        until_ms,
        by: q
            .get("by")
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map_or(caller, str::to_string),
        reason: reason.to_string(),
        note: q.get("note").unwrap_or("").to_string(),
        hold,
    };
    tracing::info!(target = %p.target, by = %p.by, reason = %p.reason, "pause requested");
    match book.pause(p).await {
        Ok(p) => Reply::json(StatusCode::OK, &Success(PauseJson(&p))),
        Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
    }
}

/// `POST /api/v1/rules/resume`: ends the pause of exactly the rule or group named.
pub async fn resume(api: &Api, q: &Query) -> Reply {
    let book = match book(api) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let target = match named_pause(book, q).map_or_else(|| target(&api.state.groups(), q), Ok) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match book.resume(&target).await {
        Ok(Some(p)) => {
            tracing::info!(target = %p.target, "resumed");
            Reply::json(StatusCode::OK, &Success(PauseJson(&p)))
        }
        Ok(None) => not_found(format!(
            "{target} is not paused{}",
            match &target.rule {
                Some(_) => " (a rule paused with its group resumes with its group)",
                None => "",
            }
        )),
        Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
    }
}
