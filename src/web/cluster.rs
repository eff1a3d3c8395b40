//! The cluster-wide API: on a cluster member, `/api/v1/rules` and `/api/v1/alerts` show
//! every member's groups. The member answers with its own groups and asks the others for
//! theirs (`?local=1`, the member's own answer, which is also what users get with
//! `local=1`); groups whose owners did not answer in time are shown as loaded from the
//! files, never evaluated (`ownerUnreachable: true`), and the answer says it is partial
//! (`data.partial`, one `warnings` entry per member that did not answer). Every group
//! carries `owners`, the members that evaluate it. A member whose `-cluster.*` flags
//! differ from this one's (its answer's `Tocsin-Cluster` header says) adds a warning,
//! without making the answer partial. Only the requests to the members run on the async
//! threads: this member's own answer and the merge are rendered on the blocking pool,
//! as the local answers are.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::api::{Api, Reply};
use super::filter::{self, Query};
use crate::status::{ClusterSource, GroupStatus, PeerAnswer};

/// Parameters that page through the merged list; never forwarded.
const PAGING: &[&str] = &["group_limit", "group_next_token", "page_num", "local"];

/// A reply's `data`, or the reply itself when it is an error.
fn data_of(reply: Reply) -> Result<Map<String, Value>, Reply> {
    if reply.status != StatusCode::OK {
        return Err(reply);
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(mut m)) => match m.remove("data") {
            Some(Value::Object(d)) => Ok(d),
            _ => Err(reply),
        },
        _ => Err(reply),
    }
}

fn array(mut data: Map<String, Value>, key: &str) -> Vec<Value> {
    match data.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

/// Asks every other member for its own answer to `path` with the query `q`.
async fn ask_peers(
    c: &Arc<dyn ClusterSource>,
    path: &str,
    q: &Query,
    auth: Option<String>,
) -> Vec<PeerAnswer> {
    let mut forward = q.encode(PAGING);
    if !forward.is_empty() {
        forward.push('&');
    }
    c.fan_out(format!("{path}?{forward}local=1"), auth).await
}

/// The members' lists under `data[key]`, the warnings saying why a member has none
/// (which make the answer partial), and the members' disagreements (which do not).
struct Answers {
    lists: Vec<(String, Vec<Value>)>,
    missing: Vec<String>,
    problems: Vec<String>,
}

fn lists_of(answers: Vec<PeerAnswer>, key: &str) -> Answers {
    let mut out = Answers {
        lists: Vec::new(),
        missing: Vec::new(),
        problems: Vec::new(),
    };
    for a in answers {
        let who = match &a.addr {
            Some(addr) => format!("member {} ({addr})", a.member),
            None => format!("member {}", a.member),
        };
        for p in a.problems {
            if !out.problems.contains(&p) {
                out.problems.push(p);
            }
        }
        let parsed = a.body.and_then(|b| {
            serde_json::from_slice::<Value>(&b)
                .ok()
                .and_then(|mut v| v.get_mut("data").map(Value::take))
                .and_then(|d| match d {
                    Value::Object(m) => Some(array(m, key)),
                    _ => None,
                })
                .ok_or_else(|| "answered something that is not the tocsin API".to_string())
        });
        match parsed {
            Ok(list) => out.lists.push((a.member, list)),
            Err(e) => out.missing.push(format!("{who} did not answer: {e}")),
        }
    }
    out
}

/// Runs `merge` on the blocking pool (rendering and merging cost what the local answers
/// do, which are rendered there too).
async fn blocking(merge: impl FnOnce() -> Reply + Send + 'static) -> Reply {
    tokio::task::spawn_blocking(merge)
        .await
        .unwrap_or_else(|e| {
            Reply::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("merging the cluster's answers failed: {e}\n"),
            )
        })
}

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn with_owners(mut v: Value, owners: &[String]) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("owners".into(), json!(owners));
    }
    v
}

