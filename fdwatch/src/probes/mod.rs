//! Loading and attaching the eBPF programs.
pub mod btf;
pub mod clock;
pub mod kernel_log;
pub mod load;
pub mod programs;
pub mod ring;

pub use load::{Probes, Settings, TaskFiles, load};
