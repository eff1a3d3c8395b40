//! What one datasource query costs in CPU on its own, without a rule around it: the floor
//! under scenario A's CPU per evaluation (docs/benchmarks.md, "CPU in A: the floor of one
//! query").
//!
//! It sends scenario A's queries (GROUPS groups of RULES sequential queries every
//! INTERVAL seconds, the groups spread over the interval as the scheduler spreads them) to
//! the benchmark's mock datasource and prints this process' CPU time per query, in one of
//! three ways:
//!
//! - `client`: tocsin's datasource client (`PromClient`), request and decoding, on tokio's
//!   multi-threaded runtime as the evaluator runs it (`TOKIO_WORKER_THREADS` is honoured);
//! - `http`: the same HTTP client (`HttpClient`, reqwest's kept-alive connections), the
//!   same request, the answer's bytes read and dropped: no decoding;
//! - `raw`: one thread, one kept-alive TCP connection, the request written by hand and the
//!   answer read up to its `Content-Length`: the system calls an exchange cannot avoid.
//!   A yardstick only: tocsin has one HTTP client, and this is not a second one.
//!
//! CPU time is the process' own, so run it beside nothing heavy and compare it with
//! `tocsin` and `vmalert` measured the same way in the same sitting.
//!
//! ```sh
//! python3 integration/bench/mock.py /tmp/floor 28990 10     # then: nginx -c /tmp/floor/nginx.conf &
//! cargo run --release --example query_floor -- client http://127.0.0.1:28990 [SECS] [GROUPS] [RULES] [INTERVAL]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tocsin::datasource::{DatasourceMetrics, DatasourceOptions, InstantQuery, PromClient, Querier};
use tocsin::http::{ClientOptions, Endpoint, HttpClient, Origin};

const EXPR: &str = r#"up{job="bench"} == 0"#;

/// CPU seconds this process' live threads have run so far (`/proc/self/task/*/schedstat`,
/// in nanoseconds: finer than `/proc/self/stat`'s clock ticks, which a run of a few
/// thousand cheap queries would measure to ±10 %).
fn cpu_seconds() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split(' ').next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Shape {
    secs: u64,
    groups: u64,
    rules: u64,
    interval: Duration,
}

fn form() -> String {
    format!(
        "query=up%7Bjob%3D%22bench%22%7D+%3D%3D+0&time={}&step=300s",
        now_ms() / 1000
    )
}

/// One group: RULES queries in a row at each tick, its first tick at its offset.
async fn group(
    mode: &'static str,
    url: String,
    g: u64,
    s: &Shape,
    client: &PromClient,
    http: &HttpClient,
) -> u64 {
    let offset = s.interval.mul_f64(g as f64 / s.groups as f64);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, s.interval);
    let end = tokio::time::Instant::now() + Duration::from_secs(s.secs);
    let endpoint = Endpoint::new(format!("{url}/api/v1/query"));
    let mut sent = 0;
    while tick.tick().await < end {
        for _ in 0..s.rules {
            if mode == "client" {
                let q = InstantQuery {
                    expr: EXPR.into(),
                    time_ms: now_ms(),
                    ..Default::default()
                };
                client.instant(&q).await.expect("query");
            } else {
                let req = http.post(&endpoint).await.expect("request");
                let resp = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form())
                    .send()
                    .await
                    .expect("send");
                resp.bytes().await.expect("answer");
            }
            sent += 1;
        }
    }
    sent
}

fn tokio_modes(mode: &'static str, url: &str, s: Shape) -> (u64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = DatasourceOptions {
            url: url.to_string(),
            ..Default::default()
        };
        let client = PromClient::new(opts, DatasourceMetrics::new(None)).expect("client");
        let http = HttpClient::new(
            &Origin::flags("datasource"),
            &ClientOptions::default(),
            Duration::from_secs(30),
        )
        .expect("client");
        let (client, http, s) = (std::sync::Arc::new(client), http, std::sync::Arc::new(s));
        let cpu0 = cpu_seconds();
        let tasks: Vec<_> = (0..s.groups)
            .map(|g| {
                let (client, http, s, url) =
                    (client.clone(), http.clone(), s.clone(), url.to_string());
                tokio::spawn(async move { group(mode, url, g, &s, &client, &http).await })
            })
            .collect();
        let mut sent = 0;
        for t in tasks {
            sent += t.await.unwrap();
        }
        (sent, cpu_seconds() - cpu0)
    })
}

/// Every group's ticks in time order on one thread, over one connection.
fn raw(url: &str, s: Shape) -> (u64, f64) {
    let addr = url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let step = s.interval / s.groups as u32;
    let (mut sent, mut line, mut body) = (0, String::new(), Vec::new());
    for k in 0.. {
        let due = step * k;
        if due >= Duration::from_secs(s.secs) {
            break;
        }
        std::thread::sleep(due.saturating_sub(start.elapsed()));
        for _ in 0..s.rules {
            let f = form();
            let req = format!(
                "POST /api/v1/query HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{f}",
                f.len()
            );
            conn.write_all(req.as_bytes()).expect("write");
            let mut length = 0;
            loop {
                line.clear();
                reader.read_line(&mut line).expect("read");
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("length");
                }
            }
            body.resize(length, 0);
            reader.read_exact(&mut body).expect("body");
            sent += 1;
        }
    }
    (sent, cpu_seconds() - cpu0)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u64| a.get(i).map_or(d, |v| v.parse().expect("a number"));
    let mode: &'static str = match a.get(1).map(String::as_str) {
        Some("client") => "client",
        Some("http") => "http",
        Some("raw") => "raw",
        _ => panic!("usage: query_floor client|http|raw URL [SECS] [GROUPS] [RULES] [INTERVAL]"),
    };
    let url = a
        .get(2)
        .expect("the mock's URL")
        .trim_end_matches('/')
        .to_string();
    let s = Shape {
        secs: arg(3, 20),
        groups: arg(4, 100),
        rules: arg(5, 20),
        interval: Duration::from_secs(arg(6, 10)),
    };
    let (sent, cpu) = if mode == "raw" {
        raw(&url, s)
    } else {
        tokio_modes(mode, &url, s)
    };
    println!(
        "{mode}: {sent} queries, {cpu:.2} CPU s, {:.1} µs per query",
        cpu * 1e6 / sent as f64
    );
}
