//! Groups shared among tocsin processes on loopback, against a real Prometheus (whose
//! query log counts every evaluation of every group) and a real Alertmanager (whose
//! webhook notifications count pages): every group evaluated by exactly R members each
//! interval; a killed member's groups taken over with their alerts' `startsAt`, nothing
//! sent resolved, nobody paged twice; scaling 3 → 5 → 3 moves only what must move; the
//! cluster-wide API is the union of the members' own answers.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::fake_http::{Canned, FakeHttp, fake_http};
use support::http::{get_json, poll_json};
use support::peers::{ChildGuard, free_port, peer_or_skip};
use support::servers::{start_alertmanager_with, start_prometheus_with, start_tocsin_at};

/// Evaluation interval of the groups, in seconds (the scaling test uses a longer one).
const INTERVAL: i64 = 2;

/// The tests here start up to seven processes each and count evaluations per interval:
/// they run one at a time, so that they do not slow each other down on a small machine.
/// (An async mutex: the guard is held across the test's awaits, and a failed test
/// does not poison it for the others.)
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// How the members find each other.
#[derive(Clone, Copy, PartialEq)]
enum Membership {
    /// The ready peers of the peer file.
    Dynamic,
    /// `-cluster.membersCount` and `-cluster.memberNum`; the peer file serves the API.
    Static,
}

struct Member {
    guard: ChildGuard,
    url: String,
    addr: String,
}

struct Cluster {
    dir: tempfile::TempDir,
    _prom: ChildGuard,
    prom_url: String,
    _am: ChildGuard,
    am_url: String,
    hook: FakeHttp,
    members: Vec<Member>,
    rules: PathBuf,
    peers: PathBuf,
    replication: usize,
    membership: Membership,
    /// Members started so far (the static member number of the next one).
    started: usize,
    total: usize,
}

/// `groups` groups of one alerting rule each, `G<i>` firing `vector(<i>) > 0` after `for`,
/// every `interval` seconds.
fn rule_file(groups: usize, for_: &str, interval: i64) -> String {
    let mut s = String::from("groups:\n");
    for i in 1..=groups {
        s.push_str(&format!(
            "- name: g{i}\n  interval: {interval}s\n  rules:\n  - alert: G{i}\n    expr: vector({i}) > 0\n    for: {for_}\n"
        ));
    }
    s
}

/// What a test's cluster looks like.
struct Spec {
    members: usize,
    groups: usize,
    replication: usize,
    for_: &'static str,
    interval: i64,
    membership: Membership,
}

impl Spec {
    fn new(members: usize, groups: usize, replication: usize) -> Spec {
        Spec {
            members,
            groups,
            replication,
            for_: "0s",
            interval: INTERVAL,
            membership: Membership::Dynamic,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Cluster {
    /// Prometheus (query log on), Alertmanager (one page per alert name to a webhook),
    /// and `n` members sharing `groups` groups with `replication`, found through a peer
    /// file.
    async fn start(spec: Spec) -> Option<Cluster> {
        let n = spec.members;
        let prom_bin = peer_or_skip("prometheus")?;
        let am_bin = peer_or_skip("prometheus-alertmanager")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("prometheus.yml");
        let qlog = dir.path().join("queries.log");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  query_log_file: {}\nscrape_configs: []\n",
                qlog.display()
            ),
        )
        .expect("prometheus.yml");
        let (prom, prom_url) = start_prometheus_with(&prom_bin, dir.path(), &cfg, &[])
            .await
            .expect("prometheus");
        let hook = fake_http(vec![Canned::ok("")]).await;
        let (am, am_url) = start_alertmanager_with(
            &am_bin,
            dir.path(),
            &format!(
                "route: {{ receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }}\nreceivers: [{{ name: hook, webhook_configs: [{{ url: '{}/hook', send_resolved: true }}] }}]\n",
                hook.url
            ),
            None,
        )
        .await
        .expect("alertmanager");
        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, rule_file(spec.groups, spec.for_, spec.interval)).expect("rules");
        let peers = dir.path().join("peers");
        let mut c = Cluster {
            dir,
            _prom: prom,
            prom_url,
            _am: am,
            am_url,
            hook,
            members: Vec::new(),
            rules,
            peers,
            replication: spec.replication,
            membership: spec.membership,
            started: 0,
            total: n,
        };
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        c.write_peers(&ports);
        for p in ports {
            c.add_member(p).await;
        }
        Some(c)
    }

    fn write_peers(&self, ports: &[u16]) {
        let text: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
        std::fs::write(&self.peers, text).expect("peer file");
    }

