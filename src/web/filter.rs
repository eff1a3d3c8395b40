//! Query-string parsing and the rule/alert filters of Prometheus' and vmalert's
//! `/api/v1/rules` and `/api/v1/alerts`.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;
use promql_parser::label::Matcher;
use promql_parser::parser::Expr;

use crate::labels::Labels;
use crate::status::{AlertState, GroupStatus, Health, RuleStatus};

/// A bad request parameter; rendered as Prometheus' `bad_data` error with status 400.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid parameter {param:?}: {message}")]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

fn bad(param: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        param,
        message: message.into(),
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs, in order, repeated keys kept.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut out = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            out.push((decode(k), decode(v)));
        }
        Query(out)
    }

    /// Appends the pairs of `other` (form fields after query parameters).
    pub fn extend(&mut self, other: Query) {
        self.0.extend(other.0);
    }

    /// First value of `key`, if present (even if empty).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `?local=1` (or `true`) asks for this member's own groups only.
    pub fn is_local(&self) -> bool {
        self.get("local")
            .is_some_and(|v| parse_bool("local", v).unwrap_or(false))
    }

    /// The pairs as a query string, without the keys in `skip`.
    pub fn encode(&self, skip: &[&str]) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        self.0
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, NON_ALPHANUMERIC),
                    utf8_percent_encode(v, NON_ALPHANUMERIC)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A copy without the keys in `skip`.
    pub fn without(&self, skip: &[&str]) -> Query {
        Query(
            self.0
                .iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// All values of `key`.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn set(&self, key: &str) -> HashSet<String> {
        self.all(key).map(str::to_string).collect()
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// Go's `strconv.ParseBool`.
fn parse_bool(param: &'static str, v: &str) -> Result<bool, ParamError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(bad(param, format!("cannot parse {v:?} as a boolean"))),
    }
}

/// One `match[]` selector: every matcher must match.
type MatcherSet = Vec<Matcher>;

fn parse_matchers(q: &Query) -> Result<Vec<MatcherSet>, ParamError> {
    let mut sets = Vec::new();
    for s in q.all("match[]") {
        let expr = promql_parser::parser::parse(s)
            .map_err(|e| bad("match[]", format!("failed to parse {s:?}: {e}")))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(bad(
                "match[]",
                format!("expecting a series selector, got {s:?}"),
            ));
        };
        let mut base = vs.matchers.matchers;
        if let Some(name) = vs.name {
            base.push(Matcher::new(
                promql_parser::label::MatchOp::Equal,
                "__name__",
                &name,
            ));
        }
        if vs.matchers.or_matchers.is_empty() {
            sets.push(base);
        } else {
            for alt in vs.matchers.or_matchers {
                let mut set = base.clone();
                set.extend(alt);
                sets.push(set);
            }
        }
    }
    Ok(sets)
}

/// Whether `labels` satisfy at least one selector (or there are none). A missing label
/// matches as the empty string, as in PromQL.
fn labels_match(labels: &Labels, sets: &[MatcherSet]) -> bool {
    sets.is_empty()
        || sets.iter().any(|set| {
            set.iter()
                .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
        })
}

/// Filters shared by rules and alerts: which groups to look at.
#[derive(Debug, Default)]
pub struct GroupFilter {
    groups: HashSet<String>,
    files: HashSet<String>,
}

impl GroupFilter {
    fn parse(q: &Query) -> Result<Self, ParamError> {
        if let Some(t) = q.get("datasource_type")
            && !t.is_empty()
            && t != "prometheus"
        {
            return Err(bad("datasource_type", format!("not supported value {t:?}")));
        }
        Ok(GroupFilter {
            groups: q.set("rule_group[]"),
            files: q.set("file[]"),
        })
    }

    pub fn matches(&self, g: &GroupStatus) -> bool {
        (self.groups.is_empty() || self.groups.contains(&*g.name))
            && (self.files.is_empty() || self.files.contains(&*g.file))
    }
}

/// Which rule states the `state` parameter asks for (vmalert); Grafana's names are
/// accepted as aliases, as vmalert does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateWanted {
    Alert(AlertState),
    Ok,
    NoMatch,
    Unhealthy,
}

/// Parsed `/api/v1/rules` parameters.
#[derive(Debug, Default)]
pub struct RulesFilter {
    pub groups: GroupFilter,
    names: HashSet<String>,
    /// `Some(true)`: alerting only; `Some(false)`: recording only.
    alerting: Option<bool>,
    states: Vec<StateWanted>,
    matchers: Vec<MatcherSet>,
    pub exclude_alerts: bool,
    /// Prometheus 3 pagination: at most this many groups per page.
    pub group_limit: Option<usize>,
    pub next_token: Option<String>,
}

