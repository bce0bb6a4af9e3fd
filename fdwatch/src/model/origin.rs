//! Provenance: how an fd came to be where it is, as a chain of steps back to the
//! syscall that created its object (or to the /proc reading that found it).
//!
//! Most fds never move, so their whole history is the step that created them. That
//! step is kept inline in the fd's table slot: 16 bytes and no allocation per fd. A
//! dup, a fork or an exec adds a step in a shared node (`Rc`), so a fork that copies a
//! table of N fds adds N small nodes, not N copies of each history.
//!
//! A history keeps at most [`MAX_STEPS`] steps. Any program can dup an fd back and
//! forth, or re-exec itself, for as long as it likes, and every step was a node: the
//! collector's memory grew with the loop, each `chain()` walked all of it, and dropping
//! such a history recursed once per node until the stack overflowed (a 200k-iteration
//! `dup2(3, 4); dup2(4, 3)` loop killed the collector). Past the limit the first step
//! (the creation) and the newest steps stay, and one [`Step::Elided`] counts those
//! between.
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
    /// `steps` steps left out of a history that grew past [`MAX_STEPS`]; its pid and
    /// time are those of the last of them.
    Elided { steps: u32 },
    /// Installed by recvmsg/recvmmsg from an SCM_RIGHTS message read on `via_fd`, a unix
    /// socket (unix(7)); `from_pid` held the same object just before (0: nobody known),
    /// most likely the sender.
    Received { kind: Kind, via_fd: i32, from_pid: Pid },
}

/// Steps a history keeps at most: deeper than any process tree's fork, exec and dup
/// steps (about three per generation), far below what a loop can make.
pub const MAX_STEPS: usize = 32;
/// Newest steps kept when a history is cut back, so it is cut once per
/// `MAX_STEPS - KEEP_NEWEST - 2` steps, not on every step past the limit.
const KEEP_NEWEST: usize = MAX_STEPS / 2;

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
    /// Steps in the history up to and including this one.
    len: u32,
}

impl Origin {
    /// A history that starts with `step`.
    pub fn root(step: Step, pid: Pid, ts_ns: u64) -> Origin {
        let first = match step {
            Step::PresentAtStart => First::PresentAtStart,
            Step::Resynced => First::Resynced,
            Step::Created(kind) => First::Created(kind),
            _ => return Origin(Repr::Then(Rc::new(Node { at: StepAt { step, pid, ts_ns }, prev: None, len: 1 }))),
        };
        Origin(Repr::First { first, pid, ts_ns })
    }

    /// This history with `step` added; past [`MAX_STEPS`] its middle is cut back.
    pub fn then(&self, step: Step, pid: Pid, ts_ns: u64) -> Origin {
        let at = StepAt { step, pid, ts_ns };
        if self.len() < MAX_STEPS { self.push(at) } else { self.cut_back().push(at) }
    }

    fn push(&self, at: StepAt) -> Origin {
        let len = (self.len() + 1) as u32;
        Origin(Repr::Then(Rc::new(Node { at, prev: Some(self.clone()), len })))
    }

    /// Steps in this history.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::First { .. } => 1,
            Repr::Then(node) => node.len as usize,
        }
    }

    /// Never: a history has at least the step it started with.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first step, one `Elided` for everything up to the newest `KEEP_NEWEST`, and
    /// those: a new history that shares nothing with the long one.
    fn cut_back(&self) -> Origin {
        let steps = self.chain();
        let Some((first, rest)) = steps.split_first() else { return self.clone() };
        let (dropped, newest) = rest.split_at(rest.len().saturating_sub(KEEP_NEWEST));
        let mut out = Origin::root(first.step, first.pid, first.ts_ns);
        if let Some(last) = dropped.last() {
            let count = dropped
                .iter()
                .fold(0u32, |n, s| n.saturating_add(if let Step::Elided { steps } = s.step { steps } else { 1 }));
            out = out.push(StepAt { step: Step::Elided { steps: count }, ..*last });
        }
        for at in newest {
            out = out.push(*at);
        }
        out
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
    fn a_history_keeps_its_creation_and_newest_steps_and_counts_the_rest() {
        let mut origin = Origin::root(Step::Created(Kind::Socket), 7, 0);
        let n = 100_000u64;
        for i in 1..=n {
            origin = origin.then(Step::Dup { kind: Kind::Dup2, from_fd: (i % 2) as i32 }, 7, i);
            assert!(origin.len() <= MAX_STEPS, "{} steps after {i}", origin.len());
        }
        let chain = origin.chain();
        assert_eq!(chain.len(), origin.len());
        assert_eq!(chain[0].step, Step::Created(Kind::Socket), "the creation stays");
        let Step::Elided { steps } = chain[1].step else { panic!("{:?}", chain[1]) };
        let kept = chain.len() as u64 - 2;
        assert_eq!(steps as u64 + kept, n, "every dup is kept or counted");
        assert_eq!(chain.last().map(|s| s.ts_ns), Some(n), "the newest step is last");
        assert_eq!(chain[1].ts_ns + 1, chain[2].ts_ns, "the elided step ends where the kept ones start");
        // Dropping it is a few nodes, not 100k nested drops.
        drop(origin);
    }

    #[test]
    fn an_inline_history_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Origin>(), 16);
    }
}
