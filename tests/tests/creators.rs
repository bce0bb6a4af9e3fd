//! The other syscalls that make fds (creat, epoll, eventfd, timerfd, signalfd, inotify,
//! memfd, pidfd) and ioctl's FIOCLEX/FIONCLEX. Their arguments are plain numbers; the
//! object is what fstat(2) says the new fd is.
use fdwatch_tests::*;

const O_CLOEXEC: i64 = libc::O_CLOEXEC as i64;

/// Runs `newfd SYSCALL ARGS...` under fdwatch; checks the event has `args` and the
/// object fstat sees.
#[track_caller]
fn creates(syscall: &str, ops_args: &[&str], args: Value) {
    let mut ops = vec!["newfd", syscall];
    ops.extend_from_slice(ops_args);
    assert_creates_fd(&ops, syscall, None, args);
}

#[test]
fn creat_reports_pathname_and_mode() {
    let file = TempPath::new("creat");
    let path = file.as_str();
    assert_creates_fd(&["creat", path, "644"], "creat", Some("file"), json!({"pathname": path, "mode": "0644"}));
}

#[test]
fn epoll_create_and_epoll_create1() {
    creates("epoll_create", &["8"], json!({"size": 8}));
    creates("epoll_create1", &["524288"], json!({"flags": O_CLOEXEC}));
}

#[test]
fn epoll_create_of_size_zero_fails_without_object() {
    assert_reported(
        &["newfd", "epoll_create", "0"],
        "epoll_create",
        json!({"size": 0, "object": null, "ret": -22, "errno": "EINVAL"}),
    );
}

#[test]
fn eventfd_and_eventfd2() {
    creates("eventfd", &["3"], json!({"initval": 3}));
    creates("eventfd2", &["4", "524288"], json!({"initval": 4, "flags": O_CLOEXEC}));
}

#[test]
fn timerfd_create() {
    creates("timerfd_create", &["1", "524288"], json!({"clockid": libc::CLOCK_MONOTONIC, "flags": O_CLOEXEC}));
}

#[test]
fn signalfd_and_signalfd4() {
    // mask is a pointer into the caller's memory: only its presence is checked.
    creates("signalfd", &["-1"], json!({"fd": -1, "mask": ANY, "sizemask": 8}));
    creates("signalfd4", &["-1", "524288"], json!({"fd": -1, "mask": ANY, "sizemask": 8, "flags": O_CLOEXEC}));
}

#[test]
fn inotify_init_and_inotify_init1() {
    creates("inotify_init", &[], json!({}));
    creates("inotify_init1", &["524288"], json!({"flags": O_CLOEXEC}));
}

#[test]
fn memfd_create() {
    // name is a pointer into the caller's memory: only its presence is checked.
    creates("memfd_create", &["fdwatch-test", "1"], json!({"name": ANY, "flags": 1}));
}

#[test]
fn pidfd_open_and_pidfd_getfd() {
    let (fw, mut child) = run_watched(
        &["getpid", "newfd", "pidfd_open", "%getpid.ret", "0", "newfd", "pidfd_getfd", "%pidfd_open.ret", "1", "0"],
        &[],
    );
    let pid = child.pid();
    let open = child.op("pidfd_open");
    let pidfd = open.ok();
    let get = child.op("pidfd_getfd");
    let fd = get.ok();
    fw.expect_exact(&expected(
        pid,
        "pidfd_open",
        json!({"target_pid": pid, "flags": 0, "object": object_stat(&open, ""), "ret": pidfd}),
    ));
    // A copy of our own fd 1: the write end of the pipe the test reads.
    fw.expect_exact(&expected(
        pid,
        "pidfd_getfd",
        json!({"pidfd": pidfd, "targetfd": 1, "flags": 0, "object": object_of(&get, "pipe", ""), "ret": fd}),
    ));
    assert_eq!(get.get("acc"), "write");
}

#[test]
fn ioctl_fioclex_and_fionclex_only() {
    let (fw, mut child) = run_watched(
        &[
            "ioctl", "1", "FIOCLEX", "ioctl", "1", "FIONCLEX", "ioctl", "1", "FIONREAD", "ioctl", "9999", "FIOCLEX",
            "close", "9990",
        ],
        &[],
    );
    let pid = child.pid();
    fw.expect_exact_where(&expected(pid, "ioctl", json!({"fd": 1, "request": "FIOCLEX", "ret": 0})), |e| {
        e["request"] == "FIOCLEX" && e["fd"] == 1
    });
    fw.expect_exact_where(&expected(pid, "ioctl", json!({"fd": 1, "request": "FIONCLEX", "ret": 0})), |e| {
        e["request"] == "FIONCLEX"
    });
    fw.expect_exact_where(
        &expected(pid, "ioctl", json!({"fd": 9999, "request": "FIOCLEX", "ret": -9, "errno": "EBADF"})),
        |e| e["fd"] == 9999,
    );
    fw.expect_event(pid, "close", |e| e["fd"] == 9990);
    let ioctls = fw.events_of(pid).into_iter().filter(|e| e["syscall"] == "ioctl").count();
    assert_eq!(ioctls, 3, "FIONREAD is not an fd-table request and must not be reported");
    child.op("ioctl");
}
