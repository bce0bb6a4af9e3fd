//! The fd model of one process with very many fds.
//!
//! 100k fds in one process is impossible here: the hard RLIMIT_NOFILE is 20000 and
//! raising it needs CAP_SYS_RESOURCE, which the test environment lacks. So model_procs
//! `many 19000` raises its soft limit to the hard one and makes 19000 fds while
//! watched: /dev/null opens, sockets, pipes, eventfds, dup and F_DUPFD_CLOEXEC dups,
//! some CLOEXEC; then closes every 10th, dup3s some back, flips CLOEXEC with F_SETFD
//! and FIONCLEX, dup2s onto the highest allowed fd, and close_range(CLOEXEC) a block.
use fdwatch_tests::{model_check::*, *};

const FDS: usize = 19000;

fn hard_nofile() -> u64 {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into rl.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    rl.rlim_max
}

#[test]
fn a_process_with_19000_fds_is_modelled_exactly() {
    assert!(
        hard_nofile() > FDS as u64 + 100,
        "this test needs a hard RLIMIT_NOFILE above {} (it is {})",
        FDS + 100,
        hard_nofile()
    );
    let mut tree = Tree::spawn(&["many", &FDS.to_string()]);
    let pid = tree.pid();
    let fw = tree.go_watched(&[]);
    let top = tree.expect_ev_within("paused", DEADLINE * 3)["top"].as_i64().unwrap();

    let real = proc_fds(pid).unwrap();
    assert!(real.len() > FDS - FDS / 10, "only {} fds in /proc", real.len());
    assert!(real.contains_key(&(top as i32)));

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, pid, "19000 fds in one process");
    assert_eq!(dump[&pid].len(), real.len());
    // Provenance of a few kinds (every fd was made while watched).
    let mut problems = Problems::default();
    // The first round of kinds: 3 openat, 4 socket, 5-6 pipe2, 7 eventfd2, 8 dup(3),
    // 9 F_DUPFD_CLOEXEC(4); later dup3(5, 20) and dup2(6, top).
    problems.origin(&dump, pid, 3, &[created("openat", pid)]);
    problems.origin(&dump, pid, 4, &[created("socket", pid)]);
    problems.origin(&dump, pid, 5, &[created("pipe2", pid)]);
    problems.origin(&dump, pid, 7, &[created("eventfd2", pid)]);
    problems.origin(&dump, pid, 8, &[created("openat", pid), dup("dup", 3, pid)]);
    problems.origin(&dump, pid, 9, &[created("socket", pid), dup("fcntl", 4, pid)]);
    problems.origin(&dump, pid, 20, &[created("pipe2", pid), dup("dup3", 5, pid)]);
    problems.origin(&dump, pid, top, &[created("pipe2", pid), dup("dup2", 6, pid)]);
    problems.assert_none("provenance in a process with 19000 fds");
    // A default ring buffer (16 MiB) holds these events: the model must have followed
    // them without re-reading /proc.
    assert_no_healing(&fw, "19000 fds in one process");
}
