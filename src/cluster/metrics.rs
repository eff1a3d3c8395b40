//! The cluster's own metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Which way a group moved.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Direction {
    /// `in`: this member took the group over; `out`: it handed the group over.
    pub direction: &'static str,
}

#[derive(Clone, Default)]
pub struct ClusterMetrics {
    pub members: Gauge,
    pub groups_owned: Gauge,
    pub handovers: Family<Direction, Counter>,
    pub resolve_errors: Counter,
    pub problems: Gauge,
    pub fanout_errors: Counter,
}

impl ClusterMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_cluster_members",
            "Members in this member's view of the cluster (itself included when it is one)",
            self.members.clone(),
        );
        r.register(
            "tocsin_cluster_groups_owned",
            "Rule groups this member evaluates",
            self.groups_owned.clone(),
        );
        r.register(
            "tocsin_cluster_handovers",
            "Groups taken over from (in) or handed over to (out) other members",
            self.handovers.clone(),
        );
        r.register(
            "tocsin_cluster_peer_resolve_errors",
            "Rounds in which -cluster.peers could not be resolved (the last peer list was kept)",
            self.resolve_errors.clone(),
        );
        r.register(
            "tocsin_cluster_problems",
            "Disagreements between members found in the last round (see /api/v1/status)",
            self.problems.clone(),
        );
        r.register(
            "tocsin_cluster_fanout_errors",
            "Requests to other members for the cluster-wide API that failed or timed out",
            self.fanout_errors.clone(),
        );
        let _ = self.handovers.get_or_create(&Direction { direction: "in" });
        let _ = self
            .handovers
            .get_or_create(&Direction { direction: "out" });
    }

    /// Counts `n` groups moving `direction` (`in` or `out`).
    pub fn handed(&self, direction: &'static str, n: usize) {
        if n > 0 {
            self.handovers
                .get_or_create(&Direction { direction })
                .inc_by(n as u64);
        }
    }
}
