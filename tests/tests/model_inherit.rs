//! The fd model of a child that inherits over a thousand sockets: model_procs `inherit
//! 1100` raises its RLIMIT_NOFILE soft limit to the hard one, opens 1100 sockets
//! without CLOEXEC (AF_INET/AF_UNIX, stream/datagram), then forks a child that execs
//! sleep with all of them.
use fdwatch_tests::{model_check::*, *};

const SOCKETS: usize = 1100;

#[test]
fn a_child_inheriting_1100_sockets_is_modelled_exactly() {
    let mut tree = Tree::spawn(&["inherit", &SOCKETS.to_string()]);
    let parent = tree.pid();
    let fw = tree.go_watched(&[]);
    let sockets: Vec<i64> =
        tree.expect_ev("fds")["sockets"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(sockets.len(), SOCKETS);
    let child = tree.expect_ev("paused")["child"].as_i64().unwrap();

    wait_for("the child to run sleep with every socket", DEADLINE, || {
        let n = proc_fds(child).map_or(0, |f| f.values().filter(|x| x.name.starts_with("socket:[")).count());
        let sleeping = proc_stat(child).is_some_and(|s| s.1 == "sleep");
        if sleeping && n == SOCKETS { Ok(()) } else { Err(format!("sleeping {sleeping}, {n} sockets")) }
    });

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, parent, "1100 inherited sockets");

    let mut problems = Problems::default();
    for &s in &sockets {
        problems.origin(&dump, parent, s, &[created("socket", parent)]);
        problems.origin(&dump, child, s, &[created("socket", parent), inherited(parent, child), survived_exec(child)]);
        let (p, c) = (fd_record(&dump, parent, s), fd_record(&dump, child, s));
        if p["object"] != c["object"] {
            problems.push(format!(
                "fd {s}: the child's object differs from the parent's: {} vs {}",
                c["object"], p["object"]
            ));
        }
    }
    problems.assert_none("provenance of 1100 inherited sockets");
    assert_no_healing(&fw, "1100 inherited sockets");
}
