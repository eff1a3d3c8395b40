//! Decoding datasource answers: an instant-query answer of 600 series (~90 KB, the size
//! vmalert's own decoding benchmark uses) and a range answer of 200 series × 1,000
//! points (what replay fetches per window).

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::{iter_cpu, long_samples};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tocsin::datasource::{decode_instant, decode_range};

/// Label values like a Kubernetes scrape, all distinct per series.
fn metric(i: usize) -> String {
    format!(
        r#"{{"__name__":"http_requests_total","instance":"10.0.{}.{}:10250","job":"kubelet","namespace":"ns-{}","pod":"api-{:05}"}}"#,
        i / 250,
        i % 250,
        i % 13,
        i
    )
}

fn instant_answer(n: usize) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"metric":{},"value":[1700000000.123,"{}"]}}"#,
                metric(i),
                i as f64 * 0.5
            )
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn range_answer(n: usize, points: usize) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            let values: Vec<String> = (0..points)
                .map(|p| {
                    format!(
                        r#"[{},"{}"]"#,
                        1_700_000_000 + p * 15,
                        (p % 97) as f64 * 0.25
                    )
                })
                .collect();
            format!(
                r#"{{"metric":{},"values":[{}]}}"#,
                metric(i),
                values.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    long_samples(&mut g);
    let body = instant_answer(600);
    eprintln!("instant answer: {} bytes", body.len());
    assert_eq!(decode_instant("u", &body, 0).expect("decodes").len(), 600);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("instant_600_series", |b| {
        iter_cpu(b, || {
            decode_instant("u", std::hint::black_box(&body), 0).map(|s| s.len())
        })
    });
    let body = range_answer(200, 1000);
    eprintln!("range answer: {} bytes", body.len());
    assert_eq!(decode_range("u", &body).expect("decodes").len(), 200);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("range_200_series_x_1000_points", |b| {
        iter_cpu(b, || {
            decode_range("u", std::hint::black_box(&body)).map(|s| s.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
