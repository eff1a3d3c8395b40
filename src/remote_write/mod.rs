//! Remote write: recorded series, `ALERTS`, `ALERTS_FOR_STATE` and staleness markers go
//! to a Prometheus remote-write 1.0 endpoint through a bounded queue.
//!
//! Policy: when the queue is full, *new* samples are dropped and counted (as vmalert
//! does): what is queued is older and closer to being sent. Batches are retried with
//! exponential back-off on network errors, 5xx and 429, up to `retry_max_time`; any other
//! 4xx means the receiver will never accept the batch, so it is dropped at once, counted
//! and its response logged.

pub mod proto;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::http::{self, ClientError, ClientOptions, Endpoint, HttpClient, Origin};
use crate::sample::Sample;

/// `-remoteWrite.*` settings (defaults as vmalert's).
#[derive(Debug, Clone)]
pub struct RemoteWriteOptions {
    pub url: String,
    pub disable_path_append: bool,
    pub auth: ClientOptions,
    pub max_queue_size: usize,
    pub max_batch_size: usize,
    pub concurrency: usize,
    pub flush_interval: Duration,
    pub send_timeout: Duration,
    pub retry_min_interval: Duration,
    pub retry_max_time: Duration,
}

impl Default for RemoteWriteOptions {
    fn default() -> Self {
        RemoteWriteOptions {
            url: String::new(),
            disable_path_append: false,
            auth: ClientOptions::default(),
            max_queue_size: 100_000,
            max_batch_size: 10_000,
            concurrency: 1,
            flush_interval: Duration::from_secs(2),
            send_timeout: Duration::from_secs(30),
            retry_min_interval: Duration::from_secs(1),
            retry_max_time: Duration::from_secs(30),
        }
    }
}

/// Counters of the remote-write path, also read by the status page.
#[derive(Clone, Default)]
pub struct RemoteWriteMetrics {
    pub samples_sent: Counter,
    pub samples_dropped: Counter,
    pub requests_failed: Counter,
    pub retries: Counter,
    pub queue_length: Gauge,
}

impl RemoteWriteMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_remotewrite_samples_sent",
            "Samples accepted by the remote-write endpoint",
            self.samples_sent.clone(),
        );
        r.register(
            "tocsin_remotewrite_samples_dropped",
            "Samples dropped: queue full, rejected with a 4xx, or retries exhausted",
            self.samples_dropped.clone(),
        );
        r.register(
            "tocsin_remotewrite_errors",
            "Remote-write requests that failed",
            self.requests_failed.clone(),
        );
        r.register(
            "tocsin_remotewrite_retries",
            "Remote-write requests retried after a retryable failure",
            self.retries.clone(),
        );
        r.register(
            "tocsin_remotewrite_queue_length",
            "Samples waiting to be sent",
            self.queue_length.clone(),
        );
    }
}

/// Why a batch was not written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("remote write to {url} rejected with {status}: {body}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("remote write to {url} failed after retrying for {elapsed:?}: {last}")]
    GaveUp {
        url: String,
        elapsed: Duration,
        last: String,
    },
}

struct Shared {
    client: HttpClient,
    url: Endpoint,
    opts: RemoteWriteOptions,
    queue: Mutex<VecDeque<Sample>>,
    wake: Notify,
    metrics: RemoteWriteMetrics,
    senders: Arc<Semaphore>,
}

/// Handle to the remote writer; cheap to clone.
#[derive(Clone)]
pub struct RemoteWriter {
    shared: Arc<Shared>,
}

impl RemoteWriter {
    /// Builds the writer and starts its flusher task (stopped by `cancel`; call
    /// [`RemoteWriter::flush`] first to drain).
    pub fn start(
        opts: RemoteWriteOptions,
        metrics: RemoteWriteMetrics,
        cancel: CancellationToken,
    ) -> Result<RemoteWriter, ClientError> {
        let client = HttpClient::new(&Origin::flags("remoteWrite"), &opts.auth, opts.send_timeout)?;
        let url = Endpoint::new(if opts.disable_path_append {
            opts.url.clone()
        } else {
            http::join_path(&opts.url, "/api/v1/write")
        });
        let shared = Arc::new(Shared {
            client,
            url,
            senders: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            opts,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            metrics,
        });
        let w = RemoteWriter { shared };
        let bg = w.clone();
        tokio::spawn(async move { bg.flusher(cancel).await });
        Ok(w)
    }

