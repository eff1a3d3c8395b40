//! Prometheus' relabelling (`relabel_config`): the actions `replace`, `keep`, `drop`,
//! `keepequal`, `dropequal`, `hashmod`, `labelmap`, `labeldrop`, `labelkeep`,
//! `lowercase` and `uppercase`, with Prometheus' defaults (`separator: ;`,
//! `regex: (.*)` anchored at both ends with `.` matching newlines, `replacement: $1`,
//! `action: replace`) and Prometheus 3's checks (UTF-8 label names).
//!
//! Written once here for everything that relabels: the notifier's target relabelling
//! (`relabel_configs`) and alert relabelling (`alert_relabel_configs`), and whatever
//! relabels next. A config is checked when it is compiled ([`RawRelabel::compile`]), so
//! applying one never fails: [`apply`] returns the new label set, or `None` when a step
//! drops it.

use md5::{Digest, Md5};
use regex::Regex;
use serde::Deserialize;

use crate::labels::{Labels, LabelsBuilder};

/// One `relabel_configs` entry as written in YAML.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRelabel {
    pub source_labels: Option<Vec<String>>,
    pub separator: Option<String>,
    pub target_label: Option<String>,
    pub regex: Option<String>,
    pub modulus: Option<u64>,
    pub replacement: Option<String>,
    pub action: Option<String>,
}

/// What a relabel step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

const ACTIONS: &[(&str, Action)] = &[
    ("replace", Action::Replace),
    ("keep", Action::Keep),
    ("drop", Action::Drop),
    ("keepequal", Action::KeepEqual),
    ("dropequal", Action::DropEqual),
    ("hashmod", Action::HashMod),
    ("labelmap", Action::LabelMap),
    ("labeldrop", Action::LabelDrop),
    ("labelkeep", Action::LabelKeep),
    ("lowercase", Action::Lowercase),
    ("uppercase", Action::Uppercase),
];

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

impl Action {
    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("replace")
    }
}

/// A checked relabel step.
#[derive(Debug, Clone)]
pub struct Relabel {
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    /// Anchored, `.` matching newlines: `^(?s:regex)$`.
    regex: Regex,
    /// Whether the regex is the default `(.*)` (the fast path of `replace`).
    default_regex: bool,
    modulus: u64,
    replacement: String,
    action: Action,
}

/// Why a relabel config is invalid (the caller adds the file and the entry's position).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    #[error("unknown action {0:?}; use one of {list}", list = action_names())]
    Action(String),
    #[error("invalid regex {regex:?}: {message}")]
    Regex { regex: String, message: String },
    #[error("action {action} needs target_label")]
    MissingTarget { action: &'static str },
    #[error("action hashmod needs a modulus greater than 0")]
    Modulus,
    #[error("action {action} takes only {allowed}; remove {field}")]
    Extra {
        action: &'static str,
        allowed: &'static str,
        field: &'static str,
    },
}

fn action_names() -> String {
    let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// The message of a regex error without the multi-line pointer the regex crate draws.
fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| s.replace('\n', " ")),
        other => other.to_string(),
    }
}

impl RawRelabel {
    /// Checks the entry as Prometheus does and compiles its regex.
    pub fn compile(&self) -> Result<Relabel, RelabelError> {
        let action_text = self.action.as_deref().unwrap_or("replace").to_lowercase();
        let action = ACTIONS
            .iter()
            .find(|(n, _)| *n == action_text)
            .map(|(_, a)| *a)
            .ok_or_else(|| RelabelError::Action(action_text.clone()))?;
        let pattern = self.regex.as_deref().unwrap_or(DEFAULT_REGEX);
        let regex = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| RelabelError::Regex {
            regex: pattern.to_string(),
            message: regex_message(&e),
        })?;
        let target = self.target_label.clone().unwrap_or_default();
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        // Label names are UTF-8 since Prometheus 3: any non-empty name is valid.
        if needs_target && target.is_empty() {
            return Err(RelabelError::MissingTarget {
                action: action.name(),
            });
        }
        if action == Action::HashMod && self.modulus.unwrap_or(0) == 0 {
            return Err(RelabelError::Modulus);
        }
        self.check_extra(action)?;
        Ok(Relabel {
            source_labels: self.source_labels.clone().unwrap_or_default(),
            separator: self
                .separator
                .clone()
                .unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            target_label: target,
            default_regex: pattern == DEFAULT_REGEX,
            regex,
            modulus: self.modulus.unwrap_or(0),
            replacement: self
                .replacement
                .clone()
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.into()),
            action,
        })
    }

    /// Prometheus refuses fields an action ignores (set to anything but their default),
    /// so that a mistyped config is not silently half-applied.
    fn check_extra(&self, action: Action) -> Result<(), RelabelError> {
        let not_default =
            |v: &Option<String>, default: &str| v.as_deref().is_some_and(|v| v != default);
        let regex = not_default(&self.regex, DEFAULT_REGEX);
        let separator = not_default(&self.separator, DEFAULT_SEPARATOR);
        let replacement = not_default(&self.replacement, DEFAULT_REPLACEMENT);
        let modulus = self.modulus.is_some_and(|m| m != 0);
        let extra =
            |allowed, fields: &[(bool, &'static str)]| match fields.iter().find(|(set, _)| *set) {
                Some((_, field)) => Err(RelabelError::Extra {
                    action: action.name(),
                    allowed,
                    field,
                }),
                None => Ok(()),
            };
        match action {
            Action::LabelDrop | Action::LabelKeep => extra(
                "regex",
                &[
                    (self.source_labels.is_some(), "source_labels"),
                    (
                        self.target_label.as_deref().is_some_and(|t| !t.is_empty()),
                        "target_label",
                    ),
                    (modulus, "modulus"),
                    (separator, "separator"),
                    (replacement, "replacement"),
                ],
            ),
            Action::KeepEqual | Action::DropEqual => extra(
                "source_labels and target_label",
                &[
                    (regex, "regex"),
                    (modulus, "modulus"),
                    (separator, "separator"),
                    (replacement, "replacement"),
                ],
            ),
            Action::Lowercase | Action::Uppercase => extra(
                "source_labels, separator, regex and target_label",
                &[(replacement, "replacement")],
            ),
            _ => Ok(()),
        }
    }
}

