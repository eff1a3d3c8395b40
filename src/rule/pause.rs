//! Pausing rules (`POST /api/v1/rules/pause`, `/resume`): which pauses exist, which one
//! covers a rule, and what a rule does at an evaluation while paused.
//!
//! A pause names its rule by file, group and rule name (the names survive an edit of
//! the expression, where the API's rule ids do not), or a whole group without a rule
//! name. A paused rule is not evaluated: at its first paused evaluation its alerts are
//! resolved (sent resolved, `ALERTS` ended by staleness markers) unless the pause
//! `hold`s them, in which case they are kept as they were, unsent, until the rule runs
//! again. A pause with `until` ends by itself at the first evaluation at or after it.
//! Replay and `tocsin test` know nothing of pauses: they evaluate every rule.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Notification, Rule};
use crate::sample::Sample;

/// What a pause covers: one rule name of a group (every rule of that name), or the
/// whole group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PauseTarget {
    /// The group's file as the API shows it.
    pub file: String,
    pub group: String,
    /// `None`: every rule of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl std::fmt::Display for PauseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(r) => write!(f, "rule {r:?} of group {:?} ({})", self.group, self.file),
            None => write!(f, "group {:?} ({})", self.group, self.file),
        }
    }
}

/// One pause: who asked, why, since and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    #[serde(flatten)]
    pub target: PauseTarget,
    /// When it was asked for (milliseconds since the epoch).
    pub since_ms: i64,
    /// When it ends by itself; `None`: at `resume` only.
    #[serde(default)]
    pub until_ms: Option<i64>,
    /// Who paused (the caller's `by`, else the basic-auth user, else the client address).
    pub by: String,
    /// Why.
    pub reason: String,
    /// The caller's free-text note (a ticket, a link).
    #[serde(default)]
    pub note: String,
    /// Keep the alerts as they were instead of resolving them.
    #[serde(default)]
    pub hold: bool,
}

impl Pause {
    /// Whether the pause has ended by itself at `now_ms`.
    pub fn is_over(&self, now_ms: i64) -> bool {
        self.until_ms.is_some_and(|u| u <= now_ms)
    }
}

/// Every pause, by target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pauses {
    by_target: BTreeMap<PauseTarget, Arc<Pause>>,
}

impl Pauses {
    pub fn is_empty(&self) -> bool {
        self.by_target.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_target.len()
    }

    /// Every pause, by file, group and rule.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pause>> {
        self.by_target.values()
    }

    /// Adds `p`, replacing an earlier pause of the same target (a second pause updates
    /// reason, note and `until`).
    pub fn pause(&mut self, p: Pause) -> Arc<Pause> {
        let p = Arc::new(p);
        self.by_target.insert(p.target.clone(), p.clone());
        p
    }

    /// Ends the pause of exactly `target` (a rule paused through its group is resumed
    /// with its group).
    pub fn resume(&mut self, target: &PauseTarget) -> Option<Arc<Pause>> {
        self.by_target.remove(target)
    }

    /// Drops the pauses that ended by themselves at `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.by_target.len();
        self.by_target.retain(|_, p| !p.is_over(now_ms));
        before - self.by_target.len()
    }

    /// The pause of the group itself.
    pub fn of_group(&self, file: &str, group: &str) -> Option<&Arc<Pause>> {
        self.by_target.get(&PauseTarget {
            file: file.into(),
            group: group.into(),
            rule: None,
        })
    }

    /// The pause that covers the rule: its own, else its group's.
    pub fn of_rule(&self, file: &str, group: &str, rule: &str) -> Option<&Arc<Pause>> {
        let own = PauseTarget {
            file: file.into(),
            group: group.into(),
            rule: Some(rule.into()),
        };
        self.by_target
            .get(&own)
            .or_else(|| self.of_group(file, group))
    }

    /// The file and group of every pause added, ended or replaced between `self` and
    /// `next` (pauses are compared by identity: a replaced pause is a new `Arc`).
    pub fn changed_groups(&self, next: &Pauses) -> Vec<(String, String)> {
        let differs = |a: &'_ BTreeMap<PauseTarget, Arc<Pause>>,
                       b: &'_ BTreeMap<PauseTarget, Arc<Pause>>| {
            a.iter()
                .filter(|(t, p)| !b.get(*t).is_some_and(|q| Arc::ptr_eq(p, q)))
                .map(|(t, _)| (t.file.clone(), t.group.clone()))
                .collect::<Vec<_>>()
        };
        let mut out = differs(&self.by_target, &next.by_target);
        out.extend(differs(&next.by_target, &self.by_target));
        out.sort();
        out.dedup();
        out
    }

    /// Whether any pause names this group or one of its rules.
    pub fn touches(&self, file: &str, group: &str) -> bool {
        let from = PauseTarget {
            file: file.into(),
            group: group.into(),
            rule: None,
        };
        self.by_target
            .range(from..)
            .next()
            .is_some_and(|(t, _)| t.file == file && t.group == group)
    }
}

