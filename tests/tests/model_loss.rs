//! A forced loss, then the resync that heals the fd model.
//!
//! fdwatch runs with a 4 KiB ring buffer that a flood overruns between wake-ups
//! (`--ring-bytes 4096 --wakeup-bytes 2048`: woken only once half of it is full), while
//! model_procs `flood` and its child each make thousands of dup2/close, openat/close
//! and pipe2/close, then a few lasting changes (fds opened, dup2'd, CLOEXEC ones), and
//! pause. Events are lost; fdwatch must say so (`loss`, where kernel_ring_buffer), re-read
//! the processes (`resync`), and then model exactly what /proc shows.
use fdwatch_tests::{model_check::*, *};

const ROUNDS: &str = "5000";

#[test]
fn after_a_kernel_ring_buffer_loss_the_resynced_model_equals_proc() {
    let mut tree = Tree::spawn(&["flood", ROUNDS]);
    let root = tree.pid();
    let fw = tree.go_watched(&["--ring-bytes", "4096", "--wakeup-bytes", "2048"]);
    let child = tree.expect_ev_within("paused", DEADLINE * 3)["child"].as_i64().unwrap();
    let done = tree.expect_ev_within("child_done", DEADLINE * 3);
    assert_eq!(done["pid"], child, "{done}");

    let loss = fw.expect("a loss record (kernel_ring_buffer)", DEADLINE, |r| {
        r["type"] == "loss" && r["where"] == "kernel_ring_buffer"
    });
    assert!(loss["count"].as_i64().unwrap_or(0) > 0, "{loss}");
    let loss_ts = loss["ts"].as_str().unwrap().to_string();
    let resync = fw.expect("a resync record after the loss", DEADLINE, |r| {
        r["type"] == "resync" && r["ts"].as_str().is_some_and(|ts| ts >= loss_ts.as_str())
    });
    assert_eq!(resync["scope"], "all", "after a kernel loss every process is re-read: {resync}");

    // Whatever the losses, once the processes stand still the model equals /proc
    // (further losses during the flood bring further resyncs; the last one must heal).
    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, root, "after a kernel ring buffer loss and resync");
    for pid in [root, child] {
        assert!(dump.contains_key(&pid), "the model lost process {pid} altogether");
    }
    // Every fd's history is either complete (its events were seen) or starts where
    // the model re-read it: never a history that /proc contradicts (checked above), and
    // never empty.
    let mut problems = Problems::default();
    for (pid, fds) in &dump {
        for (fd, rec) in fds {
            let first = rec["origin"][0]["step"].as_str().unwrap_or("");
            if !matches!(first, "created" | "present_at_start" | "resynced") {
                problems.push(format!("pid {pid} fd {fd}: the origin starts with {first:?}: {rec}"));
            }
        }
    }
    problems.assert_none("origins after a resync");
}

/// Fork events lost so far, by the `loss` records (kernel_ring_buffer, by_kind.fork).
fn lost_forks(fw: &Fdwatch) -> i64 {
    fw.records()
        .iter()
        .filter(|r| r["type"] == "loss" && r["where"] == "kernel_ring_buffer")
        .map(|r| r["by_kind"]["fork"].as_i64().unwrap_or(0))
        .sum()
}

/// Children forked in the middle of a flood, which then make no traced syscall: their
/// fork events may be among the lost ones, and only a re-read of the watched tree can
/// find them. After the resync the model must hold every one of them, like /proc.
#[test]
fn children_forked_during_a_loss_are_in_the_resynced_model() {
    let mut tree = Tree::spawn(&["flood_fork", "20000", "20"]);
    let root = tree.pid();
    let fw = tree.go_watched(&["--ring-bytes", "4096", "--wakeup-bytes", "2048"]);
    let kids: Vec<i64> = tree.expect_ev_within("kids", DEADLINE * 3)["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    tree.expect_ev_within("paused", DEADLINE * 3);
    let loss = fw.expect("a loss record (kernel_ring_buffer)", DEADLINE, |r| {
        r["type"] == "loss" && r["where"] == "kernel_ring_buffer"
    });
    let loss_ts = loss["ts"].as_str().unwrap().to_string();
    fw.expect("a resync record after the loss", DEADLINE, |r| {
        r["type"] == "resync" && r["ts"].as_str().is_some_and(|ts| ts >= loss_ts.as_str())
    });
    assert_eq!(
        tree_pids(root).len(),
        kids.len() + 1,
        "the tree under {root} is not the root and its {} children: {:?}",
        kids.len(),
        tree_pids(root)
    );
    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_model_matches_proc(&fw, &mut dumps, root, "after a flood with forks in it")
    }));
    let dump = result.unwrap_or_else(|e| {
        let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
        let lost_forks = lost_forks(&fw);
        let seen_forks = fw.records().iter().filter(|r| event_of(r, root, "fork")).count();
        panic!(
            "{lost_forks} fork events were lost (kernel_ring_buffer loss records, by_kind.fork) and {seen_forks} \
             reported, of {} forks; the resyncs after the loss did not find the children whose fork was lost:\n{why}",
            kids.len()
        )
    });
    for &k in &kids {
        assert!(dump.contains_key(&k), "child {k} is missing from the model");
    }
    let lost_forks = lost_forks(&fw);
    eprintln!("{lost_forks} of {} fork events were lost; the model has every child", kids.len());
}
