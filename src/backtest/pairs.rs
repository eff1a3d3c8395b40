//! Which old rule became which new rule: the same group and name first; then, among the
//! rest, the same kind and expression (a rule renamed or moved to another group); then
//! the same kind and name in another group (moved and changed); the report says how
//! each pair was matched. What is left was removed or added.

use std::collections::HashMap;
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

/// Pairs the rules of `old` and `new`, in the new rules' order, then the removed ones.
pub fn pair(old: &[Arc<Group>], new: &[Arc<Group>]) -> Vec<Pair> {
    let spec = |gs: &[Arc<Group>], a: At| -> (String, bool, String, String) {
        let g = &gs[a.group];
        let r = &g.rules[a.rule];
        (
            g.name.clone(),
            alerting(g, a.rule),
            r.name().to_string(),
            r.expr.clone(),
        )
    };
    let mut free_old: Vec<Option<At>> = all(old).into_iter().map(Some).collect();
    let mut by_name: HashMap<(String, bool, String), Vec<usize>> = HashMap::new();
    for (i, a) in free_old.iter().enumerate() {
        if let Some(a) = a {
            let (g, k, n, _) = spec(old, *a);
            by_name.entry((g, k, n)).or_default().push(i);
        }
    }
    let news = all(new);
    let mut matched: Vec<Option<(usize, How)>> = vec![None; news.len()];
    // Same group and name; among rules sharing a name, the same expression first, then
    // in order.
    for same_expr in [true, false] {
        for (ni, a) in news.iter().enumerate() {
            if matched[ni].is_some() {
                continue;
            }
            let (g, k, n, e) = spec(new, *a);
            let Some(cands) = by_name.get(&(g, k, n)) else {
                continue;
            };
            let hit = cands
                .iter()
                .copied()
                .find(|&oi| free_old[oi].is_some_and(|o| !same_expr || spec(old, o).3 == e));
            if let Some(oi) = hit {
                matched[ni] = Some((oi, How::Name));
                free_old[oi] = None;
            }
        }
    }
    // Renamed or moved: the same kind and expression.
    for (ni, a) in news.iter().enumerate() {
        if matched[ni].is_some() {
            continue;
        }
        let (_, k, _, e) = spec(new, *a);
        let hit = (0..free_old.len()).find(|&oi| {
            free_old[oi].is_some_and(|o| {
                let s = spec(old, o);
                s.1 == k && s.3 == e
            })
        });
        if let Some(oi) = hit {
            matched[ni] = Some((oi, How::Expression));
            free_old[oi] = None;
        }
    }
    // Moved to another group and changed: the same kind and name.
    for (ni, a) in news.iter().enumerate() {
        if matched[ni].is_some() {
            continue;
        }
        let (_, k, n, _) = spec(new, *a);
        let hit = (0..free_old.len()).find(|&oi| {
            free_old[oi].is_some_and(|o| {
                let s = spec(old, o);
                s.1 == k && s.2 == n
            })
        });
        if let Some(oi) = hit {
            matched[ni] = Some((oi, How::MovedName));
            free_old[oi] = None;
        }
    }
    let olds = all(old);
    let mut out: Vec<Pair> = news
        .iter()
        .zip(&matched)
        .map(|(a, m)| match m {
            Some((oi, how)) => Pair {
                old: Some(olds[*oi]),
                new: Some(*a),
                how: *how,
            },
            None => Pair {
                old: None,
                new: Some(*a),
                how: How::OnlyNew,
            },
        })
        .collect();
    out.extend(free_old.into_iter().flatten().map(|o| Pair {
        old: Some(o),
        new: None,
        how: How::OnlyOld,
    }));
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
