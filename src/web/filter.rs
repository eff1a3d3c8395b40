//! Query-string parsing and the rule/alert filters of Prometheus' and vmalert's
//! `/api/v1/rules` and `/api/v1/alerts`.

use std::collections::HashSet;
use std::num::IntErrorKind;

use percent_encoding::percent_decode_str;
use promql_parser::label::Matcher;
use promql_parser::parser::Expr;

use crate::labels::Labels;
use crate::status::{AlertState, GroupStatus, Health, RuleStatus};

/// A bad request parameter; rendered as Prometheus' `bad_data` error with status 400,
/// in Prometheus' words where Prometheus has the parameter.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(String);

/// `invalid parameter "param": message`, Prometheus' usual form.
pub(super) fn bad(param: &'static str, message: impl std::fmt::Display) -> ParamError {
    ParamError(format!("invalid parameter {param:?}: {message}"))
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

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
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
        parse_switch("local", self.get("local")).unwrap_or(false)
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

/// A boolean switch: Go's `strconv.ParseBool` spellings (Prometheus), case-insensitive,
/// plus vmalert's `yes`/`no`. Anything else is refused rather than guessed.
fn parse_switch(param: &'static str, v: Option<&str>) -> Result<bool, ParamError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" => Ok(true),
        "0" | "f" | "false" | "no" => Ok(false),
        _ => Err(bad(
            param,
            format!("error converting {param}: strconv.ParseBool: parsing {v:?}: invalid syntax"),
        )),
    }
}

/// One `match[]` selector: every matcher must match.
type MatcherSet = Vec<Matcher>;

/// `match[]` selectors, parsed as PromQL series selectors (quoted UTF-8 names included:
/// `{"my.label"="x"}`). A selector whose matchers all match the empty string is
/// refused in Prometheus' words (vmalert would accept it).
fn parse_matchers(q: &Query) -> Result<Vec<MatcherSet>, ParamError> {
    let mut sets = Vec::new();
    for s in q.all("match[]") {
        let expr = promql_parser::parser::parse(s).map_err(|e| {
            if e.contains("at least one non-empty matcher") {
                ParamError("match[] must contain at least one non-empty matcher".into())
            } else {
                bad("match[]", format!("failed to parse {s:?}: {e}"))
            }
        })?;
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

/// The datasource types vmalert 1.145 knows; groups of the other types are never loaded
/// by tocsin, so asking for them answers an empty list (as vmalert does when it has none).
const DATASOURCE_TYPES: &[&str] = &["prometheus", "graphite", "vlogs"];

/// Filters shared by rules and alerts: which groups to look at.
#[derive(Debug, Default)]
pub struct GroupFilter {
    groups: HashSet<String>,
    files: HashSet<String>,
    /// vmalert's `datasource_type`.
    datasource_type: Option<String>,
}

impl GroupFilter {
    fn parse(q: &Query) -> Result<Self, ParamError> {
        let datasource_type = match q.get("datasource_type") {
            None | Some("") => None,
            Some(t) if DATASOURCE_TYPES.contains(&t) => Some(t.to_string()),
            Some(t) => {
                return Err(bad("datasource_type", format!("not supported value {t:?}")));
            }
        };
        Ok(GroupFilter {
            groups: q.set("rule_group[]"),
            files: q.set("file[]"),
            datasource_type,
        })
    }

    pub fn matches(&self, g: &GroupStatus) -> bool {
        (self.groups.is_empty() || self.groups.contains(&*g.name))
            && (self.files.is_empty() || self.files.contains(&*g.file))
            && self
                .datasource_type
                .as_deref()
                .is_none_or(|t| t == g.datasource_type)
    }
}

/// A value of vmalert's `state` parameter. Grafana's names are aliases, as in vmalert
/// (`normal` = `inactive`, `error` = `unhealthy`, `noData` = `nomatch`); `recovering`
/// is accepted and matches nothing, as in vmalert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateWanted {
    Alert(AlertState),
    Ok,
    NoMatch,
    Unhealthy,
    Recovering,
}

fn parse_states(q: &Query) -> Result<Vec<StateWanted>, ParamError> {
    let key = if q.get("state").is_some() {
        "state"
    } else {
        "filter"
    };
    let mut states = Vec::new();
    for v in q.all(key).flat_map(|s| s.split(',')) {
        states.push(match v {
            "" => continue,
            "firing" => StateWanted::Alert(AlertState::Firing),
            "pending" => StateWanted::Alert(AlertState::Pending),
            "inactive" | "normal" => StateWanted::Alert(AlertState::Inactive),
            "ok" => StateWanted::Ok,
            "nomatch" | "noData" => StateWanted::NoMatch,
            "unhealthy" | "error" => StateWanted::Unhealthy,
            "recovering" => StateWanted::Recovering,
            other => {
                return Err(bad(
                    "state",
                    format!("contains not supported value {other:?}"),
                ));
            }
        });
    }
    Ok(states)
}

/// vmalert's state of a rule, as its `state` filter, its `extended_states=true` and its
/// group `states` counts see it: `firing`, `pending` or `inactive` for alerting rules
/// and `""` for recording rules; extended, a rule without active alerts is `unhealthy`
/// when its last evaluation failed, else `nomatch` when its last query matched no
/// series at all (known only from datasources that report fetched series, such as
/// VictoriaMetrics), else `ok` (recording) or `inactive` (alerting).
pub fn vm_state(r: &RuleStatus, extended: bool) -> &'static str {
    let plain = r.state().map_or("", AlertState::as_str);
    if !extended || r.active_alerts().next().is_some() {
        return plain;
    }
    if r.health == Health::Err {
        "unhealthy"
    } else if r.last_samples == 0 && r.last_series_fetched == Some(0) {
        "nomatch"
    } else if plain.is_empty() {
        "ok"
    } else {
        plain
    }
}

