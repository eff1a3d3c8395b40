//! Writes the cases' input samples into the sample receiver by Prometheus remote write
//! (protobuf WriteRequest, snappy block format), each at its scheduled wall time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;

use super::cases::Case;
use super::timebase::{Timebase, now_real_ms};

#[derive(Clone, PartialEq, Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// Counters the report uses to tell whether the writing side of the harness worked.
#[derive(Clone, Default)]
pub struct WriteStats {
    pub total: usize,
    pub written: Arc<AtomicUsize>,
    pub failed_requests: Arc<AtomicUsize>,
    pub last_error: Arc<std::sync::Mutex<Option<String>>>,
    /// Where a sample that reached Prometheus late is noted.
    pub late: super::stalls::Stalls,
}

/// One batch: every sample due at the same relative virtual time.
struct Batch {
    rel: i64,
    series: Vec<TimeSeries>,
}

/// The relative virtual time the run ends: upstream stops writing when the last case ends.
pub fn end_of(cases: &[Case]) -> i64 {
    cases.iter().map(|c| c.test_until).max().unwrap_or(0)
}

fn batches(cases: &[Case]) -> Vec<Batch> {
    let end = end_of(cases);
    let mut all: Vec<(i64, Vec<Label>, f64)> = Vec::new();
    for c in cases {
        for s in &c.series {
            let labels: Vec<Label> = s
                .labels
                .iter()
                .map(|(k, v)| Label {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect();
            for &(t, v) in s.samples.iter().filter(|(t, _)| *t <= end) {
                all.push((t, labels.clone(), v));
            }
        }
    }
    all.sort_by_key(|s| s.0);
    let mut out: Vec<Batch> = Vec::new();
    for (t, labels, value) in all {
        if out.last().is_none_or(|b| b.rel != t) {
            out.push(Batch {
                rel: t,
                series: Vec::new(),
            });
        }
        if let Some(b) = out.last_mut() {
            b.series.push(TimeSeries {
                labels,
                samples: vec![Sample {
                    value,
                    timestamp: 0,
                }],
            });
        }
    }
    out
}

async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        let code = resp.status();
        Err(format!("{code}: {}", resp.text().await.unwrap_or_default()))
    }
}

/// Counts the samples the cases will write before the run ends.
pub fn count(cases: &[Case]) -> usize {
    let end = end_of(cases);
    cases
        .iter()
        .flat_map(|c| &c.series)
        .map(|s| s.samples.iter().filter(|(t, _)| *t <= end).count())
        .sum()
}

/// Writes the first batch now (fixing the virtual zero, returned), then the rest in a task
/// on schedule. Sample timestamps are the real wall times of their virtual slots.
pub async fn start(
    url: String,
    cases: &[Case],
    scale: f64,
    stats: WriteStats,
) -> (Timebase, tokio::task::JoinHandle<()>) {
    let tb = Timebase {
        zero_real_ms: now_real_ms(),
        scale,
    };
    let client = reqwest::Client::new();
    let mut list = batches(cases).into_iter();
    let write = |b: Batch| {
        let ts = tb.to_real(tb.zero_real_ms + b.rel);
        let n = b.series.len();
        let series = b
            .series
            .into_iter()
            .map(|mut s| {
                for x in &mut s.samples {
                    x.timestamp = ts;
                }
                s
            })
            .collect();
        let raw = WriteRequest { timeseries: series }.encode_to_vec();
        let body = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .unwrap_or_default();
        (ts, n, body)
    };
    let do_send = {
        let stats = stats.clone();
        let client = client.clone();
        let url = url.clone();
        move |n: usize, body: Vec<u8>| {
            let stats = stats.clone();
            let client = client.clone();
            let url = url.clone();
            async move {
                let mut last = Err(String::new());
                for _ in 0..3 {
                    last = send(&client, &url, body.clone()).await;
                    if last.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                match last {
                    Ok(()) => {
                        stats.written.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => {
                        stats.failed_requests.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut l) = stats.last_error.lock() {
                            *l = Some(e);
                        }
                    }
                }
            }
        }
    };
    if let Some(b) = list.next() {
        let (_, n, body) = write(b);
        do_send(n, body).await;
    }
    let rest: Vec<_> = list.map(write).collect();
    let late = stats.late.clone();
    let handle = tokio::spawn(async move {
        for (ts, n, body) in rest {
            let wait = ts - now_real_ms();
            if wait > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            }
            do_send(n, body).await;
            late.note(
                "a sample write (Prometheus had it late)",
                ts,
                now_real_ms() - ts,
            );
        }
    });
    (tb, handle)
}
