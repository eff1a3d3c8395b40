//! Go methods that take arguments, on the two Go types templates meet: `time.Time`
//! (`$activeAt`, `toTime`) and `time.Duration` (`$for`, `parseDurationTime`). vmalert's
//! documentation builds links and ages with them, e.g.
//! `{{ ($activeAt.Add (parseDurationTime "-1h")).UnixMilli }}` or
//! `{{ (now | toTime).Sub $activeAt }}`. Methods without arguments (`.Unix`, `.Seconds`,
//! …) are read as fields by the evaluator.

use super::ast::Arg;
use super::gotime;
use super::value::Value;

/// Whether `name` is a method of `v` that takes arguments.
pub(crate) fn has_method(v: &Value, name: &str) -> bool {
    match v {
        Value::Time(_) => matches!(
            name,
            "Add" | "Sub" | "Format" | "Before" | "After" | "Equal"
        ),
        Value::Duration(_) => matches!(name, "Round" | "Truncate"),
        _ => false,
    }
}

/// Calls method `name` of `recv` with `args`; the error is Go's message.
pub(crate) fn call(recv: &Value, name: &str, args: &[Value]) -> Result<Value, String> {
    if args.len() != 1 {
        return Err(format!(
            "wrong number of args for {name}: want 1 got {}",
            args.len()
        ));
    }
    let arg = &args[0];
    match (recv, name) {
        (Value::Time(t), "Add") => Ok(Value::Time(t + i128::from(duration(arg)?))),
        (Value::Time(t), "Sub") => {
            // Go saturates a difference beyond the Duration range.
            let d = (t - time(arg)?).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
            Ok(Value::Duration(d as i64))
        }
        (Value::Time(t), "Format") => match arg {
            Value::Str(layout) => Ok(Value::string(gotime::format(*t, layout))),
            other => Err(wrong("string", other)),
        },
        (Value::Time(t), "Before") => Ok(Value::Bool(*t < time(arg)?)),
        (Value::Time(t), "After") => Ok(Value::Bool(*t > time(arg)?)),
        (Value::Time(t), "Equal") => Ok(Value::Bool(*t == time(arg)?)),
        (Value::Duration(d), "Round" | "Truncate") => {
            let m = duration(arg)?;
            Ok(Value::Duration(if name == "Round" {
                round(*d, m)
            } else {
                truncate(*d, m)
            }))
        }
        _ => Err(format!(
            "can't evaluate field {name} in type {}",
            recv.type_name()
        )),
    }
}

/// A field chain whose last name may be a method called with arguments: the receiver
/// (the chain without that name) and the name.
pub(crate) fn method_target(a: &Arg) -> Option<(Arg, &str)> {
    match a {
        Arg::Field(f) => {
            let (name, rest) = f.split_last()?;
            let recv = if rest.is_empty() {
                Arg::Dot
            } else {
                Arg::Field(rest.to_vec())
            };
            Some((recv, name))
        }
        Arg::Var(v, f) => {
            let (name, rest) = f.split_last()?;
            Some((Arg::Var(v.clone(), rest.to_vec()), name))
        }
        Arg::Chain(inner, f) => {
            let (name, rest) = f.split_last()?;
            let recv = if rest.is_empty() {
                (**inner).clone()
            } else {
                Arg::Chain(inner.clone(), rest.to_vec())
            };
            Some((recv, name))
        }
        _ => None,
    }
}

fn wrong(expected: &str, got: &Value) -> String {
    format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    )
}

/// A `time.Duration` argument: a duration, or an integer constant (nanoseconds), which
/// Go converts to the parameter's type.
fn duration(v: &Value) -> Result<i64, String> {
    match v {
        Value::Duration(d) | Value::Int(d) => Ok(*d),
        other => Err(wrong("time.Duration", other)),
    }
}

fn time(v: &Value) -> Result<i128, String> {
    match v {
        Value::Time(t) => Ok(*t),
        other => Err(wrong("time.Time", other)),
    }
}

/// Go's `Duration.Truncate`: towards zero to a multiple of `m` (unchanged if `m <= 0`).
fn truncate(d: i64, m: i64) -> i64 {
    if m <= 0 { d } else { d - d % m }
}

/// Go's `Duration.Round`: to the nearest multiple of `m`, halfway away from zero,
/// saturating.
fn round(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let r = (d % m).unsigned_abs();
    let less_than_half = r.saturating_add(r) < m as u64;
    let r = r as i64;
    match (d < 0, less_than_half) {
        (true, true) => d + r,
        (true, false) => d.checked_sub(m - r).unwrap_or(i64::MIN),
        (false, true) => d - r,
        (false, false) => d.checked_add(m - r).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn time_arithmetic() {
        let t = Value::Time(100 * S as i128);
        let Ok(Value::Duration(d)) = call(&t, "Sub", &[Value::Time(10 * S as i128)]) else {
            panic!("Sub gives a duration");
        };
        assert_eq!(d, 90 * S);
        let Ok(Value::Time(later)) = call(&t, "Add", &[Value::Duration(-3600 * S)]) else {
            panic!("Add gives a time");
        };
        assert_eq!(later, -3500 * S as i128);
        assert!(call(&t, "Add", &[Value::str("1h")]).is_err());
        assert_eq!(
            call(&t, "Format", &[Value::str("15:04")]).map(|v| v.to_v()),
            Ok("00:01".to_string())
        );
    }

    #[test]
    fn duration_rounding_like_go() {
        assert_eq!(round(90 * S + S / 2, S), 91 * S);
        assert_eq!(round(-(90 * S + S / 2), S), -91 * S);
        assert_eq!(truncate(90 * S + 999, S), 90 * S);
        assert_eq!(round(i64::MAX, 3600 * S), i64::MAX);
    }
}
