//! Go's float formatting (`strconv.FormatFloat` and the `fmt` verbs built on it).
//!
//! Alert text must match Prometheus byte for byte, and Go's rules differ from Rust's
//! (`1e+06`, `+Inf`, shortest digits with an exponent switch at 6 significant digits),
//! so numbers are rendered from their decimal digits following Go's algorithm.

/// Decimal digits of |v| without trailing zeros; value = 0.d1d2d3… × 10^dp.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

fn digits_from_exp(s: String) -> Digits {
    // `s` is Rust's `{:e}` form of a non-negative finite number: `1.2345e6`.
    let e = s.find('e').unwrap_or(s.len());
    let exp: i32 = s.get(e + 1..).and_then(|x| x.parse().ok()).unwrap_or(0);
    let mut d = s.into_bytes();
    d.truncate(e);
    d.retain(u8::is_ascii_digit);
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

fn shortest(v: f64) -> Digits {
    if v == 0.0 {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    digits_from_exp(format!("{:e}", v.abs()))
}

fn rounded(v: f64, n: usize) -> Digits {
    if v == 0.0 {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    // An f64's exact decimal expansion has at most 767 significant digits; beyond that
    // every digit is zero (and Rust's formatter rejects precisions over u16::MAX).
    digits_from_exp(format!(
        "{:.*e}",
        n.saturating_sub(1).min(MAX_EXACT),
        v.abs()
    ))
}

/// Enough digits for the exact value of any f64.
const MAX_EXACT: usize = 1100;

fn fmt_e(out: &mut String, dg: &Digits, prec: usize, upper: bool) {
    out.push(dg.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(dg.d.get(i).map_or('0', |&c| c as char));
        }
    }
    let exp = if dg.d.is_empty() { 0 } else { dg.dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

fn fmt_f(out: &mut String, dg: &Digits, prec: usize) {
    if dg.dp > 0 {
        for i in 0..dg.dp as usize {
            out.push(dg.d.get(i).map_or('0', |&c| c as char));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let idx = dg.dp as i64 + i - 1;
            let c = if idx >= 0 {
                dg.d.get(idx as usize).map_or('0', |&c| c as char)
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        return Some("NaN".into());
    }
    if v.is_infinite() {
        return Some(if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        });
    }
    None
}

/// Go's `%g` (prec `None` = shortest, as `%v` prints a float64).
pub fn format_g(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let (dg, mut p, eprec) = match prec {
        None => {
            let dg = shortest(v);
            let n = dg.d.len();
            (dg, n, 6usize)
        }
        Some(p) => {
            let p = p.max(1);
            let dg = rounded(v, p);
            let nd = dg.d.len();
            let mut eprec = p;
            if eprec > nd && nd as i32 >= dg.dp {
                eprec = nd;
            }
            (dg, p, eprec)
        }
    };
    let nd = dg.d.len();
    let exp = dg.dp - 1;
    if exp < -4 || exp >= eprec as i32 {
        if p > nd {
            p = nd;
        }
        fmt_e(&mut out, &dg, p.saturating_sub(1), upper);
    } else {
        if p as i32 > dg.dp {
            p = nd;
        }
        fmt_f(&mut out, &dg, (p as i32 - dg.dp).max(0) as usize);
    }
    out
}

/// Go's `%e` with the given precision (default 6).
pub fn format_e(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    fmt_e(&mut out, &rounded(v, prec + 1), prec, upper);
    out
}

/// Go's `strconv.FormatFloat(v, 'e' or 'E', -1, 64)`: the shortest digits that read
/// back as `v` (`1E+00`, `-2.5E-07`, `NaN`, `+Inf`).
pub fn format_e_shortest(v: f64, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let dg = shortest(v);
    let prec = dg.d.len().saturating_sub(1);
    fmt_e(&mut out, &dg, prec, upper);
    out
}

/// Go's `%f` with the given precision (default 6).
pub fn format_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut s = format!("{:.*}", prec.min(MAX_EXACT), v.abs());
    // Digits past the exact expansion are zeros.
    s.extend(std::iter::repeat_n('0', prec.saturating_sub(MAX_EXACT)));
    if v.is_sign_negative() {
        format!("-{s}")
    } else {
        s
    }
}

/// Float64 as Go's `%v` prints it (`fmt.Sprint`).
pub fn format_v(v: f64) -> String {
    format_g(v, None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_e_like_strconv() {
        assert_eq!(format_e_shortest(1.0, true), "1E+00");
        assert_eq!(format_e_shortest(0.0, true), "0E+00");
        assert_eq!(format_e_shortest(-0.0, true), "-0E+00");
        assert_eq!(format_e_shortest(60.0, true), "6E+01");
        assert_eq!(format_e_shortest(3.25e-7, false), "3.25e-07");
        assert_eq!(format_e_shortest(1e100, true), "1E+100");
        assert_eq!(format_e_shortest(0.1 + 0.2, true), "3.0000000000000004E-01");
        assert_eq!(format_e_shortest(f64::NAN, true), "NaN");
        assert_eq!(format_e_shortest(f64::NEG_INFINITY, true), "-Inf");
    }

    #[test]
    fn go_v_formatting() {
        assert_eq!(format_v(123456.0), "123456");
        assert_eq!(format_v(1234567.0), "1.234567e+06");
        assert_eq!(format_v(1e6), "1e+06");
        assert_eq!(format_v(1e-5), "1e-05");
        assert_eq!(format_v(0.0001), "0.0001");
        assert_eq!(format_v(0.0), "0");
        assert_eq!(format_v(-0.5), "-0.5");
        assert_eq!(format_v(f64::INFINITY), "+Inf");
        assert_eq!(format_v(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_v(f64::NAN), "NaN");
        assert_eq!(format_v(1e21), "1e+21");
    }

    #[test]
    fn go_precision_formatting() {
        assert_eq!(format_g(1234.567, Some(4), false), "1235");
        assert_eq!(format_g(1.0, Some(4), false), "1");
        assert_eq!(format_g(100000.0, Some(3), false), "1e+05");
        assert_eq!(format_g(0.0, Some(4), false), "0");
        assert_eq!(format_g(1.2345, Some(4), false), "1.234");
        assert_eq!(format_e(1234.5678, 2, false), "1.23e+03");
        assert_eq!(format_f(4.56789, 2), "4.57");
        assert_eq!(format_f(-2.0, 0), "-2");
    }
}
