//! Prometheus remote write 1.0 messages, written by hand with prost's derive (no
//! protoc at build time). Field numbers follow prometheus/prompb/types.proto.

use prost::encoding::encoded_len_varint;

use crate::labels::FingerprintMap;
use crate::sample::Sample as OurSample;

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Encodes samples as one snappy-compressed (block format) WriteRequest. Samples of the
/// same series are grouped into one TimeSeries, in the order they came, as receivers
/// expect.
///
/// The protobuf is written by hand, straight from our shared label strings, instead of
/// through the prost structs above: those would copy every label name and value into a
/// `String` of its own for each batch. The layout is the one the structs describe.
pub fn encode(samples: &[OurSample]) -> Vec<u8> {
    SCRATCH.with_borrow_mut(|scratch| {
        write_request(samples, &mut scratch.raw);
        scratch
            .snappy
            .compress_vec(&scratch.raw)
            .unwrap_or_default()
    })
}

/// Per-thread buffers reused from one batch to the next: the uncompressed message and
/// snappy's hash table.
struct Scratch {
    raw: Vec<u8>,
    snappy: snap::raw::Encoder,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch {
        raw: Vec::new(),
        snappy: snap::raw::Encoder::new(),
    });
}

/// Protobuf field keys: field number << 3 | wire type (0 varint, 1 fixed 64-bit,
/// 2 length-delimited).
const KEY_TIMESERIES: u8 = 1 << 3 | 2;
const KEY_LABEL: u8 = 1 << 3 | 2;
const KEY_SAMPLE: u8 = 2 << 3 | 2;
const KEY_NAME: u8 = 1 << 3 | 2;
const KEY_VALUE_STR: u8 = 2 << 3 | 2;
const KEY_VALUE_F64: u8 = 1 << 3 | 1;
const KEY_TIMESTAMP: u8 = 2 << 3;

fn delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn label_len(name: &str, value: &str) -> usize {
    delimited_len(name.len()) + delimited_len(value.len())
}

fn sample_len(s: &OurSample) -> usize {
    1 + 8 + 1 + encoded_len_varint(s.timestamp_ms as u64)
}

/// Writes `n` as a varint at the start of `out`; returns its length (at most 10).
fn varint_into(out: &mut [u8], mut n: u64) -> usize {
    let mut len = 0;
    while n >= 0x80 {
        out[len] = n as u8 | 0x80;
        n >>= 7;
        len += 1;
    }
    out[len] = n as u8;
    len + 1
}

/// A varint, straight into the vector (prost's `encode_varint` writes through `BufMut`
/// a byte at a time, a call that was 2.6 % of a replay's CPU).
fn put_varint(buf: &mut Vec<u8>, n: u64) {
    let mut bytes = [0; 10];
    let len = varint_into(&mut bytes, n);
    buf.extend_from_slice(&bytes[..len]);
}

/// One sample's message, its key and length included, assembled on the stack and
/// appended at once: a replay writes millions, and pushing them a field at a time
/// checked the vector's capacity for each.
fn put_sample(buf: &mut Vec<u8>, s: &OurSample) {
    let mut msg = [0; 2 + 1 + 8 + 1 + 10];
    msg[0] = KEY_SAMPLE;
    msg[2] = KEY_VALUE_F64;
    msg[3..11].copy_from_slice(&s.value.to_bits().to_le_bytes());
    msg[11] = KEY_TIMESTAMP;
    let end = 12 + varint_into(&mut msg[12..], s.timestamp_ms as u64);
    // The message is at most 20 bytes: its length is a one-byte varint.
    msg[1] = (end - 2) as u8;
    // Appending the whole array and cutting it back is a copy of known size, done in
    // registers; `&msg[..end]` called memcpy for each sample (3 % of a replay's CPU).
    let at = buf.len();
    buf.extend_from_slice(&msg);
    buf.truncate(at + end);
}

fn put_delimited(buf: &mut Vec<u8>, key: u8, len: usize) {
    buf.push(key);
    put_varint(buf, len as u64);
}

fn put_str(buf: &mut Vec<u8>, key: u8, s: &str) {
    put_delimited(buf, key, s.len());
    buf.extend_from_slice(s.as_bytes());
}

/// Writes the uncompressed WriteRequest into `buf` (cleared first).
fn write_request(samples: &[OurSample], buf: &mut Vec<u8>) {
    buf.clear();
    let (order, series_of) = group_by_series(samples);
    for series in order.chunk_by(|&a, &b| series_of[a] == series_of[b]) {
        let labels = &samples[series[0]].labels;
        let labels_len: usize = labels
            .iter()
            .map(|l| delimited_len(label_len(&l.name, &l.value)))
            .sum();
        let samples_len: usize = series
            .iter()
            .map(|&i| delimited_len(sample_len(&samples[i])))
            .sum();
        put_delimited(buf, KEY_TIMESERIES, labels_len + samples_len);
        for l in labels.iter() {
            put_delimited(buf, KEY_LABEL, label_len(&l.name, &l.value));
            put_str(buf, KEY_NAME, &l.name);
            put_str(buf, KEY_VALUE_STR, &l.value);
        }
        for &i in series {
            put_sample(buf, &samples[i]);
        }
    }
}

