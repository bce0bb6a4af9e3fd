//! A forced loss, then the resync that heals the fd model.
//!
//! fdwatch runs with a 4 KiB ring buffer and a wake-up threshold it never reaches
//! (`--ring-bytes 4096 --wakeup-bytes 1000000000`: it drains only every 10 ms), while
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
    let fw = Fdwatch::watch(root, &["--follow", "--ring-bytes", "4096", "--wakeup-bytes", "1000000000"]);
    tree.send("go");
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
