//! Which old rule became which new rule: the same group and name first; then, among the
//! rest, the same kind and expression (a rule renamed or moved to another group); then
//! the same kind and name in another group (moved and changed); the report says how
//! each pair was matched. What is left was removed or added.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Group, RuleKind};

/// A rule of a side: its group's position and its position in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub group: usize,
    pub rule: usize,
}

/// How a pair was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Same group and name.
    Name,
    /// Same kind and expression, different group or name.
    Expression,
    /// Same kind and name in another group, different expression.
    MovedName,
    /// Only in the old rules (removed).
    OnlyOld,
    /// Only in the new rules (added).
    OnlyNew,
}

impl How {
    pub fn text(self) -> &'static str {
        match self {
            How::Name => "name",
            How::Expression => "expr (renamed/moved)",
            How::MovedName => "name (moved)",
            How::OnlyOld => "removed",
            How::OnlyNew => "added",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub old: Option<At>,
    pub new: Option<At>,
    pub how: How,
}

fn alerting(g: &Group, r: usize) -> bool {
    matches!(g.rules[r].kind, RuleKind::Alerting(_))
}

fn all(groups: &[Arc<Group>]) -> Vec<At> {
    groups
        .iter()
        .enumerate()
        .flat_map(|(gi, g)| {
            (0..g.rules.len()).map(move |ri| At {
                group: gi,
                rule: ri,
            })
        })
        .collect()
}

/// What pairing looks at: group, kind (alerting?), name and expression.
type Spec = (String, bool, String, String);

fn specs(gs: &[Arc<Group>], at: &[At]) -> Vec<Spec> {
    at.iter()
        .map(|a| {
            let g = &gs[a.group];
            let r = &g.rules[a.rule];
            (
                g.name.clone(),
                alerting(g, a.rule),
                r.name().to_string(),
                r.expr.to_string(),
            )
        })
        .collect()
}

/// The passes, in order: what two rules must share, and how the pair is then called.
/// Among several candidates the first (in file order) is taken.
type Pass = (fn(&Spec) -> Spec, How);

const PASSES: [Pass; 4] = [
    (|s| s.clone(), How::Name),
    (
        |s| (s.0.clone(), s.1, s.2.clone(), String::new()),
        How::Name,
    ),
    (
        |s| (String::new(), s.1, String::new(), s.3.clone()),
        How::Expression,
    ),
    (
        |s| (String::new(), s.1, s.2.clone(), String::new()),
        How::MovedName,
    ),
];

/// Pairs the rules of `old` and `new`, in the new rules' order, then the removed ones.
pub fn pair(old: &[Arc<Group>], new: &[Arc<Group>]) -> Vec<Pair> {
    let (olds, news) = (all(old), all(new));
    let (so, sn) = (specs(old, &olds), specs(new, &news));
    let mut free = vec![true; olds.len()];
    let mut matched: Vec<Option<(usize, How)>> = vec![None; news.len()];
    for (key, how) in PASSES {
        let mut cands: HashMap<Spec, VecDeque<usize>> = HashMap::new();
        for (oi, s) in so.iter().enumerate().filter(|(oi, _)| free[*oi]) {
            cands.entry(key(s)).or_default().push_back(oi);
        }
        for (ni, s) in sn.iter().enumerate() {
            if matched[ni].is_some() {
                continue;
            }
            if let Some(oi) = cands.get_mut(&key(s)).and_then(|q| q.pop_front()) {
                matched[ni] = Some((oi, how));
                free[oi] = false;
            }
        }
    }
    let mut out: Vec<Pair> = news
        .iter()
        .zip(&matched)
        .map(|(a, m)| Pair {
            old: m.map(|(oi, _)| olds[oi]),
            new: Some(*a),
            how: m.map_or(How::OnlyNew, |(_, how)| how),
        })
        .collect();
    out.extend(
        olds.iter()
            .zip(&free)
            .filter(|(_, f)| **f)
            .map(|(o, _)| Pair {
                old: Some(*o),
                new: None,
                how: How::OnlyOld,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};

    fn groups(text: &str) -> Vec<Arc<Group>> {
        load_str(std::path::Path::new("r.yml"), text, &LoadOptions::default()).expect("valid")
    }

    #[test]
    fn name_then_expression_then_added_and_removed() {
        let old = groups(
            "groups:\n- name: a\n  rules:\n  - alert: Hi\n    expr: x > 1\n  - alert: Moved\n    expr: y > 1\n  - record: gone\n    expr: z\n",
        );
        let new = groups(
            "groups:\n- name: a\n  rules:\n  - alert: Hi\n    expr: x > 2\n  - record: fresh\n    expr: w\n- name: b\n  rules:\n  - alert: Renamed\n    expr: y > 1\n",
        );
        let p = pair(&old, &new);
        let how: Vec<How> = p.iter().map(|p| p.how).collect();
        assert_eq!(
            how,
            [How::Name, How::OnlyNew, How::Expression, How::OnlyOld]
        );
        assert_eq!(p[2].old, Some(At { group: 0, rule: 1 }));
        assert_eq!(p[2].new, Some(At { group: 1, rule: 0 }));
        assert_eq!(p[3].old, Some(At { group: 0, rule: 2 }));
    }

    #[test]
    fn a_rule_moved_and_changed_pairs_by_name() {
        let old = groups("groups:\n- name: a\n  rules:\n  - alert: Hi\n    expr: x > 1\n");
        let new = groups("groups:\n- name: b\n  rules:\n  - alert: Hi\n    expr: x > 2\n");
        let p = pair(&old, &new);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].how, How::MovedName);
    }

    #[test]
    fn rules_sharing_a_name_pair_by_expression_first() {
        let old = groups(
            "groups:\n- name: a\n  rules:\n  - alert: Down\n    expr: up == 0\n  - alert: Down\n    expr: absent(up)\n",
        );
        let new = groups(
            "groups:\n- name: a\n  rules:\n  - alert: Down\n    expr: absent(up)\n  - alert: Down\n    expr: up < 1\n",
        );
        let p = pair(&old, &new);
        assert_eq!(p[0].old, Some(At { group: 0, rule: 1 }));
        assert_eq!(p[1].old, Some(At { group: 0, rule: 0 }));
        assert!(p.iter().all(|p| p.how == How::Name));
    }
}
