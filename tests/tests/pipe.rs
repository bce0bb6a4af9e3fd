//! pipe(2) and pipe2(2): both fds, both ends of one pipe inode.
use fdwatch_tests::*;

fn pipe_objects(op: &OpLine) -> Value {
    json!([
        {"type": "pipe", "ino": op.int("ino0"), "end": "read"},
        {"type": "pipe", "ino": op.int("ino1"), "end": "write"},
    ])
}

#[test]
fn pipe_reports_both_ends_of_one_inode() {
    let (fw, mut child) = run_watched(&["pipe"], &[]);
    let pid = child.pid();
    let op = child.op("pipe");
    op.ok();
    assert_eq!(op.int("ino0"), op.int("ino1"));
    fw.expect_exact(&expected(
        pid,
        "pipe",
        json!({"pipefd": [op.int("fd0"), op.int("fd1")], "objects": pipe_objects(&op), "ret": 0}),
    ));
}

/// `pipe2 FLAGS` under fdwatch: the event has both fds, both ends and the flags by name.
#[track_caller]
fn pipe2_is_reported(flags: &str, flags_name: &str) {
    let (fw, mut child) = run_watched(&["pipe2", flags], &[]);
    let pid = child.pid();
    let op = child.op("pipe2");
    op.ok();
    fw.expect_exact(&expected(
        pid,
        "pipe2",
        json!({"pipefd": [op.int("fd0"), op.int("fd1")], "flags": flags_name, "objects": pipe_objects(&op), "ret": 0}),
    ));
}

#[test]
fn pipe2_with_flags() {
    pipe2_is_reported("O_NONBLOCK|O_CLOEXEC", "O_CLOEXEC|O_NONBLOCK");
}

#[test]
fn pipe2_without_flags() {
    pipe2_is_reported("0", "0");
}

#[test]
fn pipe2_with_an_invalid_flag_fails_without_fds() {
    assert_reported(
        &["pipe2", "O_TRUNC"],
        "pipe2",
        json!({"pipefd": null, "flags": format!("{:#x}", libc::O_TRUNC), "objects": [null, null],
                   "ret": -22, "errno": "EINVAL"}),
    );
}
