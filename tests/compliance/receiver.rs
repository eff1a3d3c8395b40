//! The alert receiver: an HTTP server taking Alertmanager v2 POSTs, matching every alert
//! against the expected notifications with upstream's rules (arrival window, startsAt,
//! endsAt, re-timing of resends after each match, missed and unexpected alerts).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;

use super::cases::{ExpectedNotification, Labels};
use super::timebase::{MAX_RTT_MS, RESEND_DELAY_MS, Timebase, now_real_ms, parse_rfc3339_ms};

/// One alert of an Alertmanager v2 POST body.
#[derive(Clone, Debug, Deserialize)]
pub struct AmAlert {
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    #[serde(rename = "startsAt", default)]
    pub starts_at: Option<String>,
    #[serde(rename = "endsAt", default)]
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: Option<String>,
}

/// Reception problems of one rule group.
#[derive(Debug, Default)]
pub struct GroupErrors {
    pub missed: Vec<ExpectedNotification>,
    /// (virtual arrival, alert)
    pub unexpected: Vec<(i64, AmAlert)>,
    /// (virtual arrival, expected, alert, reason)
    pub mismatched: Vec<(i64, ExpectedNotification, AmAlert, String)>,
}

#[derive(Default)]
struct State {
    tb: Option<Timebase>,
    retention: i64,
    expected: HashMap<String, Vec<ExpectedNotification>>,
    errors: BTreeMap<String, GroupErrors>,
    /// Every alert received: (real unix ms, alert).
    received: Vec<(i64, AmAlert)>,
    bad_requests: usize,
}

/// What the receiver saw, for the final report.
#[derive(Default)]
pub struct Finished {
    pub errors: BTreeMap<String, GroupErrors>,
    /// First notifications (not resends) still expected when the run ended.
    pub never_received: Vec<ExpectedNotification>,
    /// Every alert received: (real unix ms, alert).
    pub received: Vec<(i64, AmAlert)>,
    pub bad_requests: usize,
}

/// Shared handle on the receiver.
#[derive(Clone, Default)]
pub struct Receiver {
    state: Arc<Mutex<State>>,
}

fn key(l: &Labels) -> String {
    l.iter().map(|(k, v)| format!("{k}\u{1}{v}\u{2}")).collect()
}

fn group_of(l: &Labels) -> String {
    l.get("rulegroup").cloned().unwrap_or_default()
}

fn within(exp: i64, act: i64, tol: i64) -> bool {
    act > exp && act < exp + tol
}

impl ExpectedNotification {
    fn within_twice_rtt(&self, exp: i64, act: i64) -> bool {
        within(exp, act, self.tolerance + 2 * MAX_RTT_MS)
    }

    fn time_can_be_ignored(&self, t: i64) -> bool {
        self.within_twice_rtt(self.ts, t) || self.ts > t
    }

    fn past_retention(&self, retention: i64) -> bool {
        self.resolved && self.resolved_time.is_some_and(|r| self.ts - r > retention)
    }

    /// May be absent: the alert may already have changed state within the tolerance.
    fn can_be_ignored(&self, retention: i64) -> bool {
        self.past_retention(retention)
            || self.next_state.is_some_and(|n| self.time_can_be_ignored(n))
            || (!self.resolved
                && self
                    .resolved_time
                    .is_some_and(|r| self.time_can_be_ignored(r)))
    }

    /// Must be absent: its time is past the next state.
    fn should_be_ignored(&self, retention: i64) -> bool {
        self.past_retention(retention) || self.next_state.is_some_and(|n| self.ts > n)
    }

    /// Upstream `ExpectedAlert.Matches`, with virtual times.
    fn matches(&self, now: i64, a: &AmAlert, tb: &Timebase) -> Result<(), String> {
        if self.labels != a.labels {
            return Err(format!(
                "labels mismatch, expected {:?}, got {:?}",
                self.labels, a.labels
            ));
        }
        if self.annotations != a.annotations {
            return Err(format!(
                "annotations mismatch, expected {:?}, got {:?}",
                self.annotations, a.annotations
            ));
        }
        if !self.within_twice_rtt(self.ts, now) {
            return Err(format!(
                "arrived outside the expected window [{}, {}]: at {}",
                tb.label(self.ts),
                tb.label(self.ts + self.tolerance),
                tb.label(now)
            ));
        }
        let virt = |s: &Option<String>| {
            s.as_deref()
                .and_then(parse_rfc3339_ms)
                .map(|ms| tb.to_virtual(ms))
        };
        if let Some(st) = virt(&a.starts_at)
            && !within(self.starts_at, st, self.tolerance)
        {
            return Err(format!(
                "startsAt expected in ({}, {}), got {}",
                tb.label(self.starts_at),
                tb.label(self.starts_at + self.tolerance),
                tb.label(st)
            ));
        }
        if let Some(end) = virt(&a.ends_at) {
            let exp = if self.resolved {
                self.resolved_time.unwrap_or(now)
            } else {
                now + self.ends_at_delta
            };
            if !within(exp, end, self.tolerance)
                && !within(exp - 2 * MAX_RTT_MS, end, self.tolerance)
            {
                return Err(format!(
                    "endsAt expected in ({}, {}), got {}",
                    tb.label(exp - 2 * MAX_RTT_MS),
                    tb.label(exp + self.tolerance),
                    tb.label(end)
                ));
            }
        }
        if let Some(u) = a.generator_url.as_deref().filter(|u| !u.is_empty()) {
            let base =
                reqwest::Url::parse("http://generator.invalid/").map_err(|e| e.to_string())?;
            if base.join(u).is_err() {
                return Err(format!("generatorURL {u:?} does not parse as a URL"));
            }
        }
        Ok(())
    }
}

