//! Runs Prometheus 3.5's own PromQL test suite (`promql/promqltest/testdata/*.test`,
//! installed from Debian sid by integration/install-peers.sh) through tocsin's engine.
//!
//! - Every case recorded in `tests/data/promql/conformance-pass.txt` must pass: a case
//!   that passed and now fails fails the build.
//! - At least 95% of the cases without native histograms must pass.
//! - Every failing case must be listed, with its reason, in `docs/promql.md`, and
//!   every case listed there must still fail (so the document stays true).
//!
//! `TOCSIN_UPDATE_PROMQL_PASS=1` rewrites the pass list from the current results.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tocsin::promql::promqltest::{Outcome, parse, run};

const PASS_LIST: &str = "tests/data/promql/conformance-pass.txt";
const DOC: &str = "docs/promql.md";

fn testdata() -> Option<PathBuf> {
    let sid = std::env::var("TOCSIN_PEERS_SID_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(".peers/sid/usr/bin"));
    let dir =
        sid.join("../share/gocode/src/github.com/prometheus/prometheus/promql/promqltest/testdata");
    dir.is_dir().then_some(dir)
}

struct Results {
    pass: BTreeSet<String>,
    fail: Vec<(String, String)>,
    native: usize,
}

fn run_all(dir: &PathBuf) -> Results {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read testdata")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let mut r = Results {
        pass: BTreeSet::new(),
        fail: Vec::new(),
        native: 0,
    };
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).expect("read test file");
        let commands = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let started = std::time::Instant::now();
        let reports = run(&commands);
        let count = |f: fn(&Outcome) -> bool| reports.iter().filter(|r| f(&r.outcome)).count();
        eprintln!(
            "{name}: {} passed, {} failed, {} native, in {:?}",
            count(|o| *o == Outcome::Pass),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| *o == Outcome::Native),
            started.elapsed()
        );
        for rep in reports {
            let id = format!("{name}:{}", rep.line);
            match rep.outcome {
                _ if name == "native_histograms.test" => r.native += 1,
                Outcome::Native => r.native += 1,
                Outcome::Pass => {
                    r.pass.insert(id);
                }
                Outcome::Fail(m) => r.fail.push((id, format!("{} — {m}", rep.expr))),
            }
        }
    }
    r
}

#[test]
fn prometheus_promql_suite() {
    let Some(dir) = testdata() else {
        assert!(
            std::env::var("CI").is_err(),
            "Prometheus' PromQL test files are missing: run integration/install-peers.sh"
        );
        eprintln!("skipping: Prometheus' PromQL test files are not installed");
        return;
    };
    let started = std::time::Instant::now();
    let r = run_all(&dir);
    let total = r.pass.len() + r.fail.len();
    eprintln!(
        "PromQL conformance: {} of {total} passed ({:.1}%), {} failed, {} native-histogram cases excluded, in {:?}",
        r.pass.len(),
        100.0 * r.pass.len() as f64 / total.max(1) as f64,
        r.fail.len(),
        r.native,
        started.elapsed()
    );
    for (id, why) in &r.fail {
        eprintln!("FAIL {id}: {why}");
    }
    if std::env::var("TOCSIN_UPDATE_PROMQL_PASS").is_ok() {
        let text: String = r.pass.iter().map(|id| format!("{id}\n")).collect();
        std::fs::write(PASS_LIST, text).expect("write pass list");
    }
    let recorded: BTreeSet<String> = std::fs::read_to_string(PASS_LIST)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let regressed: Vec<&(String, String)> = r
        .fail
        .iter()
        .filter(|(id, _)| recorded.contains(id))
        .collect();
    assert!(
        regressed.is_empty(),
        "cases that passed now fail: {regressed:#?}"
    );
    assert!(
        r.pass.len() * 100 >= total * 95,
        "only {} of {total} cases pass",
        r.pass.len()
    );
    let doc = std::fs::read_to_string(DOC).expect("read docs/promql.md");
    let undocumented: Vec<&String> = r
        .fail
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "failing cases missing from {DOC}: {undocumented:?}"
    );
    let now_passing: Vec<&String> = r
        .pass
        .iter()
        .filter(|id| doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        now_passing.is_empty(),
        "{DOC} lists cases that now pass: {now_passing:?}"
    );
}
