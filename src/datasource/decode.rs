//! Decoding Prometheus API answers straight into `Labels` and samples, in one pass over
//! the bytes: borrowed strings where the JSON has no escapes, no intermediate
//! `serde_json::Value`, and label sets and strings shared through the process-wide
//! [`Interner`] — so that decoding a series seen before allocates nothing for its
//! labels, and all rules' alerts and series hold one copy of each string.
//!
//! A successful range answer (a matrix, millions of points in a replay) is read by the
//! hand-written reader in `decode/matrix.rs`; everything else by serde_json and the
//! visitors here.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{QueryError, RangeSeries};
use crate::labels::{Interner, Labels};
use crate::sample::Sample;

mod matrix;
mod values;
use values::{Point, Points, PointsSeed, Text};

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
    /// VictoriaMetrics' query statistics; Prometheus sends none unless asked.
    #[serde(default)]
    stats: Option<Stats>,
    /// VictoriaMetrics cluster: some storage nodes did not answer.
    #[serde(rename = "isPartial", default)]
    is_partial: Option<bool>,
}

/// `stats` of a VictoriaMetrics answer: how many series the query read from storage
/// (`"seriesFetched": "12"`, a string; a number is accepted too).
#[derive(Deserialize)]
struct Stats {
    #[serde(rename = "seriesFetched", default, deserialize_with = "count")]
    series_fetched: Option<usize>,
}

fn count<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N<'a> {
        Num(u64),
        Str(#[serde(borrow)] Cow<'a, str>),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::Num(n)) => Some(n as usize),
        Some(N::Str(s)) => s.parse().ok(),
        None => None,
    })
}

/// An instant query's answer: its samples, and the series the datasource reports having
/// fetched for it (VictoriaMetrics), which tells a query that matched nothing from one
/// whose condition was false.
#[derive(Debug, Clone, Default)]
pub struct InstantAnswer {
    pub samples: Vec<Sample>,
    pub series_fetched: Option<usize>,
    /// The datasource said the answer may be partial (VictoriaMetrics' `isPartial`,
    /// templates' `$isPartial`).
    pub is_partial: bool,
    /// Samples the query loaded from storage, when asked with `stats=all` and the
    /// datasource tells (Prometheus' `data.stats.samples.totalQueryableSamples`).
    pub samples_queried: Option<u64>,
}

/// Prometheus' `data.stats` (sent when the query asks `stats=all`).
#[derive(Deserialize)]
struct QueryStats {
    #[serde(default)]
    samples: Option<SampleStats>,
}

#[derive(Deserialize)]
struct SampleStats {
    #[serde(rename = "totalQueryableSamples", default)]
    total_queryable: Option<u64>,
}

/// What an answer says besides its data: series fetched, and whether it may be partial.
type Meta = (Option<usize>, bool);

/// `data` of an answer. Prometheus and VictoriaMetrics write `resultType` before `result`,
/// so the result is decoded as it is read; should an answer put it after, `result` is
/// kept raw and decoded once its type is known.
struct Data<'a> {
    result_type: Cow<'a, str>,
    result: Decoded,
    /// `stats.samples.totalQueryableSamples` (Prometheus, with `stats=all`).
    samples_queried: Option<u64>,
}