impl State {
    fn add_expected(&mut self, alerts: Vec<ExpectedNotification>) {
        let mut touched = Vec::new();
        for a in alerts {
            let k = key(&a.labels);
            self.expected.entry(k.clone()).or_default().push(a);
            touched.push(k);
        }
        for k in touched {
            if let Some(v) = self.expected.get_mut(&k) {
                v.sort_by_key(|a| a.ordering_id);
            }
        }
    }

    fn add_missed(&mut self, missed: Vec<ExpectedNotification>) {
        for m in missed {
            self.errors
                .entry(group_of(&m.labels))
                .or_default()
                .missed
                .push(m);
        }
    }

    /// Upstream `getPossibleAlert` (with `id`) and `missedAlertCleanup` (without).
    fn sweep(&mut self, now: i64, id: Option<&str>) -> Vec<ExpectedNotification> {
        let mut possible = Vec::new();
        let mut missed = Vec::new();
        let retention = self.retention;
        for (k, list) in self.expected.iter_mut() {
            let mut keep = Vec::new();
            for ea in list.drain(..) {
                if ea.should_be_ignored(retention) {
                    continue;
                }
                let tol = ea.tolerance + 2 * MAX_RTT_MS;
                if ea.ts + tol < now {
                    if !ea.can_be_ignored(retention) {
                        missed.push(ea);
                    }
                } else if id == Some(k.as_str()) && now > ea.ts && now < ea.ts + tol {
                    possible.push(ea);
                } else {
                    keep.push(ea);
                }
            }
            *list = keep;
        }
        self.add_missed(missed);
        possible
    }

    fn handle(&mut self, now_real: i64, alerts: Vec<AmAlert>) {
        let Some(tb) = self.tb else {
            for a in alerts {
                self.received.push((now_real, a.clone()));
                self.errors
                    .entry(group_of(&a.labels))
                    .or_default()
                    .unexpected
                    .push((now_real, a));
            }
            return;
        };
        let now = tb.to_virtual(now_real);
        let retention = self.retention;
        let mut add_back = Vec::new();
        let mut missed = Vec::new();
        let mut success: Vec<(String, Labels)> = Vec::new();
        for al in alerts {
            self.received.push((now_real, al.clone()));
            let id = key(&al.labels);
            let exp = self.sweep(now, Some(&id));
            let group = group_of(&al.labels);
            if exp.is_empty() {
                self.errors
                    .entry(group)
                    .or_default()
                    .unexpected
                    .push((now, al));
                continue;
            }
            let mut first_err = None;
            let mut found = None;
            for (i, ex) in exp.iter().enumerate() {
                match ex.matches(now, &al, &tb) {
                    Ok(()) => {
                        found = Some(i);
                        break;
                    }
                    Err(e) if first_err.is_none() => first_err = Some((ex.clone(), e)),
                    Err(_) => {}
                }
            }
            match found {
                Some(idx) => {
                    success.push((id, al.labels.clone()));
                    add_back.extend(exp[idx + 1..].iter().cloned());
                    let mut last_resend_ignored = false;
                    for ma in &exp[..idx] {
                        if !ma.can_be_ignored(retention) {
                            if last_resend_ignored && ma.resend {
                                continue;
                            }
                            last_resend_ignored = false;
                            missed.push(ma.clone());
                        } else {
                            last_resend_ignored = ma.resend;
                        }
                    }
                }
                None => {
                    add_back.extend(exp.iter().cloned());
                    if let Some((ex, e)) = first_err {
                        self.errors
                            .entry(group)
                            .or_default()
                            .mismatched
                            .push((now, ex, al, e));
                    }
                }
            }
        }
        self.add_expected(add_back);
        self.add_missed(missed);
        // Resends are timed from the last send, so re-anchor the following resends.
        for (id, labels) in success {
            if let Some(list) = self.expected.get_mut(&id) {
                for ea in list.iter_mut().filter(|e| e.labels == labels) {
                    if !ea.resend {
                        break;
                    }
                    ea.ts = now + RESEND_DELAY_MS - MAX_RTT_MS;
                }
            }
        }
    }
}

impl Receiver {
    /// Starts the HTTP server on a free local port and returns its port.
    pub async fn start(&self) -> std::io::Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, Infallible>(me.serve(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(port)
    }

    async fn serve(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let now_real = now_real_ms();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return respond(400),
        };
        let Ok(alerts) = serde_json::from_slice::<Vec<AmAlert>>(&body) else {
            if let Ok(mut st) = self.state.lock() {
                st.bad_requests += 1;
            }
            return respond(400);
        };
        if let Ok(mut st) = self.state.lock() {
            st.handle(now_real, alerts);
        }
        respond(200)
    }