/// Compiles a list of entries; the error says which entry (0-based) is wrong.
pub fn compile_all(raw: &[RawRelabel]) -> Result<Vec<Relabel>, (usize, RelabelError)> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| r.compile().map_err(|e| (i, e)))
        .collect()
}

/// Applies the steps in order; `None` when the label set is dropped (by `keep`, `drop`,
/// `keepequal` or `dropequal`, or because no label is left).
pub fn apply(steps: &[Relabel], labels: &Labels) -> Option<Labels> {
    if steps.is_empty() {
        return Some(labels.clone());
    }
    let mut b = labels.to_builder();
    for s in steps {
        if !s.apply(&mut b) {
            return None;
        }
    }
    let out = b.build();
    (!out.is_empty()).then_some(out)
}

impl Relabel {
    pub fn action(&self) -> Action {
        self.action
    }

    /// One step; `false` drops the label set.
    fn apply(&self, b: &mut LabelsBuilder) -> bool {
        let value = self
            .source_labels
            .iter()
            .map(|n| b.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&self.separator);
        let target = self.target_label.as_str();
        match self.action {
            Action::Keep => return self.regex.is_match(&value),
            Action::Drop => return !self.regex.is_match(&value),
            Action::KeepEqual => return b.get(target).unwrap_or("") == value,
            Action::DropEqual => return b.get(target).unwrap_or("") != value,
            Action::Replace => self.replace(b, &value),
            Action::Lowercase => {
                b.set(target, value.to_lowercase());
            }
            Action::Uppercase => {
                b.set(target, value.to_uppercase());
            }
            Action::HashMod => {
                // The last 8 bytes of the MD5 sum, big-endian, as Prometheus (sharding
                // must agree with every Prometheus that shards the same way).
                let digest = Md5::digest(value.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..16]);
                b.set(
                    target,
                    (u64::from_be_bytes(tail) % self.modulus).to_string(),
                );
            }
            Action::LabelMap => {
                for (name, v) in b.pairs() {
                    if self.regex.is_match(&name) {
                        let new = self.regex.replace(&name, self.replacement.as_str());
                        b.set(new.into_owned(), v);
                    }
                }
            }
            Action::LabelDrop | Action::LabelKeep => {
                let keep = self.action == Action::LabelKeep;
                for (name, _) in b.pairs() {
                    if self.regex.is_match(&name) != keep {
                        b.del(&name);
                    }
                }
            }
        }
        true
    }

    /// `replace`: when the regex matches the joined source values, the expanded
    /// replacement goes into the expanded target label (an empty result deletes it).
    fn replace(&self, b: &mut LabelsBuilder, value: &str) {
        // Prometheus' fast path: nothing to match against and nothing to expand, so the
        // replacement is set as it is.
        if value.is_empty()
            && self.default_regex
            && !self.target_label.contains('$')
            && !self.replacement.contains('$')
        {
            b.set(self.target_label.as_str(), self.replacement.as_str());
            return;
        }
        let Some(caps) = self.regex.captures(value) else {
            return;
        };
        let mut target = String::new();
        caps.expand(&self.target_label, &mut target);
        if target.is_empty() {
            return;
        }
        let mut res = String::new();
        caps.expand(&self.replacement, &mut res);
        if res.is_empty() {
            b.del(&target);
        } else {
            b.set(target, res);
        }
    }
}

#[cfg(test)]
mod tests;
