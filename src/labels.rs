//! The one label-set type used everywhere: query results, alerts, recorded series,
//! remote-write payloads and the HTTP API.
//!
//! A `Labels` is immutable, sorted by name, cheap to clone (one `Arc`) and carries its
//! fingerprint, computed once. Alert identity is the fingerprint of the final label set,
//! so hashing must be stable across runs and platforms: it is xxh3 over the sorted pairs
//! with separator bytes that cannot occur in valid UTF-8.

mod intern;
mod str;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

pub use intern::Interner;
pub use str::Str;

/// The metric-name label.
pub const METRIC_NAME: &str = "__name__";

/// One name/value pair. Strings are shared (`Str`, one pointer each) so that building
/// derived label sets (rule labels on top of query labels) copies pointers, not bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: Str,
    pub value: Str,
}

/// A sorted, de-duplicated, immutable set of labels with a precomputed fingerprint.
#[derive(Clone)]
pub struct Labels {
    pairs: Arc<[Label]>,
    fingerprint: u64,
}

impl Labels {
    /// The empty set.
    pub fn empty() -> Self {
        Self::from_sorted(Vec::new())
    }

    /// Builds a set from arbitrary pairs. Later duplicates win, as when labels are
    /// applied on top of each other; empty values are dropped, because Prometheus treats
    /// an empty label value as an absent label.
    pub fn from_pairs<N, V, I>(pairs: I) -> Self
    where
        N: Into<Str>,
        V: Into<Str>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut b = LabelsBuilder::default();
        for (n, v) in pairs {
            b.set(n, v);
        }
        b.build()
    }

    fn from_sorted(pairs: Vec<Label>) -> Self {
        let fingerprint = fingerprint_of(&pairs);
        Labels {
            pairs: pairs.into(),
            fingerprint,
        }
    }

    /// Stable 64-bit hash of the whole set; equal sets have equal fingerprints.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.pairs[i].value)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Label> {
        self.pairs.iter()
    }

    /// The pairs, sorted by name.
    pub fn as_slice(&self) -> &[Label] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// A builder seeded with this set, for applying changes.
    pub fn to_builder(&self) -> LabelsBuilder {
        self.to_builder_with_room(0)
    }

    /// A builder seeded with this set, with room for `extra` labels more.
    pub fn to_builder_with_room(&self, extra: usize) -> LabelsBuilder {
        let mut pairs = Vec::with_capacity(self.pairs.len() + extra);
        pairs.extend_from_slice(&self.pairs);
        LabelsBuilder { pairs }
    }

    /// The set without `__name__`, as alerting rules see query results.
    pub fn without_metric_name(&self) -> Labels {
        if self.get(METRIC_NAME).is_none() {
            return self.clone();
        }
        // Removing a pair keeps the rest sorted: no builder, no sort.
        Self::from_sorted(
            self.pairs
                .iter()
                .filter(|l| &*l.name != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }
}

/// A map keyed by label-set fingerprints ([`Labels::fingerprint`]). They are xxh3
/// hashes already, so the map uses them as they are instead of hashing them again (std's
/// SipHash of each key was about 2 % of a replay's CPU).
pub type FingerprintMap<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// The hasher of [`FingerprintMap`]: a `u64` key is its own hash.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn fingerprint_of(pairs: &[Label]) -> u64 {
    fingerprint_sorted(pairs.iter().map(|l| (&*l.name, &*l.value)))
}

/// The fingerprint a `Labels` of these pairs has. The pairs must be sorted by name, with
/// no duplicate names and no empty values (as in a built set), so that a caller can look
/// a label set up by identity before, or instead of, building it.
pub fn fingerprint_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    // xxh3 over the concatenation. Most label sets fit the stack buffer and are hashed in
    // one call, several times faster than feeding the streaming hasher piece by piece;
    // both give the same value, so larger sets switch to streaming where they overflow.
    const SEP_NAME: u8 = 0xff;
    const SEP_PAIR: u8 = 0xfe;
    let mut buf = [0u8; 512];
    let mut len = 0;
    let mut stream: Option<Xxh3> = None;
    for (name, value) in pairs {
        let need = name.len() + value.len() + 2;
        if stream.is_none() && len + need <= buf.len() {
            buf[len..len + name.len()].copy_from_slice(name.as_bytes());
            len += name.len();
            buf[len] = SEP_NAME;
            len += 1;
            buf[len..len + value.len()].copy_from_slice(value.as_bytes());
            len += value.len();
            buf[len] = SEP_PAIR;
            len += 1;
            continue;
        }
        let h = stream.get_or_insert_with(|| {
            let mut h = Xxh3::new();
            h.update(&buf[..len]);
            h
        });
        h.update(name.as_bytes());
        h.update(&[SEP_NAME]);
        h.update(value.as_bytes());
        h.update(&[SEP_PAIR]);
    }
    match stream {
        Some(h) => h.digest(),
        None => xxh3_64(&buf[..len]),
    }
}