    /// Arms the expectations once the virtual zero is known.
    pub fn arm(&self, tb: Timebase, expected: Vec<ExpectedNotification>) {
        if let Ok(mut st) = self.state.lock() {
            st.tb = Some(tb);
            st.retention = tb.resolved_retention_ms();
            st.add_expected(expected);
        }
    }

    /// Moves overdue expectations to the missed list (upstream's periodic cleanup).
    pub fn cleanup(&self) {
        if let Ok(mut st) = self.state.lock()
            && let Some(tb) = st.tb
        {
            let now = tb.now();
            st.sweep(now, None);
        }
    }

    /// Final verdict inputs: per-group errors, first notifications never received, every
    /// received alert, and the count of unparsable POSTs.
    pub fn finish(&self) -> Finished {
        let Ok(mut st) = self.state.lock() else {
            return Finished::default();
        };
        let mut pending: Vec<ExpectedNotification> = st
            .expected
            .values()
            .flatten()
            .filter(|e| !e.resend)
            .cloned()
            .collect();
        pending.sort_by_key(|e| e.ts);
        let errors = std::mem::take(&mut st.errors);
        Finished {
            errors,
            never_received: pending,
            received: st.received.clone(),
            bad_requests: st.bad_requests,
        }
    }
}

fn respond(code: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::OK);
    r
}

#[cfg(test)]
mod tests {
    use super::super::cases::{Case, GI_MS, Train, lbl};
    use super::*;

    const ZERO: i64 = 1_000_000_000;

    fn labels() -> Labels {
        lbl(&[("alertname", "A"), ("rulegroup", "G")])
    }

    /// Fires at 60 s, resolves at 180 s; the run ends at 300 s.
    fn state() -> State {
        let train = |resolved, from, until, next_state| Train {
            labels: labels(),
            annotations: lbl(&[("d", "x")]),
            resolved,
            from,
            until,
            starts_at: 60_000,
            next_state,
            resolved_at: Some(180_000),
            first_is_resend: false,
        };
        let case = Case {
            group: "G",
            description: "",
            series: vec![],
            test_until: 300_000,
            phases: vec![],
            trains: vec![
                train(false, 60_000, Some(180_000), Some(180_000)),
                train(true, 180_000, None, None),
            ],
        };
        let tb = Timebase {
            zero_real_ms: ZERO,
            scale: 1.0,
        };
        let mut st = State {
            tb: Some(tb),
            retention: tb.resolved_retention_ms(),
            ..Default::default()
        };
        st.add_expected(case.expected_notifications(ZERO, st.retention, case.test_until));
        st
    }

    fn rfc(ms: i64) -> Option<String> {
        chrono::DateTime::from_timestamp_millis(ZERO + ms).map(|t| t.to_rfc3339())
    }

    /// What a compliant evaluator evaluating at 2 s past each interval would send at `eval`.
    fn send(st: &mut State, eval: i64, resolved: bool, annotation: &str) {
        let alert = AmAlert {
            labels: labels(),
            annotations: lbl(&[("d", annotation)]),
            starts_at: rfc(62_000),
            ends_at: rfc(if resolved {
                182_000
            } else {
                eval + 4 * GI_MS.max(RESEND_DELAY_MS)
            }),
            generator_url: Some("http://localhost/graph".into()),
        };
        st.handle(ZERO + eval + 300, vec![alert]);
    }

    fn problems(st: &State) -> usize {
        st.errors
            .values()
            .map(|e| e.missed.len() + e.unexpected.len() + e.mismatched.len())
            .sum()
    }

    #[test]
    fn compliant_sequence_has_no_findings() {
        let mut st = state();
        for (eval, resolved) in [
            (62_000, false),
            (122_000, false),
            (182_000, true),
            (242_000, true),
        ] {
            send(&mut st, eval, resolved, "x");
            st.sweep(ZERO + eval + 1_000, None);
        }
        st.sweep(ZERO + 290_000, None);
        assert_eq!(problems(&st), 0, "{:?}", st.errors);
    }

    #[test]
    fn skipped_resend_is_reported_missed() {
        let mut st = state();
        send(&mut st, 62_000, false, "x");
        send(&mut st, 182_000, true, "x");
        send(&mut st, 242_000, true, "x");
        st.sweep(ZERO + 290_000, None);
        let e = &st.errors["G"];
        assert_eq!(e.missed.len(), 1, "{e:?}");
        assert!(e.missed[0].resend && !e.missed[0].resolved);
    }

    #[test]
    fn wrong_annotations_and_strays_are_reported() {
        let mut st = state();
        send(&mut st, 62_000, false, "other");
        send(&mut st, 20_000, false, "x");
        let e = &st.errors["G"];
        assert_eq!(e.mismatched.len(), 1);
        assert!(e.mismatched[0].3.contains("annotations"));
        assert_eq!(e.unexpected.len(), 1);
    }
}