/// The sample indices in the order to write them — grouped by series, series in order
/// of first appearance, each series' samples in their order — and each sample's series
/// number. Live, a series usually appears once in a batch, which needs no reordering; a
/// replay's batch holds many steps of each series, which a counting sort groups in two
/// passes (a comparison sort of the indices was 7 % of a replay's CPU).
fn group_by_series(samples: &[OurSample]) -> (Vec<usize>, Vec<usize>) {
    let mut first: FingerprintMap<usize> =
        FingerprintMap::with_capacity_and_hasher(samples.len(), Default::default());
    let mut series_of = Vec::with_capacity(samples.len());
    for s in samples {
        let next = first.len();
        series_of.push(*first.entry(s.labels.fingerprint()).or_insert(next));
    }
    if first.len() == samples.len() {
        return ((0..samples.len()).collect(), series_of);
    }
    // Where each series' run starts in the output, then each sample into its series' run.
    let mut next_slot = vec![0; first.len()];
    for &series in &series_of {
        next_slot[series] += 1;
    }
    let mut start = 0;
    for slot in next_slot.iter_mut() {
        (*slot, start) = (start, start + *slot);
    }
    let mut order = vec![0; samples.len()];
    for (i, &series) in series_of.iter().enumerate() {
        order[next_slot[series]] = i;
        next_slot[series] += 1;
    }
    (order, series_of)
}

/// Decodes a snappy-compressed WriteRequest (used by tests and fakes).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    use prost::Message as _;
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use prost::Message as _;

    fn sample(labels: &Labels, value: f64, timestamp_ms: i64) -> OurSample {
        OurSample {
            labels: labels.clone(),
            value,
            timestamp_ms,
        }
    }

    /// The message as prost's derived encoder writes it from the structs.
    fn by_prost(series: Vec<(&Labels, Vec<(f64, i64)>)>) -> WriteRequest {
        WriteRequest {
            timeseries: series
                .into_iter()
                .map(|(l, s)| TimeSeries {
                    labels: l
                        .iter()
                        .map(|l| Label {
                            name: l.name.to_string(),
                            value: l.value.to_string(),
                        })
                        .collect(),
                    samples: s
                        .into_iter()
                        .map(|(value, timestamp)| Sample { value, timestamp })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn hand_encoding_matches_the_message_definition() {
        let a = Labels::from_pairs([("__name__", "x"), ("unicode", "été 🚨"), ("z", "1")]);
        let long = "v".repeat(300); // lengths past one varint byte
        let b = Labels::from_pairs([("__name__", "y"), ("long", long.as_str())]);
        let c = Labels::empty();
        let samples = vec![
            sample(&a, 1.5, 1_700_000_000_000),
            sample(&b, 0.0, 0),
            sample(&c, -2.0, -5_000),
            sample(&a, f64::INFINITY, 1_700_000_010_000),
            sample(&b, -0.0, 1),
        ];
        let mut raw = Vec::new();
        write_request(&samples, &mut raw);
        let want = by_prost(vec![
            (
                &a,
                vec![(1.5, 1_700_000_000_000), (f64::INFINITY, 1_700_000_010_000)],
            ),
            (&b, vec![(0.0, 0), (-0.0, 1)]),
            (&c, vec![(-2.0, -5_000)]),
        ]);
        assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap(), want);
        // Only default-valued fields, which prost leaves out, make the bytes differ.
        let d = Labels::from_pairs([("a", "1")]);
        let mut raw = Vec::new();
        write_request(&[sample(&d, 3.0, 7)], &mut raw);
        assert_eq!(raw, by_prost(vec![(&d, vec![(3.0, 7)])]).encode_to_vec());
        assert!(decode(&encode(&[])).unwrap().timeseries.is_empty());
    }

    #[test]
    fn round_trip_groups_series() {
        let a = Labels::from_pairs([("__name__", "x"), ("a", "1")]);
        let b = Labels::from_pairs([("__name__", "y")]);
        let samples = vec![
            OurSample {
                labels: a.clone(),
                value: 1.0,
                timestamp_ms: 1,
            },
            OurSample {
                labels: b,
                value: 2.0,
                timestamp_ms: 1,
            },
            OurSample {
                labels: a,
                value: f64::from_bits(0x7ff0_0000_0000_0002),
                timestamp_ms: 2,
            },
        ];
        let req = decode(&encode(&samples)).unwrap();
        assert_eq!(req.timeseries.len(), 2);
        assert_eq!(req.timeseries[0].samples.len(), 2);
        assert_eq!(req.timeseries[0].labels[0].name, "__name__");
        assert_eq!(
            req.timeseries[0].samples[1].value.to_bits(),
            0x7ff0_0000_0000_0002
        );
    }
}