/// What a rule does at an evaluation, given the pause that covers it (if any) and
/// whether it was paused at its previous evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseStep {
    /// Not paused (or the pause is over): evaluate as usual.
    Evaluate,
    /// The first paused evaluation: resolve the alerts unless `hold`, then skip.
    Enter { hold: bool },
    /// Still paused: skip.
    Skip,
}

pub fn step(was_paused: bool, pause: Option<&Pause>, now_ms: i64) -> PauseStep {
    match pause.filter(|p| !p.is_over(now_ms)) {
        None => PauseStep::Evaluate,
        Some(p) if !was_paused => PauseStep::Enter { hold: p.hold },
        Some(_) => PauseStep::Skip,
    }
}

/// The first paused evaluation of `rule` at `ts_ms`: unless `hold`, its firing alerts
/// resolved (to send) and the series it wrote ended (staleness markers, to write).
pub fn enter(rule: &mut Rule, ts_ms: i64, hold: bool) -> (Vec<Notification>, Vec<Sample>) {
    if hold {
        return (Vec::new(), Vec::new());
    }
    let resolved = match rule {
        Rule::Alerting(a) => a.resolve_all(ts_ms),
        Rule::Recording(_) => Vec::new(),
    };
    (resolved, rule.stale_series(ts_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(rule: Option<&str>) -> PauseTarget {
        PauseTarget {
            file: "a.yml".into(),
            group: "g".into(),
            rule: rule.map(str::to_string),
        }
    }

    fn pause(rule: Option<&str>, until_ms: Option<i64>) -> Pause {
        Pause {
            target: target(rule),
            since_ms: 1_000,
            until_ms,
            by: "ops".into(),
            reason: "maintenance".into(),
            note: String::new(),
            hold: false,
        }
    }

    #[test]
    fn a_rule_pause_wins_over_its_groups() {
        let mut p = Pauses::default();
        assert!(p.of_rule("a.yml", "g", "R").is_none());
        p.pause(pause(None, None));
        assert_eq!(p.of_rule("a.yml", "g", "R").unwrap().target, target(None));
        p.pause(Pause {
            reason: "flaky".into(),
            ..pause(Some("R"), Some(5_000))
        });
        assert_eq!(p.of_rule("a.yml", "g", "R").unwrap().reason, "flaky");
        assert_eq!(p.of_rule("a.yml", "g", "S").unwrap().reason, "maintenance");
        assert!(p.of_rule("b.yml", "g", "R").is_none());
        assert!(p.touches("a.yml", "g"));
        assert!(!p.touches("a.yml", "h"));
        assert!(!p.touches("a.ym", "g"));

        // Resuming the group leaves the rule's own pause.
        assert!(p.resume(&target(None)).is_some());
        assert!(p.resume(&target(None)).is_none());
        assert!(p.of_rule("a.yml", "g", "S").is_none());
        assert!(p.touches("a.yml", "g"), "the rule's own pause");
        // `until` ends it: at exactly `until`, not before.
        assert_eq!(p.expire(4_999), 0);
        assert_eq!(p.expire(5_000), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn steps_enter_once_then_skip_until_over() {
        let p = pause(Some("R"), Some(10_000));
        assert_eq!(step(false, None, 0), PauseStep::Evaluate);
        assert_eq!(step(false, Some(&p), 0), PauseStep::Enter { hold: false });
        assert_eq!(step(true, Some(&p), 9_999), PauseStep::Skip);
        assert_eq!(step(true, Some(&p), 10_000), PauseStep::Evaluate);
        let held = Pause {
            hold: true,
            ..pause(None, None)
        };
        assert_eq!(step(false, Some(&held), 0), PauseStep::Enter { hold: true });
        assert_eq!(step(true, None, 0), PauseStep::Evaluate, "resumed");
    }

    #[test]
    fn the_state_file_form_round_trips() {
        let p = Pause {
            note: "INC-42".into(),
            ..pause(Some("R"), Some(5_000))
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            text,
            r#"{"file":"a.yml","group":"g","rule":"R","since_ms":1000,"until_ms":5000,"by":"ops","reason":"maintenance","note":"INC-42","hold":false}"#
        );
        assert_eq!(serde_json::from_str::<Pause>(&text).unwrap(), p);
    }
}
