//! Backtest: replays two rule sets (old and new) over the same past range with the
//! replay engine, writing nothing, and reports what the change does — per alerting rule
//! the alerts that fire only in one, pages per day, firing time, time to fire and
//! flapping; per recording rule the samples that differ.
//!
//! Both sides run as one replay over one [`SharedQuerier`], so each distinct window query
//! goes to the datasource once, however many rules on either side send it, and the
//! backtest has as many windows in flight as one replay (`-replay.ruleEvaluationConcurrency`
//! bounds both sides together, not each side). A rule that
//! is the same on both sides (same expression, `for`, labels and group settings) gives
//! the same alerts and samples from the same answers: it is replayed once, on the old
//! side, and its report stands for both.

mod alerts;
pub mod fail_on;
pub mod launch;
mod pairs;
mod recorded;
pub mod render;
mod shared;
pub mod sides;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

pub use alerts::{AlertDiff, FLAP_STARTS, FLAP_WINDOW_MS, Page, SideFigures};
pub use pairs::How;
pub use recorded::{RecordedDiff, Worst};
pub use shared::{FetchStats, SharedQuerier};
pub use sides::{Side, SideError, SideName};

use crate::config::{Group, RuleKind, rule_checksum};
use crate::datasource::Querier;
use crate::replay::{self, GroupPlan, PlanError, ReplayOptions, RuleReport, Timing};
use crate::rule::RuleSettings;

/// Why a backtest produced no report.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Side(#[from] SideError),
    #[error("the {side} rules cannot be replayed over this range: {error}")]
    Plan { side: SideName, error: PlanError },
    #[error(
        "no data: none of the {queries} range queries between {from} and {to} returned a series; check --from/--to and -datasource.url"
    )]
    NoData {
        queries: usize,
        from: String,
        to: String,
    },
}

/// Where a rule is, on one side.
#[derive(Debug, Clone, Serialize)]
pub struct RuleAt {
    pub file: String,
    pub group: String,
    pub name: String,
    pub expr: String,
}

/// One alerting rule's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct AlertingRow {
    pub matched_by: How,
    pub old_rule: Option<RuleAt>,
    pub new_rule: Option<RuleAt>,
    #[serde(flatten)]
    pub diff: AlertDiff,
}

/// One recording rule's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingRow {
    pub matched_by: How,
    pub old_rule: Option<RuleAt>,
    pub new_rule: Option<RuleAt>,
    /// `None` for a rule on one side only.
    pub diff: Option<RecordedDiff>,
}

/// A side as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    pub sources: Vec<String>,
    pub groups: usize,
    pub rules: usize,
    pub evaluations: u64,
    pub failed_evaluations: u64,
}

/// What the backtest found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(serialize_with = "crate::replay::report::ser_ts")]
    pub from: i64,
    #[serde(serialize_with = "crate::replay::report::ser_ts")]
    pub to: i64,
    /// True when some evaluations failed (the datasource failed part-way): the figures
    /// then cover only what was evaluated.
    pub partial: bool,
    pub problems: Vec<String>,
    pub old: SideSummary,
    pub new: SideSummary,
    pub queries: FetchStats,
    pub alerting: Vec<AlertingRow>,
    pub recording: Vec<RecordingRow>,
}

/// One side ready to replay.
struct Planned<'a> {
    side: &'a Side,
    plans: Vec<GroupPlan>,
    /// Position in the replay's report of each group's first rule.
    offsets: Vec<usize>,
}

impl<'a> Planned<'a> {
    fn new(
        side: &'a Side,
        settings: &RuleSettings,
        o: &ReplayOptions,
    ) -> Result<Self, BacktestError> {
        let plans =
            replay::plan(&side.groups, settings, o).map_err(|error| BacktestError::Plan {
                side: side.name,
                error,
            })?;
        let mut offsets = Vec::with_capacity(side.groups.len());
        let mut n = 0;
        for g in &side.groups {
            offsets.push(n);
            n += g.rules.len();
        }
        Ok(Planned {
            side,
            plans,
            offsets,
        })
    }

