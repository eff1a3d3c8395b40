//! Limits that keep one hostile rule, answer or client from taking the process down:
//! the size of a datasource answer, the labels of a series, the annotations of an
//! alert, the template queries of one evaluation, the datasource queries in flight and
//! the expensive API requests rendered at once. tocsin's own flags (vmalert has none of these); every default is far above
//! what a sane rule needs, and every limit breached fails what breached it with an
//! error naming the limit and its flag.

use clap::Args;

use crate::bytesize::parse_size;

/// The limits' flags.
#[derive(Debug, Args, Clone)]
pub struct LimitFlags {
    /// Largest datasource answer read (`64MiB`, `512KB`, bytes); a larger one fails the
    /// rule with "answer larger than …" before it is held in memory. 0 = no limit.
    #[arg(long = "datasource.maxResponseSize", default_value = "64MiB", value_parser = parse_size)]
    pub datasource_max_response_size: u64,
    /// Datasource queries in flight at once (rules, template queries and restores
    /// wait for a free slot), so that connections and file descriptors stay bounded
    /// whatever the number of groups. 0 = no limit.
    #[arg(long = "datasource.maxConcurrentQueries", default_value = "100")]
    pub datasource_max_concurrent_queries: usize,
    /// Most labels a series or alert may carry; a rule producing more fails. 0 = no
    /// limit.
    #[arg(long = "rule.maxLabelsPerSeries", default_value = "64")]
    pub rule_max_labels_per_series: usize,
    /// Longest label name (bytes) a rule may produce. 0 = no limit.
    #[arg(long = "rule.maxLabelNameLength", default_value = "1024")]
    pub rule_max_label_name_length: usize,
    /// Longest label value (bytes) a rule may produce. 0 = no limit.
    #[arg(long = "rule.maxLabelValueLength", default_value = "16KiB", value_parser = parse_size)]
    pub rule_max_label_value_length: u64,
    /// Largest total size of one alert's rendered annotations (names and values). 0 =
    /// no limit.
    #[arg(long = "rule.maxAnnotationsSize", default_value = "64KiB", value_parser = parse_size)]
    pub rule_max_annotations_size: u64,
    /// Most `query` calls the templates of one rule may make in one evaluation, over
    /// all its alerts; beyond it the evaluation fails. 0 = no limit.
    #[arg(long = "rule.maxTemplateQueries", default_value = "1000")]
    pub rule_max_template_queries: usize,
    /// Expensive API requests (`/api/v1/rules`, `/api/v1/alerts`, `/metrics`) rendered
    /// at once, each on a blocking thread so that evaluation and health checks never
    /// wait for them; more are answered 503 with `Retry-After: 1`. 0 = no limit.
    #[arg(long = "http.maxConcurrentRequests", default_value = "4")]
    pub http_max_concurrent_requests: usize,
}

impl LimitFlags {
    /// The limits the rule core applies.
    pub fn rule_limits(&self) -> crate::rule::Limits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        crate::rule::Limits {
            labels_per_series: self.rule_max_labels_per_series,
            label_name_length: self.rule_max_label_name_length,
            label_value_length: size(self.rule_max_label_value_length),
            annotations_size: size(self.rule_max_annotations_size),
            template_queries: self.rule_max_template_queries,
        }
    }
}

impl Default for LimitFlags {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            l: LimitFlags,
        }
        Only::parse_from(["tocsin"]).l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_defaults() {
        let d = LimitFlags::default();
        assert_eq!(d.rule_limits(), crate::rule::Limits::default());
        assert_eq!(d.datasource_max_response_size, 64 << 20);
    }
}
