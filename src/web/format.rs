//! Number and time formats exactly as Go (and so Prometheus) prints them, because
//! clients and the compliance tester compare strings, not just values.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// A time in Go's `time.RFC3339Nano` layout, as `encoding/json` writes a `time.Time`:
/// fractional seconds with trailing zeros removed, always UTC (`Z`). `None` prints Go's
/// zero time, which is what Prometheus shows for a rule that never ran.
#[derive(Clone, Copy)]
pub struct GoTime(pub Option<SystemTime>);

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(t) = self.0 else {
            return f.write_str("0001-01-01T00:00:00Z");
        };
        let dt: DateTime<Utc> = t.into();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        let mut nanos = dt.timestamp_subsec_nanos();
        if nanos > 0 {
            let mut width = 9;
            while nanos.is_multiple_of(10) {
                nanos /= 10;
                width -= 1;
            }
            write!(f, ".{nanos:0width$}")?;
        }
        f.write_char('Z')
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest round-trip digits,
/// at least two exponent digits with a sign (`1e+00`, `1.5e-07`), `NaN`, `+Inf`,
/// `-Inf`. Prometheus renders alert values this way.
#[derive(Clone, Copy)]
pub struct GoExp(pub f64);

impl fmt::Display for GoExp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        }
        // Rust's `{:e}` is already shortest round-trip; only the exponent differs.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        f.write_str(mantissa)?;
        f.write_char('e')?;
        f.write_char(sign)?;
        if digits.len() < 2 {
            f.write_char('0')?;
        }
        f.write_str(digits)
    }
}

impl Serialize for GoExp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A JSON number written the way Go writes a `float64`: integral values without a
/// fractional part (`60`, not `60.0`). Non-finite values become `null`.
#[derive(Clone, Copy)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn exp_matches_go() {
        let cases = [
            (1.0, "1e+00"),
            (0.0, "0e+00"),
            (-0.0, "-0e+00"),
            (0.5, "5e-01"),
            (123.456, "1.23456e+02"),
            (1e-7, "1e-07"),
            (1.5e300, "1.5e+300"),
            (-42.0, "-4.2e+01"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(GoExp(v).to_string(), want, "value {v}");
        }
    }

    #[test]
    fn time_matches_go_rfc3339nano() {
        let t = |s: u64, n: u32| GoTime(Some(SystemTime::UNIX_EPOCH + Duration::new(s, n)));
        assert_eq!(t(0, 0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            t(1_700_000_000, 500_000_000).to_string(),
            "2023-11-14T22:13:20.5Z"
        );
        assert_eq!(
            t(1_700_000_000, 123_456_789).to_string(),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            t(1_700_000_000, 1_000).to_string(),
            "2023-11-14T22:13:20.000001Z"
        );
        assert_eq!(GoTime(None).to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn float_json_like_go() {
        let j = |v| serde_json::to_string(&GoFloat(v)).unwrap();
        assert_eq!(j(60.0), "60");
        assert_eq!(j(0.25), "0.25");
        assert_eq!(j(0.001234), "0.001234");
        assert_eq!(j(f64::NAN), "null");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
