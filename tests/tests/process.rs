//! fork, exec and exit (scheduler tracepoints: every variant of each).
use fdwatch_tests::*;

#[test]
fn fork_reports_the_child() {
    let (fw, mut child) = run_watched(&["fork"], &[]);
    let pid = child.pid();
    let op = child.op("fork");
    let kid = op.ok();
    assert_eq!(op.get("status"), "0");
    fw.expect_exact(&expected(
        pid,
        "fork",
        json!({"child_pid": kid, "child_tid": kid, "thread": false, "files_shared": false}),
    ));
}

#[test]
fn clone_with_clone_files_shares_the_fd_table() {
    let (fw, mut child) = run_watched(&["clone_files"], &[]);
    let pid = child.pid();
    let kid = child.op("clone_files").ok();
    fw.expect_exact(&expected(
        pid,
        "fork",
        json!({"child_pid": kid, "child_tid": kid, "thread": false, "files_shared": true}),
    ));
}

#[test]
fn a_thread_is_a_fork_with_thread_true_and_its_events_carry_its_tid() {
    let (fw, mut child) = run_watched(&["thread", "tid", "dup2", "1", "103", "endthread"], &[]);
    let pid = child.pid();
    let tid = child.op("tid").ret();
    assert_ne!(tid, pid);
    assert_eq!(child.op("dup2").ok(), 103);
    fw.expect_exact(&expected(
        pid,
        "fork",
        json!({"child_pid": pid, "child_tid": tid, "thread": true, "files_shared": true}),
    ));
    fw.expect_exact(&expected_from(pid, tid, my_pid(), "dup2", json!({"oldfd": 1, "newfd": 103, "ret": 103})));
    // The thread ends (pthread exit: exit(2), code 0); the process lives on.
    fw.expect_exact_where(
        &expected_from(pid, tid, my_pid(), "exit", json!({"group_dead": false, "exit_code": 0})),
        |e| e["tid"] == tid,
    );
    fw.expect_exact_where(&expected(pid, "exit", json!({"group_dead": true, "exit_code": 0})), |e| e["tid"] == pid);
}

#[test]
fn exec_reports_the_filename_and_the_process_stays_watched() {
    let fdops = fdops_bin();
    let path = fdops.to_str().unwrap();
    let (fw, mut child) = run_watched(&["exec", path, "close", "9997"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("close").get("errno"), "EBADF");
    let argv = json!([path, "close", "9997"]);
    fw.expect_exact(&expected(pid, "exec", json!({"filename": path, "argv": argv, "old_tid": pid})));
    // After the exec, the same pid is still watched.
    fw.expect_exact_where(&expected(pid, "close", json!({"fd": 9997, "ret": -9, "errno": "EBADF"})), |e| {
        e["fd"] == 9997
    });
    // The exec record comes before everything the new image does (its loader's opens).
    let mine = fw.events_of(pid);
    assert_eq!(mine[0]["syscall"], "exec", "first event after go is the exec: {:?}", mine.first());
}

#[test]
fn exec_from_a_second_thread_reports_its_old_tid() {
    // execve(2): the thread that execs takes over the process's pid; old_tid is the tid
    // it had. The new image exits before it could read "endthread".
    let fdops = fdops_bin();
    let path = fdops.to_str().unwrap();
    let (fw, mut child) = run_watched(&["thread", "tid", "exec", path, "close", "9997", "exit", "0", "endthread"], &[]);
    let pid = child.pid();
    let tid = child.op("tid").ret();
    assert_ne!(tid, pid);
    let argv = json!([path, "close", "9997", "exit", "0", "endthread"]);
    fw.expect_exact(&expected(pid, "exec", json!({"filename": path, "argv": argv, "old_tid": tid})));
    fw.expect_exact_where(&expected(pid, "close", json!({"fd": 9997, "ret": -9, "errno": "EBADF"})), |e| {
        e["fd"] == 9997
    });
    fw.expect_exact_where(&expected(pid, "exit", json!({"group_dead": true, "exit_code": 0})), |e| {
        e["group_dead"] == true
    });
}

#[test]
fn exec_of_another_program_carries_its_comm() {
    let (fw, child) = run_watched(&["exec", "/bin/true"], &[]);
    let pid = child.pid();
    let ev = fw.expect_event(pid, "exec", |_| true);
    let mut want = expected(pid, "exec", json!({"filename": "/bin/true", "argv": ["/bin/true"], "old_tid": pid}));
    want["comm"] = json!("true");
    assert_event(&ev, &want);
    let exit = fw.expect_event(pid, "exit", |_| true);
    let mut want = expected(pid, "exit", json!({"group_dead": true, "exit_code": 0}));
    want["comm"] = json!("true");
    assert_event(&exit, &want);
}

#[test]
fn a_failed_exec_is_no_exec_event() {
    let (fw, mut child) = start_watched(&["exec", "/nonexistent/fdwatch-test"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("exec").get("errno"), "ENOENT");
    assert_eq!(child.finish().code(), Some(101));
    fw.expect_exact(&expected(pid, "exit", json!({"group_dead": true, "exit_code": 101})));
    let execs: Vec<Value> = fw.events_of(pid).into_iter().filter(|e| e["syscall"] == "exec").collect();
    assert!(execs.is_empty(), "exec events for a failed execve: {execs:?}");
}

#[test]
fn exit_reports_the_code() {
    let (fw, mut child) = start_watched(&["exit", "3"], &[]);
    let pid = child.pid();
    assert_eq!(child.finish().code(), Some(3));
    fw.expect_exact(&expected(pid, "exit", json!({"group_dead": true, "exit_code": 3})));
}

#[test]
fn exit_by_a_signal_names_it() {
    let (fw, mut child) = start_watched(&["raise", "SIGKILL"], &[]);
    let pid = child.pid();
    let status = child.finish();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    fw.expect_exact(&expected(pid, "exit", json!({"group_dead": true, "signal": "SIGKILL"})));
}
