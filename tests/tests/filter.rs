//! Which processes are reported: --pid (in-kernel filter), --follow (children, present
//! and future), and the whole host without --pid.
//!
//! Absence is checked behind a barrier: a later event of a watched process, made after
//! the unwanted one had certainly happened. The ring buffer is filled in reservation
//! order, so once the barrier is read, anything earlier would have been read too.
use fdwatch_tests::*;

fn no_events_of(fw: &Fdwatch, pid: i64, why: &str) {
    let found = fw.events_of(pid);
    assert!(found.is_empty(), "{why}: {} events of pid {pid}, e.g. {}", found.len(), found[0]);
}

#[test]
fn pid_filter_reports_the_watched_process_only() {
    let mut other = Fdops::waiting(&["dup2", "1", "100"]);
    let mut watched = Fdops::waiting(&["dup2", "1", "100", "close", "9990"]);
    let fw = Fdwatch::watch(watched.pid(), &[]);
    other.go();
    other.finish_ok();
    watched.go();
    watched.finish_ok();
    let pid = watched.pid();
    fw.expect_exact(&expected(pid, "dup2", json!({"oldfd": 1, "newfd": 100, "ret": 100})));
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
    no_events_of(&fw, other.pid(), "a process that is not watched was reported");
}

#[test]
fn several_pids() {
    let mut a = Fdops::waiting(&["dup2", "1", "110"]);
    let mut b = Fdops::waiting(&["dup2", "1", "111"]);
    let (pa, pb) = (a.pid().to_string(), b.pid().to_string());
    let fw = Fdwatch::start(&["--pid", &pa, "--pid", &pb]);
    let ready = fw.expect("the ready record", DEADLINE, |v| v["type"] == "ready");
    let mut want = vec![a.pid(), b.pid()];
    want.sort();
    assert_eq!(ready["watched"], json!(want), "{ready}");
    a.go();
    b.go();
    a.finish_ok();
    b.finish_ok();
    fw.expect_event(a.pid(), "dup2", |e| e["newfd"] == 110);
    fw.expect_event(b.pid(), "dup2", |e| e["newfd"] == 111);
}

#[test]
fn without_follow_a_new_child_is_not_reported() {
    let (fw, mut parent) =
        run_watched(&["forkrun", "dup2", "1", "101", "close", "101", "endchild", "close", "9990"], &[]);
    let pid = parent.pid();
    let kid = parent.op("child").int("pid");
    let fork = fw.expect_event(pid, "fork", |_| true);
    assert_eq!(fork["child_pid"], kid, "{fork}");
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
    no_events_of(&fw, kid, "a child was reported without --follow");
}

#[test]
fn follow_reports_a_child_forked_after_start() {
    let (fw, mut parent) =
        run_watched(&["forkrun", "dup2", "1", "101", "close", "101", "endchild", "close", "9990"], &["--follow"]);
    let pid = parent.pid();
    let kid = parent.op("child").int("pid");
    fw.expect_exact(&expected(
        pid,
        "fork",
        json!({"child_pid": kid, "child_tid": kid, "thread": false, "files_shared": false}),
    ));
    fw.expect_exact(&expected_from(kid, kid, pid, "dup2", json!({"oldfd": 1, "newfd": 101, "ret": 101})));
    fw.expect_exact(&expected_from(kid, kid, pid, "close", json!({"fd": 101, "ret": 0})));
    fw.expect_exact(&expected_from(kid, kid, pid, "exit", json!({"group_dead": true, "exit_code": 0})));
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
    // The fork record fires before the child runs, so it comes before all of the child's.
    let records = fw.records();
    let at = |pred: &dyn Fn(&Value) -> bool| records.iter().position(pred).unwrap();
    let fork_at = at(&|v| event_of(v, pid, "fork"));
    let first_child_at = at(&|v| v["type"] == "event" && v["pid"] == kid);
    assert!(
        fork_at < first_child_at,
        "the fork record (#{fork_at}) comes after the child's first event (#{first_child_at})"
    );
}

#[test]
fn follow_reports_grandchildren() {
    let (fw, mut parent) = run_watched(
        &["forkrun", "forkrun", "dup2", "1", "105", "endchild", "endchild", "close", "9990"],
        &["--follow"],
    );
    let pid = parent.pid();
    let kid = parent.op("child").int("pid");
    let grandkid = parent.op("child").int("pid");
    fw.expect_exact(&expected_from(grandkid, grandkid, kid, "dup2", json!({"oldfd": 1, "newfd": 105, "ret": 105})));
    fw.expect_event(pid, "fork", |e| e["child_pid"] == kid);
    fw.expect_event(kid, "fork", |e| e["child_pid"] == grandkid);
    fw.expect_exact(&expected_from(grandkid, grandkid, kid, "exit", json!({"group_dead": true, "exit_code": 0})));
}

/// fdops P forks C, which waits; P waits for C. Returns (P, C) with both alive.
fn parent_with_waiting_child(then: &[&str]) -> (Fdops, i64) {
    let mut ops = vec!["forkrun", "wait"];
    ops.extend_from_slice(then);
    ops.extend_from_slice(&["endchild", "close", "9990"]);
    let mut parent = Fdops::spawn(&ops);
    let kid = parent.op("child").int("pid");
    assert_eq!(parent.op("wait").int("pid"), kid);
    (parent, kid)
}

#[test]
fn follow_includes_children_alive_at_start() {
    let (mut parent, kid) = parent_with_waiting_child(&["dup2", "1", "104"]);
    let pid = parent.pid();
    let fw = Fdwatch::watch(pid, &["--follow"]);
    let ready = fw.expect("the ready record", DEADLINE, |v| v["type"] == "ready");
    let mut want = vec![pid, kid];
    want.sort();
    assert_eq!(ready["watched"], json!(want), "{ready}");
    assert_eq!(ready["follow"], true, "{ready}");
    parent.go();
    parent.finish_ok();
    fw.expect_exact(&expected_from(kid, kid, pid, "dup2", json!({"oldfd": 1, "newfd": 104, "ret": 104})));
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
}

#[test]
fn without_follow_children_alive_at_start_are_not_watched() {
    let (mut parent, kid) = parent_with_waiting_child(&["dup2", "1", "104"]);
    let pid = parent.pid();
    let fw = Fdwatch::watch(pid, &[]);
    let ready = fw.expect("the ready record", DEADLINE, |v| v["type"] == "ready");
    assert_eq!(ready["watched"], json!([pid]), "{ready}");
    assert_eq!(ready["follow"], false, "{ready}");
    parent.go();
    parent.finish_ok();
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
    no_events_of(&fw, kid, "a child was reported without --follow");
}

#[test]
fn system_wide_reports_any_process_but_not_itself() {
    let mut child = Fdops::waiting(&["dup2", "1", "100", "close", "100"]);
    let pid = child.pid();
    let fw = Fdwatch::start(&[]);
    let ready = fw.expect("the ready record", DEADLINE, |v| v["type"] == "ready");
    assert_eq!(ready["watched"], json!([]), "{ready}");
    child.go();
    child.finish_ok();
    fw.expect_exact(&expected(pid, "dup2", json!({"oldfd": 1, "newfd": 100, "ret": 100})));
    fw.expect_event(pid, "close", |_| true);
    no_events_of(&fw, i64::from(fw.pid()), "fdwatch reported its own syscalls");
}
