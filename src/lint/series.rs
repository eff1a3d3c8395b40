//! Checks against the datasource (`--datasource.url`): selectors that match no series
//! over the last `--lookback` (pint's `promql/series`), and matchers on labels the
//! metric never carries.
//!
//! For each distinct selector of a rule the checker asks the datasource's series index
//! whether anything matched it within the lookback (`/api/v1/series` with `start`,
//! `end` and `limit=1`: no samples are loaded, so a week of a large metric costs what
//! an hour does and stays clear of `--query.max-samples`); when nothing did, it narrows
//! down why: the metric has no series at all, or it has some but never the label a
//! matcher needs, or the values do not match. Selectors of series that a rule of the
//! files records (and `ALERTS`) are skipped: they may simply not be written yet. So are
//! selectors inside `absent()`, which exist to match nothing.
//!
//! A query that fails is a finding of the check that asked, for the rule that needed
//! it, with the datasource's error; the other rules are still checked. Only a
//! datasource that stays unreachable ([`DOWN_AFTER`] failures in a row) stops the
//! checks: each further rule would only wait for the same timeout.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use promql_parser::parser::{self, VectorSelector};

use super::{Finding, LintFile, SERIES, SERIES_LABEL, Site, sites};
use crate::config::{RuleKind, format_duration};
use crate::datasource::{InstantQuery, Querier, QueryError, SeriesQuery};
use crate::promql::selectors::selectors;

/// Failed queries in a row, each saying the datasource itself is in trouble
/// ([`QueryError::is_transient`]), after which the datasource checks stop.
pub const DOWN_AFTER: usize = 3;

/// Where and how far back the series checks look.
pub struct SeriesSource<'a> {
    pub querier: &'a dyn Querier,
    pub lookback: Duration,
    /// Evaluation time of the queries, ms since the epoch.
    pub now_ms: i64,
}

/// Why the datasource checks stopped before the last rule: the datasource stayed
/// unreachable. The findings so far stand; the rules from `at` on were not checked.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub error: QueryError,
    /// The rule being checked when it stopped: `file:line`, group and name.
    pub at: String,
}

/// Runs the series checks, adding findings to `out`.
pub(super) async fn check(
    files: &[LintFile],
    src: &SeriesSource<'_>,
    cache: &mut Cache,
    out: &mut Vec<Finding>,
) -> Result<(), Stopped> {
    let recorded: BTreeSet<&str> = sites(files)
        .filter_map(|s| match &s.rule.kind {
            RuleKind::Recording(r) => Some(&*r.name),
            RuleKind::Alerting(_) => None,
        })
        .chain(["ALERTS", "ALERTS_FOR_STATE"])
        .collect();
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
            if !seen.insert(bare.to_string()) {
                continue;
            }
            match selector(&site, name, &bare, src, cache).await {
                Ok(found) => out.extend(found),
                Err(e) => {
                    cache.stop_if_down(&site, &e)?;
                    out.extend(not_checked(&site, &SERIES, &bare.to_string(), &e));
                }
            }
        }
    }
    Ok(())
}

/// The finding for a rule that could not be checked because a query failed.
pub(super) fn not_checked(
    site: &Site<'_>,
    check: &'static super::Check,
    what: &str,
    e: &QueryError,
) -> Option<Finding> {
    let msg = format!(
        "not checked: the datasource failed to answer about {what}: {e}; the other rules are still checked"
    );
    site.finding(check, "expr", None, msg)
}

/// Answers per query text, time and group request settings, so that a selector used by
/// many rules (and by the series and cost checks) is asked about once; a failure is
/// kept too, so each rule needing that answer reports it without asking again.
#[derive(Default)]
pub(super) struct Cache {
    answers: HashMap<String, Result<u64, QueryError>>,
    /// Transient failures in a row (see [`DOWN_AFTER`]).
    failed_in_a_row: usize,
}

impl Cache {
    /// Looks `key` up, or runs `ask` and keeps its answer.
    async fn answer<F>(&mut self, key: String, ask: F) -> Result<u64, QueryError>
    where
        F: std::future::Future<Output = Result<u64, QueryError>>,
    {
        if let Some(a) = self.answers.get(&key) {
            return a.clone();
        }
        let a = ask.await;
        match &a {
            Err(e) if e.is_transient() => self.failed_in_a_row += 1,
            _ => self.failed_in_a_row = 0,
        }
        self.answers.insert(key, a.clone());
        a
    }

    /// After a failed query for `site`: stops the checks when the datasource has
    /// stayed unreachable, otherwise lets the caller report `e` for this rule.
    pub(super) fn stop_if_down(&self, site: &Site<'_>, e: &QueryError) -> Result<(), Stopped> {
        if self.failed_in_a_row < DOWN_AFTER {
            return Ok(());
        }
        Err(Stopped {
            error: e.clone(),
            at: format!(
                "{}:{}: group {:?}, rule {:?}",
                site.file.path.display(),
                site.rule.line,
                site.group.name,
                site.rule.name()
            ),
        })
    }

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
        let q = InstantQuery {
            expr,
            time_ms,
            params: site.group.params.clone(),
            headers: site.group.headers.clone(),
        };
        self.answer(key, async {
            Ok(src
                .querier
                .instant(&q)
                .await?
                .first()
                .map_or(0, |s| s.value.max(0.0) as u64))
        })
        .await
    }

    /// Whether `selector` matched any series within the lookback, by the datasource's
    /// series index.
    async fn any(
        &mut self,
        site: &Site<'_>,
        selector: &str,
        src: &SeriesSource<'_>,
    ) -> Result<bool, QueryError> {
        let q = SeriesQuery {
            selector: selector.to_string(),
            start_ms: src.now_ms - src.lookback.as_millis() as i64,
            end_ms: src.now_ms,
            limit: 1,
            params: site.group.params.clone(),
            headers: site.group.headers.clone(),
        };
        let key = format!(
            "{:?}{:?}{}..{} series {selector}",
            q.params, q.headers, q.start_ms, q.end_ms
        );
        let n = self
            .answer(key, async {
                Ok(src.querier.series(&q).await?.len() as u64)
            })
            .await?;
        Ok(n > 0)
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
