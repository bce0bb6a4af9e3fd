//! Wire records -> typed events, and the names that make them readable.
pub mod names;