/// How the groups of `/api/v1/rules` are paged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Every group.
    #[default]
    All,
    /// `group_limit` groups per page. Prometheus 3 continues after the group named by
    /// `group_next_token`; vmalert numbers pages (`page_num`, from 1). Without either,
    /// the first page, with both continuations offered.
    Limit {
        limit: usize,
        after: Option<String>,
        page_num: Option<usize>,
    },
}

/// Parsed `/api/v1/rules` parameters.
#[derive(Debug, Default)]
pub struct RulesFilter {
    pub groups: GroupFilter,
    names: HashSet<String>,
    /// `Some(true)`: alerting only; `Some(false)`: recording only.
    alerting: Option<bool>,
    states: Vec<StateWanted>,
    /// vmalert's `extended_states`: rules show (and filter on) [`vm_state`] extended.
    pub extended_states: bool,
    /// vmalert's `search`, lower-cased: a substring of the group's name or file, or of
    /// the rule's name.
    search: Option<String>,
    matchers: Vec<MatcherSet>,
    pub exclude_alerts: bool,
    pub paging: Paging,
}

impl RulesFilter {
    pub fn parse(q: &Query) -> Result<Self, ParamError> {
        let alerting = match q.get("type").map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => None,
            Some("alert") => Some(true),
            Some("record") => Some(false),
            Some(other) => return Err(bad("type", format!("not supported value {other:?}"))),
        };
        Ok(RulesFilter {
            groups: GroupFilter::parse(q)?,
            names: q.set("rule_name[]"),
            alerting,
            states: parse_states(q)?,
            extended_states: parse_switch("extended_states", q.get("extended_states"))?,
            search: q
                .get("search")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            matchers: parse_matchers(q)?,
            exclude_alerts: parse_switch("exclude_alerts", q.get("exclude_alerts"))?,
            paging: parse_paging(q)?,
        })
    }

    /// Whether the group's name or file matches `search` (then all its rules do).
    pub fn group_searched(&self, g: &GroupStatus) -> bool {
        self.search
            .as_deref()
            .is_none_or(|s| g.name.to_lowercase().contains(s) || g.file.to_lowercase().contains(s))
    }

    /// Whether rule `r` passes; `group_searched` is [`Self::group_searched`] of its group.
    pub fn matches(&self, r: &RuleStatus, group_searched: bool) -> bool {
        if !group_searched
            && !self
                .search
                .as_deref()
                .is_none_or(|s| r.name.to_lowercase().contains(s))
        {
            return false;
        }
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
        self.states.is_empty() || self.states.iter().any(|s| self.state_matches(*s, r))
    }

    /// `firing`/`pending`/`inactive` compare with the rule's state (extended when
    /// asked); `ok`, `nomatch` and `unhealthy` always with the extended state, so they
    /// find rules without `extended_states=true` too (vmalert then finds none).
    fn state_matches(&self, s: StateWanted, r: &RuleStatus) -> bool {
        match s {
            StateWanted::Alert(a) => vm_state(r, self.extended_states) == a.as_str(),
            StateWanted::Ok => vm_state(r, true) == "ok",
            StateWanted::NoMatch => vm_state(r, true) == "nomatch",
            StateWanted::Unhealthy => vm_state(r, true) == "unhealthy",
            StateWanted::Recovering => false,
        }
    }
}

