//! Dependency analysis over a group's rules.

mod support;

use support::rules::*;
use tocsin::rule::deps::dependencies;

#[test]
fn rules_wait_only_for_what_they_read() {
    let rules = [
        recording("job:up:sum", "sum by (job) (up)", &[]),
        recording(
            "job:errors:rate5m",
            "sum by (job) (rate(errors_total[5m]))",
            &[],
        ),
        alerting("JobDown", "job:up:sum == 0", 0, 0, &[]),
        alerting(
            "Errors",
            "job:errors:rate5m / on(job) job:up:sum > 1",
            0,
            0,
            &[],
        ),
        recording("independent", "avg(node_load1)", &[]),
        alerting(
            "Meta",
            r#"count(ALERTS{alertstate="firing"}) > 3"#,
            0,
            0,
            &[],
        ),
        recording("catch_all", r#"count({job="x"})"#, &[]),
        recording("by_regex", r#"count({__name__=~"job:.*"})"#, &[]),
        recording("subquery", "max_over_time(job:up:sum[10m:1m])", &[]),
    ];
    let deps = dependencies(&rules);
    assert_eq!(deps.len(), rules.len());
    assert_eq!(deps[0], Vec::<usize>::new());
    assert_eq!(deps[1], Vec::<usize>::new());
    assert_eq!(deps[2], [0]);
    assert_eq!(deps[3], [0, 1]);
    assert_eq!(deps[4], Vec::<usize>::new());
    // ALERTS is written by every alerting rule before it.
    assert_eq!(deps[5], [2, 3]);
    // No metric name: anything before may be read.
    assert_eq!(deps[6], [0, 1, 2, 3, 4, 5]);
    assert_eq!(deps[7], [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(deps[8], [0]);
}

#[test]
fn later_rules_are_never_dependencies() {
    let rules = [
        alerting("UsesLater", "later > 0", 0, 0, &[]),
        recording("later", "up", &[]),
    ];
    let none: Vec<usize> = Vec::new();
    assert_eq!(dependencies(&rules), [none.clone(), none]);
}

#[test]
fn alerts_for_state_counts_as_alert_output() {
    let rules = [
        alerting("A", "up == 0", 60, 0, &[]),
        recording("r", "ALERTS_FOR_STATE", &[]),
    ];
    assert_eq!(dependencies(&rules)[1], [0]);
}
