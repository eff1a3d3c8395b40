//! Checks the template engine against the stored conformance table: (template, labels,
//! value) → the exact text real Prometheus (promtool 2.42, or 3.5 where the two differ)
//! or vmalert (1.79, 1.145) produced, or, for functions no peer has, the output Go
//! semantics give. Regenerate the peer-sourced expectations with
//! integration/template-golden.sh.

mod support;

use std::collections::BTreeMap;

use serde::Deserialize;
use tocsin::labels::Labels;
use tocsin::sample::Sample;
use tocsin::template::{Context, Template, TemplateQuerier};

#[derive(Deserialize)]
struct Case {
    id: String,
    kind: String,
    source: String,
    template: String,
    labels: BTreeMap<String, String>,
    value: String,
    expected: String,
}

#[derive(Deserialize)]
struct SeriesFile {
    external_labels: BTreeMap<String, String>,
    external_url: String,
    series: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Answers `query` the way promtool does for a bare metric name: the input series of
/// that name, in label order.
struct FakeQuerier(Vec<Sample>);

/// Parses the selectors the cases use: `name` or `name{l="v",…}` (equality only).
fn parse_selector(expr: &str) -> Option<Vec<(String, String)>> {
    let (name, rest) = match expr.find('{') {
        Some(i) => (&expr[..i], expr[i + 1..].strip_suffix('}')?),
        None => (expr, ""),
    };
    let mut m = vec![("__name__".to_string(), name.trim().to_string())];
    for pair in rest.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair.split_once('=')?;
        m.push((k.trim().to_string(), serde_json::from_str(v.trim()).ok()?));
    }
    Some(m)
}

impl TemplateQuerier for FakeQuerier {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let Some(matchers) = parse_selector(expr) else {
            return Err(format!("test querier cannot evaluate {expr:?}"));
        };
        let mut v: Vec<Sample> = self
            .0
            .iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|(k, val)| s.labels.get(k) == Some(val.as_str()))
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(v)
    }
}

fn fake_querier(env: &SeriesFile) -> FakeQuerier {
    FakeQuerier(
        env.series
            .iter()
            .map(|s| Sample {
                labels: Labels::from_pairs(s.labels.clone()),
                value: s.value,
                timestamp_ms: 0,
            })
            .collect(),
    )
}

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/templates")
}

fn load() -> (Vec<Case>, SeriesFile) {
    let text = std::fs::read_to_string(data_dir().join("cases.jsonl")).expect("cases.jsonl");
    let cases = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case line"))
        .collect();
    let series = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("series.json")).expect("series.json"),
    )
    .expect("series.json");
    (cases, series)
}

