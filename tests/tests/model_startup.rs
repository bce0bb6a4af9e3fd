//! The fd model of processes that were there before fdwatch: every fd read at startup
//! (task_file iterator, /proc for paths) with origin [present_at_start], equal to /proc.
//!
//! model_procs `prestart 3000` builds its tree before fdwatch starts: in the root a plain
//! pipe, a CLOEXEC socket and its dup2 onto 777 (plain), a socketpair, a CLOEXEC
//! eventfd, /dev/null for writing, and 3000 /dev/null fds (every other one CLOEXEC); a
//! child that execs sleep (so it keeps only the plain ones); a child that makes an
//! epoll fd and pauses.
use fdwatch_tests::{model_check::*, *};

/// Starts the tree and waits until it stands still: the sleeper runs sleep, the
/// waiter has its epoll fd.
fn prestarted_tree() -> (Tree, i64, i64) {
    let mut tree = Tree::spawn(&["prestart", "3000"]);
    let paused = tree.expect_ev("paused");
    let (sleeper, waiter) = (paused["sleeper"].as_i64().unwrap(), paused["waiter"].as_i64().unwrap());
    wait_for("the sleeper to run sleep and the waiter to hold its epoll fd", DEADLINE, || {
        let sleeping = proc_stat(sleeper).is_some_and(|s| s.1 == "sleep");
        let epoll = proc_fds(waiter).is_some_and(|f| f.values().any(|x| x.name == "anon_inode:[eventpoll]"));
        if sleeping && epoll { Ok(()) } else { Err(format!("sleeping {sleeping}, epoll {epoll}")) }
    });
    (tree, sleeper, waiter)
}

#[test]
fn processes_older_than_fdwatch_are_modelled_exactly_as_present_at_start() {
    let (mut tree, sleeper, waiter) = prestarted_tree();
    let root = tree.pid();
    let before = proc_tree(root);
    assert_eq!(before.keys().copied().collect::<Vec<_>>(), {
        let mut v = vec![root, sleeper, waiter];
        v.sort();
        v
    });
    let fw = Fdwatch::watch(root, &["--follow", "--dump-on-exit"]);
    let ready = fw.expect("ready", DEADLINE, |r| r["type"] == "ready");
    let total: usize = before.values().map(|p| p.fds.len()).sum();
    assert_eq!(ready["processes"], before.len(), "ready: {ready}");
    assert_eq!(ready["fds"], total, "ready counts every fd of the tree: {ready}");

    // The collector's loop runs once it reports an event (SIGUSR1 before that is
    // another test's business, below).
    tree.poke(&fw);
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, root, "processes present at start (SIGUSR1)");
    let mut problems = Problems::default();
    for (pid, fds) in &dump {
        for fd in fds.keys() {
            problems.origin(&dump, *pid, i64::from(*fd), &[present_at_start(*pid)]);
        }
    }
    problems.assert_none("origins of fds present at start");

    // --dump-on-exit, while the processes still live: the same.
    let procs = proc_tree(root);
    let (status, records) = fw.stop();
    assert!(status.success(), "fdwatch exited with {status}");
    assert_eq!(records.last().map(|r| r["type"].clone()), Some(json!("stats")), "the last record is stats");
    let at_exit = last_dump(&records);
    assert_dump_matches(&at_exit, &procs, "processes present at start (--dump-on-exit)");
    assert_eq!(at_exit, dump_without_ts(&dump, &at_exit), "the exit dump differs from the SIGUSR1 dump");
}

/// `dump` with the record timestamps (`ts`) of `other`, which may differ.
fn dump_without_ts(dump: &Dump, other: &Dump) -> Dump {
    let mut d = dump.clone();
    for (pid, fds) in d.iter_mut() {
        for (fd, rec) in fds.iter_mut() {
            if let Some(o) = other.get(pid).and_then(|f| f.get(fd)) {
                rec["ts"] = o["ts"].clone();
            }
        }
    }
    d
}

/// README: "SIGUSR1 writes the fd model". The `ready` record says the collector is up,
/// so a SIGUSR1 right after it must dump, not kill fdwatch (SIGUSR1's default action).
/// Tried 10 times, since the window between `ready` and the signal handler is short.
#[test]
fn sigusr1_right_after_ready_dumps_and_does_not_kill_fdwatch() {
    let (tree, _, _) = prestarted_tree();
    let root = tree.pid();
    for attempt in 1..=10 {
        let fw = Fdwatch::watch(root, &["--follow"]);
        // SAFETY: kill has no memory-safety preconditions; fdwatch is our unreaped child.
        unsafe { libc::kill(fw.pid() as i32, libc::SIGUSR1) };
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fw.expect("an fd record (the dump SIGUSR1 asked for)", DEADLINE, |r| r["type"] == "fd")
        }));
        if got.is_err() {
            let (status, records) = fw.stop();
            panic!(
                "attempt {attempt}: SIGUSR1 sent right after the ready record: no dump, fdwatch exited with {status} \
                 (signal {:?}); records: {}",
                std::os::unix::process::ExitStatusExt::signal(&status),
                records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n  ")
            );
        }
        let (status, _) = fw.stop();
        assert!(status.success(), "attempt {attempt}: fdwatch exited with {status}");
    }
}
