//! Rendering cost of typical alert templates (target: the summary template under 1 µs).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tocsin::labels::Labels;
use tocsin::template::{Context, Template};

fn bench(c: &mut Criterion) {
    let labels = Labels::from_pairs([
        ("__name__", "up"),
        ("instance", "node-1.example.com:9100"),
        ("job", "node"),
        ("env", "prod"),
    ]);
    let ctx = Context::new(&labels, 1234567.0);

    let summary = Template::parse(
        "summary",
        "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})",
    )
    .expect("parses");
    assert_eq!(
        summary.render(&ctx),
        "node-1.example.com:9100 of node is down (1.235M)"
    );
    c.bench_function("render summary", |b| {
        b.iter(|| black_box(summary.render(black_box(&ctx))))
    });

    let plain = Template::parse("static", "Instance is down").expect("parses");
    c.bench_function("render static", |b| {
        b.iter(|| black_box(plain.render(black_box(&ctx))))
    });

    let rich = Template::parse(
        "rich",
        "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}{{ printf \"%.2f\" $value }} {{ if gt $value 100.0 }}high{{ else }}low{{ end }}",
    )
    .expect("parses");
    c.bench_function("render range+printf+if", |b| {
        b.iter(|| black_box(rich.render(black_box(&ctx))))
    });

    let text = "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})";
    c.bench_function("parse summary", |b| {
        b.iter(|| black_box(Template::parse("summary", black_box(text))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
