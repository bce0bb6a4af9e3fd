//! Loading and attaching the eBPF programs.
pub mod btf;
