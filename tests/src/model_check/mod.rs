//! Checking fdwatch's fd model against /proc (tests/tests/model_*.rs).
//!
//! - [`Tree`] (tree.rs): a process tree built by `helpers/model_procs.c`, in its own
//!   process group, killed on drop.
//! - [`Dumps`] (dumps.rs): SIGUSR1 dumps of the model, cut out of fdwatch's output.
//! - [`compare`] / [`assert_model_matches_proc`] (compare.rs): the model of every
//!   process of a tree must equal /proc ([`crate::procfs`]) exactly.
//! - [`step`] and [`assert_origin`] (provenance.rs): exact provenance chains.
mod compare;
mod dumps;
mod provenance;
mod tree;

pub use compare::*;
pub use dumps::*;
pub use provenance::*;
pub use tree::*;

// What the model tests use besides: waiting for /proc, and reading it.
pub use crate::{
    procfs::{ProcFd, ProcProcess, asleep, children_of, proc_fds, proc_stat, proc_tree, tree_pids},
    wait_for,
};
