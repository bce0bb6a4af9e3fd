//! The fd model of processes that trade their stdio for /dev/null, as daemons do:
//! openat("/dev/null") gets fd 0 (the lowest free), then dup2(0, 1) and dup2(0, 2).
//!
//! model_procs `devnull` forks two children after fdwatch --pid ROOT --follow is ready:
//!   A  close(0), close(1), close(2), then the above, then pause();
//!   B  close_range(0, ~0U, 0), then the above, then execve sleep.
use fdwatch_tests::{model_check::*, *};

#[test]
fn stdio_reopened_on_dev_null_is_one_open_and_two_dup2s() {
    let mut tree = Tree::spawn(&["devnull"]);
    let root = tree.pid();
    let fw = tree.go_watched(&[]);
    let paused = tree.expect_ev("paused");
    let (a, b) = (paused["a"].as_i64().unwrap(), paused["b"].as_i64().unwrap());

    wait_for("both children to hold /dev/null on exactly 0, 1, 2 (B running sleep)", DEADLINE, || {
        let all_null = |pid: i64| {
            proc_fds(pid).is_some_and(|f| f.keys().eq([0, 1, 2].iter()) && f.values().all(|x| x.name == "/dev/null"))
        };
        let b_sleeps = proc_stat(b).is_some_and(|s| s.1 == "sleep");
        if all_null(a) && all_null(b) && b_sleeps {
            Ok(())
        } else {
            Err(format!("{:?} {:?}", proc_fds(a), proc_fds(b)))
        }
    });

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, root, "stdio on /dev/null");

    let mut problems = Problems::default();
    problems.origin(&dump, a, 0, &[created("openat", a)]);
    problems.origin(&dump, a, 1, &[created("openat", a), dup("dup2", 0, a)]);
    problems.origin(&dump, a, 2, &[created("openat", a), dup("dup2", 0, a)]);
    problems.origin(&dump, b, 0, &[created("openat", b), survived_exec(b)]);
    problems.origin(&dump, b, 1, &[created("openat", b), dup("dup2", 0, b), survived_exec(b)]);
    problems.origin(&dump, b, 2, &[created("openat", b), dup("dup2", 0, b), survived_exec(b)]);
    for pid in [a, b] {
        for fd in 0..3 {
            let rec = fd_record(&dump, pid, fd);
            if rec["object"]["type"] != "null" || rec["object"]["access"] != "read-write" {
                problems.push(format!("pid {pid} fd {fd} should be /dev/null read-write: {rec}"));
            }
        }
    }
    problems.assert_none("provenance of /dev/null stdio");
    assert_no_healing(&fw, "stdio on /dev/null");
}
