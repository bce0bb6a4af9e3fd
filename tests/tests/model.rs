//! The fd model, as the `fd` records of a dump show it (SIGUSR1 or --dump-on-exit):
//! each open fd of a watched process with its object, CLOEXEC, and provenance (created
//! by which syscall, dup'd from which fd, inherited from whom), the steps stamped with
//! the timestamps of the events that made them.
use fdwatch_tests::*;

/// Sends SIGUSR1 and waits for the `fd` record of pid/fd.
fn dumped(fw: &Fdwatch, pid: i64, fd: i64) -> Value {
    fw.expect(&format!("the fd record of pid {pid} fd {fd}"), DEADLINE, |v| {
        v["type"] == "fd" && v["pid"] == pid && v["fd"] == fd
    })
}

fn pipe_object(ino: i64, access: &str) -> Value {
    json!({"type": "pipe", "name": format!("pipe:[{ino}]"), "ino": ino, "access": access})
}

#[test]
fn dump_shows_objects_cloexec_and_provenance() {
    let (fw, mut child) = start_watched(
        &[
            "pipe2",
            "O_CLOEXEC",
            "dup2",
            "%pipe2.fd1",
            "50",
            "fcntl",
            "50",
            "F_SETFD",
            "FD_CLOEXEC",
            "fcntl",
            "%pipe2.fd0",
            "F_SETFD",
            "0",
            "wait",
        ],
        &[],
    );
    let pid = child.pid();
    let pipe = child.op("pipe2");
    let (r, w, ino) = (pipe.int("fd0"), pipe.int("fd1"), pipe.int("ino0"));
    child.op("wait");
    // The last fcntl was seen: the model has everything (and the loop runs, so
    // SIGUSR1 is handled).
    fw.expect_event(pid, "fcntl", |e| e["fd"] == r);
    let created = fw.expect_event(pid, "pipe2", |_| true)["ts"].clone();
    let duped = fw.expect_event(pid, "dup2", |_| true)["ts"].clone();
    fw.signal(libc::SIGUSR1);
    let created_step = json!({"step": "created", "syscall": "pipe2", "pid": pid, "ts": created});
    let rec = dumped(&fw, pid, r);
    assert_event(
        &rec,
        &json!({"type": "fd", "pid": pid, "comm": "fdops", "fd": r, "object": pipe_object(ino, "read"),
                "cloexec": false, "origin": [created_step]}),
    );
    let rec = dumped(&fw, pid, w);
    assert_event(
        &rec,
        &json!({"type": "fd", "pid": pid, "comm": "fdops", "fd": w, "object": pipe_object(ino, "write"),
                "cloexec": true, "origin": [created_step]}),
    );
    let rec = dumped(&fw, pid, 50);
    assert_event(
        &rec,
        &json!({"type": "fd", "pid": pid, "comm": "fdops", "fd": 50, "object": pipe_object(ino, "write"),
                "cloexec": true, "origin": [created_step,
                    {"step": "dup", "syscall": "dup2", "from_fd": w, "pid": pid, "ts": duped}]}),
    );
    // Its stdio came from before fdwatch started: pipes from this test.
    let stdin = dumped(&fw, pid, 0);
    assert_eq!(stdin["object"]["access"], "read", "{stdin}");
    assert_eq!(stdin["origin"][0]["step"], "present_at_start", "{stdin}");
    // The dump lists exactly what /proc lists (fdops is blocked in `wait`).
    let mut want: Vec<i64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    want.sort();
    dumped(&fw, pid, *want.last().unwrap());
    let fds: Vec<i64> = fw
        .records()
        .iter()
        .filter(|v| v["type"] == "fd" && v["pid"] == pid)
        .map(|v| v["fd"].as_i64().unwrap())
        .collect();
    assert!([0, 1, 2, r, w, 50].iter().all(|fd| want.contains(fd)), "{want:?}");
    assert_eq!(fds, want, "the dump lists exactly the open fds of /proc/{pid}/fd, in order");
    child.go();
    child.finish_ok();
}

#[test]
fn a_forked_child_inherits_fds_with_their_history() {
    let (fw, mut child) = start_watched(&["pipe", "forkrun", "wait", "endchild"], &["--follow"]);
    let pid = child.pid();
    let pipe = child.op("pipe");
    let (r, ino) = (pipe.int("fd0"), pipe.int("ino0"));
    let kid = child.op("child").int("pid");
    child.op("wait");
    let created = fw.expect_event(pid, "pipe", |_| true)["ts"].clone();
    let forked = fw.expect_event(pid, "fork", |_| true)["ts"].clone();
    fw.signal(libc::SIGUSR1);
    let rec = dumped(&fw, kid, r);
    assert_event(
        &rec,
        &json!({"type": "fd", "pid": kid, "comm": "fdops", "fd": r, "object": pipe_object(ino, "read"),
                "cloexec": false, "origin": [
                    {"step": "created", "syscall": "pipe", "pid": pid, "ts": created},
                    {"step": "inherited", "from_pid": pid, "pid": kid, "ts": forked}]}),
    );
    child.go();
    child.finish_ok();
}

#[test]
fn exec_drops_cloexec_fds_and_keeps_the_others() {
    let fdops = fdops_bin();
    let path = fdops.to_str().unwrap();
    let (fw, mut child) = start_watched(&["pipe2", "O_CLOEXEC", "dup2", "%pipe2.fd1", "60", "exec", path, "wait"], &[]);
    let pid = child.pid();
    let pipe = child.op("pipe2");
    let (r, w, ino) = (pipe.int("fd0"), pipe.int("fd1"), pipe.int("ino0"));
    child.op("wait");
    fw.expect_event(pid, "exec", |_| true);
    fw.signal(libc::SIGUSR1);
    let rec = dumped(&fw, pid, 60);
    assert_eq!(rec["object"], pipe_object(ino, "write"), "{rec}");
    assert_eq!(rec["cloexec"], false, "{rec}");
    fw.expect("the end of the dump", DEADLINE, |v| v["type"] == "fd" && v["pid"] == pid && v["fd"] == 60);
    let gone: Vec<Value> = fw
        .records()
        .into_iter()
        .filter(|v| v["type"] == "fd" && v["pid"] == pid && (v["fd"] == r || v["fd"] == w))
        .collect();
    assert!(gone.is_empty(), "CLOEXEC fds {r} and {w} are still in the model after exec: {gone:?}");
    child.go();
    child.finish_ok();
}

#[test]
fn dump_on_exit_comes_before_stats() {
    let (fw, mut child) = start_watched(&["socket", "AF_UNIX", "SOCK_STREAM", "0", "wait"], &["--dump-on-exit"]);
    let pid = child.pid();
    let fd = child.op("socket").ok();
    child.op("wait");
    fw.expect_event(pid, "socket", |_| true);
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0));
    let at = records.iter().position(|v| v["type"] == "fd" && v["pid"] == pid && v["fd"] == fd);
    let at = at.unwrap_or_else(|| panic!("no fd record for the socket: {:?}", records.last()));
    assert_eq!(records[at]["object"]["type"], "socket", "{}", records[at]);
    assert_eq!(records.last().unwrap()["type"], "stats");
    assert!(at < records.len() - 1);
    child.go();
    child.finish_ok();
}
