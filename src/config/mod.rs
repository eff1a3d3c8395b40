//! Rule files: the validated model, loading (patterns, `%{ENV}`, YAML), validation with
//! promtool parity, durations, and the group checksum the reload diff uses.
//!
//! Entry points: [`load`](fn@load) for the evaluator and reloads (all-or-nothing), [`load_file`]
//! and [`expand_patterns`] for `tocsin check`, which reports file by file.

mod checksum;
mod context;
pub mod duration;
pub mod env;
mod error;
mod load;
pub mod model;
pub mod names;
mod policy;
pub(crate) mod raw;
pub mod remote;
mod rule;
mod spanned;
mod validate;

pub(crate) use checksum::rule_checksum;
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{ErrorKind, LoadError, LoadErrors, RuleRef};
pub use load::{LoadOptions, expand_patterns, load, load_file, load_str, sources_fingerprint};
pub(crate) use load::{yaml_options, yaml_problem};
pub use model::*;
