//! Sizes in bytes as flags take them and as messages print them.

/// A size in bytes, as VictoriaMetrics' size flags read it: a number, optionally with
/// one of the suffixes KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
/// 1024), in any letter case. An empty value is 0.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err = || {
        format!(
            "invalid size {s:?}: use a number of bytes, optionally with KB, MB, GB, TB, KiB, MiB, GiB or TiB (e.g. 64MiB)"
        )
    };
    let t = s.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let upper = t.to_ascii_uppercase();
    const UNITS: [(&str, f64); 8] = [
        ("KIB", 1024.0),
        ("MIB", 1024.0 * 1024.0),
        ("GIB", 1024.0 * 1024.0 * 1024.0),
        ("TIB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("TB", 1e12),
    ];
    let (num, mult) = UNITS
        .iter()
        .find_map(|(u, m)| upper.strip_suffix(u).map(|n| (n, *m)))
        .unwrap_or((upper.as_str(), 1.0));
    let n: f64 = num.trim().parse().map_err(|_| err())?;
    if !n.is_finite() || n < 0.0 {
        return Err(err());
    }
    Ok((n * mult) as u64)
}

/// A size for messages: `64 MiB`, `1.5 KiB`, `300 B`.
pub fn format_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{} {}", v as u64, UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_victoriametrics_reads_them() {
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("1.5kib"), Ok(1536));
        assert_eq!(parse_size("2gb"), Ok(2_000_000_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size(""), Ok(0));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        for bad in ["1XB", "MB", "-1MB", "1 M B", "lots"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("KiB"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(300), "300 B");
    }
}
