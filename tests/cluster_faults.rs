//! Faults among tocsin cluster members on loopback (see `support::cluster`): members
//! started with different `-cluster.membersCount` are told so through the cluster-wide
//! API's fan-out (its warnings, `/api/v1/status`, `/metrics`, the log); a peer DNS name
//! that stops resolving keeps the last member set, and a changed answer is followed.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::cluster::{Cluster, MEMBERS_NAME, Membership, Spec, one_at_a_time};
use support::dns::{Answer, DnsServer, Record};
use support::http::{get_json, poll_json};

/// The value of the metric `name` (without labels) on `/metrics` of `url`.
async fn metric(url: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn warnings(v: &Value) -> String {
    v["warnings"].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn members_disagreeing_on_n_are_reported_through_the_fan_out() {
    let _serial = one_at_a_time().await;
    let groups = 10;
    let spec = Spec {
        membership: Membership::Static,
        counts: vec![2, 3],
        ..Spec::new(2, groups, 1)
    };
    let Some(c) = Cluster::start(spec).await else {
        return;
    };
    let (zero, one) = (&c.members[0], &c.members[1]);
    // Each member's merged answer says that the other computes another assignment. The
    // member told there are 3 also misses the third (whom nobody runs): its answer is
    // partial for that reason, the other's is complete, only inconsistent.
    for (m, theirs, mine, other, partial) in [(zero, 3, 2, one, false), (one, 2, 3, zero, true)] {
        let want = format!(
            "the member at {} runs with -cluster.membersCount={theirs}, this one with {mine}",
            other.addr
        );
        for path in ["rules", "alerts"] {
            let v = poll_json(
                &format!("{}/api/v1/{path}", m.url),
                Duration::from_secs(30),
                |v| warnings(v).contains(&want),
            )
            .await
            .unwrap_or_else(|| {
                panic!(
                    "/api/v1/{path} of {} never warned {want:?}\n{}",
                    m.addr,
                    c.logs()
                )
            });
            assert_eq!(v["data"]["partial"], partial, "{v}");
        }
        let (_, status) = get_json(&format!("{}/api/v1/status", m.url)).await;
        let problems = status["data"]["cluster"]["problems"].to_string();
        assert!(problems.contains(&want), "{problems}");
        let n = metric(&m.url, "tocsin_cluster_problems").await;
        assert!(n.is_some_and(|n| n >= 1.0), "tocsin_cluster_problems {n:?}");
        assert!(
            m.guard.log_tail(200).contains(&want),
            "{}",
            m.guard.log_tail(30)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_name_that_stops_resolving_keeps_the_last_member_set() {
    let _serial = one_at_a_time().await;
    let groups = 20;
    let dns = DnsServer::start().await;
    let spec = Spec {
        dns: Some(dns.addr),
        ..Spec::new(2, groups, 1)
    };
    let Some(c) = Cluster::start(spec).await else {
        return;
    };
    let srv = |members: &[&support::cluster::Member]| {
        let records = members
            .iter()
            .map(|m| Record::Srv {
                port: m.addr.rsplit(':').next().unwrap().parse().unwrap(),
                target: "127.0.0.1".into(),
            })
            .collect();
        Answer::Records(records)
    };
    dns.set(MEMBERS_NAME, srv(&[&c.members[0], &c.members[1]]));
    c.settled(groups).await;

    // The name fails (the DNS server errs, then the name is gone): every member keeps
    // the two members through several refresh rounds, and says why.
    for (failure, rounds) in [(Answer::ServFail, 3.0), (Answer::NxDomain, 6.0)] {
        dns.set(MEMBERS_NAME, failure);
        for m in &c.members {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while metric(&m.url, "tocsin_cluster_peer_resolve_errors_total")
                .await
                .is_none_or(|n| n < rounds)
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{}: no failed resolution counted\n{}",
                    m.addr,
                    c.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        for m in &c.members {
            let (_, s) = get_json(&format!("{}/api/v1/status", m.url)).await;
            let members = s["data"]["cluster"]["members"].as_array().map(Vec::len);
            assert_eq!(members, Some(2), "{}: {s}", m.addr);
            assert!(
                m.guard.log_tail(200).contains("keeping the last peer list"),
                "{}",
                m.guard.log_tail(30)
            );
        }
        c.settled(groups).await;
    }

    // It resolves again, to one member: that is followed at once.
    dns.set(MEMBERS_NAME, srv(&[&c.members[0]]));
    let alone = poll_json(
        &format!("{}/api/v1/status", c.members[0].url),
        Duration::from_secs(30),
        |v| {
            let cl = &v["data"]["cluster"];
            cl["members"].as_array().map(Vec::len) == Some(1)
                && cl["groupsOwned"].as_u64() == Some(groups as u64)
        },
    )
    .await;
    assert!(
        alone.is_some(),
        "the new answer was not followed\n{}",
        c.logs()
    );
}
