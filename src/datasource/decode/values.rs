//! The JSON values of an answer that are not label sets: strings borrowed from the body,
//! `[timestamp, "value"]` points, timestamps in seconds as milliseconds, and Prometheus'
//! value strings.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

/// A JSON string, borrowed from the body unless it has escapes. (serde's own
/// `Cow<str>` always copies; only fields marked `#[serde(borrow)]` borrow.)
pub(super) struct Text<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `[unix seconds, "value"]`.
pub(super) struct Point(pub(super) i64, pub(super) f64);

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Point, A::Error> {
                let Millis(ms) = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let Text(v) = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let value = parse_value(&v)
                    .ok_or_else(|| de::Error::custom(format!("invalid sample value {v:?}")))?;
                Ok(Point(ms, value))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A timestamp in seconds, as milliseconds: `(seconds * 1000.0).round()`. Whole seconds
/// below 2^53 ms (what servers send at whole-second steps) are multiplied exactly instead,
/// with the same result, sparing a call to libm's `round` per point (1.6 % of a replay).
pub(super) struct Millis(pub(super) i64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp in seconds")
            }
            fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Millis, E> {
                Ok(Millis((seconds * 1000.0).round() as i64))
            }
            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Millis, E> {
                if seconds.unsigned_abs() <= (1 << 53) / 1000 {
                    Ok(Millis(seconds * 1000))
                } else {
                    self.visit_f64(seconds as f64)
                }
            }
            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Millis, E> {
                match i64::try_from(seconds) {
                    Ok(s) => self.visit_i64(s),
                    Err(_) => self.visit_f64(seconds as f64),
                }
            }
        }
        d.deserialize_f64(V)
    }
}

/// The `values` of a matrix series, decoded straight into `(ms, value)` pairs.
pub(super) struct Points(pub(super) Vec<(i64, f64)>);

/// Decodes [`Points`] into a vector made with room for this many points: serde_json
/// cannot tell an array's length before reading it, and growing a series' points by
/// doubling copied each of them again (with the fresh pages the copies fault in).
pub(super) struct PointsSeed(pub(super) usize);

impl<'de> DeserializeSeed<'de> for PointsSeed {
    type Value = Points;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Points, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PointsSeed {
    type Value = Points;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of [timestamp, \"value\"] pairs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Points, A::Error> {
        let mut out = Vec::with_capacity(s.size_hint().unwrap_or(self.0));
        while let Some(Point(t, v)) = s.next_element()? {
            out.push((t, v));
        }
        Ok(Points(out))
    }
}

/// Prometheus' value strings: numbers, `NaN`, `+Inf`, `-Inf`.
pub(super) fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}
