//! Virtual time: the harness reasons in the official suite's own (unscaled) durations and
//! converts at the boundary, so every expectation keeps the upstream numbers verbatim.
//!
//! With scale `s`, one virtual second lasts `s` real seconds. Everything the harness sees
//! from the outside (wall clock, timestamps in API answers and alert payloads, durations
//! reported by `/api/v1/rules`) is mapped into virtual time before it is compared.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The suite's resend delay (the evaluator is started with this, scaled).
pub const RESEND_DELAY_MS: i64 = 60_000;
/// The suite's maximum request round trip, used as slack in most comparisons.
pub const MAX_RTT_MS: i64 = 5_000;
/// How long inactive alerts keep being re-sent. Neither vmalert nor tocsin can scale it,
/// so it is kept in real time: in virtual time it lasts 15 min / scale.
pub const RESOLVED_RETENTION_REAL_MS: i64 = 15 * 60_000;

/// Maps between real (wall-clock) and virtual (unscaled suite) time.
#[derive(Clone, Copy, Debug)]
pub struct Timebase {
    /// Real unix ms of the virtual zero (the moment the first samples were written).
    pub zero_real_ms: i64,
    pub scale: f64,
}

/// Wall clock in unix milliseconds.
pub fn now_real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Timebase {
    /// Virtual unix ms for a real unix ms. The virtual zero equals the real zero.
    pub fn to_virtual(self, real_ms: i64) -> i64 {
        self.zero_real_ms + ((real_ms - self.zero_real_ms) as f64 / self.scale).round() as i64
    }

    /// Real unix ms for a virtual unix ms.
    pub fn to_real(self, virtual_ms: i64) -> i64 {
        self.zero_real_ms + ((virtual_ms - self.zero_real_ms) as f64 * self.scale).round() as i64
    }

    /// The current virtual time.
    pub fn now(&self) -> i64 {
        self.to_virtual(now_real_ms())
    }

    /// Virtual ms relative to the virtual zero, as the cases count time.
    pub fn rel(&self, virtual_ms: i64) -> i64 {
        virtual_ms - self.zero_real_ms
    }

    /// Inactive-alert retention expressed in virtual ms.
    pub fn resolved_retention_ms(&self) -> i64 {
        (RESOLVED_RETENTION_REAL_MS as f64 / self.scale).round() as i64
    }

    /// Seconds since the virtual zero, for human-readable reports.
    pub fn label(&self, virtual_ms: i64) -> String {
        format!("t={:.1}s", self.rel(virtual_ms) as f64 / 1000.0)
    }
}

/// Formats a real duration as a Go/Prometheus duration string with millisecond precision.
pub fn go_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// Parses the few duration forms the upstream rules file uses (`30s`, `3m`, `1h`, `500ms`).
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        return None;
    };
    num.parse::<i64>().ok().map(|v| v * mult)
}

/// Parses an RFC 3339 timestamp into unix ms; Go's zero time counts as absent.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let ms = t.timestamp_millis();
    if t.timestamp() <= 0 { None } else { Some(ms) }
}

/// RFC 3339 rendering of a unix ms, for reports.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_round_trips() {
        let tb = Timebase {
            zero_real_ms: 1_000_000,
            scale: 0.1,
        };
        assert_eq!(tb.to_virtual(1_003_000), 1_030_000);
        assert_eq!(tb.to_real(1_030_000), 1_003_000);
        assert_eq!(parse_duration_ms("3m"), Some(180_000));
        assert_eq!(parse_duration_ms("15s"), Some(15_000));
    }
}
