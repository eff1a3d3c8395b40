//! One alert instance of an alerting rule, and what is sent for it.

use std::sync::Arc;

use super::RuleContext;
use crate::labels::{Labels, Str};

/// Rendered annotations, shared between the alert, notifications and API snapshots, so
/// that resending or publishing an alert copies one pointer. Unlike labels, an
/// annotation whose template renders empty is kept (`"summary": ""`), as Prometheus
/// keeps it.
///
/// The names are the rule's, one list shared by all its alerts; the values are one
/// string, each value preceded by its length in bytes and a colon (`3:abc0:`), so that an
/// alert's annotations are the shared block and one allocation of their text and a few
/// digits (a list of name and value pairs with a string each cost 16 bytes a pair and an
/// allocation a value; see "Memory per active alert" in docs/benchmarks.md).
#[derive(Debug, Clone, Default)]
pub struct Annotations(Arc<Packed>);

#[derive(Debug, Default)]
struct Packed {
    /// In the rule's order, one per value. An `Arc` of a `Vec`: 8 bytes, where an
    /// `Arc<[Str]>` takes 16.
    names: Arc<Vec<Str>>,
    /// The values in the names' order, empty ones kept, each after its length.
    values: Box<str>,
}

impl Annotations {
    /// Annotations of the names `names` (a rule's list, shared) with these values, one
    /// per name, in their order.
    pub fn new<V: AsRef<str>>(
        names: &Arc<Vec<Str>>,
        values: impl IntoIterator<Item = V>,
    ) -> Annotations {
        use std::fmt::Write;
        let values: Vec<V> = values.into_iter().collect();
        // Sized at once: a value, its length's digits and the colon.
        let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let size = values
            .iter()
            .map(|v| v.as_ref().len())
            .map(|n| n + digits(n) + 1);
        let mut packed = String::with_capacity(size.sum());
        for v in &values {
            let v = v.as_ref();
            // Writing to a `String` cannot fail.
            let _ = write!(packed, "{}:", v.len());
            packed.push_str(v);
        }
        let a = Annotations(Arc::new(Packed {
            names: names.clone(),
            values: packed.into_boxed_str(),
        }));
        debug_assert_eq!(a.values().count(), a.len());
        a
    }

    /// Annotations from name and value pairs, in their order.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Annotations
    where
        N: Into<Str>,
        V: AsRef<str>,
    {
        let (names, values): (Vec<Str>, Vec<V>) =
            pairs.into_iter().map(|(k, v)| (k.into(), v)).unzip();
        Annotations::new(&Arc::new(names), values)
    }

    /// The values, in order.
    fn values(&self) -> impl Iterator<Item = &str> {
        let mut rest = &*self.0.values;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_once(':')?;
            // Written by `new`: a length, then that many bytes of a `str`.
            let (value, tail) = tail.split_at(len.parse().ok()?);
            rest = tail;
            Some(value)
        })
    }

    /// Name and value pairs in the rule's order, empty values included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.names.iter().map(|n| &**n).zip(self.values())
    }

    /// How many there are (empty values included).
    pub fn len(&self) -> usize {
        self.0.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.names.is_empty()
    }

    /// The value of annotation `name` (the last one, should a name repeat).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .filter(|(k, _)| *k == name)
            .last()
            .map(|(_, v)| v)
    }

    /// As owned pairs, for comparisons.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// Name and value pairs sorted by name, one per name (the last one, should a name
/// repeat): the order of a JSON object in Prometheus' API.
pub fn sorted_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = pairs.collect();
    // Stable: of pairs with one name, the last stays last and is kept.
    v.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(v.len());
    for p in v {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => *last = p,
            _ => out.push(p),
        }
    }
    out
}

impl PartialEq for Annotations {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// Prometheus' alert states. `Inactive` alerts are resolved ones kept for the resolved
/// retention so that Alertmanager keeps hearing that they are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }

    /// The state's name as a shared string, for label sets.
    pub(crate) fn shared_str(self) -> crate::labels::Str {
        match self {
            AlertState::Inactive => super::shared::inactive(),
            AlertState::Pending => super::shared::pending(),
            AlertState::Firing => super::shared::firing(),
        }
    }
}

/// A time of an alert that may not have come (Go's zero time), in milliseconds since the
/// epoch: an `i64` whose minimum stands for "not yet", 8 bytes where an `Option<i64>`
/// takes 16 (an alert has three; see "Memory per active alert" in docs/benchmarks.md).
/// No time an evaluation meets is that far back (292 million years before the epoch).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaybeMs(i64);

impl MaybeMs {
    /// Not (yet) happened.
    pub const NEVER: MaybeMs = MaybeMs(i64::MIN);

    /// Happened at `ms`.
    pub fn at(ms: i64) -> MaybeMs {
        MaybeMs(ms)
    }

    /// The time, if it happened.
    pub fn get(self) -> Option<i64> {
        (self != MaybeMs::NEVER).then_some(self.0)
    }
}

impl std::fmt::Debug for MaybeMs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl PartialEq<Option<i64>> for MaybeMs {
    fn eq(&self, other: &Option<i64>) -> bool {
        self.get() == *other
    }
}

/// What an alert's series carried when they were last written: the state in
/// `ALERTS`' `alertstate` and whether `ALERTS` carried `flapping="true"`. It is all a
/// staleness marker for them is built from (with the alert's labels), see `series.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wrote {
    pub(crate) state: AlertState,
    pub(crate) flapping: bool,
}

/// Numbers a rule's evaluations, to tell which alerts the current one returned. 32
/// bits, which wrap after 4 billion evaluations (136 years at one a second), long after
/// any alert not returned since has been resolved and dropped; 0 stands for "not yet
/// returned" (see `AlertingRule::next_attempt`).
pub(crate) type Attempt = u32;

