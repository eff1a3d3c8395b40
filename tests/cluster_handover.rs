//! Groups moving between tocsin processes on loopback (see `support::cluster`): a killed
//! member's groups taken over with their alerts' `startsAt`, nothing sent resolved,
//! nobody paged twice; scaling 3 → 5 → 3 moves only what must move and keeps the
//! alerts' state.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::cluster::{Cluster, INTERVAL, Spec, moved, now_ms, one_at_a_time, placement};
use support::peers::free_port;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_members_groups_move_with_their_alerts() {
    let _serial = one_at_a_time().await;
    let groups = 60;
    let spec = Spec {
        for_: "2s",
        ..Spec::new(3, groups, 1)
    };
    let Some(mut c) = Cluster::start(spec).await else {
        return;
    };
    c.settled(groups).await;
    // Every alert firing at Alertmanager and paged once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while c
        .am_alerts()
        .await
        .values()
        .filter(|(_, s)| s == "active")
        .count()
        < groups
        || c.pages().0.len() < groups
    {
        assert!(
            std::time::Instant::now() < deadline,
            "alerts did not fire\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let before = c.am_alerts().await;
    let owners = c.owners().await;
    let victim = c.members.remove(2);
    let orphans: Vec<usize> = owners
        .iter()
        .filter(|(_, o)| o.first() == Some(&victim.addr))
        .filter_map(|(g, _)| g.trim_start_matches('g').parse().ok())
        .collect();
    assert!(!orphans.is_empty(), "the victim owned no group: {owners:?}");
    let mut victim = victim;
    let _ = victim.guard.child.kill();
    let _ = victim.guard.child.wait();
    let killed = now_ms();
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(4 * INTERVAL as u64)).await;
    // Its groups evaluated again by the survivors within two intervals.
    let evals = c.evaluations();
    for g in &orphans {
        let first = evals[g].range(killed..).next().map(|(&t, _)| t);
        let waited = first.map(|t| t - killed);
        assert!(
            waited.is_some_and(|w| w <= 2 * INTERVAL * 1000),
            "g{g} first evaluated {waited:?} ms after the kill\n{}",
            c.logs()
        );
    }
    c.assert_each_tick_exactly(groups, 1, killed + 3 * INTERVAL * 1000, now_ms() - 1500)
        .await;
    // Same alerts at Alertmanager, same startsAt; nothing resolved; nobody paged twice.
    let after = c.am_alerts().await;
    assert_eq!(
        after, before,
        "Alertmanager's alerts changed across the handover"
    );
    let (pages, statuses) = c.pages();
    assert_eq!(
        statuses,
        BTreeSet::from(["firing".to_string()]),
        "{pages:?}"
    );
    for (name, n) in &pages {
        assert_eq!(*n, 1, "{name} paged {n} times");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_three_to_five_to_three_moves_only_what_must_move_and_keeps_state() {
    let _serial = one_at_a_time().await;
    // Enough groups that hashing noise stays well inside the 10% margin.
    let groups = 1500;
    let interval = 20;
    let spec = Spec {
        interval,
        ..Spec::new(3, groups, 1)
    };
    let Some(mut c) = Cluster::start(spec).await else {
        return;
    };
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let three = placement(&c).await;
    assert_eq!(three.len(), groups);
    // Every alert firing, then the same startsAt at Alertmanager and activeAt in the
    // API after each move (moved groups restore their alerts from the TSDB).
    let state = c.firing_state(groups).await;
    let mut ports: Vec<u16> = c
        .members
        .iter()
        .map(|m| m.addr.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let new: Vec<u16> = (0..2).map(|_| free_port()).collect();
    ports.extend(&new);
    c.write_peers(&ports);
    for p in new {
        c.add_member(p).await;
    }
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let five = placement(&c).await;
    assert_eq!(five.len(), groups);
    let up = moved(&three, &five) as f64 / groups as f64;
    assert!(
        (up - 0.4).abs() <= 0.04,
        "3 → 5 moved {:.1}% of the groups; 40% must move",
        up * 100.0
    );
    // Nothing moved between old members.
    for (g, m) in &five {
        assert!(
            three.get(g) == Some(m) || c.members[3..].iter().any(|n| &n.addr == m),
            "{g} moved from {:?} to {m}, not to a new member",
            three.get(g)
        );
    }
    c.assert_state_kept(&state, interval, "3 → 5").await;
    // Back to three: the two newest leave (first from the list, then they stop).
    ports.truncate(3);
    c.write_peers(&ports);
    c.members.truncate(3);
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let back = placement(&c).await;
    assert_eq!(back.len(), groups);
    let down = moved(&five, &back) as f64 / groups as f64;
    assert!(
        (down - 0.4).abs() <= 0.04,
        "5 → 3 moved {:.1}% of the groups; 40% must move",
        down * 100.0
    );
    assert_eq!(
        back, three,
        "the same three members own the same groups again"
    );
    c.assert_state_kept(&state, interval, "5 → 3").await;
    // Paged once each, nothing sent resolved.
    let (pages, statuses) = c.pages();
    assert_eq!(statuses, BTreeSet::from(["firing".to_string()]));
    assert_eq!(pages.len(), groups);
    let twice: Vec<_> = pages.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "paged more than once: {twice:?}");
}
