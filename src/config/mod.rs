//! Rule files: model, loading, validation. (Being written under issue 2.)

pub mod model;

pub use model::*;
