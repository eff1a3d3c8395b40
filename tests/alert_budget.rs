//! `-rule.maxActiveAlerts` under a cardinality explosion: a rule whose answer grows
//! (and whose series change at every evaluation, as with a label that takes a new value
//! at every scrape) fails as `limit` makes it fail, holds no alerts, leaves the
//! neighbouring rule's alerts alone, and the heap it keeps stays flat while an unguarded
//! rule's grows with the answer.
//!
//! The heap is measured with dhat's allocator (bytes live after each step, once the
//! answer itself is dropped), so this file holds one test: a second one running at the
//! same time would allocate into the same figures.

mod support;

use std::sync::Arc;

use support::rules::*;
use tocsin::labels::Labels;
use tocsin::rule::{AlertBudget, AlertingRule, Health};
use tocsin::sample::Sample;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// `n` series whose `pod` label is new at every evaluation `round`.
fn answer(n: usize, round: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            labels: Labels::from_pairs([
                ("__name__", "up".to_string()),
                ("job", "api".to_string()),
                ("pod", format!("api-{round}-{i}")),
            ]),
            value: 0.0,
            timestamp_ms: 0,
        })
        .collect()
}

fn rule(name: &str, budget: Option<Arc<AlertBudget>>) -> AlertingRule {
    let spec = alerting_with(
        name,
        "up == 0",
        0,
        0,
        &[("severity", "page")],
        &[("summary", "{{ $labels.pod }} is down ({{ $value }})")],
    );
    let mut c = ctx();
    c.settings.alert_budget = budget;
    AlertingRule::new(&spec, arc(c))
}

fn live_bytes() -> usize {
    dhat::HeapStats::get().curr_bytes
}

/// Steps `r` with an answer of `n` series at evaluation `round`; returns the heap bytes
/// live afterwards, with the answer and the step's output dropped.
fn step_and_measure(r: &mut AlertingRule, n: usize, round: usize) -> usize {
    let out = step_at(r, Ok(answer(n, round)), round as i64 * MIN);
    drop(out);
    live_bytes()
}

#[test]
fn cardinality_explosion_is_capped_and_memory_stays_flat() {
    let _profiler = dhat::Profiler::builder().testing().build();
    const MAX: usize = 100;
    let budget = AlertBudget::new(MAX);
    let mut neighbour = rule("Neighbour", Some(budget.clone()));
    let mut exploding = rule("Exploding", Some(budget.clone()));
    let mut unguarded = rule("Unguarded", None);

    // A well-behaved rule holds 30 alerts; the other starts small, within the budget.
    step_at(&mut neighbour, Ok(answer(30, 0)), 0);
    step_at(&mut exploding, Ok(answer(20, 0)), 0);
    assert_eq!(exploding.health(), Health::Ok);
    assert_eq!(budget.held(), 50);
    let base = live_bytes();

    let mut guarded_peak = 0;
    for (round, n) in [(1, 1_000), (2, 4_000), (3, 10_000), (4, 10_000)] {
        let after = step_and_measure(&mut exploding, n, round);
        guarded_peak = guarded_peak.max(after.saturating_sub(base));
        // The rule is marked, its alerts dropped, the neighbour's kept.
        assert_eq!(exploding.health(), Health::Err, "round {round}");
        let e = exploding.last_error().unwrap_or_default();
        assert!(e.contains("-rule.maxActiveAlerts of 100"), "{e}");
        assert_eq!(exploding.alerts().count(), 0, "round {round}");
        assert_eq!(neighbour.alerts().count(), 30);
        assert_eq!(budget.held(), 30);
    }
    assert_eq!(budget.exceeded.get(), 4);
    // What the failed rule keeps is its error and bookkeeping, not the explosion.
    assert!(
        guarded_peak < 16 * 1024,
        "guarded rule kept {guarded_peak} bytes after exploding answers"
    );

    // The same answers without a budget: every series becomes an alert with rendered
    // annotations and its own series, which is what the guard saves.
    let before = live_bytes();
    let kept = step_and_measure(&mut unguarded, 10_000, 3) - before;
    assert_eq!(unguarded.alerts().count(), 10_000);
    assert!(
        kept > 100 * guarded_peak.max(1024),
        "unguarded rule kept {kept} bytes, guarded {guarded_peak}"
    );

    // Once the answer is small again the rule recovers, within the budget.
    step_at(&mut exploding, Ok(answer(50, 5)), 5 * MIN);
    assert_eq!(exploding.health(), Health::Ok);
    assert_eq!(exploding.alerts().count(), 50);
    assert_eq!(budget.held(), 80);
    // Dropping a rule gives its part back.
    drop(neighbour);
    assert_eq!(budget.held(), 50);
}