    fn group(&self, a: pairs::At) -> &Arc<Group> {
        &self.side.groups[a.group]
    }

    fn at(&self, a: pairs::At) -> RuleAt {
        let g = self.group(a);
        let r = &g.rules[a.rule];
        RuleAt {
            file: g.file.display().to_string(),
            group: g.name.clone(),
            name: r.name().to_string(),
            expr: r.expr.to_string(),
        }
    }

    /// Every window query the side's rules will send (`skip`: rules not replayed).
    fn queries<'b>(
        &'b self,
        skip: &'b HashSet<(usize, usize)>,
    ) -> impl Iterator<Item = crate::datasource::RangeQuery> + 'b {
        self.plans.iter().enumerate().flat_map(move |(gi, p)| {
            p.group
                .rules
                .iter()
                .enumerate()
                .filter(move |(ri, _)| !skip.contains(&(gi, *ri)))
                .flat_map(move |(_, r)| {
                    (0..p.plan.windows()).map(move |w| {
                        replay::range_query(&p.group, &p.plan, p.plan.window(w), &r.expr)
                    })
                })
        })
    }

    /// Position of rule `a` in the side's replay report.
    fn report_index(&self, a: pairs::At) -> usize {
        self.offsets[a.group] + a.rule
    }

    fn summary(&self, reports: &[RuleReport]) -> SideSummary {
        SideSummary {
            sources: self.side.sources.clone(),
            groups: self.side.groups.len(),
            rules: self.side.rule_count(),
            evaluations: reports.iter().map(|r| r.evaluations).sum(),
            failed_evaluations: reports.iter().map(|r| r.errors).sum(),
        }
    }
}

/// Whether two recording rules must produce the same samples (up to their name).
fn same_recording(og: &Group, o: usize, ng: &Group, n: usize) -> bool {
    let (or, nr) = (&og.rules[o], &ng.rules[n]);
    let labels = |r: &crate::config::Rule| -> Vec<(String, String)> {
        r.labels
            .iter()
            .map(|(k, v)| (k.clone(), v.source().to_string()))
            .collect()
    };
    or.expr == nr.expr
        && labels(or) == labels(nr)
        && og.labels == ng.labels
        && og.interval == ng.interval
        && og.query_offset == ng.query_offset
        && og.eval_offset == ng.eval_offset
        && og.eval_delay == ng.eval_delay
        && og.eval_alignment == ng.eval_alignment
        && og.limit == ng.limit
        && og.params == ng.params
        && og.headers == ng.headers
}

fn recording(g: &Group, r: usize) -> bool {
    matches!(g.rules[r].kind, RuleKind::Recording(_))
}

