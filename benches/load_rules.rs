//! Load + validate the 10,000-rule file from `/work/shared/bench/mkrules.py 500 20 10s`
//! (regenerated into a temp dir when `TOCSIN_BENCH_RULES` does not name one), to keep
//! start-up and reloads cheap. Run: `cargo bench --bench load_rules`.

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use tocsin::config::{LoadOptions, load};

fn rules_file(dir: &tempfile::TempDir) -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_BENCH_RULES") {
        return PathBuf::from(p);
    }
    let script = std::env::var("TOCSIN_MKRULES")
        .unwrap_or_else(|_| "/work/shared/bench/mkrules.py".to_string());
    let out = Command::new("python3")
        .args([script.as_str(), "500", "20", "10s"])
        .output()
        .expect("python3 runs mkrules.py (set TOCSIN_BENCH_RULES to use a ready file)");
    assert!(out.status.success(), "mkrules.py failed");
    let p = dir.path().join("rules.yml");
    std::fs::write(&p, out.stdout).expect("write rules");
    p
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rules_file(&dir);
    let patterns = vec![file.display().to_string()];
    let opts = LoadOptions::default();
    let set = load(&patterns, &opts).expect("bench file is valid");
    assert_eq!(set.rule_count(), 10_000);
    let mut g = c.benchmark_group("load_rules");
    g.sample_size(20);
    g.bench_function("10k_rules", |b| {
        b.iter(|| load(&patterns, &opts).expect("valid"))
    });
    let no_expr = LoadOptions {
        validate_expressions: false,
        ..LoadOptions::default()
    };
    g.bench_function("10k_rules_without_promql_check", |b| {
        b.iter(|| load(&patterns, &no_expr).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
