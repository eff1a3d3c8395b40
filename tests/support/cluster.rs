//! A cluster of tocsin processes on loopback for the `cluster_*` tests: a real Prometheus
//! (whose query log counts every evaluation of every group), a real Alertmanager (whose
//! webhook notifications count pages), and members found through a peer file or DNS;
//! what each member says (status, owners, placement, metrics) and what the datasource
//! and Alertmanager saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::fake_http::{Canned, FakeHttp, fake_http};
use super::http::get_json;
use super::peers::{ChildGuard, free_port, peer_or_skip};
use super::servers::{start_alertmanager_with, start_prometheus_with, start_tocsin_at};

/// Evaluation interval of the groups, in seconds (the scaling test uses a longer one).
pub const INTERVAL: i64 = 2;

/// The tests here start up to seven processes each and count evaluations per interval:
/// they run one at a time, so that they do not slow each other down on a small machine.
/// (An async mutex: the guard is held across the test's awaits, and a failed test
/// does not poison it for the others.)
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// What every alert looks like at Alertmanager (name → startsAt, state) and in the
/// cluster-wide API (name → state, activeAt).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStates {
    pub am: BTreeMap<String, (String, String)>,
    pub api: BTreeMap<String, (String, String)>,
}

/// The DNS name whose SRV records list the members under [`Spec::dns`].
pub const MEMBERS_NAME: &str = "members.test";

/// How the members find each other.
#[derive(Clone, Copy, PartialEq)]
pub enum Membership {
    /// The ready peers of the peer file.
    Dynamic,
    /// `-cluster.membersCount` and `-cluster.memberNum`; the peer file serves the API.
    Static,
}

pub struct Member {
    pub guard: ChildGuard,
    pub url: String,
    pub addr: String,
}

pub struct Cluster {
    // Fields drop in order: the members stop first, the directory goes last.
    pub members: Vec<Member>,
    _am: ChildGuard,
    _prom: ChildGuard,
    pub dir: tempfile::TempDir,
    pub prom_url: String,
    pub am_url: String,
    pub hook: FakeHttp,
    pub rules: PathBuf,
    pub peers: PathBuf,
    pub replication: usize,
    pub membership: Membership,
    /// Where members find each other: the peer file unless [`Spec::dns`].
    dns: Option<SocketAddr>,
    /// `-cluster.membersCount` of each member under static sharding (by start order).
    counts: Vec<usize>,
    /// Members started so far (the static member number of the next one).
    started: usize,
}

/// `groups` groups of one alerting rule each, `G<i>` firing `vector(<i>) > 0` after `for`,
/// every `interval` seconds.
pub fn rule_file(groups: usize, for_: &str, interval: i64) -> String {
    let mut s = String::from("groups:\n");
    for i in 1..=groups {
        s.push_str(&format!(
            "- name: g{i}\n  interval: {interval}s\n  rules:\n  - alert: G{i}\n    expr: vector({i}) > 0\n    for: {for_}\n"
        ));
    }
    s
}

/// What a test's cluster looks like.
pub struct Spec {
    pub members: usize,
    pub groups: usize,
    pub replication: usize,
    pub for_: &'static str,
    pub interval: i64,
    pub membership: Membership,
    /// `-cluster.membersCount` of each member (static sharding); empty: `members` for all.
    pub counts: Vec<usize>,
    /// Members find each other through `dns+srv://members.test` at this DNS server
    /// (`-dns.server`), whose records the test sets, instead of the peer file.
    pub dns: Option<SocketAddr>,
}

