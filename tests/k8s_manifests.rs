//! `integration/k8s/`, the manifests users apply: every document passes Kubernetes'
//! schemas (kubernetes-validate from PyPI, strict: an unknown or mistyped field fails), and
//! the pieces fit together as tocsin needs them. Each tocsin StatefulSet, run as each of its
//! pods (the pod name Kubernetes substitutes for `$(POD_NAME)`), passes `tocsin -dryRun`
//! over the rules of the ConfigMap it mounts; the members find each other through the SRV
//! records of the headless Service; the PodDisruptionBudget covers them; the
//! high-availability example sends to every replica of an Alertmanager cluster whose
//! configuration the real `amtool` accepts.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::peers::{kubernetes_validate_or_skip, peer_or_skip};

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/k8s")
}

/// Every YAML file under `integration/k8s/`, sorted.
fn files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("integration/k8s is readable") {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&k8s_dir(), &mut out);
    out.sort();
    out
}

/// Every document of every file, with the file it is in.
fn documents() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for f in files() {
        let text = std::fs::read_to_string(&f).expect("manifest is readable");
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", f.display()));
        out.extend(docs.into_iter().map(|d| (f.clone(), d)));
    }
    out
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The one object of `kind` named `name` in `namespace`.
fn object<'a>(docs: &'a [(PathBuf, Value)], kind: &str, name: &str, namespace: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| {
            s(&d["kind"]) == kind
                && s(&d["metadata"]["name"]) == name
                && s(&d["metadata"]["namespace"]) == namespace
        })
        .collect();
    assert_eq!(found.len(), 1, "{kind} {namespace}/{name}: {found:?}");
    found[0]
}

/// The StatefulSets whose first container is named `container`, with their files.
fn statefulsets<'a>(docs: &'a [(PathBuf, Value)], container: &str) -> Vec<(&'a Path, &'a Value)> {
    let out: Vec<_> = docs
        .iter()
        .filter(|(_, d)| {
            s(&d["kind"]) == "StatefulSet" && s(&pod(d)["containers"][0]["name"]) == container
        })
        .map(|(f, d)| (f.as_path(), d))
        .collect();
    assert!(!out.is_empty(), "no StatefulSet runs {container}");
    out
}

fn pod(set: &Value) -> &Value {
    &set["spec"]["template"]["spec"]
}

fn args(set: &Value) -> Vec<String> {
    pod(set)["containers"][0]["args"]
        .as_array()
        .expect("the container has args")
        .iter()
        .map(|a| s(a).to_string())
        .collect()
}

/// The values of `-flag=` among `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}=");
    args.iter()
        .filter_map(|a| a.strip_prefix(&prefix))
        .collect()
}

fn one_flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let v = flag(args, name);
    assert_eq!(v.len(), 1, "{name} in {args:?}");
    v[0]
}

/// Whether `selector` (matchLabels, or a Service's selector) picks `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_object().expect("a selector");
    !sel.is_empty() && sel.iter().all(|(k, v)| labels[k] == *v)
}

