//! How evenly rendezvous hashing spreads groups and how many move when the membership
//! changes, computed without running anything (`docs/operations.md` shows the table,
//! which a test regenerates and checks).

use super::assign::{MemberKey, ShardKey, owners};

/// One simulated cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub groups: usize,
    pub members: usize,
    pub replication: usize,
    /// Most and least loaded member, over the mean (group replicas per member).
    pub max_over_mean: f64,
    pub min_over_mean: f64,
    /// Share of the group replicas that move when one member joins, and the least
    /// share that must (the newcomer's fair part, `1/(N+1)` of the replicas).
    pub moved_on_join: f64,
    pub minimum_on_join: f64,
    /// The same when one member leaves (`1/N` must move: the leaver's part).
    pub moved_on_leave: f64,
    pub minimum_on_leave: f64,
}

fn names(n: usize) -> Vec<MemberKey> {
    (0..n).map(|i| MemberKey::of(&i.to_string())).collect()
}

/// Group replicas that change hands between `before` and `after` (member names are
/// the same string in both, so indices into the shorter list mean the same member).
fn moved(keys: &[ShardKey], before: &[MemberKey], after: &[MemberKey], r: usize) -> usize {
    keys.iter()
        .map(|&k| {
            let a = owners(k, before, r);
            let b = owners(k, after, r);
            b.iter().filter(|m| !a.contains(m)).count()
        })
        .sum()
}

/// Spreads `groups` groups (identities like a real rule tree's) over `members` members
/// with `replication` replicas, then adds and removes the last member.
pub fn simulate(groups: usize, members: usize, replication: usize) -> Simulation {
    let keys: Vec<ShardKey> = (0..groups)
        .map(|i| {
            let file = format!("/etc/tocsin/rules/team-{}.yml", i / 50);
            ShardKey::from_id(crate::config::group_id(&file, &format!("group-{i}")))
        })
        .collect();
    let base = names(members);
    let mut load = vec![0usize; members];
    for &k in &keys {
        for m in owners(k, &base, replication) {
            load[m] += 1;
        }
    }
    let replicas = (groups * replication.min(members)) as f64;
    let mean = replicas / members as f64;
    let max = load.iter().copied().max().unwrap_or(0) as f64;
    let min = load.iter().copied().min().unwrap_or(0) as f64;
    let grown = names(members + 1);
    let shrunk = names(members.saturating_sub(1).max(1));
    Simulation {
        groups,
        members,
        replication,
        max_over_mean: max / mean,
        min_over_mean: min / mean,
        moved_on_join: moved(&keys, &base, &grown, replication) as f64 / replicas,
        minimum_on_join: 1.0 / (members as f64 + 1.0),
        moved_on_leave: moved(&keys, &base, &shrunk, replication) as f64 / replicas,
        minimum_on_leave: 1.0 / members as f64,
    }
}

/// The table `docs/operations.md` shows.
pub fn markdown(rows: &[Simulation]) -> String {
    let mut out = String::from(
        "| groups | members | R | max / mean load | min / mean load | moved when one joins (minimum) | moved when one leaves (minimum) |\n|---|---|---|---|---|---|---|\n",
    );
    for s in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.2}% ({:.2}%) | {:.2}% ({:.2}%) |\n",
            s.groups,
            s.members,
            s.replication,
            s.max_over_mean,
            s.min_over_mean,
            s.moved_on_join * 100.0,
            s.minimum_on_join * 100.0,
            s.moved_on_leave * 100.0,
            s.minimum_on_leave * 100.0,
        ));
    }
    out
}
