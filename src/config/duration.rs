//! Rule-file durations, parsed and printed exactly as Prometheus does.
//!
//! Rule files written for Prometheus must mean the same thing here, so this is not
//! humantime: units are `y w d h m s ms`, each at most once and in strictly decreasing
//! order, `y` is 365 days, a lone `"0"` is allowed, and fractions, signs, spaces and bare
//! numbers are rejected. The value must fit in a signed 64-bit count of nanoseconds
//! (about 292 years), because that is what Prometheus can represent.

use std::time::Duration;

/// Why a duration string was refused; the text mirrors Prometheus' so that messages
/// users already search for keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    #[error("duration out of range: {0:?} (the maximum is about 292y)")]
    OutOfRange(String),
}

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;
const W: u64 = 7 * D;
const Y: u64 = 365 * D;
/// The largest nanosecond count Prometheus (Go `time.Duration`) can hold.
const MAX_NANOS: u64 = i64::MAX as u64;

/// Units from the largest to the smallest; the index is the order a string must follow.
const UNITS: [(&str, u64); 7] = [
    ("y", Y),
    ("w", W),
    ("d", D),
    ("h", H),
    ("m", M),
    ("s", S),
    ("ms", MS),
];

/// Parses a Prometheus duration such as `5m`, `1h30m`, `2w`, `500ms` or `0`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    match input {
        "" => return Err(DurationError::Empty),
        "0" => return Ok(Duration::ZERO),
        _ => {}
    }
    let invalid = || DurationError::Invalid(input.to_string());
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    // Index into UNITS of the next unit allowed; each unit must be smaller than the last.
    let mut next_unit = 0;
    while pos < bytes.len() {
        let digits_end = pos
            + bytes[pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        if digits_end == pos {
            return Err(invalid());
        }
        // Digits are ASCII, so the slice is valid UTF-8 and only overflow can fail.
        let value: u64 = input[pos..digits_end].parse().map_err(|_| invalid())?;
        let unit_end = digits_end
            + bytes[digits_end..]
                .iter()
                .take_while(|b| !b.is_ascii_digit())
                .count();
        if unit_end == digits_end {
            return Err(invalid());
        }
        let unit = input.get(digits_end..unit_end).ok_or_else(invalid)?;
        let idx = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_string(),
                input: input.to_string(),
            })?;
        if idx < next_unit {
            return Err(invalid());
        }
        next_unit = idx + 1;
        let nanos = value
            .checked_mul(UNITS[idx].1)
            .and_then(|n| total.checked_add(n))
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| DurationError::OutOfRange(input.to_string()))?;
        total = nanos;
        pos = unit_end;
    }
    Ok(Duration::from_nanos(total))
}

/// Prints a duration the way Prometheus does (`1h30m`, `0s`, `1d`, `2w`, `1y`, `500ms`):
/// years and weeks only when they divide the value exactly, so `90d` stays `90d`
/// rather than `12w6d`. Anything below a millisecond is dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let steps: [(&str, u128, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1_000, false),
        ("ms", 1, false),
    ];
    for (unit, size, only_exact) in steps {
        if only_exact && !ms.is_multiple_of(size) {
            continue;
        }
        let n = ms / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms -= n * size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    #[test]
    fn accepts_what_prometheus_accepts() {
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("1ms"), Duration::from_millis(1));
        assert_eq!(ok("5m30s"), Duration::from_secs(330));
        assert_eq!(ok("1h0m"), Duration::from_secs(3600));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("2w"), Duration::from_secs(14 * 86_400));
        assert_eq!(ok("1y"), Duration::from_secs(365 * 86_400));
        assert_eq!(
            ok("1y2w3d4h5m6s7ms"),
            Duration::from_millis(((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7)
        );
        assert_eq!(ok("292y"), Duration::from_secs(292 * 365 * 86_400));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for bad in [
            "1", "-1s", "1.5d", "1y1m1d", "5s5m", "1m1m", "1h 30m", " 1h", "1H", "s", "1sm", "00",
            "+1s", "1µs", "1ns", "1e3s", "0x10s", "1ms1s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("1ns"),
            Err(DurationError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn overflow_of_int64_nanoseconds_is_out_of_range() {
        assert!(matches!(
            parse_duration("294y"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_duration("292y52w"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(DurationError::Invalid(_))
        ));
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "1w");
        assert_eq!(format_duration(Duration::from_secs(90 * 86_400)), "90d");
        assert_eq!(format_duration(Duration::from_secs(365 * 86_400)), "1y");
        assert_eq!(format_duration(Duration::from_secs(366 * 86_400)), "366d");
        assert_eq!(format_duration(Duration::from_nanos(999_999)), "0s");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for s in ["1h30m", "1y", "2w", "13d1h", "1m1s1ms", "45s", "8d"] {
            assert_eq!(format_duration(ok(s)), s);
        }
    }
}