/// Replays both sides over `opts`' range and compares them. `querier` is the
/// datasource; it is wrapped to share answers between the sides.
pub async fn backtest(
    old: &Side,
    new: &Side,
    settings: &RuleSettings,
    querier: Arc<dyn Querier>,
    opts: &ReplayOptions,
) -> Result<Report, BacktestError> {
    let (po, pn) = (
        Planned::new(old, settings, opts)?,
        Planned::new(new, settings, opts)?,
    );
    let pairs = pairs::pair(&old.groups, &new.groups);
    let (mut mo, mut mn) = (Marks::default(), Marks::default());
    // New rules that are the same as their old rule, with the old rule: replayed once.
    let mut twins = Vec::new();
    for p in &pairs {
        let (Some(a), Some(b)) = (p.old, p.new) else {
            continue;
        };
        let (og, ng) = (po.group(a), pn.group(b));
        if rule_checksum(og, &og.rules[a.rule]) == rule_checksum(ng, &ng.rules[b.rule]) {
            mn.skip.insert((b.group, b.rule));
            twins.push((a, b));
        } else if recording(og, a.rule) && !same_recording(og, a.rule, ng, b.rule) {
            mo.collect.insert((a.group, a.rule));
            mn.collect.insert((b.group, b.rule));
        }
    }
    let shared = Arc::new(SharedQuerier::new(
        querier,
        po.queries(&mo.skip).chain(pn.queries(&mn.skip)),
    ));
    let (ro, mut rn) = replay_both((&po, &mo), (&pn, &mn), settings, shared.clone(), opts).await;
    for (a, b) in twins {
        let (from, to) = (po.report_index(a), pn.report_index(b));
        if let (Some(r), Some(named)) = (ro.rules.get(from), rn.rules.get(to)) {
            rn.rules[to] = RuleReport {
                group: named.group.clone(),
                file: named.file.clone(),
                rule: named.rule.clone(),
                ..r.clone()
            };
        }
    }
    let stats = shared.stats();
    let failed = ro.rules.iter().chain(&rn.rules).any(|r| r.errors > 0);
    if stats.series == 0 && !failed {
        return Err(BacktestError::NoData {
            queries: shared.distinct(),
            from: replay::window::fmt_ms(opts.from_ms),
            to: replay::window::fmt_ms(opts.to_ms),
        });
    }
    let mut report = Report {
        from: opts.from_ms,
        to: opts.to_ms,
        partial: !(ro.complete() && rn.complete()),
        problems: problems(SideName::Old, &ro.rules)
            .chain(problems(SideName::New, &rn.rules))
            .collect(),
        old: po.summary(&ro.rules),
        new: pn.summary(&rn.rules),
        queries: stats,
        alerting: Vec::new(),
        recording: Vec::new(),
    };
    let both = Both {
        old: (&po, &ro.rules),
        new: (&pn, &rn.rules),
        step: &|g: &Group| Timing::of(g, settings).interval.as_millis() as i64,
        range_ms: opts.to_ms - opts.from_ms,
    };
    for p in pairs {
        both.row(p, &mut report);
    }
    Ok(report)
}

/// Rules of one side, as (group, rule) positions in the side: those not replayed (the
/// same as their old rule) and the recording rules whose samples are compared.
#[derive(Default)]
struct Marks {
    skip: HashSet<(usize, usize)>,
    collect: HashSet<(usize, usize)>,
}