enum Decoded {
    Vector(Vec<Sample>),
    Scalar(Point),
    Matrix(Vec<RangeSeries>),
    /// A result type rules cannot use (`string`), left undecoded.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with resultType and result")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Data<'de>, A::Error> {
                let mut result_type: Option<Cow<'de, str>> = None;
                let mut result = None;
                let mut raw: Option<&'de RawValue> = None;
                let mut samples_queried = None;
                while let Some(Text(key)) = m.next_key()? {
                    match &*key {
                        "stats" => {
                            // Statistics are a bonus: a shape not known here is ignored.
                            let raw: &'de RawValue = m.next_value()?;
                            samples_queried = serde_json::from_str::<QueryStats>(raw.get())
                                .ok()
                                .and_then(|s| s.samples?.total_queryable);
                        }
                        "resultType" => result_type = Some(m.next_value::<Text>()?.0),
                        "result" => match result_type.as_deref() {
                            Some(t) => result = Some(m.next_value_seed(ResultSeed(t))?),
                            None => raw = Some(m.next_value()?),
                        },
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let result_type =
                    result_type.ok_or_else(|| de::Error::missing_field("resultType"))?;
                let result = match (result, raw) {
                    (Some(r), _) => r,
                    (None, Some(raw)) => {
                        let mut d = serde_json::Deserializer::from_str(raw.get());
                        ResultSeed(&result_type)
                            .deserialize(&mut d)
                            .map_err(de::Error::custom)?
                    }
                    (None, None) => return Err(de::Error::missing_field("result")),
                };
                Ok(Data {
                    result_type,
                    result,
                    samples_queried,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Decodes `result` according to `resultType`.
struct ResultSeed<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = Decoded;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        Ok(match self.0 {
            "vector" => Decoded::Vector(d.deserialize_seq(SeriesList::<VectorKind>::new())?),
            "matrix" => Decoded::Matrix(d.deserialize_seq(SeriesList::<MatrixKind>::new())?),
            "scalar" => Decoded::Scalar(Point::deserialize(d)?),
            _ => {
                IgnoredAny::deserialize(d)?;
                Decoded::Other
            }
        })
    }
}

/// What one element of a vector or matrix holds besides its labels, and what it becomes.
trait SeriesKind {
    const FIELD: &'static str;
    type Payload;
    type Item;
    /// Decodes the payload; `hint` is the previous series' number of points (a matrix'
    /// series usually all have as many), to size the next one's at once.
    fn payload<'de, A: MapAccess<'de>>(
        m: &mut A,
        hint: &mut usize,
    ) -> Result<Self::Payload, A::Error>;
    fn item(labels: Labels, payload: Self::Payload) -> Self::Item;
}

struct VectorKind;
impl SeriesKind for VectorKind {
    const FIELD: &'static str = "value";
    type Payload = Point;
    type Item = Sample;
    fn payload<'de, A: MapAccess<'de>>(m: &mut A, _: &mut usize) -> Result<Point, A::Error> {
        m.next_value()
    }
    fn item(labels: Labels, p: Point) -> Sample {
        Sample {
            labels,
            value: p.1,
            timestamp_ms: p.0,
        }
    }
}

struct MatrixKind;
impl SeriesKind for MatrixKind {
    const FIELD: &'static str = "values";
    type Payload = Points;
    type Item = RangeSeries;
    fn payload<'de, A: MapAccess<'de>>(m: &mut A, hint: &mut usize) -> Result<Points, A::Error> {
        let points = m.next_value_seed(PointsSeed(*hint))?;
        *hint = points.0.len();
        Ok(points)
    }
    fn item(labels: Labels, p: Points) -> RangeSeries {
        (labels, p.0)
    }
}

/// Label pairs of one series as decoded: borrowed from the body unless escaped.
type Pairs<'de> = Vec<(Cow<'de, str>, Cow<'de, str>)>;

/// The `result` array. Label pairs are collected in a buffer reused from series to
/// series.
struct SeriesList<'de, K> {
    buf: Pairs<'de>,
    /// The previous series' number of points.
    hint: usize,
    kind: std::marker::PhantomData<K>,
}

impl<K> SeriesList<'_, K> {
    fn new() -> Self {
        SeriesList {
            buf: Vec::new(),
            hint: 0,
            kind: std::marker::PhantomData,
        }
    }
}

impl<'de, K: SeriesKind> Visitor<'de> for SeriesList<'de, K> {
    type Value = Vec<K::Item>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of series")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut s: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(s.size_hint().unwrap_or(0));
        while let Some(item) = s.next_element_seed(SeriesSeed::<K> {
            buf: &mut self.buf,
            hint: &mut self.hint,
            kind: std::marker::PhantomData,
        })? {
            out.push(item);
        }
        Ok(out)
    }
}