    /// Queues samples; never blocks. Samples that do not fit are dropped and counted.
    pub fn push(&self, samples: Vec<Sample>) {
        if samples.is_empty() {
            return;
        }
        let s = &self.shared;
        let (len, dropped) = {
            let Ok(mut q) = s.queue.lock() else { return };
            let room = s.opts.max_queue_size.saturating_sub(q.len());
            let n = samples.len();
            q.extend(samples.into_iter().take(room));
            (q.len(), n.saturating_sub(room))
        };
        if dropped > 0 {
            s.metrics.samples_dropped.inc_by(dropped as u64);
            tracing::warn!(
                dropped,
                "remote-write queue full ({} samples): dropping new samples; raise -remoteWrite.maxQueueSize or -remoteWrite.concurrency",
                s.opts.max_queue_size
            );
        }
        s.metrics.queue_length.set(len as i64);
        if len >= s.opts.max_batch_size {
            s.wake.notify_one();
        }
    }

    /// Asks the flusher to send what is queued now instead of at the next flush interval:
    /// called at the end of each group evaluation, so `ALERTS` and recorded series become
    /// queryable right after the evaluation that produced them (as with Prometheus' local
    /// storage), while one group's samples still travel in few requests.
    pub fn send_soon(&self) {
        if self.queued() > 0 {
            self.shared.wake.notify_one();
        }
    }

    /// Writes samples now, bypassing the queue, and returns once the endpoint accepted
    /// them: used when a later rule of the group reads these series in the same cycle.
    pub async fn write_now(&self, samples: &[Sample]) -> Result<(), WriteError> {
        if samples.is_empty() {
            return Ok(());
        }
        self.send_batch(samples).await
    }

    /// Sends everything queued, stopping at `deadline`; returns the samples left unsent.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> usize {
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                return 0;
            }
            let n = batch.len();
            match tokio::time::timeout_at(deadline, self.send_batch(&batch)).await {
                Ok(_) => {}
                Err(_) => {
                    let left = n + self.queued();
                    self.shared.metrics.samples_dropped.inc_by(left as u64);
                    return left;
                }
            }
        }
    }

    /// Samples waiting in the queue.
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    fn take_batch(&self) -> Vec<Sample> {
        let s = &self.shared;
        let Ok(mut q) = s.queue.lock() else {
            return Vec::new();
        };
        let n = q.len().min(s.opts.max_batch_size.max(1));
        let batch: Vec<Sample> = q.drain(..n).collect();
        s.metrics.queue_length.set(q.len() as i64);
        batch
    }

    async fn flusher(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.shared.opts.flush_interval);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
                _ = self.shared.wake.notified() => {}
            }
            // The batch is taken once a sender is free, not before: what queued while
            // the previous request was in flight travels with it, in one request.
            while self.queued() > 0 {
                let Ok(permit) = self.shared.senders.clone().acquire_owned().await else {
                    return;
                };
                let batch = self.take_batch();
                if batch.is_empty() {
                    break;
                }
                let me = self.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let _ = me.send_batch(&batch).await;
                });
            }
        }
    }

    /// Sends one batch with retries; counts sent, dropped and failed samples.
    async fn send_batch(&self, batch: &[Sample]) -> Result<(), WriteError> {
        let s = &self.shared;
        let body = bytes::Bytes::from(proto::encode(batch));
        let started = tokio::time::Instant::now();
        let mut backoff = s.opts.retry_min_interval.max(Duration::from_millis(10));
        loop {
            // A failure to get credentials is retried like a network error: a token
            // endpoint or a secret file may come back.
            let res = match s.client.post(&s.url).await {
                Ok(req) => req
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| http::error_chain(&e)),
                Err(e) => Err(e.to_string()),
            };
            let last = match res {
                Ok(r) if r.status().is_success() => {
                    s.metrics.samples_sent.inc_by(batch.len() as u64);
                    return Ok(());
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    let text = text.chars().take(300).collect::<String>();
                    s.metrics.requests_failed.inc();
                    if status != 429 && !(500..600).contains(&status) {
                        s.metrics.samples_dropped.inc_by(batch.len() as u64);
                        let e = WriteError::Rejected {
                            url: s.url.shown.clone(),
                            status,
                            body: text,
                        };
                        tracing::error!(samples = batch.len(), "{e}; not retried");
                        return Err(e);
                    }
                    format!("{status}: {text}")
                }
                Err(message) => {
                    s.metrics.requests_failed.inc();
                    message
                }
            };
            let elapsed = started.elapsed();
            if elapsed + backoff > s.opts.retry_max_time {
                s.metrics.samples_dropped.inc_by(batch.len() as u64);
                let e = WriteError::GaveUp {
                    url: s.url.shown.clone(),
                    elapsed,
                    last,
                };
                tracing::error!(samples = batch.len(), "{e}");
                return Err(e);
            }
            tracing::warn!(retry_in = ?backoff, "remote write failed: {last}");
            s.metrics.retries.inc();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
}
