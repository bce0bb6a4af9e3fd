//! dup(2), dup2(2), dup3(2): exact arguments and results.
use fdwatch_tests::*;

#[test]
fn dup_reports_oldfd_and_new_fd() {
    let mut child = Fdops::waiting(&["dup", "1"]);
    let pid = child.pid();
    let fw = Fdwatch::watch(pid, &[]);
    child.go();
    let fd = child.op("dup").ok();
    child.finish_ok();
    let ev = fw.expect_event(pid, "dup", |_| true);
    assert_event(
        &ev,
        &json!({"pid": pid, "tid": pid, "ppid": my_pid(), "comm": "fdops", "syscall": "dup",
                "oldfd": 1, "ret": fd}),
    );
}

#[test]
fn dup2_reports_oldfd_newfd_and_ret() {
    let mut child = Fdops::waiting(&["dup2", "1", "100"]);
    let pid = child.pid();
    let fw = Fdwatch::watch(pid, &[]);
    child.go();
    assert_eq!(child.op("dup2").ok(), 100);
    child.finish_ok();
    let ev = fw.expect_event(pid, "dup2", |_| true);
    assert_event(
        &ev,
        &json!({"pid": pid, "tid": pid, "ppid": my_pid(), "comm": "fdops", "syscall": "dup2",
                "oldfd": 1, "newfd": 100, "ret": 100}),
    );
}
