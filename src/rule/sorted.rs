//! Vectors kept sorted by a `u64` key (a fingerprint), which the rules hold instead of
//! hash tables: a table keeps up to twice as many slots as entries, a vector sized to
//! its entries nothing beside them (see "Memory per active alert" in
//! docs/benchmarks.md). Lookups are binary searches; new entries join in one merge.

/// Merges `fresh`, sorted by `key` and none with a key `held` has, into `held` (sorted
/// by `key`): one pass into a vector of the exact size, so that adding leaves no spare
/// room.
pub(super) fn merge<T>(held: &mut Vec<T>, fresh: Vec<T>, key: impl Fn(&T) -> u64) {
    if fresh.is_empty() {
        return;
    }
    let mut merged = Vec::with_capacity(held.len() + fresh.len());
    let mut old = std::mem::take(held).into_iter().peekable();
    for f in fresh {
        let k = key(&f);
        while let Some(h) = old.next_if(|h| key(h) < k) {
            merged.push(h);
        }
        debug_assert!(old.peek().is_none_or(|h| key(h) != k));
        merged.push(f);
    }
    merged.extend(old);
    *held = merged;
}

/// Gives back the room of a vector that holds more than twice what is left in it:
/// entries come and go, and a rule keeps its vectors for as long as it runs.
pub(super) fn shrink_if_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() > 2 * v.len() {
        v.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_entries_join_in_order_with_no_spare_room() {
        let mut held = vec![2_u64, 5, 9];
        merge(&mut held, vec![1, 6, 7, 12], |k| *k);
        assert_eq!(held, [1, 2, 5, 6, 7, 9, 12]);
        assert_eq!(held.capacity(), 7);
        held.truncate(2);
        shrink_if_sparse(&mut held);
        assert_eq!(held.capacity(), 2);
    }
}