impl Default for Labels {
    fn default() -> Self {
        Self::empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.pairs == other.pairs
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Orders like Prometheus' `labels.Compare`: pair by pair, then by length.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pairs.iter().cmp(other.pairs.iter())
    }
}

impl fmt::Display for Labels {
    /// Prometheus' text form: `{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, &*l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.pairs.len()))?;
        for l in self.pairs.iter() {
            m.serialize_entry(&*l.name, &*l.value)?;
        }
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: std::collections::BTreeMap<String, String> = serde::Deserialize::deserialize(d)?;
        Ok(Labels::from_pairs(m))
    }
}

/// Accumulates changes to a label set; `build` sorts once and fingerprints once.
#[derive(Default, Clone, Debug)]
pub struct LabelsBuilder {
    pairs: Vec<Label>,
}

impl LabelsBuilder {
    pub fn with_capacity(n: usize) -> Self {
        LabelsBuilder {
            pairs: Vec::with_capacity(n),
        }
    }

    /// Sets a label, replacing any previous value. An empty value deletes the label,
    /// matching Prometheus' rule that `foo=""` is the same as no `foo`.
    pub fn set(&mut self, name: impl Into<Str>, value: impl Into<Str>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.pairs.iter().position(|l| l.name == name) {
            Some(i) if value.is_empty() => {
                self.pairs.remove(i);
            }
            Some(i) => self.pairs[i].value = value,
            None if value.is_empty() => {}
            None => self.pairs.push(Label { name, value }),
        }
        self
    }

    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|l| &*l.name != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|l| &*l.name == name)
            .map(|l| &*l.value)
    }

    /// A copy of the pairs as they are now, in no particular order (to change the builder
    /// while walking them).
    pub fn pairs(&self) -> Vec<(Str, Str)> {
        self.pairs
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }

    pub fn build(mut self) -> Labels {
        self.pairs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Labels::from_sorted(self.pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_change_identity() {
        let a = Labels::from_pairs([("b", "2"), ("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "2")]);
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.to_string(), r#"{a="1", b="2"}"#);
    }

    #[test]
    fn different_sets_differ() {
        let a = Labels::from_pairs([("a", "1b")]);
        let b = Labels::from_pairs([("a1", "b")]);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a, b);
    }

    #[test]
    fn empty_value_deletes_and_later_wins() {
        let l = Labels::from_pairs([("a", "1"), ("b", "2"), ("a", "3"), ("b", "")]);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("b"), None);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn fingerprint_is_stable_across_sizes() {
        // The value of the streaming hasher over name 0xff value 0xfe per pair, whether
        // the set fits the one-shot buffer or not: alert identities must not change.
        fn streamed(l: &Labels) -> u64 {
            let mut h = Xxh3::new();
            for p in l.iter() {
                h.update(p.name.as_bytes());
                h.update(&[0xff]);
                h.update(p.value.as_bytes());
                h.update(&[0xfe]);
            }
            h.digest()
        }
        for n in [0usize, 1, 8, 40, 200] {
            let l = Labels::from_pairs((0..n).map(|i| (format!("name{i:03}"), "v".repeat(i))));
            assert_eq!(l.fingerprint(), streamed(&l), "{n} labels");
        }
        let fixed = Labels::from_pairs([("a", "1"), ("b", "2")]);
        assert_eq!(fixed.fingerprint(), streamed(&fixed));
        assert_eq!(fixed.fingerprint(), 0x99bc_f541_592c_8122);
    }

    #[test]
    fn drops_metric_name() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        assert_eq!(l.without_metric_name(), Labels::from_pairs([("job", "x")]));
    }

    #[test]
    fn json_is_a_map() {
        let l = Labels::from_pairs([("z", "1"), ("a", "\"q\"")]);
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"a":"\"q\"","z":"1"}"#
        );
    }
}
