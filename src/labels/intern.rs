//! Interned label sets and strings: one shared copy of each series' label set, and of
//! each label name and value, that decoded answers carry, for every rule and every
//! evaluation.
//!
//! The same series come back at every evaluation, and often to many rules; without
//! interning each answer allocates its label sets and strings anew, and every alert or
//! recorded series keeps the copy of the evaluation that created it. With it, decoding a
//! series seen before is a fingerprint, a hash lookup and a reference-count increment,
//! with no allocation, and all label sets holding a value share one string.
//!
//! Entries nobody else holds any more (their answers dropped, their alerts resolved) are
//! swept out whenever a shard has doubled since its last sweep, so a table stays within
//! about twice what is in use, also while a rule's answer churns through new label
//! values; a table that does not grow is never swept, so series that come back at
//! every evaluation stay.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use xxhash_rust::xxh3::Xxh3Builder;

use super::{Label, Labels, Str, fingerprint_sorted};

/// Shards, so that decoders on different threads rarely wait for each other.
const SHARDS: usize = 16;
/// A shard is not swept below this size: sweeping small tables costs more than it saves.
const MIN_SWEEP: usize = 1024;

#[derive(Default)]
struct Shard {
    strings: HashSet<Str, Xxh3Builder>,
    /// The size after the last sweep; the next sweep comes at twice this.
    swept_at: usize,
}

/// Label sets by fingerprint (a set whose fingerprint collides with another's is not
/// kept: it is built each time, correct and merely not shared).
#[derive(Default)]
struct SetShard {
    sets: HashMap<u64, Labels, Xxh3Builder>,
    swept_at: usize,
}

/// A table of shared label sets and strings.
pub struct Interner {
    shards: [Mutex<Shard>; SHARDS],
    sets: [Mutex<SetShard>; SHARDS],
    hasher: Xxh3Builder,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: std::array::from_fn(|_| Mutex::default()),
            sets: std::array::from_fn(|_| Mutex::default()),
            hasher: Xxh3Builder::new(),
        }
    }
}

/// A poisoned shard still holds valid entries: keep using it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Due for a sweep: doubled since the last one, and not tiny.
fn sweep_due(len: usize, swept_at: usize) -> bool {
    len >= (2 * swept_at).max(MIN_SWEEP)
}

impl Interner {
    /// The process-wide table the datasource decoder uses.
    pub fn global() -> &'static Interner {
        static GLOBAL: OnceLock<Interner> = OnceLock::new();
        GLOBAL.get_or_init(Interner::default)
    }

    /// The shared copy of `s`, added if new.
    pub fn intern(&self, s: &str) -> Str {
        let mut shard = lock(&self.shards[(self.hasher.hash_one(s) as usize) % SHARDS]);
        if let Some(found) = shard.strings.get(s) {
            return found.clone();
        }
        let new = Str::from(s);
        shard.strings.insert(new.clone());
        if sweep_due(shard.strings.len(), shard.swept_at) {
            // Only the table holds these: nothing refers to them any more.
            shard.strings.retain(|s| Str::strong_count(s) > 1);
            shard.swept_at = shard.strings.len();
        }
        new
    }

    /// The shared label set of `pairs`, which must be sorted by name, with no
    /// duplicate names and no empty values (as a decoded series' labels are); built
    /// from shared strings and added if new.
    pub fn labels<'a, I>(&self, pairs: I) -> Labels
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let fingerprint = fingerprint_sorted(pairs.clone());
        let shard = &self.sets[(fingerprint as usize) % SHARDS];
        let len = pairs.clone().count();
        let same = |l: &Labels| {
            l.len() == len
                && l.iter()
                    .zip(pairs.clone())
                    .all(|(l, (n, v))| *l.name == *n && *l.value == *v)
        };
        if let Some(found) = lock(shard).sets.get(&fingerprint).filter(|l| same(l)) {
            return found.clone();
        }
        let built = Labels {
            pairs: pairs
                .clone()
                .map(|(n, v)| Label {
                    name: self.intern(n),
                    value: self.intern(v),
                })
                .collect(),
            fingerprint,
        };
        let mut shard = lock(shard);
        shard.sets.insert(fingerprint, built.clone());
        if sweep_due(shard.sets.len(), shard.swept_at) {
            shard.sets.retain(|_, l| Arc::strong_count(&l.pairs) > 1);
            shard.swept_at = shard.sets.len();
        }
        built
    }

    /// Strings held, over all shards.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).strings.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Label sets held, over all shards.
    pub fn sets(&self) -> usize {
        self.sets.iter().map(|s| lock(s).sets.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy() {
        let t = Interner::default();
        let a = t.intern("instance");
        let b = t.intern(&String::from("instance"));
        assert!(Str::ptr_eq(&a, &b));
        assert_eq!(&*a, "instance");
        assert!(!Str::ptr_eq(&a, &t.intern("job")));
    }

    #[test]
    fn equal_label_sets_share_one_copy() {
        let t = Interner::default();
        let pairs = [("instance", "a:9100"), ("job", "api")];
        let a = t.labels(pairs.iter().copied());
        let b = t.labels(pairs.iter().copied());
        assert!(Arc::ptr_eq(&a.pairs, &b.pairs));
        assert_eq!(a, Labels::from_pairs(pairs));
        assert_eq!(a.fingerprint(), Labels::from_pairs(pairs).fingerprint());
        let c = t.labels([("instance", "b:9100"), ("job", "api")].into_iter());
        assert!(!Arc::ptr_eq(&a.pairs, &c.pairs));
        assert!(Str::ptr_eq(&a.as_slice()[1].value, &c.as_slice()[1].value));
        // Churning series are swept once nothing holds them.
        for i in 0..100_000 {
            drop(t.labels([("pod", format!("p{i}").as_str())].into_iter()));
        }
        assert!(t.sets() <= SHARDS * 2 * MIN_SWEEP, "{} sets held", t.sets());
        assert!(Arc::ptr_eq(
            &a.pairs,
            &t.labels(pairs.iter().copied()).pairs
        ));
    }

    #[test]
    fn strings_nobody_holds_are_swept() {
        let t = Interner::default();
        let kept: Vec<Str> = (0..100).map(|i| t.intern(&format!("kept-{i}"))).collect();
        // A churning label: every value is used once and dropped.
        for i in 0..200_000 {
            drop(t.intern(&format!("pod-{i}")));
        }
        // The table stays within about twice what is in use per shard (plus the floor
        // below which shards are not swept), not the 200,000 strings seen.
        assert!(
            t.len() <= SHARDS * 2 * MIN_SWEEP,
            "{} strings held",
            t.len()
        );
        for (i, k) in kept.iter().enumerate() {
            assert!(Str::ptr_eq(k, &t.intern(&format!("kept-{i}"))));
        }
    }
}
