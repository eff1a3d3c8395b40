//! Checks against the datasource (`--datasource.url`): selectors that match no series
//! over the last `--lookback` (pint's `promql/series`), and matchers on labels the
//! metric never carries.
//!
//! For each distinct selector of a rule the checker asks whether anything matched it
//! within the lookback (`count(last_over_time(SELECTOR[LOOKBACK]))`); when nothing did,
//! it narrows down why: the metric has no series at all, or it has some but never the
//! label a matcher needs, or the values do not match. Selectors of series that a rule of
//! the files records (and `ALERTS`) are skipped: they may simply not be written yet. So
//! are selectors inside `absent()`, which exist to match nothing.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use promql_parser::parser::{self, VectorSelector};

use super::{Finding, LintFile, SERIES, SERIES_LABEL, Site, sites};
use crate::config::{RuleKind, format_duration};
use crate::datasource::{InstantQuery, Querier, QueryError};
use crate::promql::selectors::selectors;

/// Where and how far back the series checks look.
pub struct SeriesSource<'a> {
    pub querier: &'a dyn Querier,
    pub lookback: Duration,
    /// Evaluation time of the queries, ms since the epoch.
    pub now_ms: i64,
}

/// Runs the series checks; stops at the first query that fails (findings so far are
/// lost with it: a partial answer would read as "the rest is fine").
pub(super) async fn check(
    files: &[LintFile],
    src: &SeriesSource<'_>,
    cache: &mut Cache,
) -> Result<Vec<Finding>, QueryError> {
    let recorded: BTreeSet<&str> = sites(files)
        .filter_map(|s| match &s.rule.kind {
            RuleKind::Recording(r) => Some(r.name.as_str()),
            RuleKind::Alerting(_) => None,
        })
        .chain(["ALERTS", "ALERTS_FOR_STATE"])
        .collect();
    let mut out = Vec::new();
    for site in sites(files) {
        let Ok(expr) = parser::parse(&site.rule.expr) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        // Selectors inside `absent()` exist to match nothing.
        for vs in selectors(&expr)
            .into_iter()
            .filter(|s| !s.in_absent)
            .map(|s| s.vs)
        {
            let Some(name) = vs.name.as_deref() else {
                continue;
            };
            if recorded.contains(name) || !vs.matchers.or_matchers.is_empty() {
                continue;
            }
            let bare = plain(vs);
            if seen.insert(bare.to_string()) {
                out.extend(selector(&site, name, &bare, src, cache).await?);
            }
        }
    }
    Ok(out)
}

/// Answers per query text, time and group request settings, so that a selector used by
/// many rules (and by the series and cost checks) is asked about once.
#[derive(Default)]
pub(super) struct Cache(HashMap<String, u64>);

impl Cache {
    /// How many series matched `selector` within `window` before `time_ms`
    /// (`count(last_over_time(SELECTOR[WINDOW]))`; 0 when none did).
    pub(super) async fn count(
        &mut self,
        site: &Site<'_>,
        selector: &str,
        window: Duration,
        time_ms: i64,
        src: &SeriesSource<'_>,
    ) -> Result<u64, QueryError> {
        let expr = format!(
            "count(last_over_time({selector}[{}]))",
            format_duration(window)
        );
        let key = format!(
            "{:?}{:?}{time_ms} {expr}",
            site.group.params, site.group.headers
        );
        if let Some(&v) = self.0.get(&key) {
            return Ok(v);
        }
        let q = InstantQuery {
            expr,
            time_ms,
            params: site.group.params.clone(),
            headers: site.group.headers.clone(),
        };
        let n = src
            .querier
            .instant(&q)
            .await?
            .first()
            .map_or(0, |s| s.value.max(0.0) as u64);
        self.0.insert(key, n);
        Ok(n)
    }

    /// Whether `selector` matched any series within the lookback.
    async fn any(
        &mut self,
        site: &Site<'_>,
        selector: &str,
        src: &SeriesSource<'_>,
    ) -> Result<bool, QueryError> {
        Ok(self
            .count(site, selector, src.lookback, src.now_ms, src)
            .await?
            > 0)
    }
}

/// The findings for one selector (already printed without offset and `@`).
async fn selector(
    site: &Site<'_>,
    name: &str,
    vs: &VectorSelector,
    src: &SeriesSource<'_>,
    cache: &mut Cache,
) -> Result<Vec<Finding>, QueryError> {
    let lookback = format_duration(src.lookback);
    if cache.any(site, &vs.to_string(), src).await? {
        return Ok(Vec::new());
    }
    if !cache.any(site, name, src).await? {
        let msg = format!(
            "{name} has no series on the datasource in the last {lookback}: the rule never sees data (a typo in the name, or a metric that is not scraped)"
        );
        return Ok(site
            .finding(&SERIES, "expr", None, msg)
            .into_iter()
            .collect());
    }
    let mut out = Vec::new();
    // Matchers that need their label present (not those that also match "").
    for m in vs
        .matchers
        .matchers
        .iter()
        .filter(|m| m.name != "__name__" && !m.is_match(""))
    {
        if !cache
            .any(site, &format!("{name}{{{}!=\"\"}}", m.name), src)
            .await?
        {
            let msg = format!(
                "{name} has series in the last {lookback}, but none with label {:?}: the matcher {m} never matches",
                m.name
            );
            out.extend(site.finding(&SERIES_LABEL, "expr", None, msg));
        }
    }
    if out.is_empty() {
        let msg = format!(
            "{vs} matches no series in the last {lookback}, though {name} has series: check the matchers' values"
        );
        out.extend(site.finding(&SERIES, "expr", None, msg));
    }
    Ok(out)
}

/// `vs` without offset and `@`, for asking whether it exists.
pub(super) fn plain(vs: &VectorSelector) -> VectorSelector {
    VectorSelector {
        offset: None,
        at: None,
        ..vs.clone()
    }
}
