//! Decoding Prometheus API answers straight into `Labels` and samples: borrowed
//! strings where the JSON has no escapes, no intermediate `serde_json::Value`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{QueryError, RangeSeries};
use crate::labels::{Labels, LabelsBuilder};
use crate::sample::Sample;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
    #[serde(rename = "errorType", borrow, default)]
    error_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType", borrow)]
    result_type: Cow<'a, str>,
    #[serde(borrow)]
    result: &'a RawValue,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: MetricLabels,
    value: Point,
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: MetricLabels,
    values: Vec<Point>,
}

/// A label map decoded directly into a sorted `Labels`.
struct MetricLabels(Labels);

impl<'de> Deserialize<'de> for MetricLabels {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetricLabels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of label names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MetricLabels, A::Error> {
                let mut b = LabelsBuilder::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<Cow<'de, str>, Cow<'de, str>>()? {
                    b.set(&*k, &*v);
                }
                Ok(MetricLabels(b.build()))
            }
        }
        d.deserialize_map(V)
    }
}

/// `[unix seconds, "value"]`.
struct Point(i64, f64);

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Point, A::Error> {
                let ts: f64 = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let v: Cow<'de, str> = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let value = parse_value(&v)
                    .ok_or_else(|| de::Error::custom(format!("invalid sample value {v:?}")))?;
                Ok(Point((ts * 1000.0).round() as i64, value))
            }
        }
        d.deserialize_seq(V)
    }
}

/// Prometheus' value strings: numbers, `NaN`, `+Inf`, `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    s.trim().to_string()
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(64)]).to_ascii_lowercase();
    let t = head.trim_start();
    t.starts_with("<!doctype") || t.starts_with("<html") || t.starts_with('<')
}

/// The error for a non-2xx answer: Prometheus' `error` text when the body has one.
pub(super) fn status_error(url: &str, status: u16, body: &[u8]) -> QueryError {
    let message = match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope {
            error: Some(e),
            error_type,
            ..
        }) => match error_type {
            Some(t) => format!("{t}: {e}"),
            None => e.to_string(),
        },
        _ => snippet(body),
    };
    QueryError::Status {
        url: url.to_string(),
        status,
        message,
    }
}

fn envelope<'a>(url: &str, body: &'a [u8]) -> Result<Data<'a>, QueryError> {
    let env: Envelope<'a> = serde_json::from_slice(body).map_err(|e| {
        if looks_like_html(body) {
            QueryError::NotJson {
                url: url.to_string(),
                what: "HTML",
                snippet: snippet(body),
            }
        } else if e.is_eof() {
            QueryError::Decode {
                url: url.to_string(),
                message: format!(
                    "the JSON ends early at line {} column {} ({} bytes received): truncated answer",
                    e.line(),
                    e.column(),
                    body.len()
                ),
            }
        } else {
            QueryError::Decode {
                url: url.to_string(),
                message: e.to_string(),
            }
        }
    })?;
    if env.status != "success" {
        return Err(QueryError::Failed {
            error_type: env
                .error_type
                .unwrap_or(Cow::Borrowed("unknown"))
                .into_owned(),
            error: env
                .error
                .unwrap_or(Cow::Borrowed("(no message)"))
                .into_owned(),
        });
    }
    env.data.ok_or_else(|| QueryError::Decode {
        url: url.to_string(),
        message: "status is success but there is no data".into(),
    })
}

fn decode_err(url: &str, e: serde_json::Error) -> QueryError {
    QueryError::Decode {
        url: url.to_string(),
        message: e.to_string(),
    }
}

/// Decodes an instant-query answer: a vector, or a scalar (one sample with no labels,
/// stamped `time_ms`).
pub fn decode_instant(url: &str, body: &[u8], time_ms: i64) -> Result<Vec<Sample>, QueryError> {
    let data = envelope(url, body)?;
    match &*data.result_type {
        "vector" => {
            let items: Vec<VectorItem> =
                serde_json::from_str(data.result.get()).map_err(|e| decode_err(url, e))?;
            Ok(items
                .into_iter()
                .map(|i| Sample {
                    labels: i.metric.0,
                    value: i.value.1,
                    timestamp_ms: i.value.0,
                })
                .collect())
        }
        "scalar" => {
            let p: Point =
                serde_json::from_str(data.result.get()).map_err(|e| decode_err(url, e))?;
            Ok(vec![Sample {
                labels: Labels::empty(),
                value: p.1,
                timestamp_ms: if p.0 == 0 { time_ms } else { p.0 },
            }])
        }
        other => Err(QueryError::ResultType {
            got: other.to_string(),
        }),
    }
}

/// Decodes a range-query answer (a matrix).
pub fn decode_range(url: &str, body: &[u8]) -> Result<Vec<RangeSeries>, QueryError> {
    let data = envelope(url, body)?;
    if data.result_type != "matrix" {
        return Err(QueryError::ResultType {
            got: data.result_type.into_owned(),
        });
    }
    let items: Vec<MatrixItem> =
        serde_json::from_str(data.result.get()).map_err(|e| decode_err(url, e))?;
    Ok(items
        .into_iter()
        .map(|i| {
            (
                i.metric.0,
                i.values.into_iter().map(|p| (p.0, p.1)).collect(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "http://ds/api/v1/query";

    #[test]
    fn vector_with_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a\"b"},"value":[1700000000.5,"1"]},
            {"metric":{},"value":[1700000000,"NaN"]},
            {"metric":{"x":"y"},"value":[1700000000,"+Inf"]},
            {"metric":{"x":"z"},"value":[1700000000,"-Inf"]}]}}"#;
        let s = decode_instant(U, body, 0).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].labels.get("job"), Some("a\"b"));
        assert_eq!(s[0].timestamp_ms, 1_700_000_000_500);
        assert!(s[1].value.is_nan());
        assert_eq!(s[2].value, f64::INFINITY);
        assert_eq!(s[3].value, f64::NEG_INFINITY);
    }

    #[test]
    fn scalar_is_one_unlabelled_sample() {
        let body =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
        let s = decode_instant(U, body, 5).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s[0].labels.is_empty());
        assert_eq!(s[0].value, 42.0);
    }

    #[test]
    fn wrong_result_types_are_named() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let e = decode_instant(U, body, 0).unwrap_err().to_string();
        assert!(
            e.contains("matrix") && e.contains("vector or a scalar"),
            "{e}"
        );
        let body = br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(
            decode_instant(U, body, 0)
                .unwrap_err()
                .to_string()
                .contains("string")
        );
    }

    #[test]
    fn html_truncated_and_error_answers_are_precise() {
        let e = decode_instant(U, b"<html><body>502 Bad Gateway</body></html>", 0).unwrap_err();
        assert!(matches!(e, QueryError::NotJson { what: "HTML", .. }), "{e}");
        let e = decode_instant(U, br#"{"status":"success","data":{"resultType":"vec"#, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = decode_instant(
            U,
            br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
            0,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "query failed (bad_data): parse error");
        let e = status_error(
            U,
            422,
            br#"{"status":"error","errorType":"execution","error":"too many samples"}"#,
        )
        .to_string();
        assert_eq!(
            e,
            "http://ds/api/v1/query answered 422: execution: too many samples"
        );
        let e = status_error(U, 500, b"internal").to_string();
        assert!(e.ends_with("answered 500: internal"), "{e}");
    }

    #[test]
    fn matrix_for_range_queries() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"a":"1"},"values":[[1,"1"],[2,"2.5"]]}]}}"#;
        let r = decode_range(U, body).unwrap();
        assert_eq!(r[0].1, vec![(1000, 1.0), (2000, 2.5)]);
    }
}
