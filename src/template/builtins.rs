//! Go's builtin functions that need more than a line: `index`, `slice` and the
//! comparisons, with Go's rules for kinds and its error wording.

use std::sync::Arc;

use super::error::{FResult, FuncError};
use super::printf;
use super::value::{Kind, Value};

/// Go's `evalArgs`: a single string as is, else `fmt.Sprint`.
pub(crate) fn eval_args(a: &[Value]) -> String {
    match a {
        [Value::Str(s)] => s.to_string(),
        _ => printf::sprint(a),
    }
}

/// Go's `index`: map keys (missing → zero value) and list/string positions.
pub(crate) fn index(a: &[Value]) -> FResult {
    let Some((first, keys)) = a.split_first() else {
        return Err(FuncError::Arg(
            "wrong number of args for index: want at least 1 got 0".into(),
        ));
    };
    let mut v = first.clone();
    for k in keys {
        v = match &v {
            Value::Labels(l) => match k {
                Value::Str(key) => Value::str(l.get(key).unwrap_or("")),
                other => {
                    return Err(FuncError::Call(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )));
                }
            },
            Value::Map(m) => match k {
                Value::Str(key) => m.get(&**key).cloned().unwrap_or(Value::Missing),
                other => {
                    return Err(FuncError::Call(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )));
                }
            },
            Value::List(l) => {
                let i = int(k)?;
                if i < 0 || i as usize >= l.len() {
                    return Err(FuncError::Call(format!("index out of range: {i}")));
                }
                l[i as usize].clone()
            }
            Value::Str(st) => {
                let i = int(k)?;
                if i < 0 || i as usize >= st.len() {
                    return Err(FuncError::Call(format!("index out of range: {i}")));
                }
                Value::Int(st.as_bytes()[i as usize] as i64)
            }
            Value::Missing => return Err(FuncError::Call("index of untyped nil".into())),
            other => {
                return Err(FuncError::Call(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(v)
}

/// Go's `slice` over strings (bytes) and lists.
pub(crate) fn slice(a: &[Value]) -> FResult {
    let Some((first, idx)) = a.split_first() else {
        return Err(FuncError::Arg(
            "wrong number of args for slice: want at least 1 got 0".into(),
        ));
    };
    if idx.len() > 3 {
        return Err(FuncError::Call(format!(
            "too many slice indexes: {}",
            idx.len()
        )));
    }
    let len = match first {
        Value::Str(st) => st.len(),
        Value::List(l) => l.len(),
        other => {
            return Err(FuncError::Call(format!(
                "can't slice item of type {}",
                other.type_name()
            )));
        }
    };
    let mut ix = [0usize, len, len];
    for (n, v) in idx.iter().enumerate() {
        let i = int(v)?;
        if i < 0 || i as usize > len {
            return Err(FuncError::Call(format!("index out of range: {i}")));
        }
        ix[n] = i as usize;
    }
    if ix[0] > ix[1] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            ix[0], ix[1]
        )));
    }
    match first {
        Value::Str(st) => {
            if idx.len() == 3 {
                return Err(FuncError::Call("cannot 3-index slice a string".into()));
            }
            Ok(Value::str(st.get(ix[0]..ix[1]).unwrap_or("")))
        }
        Value::List(l) => Ok(Value::List(Arc::new(l[ix[0]..ix[1]].to_vec()))),
        other => Err(FuncError::Call(format!(
            "can't slice item of type {}",
            other.type_name()
        ))),
    }
}

/// Go's `eq`: basic kinds only; int vs float is an error, missing values compare unequal.
pub(crate) fn eq(a: &Value, others: &[Value]) -> Result<bool, FuncError> {
    if others.is_empty() {
        return Err(FuncError::Call("missing argument for comparison".into()));
    }
    for b in others {
        let (k1, k2) = (a.kind(), b.kind());
        let truth = if k1 != k2 {
            match (a, b) {
                (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
                    *x >= 0 && *x as u64 == *y
                }
                _ if k1 == Kind::Invalid || k2 == Kind::Invalid => false,
                _ => return Err(incompatible(a, b)),
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Uint(x), Value::Uint(y)) => x == y,
                _ if k1 == Kind::Int => int_of(a) == int_of(b),
                _ if k1 == Kind::Invalid => true,
                (_, Value::Labels(_) | Value::Map(_) | Value::List(_) | Value::Root) => {
                    return Err(FuncError::Call(format!(
                        "non-comparable type {}: {}",
                        b.to_v(),
                        b.type_name()
                    )));
                }
                _ => return Err(FuncError::Call("invalid type for comparison".into())),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's (1.2x) error for operands of different kinds, naming both types.
fn incompatible(a: &Value, b: &Value) -> FuncError {
    FuncError::Call(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) => *i,
        _ => 0,
    }
}

/// Go's `lt`, the base of `le`, `gt`, `ge`: basic kinds only, same kind required.
pub(crate) fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (a.kind(), b.kind());
    if matches!(k1, Kind::Invalid | Kind::Other) || matches!(k2, Kind::Invalid | Kind::Other) {
        return Err(FuncError::Call("invalid type for comparison".into()));
    }
    if k1 != k2 {
        return match (a, b) {
            (Value::Int(x), Value::Uint(y)) => Ok(*x < 0 || (*x as u64) < *y),
            (Value::Uint(x), Value::Int(y)) => Ok(*y >= 0 && *x < *y as u64),
            _ => Err(incompatible(a, b)),
        };
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        (Value::Bool(_), _) => return Err(FuncError::Call("invalid type for comparison".into())),
        _ => int_of(a) < int_of(b),
    })
}

fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => {
            i64::try_from(*u).map_err(|_| FuncError::Call("index out of range".into()))
        }
        other => Err(FuncError::Call(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        ))),
    }
}
