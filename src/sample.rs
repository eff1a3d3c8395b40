//! A sample as the datasource returns it and as rules consume it.

use crate::labels::Labels;

/// One element of an instant-query answer (a scalar answer becomes one sample with
/// empty labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
    /// Sample timestamp in milliseconds since the epoch.
    pub timestamp_ms: i64,
}