/// Replays both sides as one replay: the old side's groups, then the new side's. So
/// they share its bound on the windows fetched and evaluated at once
/// (`-replay.ruleEvaluationConcurrency`), and a backtest holds as many windows in memory
/// as one replay, not twice as many.
async fn replay_both(
    (po, mo): (&Planned<'_>, &Marks),
    (pn, mn): (&Planned<'_>, &Marks),
    settings: &RuleSettings,
    querier: Arc<dyn Querier>,
    opts: &ReplayOptions,
) -> (replay::ReplayOutcome, replay::ReplayOutcome) {
    let shift = po.plans.len();
    let moved = |set: &HashSet<(usize, usize)>| -> Vec<(usize, usize)> {
        set.iter().map(|&(g, r)| (g + shift, r)).collect()
    };
    let mut both = opts.clone();
    both.progress = false;
    both.skip = mo.skip.iter().copied().chain(moved(&mn.skip)).collect();
    both.collect = mo
        .collect
        .iter()
        .copied()
        .chain(moved(&mn.collect))
        .collect();
    let plans: Vec<GroupPlan> = po.plans.iter().chain(&pn.plans).cloned().collect();
    let mut old = replay::replay(&plans, settings, querier, None, &both).await;
    let new = old
        .rules
        .split_off(po.side.rule_count().min(old.rules.len()));
    (old, replay::ReplayOutcome { rules: new })
}

/// Both sides' plans and replay reports, to build the report's rows from.
struct Both<'a> {
    old: (&'a Planned<'a>, &'a [RuleReport]),
    new: (&'a Planned<'a>, &'a [RuleReport]),
    /// A group's interval in milliseconds.
    step: &'a dyn Fn(&Group) -> i64,
    range_ms: i64,
}

type Sided<'a> = Option<(RuleAt, &'a RuleReport, &'a Arc<Group>, usize)>;

impl<'a> Both<'a> {
    fn side(
        &self,
        (pl, reports): (&'a Planned<'a>, &'a [RuleReport]),
        a: Option<pairs::At>,
    ) -> Sided<'a> {
        let a = a?;
        let r = reports.get(pl.report_index(a))?;
        Some((pl.at(a), r, pl.group(a), a.rule))
    }

    /// Adds the row of pair `p` to `report`.
    fn row(&self, p: pairs::Pair, report: &mut Report) {
        let (o, n) = (self.side(self.old, p.old), self.side(self.new, p.new));
        let Some((_, _, g, i)) = o.as_ref().or(n.as_ref()) else {
            return;
        };
        if recording(g, *i) {
            report.recording.push(recording_row(p.how, o, n));
            return;
        }
        let strip = own_labels(o.as_ref().map(|x| (x.2, x.3)))
            .chain(own_labels(n.as_ref().map(|x| (x.2, x.3))))
            .collect();
        let input = |x: &Sided<'a>| {
            x.as_ref().map(|(_, r, g, _)| alerts::SideInput {
                report: r,
                step_ms: (self.step)(g),
            })
        };
        let diff = alerts::compare(input(&o), input(&n), &strip, self.range_ms);
        report.alerting.push(AlertingRow {
            matched_by: p.how,
            old_rule: o.map(|x| x.0),
            new_rule: n.map(|x| x.0),
            diff,
        });
    }
}

fn recording_row(how: How, o: Sided, n: Sided) -> RecordingRow {
    let diff = match (&o, &n) {
        (Some((_, a, _, _)), Some((_, b, _, _))) => Some(match (&a.recorded, &b.recorded) {
            (Some(x), Some(y)) => recorded::compare(x, y),
            _ => RecordedDiff::default(),
        }),
        _ => None,
    };
    RecordingRow {
        matched_by: how,
        old_rule: o.map(|x| x.0),
        new_rule: n.map(|x| x.0),
        diff,
    }
}

/// The label names a rule and its group set on every alert.
fn own_labels(r: Option<(&Arc<Group>, usize)>) -> impl Iterator<Item = String> + '_ {
    r.into_iter().flat_map(|(g, i)| {
        g.rules[i]
            .labels
            .iter()
            .map(|(k, _)| k.clone())
            .chain(g.labels.iter().map(|l| l.name.to_string()))
    })
}

fn problems(side: SideName, rules: &[RuleReport]) -> impl Iterator<Item = String> + '_ {
    rules.iter().flat_map(move |r| {
        r.problems
            .iter()
            .map(move |p| format!("{side}: {}/{}: {p}", r.group, r.rule))
    })
}

/// The figures `--fail-on` and the renderers read, by rule, as `HashMap`s of metric
/// name to value.
pub fn metrics(row: &AlertingRow) -> HashMap<&'static str, f64> {
    let d = &row.diff;
    let side = |s: &Option<SideFigures>| s.as_ref().map(|f| f.pages_per_day).unwrap_or(0.0);
    HashMap::from([
        ("old_pages_per_day", side(&d.old)),
        ("new_pages_per_day", side(&d.new)),
        ("pages_per_day_change", side(&d.new) - side(&d.old)),
        ("only_old_alerts", d.only_old as f64),
        ("only_new_alerts", d.only_new as f64),
        ("started_flapping", d.started_flapping.len() as f64),
        ("stopped_flapping", d.stopped_flapping.len() as f64),
    ])
}

/// The names of the rules on either side, for messages: `group/name`.
pub fn row_name(old: &Option<RuleAt>, new: &Option<RuleAt>) -> String {
    let name = |r: &RuleAt| format!("{}/{}", r.group, r.name);
    match (old, new) {
        (Some(o), Some(n)) if name(o) != name(n) => format!("{} → {}", name(o), name(n)),
        (_, Some(n)) => name(n),
        (Some(o), None) => name(o),
        (None, None) => String::new(),
    }
}
