//! Prometheus remote write 1.0 messages, written by hand with prost's derive (no
//! protoc at build time). Field numbers follow prometheus/prompb/types.proto.

use crate::labels::Labels;
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

fn labels(l: &Labels) -> Vec<Label> {
    l.iter()
        .map(|l| Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

/// Encodes samples as one snappy-compressed (block format) WriteRequest. Samples of the
/// same series are grouped into one TimeSeries, as receivers expect.
pub fn encode(samples: &[OurSample]) -> Vec<u8> {
    use prost::Message as _;
    let mut series: Vec<TimeSeries> = Vec::with_capacity(samples.len());
    let mut index = std::collections::HashMap::with_capacity(samples.len());
    for s in samples {
        let i = *index.entry(s.labels.fingerprint()).or_insert_with(|| {
            series.push(TimeSeries {
                labels: labels(&s.labels),
                samples: Vec::with_capacity(1),
            });
            series.len() - 1
        });
        series[i].samples.push(Sample {
            value: s.value,
            timestamp: s.timestamp_ms,
        });
    }
    let req = WriteRequest { timeseries: series };
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
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
