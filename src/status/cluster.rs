//! What the web server needs from the cluster (`cluster/` implements it): who owns a
//! group, what the membership looks like, and a way to ask the other members.

use std::sync::Arc;

use super::board::BoxFuture;
use super::model::GroupStatus;

/// The response header of `/-/ready` that describes a cluster member.
pub const CLUSTER_HEADER: &str = "tocsin-cluster";

/// A member as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// What the assignment hashes: a member number or an address.
    pub name: String,
    /// Where its API answers, when known.
    pub addr: Option<String>,
    /// This process.
    pub me: bool,
}

/// A peer of `-cluster.peers`, as last probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub addr: String,
    pub ready: bool,
    /// Its member number (static sharding), if it said.
    pub member: Option<String>,
    pub error: Option<String>,
}

/// Membership and assignment, for `/api/v1/status`.
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// `static` or `dynamic`.
    pub mode: &'static str,
    pub members: Vec<MemberStatus>,
    pub replication: usize,
    /// Every member reported the same member set.
    pub converged: bool,
    /// Groups this member evaluates, and groups in the rule files.
    pub groups_owned: usize,
    pub groups_total: usize,
    pub peers: Vec<PeerStatus>,
    /// Disagreements between members (flags that differ, …).
    pub problems: Vec<String>,
}

/// One member's answer to a fanned-out request.
#[derive(Debug, Clone)]
pub struct PeerAnswer {
    /// The member's name (see [`MemberStatus::name`]).
    pub member: String,
    pub addr: Option<String>,
    /// The response body of a 200 answer, or why there is none.
    pub body: Result<bytes::Bytes, String>,
    /// How the member's `-cluster.*` flags (from its answer's `Tocsin-Cluster` header)
    /// disagree with this member's: a warning of the merged answer.
    pub problems: Vec<String>,
}

/// The cluster as the web server sees it.
pub trait ClusterSource: Send + Sync + 'static {
    /// The `Tocsin-Cluster` header of `/-/ready`.
    fn identity_header(&self) -> String;

    /// Membership and assignment.
    fn status(&self) -> ClusterStatus;

    /// The names of the members that evaluate the group `id` (highest score first);
    /// empty if the group is not in this member's rule files.
    fn owners(&self, id: u64) -> Vec<String>;

    /// Every group of the rule files in file order, as a never-evaluated snapshot, for
    /// groups whose owners did not answer.
    fn all_groups(&self) -> Vec<Arc<GroupStatus>>;

    /// Sends `GET path_and_query` (which must carry `local=1`) to every other member,
    /// with `authorization` when the request had one, each with the request timeout.
    fn fan_out(
        &self,
        path_and_query: String,
        authorization: Option<String>,
    ) -> BoxFuture<Vec<PeerAnswer>>;
}
