//! The fd model through fork and exec: what survives exec is exactly the fds without
//! CLOEXEC, and their provenance tells the whole way (created -> inherited ->
//! survived_exec, twice over for a grandchild).
//!
//! The tree (helpers/model_procs.c, mode `chain`), started before fdwatch and let go
//! once fdwatch --pid P --follow is ready:
//!
//!   P  pipe2(O_CLOEXEC), socket (plain), dup (plain), fcntl F_DUPFD_CLOEXEC, eventfd2
//!      (plain), openat /dev/null O_CLOEXEC; fork ->
//!   C1 execve model_procs chain_mid: ioctl FIOCLEX on the dup; fork ->
//!   C2 execve sleep
use fdwatch_tests::{model_check::*, *};

#[test]
fn fork_exec_chain_keeps_exactly_the_fds_without_cloexec_and_their_provenance() {
    let mut tree = Tree::spawn(&["chain"]);
    let p = tree.pid();
    let fw = tree.go_watched(&[]);
    let fds = tree.expect_ev("fds");
    let c1 = tree.expect_ev("paused")["child"].as_i64().unwrap();
    let mid = tree.expect_ev("mid");
    assert_eq!(mid["pid"], c1, "{mid}");
    let c2 = mid["child"].as_i64().unwrap();
    let fd = |k: &str| fds[k].as_i64().unwrap_or_else(|| panic!("no {k} in {fds}"));
    let (pipe_r, pipe_w, sock, dupfd, dupc, efd, null) =
        (fd("pipe_r"), fd("pipe_w"), fd("socket"), fd("dup"), fd("dup_cloexec"), fd("eventfd"), fd("devnull"));

    // Paused: C2 has exec'd sleep (its CLOEXEC fds are gone) and nothing moves.
    wait_for("C2 to sleep in sleep", DEADLINE, || match proc_stat(c2) {
        Some((_, comm, _)) if comm == "sleep" && asleep(c2) => Ok(()),
        other => Err(format!("{other:?}")),
    });

    // What /proc says the exec kept, to be sure the test built what it meant to.
    let c1_fds: Vec<i32> = proc_fds(c1).unwrap().keys().copied().collect();
    let c2_fds: Vec<i32> = proc_fds(c2).unwrap().keys().copied().collect();
    assert_eq!(c1_fds, vec![0, 1, 2, sock as i32, dupfd as i32, efd as i32], "C1's fds in /proc");
    assert_eq!(c2_fds, vec![0, 1, 2, sock as i32, efd as i32], "C2's fds in /proc");

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, p, "after fork/exec/fork/exec");

    let mut problems = Problems::default();
    // P: created here.
    problems.origin(&dump, p, pipe_r, &[created("pipe2", p)]);
    problems.origin(&dump, p, pipe_w, &[created("pipe2", p)]);
    problems.origin(&dump, p, sock, &[created("socket", p)]);
    problems.origin(&dump, p, dupfd, &[created("socket", p), dup("dup", sock, p)]);
    problems.origin(&dump, p, dupc, &[created("socket", p), dup("fcntl", sock, p)]);
    problems.origin(&dump, p, efd, &[created("eventfd2", p)]);
    problems.origin(&dump, p, null, &[created("openat", p)]);
    for std in 0..3 {
        problems.origin(&dump, p, std, &[present_at_start(p)]);
    }
    // C1: inherited at fork, survived the exec.
    problems.origin(&dump, c1, sock, &[created("socket", p), inherited(p, c1), survived_exec(c1)]);
    problems.origin(
        &dump,
        c1,
        dupfd,
        &[created("socket", p), dup("dup", sock, p), inherited(p, c1), survived_exec(c1)],
    );
    problems.origin(&dump, c1, efd, &[created("eventfd2", p), inherited(p, c1), survived_exec(c1)]);
    for std in 0..3 {
        problems.origin(&dump, c1, std, &[present_at_start(p), inherited(p, c1), survived_exec(c1)]);
    }
    // C2: twice.
    let twice = |root: Value| vec![root, inherited(p, c1), survived_exec(c1), inherited(c1, c2), survived_exec(c2)];
    problems.origin(&dump, c2, sock, &twice(created("socket", p)));
    problems.origin(&dump, c2, efd, &twice(created("eventfd2", p)));
    for std in 0..3 {
        problems.origin(&dump, c2, std, &twice(present_at_start(p)));
    }
    // The same socket everywhere.
    let ino = fd_record(&dump, p, sock)["object"]["ino"].clone();
    for (pid, f) in [(p, dupfd), (p, dupc), (c1, sock), (c1, dupfd), (c2, sock)] {
        if fd_record(&dump, pid, f)["object"]["ino"] != ino {
            problems.push(format!("pid {pid} fd {f} is not the socket of P's fd {sock}: {}", fd_record(&dump, pid, f)));
        }
    }
    problems.assert_none("provenance after fork/exec/fork/exec");
    assert_no_healing(&fw, "fork/exec chain");
}

/// posix_spawn(3) with file actions (glibc runs them in a CLONE_VM|CLONE_VFORK child
/// before execve): the CLOEXEC pipe's write end dup2'd onto the child's stdout, a plain
/// socket closed. The child then holds 0, the pipe on 1, 2: nothing else.
#[test]
fn posix_spawn_with_file_actions_is_modelled_exactly() {
    let mut tree = Tree::spawn(&["spawn"]);
    let p = tree.pid();
    let fw = tree.go_watched(&[]);
    let paused = tree.expect_ev("paused");
    let child = paused["child"].as_i64().unwrap();
    let pipe_w = paused["pipe_w"].as_i64().unwrap();
    wait_for("the spawned child to sleep in sleep", DEADLINE, || match proc_stat(child) {
        Some((_, comm, _)) if comm == "sleep" && asleep(child) => Ok(()),
        other => Err(format!("{other:?}")),
    });
    assert_eq!(proc_fds(child).unwrap().keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, p, "after posix_spawn with file actions");
    let mut problems = Problems::default();
    problems.origin(
        &dump,
        child,
        1,
        &[created("pipe2", p), inherited(p, child), dup("dup2", pipe_w, child), survived_exec(child)],
    );
    problems.origin(&dump, child, 0, &[present_at_start(p), inherited(p, child), survived_exec(child)]);
    problems.assert_none("provenance after posix_spawn");
    assert_no_healing(&fw, "posix_spawn with file actions");
}
