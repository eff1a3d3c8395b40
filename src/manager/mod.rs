//! Group lifecycle: one task per group, started, updated in place and stopped as rule
//! sets are applied.

pub mod diff;
