//! Initial snapshots built from the loaded rule set, so that `/api/v1/rules` lists every
//! group and rule (health `unknown`) from the moment rules are loaded, before the first
//! evaluation. Group tasks then publish updated copies of these.

use std::sync::Arc;

use super::model::{AlertingStatus, GroupStatus, RuleKindStatus, RuleStatus};
use crate::config::{DatasourceType, Group, Rule, RuleKind};
use crate::labels::{Interner, Labels};
use crate::rule::RuleSettings;

impl GroupStatus {
    /// The never-evaluated snapshot of `group`, with the defaults of `settings`
    /// (`-evaluationInterval`, `-rule.updateEntriesLimit`) where the group sets none.
    pub fn from_config(group: &Group, settings: &RuleSettings) -> GroupStatus {
        let file = group.shown_file.clone();
        let mut g = GroupStatus::new(
            &file,
            &group.name,
            group.interval.unwrap_or(settings.default_interval),
        );
        // The ID of the group's real file, also with -rule.stripFilePath (as vmalert).
        g.id = group.id();
        g.limit = group.limit;
        g.concurrency = group.concurrency.max(1);
        g.datasource_type = match group.datasource_type {
            DatasourceType::Prometheus => "prometheus",
        };
        g.labels = group.labels.clone();
        g.params = group
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        g.headers = group
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        g.notifier_headers = group
            .notifier_headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        g.eval_offset = group.eval_offset;
        g.eval_delay = group.eval_delay;
        g.rules = group
            .rules
            .iter()
            .zip(group.rule_ids())
            .map(|(r, id)| {
                let updates = settings.update_entries_limit;
                Arc::new(RuleStatus::from_config(r, id, &group.labels, updates))
            })
            .collect();
        g
    }
}