impl RulesFilter {
    pub fn parse(q: &Query) -> Result<Self, ParamError> {
        let alerting = match q.get("type").map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => None,
            Some("alert") => Some(true),
            Some("record") => Some(false),
            Some(other) => return Err(bad("type", format!("not supported value {other:?}"))),
        };
        let mut states = Vec::new();
        let state_values: Vec<&str> = if q.get("state").is_some() {
            q.all("state").collect()
        } else {
            q.all("filter").collect()
        };
        for v in state_values.iter().flat_map(|s| s.split(',')) {
            states.push(match v {
                "" => continue,
                "firing" => StateWanted::Alert(AlertState::Firing),
                "pending" => StateWanted::Alert(AlertState::Pending),
                "inactive" | "normal" => StateWanted::Alert(AlertState::Inactive),
                "ok" => StateWanted::Ok,
                "nomatch" | "noData" => StateWanted::NoMatch,
                "unhealthy" | "error" => StateWanted::Unhealthy,
                other => return Err(bad("state", format!("not supported value {other:?}"))),
            });
        }
        let exclude_alerts = match q.get("exclude_alerts") {
            None | Some("") => false,
            Some(v) => parse_bool("exclude_alerts", &v.to_ascii_lowercase())?,
        };
        let group_limit = match q.get("group_limit") {
            None | Some("") => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => return Err(bad("group_limit", "group_limit needs to be greater than 0")),
                Err(e) => {
                    return Err(bad(
                        "group_limit",
                        format!("group_limit needs to be a valid number: {e}"),
                    ));
                }
            },
        };
        let next_token = q.get("group_next_token").filter(|t| !t.is_empty());
        if next_token.is_some() && group_limit.is_none() {
            return Err(bad(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups",
            ));
        }
        Ok(RulesFilter {
            groups: GroupFilter::parse(q)?,
            names: q.set("rule_name[]"),
            alerting,
            states,
            matchers: parse_matchers(q)?,
            exclude_alerts,
            group_limit,
            next_token: next_token.map(str::to_string),
        })
    }

    pub fn matches(&self, r: &RuleStatus) -> bool {
        if let Some(alerting) = self.alerting
            && alerting != r.is_alerting()
        {
            return false;
        }
        if !self.names.is_empty() && !self.names.contains(&*r.name) {
            return false;
        }
        if !labels_match(&r.labels, &self.matchers) {
            return false;
        }
        self.states.is_empty() || self.states.iter().any(|s| state_matches(*s, r))
    }
}

fn state_matches(s: StateWanted, r: &RuleStatus) -> bool {
    match s {
        StateWanted::Alert(a) => r.state() == Some(a),
        StateWanted::Ok => r.health == Health::Ok,
        StateWanted::Unhealthy => r.health == Health::Err,
        StateWanted::NoMatch => r.health == Health::Ok && r.last_samples == 0,
    }
}

/// The opaque pagination token of a group: stable while the group exists.
pub fn group_token(g: &GroupStatus) -> String {
    token_of(&g.file, &g.name)
}

/// The page token of the group `name` in `file` (see [`group_token`]).
pub fn token_of(file: &str, name: &str) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(file.as_bytes());
    h.update(b";");
    h.update(name.as_bytes());
    format!("{:016x}", h.digest())
}

/// Parsed `/api/v1/alerts` parameters (vmalert's extension; Prometheus has none).
#[derive(Debug, Default)]
pub struct AlertsFilter {
    pub groups: GroupFilter,
    matchers: Vec<MatcherSet>,
}

impl AlertsFilter {
    pub fn parse(q: &Query) -> Result<Self, ParamError> {
        Ok(AlertsFilter {
            groups: GroupFilter::parse(q)?,
            matchers: parse_matchers(q)?,
        })
    }

    pub fn matches_alert(&self, labels: &Labels) -> bool {
        labels_match(labels, &self.matchers)
    }
}

/// Parses a required unsigned ID parameter (vmalert's `group_id`, `rule_id`, …).
pub fn parse_id(q: &Query, param: &'static str) -> Result<u64, ParamError> {
    let v = q.get(param).unwrap_or("");
    v.parse::<u64>()
        .map_err(|e| bad(param, format!("cannot parse {v:?} as an ID: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_keeps_repeats() {
        let q = Query::parse(Some("rule_group%5B%5D=a+b&rule_group[]=c&x"));
        assert_eq!(q.all("rule_group[]").collect::<Vec<_>>(), ["a b", "c"]);
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("y"), None);
    }

    #[test]
    fn bad_type_and_limits_are_rejected() {
        for raw in [
            "type=foo",
            "group_limit=0",
            "group_limit=x",
            "group_next_token=abc",
            "exclude_alerts=maybe",
            "state=weird",
            "match[]=up+1",
            "datasource_type=graphite",
        ] {
            assert!(
                RulesFilter::parse(&Query::parse(Some(raw))).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn matchers_apply_to_labels() {
        let q = Query::parse(Some("match[]=%7Bseverity%3D~%22crit.*%22%7D"));
        let f = RulesFilter::parse(&q).unwrap();
        assert!(labels_match(
            &Labels::from_pairs([("severity", "critical")]),
            &f.matchers
        ));
        assert!(!labels_match(
            &Labels::from_pairs([("severity", "warn")]),
            &f.matchers
        ));
    }
}
