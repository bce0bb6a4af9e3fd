//! Wire records -> typed events, and the names that make them readable.
pub mod abi;
pub mod args;
pub mod event;
pub mod names;
pub mod ticks;

pub use event::{Body, Event, Payload, decode};
pub use ticks::Timebase;