/// `group_limit` with Prometheus' checks and wording, `group_next_token` (Prometheus 3)
/// and `page_num` (vmalert).
fn parse_paging(q: &Query) -> Result<Paging, ParamError> {
    let after = q.get("group_next_token").filter(|t| !t.is_empty());
    let page = q.get("page_num").filter(|t| !t.is_empty());
    let limit = match q.get("group_limit").filter(|v| !v.is_empty()) {
        None if after.is_some() || page.is_some() => {
            let param = if after.is_some() {
                "group_next_token"
            } else {
                "page_num"
            };
            return Err(bad(
                param,
                "group_limit needs to be present in order to paginate over the groups",
            ));
        }
        None => return Ok(Paging::All),
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n > 0 => n as usize,
            Ok(_) => return Err(bad("group_limit", "group_limit needs to be greater than 0")),
            Err(e) => {
                // Go's `strconv.ParseInt` wording, as Prometheus answers.
                let why = match e.kind() {
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
                    _ => "invalid syntax",
                };
                return Err(bad(
                    "group_limit",
                    format!(
                        "group_limit needs to be a valid number: strconv.ParseInt: parsing {v:?}: {why}"
                    ),
                ));
            }
        },
    };
    if after.is_some() && page.is_some() {
        return Err(bad(
            "page_num",
            "give either group_next_token (Prometheus) or page_num (vmalert), not both",
        ));
    }
    let page_num = match page {
        None => None,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(bad(
                    "page_num",
                    format!("page_num is expected to be a positive number, found {p:?}"),
                ));
            }
        },
    };
    Ok(Paging::Limit {
        limit,
        after: after.map(str::to_string),
        page_num,
    })
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

/// Parsed `/api/v1/alerts` parameters (vmalert's; Prometheus has none).
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
            "datasource_type=sql",
            "page_num=1",
            "group_limit=1&page_num=0",
            "group_limit=1&page_num=1&group_next_token=a",
            "group_limit=99999999999",
            "extended_states=maybe",
        ] {
            assert!(
                RulesFilter::parse(&Query::parse(Some(raw))).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn switches_take_go_and_vmalert_spellings() {
        for (v, want) in [("TRUE", true), ("t", true), ("yes", true), ("0", false)] {
            assert_eq!(parse_switch("x", Some(v)).unwrap(), want, "{v}");
        }
        assert!(!parse_switch("x", None).unwrap());
        assert!(!parse_switch("x", Some("")).unwrap());
    }

    #[test]
    fn paging_forms() {
        let p = |raw| parse_paging(&Query::parse(Some(raw))).unwrap();
        assert_eq!(p(""), Paging::All);
        assert_eq!(
            p("group_limit=2&page_num=3"),
            Paging::Limit {
                limit: 2,
                after: None,
                page_num: Some(3)
            }
        );
        assert_eq!(
            p("group_limit=2&group_next_token=ab"),
            Paging::Limit {
                limit: 2,
                after: Some("ab".into()),
                page_num: None
            }
        );
    }

    #[test]
    fn vmalert_states_plain_and_extended() {
        use crate::status::{AlertStatus, AlertingStatus, RuleKindStatus};
        let t = std::time::SystemTime::UNIX_EPOCH;
        let mut rec = RuleStatus::new(1, "r", "up", RuleKindStatus::Recording);
        rec.health = Health::Ok;
        rec.last_samples = 3;
        assert_eq!((vm_state(&rec, false), vm_state(&rec, true)), ("", "ok"));
        rec.last_samples = 0;
        assert_eq!(vm_state(&rec, true), "ok", "series fetched unknown");
        rec.last_series_fetched = Some(0);
        assert_eq!(vm_state(&rec, true), "nomatch");
        rec.health = Health::Err;
        assert_eq!(vm_state(&rec, true), "unhealthy");
        let mut alert = RuleStatus::new(
            2,
            "A",
            "up",
            RuleKindStatus::Alerting(AlertingStatus::default()),
        );
        alert.health = Health::Err;
        assert_eq!(
            (vm_state(&alert, false), vm_state(&alert, true)),
            ("inactive", "unhealthy")
        );
        alert.kind = RuleKindStatus::Alerting(AlertingStatus {
            alerts: vec![AlertStatus::new(
                Labels::from_pairs([("a", "1")]),
                AlertState::Pending,
                t,
                1.0,
            )],
            ..Default::default()
        });
        assert_eq!(vm_state(&alert, true), "pending", "alerts win over health");
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
