//! fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC and F_SETFD are reported; other commands are not.
use fdwatch_tests::*;

/// `fcntl 1 CMD MIN` (F_DUPFD, F_DUPFD_CLOEXEC): a new fd at or above MIN, reported.
#[track_caller]
fn dupfd_is_reported(cmd: &str, min: i64) {
    let min_arg = min.to_string();
    let (fw, mut child) = run_watched(&["fcntl", "1", cmd, &min_arg], &[]);
    let pid = child.pid();
    let fd = child.op("fcntl").ok();
    assert!(fd >= min, "{cmd} gave {fd}");
    fw.expect_exact(&expected(pid, "fcntl", json!({"fd": 1, "cmd": cmd, "arg": min, "ret": fd})));
}

#[test]
fn fcntl_dupfd() {
    dupfd_is_reported("F_DUPFD", 60);
}

#[test]
fn fcntl_dupfd_cloexec() {
    dupfd_is_reported("F_DUPFD_CLOEXEC", 70);
}

#[test]
fn fcntl_setfd_names_the_flag() {
    let (fw, mut child) =
        run_watched(&["dup2", "1", "80", "fcntl", "80", "F_SETFD", "FD_CLOEXEC", "fcntl", "80", "F_SETFD", "0"], &[]);
    let pid = child.pid();
    child.op("fcntl").ok();
    child.op("fcntl").ok();
    fw.expect_exact_where(
        &expected(pid, "fcntl", json!({"fd": 80, "cmd": "F_SETFD", "arg": "FD_CLOEXEC", "ret": 0})),
        |e| e["arg"] == "FD_CLOEXEC",
    );
    fw.expect_exact_where(&expected(pid, "fcntl", json!({"fd": 80, "cmd": "F_SETFD", "arg": "0", "ret": 0})), |e| {
        e["arg"] == "0"
    });
}

#[test]
fn fcntl_dupfd_of_a_closed_fd_is_ebadf() {
    assert_reported(
        &["fcntl", "9999", "F_DUPFD", "0"],
        "fcntl",
        json!({"fd": 9999, "cmd": "F_DUPFD", "arg": 0, "ret": -9, "errno": "EBADF"}),
    );
}

#[test]
fn fcntl_getfl_setfl_getfd_are_not_reported() {
    // The probe keeps only the fd-table commands; a later close is the barrier: the
    // ring buffer keeps the order of the syscalls of one thread.
    let (fw, child) = run_watched(
        &[
            "fcntl", "1", "F_GETFL", "0", "fcntl", "1", "F_GETFD", "0", "fcntl", "1", "F_SETFL", "O_APPEND", "close",
            "9998",
        ],
        &[],
    );
    let pid = child.pid();
    fw.expect_event(pid, "close", |e| e["fd"] == 9998);
    let fcntls: Vec<_> = fw.events_of(pid).into_iter().filter(|e| e["syscall"] == "fcntl").collect();
    assert!(fcntls.is_empty(), "F_GETFL/F_GETFD/F_SETFL reported: {fcntls:?}");
}
