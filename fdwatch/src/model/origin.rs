//! Provenance: how an fd came to be where it is, as a chain of steps back to the
//! syscall that created its object (or to the /proc reading that found it).
//!
//! Most fds never move, so their whole history is the step that created them. That
//! step is kept inline in the fd's table slot: 16 bytes and no allocation per fd. A
//! dup, a fork or an exec adds a step in a shared node (`Rc`), so a fork that copies a
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepAt {
    pub step: Step,
    pub pid: Pid,
    pub ts_ns: u64,
}

/// The steps a history can start with, in 4 bytes: `Kind`'s unused values tell the
/// three apart, so an inline first step is 16 bytes with its pid and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    PresentAtStart,
    Resynced,
    Created(Kind),
}

/// An fd's history, newest step last.
#[derive(Clone, Debug)]
pub struct Origin(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// The history is its first step alone, inline.
    First { first: First, pid: Pid, ts_ns: u64 },
    /// A later step, with everything before it.
    Then(Rc<Node>),
}

#[derive(Debug)]
struct Node {
    at: StepAt,
    /// `None` only for a history whose first step is not one of `First`'s.
    prev: Option<Origin>,
}

impl Origin {
    /// A history that starts with `step`.
    pub fn root(step: Step, pid: Pid, ts_ns: u64) -> Origin {
        let first = match step {
            Step::PresentAtStart => First::PresentAtStart,
            Step::Resynced => First::Resynced,
            Step::Created(kind) => First::Created(kind),
            _ => return Origin(Repr::Then(Rc::new(Node { at: StepAt { step, pid, ts_ns }, prev: None }))),
        };
        Origin(Repr::First { first, pid, ts_ns })
    }

    /// This history with `step` added.
    pub fn then(&self, step: Step, pid: Pid, ts_ns: u64) -> Origin {
        Origin(Repr::Then(Rc::new(Node { at: StepAt { step, pid, ts_ns }, prev: Some(self.clone()) })))
    }

    /// The newest step.
    pub fn last(&self) -> StepAt {
        match &self.0 {
            Repr::First { first, pid, ts_ns } => {
                let step = match *first {
                    First::PresentAtStart => Step::PresentAtStart,
                    First::Resynced => Step::Resynced,
                    First::Created(kind) => Step::Created(kind),
                };
                StepAt { step, pid: *pid, ts_ns: *ts_ns }
            }
            Repr::Then(node) => node.at,
        }
    }

    /// The steps from the oldest to the newest.
    pub fn chain(&self) -> Vec<StepAt> {
        let mut steps = Vec::new();
        let mut node = Some(self);
        while let Some(origin) = node {
            steps.push(origin.last());
            node = match &origin.0 {
                Repr::First { .. } => None,
                Repr::Then(n) => n.prev.as_ref(),
            };
        }
        steps.reverse();
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_fd_needs_no_allocation_and_a_dup_keeps_its_history() {
        let created = Origin::root(Step::Created(Kind::Socket), 7, 1);
        assert!(matches!(created.0, Repr::First { .. }), "the first step is inline");
        let moved = created.then(Step::Dup { kind: Kind::Dup2, from_fd: 3 }, 7, 2).then(Step::SurvivedExec, 7, 3);
        let steps: Vec<(Step, u64)> = moved.chain().iter().map(|s| (s.step, s.ts_ns)).collect();
        assert_eq!(
            steps,
            [
                (Step::Created(Kind::Socket), 1),
                (Step::Dup { kind: Kind::Dup2, from_fd: 3 }, 2),
                (Step::SurvivedExec, 3)
            ]
        );
        assert_eq!(moved.last().step, Step::SurvivedExec);
    }

    #[test]
    fn a_history_may_start_with_any_step() {
        let odd = Origin::root(Step::Inherited { from_pid: 1 }, 2, 5);
        assert_eq!(odd.chain(), [StepAt { step: Step::Inherited { from_pid: 1 }, pid: 2, ts_ns: 5 }]);
    }

    #[test]
    fn an_inline_history_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Origin>(), 16);
    }
}
