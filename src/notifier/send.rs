//! Each target's sender: takes batches off its queue and POSTs them.

use std::sync::Arc;

use super::{Item, Notifier, Target, WireAlert};
use crate::http;

impl Notifier {
    /// Sends what is queued on every target, until `deadline`; returns alerts left.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> usize {
        let mut left = 0;
        for t in self.targets().iter() {
            loop {
                let batch = self.take_batch(t);
                if batch.is_empty() {
                    break;
                }
                let n = batch.len();
                if tokio::time::timeout_at(deadline, self.post(t, batch))
                    .await
                    .is_err()
                {
                    left += n + t.queued();
                    break;
                }
            }
        }
        left
    }

    /// Up to `max_batch` queued alerts sharing the first alert's header set.
    fn take_batch(&self, t: &Target) -> Vec<Item> {
        let Ok(mut q) = t.queue.lock() else {
            return Vec::new();
        };
        let Some(first) = q.front().map(|(h, _)| h.clone()) else {
            return Vec::new();
        };
        let mut n = 0;
        while n < q.len() && n < self.opts.max_batch && q[n].0 == first {
            n += 1;
        }
        let batch = q.drain(..n).collect();
        self.metrics.queue_length(&t.addr, q.len());
        batch
    }

    pub(super) async fn sender(self, t: Arc<Target>) {
        loop {
            tokio::select! {
                _ = t.cancel.cancelled() => return,
                _ = t.wake.notified() => {}
            }
            loop {
                let batch = self.take_batch(&t);
                if batch.is_empty() {
                    break;
                }
                self.post(&t, batch).await;
            }
        }
    }

    fn failed(&self, t: &Target, n: u64, message: String) {
        self.metrics.errors.get_or_create(&t.addr).inc_by(n);
        tracing::error!(target = %t.url, "{message}");
        t.set_last_error(Some(message));
    }

    async fn post(&self, t: &Target, batch: Vec<Item>) {
        let headers = batch[0].0.clone();
        let alerts: Vec<&WireAlert> = batch.iter().map(|(_, a)| a).collect();
        let n = alerts.len() as u64;
        let Some(client) = &t.spec.client else {
            // The blackhole: counted as sent, as vmalert's.
            self.metrics.sent.get_or_create(&t.addr).inc_by(n);
            return;
        };
        let body = match serde_json::to_vec(&alerts) {
            Ok(b) => b,
            Err(e) => return self.failed(t, n, format!("cannot encode {n} alerts: {e}")),
        };
        let mut req = match client.post(&t.url).await {
            Ok(r) => r.header("Content-Type", "application/json").body(body),
            Err(e) => return self.failed(t, n, format!("cannot send {n} alerts: {e}")),
        };
        if let Ok(h) = http::header_map(&headers) {
            req = req.headers(h);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                self.metrics.sent.get_or_create(&t.addr).inc_by(n);
                t.set_last_error(None);
            }
            Ok(r) => {
                let status = r.status();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let body = http::redact_text(&body);
                self.failed(t, n, format!("Alertmanager answered {status}: {body}"));
            }
            Err(e) => {
                let e = http::error_chain(&e);
                self.failed(t, n, format!("cannot send {n} alerts: {e}"));
            }
        }
    }
}