    async fn add_member(&mut self, port: u16) {
        let args = vec![
            format!("-rule={}", self.rules.display()),
            format!("-datasource.url={}", self.prom_url),
            format!("-remoteWrite.url={}", self.prom_url),
            format!("-remoteRead.url={}", self.prom_url),
            format!("-notifier.url={}", self.am_url),
            format!("-cluster.peers=file://{}", self.peers.display()),
            format!("-cluster.replicationFactor={}", self.replication),
            "-cluster.refreshInterval=500ms".into(),
            // Generous: a probe that times out on a loaded machine drops a live member
            // from the view for a round, which moves groups (as it would in production).
            "-cluster.requestTimeout=1500ms".into(),
            "-remoteWrite.flushInterval=200ms".into(),
        ];
        let mut args = args;
        if self.membership == Membership::Static {
            args.push(format!("-cluster.membersCount={}", self.total));
            args.push(format!("-cluster.memberNum=tocsin-{}", self.started));
        }
        self.started += 1;
        let name = format!("tocsin-{port}");
        let (guard, url) = start_tocsin_at(&args, self.dir.path(), &name, port)
            .await
            .expect("tocsin member");
        self.members.push(Member {
            guard,
            url,
            addr: format!("127.0.0.1:{port}"),
        });
    }

    /// Waits until every member sees all `n` members, agrees, and the groups owned add
    /// up to `groups × R`.
    async fn settled(&self, groups: usize) {
        let want = groups * self.replication.min(self.members.len());
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let mut owned = 0;
            let mut ok = true;
            for m in &self.members {
                let (_, s) = get_json(&format!("{}/api/v1/status", m.url)).await;
                let c = &s["data"]["cluster"];
                ok &= c["converged"] == true
                    && c["members"].as_array().map(Vec::len) == Some(self.members.len());
                owned += c["groupsOwned"].as_u64().unwrap_or(0) as usize;
            }
            if ok && owned == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster did not settle: {owned} groups owned, want {want}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The sum over all members of the counter `name` (every series of it).
    async fn counter(&self, name: &str) -> u64 {
        let mut n = 0;
        for m in &self.members {
            let Ok(r) = reqwest::get(format!("{}/metrics", m.url)).await else {
                continue;
            };
            let text = r.text().await.unwrap_or_default();
            n += text
                .lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum::<u64>();
        }
        n
    }

    /// Groups moved so far (`tocsin_cluster_handovers_total`), and evaluations skipped
    /// because the one before ran longer than the interval
    /// (`tocsin_group_iterations_missed_total`), over all members.
    async fn disturbances(&self) -> (u64, u64) {
        (
            self.counter("tocsin_cluster_handovers_total").await,
            self.counter("tocsin_group_iterations_missed_total").await,
        )
    }

    fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| m.guard.log_tail(15))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Evaluations per group seen by the datasource: group → evaluation time → count.
    fn evaluations(&self) -> BTreeMap<usize, BTreeMap<i64, usize>> {
        let text = std::fs::read_to_string(self.dir.path().join("queries.log")).unwrap_or_default();
        let mut out: BTreeMap<usize, BTreeMap<i64, usize>> = BTreeMap::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let q = v["params"]["query"].as_str().unwrap_or("");
            let Some(i) = q
                .strip_prefix("vector(")
                .and_then(|r| r.strip_suffix(") > 0"))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            let Some(ts) = v["params"]["start"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            else {
                continue;
            };
            *out.entry(i)
                .or_default()
                .entry(ts.timestamp_millis())
                .or_default() += 1;
        }
        out
    }

    /// Each group's owners, from the cluster-wide API of the first live member.
    async fn owners(&self) -> HashMap<String, Vec<String>> {
        let (_, v) = get_json(&format!("{}/api/v1/rules", self.members[0].url)).await;
        v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                let owners = g["owners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect();
                (g["name"].as_str().unwrap_or("").to_string(), owners)
            })
            .collect()
    }

    /// The alerts Alertmanager holds: alert name → (startsAt, state).
    async fn am_alerts(&self) -> BTreeMap<String, (String, String)> {
        let (_, v) = get_json(&format!("{}/api/v2/alerts", self.am_url)).await;
        v.as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                    (
                        a["startsAt"].as_str().unwrap_or("").to_string(),
                        a["status"]["state"].as_str().unwrap_or("").to_string(),
                    ),
                )
            })
            .collect()
    }

    /// Webhook notifications per alert name, and every status they carried.
    fn pages(&self) -> (BTreeMap<String, usize>, BTreeSet<String>) {
        let mut count = BTreeMap::new();
        let mut statuses = BTreeSet::new();
        for b in self.hook.bodies.lock().unwrap().iter() {
            let Ok(v) = serde_json::from_slice::<Value>(b) else {
                continue;
            };
            statuses.insert(v["status"].as_str().unwrap_or("").to_string());
            if let Some(n) = v["groupLabels"]["alertname"].as_str() {
                *count.entry(n.to_string()).or_insert(0) += 1;
            }
        }
        (count, statuses)
    }
}

