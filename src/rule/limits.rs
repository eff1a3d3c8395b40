//! Limits on what one evaluation of a rule may produce: labels per series, label name
//! and value length, the size of an alert's annotations, and the `query` calls its
//! templates make. A rule that breaches one fails that evaluation as any error does
//! (health `err`, the message as `lastError`, nothing written, nothing sent), so one
//! hostile answer or template cannot fill memory, the API or the remote storage.
//!
//! Messages name the limit's flag, and never quote the oversized text itself.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::bytesize::format_size;
use crate::labels::Labels;
use crate::sample::Sample;
use crate::template::TemplateQuerier;

use super::Annotations;

/// The limits (0 = none), from `-rule.max*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `-rule.maxLabelsPerSeries`.
    pub labels_per_series: usize,
    /// `-rule.maxLabelNameLength`, in bytes.
    pub label_name_length: usize,
    /// `-rule.maxLabelValueLength`, in bytes.
    pub label_value_length: usize,
    /// `-rule.maxAnnotationsSize`: names and values of one alert's annotations, bytes.
    pub annotations_size: usize,
    /// `-rule.maxTemplateQueries`: per evaluation of a rule, over all its alerts.
    pub template_queries: usize,
}

impl Default for Limits {
    /// The flags' defaults.
    fn default() -> Self {
        Limits {
            labels_per_series: 64,
            label_name_length: 1024,
            label_value_length: 16 << 10,
            annotations_size: 64 << 10,
            template_queries: 1000,
        }
    }
}

/// At most 64 characters of `s`, for naming a label without quoting a monster.
fn clip(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Limits {
    /// No limits at all.
    pub fn none() -> Limits {
        Limits {
            labels_per_series: 0,
            label_name_length: 0,
            label_value_length: 0,
            annotations_size: 0,
            template_queries: 0,
        }
    }

    /// Checks one output label set (a written series or an alert's labels).
    pub fn check_labels(&self, labels: &Labels) -> Result<(), String> {
        let n = labels.len();
        if self.labels_per_series > 0 && n > self.labels_per_series {
            return Err(format!(
                "a series has {n} labels, more than -rule.maxLabelsPerSeries={}",
                self.labels_per_series
            ));
        }
        for l in labels.iter() {
            if self.label_name_length > 0 && l.name.len() > self.label_name_length {
                return Err(format!(
                    "label name {:?} is {} long, more than -rule.maxLabelNameLength={}",
                    clip(&l.name),
                    format_size(l.name.len() as u64),
                    self.label_name_length
                ));
            }
            if self.label_value_length > 0 && l.value.len() > self.label_value_length {
                return Err(format!(
                    "the value of label {:?} is {} long, more than -rule.maxLabelValueLength={}",
                    clip(&l.name),
                    format_size(l.value.len() as u64),
                    format_size(self.label_value_length as u64)
                ));
            }
        }
        Ok(())
    }

    /// Checks one alert's rendered annotations.
    pub fn check_annotations(&self, a: &Annotations) -> Result<(), String> {
        if self.annotations_size == 0 {
            return Ok(());
        }
        let size: usize = a.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > self.annotations_size {
            return Err(format!(
                "an alert's annotations are {} long, more than -rule.maxAnnotationsSize={}",
                format_size(size as u64),
                format_size(self.annotations_size as u64)
            ));
        }
        Ok(())
    }
}

/// The template querier of one evaluation, counting `query` calls against
/// `-rule.maxTemplateQueries`: past the budget every call fails at once (nothing more
/// reaches the datasource) and [`QueryBudget::exceeded`] says why the evaluation fails.
pub struct QueryBudget<'a> {
    inner: &'a dyn TemplateQuerier,
    limit: usize,
    used: AtomicUsize,
}

impl<'a> QueryBudget<'a> {
    pub fn new(inner: &'a dyn TemplateQuerier, limit: usize) -> Self {
        QueryBudget {
            inner,
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// The error of an evaluation that ran out of queries.
    pub fn exceeded(&self) -> Option<String> {
        let used = self.used.load(Ordering::Relaxed);
        (self.limit > 0 && used > self.limit).then(|| {
            format!(
                "the rule's templates called query more than -rule.maxTemplateQueries={} times in one evaluation",
                self.limit
            )
        })
    }
}

impl TemplateQuerier for QueryBudget<'_> {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let used = self.used.fetch_add(1, Ordering::Relaxed) + 1;
        if self.limit > 0 && used > self.limit {
            return Err(format!(
                "query budget of the evaluation spent (-rule.maxTemplateQueries={})",
                self.limit
            ));
        }
        self.inner.query(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_limits_name_the_flag_not_the_text() {
        let l = Limits {
            labels_per_series: 2,
            label_name_length: 8,
            label_value_length: 16,
            ..Limits::default()
        };
        assert!(
            l.check_labels(&Labels::from_pairs([("a", "1"), ("b", "2")]))
                .is_ok()
        );
        let e = l
            .check_labels(&Labels::from_pairs([("a", "1"), ("b", "2"), ("c", "3")]))
            .unwrap_err();
        assert_eq!(
            e,
            "a series has 3 labels, more than -rule.maxLabelsPerSeries=2"
        );
        let e = l
            .check_labels(&Labels::from_pairs([("a_very_long_name", "1")]))
            .unwrap_err();
        assert!(e.contains("-rule.maxLabelNameLength=8"), "{e}");
        let big = "x".repeat(10 << 20);
        let e = l
            .check_labels(&Labels::from_pairs([("v", big.as_str())]))
            .unwrap_err();
        assert_eq!(
            e,
            "the value of label \"v\" is 10 MiB long, more than -rule.maxLabelValueLength=16 B"
        );
        assert!(
            Limits::none()
                .check_labels(&Labels::from_pairs([("v", big.as_str())]))
                .is_ok()
        );
    }

    #[test]
    fn annotation_size_counts_names_and_values() {
        let l = Limits {
            annotations_size: 10,
            ..Limits::default()
        };
        let ok = Annotations::from_pairs([("a", "123456789")]);
        assert!(l.check_annotations(&ok).is_ok());
        let big = Annotations::from_pairs([("ab", "123456789")]);
        let e = l.check_annotations(&big).unwrap_err();
        assert_eq!(
            e,
            "an alert's annotations are 11 B long, more than -rule.maxAnnotationsSize=10 B"
        );
    }

    struct Counting(AtomicUsize);
    impl TemplateQuerier for Counting {
        fn query(&self, _: &str) -> Result<Vec<Sample>, String> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(Vec::new())
        }
    }

    #[test]
    fn the_budget_stops_queries_reaching_the_datasource() {
        let ds = Counting(AtomicUsize::new(0));
        let b = QueryBudget::new(&ds, 3);
        for _ in 0..3 {
            assert!(b.query("up").is_ok());
        }
        assert!(b.exceeded().is_none());
        for _ in 0..100 {
            assert!(b.query("up").is_err());
        }
        assert_eq!(
            ds.0.load(Ordering::Relaxed),
            3,
            "nothing past the budget was sent"
        );
        assert!(b.exceeded().unwrap().contains("-rule.maxTemplateQueries=3"));
    }
}
