//! Reloading the rule files: read and validate them off the runtime, refuse what would
//! run recording rules without `-remoteWrite.url` or empty a file that had groups (a
//! copy in progress), then apply the difference group by group. A failed reload keeps
//! the running rules.

use std::sync::Arc;

use super::run::{load_rules, needs_remote_write};
use crate::cluster::Cluster;
use crate::config::{self, LoadOptions, RuleSet};
use crate::manager::Manager;
use crate::manager::restore::Restorer;

/// What reloading the rule files needs of `Running`, borrowed apart from the
/// notifier so that the two reload side by side.
pub(super) struct RuleReload<'a> {
    pub patterns: &'a [String],
    pub load: &'a LoadOptions,
    pub remote_write: bool,
    pub manager: &'a mut Manager,
    /// The rule files' fingerprint at the last successful load.
    pub loaded_from: &'a mut Option<u64>,
    /// The rule set last loaded, replaced by a successful reload.
    pub set: &'a mut RuleSet,
    pub cluster: &'a Cluster,
    pub restorer: Option<&'a Arc<Restorer>>,
}

impl RuleReload<'_> {
    /// Reloads the rule files, if they changed since the last successful load; a
    /// failed reload keeps the running rules.
    pub(super) async fn run(self, trigger: &str) -> Result<(), String> {
        let fp = {
            let p = self.patterns.to_vec();
            tokio::task::spawn_blocking(move || config::sources_fingerprint(&p))
                .await
                .ok()
                .flatten()
        };
        if fp.is_some() && fp == *self.loaded_from {
            // Same files, same bytes: nothing to do (and nothing to log).
            return Ok(());
        }
        let set = match load_rules(self.patterns.to_vec(), self.load.clone()).await {
            Ok(set) => set,
            Err(e) => return Err(reload_failed(trigger, e)),
        };
        if !self.remote_write
            && let Some(what) = needs_remote_write(&set)
        {
            let e = format!("recording rules need -remoteWrite.url ({what})");
            return Err(reload_failed(trigger, e));
        }
        let emptied = set.emptied_since(self.set);
        if !emptied.is_empty() {
            return Err(reload_failed(trigger, emptied_error(&emptied)));
        }
        self.cluster
            .set_groups(&set.groups, &self.manager.engine().settings);
        // A single evaluator restores nothing on reload (new groups have no past); a
        // cluster member restores the groups a changed `shard_key` brought here.
        let restore = self.restorer.filter(|_| self.cluster.is_clustered());
        let a = super::cluster::apply_assigned(
            self.manager,
            self.cluster,
            &set,
            Some(&*self.set),
            restore,
        )
        .await;
        *self.set = set;
        if a.added + a.removed + a.changed > 0 {
            tracing::info!(
                trigger,
                added = a.added,
                removed = a.removed,
                changed = a.changed,
                unchanged = a.unchanged,
                "rules reloaded"
            );
        }
        *self.loaded_from = fp;
        Ok(())
    }
}

/// Why a reload that would empty files that had groups is refused (see
/// [`RuleSet::emptied_since`]).
fn emptied_error(emptied: &[(&std::path::Path, usize)]) -> String {
    let lines: Vec<String> = emptied
        .iter()
        .map(|(f, held)| {
            let groups = if *held == 1 { "group" } else { "groups" };
            format!(
                "{}: held {held} {groups} and now has no `groups:` list (empty, or still \
                 being written?); the reload is refused and the previous rules keep running. \
                 To remove all its rules on purpose, write `groups: []` to it",
                f.display()
            )
        })
        .collect();
    lines.join("\n")
}

pub(super) fn reload_failed(trigger: &str, e: String) -> String {
    tracing::error!(
        trigger,
        "reload failed; the previous rules keep running:\n{e}"
    );
    e
}