/// One `{"metric": {...}, "value(s)": ...}` element.
struct SeriesSeed<'p, 'de, K> {
    buf: &'p mut Pairs<'de>,
    hint: &'p mut usize,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: SeriesKind> DeserializeSeed<'de> for SeriesSeed<'_, 'de, K> {
    type Value = K::Item;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<K::Item, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K: SeriesKind> Visitor<'de> for SeriesSeed<'_, 'de, K> {
    type Value = K::Item;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a series with metric and {}", K::FIELD)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<K::Item, A::Error> {
        let mut labels = None;
        let mut payload = None;
        while let Some(Text(key)) = m.next_key()? {
            if key == "metric" {
                labels = Some(m.next_value_seed(MetricSeed {
                    buf: &mut *self.buf,
                })?);
            } else if key == K::FIELD {
                payload = Some(K::payload(&mut m, self.hint)?);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        let payload = payload.ok_or_else(|| de::Error::missing_field(K::FIELD))?;
        Ok(K::item(labels.unwrap_or_default(), payload))
    }
}

/// A label map decoded into a `Labels`, taken from the process-wide [`Interner`]: a
/// series seen before costs no allocation, a new one is built from shared strings.
/// Pairs that are not strictly sorted by name or hold an empty value (Prometheus sends
/// them sorted; other servers, such as a mock that keeps `__name__` first, need not) are
/// put in order first with the builder's rules: later duplicates win, empty values are
/// dropped.
struct MetricSeed<'p, 'de> {
    buf: &'p mut Pairs<'de>,
}

impl<'de> DeserializeSeed<'de> for MetricSeed<'_, 'de> {
    type Value = Labels;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetricSeed<'_, 'de> {
    type Value = Labels;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of label names to values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Labels, A::Error> {
        let pairs = self.buf;
        pairs.clear();
        while let Some((Text(name), Text(value))) = m.next_entry()? {
            pairs.push((name, value));
        }
        Ok(labels_of(pairs))
    }
}

/// The label set of a series' pairs as decoded (see [`MetricSeed`]).
fn labels_of(pairs: &mut Pairs<'_>) -> Labels {
    let canonical =
        pairs.windows(2).all(|w| w[0].0 < w[1].0) && pairs.iter().all(|(_, v)| !v.is_empty());
    if !canonical {
        canonicalize(pairs);
    }
    Interner::global().labels(pairs.iter().map(|(n, v)| (&**n, &**v)))
}

/// Sorts borrowed label pairs by name as `LabelsBuilder` would build them: of pairs with
/// one name the last one wins, and a label whose winning value is empty is absent.
fn canonicalize(pairs: &mut Pairs<'_>) {
    // Stable: pairs with one name keep their order, so the last one is the one to keep.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    // `dedup_by` keeps the first of a run; moving each later value into it keeps the last.
    pairs.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    pairs.retain(|(_, v)| !v.is_empty());
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

/// Why an answer that is not the JSON expected could not be read.
fn undecodable(url: &str, body: &[u8], e: serde_json::Error) -> QueryError {
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
}

/// The error of an answer whose `status` is not `success`.
fn failed(error_type: Option<Cow<'_, str>>, error: Option<Cow<'_, str>>) -> QueryError {
    QueryError::Failed {
        error_type: error_type.unwrap_or(Cow::Borrowed("unknown")).into_owned(),
        error: error.unwrap_or(Cow::Borrowed("(no message)")).into_owned(),
    }
}

/// The `data` of a successful answer, and VictoriaMetrics' `stats.seriesFetched`.
fn envelope<'a>(url: &str, body: &'a [u8]) -> Result<(Data<'a>, Meta), QueryError> {
    // Checking the whole body is UTF-8 in one (vectorised) pass spares the parser a
    // check per string; invalid bodies go through the byte parser for its error message.
    let parsed = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    let env: Envelope<'a> = parsed.map_err(|e| undecodable(url, body, e))?;
    if env.status != "success" {
        return Err(failed(env.error_type, env.error));
    }
    let fetched = env.stats.and_then(|s| s.series_fetched);
    let partial = env.is_partial.unwrap_or(false);
    let data = env.data.ok_or_else(|| QueryError::Decode {
        url: url.to_string(),
        message: "status is success but there is no data".into(),
    })?;
    Ok((data, (fetched, partial)))
}

/// Decodes an instant-query answer: a vector, or a scalar (one sample with no labels,
/// stamped `time_ms`).
pub fn decode_instant(url: &str, body: &[u8], time_ms: i64) -> Result<Vec<Sample>, QueryError> {
    decode_instant_answer(url, body, time_ms).map(|a| a.samples)
}

/// [`decode_instant`], with the series count VictoriaMetrics reports.
pub fn decode_instant_answer(
    url: &str,
    body: &[u8],
    time_ms: i64,
) -> Result<InstantAnswer, QueryError> {
    let (data, (series_fetched, is_partial)) = envelope(url, body)?;
    let samples = match data.result {
        Decoded::Vector(samples) => samples,
        Decoded::Scalar(p) => vec![Sample {
            labels: Labels::empty(),
            value: p.1,
            timestamp_ms: if p.0 == 0 { time_ms } else { p.0 },
        }],
        Decoded::Matrix(_) | Decoded::Other => {
            return Err(QueryError::ResultType {
                got: data.result_type.into_owned(),
            });
        }
    };
    Ok(InstantAnswer {
        samples,
        series_fetched,
        samples_queried: data.samples_queried,
        is_partial,
    })
}

/// Decodes a range-query answer (a matrix). A successful answer is read by the
/// hand-written reader in `decode/matrix.rs` (a replay decodes millions of points);
/// whatever it does not take, errors included, by the serde decoder, as before.
pub fn decode_range(url: &str, body: &[u8]) -> Result<Vec<RangeSeries>, QueryError> {
    if let Some(series) = std::str::from_utf8(body).ok().and_then(matrix::decode) {
        return Ok(series);
    }
    decode_range_serde(url, body)
}

/// [`decode_range`] by the serde decoder alone.
fn decode_range_serde(url: &str, body: &[u8]) -> Result<Vec<RangeSeries>, QueryError> {
    let (data, _) = envelope(url, body)?;
    match data.result {
        Decoded::Matrix(series) => Ok(series),
        _ => Err(QueryError::ResultType {
            got: data.result_type.into_owned(),
        }),
    }
}

/// A series lookup's answer (`/api/v1/series`): `data` is a list of label sets.
#[derive(Deserialize)]
struct SeriesEnvelope<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    data: Vec<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "errorType", borrow, default)]
    error_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

/// Decodes a series lookup's answer into label sets.
pub fn decode_series(url: &str, body: &[u8]) -> Result<Vec<Labels>, QueryError> {
    let env: SeriesEnvelope =
        serde_json::from_slice(body).map_err(|e| undecodable(url, body, e))?;
    if env.status != "success" {
        return Err(failed(env.error_type, env.error));
    }
    Ok(env.data.into_iter().map(Labels::from_pairs).collect())
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
