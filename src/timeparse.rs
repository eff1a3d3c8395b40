//! Points in time as users type them on the command line: RFC 3339
//! (`2026-11-01T00:00:00Z`), unix seconds (`1761955200`, fractions allowed), or relative
//! to now (`-7d`, `-36h`, `now`). Used by replay's `--from`/`--to` and vmalert's
//! `-replay.timeFrom`/`-replay.timeTo`.

use chrono::DateTime;

/// A time that could not be understood; the message says which forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {input:?}: use RFC 3339 (2026-11-01T00:00:00Z), unix seconds (1761955200) or a duration before now (-7d, -36h, now)"
)]
pub struct TimeError {
    pub input: String,
}

/// Parses `s` into milliseconds since the epoch; `now_ms` anchors relative forms.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, TimeError> {
    let err = || TimeError {
        input: s.to_string(),
    };
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Some(rel) = t.strip_prefix('-')
        && rel.starts_with(|c: char| c.is_ascii_digit())
        && rel.ends_with(|c: char| c.is_ascii_alphabetic())
    {
        let d = crate::cli::parse_go_duration(rel).map_err(|_| err())?;
        return i64::try_from(d.as_millis())
            .ok()
            .and_then(|ms| now_ms.checked_sub(ms))
            .ok_or_else(err);
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !t.is_empty() {
        let secs: f64 = t.parse().map_err(|_| err())?;
        if !secs.is_finite() || secs > 1e13 {
            return Err(err());
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_time("now", NOW), Ok(NOW));
        assert_eq!(parse_time("-7d", NOW), Ok(NOW - 7 * 86_400_000));
        assert_eq!(parse_time("-1h30m", NOW), Ok(NOW - 5_400_000));
        assert_eq!(parse_time("1700000000", NOW), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.5", NOW), Ok(1_700_000_000_500));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", NOW),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00", NOW),
            Ok(1_700_000_000_000)
        );
    }

    #[test]
    fn rejected_forms_say_what_works() {
        for bad in ["", "yesterday", "-7", "7d", "2023-13-01T00:00:00Z", "-x"] {
            let e = parse_time(bad, NOW).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{bad}: {e}");
        }
    }
}
