//! close(2) and close_range(2).
use fdwatch_tests::*;

#[test]
fn close_of_an_open_fd() {
    assert_reported(&["dup2", "1", "100", "close", "100"], "close", json!({"fd": 100, "ret": 0}));
}

#[test]
fn close_of_a_closed_fd_is_ebadf() {
    assert_reported(&["close", "9999"], "close", json!({"fd": 9999, "ret": -9, "errno": "EBADF"}));
}

#[test]
fn close_of_a_negative_fd_stays_negative() {
    assert_reported(&["close", "-1"], "close", json!({"fd": -1, "ret": -9, "errno": "EBADF"}));
}

#[test]
fn close_range_with_cloexec_up_to_uint_max() {
    assert_reported(
        &["close_range", "200", "4294967295", "CLOSE_RANGE_CLOEXEC"],
        "close_range",
        json!({"first": 200, "last": 4294967295u32, "flags": "CLOSE_RANGE_CLOEXEC", "ret": 0}),
    );
}

#[test]
fn close_range_closing_and_failing() {
    let (fw, mut child) = run_watched(
        &["dup2", "1", "150", "dup2", "1", "151", "close_range", "150", "151", "0", "close_range", "10", "5", "0"],
        &[],
    );
    let pid = child.pid();
    assert_eq!(child.op("close_range").ok(), 0);
    assert_eq!(child.op("close_range").get("errno"), "EINVAL");
    fw.expect_exact_where(
        &expected(pid, "close_range", json!({"first": 150, "last": 151, "flags": "0", "ret": 0})),
        |e| e["first"] == 150,
    );
    fw.expect_exact_where(
        &expected(pid, "close_range", json!({"first": 10, "last": 5, "flags": "0", "ret": -22, "errno": "EINVAL"})),
        |e| e["first"] == 10,
    );
}
