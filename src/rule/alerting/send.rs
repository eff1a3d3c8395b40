//! What an alerting rule sends to Alertmanager: the alerts due at an evaluation, with
//! Prometheus' resend rules and `endsAt`, and `flapping`'s label or hold; and the
//! resolutions sent when the rule is removed.

use super::{AlertingRule, flapping, ms};
use crate::rule::alert::MaybeMs;
use crate::rule::link::alert_link;
use crate::rule::{AlertState, Notification};

impl AlertingRule {
    /// The alerts due for (re)sending at `ts_ms`, marked as sent. Call after `step`
    /// succeeded; Prometheus sends nothing for a failed evaluation.
    pub fn alerts_to_send(&mut self, ts_ms: i64) -> Vec<Notification> {
        let resend = ms(self.ctx.settings.resend_delay);
        let delta = ms(self.ctx.interval).max(resend);
        let max_resolve = ms(self.ctx.settings.max_resolve_duration);
        let url = &self.generator_url;
        let mut flapping = self.flapping.as_mut();
        let mut out = Vec::new();
        for a in self.active.iter_mut() {
            let fp = a.labels.fingerprint();
            // `flapping` with `hold`: nothing goes out while the alert flaps.
            let (label, switched) = match flapping.as_deref() {
                Some(f) if f.held(fp) => continue,
                Some(f) => f.variant(fp),
                None => (false, false),
            };
            if !a.needs_sending(ts_ms, resend) && !switched {
                continue;
            }
            let link = alert_link(url, &self.ctx, &self.spec, a);
            if switched && a.last_sent_at_ms.get().is_some() {
                // The label set Alertmanager has (with or without `flapping`) ends now.
                let mut n = a.notification(ts_ms, &self.ctx, &link);
                if !label {
                    n.labels = flapping::with_label(&n.labels);
                }
                out.push(n);
            }
            a.last_sent_at_ms = MaybeMs::at(ts_ms);
            let mut valid_until = ts_ms + 4 * delta;
            if max_resolve > 0 {
                valid_until = valid_until.min(ts_ms + max_resolve);
            }
            let ends_at = a.resolved_at_ms().get().unwrap_or(valid_until);
            let mut n = a.notification(ends_at, &self.ctx, &link);
            if label {
                n.labels = flapping::with_label(&n.labels);
            }
            if let Some(f) = flapping.as_deref_mut() {
                f.sent(fp);
            }
            out.push(n);
        }
        out
    }

    /// Resolves every firing alert at `ts_ms` and returns what to send: used when the
    /// rule is removed, so Alertmanager hears at once that its alerts ended instead of
    /// waiting for `endsAt`.
    pub fn resolve_all(&mut self, ts_ms: i64) -> Vec<Notification> {
        let url = &self.generator_url;
        let (ctx, spec) = (&self.ctx, &self.spec);
        self.budget.release();
        // Their series are ended by `stale_series`, which follows.
        let alerts = self.active.take();
        for a in &alerts {
            self.written.leave(a);
        }
        alerts
            .into_iter()
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| a.notification(ts_ms, ctx, &alert_link(url, ctx, spec, &a)))
            .collect()
    }
}