/// The merged answer: `data` with `partial` (a member did not answer), and the warnings
/// (why not, and how members disagree).
fn envelope(mut data: Map<String, Value>, mut answers: Answers) -> Reply {
    data.insert("partial".into(), json!(!answers.missing.is_empty()));
    answers.missing.sort();
    let mut warnings = answers.missing;
    warnings.extend(answers.problems);
    let mut m = Map::new();
    m.insert("status".into(), json!("success"));
    m.insert("data".into(), Value::Object(data));
    if !warnings.is_empty() {
        m.insert("warnings".into(), json!(warnings));
    }
    Reply::json(StatusCode::OK, &Value::Object(m))
}

/// `/api/v1/rules` of the whole cluster.
pub async fn rules(
    api: &Arc<Api>,
    c: &Arc<dyn ClusterSource>,
    q: &Query,
    auth: Option<String>,
) -> Reply {
    let f = match filter::RulesFilter::parse(q) {
        Ok(f) => f,
        Err(e) => return Reply::bad_data(&e),
    };
    let answers = ask_peers(c, "/api/v1/rules", q, auth).await;
    let (api, c, q) = (api.clone(), c.clone(), q.clone());
    blocking(move || merge_rules(&api, &c, &q, &f, lists_of(answers, "groups"))).await
}

/// This member's groups, then each other member's, each group once; groups whose owners
/// did not answer as loaded from the files.
fn merge_rules(
    api: &Api,
    c: &Arc<dyn ClusterSource>,
    q: &Query,
    f: &filter::RulesFilter,
    answers: Answers,
) -> Reply {
    let local_q = q.without(PAGING);
    let mine = match data_of(api.rules(&local_q)) {
        Ok(d) => array(d, "groups"),
        Err(r) => return r,
    };
    let (mut found, extra) = first_sent(mine, &answers.lists);
    let all = c.all_groups();
    let unevaluated = match unreachable_groups(api, c, &all, &found, &answers, &local_q) {
        Ok(groups) => groups,
        Err(r) => return r,
    };
    for g in unevaluated {
        if let Some(id) = id_of(&g) {
            found.insert(id, g);
        }
    }
    let ids = all.iter().map(|g| g.id.to_string()).chain(extra);
    let merged = in_order(c, ids, found);
    let (page, next) = match paginate(merged, f) {
        Ok(p) => p,
        Err(e) => return Reply::bad_data(&e),
    };
    let mut data = Map::new();
    data.insert("groups".into(), Value::Array(page));
    if let Some(t) = next {
        data.insert("groupNextToken".into(), json!(t));
    }
    envelope(data, answers)
}

/// Each group, by id, from the first member that sent it (this member first), and the
/// ids of the groups only other members sent, in the order they came.
fn first_sent(
    mine: Vec<Value>,
    lists: &[(String, Vec<Value>)],
) -> (HashMap<String, Value>, Vec<String>) {
    let mut found: HashMap<String, Value> = HashMap::new();
    for g in mine {
        if let Some(id) = id_of(&g) {
            found.insert(id, g);
        }
    }
    let mut extra = Vec::new();
    for g in lists.iter().flat_map(|(_, list)| list) {
        if let Some(id) = id_of(g)
            && !found.contains_key(&id)
        {
            found.insert(id.clone(), g.clone());
            extra.push(id);
        }
    }
    (found, extra)
}

/// The groups no answer carried whose owners all failed to answer (this member answers
/// for itself), as loaded from the files and marked `ownerUnreachable`.
fn unreachable_groups(
    api: &Api,
    c: &Arc<dyn ClusterSource>,
    all: &[Arc<GroupStatus>],
    found: &HashMap<String, Value>,
    answers: &Answers,
    local_q: &Query,
) -> Result<Vec<Value>, Reply> {
    let answered: HashSet<&str> = answers.lists.iter().map(|(m, _)| m.as_str()).collect();
    let me = c
        .status()
        .members
        .into_iter()
        .find(|m| m.me)
        .map(|m| m.name);
    let missing: Vec<Arc<GroupStatus>> = all
        .iter()
        .filter(|g| !found.contains_key(&g.id.to_string()))
        .filter(|g| {
            !c.owners(g.id)
                .iter()
                .any(|o| answered.contains(o.as_str()) || Some(o) == me.as_ref())
        })
        .cloned()
        .collect();
    let mut groups = array(data_of(api.rules_of(&missing, local_q))?, "groups");
    for g in &mut groups {
        if let Value::Object(m) = g {
            m.insert("ownerUnreachable".into(), json!(true));
        }
    }
    Ok(groups)
}