#[test]
fn conformance_table_matches_prometheus() {
    let (cases, env) = load();
    assert!(cases.len() >= 200, "table has {} cases", cases.len());
    let ids: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), cases.len(), "case ids must be unique");
    let ext = Labels::from_pairs(env.external_labels.clone());
    let querier = fake_querier(&env);
    let mut failures = Vec::new();
    for c in &cases {
        // Prometheus hands alert templates the raw sample labels, `__name__` included.
        let mut labels = c.labels.clone();
        labels.insert("__name__".into(), format!("case_{}", c.id));
        let labels = Labels::from_pairs(labels);
        let value: f64 = c
            .value
            .parse()
            .unwrap_or_else(|_| panic!("{}: bad value {}", c.id, c.value));
        let parsed = Template::parse(&format!("__alert_{}", c.id), &c.template);
        if c.kind == "parse_error" {
            // Go reports the line only: "LINE: MESSAGE".
            match parsed {
                Ok(_) => failures.push(format!(
                    "{} parsed, want error {:?}: {:?}",
                    c.id, c.expected, c.template
                )),
                Err(e) if format!("{}: {}", e.line, e.message) != c.expected => {
                    failures.push(format!(
                        "{} {:?}\n    want {:?}\n    got  {:?}",
                        c.id,
                        c.template,
                        c.expected,
                        format!("{}: {}", e.line, e.message)
                    ))
                }
                Err(_) => {}
            }
            continue;
        }
        let t = match parsed {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{} parse error {e}: {:?}", c.id, c.template));
                continue;
            }
        };
        // vmalert's `$expr` is the rule's expression; the generated rules use `case_<id>`.
        let expr = format!("case_{}", c.id);
        let ctx = Context {
            expr: &expr,
            external_labels: &ext,
            external_url: &env.external_url,
            querier: Some(&querier),
            ..Context::new(&labels, value)
        };
        // A template the reference rendered without error must not draw a warning.
        if !c.expected.starts_with("<error expanding template") && !t.warnings().is_empty() {
            failures.push(format!(
                "{} false warning {:?}: {:?}",
                c.id,
                t.warnings(),
                c.template
            ));
        }
        let got = t.render(&ctx);
        if got != c.expected {
            failures.push(format!(
                "{} [{} {}] {:?} value={}\n    want {:?}\n    got  {:?}",
                c.id, c.kind, c.source, c.template, c.value, c.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A YAML double-quoted scalar (JSON syntax is valid YAML).
fn yq(s: &str) -> String {
    serde_json::to_string(s).expect("string serializes")
}

fn selector(name: &str, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", yq(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Decodes the Go-quoted string that starts at `s` (just after the opening quote).
fn go_unquote(s: &str) -> Option<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return String::from_utf8(out).ok(),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'\\' | b'"' | b'\'' => out.push(e),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let code = u32::from_str_radix(s.get(i..i + n)?, 16).ok()?;
                        i += n;
                        if e == b'x' {
                            out.push(code as u8);
                        } else {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(
                                char::from_u32(code)?.encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                    }
                    _ => return None,
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Re-derives a sample of the table live from promtool 2.42 and compares our output with
/// it directly, so the check does not rest on the stored expectations alone.
#[test]
fn sample_rederived_live_from_promtool() {
    let Some(promtool) = support::peers::peer_or_skip("promtool") else {
        return;
    };
    let (cases, env) = load();
    let sample: Vec<&Case> = cases
        .iter()
        .filter(|c| c.source == "promtool-2.42" && c.kind != "parse_error")
        .step_by(7)
        .collect();
    rederive_live(&promtool, &sample, &env);
}

/// Prometheus 3.5 wins where it and 2.42 disagree: every case written for 3.5 and a
/// sample of the 2.42 ones (which 3.5 renders alike, or they would be 3.5 cases) are
/// re-derived live from promtool 3.5.
#[test]
fn sample_rederived_live_from_promtool_3() {
    let Some(promtool) = support::peers::sid_peer_or_skip("promtool") else {
        return;
    };
    let (cases, env) = load();
    let output = |c: &&Case| c.kind != "parse_error";
    let mut sample: Vec<&Case> = cases
        .iter()
        .filter(|c| c.source == "promtool-3.5")
        .filter(output)
        .collect();
    sample.extend(
        cases
            .iter()
            .filter(|c| c.source == "promtool-2.42")
            .filter(output)
            .step_by(7),
    );
    rederive_live(&promtool, &sample, &env);
}

/// Renders `sample` through `promtool test rules` and compares each with our output.
fn rederive_live(promtool: &std::path::Path, sample: &[&Case], env: &SeriesFile) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rules = String::from("groups:\n- name: live\n  rules:\n");
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  external_labels: {}\n  external_url: {}\n  input_series:\n",
        serde_json::to_string(&env.external_labels).expect("labels"),
        yq(&env.external_url)
    );
    for s in &env.series {
        let mut l = s.labels.clone();
        let name = l.remove("__name__").unwrap_or_default();
        test += &format!(
            "  - series: {}\n    values: {}\n",
            yq(&selector(&name, &l)),
            yq(&s.value.to_string())
        );
    }
    for c in sample {
        rules += &format!(
            "  - alert: {}\n    expr: case_{}\n    annotations:\n      a: {}\n",
            c.id,
            c.id,
            yq(&c.template)
        );
        test += &format!(
            "  - series: {}\n    values: {}\n",
            yq(&selector(&format!("case_{}", c.id), &c.labels)),
            yq(&c.value)
        );
    }
    test += "  alert_rule_test:\n";
    for c in sample {
        test += &format!(
            "  - eval_time: 0m\n    alertname: {}\n    exp_alerts: [{{exp_labels: {{}}, exp_annotations: {{a: \"__never__\"}}}}]\n",
            c.id
        );
    }
    std::fs::write(dir.path().join("rules.yml"), rules).expect("write rules");
    std::fs::write(dir.path().join("test.yml"), test).expect("write test");
    let out = std::process::Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .expect("run promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);

    let ext = Labels::from_pairs(env.external_labels.clone());
    let mut checked = 0;
    for c in sample {
        let marker = format!("alertname: {}, time:", c.id);
        let start = text
            .find(&marker)
            .unwrap_or_else(|| panic!("{}: no promtool report:\n{text}", c.id));
        let got_at = start + text[start..].find("got:[").expect("got section");
        let ann = got_at
            + text[got_at..]
                .find("Annotations:{a=\"")
                .expect("annotation")
            + "Annotations:{a=\"".len();
        let promtool_out = go_unquote(&text[ann..]).expect("quoted annotation");

        let mut labels = c.labels.clone();
        labels.insert("__name__".into(), format!("case_{}", c.id));
        let labels = Labels::from_pairs(labels);
        let t = Template::parse(&format!("__alert_{}", c.id), &c.template).expect("parses");
        let querier = fake_querier(env);
        let ctx = Context {
            external_labels: &ext,
            external_url: &env.external_url,
            querier: Some(&querier),
            ..Context::new(&labels, c.value.parse().expect("value"))
        };
        assert_eq!(t.render(&ctx), promtool_out, "{}: {:?}", c.id, c.template);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} live cases");
    assert_eq!(checked, sample.len());
}

/// `$isPartial` being true needs an answer marked partial, which a single-node
/// VictoriaMetrics never gives: a datasource that marks every answer `"isPartial": true`
/// feeds a live vmalert 1.145 and tocsin the same rule, and both render the same text
/// (and `false` from an answer without the mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_partial_renders_as_vmalert_145_renders_it() {
    use support::fake_http::{datasource_answering, partial_datasource_answering};
    use support::http::summary_becomes;
    use support::servers::{start_tocsin, start_vmalert};

    let Some(vmalert_bin) = support::peers::sid_peer_or_skip("vmalert") else {
        return;
    };
    let rules = "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: Down\n    expr: up == 0\n    annotations:\n      summary: '{{ if $isPartial }}partial{{ else }}whole{{ end }} {{ $isPartial }}'\n";
    let metric = r#"{"__name__":"up","instance":"db1"}"#;
    let cases = [
        (
            partial_datasource_answering(metric, "0").await,
            "partial true",
        ),
        (datasource_answering(metric, "0").await, "whole false"),
    ];
    for (ds, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.yml");
        std::fs::write(&file, rules).unwrap();
        let args = vec![
            format!("-rule={}", file.display()),
            format!("-datasource.url={ds}"),
            "-notifier.blackhole".to_string(),
        ];
        let (tocsin, ours) = start_tocsin(&args, dir.path(), "tocsin")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (vmalert, theirs) = start_vmalert(&vmalert_bin, &args, dir.path()).await;
        summary_becomes(&theirs, want, &vmalert).await;
        summary_becomes(&ours, want, &tocsin).await;
    }
}
