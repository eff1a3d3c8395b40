//! Which members evaluate a group: rendezvous (highest-random-weight) hashing.
//!
//! Every member scores every (group, member) pair with the same hash and the group goes to
//! the `R` members with the highest scores. Nothing is coordinated: members that see the
//! same member set compute the same owners. When a member joins, a group moves only if
//! the newcomer out-scores one of its owners (on average `R/(N+1)` of the groups); when
//! a member leaves, only the groups it owned move. A group's key is its identity (file and
//! name, [`Group::id`]) unless the group carries a `shard_key` label, in which case every
//! group with the same value lands on the same members.

use crate::config::Group;

/// The group label that pins groups together: groups with the same `shard_key` value are
/// always evaluated by the same members.
pub const SHARD_KEY_LABEL: &str = "shard_key";

/// What a group is hashed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardKey(u64);

impl ShardKey {
    /// The key of `group`: its `shard_key` label if it has one, else its identity.
    pub fn of(group: &Group) -> ShardKey {
        match group.labels.get(SHARD_KEY_LABEL) {
            Some(v) => ShardKey::from_label(v),
            None => ShardKey::from_id(group.id()),
        }
    }

    /// The key of a group known by its identity only.
    pub fn from_id(id: u64) -> ShardKey {
        ShardKey(xxhash_rust::xxh3::xxh3_64_with_seed(&id.to_le_bytes(), 1))
    }

    /// The key of a `shard_key` label value.
    pub fn from_label(value: &str) -> ShardKey {
        ShardKey(xxhash_rust::xxh3::xxh3_64_with_seed(value.as_bytes(), 2))
    }
}

/// A member as the hash sees it: its name hashed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberKey(u64);

impl MemberKey {
    pub fn of(name: &str) -> MemberKey {
        MemberKey(xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), 3))
    }
}

/// The score of `member` for `key`: both are already well-mixed 64-bit hashes; their
/// 128-bit product folded (as wyhash does) and a final avalanche (splitmix64's) make a
/// score that is cheap enough to compute for every member of a 100-member cluster for
/// each of 100,000 groups on every change.
fn weight(key: ShardKey, member: MemberKey) -> u64 {
    let p = u128::from(key.0 | 1) * u128::from(member.0 | 1);
    let mut z = (p as u64) ^ ((p >> 64) as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The indices (into `members`) of the `r` members that own `key`, highest score first.
/// Fewer than `r` members means every member owns the key.
pub fn owners(key: ShardKey, members: &[MemberKey], r: usize) -> Vec<usize> {
    let mut scored: Vec<(u64, usize)> = members
        .iter()
        .enumerate()
        .map(|(i, &m)| (weight(key, m), i))
        .collect();
    // Highest weight first; equal weights (practically never) by member position, so
    // that every member breaks the tie the same way.
    let order = |a: &(u64, usize), b: &(u64, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    let r = r.max(1);
    if r < scored.len() {
        scored.select_nth_unstable_by(r - 1, order);
        scored.truncate(r);
    }
    scored.sort_unstable_by(order);
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Whether the member at `me` is among the `r` owners of `key`, without sorting: the
/// member owns the key when fewer than `r` members out-score it.
pub fn is_owner(key: ShardKey, members: &[MemberKey], me: usize, r: usize) -> bool {
    let Some(&mine) = members.get(me) else {
        return false;
    };
    let w = weight(key, mine);
    let better = members
        .iter()
        .enumerate()
        .filter(|&(i, &m)| {
            let x = weight(key, m);
            x > w || (x == w && i < me)
        })
        .count();
    better < r.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<MemberKey> {
        (0..n).map(|i| MemberKey::of(&i.to_string())).collect()
    }

    #[test]
    fn owners_and_is_owner_agree() {
        let m = members(7);
        for g in 0..500u64 {
            let k = ShardKey::from_id(g);
            for r in 1..=3 {
                let o = owners(k, &m, r);
                assert_eq!(o.len(), r);
                for i in 0..m.len() {
                    assert_eq!(is_owner(k, &m, i, r), o.contains(&i), "group {g}, r {r}");
                }
            }
        }
    }

    #[test]
    fn a_new_member_takes_groups_only_from_others() {
        let before = members(4);
        let after = members(5);
        let mut moved = 0;
        for g in 0..10_000u64 {
            let k = ShardKey::from_id(g);
            let (a, b) = (owners(k, &before, 1)[0], owners(k, &after, 1)[0]);
            if a != b {
                assert_eq!(b, 4, "a group only ever moves to the newcomer");
                moved += 1;
            }
        }
        // 1/5 of the groups must move; rendezvous moves no more than that (± noise).
        assert!((1800..2200).contains(&moved), "moved {moved}");
    }

    #[test]
    fn shard_key_pins_groups_together() {
        let m = members(10);
        let a = ShardKey::from_label("team-a");
        assert_eq!(a, ShardKey::from_label("team-a"));
        assert_ne!(a, ShardKey::from_label("team-b"));
        assert_eq!(
            owners(a, &m, 2),
            owners(ShardKey::from_label("team-a"), &m, 2)
        );
    }

    #[test]
    fn r_larger_than_the_member_count_means_everyone() {
        let m = members(2);
        let mut o = owners(ShardKey::from_id(9), &m, 3);
        o.sort();
        assert_eq!(o, [0, 1]);
        assert!(is_owner(ShardKey::from_id(9), &m, 1, 3));
        assert!(!is_owner(ShardKey::from_id(9), &m, 2, 3), "not a member");
    }
}