/// One alert: identified by the fingerprint of its final label set. Times are
/// milliseconds since the epoch.
///
/// Its size is most of what an alert costs besides its labels and annotations (see
/// "Memory per active alert" in docs/benchmarks.md): 88 bytes, held in the rule's
/// vector without a box of its own, with the times that cannot be set together in one
/// field and the small fields packed in one word.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Final labels (sample labels, group and rule labels, `alertname`, `alertgroup`),
    /// without external labels, as `/api/v1/alerts` shows them.
    pub labels: Labels,
    /// Rendered annotations, in the rule's order; empty values are kept.
    pub annotations: Annotations,
    /// The query value that produced the alert at its last evaluation.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: MaybeMs,
    pub last_sent_at_ms: MaybeMs,
    /// While active: since when a firing alert has been absent from the query result
    /// while `keep_firing_for` kept it firing. Once inactive: when it resolved. An
    /// inactive alert is never active again (its return is a new alert), so the two
    /// never need to be kept at once; read them with [`Alert::keep_firing_since_ms`]
    /// and [`Alert::resolved_at_ms`].
    since_ms: MaybeMs,
    /// The fingerprint of the query series that made the alert at its last evaluation,
    /// which its annotations were rendered for (0 for a restored alert, not yet seen):
    /// the render cache's check that they can be reused for that series.
    pub(crate) source: u64,
    /// The rule's evaluation attempt that last saw this alert in the query result.
    pub(crate) seen: Attempt,
    pub state: AlertState,
    /// Restored from `ALERTS_FOR_STATE` at start-up rather than first seen by us.
    pub restored: bool,
    /// What its series carried when the rule last wrote them (`None`: they were not
    /// written at the rule's last successful evaluation), to end them with staleness
    /// markers when the alert changes state or goes (see `series.rs`).
    pub(crate) wrote: Option<Wrote>,
}

impl Alert {
    /// A new alert, first seen at `active_at_ms`.
    pub(crate) fn new(
        labels: Labels,
        annotations: Annotations,
        value: f64,
        active_at_ms: i64,
    ) -> Alert {
        Alert {
            labels,
            annotations,
            value,
            active_at_ms,
            fired_at_ms: MaybeMs::NEVER,
            last_sent_at_ms: MaybeMs::NEVER,
            since_ms: MaybeMs::NEVER,
            source: 0,
            seen: 0,
            state: AlertState::Pending,
            restored: false,
            wrote: None,
        }
    }

    /// When the alert resolved (only an inactive alert has).
    pub fn resolved_at_ms(&self) -> MaybeMs {
        match self.state {
            AlertState::Inactive => self.since_ms,
            _ => MaybeMs::NEVER,
        }
    }

    /// Since when a firing alert has been absent from the query result while
    /// `keep_firing_for` kept it firing (only an active alert has).
    pub fn keep_firing_since_ms(&self) -> MaybeMs {
        match self.state {
            AlertState::Inactive => MaybeMs::NEVER,
            _ => self.since_ms,
        }
    }

    /// Sets (or, with [`MaybeMs::NEVER`], ends) the `keep_firing_for` window of an
    /// active alert.
    pub(crate) fn set_keep_firing_since(&mut self, since: MaybeMs) {
        debug_assert!(self.state != AlertState::Inactive);
        self.since_ms = since;
    }

    /// The alert resolves at `ts_ms`.
    pub(crate) fn resolve(&mut self, ts_ms: i64) {
        self.state = AlertState::Inactive;
        self.since_ms = MaybeMs::at(ts_ms);
    }
}

impl Alert {
    /// Prometheus' rule: pending alerts are never sent; an alert resolved since it was
    /// last sent is sent at once; otherwise alerts are re-sent once `resend_delay` has
    /// strictly passed since the last send.
    pub fn needs_sending(&self, ts_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at_ms.get();
        if let Some(resolved) = self.resolved_at_ms().get()
            && last.is_none_or(|l| resolved > l)
        {
            return true;
        }
        match last {
            None => true,
            Some(l) => l + resend_delay_ms < ts_ms,
        }
    }
}

impl Alert {
    /// What is sent for this alert: `startsAt` is when it fired, external labels are
    /// added where the alert has none of that name.
    pub fn notification(&self, ends_at_ms: i64, ctx: &RuleContext, url: &Arc<str>) -> Notification {
        Notification {
            labels: super::add_missing(&self.labels, &ctx.settings.external_labels),
            annotations: self.annotations.clone(),
            starts_at_ms: self.fired_at_ms.get().unwrap_or(self.active_at_ms),
            ends_at_ms,
            generator_url: url.clone(),
        }
    }
}

/// An alert as sent to Alertmanager (the notifier turns it into the wire format).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Final labels plus external labels where absent.
    pub labels: Labels,
    pub annotations: Annotations,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub generator_url: Arc<str>,
}

#[cfg(test)]
mod tests {
    use super::Annotations;

    #[test]
    fn annotations_keep_every_value_as_given() {
        // Values that look like the packing itself, empty ones and multi-byte text.
        let pairs = [
            ("summary", "12:3"),
            ("empty", ""),
            ("runbook", "https://x/y:9:z"),
            ("note", "déjà vu ✓"),
            ("summary", "again"),
        ];
        let a = Annotations::from_pairs(pairs);
        assert_eq!(a.len(), 5);
        assert_eq!(a.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(a.get("summary"), Some("again"), "the last one of a name");
        assert_eq!(a.get("empty"), Some(""));
        assert_eq!(a.get("absent"), None);
        assert_eq!(a, Annotations::from_pairs(pairs));
        assert_ne!(a, Annotations::from_pairs(pairs[..4].iter().copied()));
        assert!(Annotations::default().iter().next().is_none());
    }
}
