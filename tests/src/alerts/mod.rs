//! Shared code of the alert tests (tests/tests/alert_*.rs):
//! - records.rs: picking `alert` records out of fdwatch's output;
//! - contract.rs: checking them against the alert contract (issue 4);
//! - proc.rs: the processes the incident reproductions run ([`Proc`]: any command in
//!   its own process group, killed with everything it started on drop);
//! - net.rs: a network interface where a SYN is never answered ([`BlackholeNet`]).
mod contract;
mod net;
mod proc;
mod records;

pub use contract::*;
pub use net::*;
pub use proc::*;
pub use records::*;

// What the alert tests use besides: the helper programs, and /proc.
pub use crate::{
    helpers::{helper, monitor_bin, python, slowlog_bin},
    procfs::{alive, comm_of, exe_of, fd_ino, fd_link},
};
