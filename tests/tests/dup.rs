//! dup(2), dup2(2), dup3(2): exact arguments and results for a watched process.
use fdwatch_tests::*;

#[test]
fn dup_reports_oldfd_and_the_new_fd() {
    let (fw, mut child) = run_watched(&["dup", "1"], &[]);
    let pid = child.pid();
    let fd = child.op("dup").ok();
    fw.expect_exact(&expected(pid, "dup", json!({"oldfd": 1, "ret": fd})));
}

#[test]
fn dup_of_a_closed_fd_is_ebadf() {
    assert_reported(&["dup", "9999"], "dup", json!({"oldfd": 9999, "ret": -9, "errno": "EBADF"}));
}

#[test]
fn dup2_reports_oldfd_newfd_and_ret() {
    assert_reported(&["dup2", "1", "100"], "dup2", json!({"oldfd": 1, "newfd": 100, "ret": 100}));
}

#[test]
fn dup2_onto_stdin_is_reported_like_any_other() {
    // Incident 1 of README.md's *Alerts*: a socket dup2'd onto fd 0.
    let (fw, mut child) = run_watched(&["socket", "AF_UNIX", "SOCK_STREAM", "0", "dup2", "%socket.ret", "0"], &[]);
    let pid = child.pid();
    let sock = child.op("socket").ok();
    assert_eq!(child.op("dup2").ok(), 0);
    fw.expect_exact(&expected(pid, "dup2", json!({"oldfd": sock, "newfd": 0, "ret": 0})));
}

#[test]
fn dup2_of_a_closed_fd_is_ebadf() {
    assert_reported(
        &["dup2", "9999", "100"],
        "dup2",
        json!({"oldfd": 9999, "newfd": 100, "ret": -9, "errno": "EBADF"}),
    );
}

#[test]
fn dup3_with_cloexec() {
    assert_reported(
        &["dup3", "1", "101", "O_CLOEXEC"],
        "dup3",
        json!({"oldfd": 1, "newfd": 101, "flags": "O_CLOEXEC", "ret": 101}),
    );
}

#[test]
fn dup3_without_flags_and_onto_itself() {
    // dup3(fd, fd, ...) is EINVAL, unlike dup2 (dup3(2)).
    let (fw, mut child) = run_watched(&["dup3", "1", "102", "0", "dup3", "1", "1", "0"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("dup3").ok(), 102);
    assert_eq!(child.op("dup3").get("errno"), "EINVAL");
    fw.expect_exact_where(&expected(pid, "dup3", json!({"oldfd": 1, "newfd": 102, "flags": "0", "ret": 102})), |e| {
        e["newfd"] == 102
    });
    fw.expect_exact_where(
        &expected(pid, "dup3", json!({"oldfd": 1, "newfd": 1, "flags": "0", "ret": -22, "errno": "EINVAL"})),
        |e| e["newfd"] == 1,
    );
}
