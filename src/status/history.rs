//! A rule's evaluation history: vmalert's `updates` in `/api/v1/rule`, what each of the
//! rule's last `update_entries_limit` evaluations did.
//!
//! Every rule keeps up to `update_entries_limit` (20 by default) entries for as long as
//! it runs, and most are never looked at, so an entry holds the least that gives its
//! fields back exactly: integers for the times and counts, the error in one pointer, and
//! the request (the rule's expression, the group's `params` and query time) shared by
//! the rule's entries, from which the curl command and its query time are made when the
//! API shows them. See "Memory per rule, step 12" in docs/benchmarks.md.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::labels::Str;
use crate::schedule::QueryTime;

/// One past evaluation: 48 bytes (128 with `SystemTime`s, a `Duration` and the request
/// in each; 80 with nanosecond integers and the request shared).
#[derive(Debug, Clone)]
pub struct StateUpdate {
    /// Wall-clock time the evaluation started, in nanoseconds since the epoch: the API
    /// shows it to the nanosecond, as vmalert's Go `time.Time` does.
    time_ns: i64,
    /// The evaluation timestamp, in milliseconds since the epoch: the scheduler's ticks
    /// are whole milliseconds, so nothing shown is lost.
    at_ms: i64,
    /// How long the evaluation took, in nanoseconds (vmalert's Go `time.Duration`).
    duration_ns: u64,
    /// Samples the query returned. 32 bits: an answer of four billion samples would
    /// take a hundred gigabytes decoded, long before a rule gets it.
    samples: u32,
    /// Series the datasource reported having fetched, [`NOT_REPORTED`] when it did not.
    series_fetched: u32,
    error: Option<Str>,
    /// What the evaluation asked the datasource, besides the time.
    request: Option<Arc<RuleQuery>>,
}

/// `series_fetched` of a datasource that reports none (Prometheus).
const NOT_REPORTED: u32 = u32::MAX;

impl StateUpdate {
    /// An evaluation that started at `time` for the evaluation timestamp `at` (kept to
    /// the millisecond) and took `duration`; no samples, no error, no request.
    pub fn new(time: SystemTime, at: SystemTime, duration: Duration) -> StateUpdate {
        StateUpdate {
            time_ns: epoch_ns(time),
            at_ms: crate::rule::epoch_ms(at),
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            samples: 0,
            series_fetched: NOT_REPORTED,
            error: None,
            request: None,
        }
    }

    /// This entry with the samples the query returned and the series the datasource
    /// reported fetching (both saturating at what 32 bits hold).
    pub fn with_counts(mut self, samples: usize, series_fetched: Option<usize>) -> Self {
        let count = |n: usize, max: u32| u32::try_from(n).unwrap_or(max).min(max);
        self.samples = count(samples, u32::MAX);
        self.series_fetched = series_fetched.map_or(NOT_REPORTED, |n| count(n, NOT_REPORTED - 1));
        self
    }

    /// This entry with the evaluation's error.
    pub fn with_error(mut self, error: Option<Str>) -> Self {
        self.error = error;
        self
    }

    /// This entry with the request the evaluation sent.
    pub fn with_request(mut self, request: Arc<RuleQuery>) -> Self {
        self.request = Some(request);
        self
    }

    /// Wall-clock time the evaluation started.
    pub fn time(&self) -> SystemTime {
        from_epoch_ns(self.time_ns)
    }

    /// The evaluation timestamp.
    pub fn at(&self) -> SystemTime {
        crate::rule::system_time(self.at_ms)
    }

    /// How long the evaluation took, in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.duration_ns
    }

    /// How long the evaluation took.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }

    /// Samples the query returned.
    pub fn samples(&self) -> usize {
        self.samples as usize
    }

    /// Series the datasource reported having fetched, if it reports that.
    pub fn series_fetched(&self) -> Option<usize> {
        (self.series_fetched != NOT_REPORTED).then_some(self.series_fetched as usize)
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The request the evaluation sent, shared with the rule's other entries.
    pub fn request(&self) -> Option<&Arc<RuleQuery>> {
        self.request.as_ref()
    }

    /// What reproduces the evaluation's datasource request, if it sent one.
    pub fn curl(&self) -> Option<Reproduce<'_>> {
        self.request.as_deref().map(|request| Reproduce {
            request,
            time_ms: request.group.query_time.of(self.at_ms),
        })
    }
}

