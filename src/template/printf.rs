//! Go's `fmt.Sprintf`, `fmt.Sprint` and `fmt.Sprintln` over template values, including
//! Go's in-band error forms (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA …)`).

use std::fmt::Write;

use super::gofmt;
use super::value::Value;

/// `%v` as `fmt` prints it: unlike template output, `fmt` does not dereference the
/// `*sample` that `first` returns, so it shows `&{…}`.
fn write_fmt_v(v: &Value, out: &mut String) {
    if let Value::Sample(_) = v {
        out.push('&');
    }
    v.write_v(out);
}

fn fmt_v(v: &Value) -> String {
    let mut s = String::new();
    write_fmt_v(v, &mut s);
    s
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        write_fmt_v(a, &mut out);
    }
    out
}

/// `fmt.Sprintln`: always spaces, trailing newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_fmt_v(a, &mut out);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                '0' => sp.zero = true,
                ' ' => sp.space = true,
                _ => break,
            }
            chars.next();
        }
        sp.width = read_num(&mut chars, args, &mut argi);
        if chars.peek() == Some(&'.') {
            chars.next();
            sp.prec = Some(read_num(&mut chars, args, &mut argi).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if verb == 'T' {
            match args.get(argi) {
                Some(a) => {
                    argi += 1;
                    let t = if matches!(a, Value::Missing) {
                        "<nil>"
                    } else {
                        a.type_name()
                    };
                    out.push_str(&pad(t.to_string(), sp, false));
                }
                None => out.push_str("%!T(MISSING)"),
            }
            continue;
        }
        let Some(arg) = args.get(argi) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        argi += 1;
        out.push_str(&format_one(verb, sp, arg));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Missing => out.push_str("<nil>"),
                _ => {
                    let _ = write!(out, "{}={}", a.type_name(), fmt_v(a));
                }
            }
        }
        out.push(')');
    }
    out
}

fn read_num(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[Value],
    argi: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let v = match args.get(*argi) {
            Some(Value::Int(i)) => Some((*i).clamp(0, 1_000_000) as usize),
            _ => None,
        };
        *argi += 1;
        return v;
    }
    let mut n: Option<usize> = None;
    while let Some(&d) = chars.peek() {
        let Some(v) = d.to_digit(10) else { break };
        n = Some((n.unwrap_or(0) * 10 + v as usize).min(1_000_000));
        chars.next();
    }
    n
}

fn bad(verb: char, arg: &Value) -> String {
    match arg {
        Value::Missing => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), fmt_v(arg)),
    }
}

