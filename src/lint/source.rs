//! What the linter reads from a rule file's text besides the loaded model: where a key
//! of a rule is (for `file:line:col`), and the comments that silence checks.
//!
//! Silencing follows pint: a comment `# tocsin disable CHECK[, CHECK…]` inside a rule
//! or in the comment block right above it silences those checks for that rule;
//! `# tocsin file/disable CHECK[, …]` anywhere silences them for the whole file. A
//! check id may name a family (`promql` silences every `promql/…` check) or be `all`.

use std::collections::BTreeSet;

use crate::config::Group;

/// A rule file's text, split into lines, with its file-wide silences.
pub struct Source {
    lines: Vec<String>,
    file_disabled: BTreeSet<String>,
}

/// The lines (1-based, end exclusive) that belong to one rule, comments above included.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

const DISABLE: &str = "# tocsin disable ";
const FILE_DISABLE: &str = "# tocsin file/disable ";

impl Source {
    pub fn new(text: &str) -> Source {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut file_disabled = BTreeSet::new();
        for l in &lines {
            file_disabled.extend(directive(l, FILE_DISABLE));
        }
        Source {
            lines,
            file_disabled,
        }
    }

    /// The span of each rule of `groups` (same order as the rules).
    pub fn spans(&self, groups: &[std::sync::Arc<Group>]) -> Vec<Vec<Span>> {
        // Every line that starts something (a group or a rule), sorted: a rule ends
        // where the comment block above the next thing begins.
        let mut starts: Vec<usize> = groups
            .iter()
            .flat_map(|g| std::iter::once(g.line).chain(g.rules.iter().map(|r| r.line)))
            .collect();
        starts.sort_unstable();
        groups
            .iter()
            .map(|g| {
                g.rules
                    .iter()
                    .map(|r| {
                        let next = starts
                            .iter()
                            .copied()
                            .find(|&s| s > r.line)
                            .unwrap_or(self.lines.len() + 1);
                        Span {
                            start: self.comment_block_above(r.line),
                            end: self.comment_block_above(next).max(r.line + 1),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The first line of the comment lines directly above `line` (or `line` itself).
    fn comment_block_above(&self, line: usize) -> usize {
        let mut first = line;
        while first > 1
            && self
                .lines
                .get(first - 2)
                .is_some_and(|l| l.trim_start().starts_with('#'))
        {
            first -= 1;
        }
        first
    }

    /// Every check id named by a directive comment, with its 1-based line and column,
    /// so that a misspelt one can be reported instead of silencing nothing.
    pub fn directive_ids(&self) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            for prefix in [DISABLE, FILE_DISABLE] {
                if let Some(col) = l.find(prefix) {
                    out.extend(
                        directive(l, prefix)
                            .into_iter()
                            .map(|id| (i + 1, col + 1, id)),
                    );
                }
            }
        }
        out
    }

    /// Whether `check` is silenced for the rule spanning `span`.
    pub fn silenced(&self, check: &str, span: Span) -> bool {
        if matches_any(&self.file_disabled, check) {
            return true;
        }
        let lines = self.range(span);
        let local: BTreeSet<String> = lines.flat_map(|(_, l)| directive(l, DISABLE)).collect();
        matches_any(&local, check)
    }

    fn range(&self, span: Span) -> impl Iterator<Item = (usize, &str)> {
        (span.start..span.end).filter_map(|n| self.lines.get(n - 1).map(|l| (n, l.as_str())))
    }

    /// Where the rule's `key:` is (1-based line, column of the key), e.g. `expr`; with
    /// `sub`, the entry `sub:` of that mapping (an annotation, a label). Falls back to
    /// the key, then to the rule's own line.
    pub fn locate(
        &self,
        span: Span,
        rule_line: usize,
        key: &str,
        sub: Option<&str>,
    ) -> (usize, usize) {
        let rule_start = Span {
            start: rule_line,
            end: span.end,
        };
        let Some(at) = self.find_key(rule_start, key) else {
            return (rule_line, self.first_col(rule_line));
        };
        if let Some(sub) = sub {
            let rest = Span {
                start: at.0,
                end: span.end,
            };
            // Block style (`summary:` on its own line) or flow style (`{ summary: … }`).
            if let Some(p) = self.find_key(
                Span {
                    start: at.0 + 1,
                    ..rest
                },
                sub,
            ) {
                return p;
            }
            if let Some(c) = self.lines[at.0 - 1].find(&format!("{sub}:")) {
                return (at.0, c + 1);
            }
        }
        at
    }

    fn find_key(&self, span: Span, key: &str) -> Option<(usize, usize)> {
        let want = format!("{key}:");
        self.range(span).find_map(|(n, l)| {
            let body = l.trim_start();
            let body_col = l.len() - body.len();
            let (body, col) = match body.strip_prefix("- ") {
                Some(b) => (b.trim_start(), l.len() - b.trim_start().len()),
                None => (body, body_col),
            };
            let quoted = [format!("\"{key}\":"), format!("'{key}':")];
            (body.starts_with(&want) || quoted.iter().any(|q| body.starts_with(q.as_str())))
                .then_some((n, col + 1))
        })
    }

    fn first_col(&self, line: usize) -> usize {
        self.lines.get(line.wrapping_sub(1)).map_or(1, |l| {
            let b = l.trim_start();
            let b = b.strip_prefix("- ").map_or(b, str::trim_start);
            l.len() - b.len() + 1
        })
    }
}

/// The check ids a directive comment on `line` names.
fn directive(line: &str, prefix: &str) -> Vec<String> {
    let Some(i) = line.find(prefix) else {
        return Vec::new();
    };
    line[i + prefix.len()..]
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn matches_any(ids: &BTreeSet<String>, check: &str) -> bool {
    ids.iter().any(|d| {
        d == "all"
            || d == check
            || check
                .strip_prefix(d.as_str())
                .is_some_and(|r| r.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "groups:\n- name: g\n  rules:\n  # about a\n  # tocsin disable promql/rate-range\n  - alert: A\n    expr: up\n    annotations:\n      summary: x\n  - alert: B # tocsin disable alerts\n    expr: up\n    labels: { severity: page }\n";

    fn group() -> Vec<std::sync::Arc<Group>> {
        crate::config::load_str(std::path::Path::new("t.yml"), TEXT, &Default::default())
            .expect("valid")
    }

    #[test]
    fn comments_above_and_inside_silence_the_rule_only() {
        let s = Source::new(TEXT);
        let spans = s.spans(&group());
        let (a, b) = (spans[0][0], spans[0][1]);
        assert!(s.silenced("promql/rate-range", a));
        assert!(!s.silenced("promql/rate-range", b));
        assert!(s.silenced("alerts/for", b));
        assert!(!s.silenced("alerts/for", a));
        assert!(!s.silenced("alertsx/for", b));
    }

    #[test]
    fn locates_keys_and_entries() {
        let s = Source::new(TEXT);
        let g = group();
        let spans = s.spans(&g);
        let (a, b) = (spans[0][0], spans[0][1]);
        assert_eq!(s.locate(a, g[0].rules[0].line, "expr", None), (7, 5));
        assert_eq!(
            s.locate(a, g[0].rules[0].line, "annotations", Some("summary")),
            (9, 7)
        );
        assert_eq!(
            s.locate(b, g[0].rules[1].line, "labels", Some("severity")),
            (12, 15)
        );
        assert_eq!(s.locate(b, g[0].rules[1].line, "for", None), (10, 5));
    }
}