/// `t` in nanoseconds since the epoch (negative before it), saturating outside the
/// years 1678–2261.
fn epoch_ns(t: SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// The inverse of [`epoch_ns`].
fn from_epoch_ns(ns: i64) -> SystemTime {
    let d = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}

/// What a rule's evaluations ask the datasource: the same at every evaluation until a
/// reload changes it, so shared by the rule's entries.
#[derive(Debug)]
pub struct RuleQuery {
    pub expr: Arc<str>,
    pub group: Arc<GroupQuery>,
}

/// What every rule of a group asks alike, shared by the group's rules.
#[derive(Debug)]
pub struct GroupQuery {
    /// The group's `params`.
    pub params: Vec<(String, String)>,
    /// The query time an evaluation timestamp maps to (`query_offset`, `eval_delay`,
    /// `eval_alignment`).
    pub query_time: QueryTime,
}

/// A curl command reproducing an evaluation's query, formatted only when the API shows
/// it.
#[derive(Debug, Clone, Copy)]
pub struct Reproduce<'a> {
    pub request: &'a RuleQuery,
    /// The query time, in milliseconds since the epoch.
    pub time_ms: i64,
}

impl fmt::Display for Reproduce<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| s.replace('\'', r"'\''");
        let (expr, params) = (&self.request.expr, &self.request.group.params);
        write!(
            f,
            "curl -s --data-urlencode 'query={}' --data-urlencode 'time={}'",
            quote(expr),
            crate::datasource::format_ts(self.time_ms)
        )?;
        for (k, v) in params.iter() {
            write!(f, " --data-urlencode '{}={}'", quote(k), quote(v))?;
        }
        f.write_str(" <datasource>/api/v1/query")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query_offset_s: u64, align: bool) -> Arc<RuleQuery> {
        let schedule = crate::schedule::Schedule::new(
            Duration::from_secs(60),
            None,
            Some(Duration::from_secs(query_offset_s)),
            None,
            Some(align),
            0,
            Duration::from_secs(300),
        );
        Arc::new(RuleQuery {
            expr: "up{job='a b'}".into(),
            group: Arc::new(GroupQuery {
                params: vec![("nocache".to_string(), "1".to_string())],
                query_time: schedule.query_time(),
            }),
        })
    }

    #[test]
    fn an_entry_is_48_bytes() {
        assert_eq!(size_of::<StateUpdate>(), 48);
    }

    /// The API shows `time` to the nanosecond and `duration` in nanoseconds, as
    /// vmalert does; both come back exactly, before the epoch too.
    #[test]
    fn times_come_back_exactly() {
        let epoch = SystemTime::UNIX_EPOCH;
        let time = epoch + Duration::new(1_764_870_000, 123_456_789);
        let at = epoch + Duration::from_millis(1_764_870_000_000);
        let took = Duration::new(42, 987_654_321);
        let u = StateUpdate::new(time, at, took);
        assert_eq!((u.time(), u.at(), u.duration()), (time, at, took));
        assert_eq!(u.duration_ns(), 42_987_654_321);
        let before = epoch - Duration::new(5, 1);
        let u = StateUpdate::new(before, epoch - Duration::from_millis(5_001), took);
        assert_eq!(u.time(), before);
        assert_eq!(u.at(), epoch - Duration::from_millis(5_001));
    }

    #[test]
    fn counts_come_back_and_saturate_at_32_bits() {
        let u = |samples, fetched| {
            StateUpdate::new(
                SystemTime::UNIX_EPOCH,
                SystemTime::UNIX_EPOCH,
                Duration::ZERO,
            )
            .with_counts(samples, fetched)
        };
        let e = u(0, None);
        assert_eq!((e.samples(), e.series_fetched()), (0, None));
        let e = u(3, Some(0));
        assert_eq!((e.samples(), e.series_fetched()), (3, Some(0)));
        let e = u(usize::MAX, Some(usize::MAX));
        assert_eq!(
            (e.samples(), e.series_fetched()),
            (u32::MAX as usize, Some(u32::MAX as usize - 1))
        );
    }

    /// The curl command's time is the query time the schedule gives the entry's
    /// evaluation timestamp: shifted by `query_offset`, aligned when asked.
    #[test]
    fn curl_time_is_the_schedules_query_time() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_030_250);
        let u = StateUpdate::new(at, at, Duration::ZERO);
        assert!(u.curl().is_none());
        let shifted = u.clone().with_request(request(30, false));
        assert_eq!(shifted.curl().unwrap().time_ms, 1_700_000_000_250);
        let aligned = u.with_request(request(30, true));
        assert_eq!(aligned.curl().unwrap().time_ms, 1_699_999_980_000);
    }

    #[test]
    fn reproduce_quotes_for_the_shell() {
        let q = request(0, false);
        let r = Reproduce {
            request: &q,
            time_ms: 1_700_000_000_250,
        };
        assert_eq!(
            r.to_string(),
            r"curl -s --data-urlencode 'query=up{job='\''a b'\''}' --data-urlencode 'time=1700000000.250' --data-urlencode 'nocache=1' <datasource>/api/v1/query"
        );
    }
}
