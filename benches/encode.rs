//! The write side: label-set fingerprinting and building, and remote-write encoding
//! (protobuf + snappy) of 1,000 samples, the default `-remoteWrite.maxBatchSize`.

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::{iter_cpu, long_samples};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tocsin::labels::{Labels, fingerprint_sorted};
use tocsin::remote_write::proto;
use tocsin::sample::Sample;

fn pairs(i: usize) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), "ALERTS".into()),
        ("alertname".into(), format!("HighLatency{}", i % 50)),
        ("alertstate".into(), "firing".into()),
        (
            "instance".into(),
            format!("10.0.{}.{}:9090", i / 250, i % 250),
        ),
        ("job".into(), "api".into()),
        ("namespace".into(), format!("ns-{}", i % 13)),
        ("pod".into(), format!("api-{i:05}")),
        ("severity".into(), "page".into()),
    ]
}

fn bench_labels(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels");
    long_samples(&mut g);
    let p = pairs(42);
    let refs: Vec<(&str, &str)> = p.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    // Unsorted input, as rule labels applied on top of query labels arrive.
    let mut shuffled = refs.clone();
    shuffled.reverse();
    g.bench_function("from_pairs_8_sorted", |b| {
        iter_cpu(b, || {
            Labels::from_pairs(std::hint::black_box(refs.iter().copied())).len()
        })
    });
    g.bench_function("from_pairs_8_unsorted", |b| {
        iter_cpu(b, || {
            Labels::from_pairs(std::hint::black_box(shuffled.iter().copied())).len()
        })
    });
    let l = Labels::from_pairs(refs.iter().copied());
    g.bench_function("fingerprint_8", |b| {
        iter_cpu(b, || {
            fingerprint_sorted(
                std::hint::black_box(&l)
                    .iter()
                    .map(|l| (&*l.name, &*l.value)),
            )
        })
    });
    g.finish();
}

fn bench_remote_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("remote_write");
    long_samples(&mut g);
    let samples: Vec<Sample> = (0..1000)
        .map(|i| Sample {
            labels: Labels::from_pairs(pairs(i)),
            value: 1.0,
            timestamp_ms: 1_700_000_000_000,
        })
        .collect();
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("encode_1000_samples", |b| {
        iter_cpu(b, || proto::encode(std::hint::black_box(&samples)).len())
    });
    g.finish();
}

criterion_group!(benches, bench_labels, bench_remote_write);
criterion_main!(benches);
