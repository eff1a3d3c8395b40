//! The rule core's builders now live in `tests/support/rules.rs` (`support::rules`);
//! this path remains only for `rule_alerting*.rs` until they move over.

#[path = "../support/rules.rs"]
mod rules;

pub use rules::*;
