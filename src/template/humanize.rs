//! Prometheus' humanize family and time/duration conversions, with its exact output.

use super::gofmt::format_g;
use super::value::format_go_time;

fn g4(v: f64) -> String {
    format_g(v, Some(4), false)
}

/// `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return with_suffix(g4(v), prefix);
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    with_suffix(g4(v), prefix)
}

fn with_suffix(mut s: String, suffix: &str) -> String {
    s.push_str(suffix);
    s
}

/// Go's `int64(f)` as compiled for amd64 (the reference binaries): NaN and values
/// outside the int64 range become MinInt64 instead of saturating as Rust's `as` does.
pub fn go_f64_to_i64(v: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// `humanize1024`: binary prefixes.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    with_suffix(g4(v), prefix)
}

/// `humanizeDuration`: seconds to `1d 1h 0m 0s`, `1.5s`, `123.5ms`.
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = go_f64_to_i64(v);
        let seconds = d % 60;
        let minutes = (d / 60) % 60;
        let hours = (d / 60 / 60) % 24;
        let days = d / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// `humanizePercentage`: a ratio as a percentage.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Prometheus' `floatToTime`: seconds to a millisecond-precision time, as nanoseconds.
pub fn float_to_time(v: f64) -> Result<Option<i128>, String> {
    if !v.is_finite() {
        return Ok(None);
    }
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            super::gofmt::format_v(v)
        ));
    }
    // model.TimeFromUnixNano keeps milliseconds (integer division truncates toward zero).
    let ms = (ts as i64) / 1_000_000;
    Ok(Some(ms as i128 * 1_000_000))
}

/// `humanizeTimestamp`.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    Ok(match float_to_time(v)? {
        None => g4(v),
        Some(ns) => format_go_time(ns),
    })
}

/// Prometheus' `model.ParseDuration` (`1h30m`, `5m`, `1w`, `100ms`), in milliseconds.
pub fn parse_prom_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("not a valid duration string: {s:?}");
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    if s == "0" {
        return Ok(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let nd = rest.bytes().take_while(u8::is_ascii_digit).count();
        if nd == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..nd].parse().map_err(|_| bad())?;
        rest = &rest[nd..];
        let ul = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..ul];
        rest = &rest[ul..];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if idx < next_unit {
            return Err(bad());
        }
        next_unit = idx + 1;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// VictoriaMetrics' duration syntax, which vmalert's `parseDurationTime` reads: a sign
/// and decimal numbers (`-1h`, `1.5h`, `1h30m`), in nanoseconds.
pub fn parse_vm_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms = match &rest[..u] {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 6e4,
            "h" => 3.6e6,
            "d" => 8.64e7,
            "w" => 6.048e8,
            "y" => 3.1536e10,
            _ => return Err(bad()),
        };
        rest = &rest[u..];
        total += num * unit_ms;
    }
    let ns = go_f64_to_i64((total * 1e6).round());
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_documented_outputs() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize_duration(86400.0 + 3600.0), "1d 1h 0m 0s");
        assert_eq!(humanize_duration(0.12345), "123.5ms");
        assert_eq!(humanize_percentage(0.1234567), "12.35%");
        assert_eq!(
            humanize_timestamp(1435065584.128).unwrap(),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(parse_prom_duration("1h30m").unwrap(), 5_400_000);
        assert!(parse_prom_duration("30m1h").is_err());
        assert_eq!(parse_vm_duration("-1h").unwrap(), -3_600_000_000_000);
        assert_eq!(parse_vm_duration("1.5m30s").unwrap(), 120_000_000_000);
        assert!(parse_vm_duration("1x").is_err() && parse_vm_duration("-").is_err());
    }
}
