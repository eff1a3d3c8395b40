//! tocsin: a Prometheus-compatible alerting and recording rule evaluator.

pub mod app;
pub mod check;
pub mod cli;
pub mod clock;
pub mod compat_flags;
pub mod config;
pub mod datasource;
pub mod flags_doc;
pub mod http;
pub mod labels;
pub mod logging;
pub mod manager;
pub mod notifier;
pub mod offload;
pub mod promql;
pub mod reload;
pub mod remote_write;
pub mod replay;
pub mod rule;
pub mod sample;
pub mod schedule;
pub mod status;
pub mod template;
pub mod timeparse;
pub mod web;
