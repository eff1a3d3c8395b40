//! The status model: what every group, rule and alert looked like after its last
//! evaluation, as immutable snapshots.
//!
//! The engine (`manager/`) builds a [`GroupStatus`] from the configuration when a group
//! starts, updates it after every evaluation ([`rule_status`], [`carry_over`] across a
//! reload) and publishes it on the [`StatusBoard`]; the HTTP server (`web/`) renders
//! whatever a [`StateSource`] hands it. Snapshots are shared as `Arc`s, so API load
//! never contends with evaluation. This module sits below both: it knows the rule core
//! and the configuration, and nothing about HTTP.

mod board;
mod cluster;
mod from_config;
mod history;
mod model;
pub mod pauses;
mod update;

pub use board::{BoxFuture, ReloadStatus, Snapshot, StateSource, StatusBoard};
pub use cluster::{
    CLUSTER_HEADER, ClusterSource, ClusterStatus, MemberStatus, PeerAnswer, PeerStatus,
};
pub use history::{GroupQuery, Reproduce, RuleQuery, StateUpdate};
pub use model::{
    AlertState, AlertStatus, AlertingStatus, Annotations, GroupStatus, Health, NotifierStatus,
    Pause, RuleKindStatus, RuleStatus,
};
pub use pauses::PauseBook;
pub use update::{Evaluation, carry_over, count_states, rule_status, with_alerts_of};
