//! Interned label strings: one shared copy of each label name and value that decoded
//! answers carry, for every rule and every evaluation.
//!
//! The same series come back at every evaluation, and often to many rules; without
//! interning each answer allocates its strings anew, and every alert or recorded series
//! keeps the copy of the evaluation that created it. With it, decoding a string already
//! seen is a hash lookup and a reference-count increment, and all label sets holding a
//! value share one allocation.
//!
//! Strings nobody else holds any more (their answers dropped, their alerts resolved) are
//! swept out whenever a shard has doubled since its last sweep, so the table stays
//! within about twice the strings in use, also while a rule's answer churns through new
//! label values.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock};

use xxhash_rust::xxh3::Xxh3Builder;

/// Shards, so that decoders on different threads rarely wait for each other.
const SHARDS: usize = 16;
/// A shard is not swept below this size: sweeping small tables costs more than it saves.
const MIN_SWEEP: usize = 1024;

#[derive(Default)]
struct Shard {
    strings: HashSet<Arc<str>, Xxh3Builder>,
    /// The size after the last sweep; the next sweep comes at twice this.
    swept_at: usize,
}

/// A table of shared strings.
pub struct Interner {
    shards: [Mutex<Shard>; SHARDS],
    hasher: Xxh3Builder,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: std::array::from_fn(|_| Mutex::default()),
            hasher: Xxh3Builder::new(),
        }
    }
}

impl Interner {
    /// The process-wide table the datasource decoder uses.
    pub fn global() -> &'static Interner {
        static GLOBAL: OnceLock<Interner> = OnceLock::new();
        GLOBAL.get_or_init(Interner::default)
    }

    /// The shared copy of `s`, added if new.
    pub fn intern(&self, s: &str) -> Arc<str> {
        let shard = &self.shards[(self.hasher.hash_one(s) as usize) % SHARDS];
        // A poisoned shard still holds valid strings: keep using it.
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = shard.strings.get(s) {
            return found.clone();
        }
        let new: Arc<str> = Arc::from(s);
        shard.strings.insert(new.clone());
        if shard.strings.len() >= (2 * shard.swept_at).max(MIN_SWEEP) {
            // Only the table holds these: nothing refers to them any more.
            shard.strings.retain(|s| Arc::strong_count(s) > 1);
            shard.swept_at = shard.strings.len();
        }
        new
    }

    /// Strings held, over all shards.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).strings.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "instance");
        assert!(!Arc::ptr_eq(&a, &t.intern("job")));
    }

    #[test]
    fn strings_nobody_holds_are_swept() {
        let t = Interner::default();
        let kept: Vec<Arc<str>> = (0..100).map(|i| t.intern(&format!("kept-{i}"))).collect();
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
            assert!(Arc::ptr_eq(k, &t.intern(&format!("kept-{i}"))));
        }
    }
}
