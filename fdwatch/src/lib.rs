//! fdwatch's collector as a library: the binary (main.rs) is its command line, and the
//! fuzz target (fuzz/) drives the same pipeline from raw ring-buffer bytes.
//! Data flows one way: probes (kernel) -> ring buffer -> collect -> decode -> model ->
//! detect -> sinks.
pub mod cli;
pub mod clock;
pub mod collect;
pub mod config;
pub mod containers;
pub mod control;
pub mod decode;
pub mod detect;
pub mod error;
pub mod escape;
pub mod fds_command;
pub mod heap;
pub mod holders_command;
#[cfg(test)]
mod hostile_records;
pub mod metrics;
pub mod model;
pub mod out;
pub mod outputs;
pub mod pidfd;
pub mod privileges;
pub mod probes;
pub mod procfs;
pub mod scan;
pub mod scope;
pub mod sinks;
pub mod value;