/// The groups of `found` in the order of `ids` (each once), each with its owners.
fn in_order(
    c: &Arc<dyn ClusterSource>,
    ids: impl Iterator<Item = String>,
    mut found: HashMap<String, Value>,
) -> Vec<Value> {
    let mut merged = Vec::with_capacity(found.len());
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(g) = found.remove(&id) {
            let owners = id.parse().map(|n| c.owners(n)).unwrap_or_default();
            merged.push(with_owners(g, &owners));
        }
    }
    merged
}

/// Applies `group_limit` with `group_next_token` (Prometheus 3) or `page_num` (vmalert)
/// to the merged list.
fn paginate(
    groups: Vec<Value>,
    f: &filter::RulesFilter,
) -> Result<(Vec<Value>, Option<String>), filter::ParamError> {
    let token = |g: &Value| {
        let s = |k| g.get(k).and_then(Value::as_str).unwrap_or("");
        filter::token_of(s("file"), s("name"))
    };
    let (limit, after, page_num) = match &f.paging {
        filter::Paging::All => return Ok((groups, None)),
        filter::Paging::Limit {
            limit,
            after,
            page_num,
        } => (*limit, after.as_deref(), *page_num),
    };
    let start = match (after, page_num) {
        (Some(t), _) => groups.iter().position(|g| token(g) == t).ok_or_else(|| {
            filter::bad(
                "group_next_token",
                format!("invalid group_next_token '{t}'. were rule groups changed?"),
            )
        })?,
        (None, Some(p)) => p.saturating_sub(1) * limit,
        (None, None) => 0,
    };
    let mut rest: Vec<Value> = groups.into_iter().skip(start).collect();
    let next = (page_num.is_none() && rest.len() > limit).then(|| token(&rest[limit]));
    rest.truncate(limit);
    Ok((rest, next))
}

/// `/api/v1/alerts` of the whole cluster: every member's alerts, an alert of a
/// replicated group once.
pub async fn alerts(
    api: &Arc<Api>,
    c: &Arc<dyn ClusterSource>,
    q: &Query,
    auth: Option<String>,
) -> Reply {
    let answers = ask_peers(c, "/api/v1/alerts", q, auth).await;
    let (api, q) = (api.clone(), q.clone());
    blocking(move || merge_alerts(&api, &q, lists_of(answers, "alerts"))).await
}

fn merge_alerts(api: &Api, q: &Query, mut answers: Answers) -> Reply {
    let mine = match data_of(api.alerts(&q.without(PAGING))) {
        Ok(d) => array(d, "alerts"),
        Err(r) => return r,
    };
    let key = |a: &Value| {
        let s = |k| a.get(k).map(|v| v.to_string()).unwrap_or_default();
        (s("group_id"), s("rule_id"), s("id"))
    };
    let mut seen = HashSet::new();
    let mut merged = Vec::new();
    let theirs = std::mem::take(&mut answers.lists);
    for a in mine
        .into_iter()
        .chain(theirs.into_iter().flat_map(|(_, l)| l))
    {
        if seen.insert(key(&a)) {
            merged.push(a);
        }
    }
    let mut data = Map::new();
    data.insert("alerts".into(), Value::Array(merged));
    envelope(data, answers)
}

/// `/api/v1/group`, `/api/v1/rule`, `/api/v1/alert` for a group evaluated elsewhere:
/// the first owner's answer. `local` is this member's answer.
pub async fn from_owner(
    c: &Arc<dyn ClusterSource>,
    path: &str,
    q: &Query,
    auth: Option<String>,
    local: Reply,
) -> Reply {
    if local.status != StatusCode::NOT_FOUND {
        return local;
    }
    for a in ask_peers(c, path, q, auth).await {
        if let Ok(body) = a.body {
            let mut r = Reply::json(StatusCode::OK, &());
            r.body = body;
            return r;
        }
    }
    local
}
