//! The cluster part of `/api/v1/status`.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// `data.cluster` of `/api/v1/status` on a cluster member: membership and assignment.
pub struct ClusterJson<'a>(pub &'a crate::status::ClusterStatus);

impl Serialize for ClusterJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let members: Vec<serde_json::Value> = c
            .members
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "address": m.addr, "self": m.me}))
            .collect();
        let peers: Vec<serde_json::Value> = c
            .peers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "address": p.addr, "ready": p.ready, "member": p.member, "error": p.error
                })
            })
            .collect();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("mode", c.mode)?;
        m.serialize_entry("members", &members)?;
        m.serialize_entry("replicationFactor", &c.replication)?;
        m.serialize_entry("converged", &c.converged)?;
        m.serialize_entry("groupsOwned", &c.groups_owned)?;
        m.serialize_entry("groupsTotal", &c.groups_total)?;
        m.serialize_entry("peers", &peers)?;
        m.serialize_entry("problems", &c.problems)?;
        m.end()
    }
}