impl Spec {
    pub fn new(members: usize, groups: usize, replication: usize) -> Spec {
        Spec {
            members,
            groups,
            replication,
            for_: "0s",
            interval: INTERVAL,
            membership: Membership::Dynamic,
            counts: Vec::new(),
            dns: None,
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Cluster {
    /// Prometheus (query log on), Alertmanager (one page per alert name to a webhook),
    /// and `n` members sharing `groups` groups with `replication`, found through a peer
    /// file.
    pub async fn start(spec: Spec) -> Option<Cluster> {
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
        let counts = match spec.counts.is_empty() {
            true => vec![n; n],
            false => spec.counts,
        };
        let mut c = Cluster {
            members: Vec::new(),
            _am: am,
            _prom: prom,
            dir,
            prom_url,
            am_url,
            hook,
            rules,
            peers,
            replication: spec.replication,
            membership: spec.membership,
            dns: spec.dns,
            counts,
            started: 0,
        };
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        c.write_peers(&ports);
        for p in ports {
            c.add_member(p).await;
        }
        Some(c)
    }

    pub fn write_peers(&self, ports: &[u16]) {
        let text: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
        std::fs::write(&self.peers, text).expect("peer file");
    }

    pub async fn add_member(&mut self, port: u16) {
        let args = vec![
            format!("-rule={}", self.rules.display()),
            format!("-datasource.url={}", self.prom_url),
            format!("-remoteWrite.url={}", self.prom_url),
            format!("-remoteRead.url={}", self.prom_url),
            format!("-notifier.url={}", self.am_url),
            format!("-cluster.replicationFactor={}", self.replication),
            "-cluster.refreshInterval=500ms".into(),
            // Generous: a probe that times out on a loaded machine drops a live member
            // from the view for a round, which moves groups (as it would in production).
            "-cluster.requestTimeout=1500ms".into(),
            "-remoteWrite.flushInterval=200ms".into(),
        ];
        let mut args = args;
        match self.dns {
            None => args.push(format!("-cluster.peers=file://{}", self.peers.display())),
            Some(server) => args.extend([
                format!("-cluster.peers=dns+srv://{MEMBERS_NAME}"),
                format!("-dns.server={server}"),
            ]),
        }
        if self.membership == Membership::Static {
            let count = self
                .counts
                .get(self.started)
                .copied()
                .unwrap_or(self.started + 1);
            args.push(format!("-cluster.membersCount={count}"));
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
    pub async fn settled(&self, groups: usize) {
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
    pub async fn counter(&self, name: &str) -> u64 {
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
    pub async fn disturbances(&self) -> (u64, u64) {
        (
            self.counter("tocsin_cluster_handovers_total").await,
            self.counter("tocsin_group_iterations_missed_total").await,
        )
    }

    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| m.guard.log_tail(15))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Evaluations per group seen by the datasource: group → evaluation time → count.
    pub fn evaluations(&self) -> BTreeMap<usize, BTreeMap<i64, usize>> {
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
    pub async fn owners(&self) -> HashMap<String, Vec<String>> {
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

    /// The alerts of the cluster-wide API of the first member: alert name → (state,
    /// activeAt in whole seconds: `ALERTS_FOR_STATE` carries it so, as Prometheus
    /// writes it, and a restored alert has it from there); `None` while the answer is
    /// partial.
    pub async fn api_alerts(&self) -> Option<BTreeMap<String, (String, String)>> {
        let (_, v) = get_json(&format!("{}/api/v1/alerts", self.members[0].url)).await;
        if v["data"]["partial"] != false {
            return None;
        }
        let alerts = v["data"]["alerts"].as_array()?;
        let s = |a: &Value, k: &str| a[k].as_str().unwrap_or("").to_string();
        Some(
            alerts
                .iter()
                .map(|a| {
                    let name = a["labels"]["alertname"].as_str().unwrap_or("");
                    let since = chrono::DateTime::parse_from_rfc3339(&s(a, "activeAt"))
                        .map(|t| t.timestamp().to_string())
                        .unwrap_or_default();
                    (name.to_string(), (s(a, "state"), since))
                })
                .collect(),
        )
    }

    /// The state every alert has, at Alertmanager (`startsAt`) and in the cluster-wide
    /// API (`activeAt`), once all `n` alerts fire.
    pub async fn firing_state(&self, n: usize) -> AlertStates {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let am = self.am_alerts().await;
            let api = self.api_alerts().await.unwrap_or_default();
            let active = am.values().filter(|(_, s)| s == "active").count();
            let firing = api.values().filter(|(s, _)| s == "firing").count();
            if active == n && firing == n {
                return AlertStates { am, api };
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{active} of {n} alerts active at Alertmanager, {firing} firing\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until Alertmanager and the cluster-wide API show `before` again (the alerts
    /// of moved groups are restored at their first evaluation on the new owner, which
    /// may be up to an interval away); fails with what differs after `interval_s × 3 +
    /// 30` seconds.
    pub async fn assert_state_kept(&self, before: &AlertStates, interval_s: i64, what: &str) {
        let wait = Duration::from_secs((interval_s * 3 + 30) as u64);
        let deadline = std::time::Instant::now() + wait;
        loop {
            let am = self.am_alerts().await;
            let api = self.api_alerts().await.unwrap_or_default();
            if am == before.am && api == before.api {
                return;
            }
            if std::time::Instant::now() > deadline {
                let diff = |a: &BTreeMap<String, (String, String)>,
                            b: &BTreeMap<String, (String, String)>| {
                    let d: Vec<String> = a
                        .iter()
                        .filter(|(k, v)| b.get(*k) != Some(*v))
                        .take(5)
                        .map(|(k, v)| format!("{k}: {v:?} now {:?}", b.get(k)))
                        .collect();
                    d.join("; ")
                };
                panic!(
                    "{what}: alert state changed\nAlertmanager (startsAt, state): {}\nAPI (state, activeAt): {}\n{}",
                    diff(&before.am, &am),
                    diff(&before.api, &api),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The alerts Alertmanager holds: alert name → (startsAt, state).
    pub async fn am_alerts(&self) -> BTreeMap<String, (String, String)> {
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
    pub fn pages(&self) -> (BTreeMap<String, usize>, BTreeSet<String>) {
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
pub fn each_tick_exactly(
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
    pub async fn assert_each_tick_exactly(&self, groups: usize, r: usize, from: i64, to: i64) {
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

/// Which member evaluates each group, from the members' own `?local=1` answers.
pub async fn placement(c: &Cluster) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in &c.members {
        let (_, v) = get_json(&format!("{}/api/v1/rules?local=1", m.url)).await;
        for g in v["data"]["groups"].as_array().into_iter().flatten() {
            out.insert(g["name"].as_str().unwrap_or("").to_string(), m.addr.clone());
        }
    }
    out
}

pub fn moved(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> usize {
    a.iter().filter(|(g, m)| b.get(*g) != Some(m)).count()
}
