//! The alerts a rule holds, in a vector sorted by fingerprint, and the render cache's
//! index of them by query series.
//!
//! A vector rather than a hash table (see `rule/sorted.rs`): an alert stored in a
//! table's slot cost up to twice its size, a boxed one a pointer, a key and a control
//! byte per slot. An evaluation's alerts come sorted by fingerprint (`render` sorts them
//! to find duplicates), so the new ones join the others in one merge.

use crate::rule::alert::{Alert, Attempt};
use crate::rule::sorted;

/// A rule's alerts, sorted by the fingerprint of their labels (distinct).
#[derive(Debug, Default)]
pub(super) struct Alerts {
    list: Vec<Alert>,
    /// The render cache (see `render.rs`): positions in `list` sorted by
    /// [`Alert::source`], the query series each alert was last rendered for. Valid while
    /// `indexed`: adding or removing alerts moves positions, and `merge` may change a
    /// source, so both drop it, and the rule builds it again at the end of the
    /// evaluation (`index_sources`): in steady state, when the same series make the same
    /// alerts, it is kept as it is.
    by_source: Vec<u32>,
    indexed: bool,
}

impl Alerts {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Alert> {
        self.list.iter()
    }

    /// The alerts, to change in place: their fingerprints (labels) and sources must not
    /// change (`merge` drops the source index when it changes a source).
    pub(super) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Alert> {
        self.list.iter_mut()
    }

    fn position(&self, fp: u64) -> Result<usize, usize> {
        self.list
            .binary_search_by_key(&fp, |a| a.labels.fingerprint())
    }

    /// The alert `fp`, to change in place (as [`Alerts::iter_mut`]).
    pub(super) fn get_mut(&mut self, fp: u64) -> Option<&mut Alert> {
        self.position(fp).ok().map(|i| &mut self.list[i])
    }

    pub(super) fn contains(&self, fp: u64) -> bool {
        self.position(fp).is_ok()
    }

    /// Adds `fresh`, alerts none of which is held, sorted by fingerprint: one merge into
    /// a vector of the exact size, so that adding alerts leaves no spare room.
    pub(super) fn add(&mut self, fresh: Vec<Alert>) {
        if fresh.is_empty() {
            return;
        }
        sorted::merge(&mut self.list, fresh, |a| a.labels.fingerprint());
        self.drop_index();
    }

    /// Keeps the alerts for which `keep` returns true, in order.
    pub(super) fn retain(&mut self, keep: impl FnMut(&mut Alert) -> bool) {
        let before = self.list.len();
        self.list.retain_mut(keep);
        if self.list.len() != before {
            self.drop_index();
            sorted::shrink_if_sparse(&mut self.list);
        }
    }

    /// Removes every alert, returning them.
    pub(super) fn take(&mut self) -> Vec<Alert> {
        self.drop_index();
        std::mem::take(&mut self.list)
    }

    /// The alert that holds the rendering of query series `source` made at evaluation
    /// `attempt`, if any: an alert made by that series then (another alert may hold an
    /// older rendering of it, see `render.rs`).
    pub(super) fn rendered(&self, source: u64, attempt: Attempt) -> Option<&Alert> {
        if !self.indexed {
            return None;
        }
        let from = self
            .by_source
            .partition_point(|&i| self.list[i as usize].source < source);
        self.by_source[from..]
            .iter()
            .map(|&i| &self.list[i as usize])
            .take_while(|a| a.source == source)
            .find(|a| a.seen == attempt)
    }

    /// Builds the source index again if adding, removing or `merge` dropped it.
    pub(super) fn index_sources(&mut self) {
        if self.indexed {
            return;
        }
        let list = &self.list;
        self.by_source.clear();
        // Sized to the alerts, not grown by doubling.
        self.by_source.reserve_exact(list.len());
        // Restored alerts (source 0) hold no rendering.
        self.by_source.extend(
            (0..list.len())
                .filter(|&i| list[i].source != 0)
                .map(|i| u32::try_from(i).expect("fewer than 2^32 alerts")),
        );
        self.by_source
            .sort_unstable_by_key(|&i| list[i as usize].source);
        if self.by_source.capacity() > 2 * self.by_source.len() {
            self.by_source.shrink_to_fit();
        }
        self.indexed = true;
    }

    /// Forgets the source index: the renderings are no longer valid (the rule changed),
    /// or the positions or sources it was built from changed.
    pub(super) fn drop_index(&mut self) {
        self.by_source.clear();
        self.indexed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::rule::alert::Annotations;

    fn alert(instance: &str, source: u64, seen: Attempt) -> Alert {
        let labels = Labels::from_pairs([("instance", instance)]);
        let mut a = Alert::new(labels, Annotations::default(), 1.0, 0);
        a.source = source;
        a.seen = seen;
        a
    }

    fn sorted(mut v: Vec<Alert>) -> Vec<Alert> {
        v.sort_by_key(|a| a.labels.fingerprint());
        v
    }

    fn fingerprints(alerts: &Alerts) -> Vec<u64> {
        alerts.iter().map(|a| a.labels.fingerprint()).collect()
    }

    #[test]
    fn alerts_stay_sorted_and_are_found_by_fingerprint() {
        let mut alerts = Alerts::default();
        alerts.add(sorted(vec![alert("a", 1, 1), alert("c", 3, 1)]));
        alerts.add(sorted(vec![alert("b", 2, 1), alert("d", 4, 1)]));
        let fps = fingerprints(&alerts);
        assert!(fps.is_sorted());
        assert_eq!(fps.len(), 4);
        for fp in fps {
            assert_eq!(alerts.get_mut(fp).map(|a| a.labels.fingerprint()), Some(fp));
        }
        alerts.retain(|a| a.source % 2 == 0);
        assert_eq!(alerts.len(), 2);
        assert!(fingerprints(&alerts).is_sorted());
        assert!(alerts.list.capacity() <= 4);
    }

    #[test]
    fn the_source_index_finds_the_alert_made_at_the_attempt_and_goes_with_a_change() {
        let mut alerts = Alerts::default();
        // Series 7 made "old" at attempt 1 and "new" at attempt 2 (a label changed).
        alerts.add(sorted(vec![
            alert("old", 7, 1),
            alert("new", 7, 2),
            alert("x", 8, 2),
        ]));
        assert!(alerts.rendered(7, 2).is_none(), "not indexed yet");
        alerts.index_sources();
        let found = |alerts: &Alerts, source, attempt| {
            alerts
                .rendered(source, attempt)
                .and_then(|a| a.labels.get("instance").map(str::to_string))
        };
        assert_eq!(found(&alerts, 7, 2).as_deref(), Some("new"));
        assert_eq!(found(&alerts, 7, 1).as_deref(), Some("old"));
        assert_eq!(found(&alerts, 8, 2).as_deref(), Some("x"));
        assert_eq!(found(&alerts, 9, 2), None);
        // Removing an alert moves positions: the index goes until built again.
        alerts.retain(|a| a.labels.get("instance") != Some("old"));
        assert_eq!(found(&alerts, 7, 2), None);
        alerts.index_sources();
        assert_eq!(found(&alerts, 7, 2).as_deref(), Some("new"));
        // Keeping every alert keeps the index.
        alerts.retain(|_| true);
        assert_eq!(found(&alerts, 8, 2).as_deref(), Some("x"));
    }
}
