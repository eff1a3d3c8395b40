//! `tocsin test rules FILE…`: rule unit tests in promtool's format (and vmalert-tool's
//! variant), run without a server.
//!
//! Each test group's input series go into an in-memory store; tocsin's own rule core
//! (`rule/`) evaluates the rule files, loaded by the same loader as in production
//! (`config/`), on the in-process PromQL engine; the firing alerts and expression
//! results are compared with the expected ones. Output, messages and exit codes follow
//! `promtool test rules` 3.5, so CI jobs and people reading the output see what they
//! know: `  SUCCESS` on stdout, or `  FAILED:` and one message per failed check on
//! stderr, exit code 1 when any file failed.
//!
//! Layout: [`file`](mod@file) (the format, validated with positions), [`driver`] (the evaluation
//! loop of one test group), [`check`] (alert and expression comparisons), [`format`](mod@format)
//! (Go's text forms), [`run`] (files, rule files, output), [`junit`] (`--junit`).

pub mod check;
mod diff;
pub mod driver;
#[cfg(test)]
mod driver_tests;
pub mod engine;
pub mod file;
pub mod format;
pub mod junit;
mod raw;
pub mod run;

pub use driver::{Backend, InputData};
pub use engine::InProcess;
pub use run::{Engine, InputError, TestOptions, TestOutput, test_rules, test_rules_captured};