impl RuleStatus {
    /// The never-evaluated snapshot of `rule`, labels and annotations as written; its
    /// labels are the group's `labels` overridden by the rule's own, as Prometheus and
    /// vmalert show them (and as `match[]` filters them). It keeps the rule's
    /// `update_entries_limit` past evaluations, else `default_updates`.
    pub fn from_config(
        rule: &Rule,
        id: u64,
        group_labels: &Labels,
        default_updates: usize,
    ) -> RuleStatus {
        let kind = match &rule.kind {
            RuleKind::Alerting(a) => RuleKindStatus::Alerting(AlertingStatus::new(a.clone())),
            RuleKind::Recording(_) => RuleKindStatus::Recording,
        };
        let mut r = RuleStatus::sharing(id, rule.shared_name().clone(), rule.expr.clone(), kind);
        let own = rule.labels.iter().map(|(k, t)| (k.as_str(), t.source()));
        let inherited = group_labels
            .iter()
            .filter(|l| !rule.labels.iter().any(|(k, _)| k.as_str() == &*l.name))
            .map(|l| (&*l.name, &*l.value));
        let written = Labels::from_pairs(inherited.chain(own));
        // Rules repeat the same labels (`severity: critical`, their group's): the
        // process-wide table keeps one copy of each set and string for all snapshots,
        // instead of one a rule (see "Memory per rule, step 10" in docs/benchmarks.md).
        r.labels =
            Interner::global().labels(written.as_slice().iter().map(|l| (&*l.name, &*l.value)));
        r.debug = rule.debug;
        // vmalert keeps at least the last evaluation, also when told 0 (by the rule or by
        // `-rule.updateEntriesLimit`), and shows `max_updates_entries: 1`: the rule page
        // always has the evaluation that explains the rule's state.
        r.max_updates = rule.update_entries_limit.unwrap_or(default_updates).max(1);
        r
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{AlertingSpec, RecordingSpec};
    use crate::status::Health;
    use crate::template::Template;
    use std::collections::HashSet;

    fn rule(kind: RuleKind, expr: &str, index: usize) -> Rule {
        Rule {
            kind,
            expr: expr.into(),
            labels: vec![(
                "severity".into(),
                Template::parse("severity", "page").unwrap(),
            )],
            debug: false,
            update_entries_limit: None,
            index,
            line: index + 3,
        }
    }

    fn group(rules: Vec<Rule>) -> Group {
        Group {
            file: "/etc/rules/a.yml".into(),
            shown_file: "/etc/rules/a.yml".into(),
            name: "node".into(),
            line: 2,
            interval: None,
            query_offset: None,
            limit: 5,
            labels: Labels::from_pairs([("team", "infra")]),
            eval_offset: Some(Duration::from_secs(10)),
            eval_delay: None,
            eval_alignment: None,
            concurrency: 2,
            datasource_type: DatasourceType::Prometheus,
            params: vec![("nocache".into(), "1".into())],
            headers: vec![("X-Tenant".into(), "a".into())],
            notifier_headers: Vec::new(),
            debug: false,
            rules: rules.into_iter().map(Arc::new).collect(),
            checksum: 0,
            identity: crate::config::group_id("/etc/rules/a.yml", "node"),
        }
    }

    #[test]
    fn snapshot_mirrors_the_config() {
        let alert = RuleKind::Alerting(Arc::new(AlertingSpec {
            name: "Down".into(),
            for_: Duration::from_secs(300),
            keep_firing_for: Duration::ZERO,
            annotations: vec![(
                "summary".into(),
                Template::parse("summary", "{{ $labels.instance }} down").unwrap(),
            )],
            ext: Default::default(),
        }));
        let rec = RuleKind::Recording(RecordingSpec {
            name: "job:up:sum".into(),
        });
        let g = GroupStatus::from_config(
            &group(vec![
                rule(alert.clone(), "up == 0", 0),
                rule(rec, "sum(up)", 1),
                rule(alert.clone(), "up == 0", 2),
            ]),
            &RuleSettings {
                update_entries_limit: 7,
                ..RuleSettings::default()
            },
        );
        assert_eq!(&*g.name, "node");
        assert_eq!(&*g.file, "/etc/rules/a.yml");
        assert_eq!(g.interval, Duration::from_secs(60));
        assert_eq!((g.limit, g.concurrency), (5, 2));
        assert_eq!(g.params, ["nocache=1"]);
        assert_eq!(g.headers, ["X-Tenant: a"]);
        assert_eq!(g.rules.len(), 3);
        let down = &g.rules[0];
        assert_eq!(down.health, Health::Unknown);
        assert_eq!(down.labels.get("severity"), Some("page"));
        assert_eq!(down.labels.get("team"), Some("infra"), "group labels shown");
        let a = down.alerting().unwrap();
        assert_eq!(a.for_(), Duration::from_secs(300));
        assert_eq!(
            a.annotations().collect::<Vec<_>>(),
            [("summary", "{{ $labels.instance }} down")]
        );
        let RuleKind::Alerting(spec) = &alert else {
            unreachable!()
        };
        assert!(Arc::ptr_eq(&a.spec, spec), "the definition's copy, shared");
        assert!(Arc::ptr_eq(&down.name, &spec.name), "the name too");
        assert!(!g.rules[1].is_alerting());
        assert_eq!(g.rules[1].max_updates, 7, "-rule.updateEntriesLimit");
        let ids: HashSet<u64> = g.rules.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), 3, "duplicate rules still get distinct IDs");
        let same_but_moved = rule(
            RuleKind::Alerting(Arc::new(AlertingSpec {
                name: "Down".into(),
                ..Default::default()
            })),
            "up == 0",
            7,
        );
        assert_eq!(
            g.rules[0].id,
            same_but_moved.id(),
            "the ID ignores for, annotations and position"
        );
    }

    #[test]
    fn rules_with_the_same_labels_share_one_copy() {
        let rec = |name: &str| RuleKind::Recording(RecordingSpec { name: name.into() });
        let g = GroupStatus::from_config(
            &group(vec![
                rule(rec("a:sum"), "sum(a)", 0),
                rule(rec("b:sum"), "sum(b)", 1),
            ]),
            &RuleSettings::default(),
        );
        let (a, b) = (&g.rules[0].labels, &g.rules[1].labels);
        let shown = Labels::from_pairs([("severity", "page"), ("team", "infra")]);
        assert_eq!((a, b), (&shown, &shown));
        assert!(std::ptr::eq(a.as_slice(), b.as_slice()), "one shared set");
        assert_eq!(&*g.rules[1].query, "sum(b)");
    }
}