/// Where every tick of every group in `[from, to]` was not evaluated exactly `r` times,
/// or a tick is missing: the group and what is wrong.
fn each_tick_exactly(
    evals: &BTreeMap<usize, BTreeMap<i64, usize>>,
    groups: usize,
    r: usize,
    from: i64,
    to: i64,
) -> Result<(), (usize, String)> {
    let step = INTERVAL * 1000;
    for i in 1..=groups {
        let ticks: Vec<(i64, usize)> = evals
            .get(&i)
            .map(|t| t.range(from..=to).map(|(&k, &v)| (k, v)).collect())
            .unwrap_or_default();
        if (ticks.len() as i64) < (to - from) / step - 1 {
            let n = ticks.len();
            return Err((
                i,
                format!("only {n} evaluations in {} ms: {ticks:?}", to - from),
            ));
        }
        if ticks.windows(2).any(|w| w[1].0 - w[0].0 != step) {
            return Err((i, format!("skipped a tick: {ticks:?}")));
        }
        if let Some((ts, n)) = ticks.iter().find(|(_, n)| *n != r) {
            return Err((
                i,
                format!("at {ts}: evaluated {n} times, want {r}: {ticks:?}"),
            ));
        }
    }
    Ok(())
}

impl Cluster {
    /// Asserts [`each_tick_exactly`] on the datasource's query log; a failure shows what
    /// each member says about the group and the members' logs.
    async fn assert_each_tick_exactly(&self, groups: usize, r: usize, from: i64, to: i64) {
        let Err((g, what)) = each_tick_exactly(&self.evaluations(), groups, r, from, to) else {
            return;
        };
        let mut said = String::new();
        for m in &self.members {
            let (_, v) = get_json(&format!("{}/api/v1/rules?local=1", m.url)).await;
            let mine = v["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["name"] == format!("g{g}").as_str());
            said.push_str(&format!(
                "{}: {}\n",
                m.addr,
                mine.map_or("not running it".into(), |x| format!(
                    "lastEvaluation {} health {}",
                    x["lastEvaluation"], x["rules"][0]["health"]
                ))
            ));
            let metrics = reqwest::get(format!("{}/metrics", m.url)).await;
            let text = match metrics {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            for l in text.lines().filter(|l| {
                !l.starts_with('#')
                    && (l.contains(&format!("\"g{g}\"")) || l.contains("datasource_req"))
            }) {
                said.push_str(&format!("  {l}\n"));
            }
        }
        panic!("group g{g} {what}\n{said}{}", self.logs());
    }
}

async fn every_group_exactly_r_times(r: usize) {
    let groups = 300;
    let Some(c) = Cluster::start(Spec::new(3, groups, r)).await else {
        return;
    };
    c.settled(groups).await;
    // One refresh round more: the members stop what they handed over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A window in which no group moved and no member skipped a tick: a probe timing out
    // on a loaded machine is a membership change, during which a group may run R±1
    // times (by design); an evaluation that overran its interval skips the next tick
    // (and says so), which is the machine's capacity, not the assignment.
    let mut attempts = 0;
    let (from, to) = loop {
        let before = c.disturbances().await;
        let from = now_ms();
        tokio::time::sleep(Duration::from_secs(5 * INTERVAL as u64)).await;
        let to = now_ms() - 1500;
        // Evaluations of the window's last ticks reach the query log when they finish.
        tokio::time::sleep(Duration::from_secs(INTERVAL as u64)).await;
        if c.disturbances().await == before {
            break (from, to);
        }
        attempts += 1;
        assert!(
            attempts < 5,
            "the membership never held still (or members skipped ticks) for 10 s\n{}",
            c.logs()
        );
        c.settled(groups).await;
    };
    c.assert_each_tick_exactly(groups, r, from, to).await;
    // Each group has R distinct owners, and the members' shares add up.
    let owners = c.owners().await;
    assert_eq!(owners.len(), groups);
    for (g, o) in &owners {
        let distinct: BTreeSet<&String> = o.iter().collect();
        assert_eq!(distinct.len(), r, "{g}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_members_evaluate_each_group_once_per_interval() {
    let _serial = one_at_a_time().await;
    every_group_exactly_r_times(1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_replication_two_each_group_runs_on_two_members() {
    let _serial = one_at_a_time().await;
    every_group_exactly_r_times(2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_members_groups_move_with_their_alerts() {
    let _serial = one_at_a_time().await;
    let groups = 60;
    let spec = Spec {
        for_: "2s",
        ..Spec::new(3, groups, 1)
    };
    let Some(mut c) = Cluster::start(spec).await else {
        return;
    };
    c.settled(groups).await;
    // Every alert firing at Alertmanager and paged once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while c
        .am_alerts()
        .await
        .values()
        .filter(|(_, s)| s == "active")
        .count()
        < groups
        || c.pages().0.len() < groups
    {
        assert!(
            std::time::Instant::now() < deadline,
            "alerts did not fire\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let before = c.am_alerts().await;
    let owners = c.owners().await;
    let victim = c.members.remove(2);
    let orphans: Vec<usize> = owners
        .iter()
        .filter(|(_, o)| o.first() == Some(&victim.addr))
        .filter_map(|(g, _)| g.trim_start_matches('g').parse().ok())
        .collect();
    assert!(!orphans.is_empty(), "the victim owned no group: {owners:?}");
    let mut victim = victim;
    let _ = victim.guard.child.kill();
    let _ = victim.guard.child.wait();
    let killed = now_ms();
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(4 * INTERVAL as u64)).await;
    // Its groups evaluated again by the survivors within two intervals.
    let evals = c.evaluations();
    for g in &orphans {
        let first = evals[g].range(killed..).next().map(|(&t, _)| t);
        let waited = first.map(|t| t - killed);
        assert!(
            waited.is_some_and(|w| w <= 2 * INTERVAL * 1000),
            "g{g} first evaluated {waited:?} ms after the kill\n{}",
            c.logs()
        );
    }
    c.assert_each_tick_exactly(groups, 1, killed + 3 * INTERVAL * 1000, now_ms() - 1500)
        .await;
    // Same alerts at Alertmanager, same startsAt; nothing resolved; nobody paged twice.
    let after = c.am_alerts().await;
    assert_eq!(
        after, before,
        "Alertmanager's alerts changed across the handover"
    );
    let (pages, statuses) = c.pages();
    assert_eq!(
        statuses,
        BTreeSet::from(["firing".to_string()]),
        "{pages:?}"
    );
    for (name, n) in &pages {
        assert_eq!(*n, 1, "{name} paged {n} times");
    }
}

/// Which member evaluates each group, from the members' own `?local=1` answers.
async fn placement(c: &Cluster) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in &c.members {
        let (_, v) = get_json(&format!("{}/api/v1/rules?local=1", m.url)).await;
        for g in v["data"]["groups"].as_array().into_iter().flatten() {
            out.insert(g["name"].as_str().unwrap_or("").to_string(), m.addr.clone());
        }
    }
    out
}

fn moved(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> usize {
    a.iter().filter(|(g, m)| b.get(*g) != Some(m)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_three_to_five_to_three_moves_only_what_must_move() {
    let _serial = one_at_a_time().await;
    // Enough groups that hashing noise stays well inside the 10% margin.
    let groups = 1500;
    let spec = Spec {
        interval: 20,
        ..Spec::new(3, groups, 1)
    };
    let Some(mut c) = Cluster::start(spec).await else {
        return;
    };
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let three = placement(&c).await;
    assert_eq!(three.len(), groups);
    let mut ports: Vec<u16> = c
        .members
        .iter()
        .map(|m| m.addr.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let new: Vec<u16> = (0..2).map(|_| free_port()).collect();
    ports.extend(&new);
    c.write_peers(&ports);
    for p in new {
        c.add_member(p).await;
    }
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let five = placement(&c).await;
    assert_eq!(five.len(), groups);
    let up = moved(&three, &five) as f64 / groups as f64;
    assert!(
        (up - 0.4).abs() <= 0.04,
        "3 → 5 moved {:.1}% of the groups; 40% must move",
        up * 100.0
    );
    // Nothing moved between old members.
    for (g, m) in &five {
        assert!(
            three.get(g) == Some(m) || c.members[3..].iter().any(|n| &n.addr == m),
            "{g} moved from {:?} to {m}, not to a new member",
            three.get(g)
        );
    }
    // Back to three: the two newest leave (first from the list, then they stop).
    ports.truncate(3);
    c.write_peers(&ports);
    c.members.truncate(3);
    c.settled(groups).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let back = placement(&c).await;
    assert_eq!(back.len(), groups);
    let down = moved(&five, &back) as f64 / groups as f64;
    assert!(
        (down - 0.4).abs() <= 0.04,
        "5 → 3 moved {:.1}% of the groups; 40% must move",
        down * 100.0
    );
    assert_eq!(
        back, three,
        "the same three members own the same groups again"
    );
}

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