fn run(bin: &Path, args: &[String]) -> Output {
    Command::new(bin).args(args).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_document_passes_the_kubernetes_schemas() {
    let Some(validate) = kubernetes_validate_or_skip() else {
        return;
    };
    let docs = documents().len();
    assert!(docs >= 10, "only {docs} documents");
    let files: Vec<String> = files().iter().map(|f| f.display().to_string()).collect();
    // Today's Kubernetes and an older one still in use.
    for version in ["1.37.0", "1.30.0"] {
        let mut a = vec!["--strict".to_string(), "-k".into(), version.into()];
        a.extend(files.iter().cloned());
        let o = run(&validate, &a);
        let out = text(&o);
        assert!(o.status.success(), "Kubernetes {version}:\n{out}");
        let passed = out.matches(" passed for resource ").count();
        assert_eq!(passed, docs, "every document validated:\n{out}");
    }
    // The check is strict: a mistyped field of the StatefulSet fails it.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("statefulset.yaml");
    let good = std::fs::read_to_string(k8s_dir().join("statefulset.yaml")).expect("read");
    std::fs::write(&bad, good.replace("serviceName:", "servicename:")).expect("write");
    let o = run(&validate, &["--strict".into(), bad.display().to_string()]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("servicename"), "{}", text(&o));
}

/// Writes the files of the ConfigMap mounted at the directory of `-rule` into `dir`, and
/// returns `-rule` pointing there.
fn rules_from_configmap(docs: &[(PathBuf, Value)], set: &Value, rule: &str, dir: &Path) -> String {
    let ns = s(&set["metadata"]["namespace"]);
    let (mount_dir, pattern) = rule.rsplit_once('/').expect("-rule is a path");
    let c = &pod(set)["containers"][0];
    let mount = c["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| s(&m["mountPath"]) == mount_dir))
        .unwrap_or_else(|| panic!("nothing is mounted at {mount_dir}"));
    assert!(
        mount["subPath"].is_null(),
        "a subPath mount is never updated when the ConfigMap changes"
    );
    let volume = pod(set)["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == mount["name"]))
        .expect("the mounted volume");
    let cm = object(docs, "ConfigMap", s(&volume["configMap"]["name"]), ns);
    let data = cm["data"].as_object().expect("the ConfigMap has data");
    assert!(!data.is_empty());
    for (name, content) in data {
        std::fs::write(dir.join(name), s(content)).expect("write rule file");
    }
    format!("-rule={}/{pattern}", dir.display())
}

#[test]
fn every_pod_of_each_tocsin_statefulset_passes_dry_run() {
    let docs = documents();
    let tocsin = Path::new(env!("CARGO_BIN_EXE_tocsin"));
    for (file, set) in statefulsets(&docs, "tocsin") {
        let name = s(&set["metadata"]["name"]);
        let replicas = set["spec"]["replicas"].as_u64().expect("replicas") as usize;
        let given = args(set);
        assert_eq!(
            s(&pod(set)["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"]),
            "metadata.name",
            "{}: POD_NAME is the pod's name",
            file.display()
        );
        // Static sharding: as many members as replicas, numbered by the pod name.
        assert_eq!(
            one_flag(&given, "-cluster.membersCount"),
            replicas.to_string()
        );
        assert_eq!(one_flag(&given, "-cluster.memberNum"), "$(POD_NAME)");
        let r: usize = one_flag(&given, "-cluster.replicationFactor")
            .parse()
            .expect("R");
        assert!(r >= 1 && r <= replicas);
        let dir = tempfile::tempdir().expect("tempdir");
        let rule = rules_from_configmap(&docs, set, one_flag(&given, "-rule"), dir.path());
        let as_pod = |i: usize| -> Vec<String> {
            let mut a: Vec<String> = given
                .iter()
                .filter(|a| !a.starts_with("-rule="))
                .map(|a| a.replace("$(POD_NAME)", &format!("{name}-{i}")))
                .collect();
            a.push(rule.clone());
            a.push("-dryRun".into());
            a
        };
        let each = format!("each group on {r} member{}", if r == 1 { "" } else { "s" });
        for i in 0..replicas {
            let o = run(tocsin, &as_pod(i));
            let out = text(&o);
            assert!(o.status.success(), "{} as pod {i}:\n{out}", file.display());
            assert!(
                out.contains(&format!("member {i} of {replicas} (static)")),
                "{out}"
            );
            assert!(out.contains(&each), "{out}");
            assert!(out.contains("all valid"), "{out}");
        }
        // One more pod (replicas raised, -cluster.membersCount forgotten) does not start.
        let o = run(tocsin, &as_pod(replicas));
        assert!(!o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("-cluster.membersCount"), "{}", text(&o));
    }
}

#[test]
fn the_members_find_each_other_through_the_headless_service() {
    let docs = documents();
    for (file, set) in statefulsets(&docs, "tocsin") {
        let ns = s(&set["metadata"]["namespace"]);
        let svc_name = s(&set["spec"]["serviceName"]);
        let svc = object(&docs, "Service", svc_name, ns);
        let labels = &set["spec"]["template"]["metadata"]["labels"];
        assert_eq!(s(&svc["spec"]["clusterIP"]), "None", "headless");
        assert_eq!(svc["spec"]["publishNotReadyAddresses"], true);
        assert!(selects(&svc["spec"]["selector"], labels));
        assert!(selects(&set["spec"]["selector"]["matchLabels"], labels));
        let c = &pod(set)["containers"][0];
        let port = &svc["spec"]["ports"][0];
        let container_ports: BTreeSet<&str> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| s(&p["name"]))
            .collect();
        assert!(container_ports.contains(s(&port["targetPort"])));
        // SRV records of a headless Service: _<port name>._tcp.<service>.<namespace>.svc…
        let srv = format!(
            "dns+srv://_{}._tcp.{svc_name}.{ns}.svc.cluster.local",
            s(&port["name"])
        );
        assert_eq!(
            one_flag(&args(set), "-cluster.peers"),
            srv,
            "{}",
            file.display()
        );
        // A pod counts (for the Service and for the other members) once its rules load.
        assert_eq!(s(&c["readinessProbe"]["httpGet"]["path"]), "/-/ready");
        assert!(container_ports.contains(s(&c["readinessProbe"]["httpGet"]["port"])));
        let given = args(set);
        let listen = one_flag(&given, "-httpListenAddr");
        let port_number = c["ports"][0]["containerPort"].as_u64().expect("port");
        assert_eq!(listen, format!(":{port_number}"));
        // Voluntary disruptions take one member at a time.
        let pdb = docs
            .iter()
            .map(|(_, d)| d)
            .find(|d| {
                s(&d["kind"]) == "PodDisruptionBudget"
                    && s(&d["metadata"]["namespace"]) == ns
                    && selects(&d["spec"]["selector"]["matchLabels"], labels)
            })
            .expect("a PodDisruptionBudget covers the members");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    }
}

#[test]
fn the_ha_example_sends_to_every_replica_of_a_checked_alertmanager_cluster() {
    let docs = documents();
    let ha: Vec<_> = statefulsets(&docs, "tocsin")
        .into_iter()
        .filter(|(f, _)| f.parent().is_some_and(|d| d.ends_with("ha")))
        .collect();
    assert_eq!(
        ha.len(),
        1,
        "integration/k8s/ha/ has one tocsin StatefulSet"
    );
    let set = ha[0].1;
    let given = args(set);
    assert!(
        one_flag(&given, "-cluster.replicationFactor")
            .parse::<usize>()
            .expect("R")
            >= 2
    );
    let (_, am) = statefulsets(&docs, "alertmanager")[0];
    let ns = s(&am["metadata"]["namespace"]);
    let name = s(&am["metadata"]["name"]);
    let svc = s(&am["spec"]["serviceName"]);
    let n = am["spec"]["replicas"].as_u64().expect("replicas");
    assert!(n >= 2, "an Alertmanager cluster");
    let hosts: BTreeSet<String> = (0..n)
        .map(|i| format!("{name}-{i}.{svc}.{ns}.svc.cluster.local"))
        .collect();
    // tocsin sends each alert to every Alertmanager, not to one behind a Service.
    let notifiers: BTreeSet<String> = flag(&given, "-notifier.url")
        .iter()
        .map(|u| {
            let host = u.strip_prefix("http://").expect("http URL");
            host.rsplit_once(':').expect("host:port").0.to_string()
        })
        .collect();
    assert_eq!(notifiers, hosts);
    // The Alertmanagers gossip with every replica.
    let am_args = args(am);
    let peers: BTreeSet<String> = flag(&am_args, "--cluster.peer")
        .iter()
        .map(|p| p.rsplit_once(':').expect("host:port").0.to_string())
        .collect();
    assert_eq!(peers, hosts);
    // The Alertmanager configuration is one the real amtool accepts.
    let Some(amtool) = peer_or_skip("amtool") else {
        return;
    };
    let config = one_flag(&am_args, "--config.file");
    let (dir, key) = config.rsplit_once('/').expect("a path");
    let mounts: BTreeMap<&str, &str> = pod(am)["containers"][0]["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (s(&m["mountPath"]), s(&m["name"])))
        .collect();
    let volume = pod(am)["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| s(&v["name"]) == mounts[dir]))
        .expect("the config volume");
    let cm = object(&docs, "ConfigMap", s(&volume["configMap"]["name"]), ns);
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(key);
    std::fs::write(&path, s(&cm["data"][key])).expect("write");
    let o = run(
        &amtool,
        &["check-config".into(), path.display().to_string()],
    );
    assert!(o.status.success(), "amtool:\n{}", text(&o));
}
