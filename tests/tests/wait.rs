//! select(2), pselect6(2), poll(2), ppoll(2): nfds, the timeout the kernel wrote back
//! (the time not slept), and poll's returned events per entry.
use fdwatch_tests::*;

/// `timeout_left` as nanoseconds, checking its shape.
#[track_caller]
fn left_ns(ev: &Value, unit: &str) -> i64 {
    let t = &ev["timeout_left"];
    let obj = t.as_object().unwrap_or_else(|| panic!("timeout_left is not an object: {ev}"));
    assert_eq!(obj.len(), 2, "timeout_left has {{sec, {unit}}}: {ev}");
    let sec = t["sec"].as_i64().unwrap_or_else(|| panic!("no sec: {ev}"));
    let sub = t[unit].as_i64().unwrap_or_else(|| panic!("no {unit}: {ev}"));
    let per = if unit == "usec" { 1_000_000 } else { 1_000_000_000 };
    assert!((0..per).contains(&sub), "{unit} out of range: {ev}");
    sec * 1_000_000_000 + sub * (1_000_000_000 / per)
}

#[test]
fn select_with_nfds_above_fd_setsize_that_times_out() {
    // select(2) BUGS: nfds > FD_SETSIZE (1024) overruns a glibc fd_set. The helper's sets
    // are 8192 bits, so the call itself is sound; it sleeps 10 ms and returns 0.
    assert_reported(
        &["select", "1100", "10000", "-"],
        "select",
        json!({"nfds": 1100, "timeout_left": {"sec": 0, "usec": 0}, "ret": 0}),
    );
}

#[test]
fn select_on_fd_1043_returns_early_with_time_left() {
    // Incident 2 of README.md's *Alerts*: a socket at fd 1043 handed to select().
    let (fw, mut child) =
        run_watched(&["nofile", "4096", "dup2", "1", "1043", "select", "1044", "5000000", "1043"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("dup2").ok(), 1043);
    assert_eq!(child.op("select").ok(), 1, "a pipe with room is writable");
    let ev = fw.expect_exact(&expected(pid, "select", json!({"nfds": 1044, "timeout_left": ANY, "ret": 1})));
    let left = left_ns(&ev, "usec");
    assert!(left > 0 && left <= 5_000_000_000, "select returned at once, so most of 5 s is left: {ev}");
}

#[test]
fn select_without_timeout() {
    assert_reported(&["select", "2", "-", "1"], "select", json!({"nfds": 2, "timeout_left": null, "ret": 1}));
}

#[test]
fn select_on_a_closed_fd_is_ebadf() {
    assert_reported(
        &["select", "10", "1000000", "9"],
        "select",
        json!({"nfds": 10, "timeout_left": ANY, "ret": -9, "errno": "EBADF"}),
    );
}

#[test]
fn pselect6_times_out_with_nothing_left() {
    assert_reported(
        &["pselect6", "1100", "10000000", "-"],
        "pselect6",
        json!({"nfds": 1100, "timeout_left": {"sec": 0, "nsec": 0}, "ret": 0}),
    );
}

#[test]
fn pselect6_returns_early_with_time_left() {
    let ev = assert_reported(
        &["pselect6", "2", "3000000000", "1"],
        "pselect6",
        json!({"nfds": 2, "timeout_left": ANY, "ret": 1}),
    );
    let left = left_ns(&ev, "nsec");
    assert!(left > 0 && left <= 3_000_000_000, "{ev}");
}

#[test]
fn poll_of_a_closed_fd_is_pollnval() {
    let (fw, mut child) = run_watched(&["poll", "9996", "POLLIN", "1000"], &[]);
    let pid = child.pid();
    let op = child.op("poll");
    assert_eq!(op.ok(), 1);
    assert_eq!(op.int("revents0"), i64::from(libc::POLLNVAL));
    fw.expect_exact(&expected(
        pid,
        "poll",
        json!({"nfds": 1, "timeout": 1000,
                   "fds": [{"fd": 9996, "events": "POLLIN", "revents": "POLLNVAL"}], "ret": 1}),
    ));
}

#[test]
fn poll_reports_each_entry() {
    // stdin: a pipe with nothing in it; 9996: closed; -1: ignored (poll(2)).
    assert_reported(
        &["poll", "0,9996,-1", "POLLIN|POLLPRI", "0"],
        "poll",
        json!({"nfds": 3, "timeout": 0, "ret": 1, "fds": [
            {"fd": 0, "events": "POLLIN|POLLPRI", "revents": "0"},
            {"fd": 9996, "events": "POLLIN|POLLPRI", "revents": "POLLNVAL"},
            {"fd": -1, "events": "POLLIN|POLLPRI", "revents": "0"},
        ]}),
    );
}

#[test]
fn poll_shows_the_first_eight_entries() {
    let fds: Vec<String> = (9980..9990).map(|fd| fd.to_string()).collect();
    let (fw, mut child) = run_watched(&["poll", &fds.join(","), "POLLOUT", "-1"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("poll").ok(), 10);
    let entries: Vec<Value> =
        (9980..9988).map(|fd| json!({"fd": fd, "events": "POLLOUT", "revents": "POLLNVAL"})).collect();
    fw.expect_exact(&expected(pid, "poll", json!({"nfds": 10, "timeout": -1, "fds": entries, "ret": 10})));
}

#[test]
fn poll_failure_shows_no_revents() {
    // nfds above RLIMIT_NOFILE is EINVAL (poll(2)); what came back is meaningless.
    let (fw, mut child) =
        run_watched(&["nofile", "16", "poll", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", "POLLIN", "5"], &[]);
    let pid = child.pid();
    assert_eq!(child.op("poll").get("errno"), "EINVAL");
    let entries: Vec<Value> = (0..8).map(|_| json!({"fd": 1, "events": "POLLIN"})).collect();
    fw.expect_exact(&expected(
        pid,
        "poll",
        json!({"nfds": 20, "timeout": 5, "fds": entries, "ret": -22, "errno": "EINVAL"}),
    ));
}

#[test]
fn ppoll_of_a_closed_fd_returns_early_with_time_left() {
    let ev = assert_reported(
        &["ppoll", "9996", "POLLIN", "1000000000"],
        "ppoll",
        json!({"nfds": 1, "timeout_left": ANY, "fds": [{"fd": 9996, "events": "POLLIN", "revents": "POLLNVAL"}], "ret": 1}),
    );
    let left = left_ns(&ev, "nsec");
    assert!(left > 0 && left <= 1_000_000_000, "{ev}");
}

#[test]
fn ppoll_that_times_out() {
    let (fw, mut child) = run_watched(&["pipe", "ppoll", "%pipe.fd0", "POLLIN", "5000000"], &[]);
    let pid = child.pid();
    let rfd = child.op("pipe").int("fd0");
    assert_eq!(child.op("ppoll").ok(), 0);
    fw.expect_exact(&expected(
        pid,
        "ppoll",
        json!({"nfds": 1, "timeout_left": {"sec": 0, "nsec": 0},
                   "fds": [{"fd": rfd, "events": "POLLIN", "revents": "0"}], "ret": 0}),
    ));
}

#[test]
fn ppoll_without_timeout() {
    assert_reported(
        &["ppoll", "1", "POLLOUT", "-"],
        "ppoll",
        json!({"nfds": 1, "timeout_left": null,
                   "fds": [{"fd": 1, "events": "POLLOUT", "revents": "POLLOUT"}], "ret": 1}),
    );
}
