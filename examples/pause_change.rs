//! What one pause change costs the status board (`StatusBoard::update_pauses`) with
//! many groups and rules, next to what it cost before it re-marked only the groups the
//! change names: a walk over every rule of every group (`GroupStatus::with_pauses` on
//! each group), measured in the same run on the same board.
//!
//! ```sh
//! cargo run --example pause_change [GROUPS] [RULES_PER_GROUP]
//! ```
//! Defaults: 100,000 groups of 1 rule, then 1,000 groups of 100 rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tocsin::rule::pause::{Pause, PauseTarget};
use tocsin::status::{GroupStatus, RuleKindStatus, RuleStatus, StatusBoard};

/// A board of `groups` groups in `rules.yml`, each with `rules` recording rules.
fn board(groups: usize, rules: usize) -> StatusBoard {
    let b = StatusBoard::new();
    let list = (0..groups)
        .map(|g| {
            let mut gs = GroupStatus::new("rules.yml", &format!("g{g}"), Duration::from_secs(60));
            gs.rules = (0..rules)
                .map(|r| {
                    let name = format!("r{r}");
                    Arc::new(RuleStatus::new(
                        r as u64,
                        &name,
                        "up",
                        RuleKindStatus::Recording,
                    ))
                })
                .collect();
            Arc::new(gs)
        })
        .collect();
    b.replace(list);
    b
}

/// A pause of the whole group `g{g}`.
fn pause(g: usize) -> Pause {
    Pause {
        target: PauseTarget {
            file: "rules.yml".into(),
            group: format!("g{g}"),
            rule: None,
        },
        since_ms: 0,
        until_ms: None,
        by: "bench".into(),
        reason: "bench".into(),
        note: String::new(),
        hold: false,
    }
}

fn run(groups: usize, rules: usize) {
    let b = board(groups, rules);
    let (mut now, mut walk) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let t = Instant::now();
        b.update_pauses(|ps| ps.pause(pause(i)));
        now.push(t.elapsed());
        // Before: every change walked every group's rules to re-mark them.
        let (groups_now, pauses) = (b.snapshot(), b.pauses());
        let t = Instant::now();
        let changed = groups_now
            .iter()
            .filter(|g| g.with_pauses(&pauses).is_some())
            .count();
        walk.push(t.elapsed());
        assert_eq!(
            changed, 0,
            "update_pauses marked every group the pause names"
        );
    }
    println!(
        "{groups} groups x {rules} rules: one pause change {now:?}; walking every rule {walk:?}"
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    match args.as_slice() {
        [groups, rules] => run(*groups, *rules),
        _ => {
            run(100_000, 1);
            run(1_000, 100);
        }
    }
}
