//! The notifier's per-target counters (label `addr`, the URL as shown).

use std::collections::BTreeMap;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Kind;

/// The `addr` label of per-target metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AddrLabel {
    pub addr: String,
}

/// The `kind` label of discovery metrics (`DNSSD`, `consulSD`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

impl KindLabel {
    fn of(kind: Kind) -> Self {
        KindLabel {
            kind: kind.name().into(),
        }
    }
}

/// Per-target counters (label `addr`), and discovery's.
#[derive(Clone, Default)]
pub struct NotifierMetrics {
    pub sent: Family<AddrLabel, Counter>,
    pub errors: Family<AddrLabel, Counter>,
    pub dropped: Family<AddrLabel, Counter>,
    pub queue_length: Family<AddrLabel, Gauge>,
    /// Discovery rounds of one source that failed (its last targets were kept).
    pub discovery_errors: Family<KindLabel, Counter>,
    /// Targets alerts are sent to, by kind.
    pub targets: Family<KindLabel, Gauge>,
}

impl NotifierMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_notifier_alerts_sent",
            "Alerts accepted by Alertmanager",
            self.sent.clone(),
        );
        r.register(
            "tocsin_notifier_errors",
            "Alerts in POSTs to Alertmanager that failed",
            self.errors.clone(),
        );
        r.register(
            "tocsin_notifier_alerts_dropped",
            "Alerts dropped because the target's queue was full",
            self.dropped.clone(),
        );
        r.register(
            "tocsin_notifier_queue_length",
            "Alerts waiting to be sent",
            self.queue_length.clone(),
        );
        r.register(
            "tocsin_notifier_discovery_errors",
            "Service-discovery look-ups of -notifier.config that failed (the source's last targets were kept)",
            self.discovery_errors.clone(),
        );
        r.register(
            "tocsin_notifier_targets",
            "Alertmanagers alerts are sent to, by how they were found",
            self.targets.clone(),
        );
        // At 0 from the start, so that the first failure is an increase.
        for kind in [Kind::Dns, Kind::Consul] {
            let _ = self.discovery_errors.get_or_create(&KindLabel::of(kind));
        }
    }

    /// The number of targets of each kind (the three a config can have always shown).
    pub(super) fn count_targets(&self, kinds: impl Iterator<Item = Kind>) {
        let mut n: BTreeMap<Kind, i64> = [Kind::Static, Kind::Dns, Kind::Consul]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
        for k in kinds {
            *n.entry(k).or_default() += 1;
        }
        for (k, n) in n {
            self.targets.get_or_create(&KindLabel::of(k)).set(n);
        }
    }

    /// Creates the target's series at 0.
    pub(super) fn touch(&self, a: &AddrLabel) {
        let _ = self.sent.get_or_create(a);
        let _ = self.errors.get_or_create(a);
        let _ = self.dropped.get_or_create(a);
        let _ = self.queue_length.get_or_create(a);
    }

    /// Drops a removed target's series (discovery may come and go with many addresses).
    pub(super) fn forget(&self, a: &AddrLabel) {
        self.sent.remove(a);
        self.errors.remove(a);
        self.dropped.remove(a);
        self.queue_length.remove(a);
    }

    pub(super) fn counts(&self, a: &AddrLabel) -> (u64, u64, u64) {
        (
            self.sent.get_or_create(a).get(),
            self.errors.get_or_create(a).get(),
            self.dropped.get_or_create(a).get(),
        )
    }

    pub(super) fn dropped(&self, a: &AddrLabel, n: u64) {
        self.dropped.get_or_create(a).inc_by(n);
    }

    pub(super) fn queue_length(&self, a: &AddrLabel, n: usize) {
        self.queue_length.get_or_create(a).set(n as i64);
    }

    pub fn discovery_error(&self, kind: &str) {
        self.discovery_errors
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }
}
