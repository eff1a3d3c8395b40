//! Bounds on the work one template may cause, so that a hostile or careless rule file
//! cannot stall an evaluation or exhaust memory or the stack. Exceeding one is an error
//! of that template alone, reported like any execution or parse error.

/// Nodes, range iterations and function calls allowed per render.
pub const MAX_STEPS: u64 = 1_000_000;
/// Output allowed per render, in bytes.
pub const MAX_OUTPUT: usize = 1 << 20;
/// `{{template}}` nesting allowed per render.
pub const MAX_DEPTH: usize = 100;
/// `query` calls allowed per render.
pub const MAX_QUERIES: usize = 100;
/// Nesting of blocks and parentheses allowed by the parser (which recurses on them, as
/// the evaluator does).
pub const MAX_NESTING: usize = 100;
