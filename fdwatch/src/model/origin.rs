//! Provenance: how an fd came to be where it is, as a chain of steps back to the
//! syscall that created its object. Chains are shared (`Rc`), so a fork that copies a
//! table of N fds adds N small nodes, not N copies of each history.
use std::rc::Rc;

use fdwatch_common::Kind;

use super::Pid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Open when fdwatch started (read from /proc).
    PresentAtStart,
    /// Re-read from /proc after a loss or a contradiction; earlier history unknown.
    Resynced,
    /// The syscall that created the object.
    Created(Kind),
    /// Duplicated from another fd of the same table (dup, dup2, dup3, F_DUPFD*).
    Dup { kind: Kind, from_fd: i32 },
    /// Copied into a child's table at fork.
    Inherited { from_pid: Pid },
    /// Kept across execve because CLOEXEC was not set.
    SurvivedExec,
}

/// One step of an fd's history: what happened, in which process, when (monotonic ns).
#[derive(Debug)]
pub struct Origin {
    pub step: Step,
    pub pid: Pid,
    pub ts_ns: u64,
    pub prev: Option<Rc<Origin>>,
}

impl Origin {
    pub fn root(step: Step, pid: Pid, ts_ns: u64) -> Rc<Origin> {
        Rc::new(Origin { step, pid, ts_ns, prev: None })
    }

    pub fn then(prev: &Rc<Origin>, step: Step, pid: Pid, ts_ns: u64) -> Rc<Origin> {
        Rc::new(Origin { step, pid, ts_ns, prev: Some(prev.clone()) })
    }

    /// The chain from the oldest step to this one.
    pub fn chain(self: &Rc<Origin>) -> Vec<&Origin> {
        let mut steps = Vec::new();
        let mut node: Option<&Rc<Origin>> = Some(self);
        while let Some(n) = node {
            steps.push(n.as_ref());
            node = n.prev.as_ref();
        }
        steps.reverse();
        steps
    }
}
