//! The cluster-wide API of tocsin processes on loopback (see `support::cluster`): the
//! merged answer equals the union of the members' own (`?local=1`), and a member down
//! makes it partial, naming the member.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::cluster::{Cluster, Membership, Spec, one_at_a_time};
use support::http::{get_json, poll_json};

#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_wide_api_is_the_union_of_the_members_own() {
    let _serial = one_at_a_time().await;
    let groups = 40;
    let spec = Spec {
        membership: Membership::Static,
        ..Spec::new(3, groups, 2)
    };
    let Some(c) = Cluster::start(spec).await else {
        return;
    };
    c.settled(groups).await;
    let ready = poll_json(
        &format!("{}/api/v1/alerts", c.members[1].url),
        Duration::from_secs(20),
        |v| v["data"]["alerts"].as_array().map(Vec::len) == Some(groups),
    )
    .await;
    assert!(ready.is_some(), "not every alert showed\n{}", c.logs());
    // What is listed (groups with their rules, alerts with their group and rule), not
    // their state: the two owners of a group evaluate it at slightly different moments.
    let key = |v: &Value, list: &str| -> BTreeSet<String> {
        v["data"][list]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                let id = x["id"].as_str().unwrap_or("").to_string();
                let rules: Vec<String> = x["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| r["id"].to_string())
                    .collect();
                format!(
                    "{id}/{}/{}/{}",
                    x["group_id"],
                    x["rule_id"],
                    rules.join(",")
                )
            })
            .collect()
    };
    for list in ["groups", "alerts"] {
        let path = if list == "groups" { "rules" } else { "alerts" };
        let mut union = BTreeSet::new();
        for m in &c.members {
            let (_, v) = get_json(&format!("{}/api/v1/{path}?local=1", m.url)).await;
            union.extend(key(&v, list));
        }
        for m in &c.members {
            let (_, v) = get_json(&format!("{}/api/v1/{path}", m.url)).await;
            assert_eq!(v["data"]["partial"], false, "{v}");
            assert_eq!(key(&v, list), union, "{path} of {}", m.addr);
        }
    }
    // A member down (static sharding keeps it a member): the answer says it is partial,
    // names the member, and still lists every group with its owners.
    let mut c = c;
    let mut gone = c.members.remove(0);
    let _ = gone.guard.child.kill();
    let _ = gone.guard.child.wait();
    let v = poll_json(
        &format!("{}/api/v1/rules", c.members[0].url),
        Duration::from_secs(10),
        |v| v["data"]["partial"] == true,
    )
    .await
    .unwrap_or_else(|| panic!("no partial answer with member 0 down\n{}", c.logs()));
    let w = v["warnings"].to_string();
    assert!(w.contains("member 0"), "{w}");
    let listed = v["data"]["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), groups, "{v}");
    for g in &listed {
        assert_eq!(g["owners"].as_array().map(Vec::len), Some(2), "{g}");
    }
}
