//! Groups shared among tocsin processes on loopback (see `support::cluster`): every group
//! evaluated by exactly R members each interval, counted at a real Prometheus's query
//! log, for R=1 and R=2.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::cluster::{Cluster, INTERVAL, Spec, now_ms, one_at_a_time};

async fn every_group_exactly_r_times(r: usize) {
    let groups = 300;
    let Some(c) = Cluster::start(Spec::new(3, groups, r)).await else {
        return;
    };
    c.settled(groups).await;
    // One refresh round more: the members stop what they handed over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A window in which no group moved and no member skipped a tick: a probe timing out
    // on a loaded machine is a membership change, during which a group may run R±1
    // times (by design); an evaluation that overran its interval skips the next tick
    // (and says so), which is the machine's capacity, not the assignment.
    let mut attempts = 0;
    let (from, to) = loop {
        let before = c.disturbances().await;
        let from = now_ms();
        tokio::time::sleep(Duration::from_secs(5 * INTERVAL as u64)).await;
        let to = now_ms() - 1500;
        // Evaluations of the window's last ticks reach the query log when they finish.
        tokio::time::sleep(Duration::from_secs(INTERVAL as u64)).await;
        if c.disturbances().await == before {
            break (from, to);
        }
        attempts += 1;
        assert!(
            attempts < 5,
            "the membership never held still (or members skipped ticks) for 10 s\n{}",
            c.logs()
        );
        c.settled(groups).await;
    };
    c.assert_each_tick_exactly(groups, r, from, to).await;
    // Each group has R distinct owners, and the members' shares add up.
    let owners = c.owners().await;
    assert_eq!(owners.len(), groups);
    for (g, o) in &owners {
        let distinct: BTreeSet<&String> = o.iter().collect();
        assert_eq!(distinct.len(), r, "{g}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_members_evaluate_each_group_once_per_interval() {
    let _serial = one_at_a_time().await;
    every_group_exactly_r_times(1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_replication_two_each_group_runs_on_two_members() {
    let _serial = one_at_a_time().await;
    every_group_exactly_r_times(2).await;
}