fn pad(s: String, sp: Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if sp.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if sp.zero && numeric {
        // Zero padding goes after the sign.
        let (sign, rest) = match s.strip_prefix(['-', '+', ' ']) {
            Some(r) => (&s[..1], r),
            None => ("", s.as_str()),
        };
        return format!("{sign}{}{rest}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}

fn sign(mut s: String, sp: Spec) -> String {
    if !s.starts_with('-') && !s.starts_with('+') {
        if sp.plus {
            s.insert(0, '+');
        } else if sp.space {
            s.insert(0, ' ');
        }
    } else if s.starts_with('+') && !sp.plus {
        // Go prints +Inf with its sign always; keep it.
    }
    s
}

fn float_verb(verb: char, sp: Spec, f: f64) -> String {
    let s = match verb {
        'e' | 'E' => gofmt::format_e(f, sp.prec.unwrap_or(6), verb == 'E'),
        'f' | 'F' => gofmt::format_f(f, sp.prec.unwrap_or(6)),
        'g' | 'G' if sp.sharp => sharp_g(
            gofmt::format_g(f, Some(sp.prec.unwrap_or(6)), verb == 'G'),
            sp.prec.unwrap_or(6),
        ),
        'g' | 'G' => gofmt::format_g(f, sp.prec, verb == 'G'),
        _ => gofmt::format_g(f, sp.prec, false),
    };
    let numeric = f.is_finite();
    pad(sign(s, sp), sp, numeric)
}

fn int_verb(verb: char, sp: Spec, i: i128) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => a.to_string(),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'o' => format!("{a:o}"),
        'b' => format!("{a:b}"),
        'c' => {
            return Some(pad(
                char::from_u32(a as u32).unwrap_or('\u{FFFD}').to_string(),
                sp,
                false,
            ));
        }
        'q' => {
            let ch = char::from_u32(a as u32).unwrap_or('\u{FFFD}');
            return Some(pad(format!("'{}'", ch.escape_debug()), sp, false));
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return None,
        _ => return None,
    };
    if let Some(p) = sp.prec {
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    if sp.sharp {
        match verb {
            'x' => digits.insert_str(0, "0x"),
            'X' => digits.insert_str(0, "0X"),
            'o' => digits.insert(0, '0'),
            'b' => digits.insert_str(0, "0b"),
            _ => {}
        }
    }
    if neg {
        digits.insert(0, '-');
    }
    Some(pad(sign(digits, sp), sp, sp.prec.is_none()))
}

fn str_verb(verb: char, sp: Spec, s: &str) -> Option<String> {
    let s = match sp.prec {
        Some(p) if matches!(verb, 's' | 'v') => s.chars().take(p).collect::<String>(),
        _ => s.to_string(),
    };
    Some(match verb {
        'v' if sp.sharp => pad(go_quote(&s), sp, false),
        's' | 'v' => pad(s, sp, false),
        'q' => pad(go_quote(&s), sp, false),
        'x' => pad(s.bytes().map(|b| format!("{b:02x}")).collect(), sp, false),
        'X' => pad(s.bytes().map(|b| format!("{b:02X}")).collect(), sp, false),
        _ => return None,
    })
}

fn format_one(verb: char, sp: Spec, arg: &Value) -> String {
    let r = match arg {
        Value::Float(f) => match verb {
            'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => Some(float_verb(verb, sp, *f)),
            _ => None,
        },
        Value::Int(i) => int_verb(verb, sp, *i as i128),
        Value::Uint(i) => int_verb(verb, sp, *i as i128),
        Value::Str(s) => str_verb(verb, sp, s),
        Value::Bool(b) => match verb {
            't' | 'v' => Some(pad(b.to_string(), sp, false)),
            _ => None,
        },
        Value::Duration(d) => match verb {
            'v' | 's' => Some(pad(arg.to_v(), sp, false)),
            'q' => Some(pad(go_quote(&arg.to_v()), sp, false)),
            _ => int_verb(verb, sp, *d as i128),
        },
        Value::Time(_) => match verb {
            'v' | 's' => Some(pad(arg.to_v(), sp, false)),
            'q' => Some(pad(go_quote(&arg.to_v()), sp, false)),
            _ => None,
        },
        Value::Missing => match verb {
            'v' => Some(pad("<nil>".into(), sp, false)),
            _ => None,
        },
        Value::Labels(_) | Value::Map(_) | Value::List(_) | Value::Sample(_) | Value::Root => {
            match verb {
                'v' | 's' => Some(pad(fmt_v(arg), sp, false)),
                _ => None,
            }
        }
    };
    r.unwrap_or_else(|| bad(verb, arg))
}

/// `%#g`: Go keeps trailing zeros up to the precision and always shows a decimal point.
fn sharp_g(s: String, prec: usize) -> String {
    if s.contains("Inf") || s.contains("NaN") {
        return s;
    }
    let (mut mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (s[..i].to_string(), s[i..].to_string()),
        None => (s.clone(), String::new()),
    };
    if !mant.contains('.') {
        mant.push('.');
    }
    let digits = mant.bytes().filter(u8::is_ascii_digit).count();
    let leading_zeros = mant
        .bytes()
        .filter(u8::is_ascii_digit)
        .take_while(|&b| b == b'0')
        .count();
    let sig = if digits == leading_zeros {
        digits
    } else {
        digits - leading_zeros
    };
    for _ in sig..prec.max(1) {
        mant.push('0');
    }
    mant + &exp
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        let f = |x: f64| Value::Float(x);
        assert_eq!(sprintf("%.2f", &[f(4.56789)]), "4.57");
        assert_eq!(sprintf("%5.1f|", &[f(4.56789)]), "  4.6|");
        assert_eq!(sprintf("%d", &[Value::Int(42)]), "42");
        assert_eq!(sprintf("%d", &[f(1.5)]), "%!d(float64=1.5)");
        assert_eq!(sprintf("%s %s", &[Value::str("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%q", &[Value::str("a\"b")]), "\"a\\\"b\"");
        assert_eq!(sprintf("%x", &[Value::Int(255)]), "ff");
        assert_eq!(sprintf("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(sprintf("x", &[Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            sprint(&[Value::Int(1), Value::Int(2), Value::str("a"), Value::Int(3)]),
            "1 2a3"
        );
    }
}
