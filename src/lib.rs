//! tocsin: a Prometheus-compatible alerting and recording rule evaluator.

pub mod check;
pub mod config;
pub mod labels;
pub mod sample;
pub mod template;
