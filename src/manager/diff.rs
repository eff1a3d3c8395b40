//! Which groups a reload starts, stops, updates or leaves alone.
//!
//! A group's identity is [`Group::id`] (its file and name); its checksum says whether anything that
//! affects evaluation changed. Unchanged groups keep running untouched (same schedule,
//! same alert state); changed groups are updated in place so that rules that stayed the
//! same keep their alerts.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Group;

/// The outcome of comparing the running groups with a freshly loaded set.
#[derive(Debug, Default)]
pub struct Diff {
    /// New groups, in the new set's order.
    pub added: Vec<Arc<Group>>,
    /// IDs of running groups that are gone.
    pub removed: Vec<u64>,
    /// Groups whose definition changed (new definition).
    pub changed: Vec<Arc<Group>>,
    /// Number of groups left as they are.
    pub unchanged: usize,
}

impl Diff {
    /// True when the reload changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares `running` (group ID → checksum) with the `new` groups.
pub fn diff(running: &HashMap<u64, u64>, new: &[Arc<Group>]) -> Diff {
    let mut d = Diff::default();
    let mut seen = std::collections::HashSet::with_capacity(new.len());
    for g in new {
        let k = g.id();
        match running.get(&k) {
            None => d.added.push(g.clone()),
            Some(&sum) if sum != g.checksum => d.changed.push(g.clone()),
            Some(_) => d.unchanged += 1,
        }
        seen.insert(k);
    }
    d.removed = running
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    d.removed.sort();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};

    fn groups(text: &str) -> Vec<Arc<Group>> {
        load_str(std::path::Path::new("r.yml"), text, &LoadOptions::default()).expect("valid rules")
    }

    fn running(gs: &[Arc<Group>]) -> HashMap<u64, u64> {
        gs.iter().map(|g| (g.id(), g.checksum)).collect()
    }

    const BASE: &str = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n- name: b\n  rules:\n  - record: y\n    expr: up\n";

    #[test]
    fn identical_sets_change_nothing() {
        let old = groups(BASE);
        let d = diff(&running(&old), &groups(BASE));
        assert!(d.is_empty());
        assert_eq!(d.unchanged, 2);
    }

    #[test]
    fn added_removed_and_changed_are_told_apart() {
        let old = groups(BASE);
        let new = groups(
            "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up == 1\n- name: c\n  rules:\n  - record: z\n    expr: up\n",
        );
        let d = diff(&running(&old), &new);
        assert_eq!(
            d.added.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(
            d.changed
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(d.removed, [crate::config::group_id("r.yml", "b")]);
        assert_eq!(d.unchanged, 0);
    }
}
