//! The fd model of a shell pipeline, `sh -c 'sleep 600 | cat'` (dash here), started
//! after fdwatch --pid ROOT --follow is ready (ROOT: model_procs `pipeline`, which forks
//! and execs sh). The pipe sh makes is sleep's stdout and cat's stdin: one inode, and
//! provenance created (pipe/pipe2, in sh) -> inherited (from sh) -> dup (dup2 onto 1 or
//! 0) -> survived_exec.
use fdwatch_tests::{model_check::*, *};

#[test]
fn sleep_pipe_cat_shares_one_pipe_with_its_whole_provenance() {
    let mut tree = Tree::spawn(&["pipeline"]);
    let root = tree.pid();
    let fw = tree.go_watched(&[]);
    let sh = tree.expect_ev("paused")["sh"].as_i64().unwrap();

    // Paused: sh waits for its two children, which have exec'd sleep and cat and hold
    // the pipe on 1 and 0 (and, done with their startup, nothing else above 2).
    let (sleep, cat) = wait_for("sh's children to run sleep and cat on the pipe", DEADLINE, || {
        let kids = children_of(sh);
        let find = |name: &str| kids.iter().copied().find(|&k| proc_stat(k).is_some_and(|s| s.1 == name));
        let (Some(s), Some(c)) = (find("sleep"), find("cat")) else { return Err(format!("children {kids:?}")) };
        let (Some(sf), Some(cf)) = (proc_fds(s), proc_fds(c)) else { return Err("gone".into()) };
        let settled = sf.keys().eq([0, 1, 2].iter()) && cf.keys().eq([0, 1, 2].iter());
        let piped = sf[&1].name.starts_with("pipe:[") && sf[&1].name == cf[&0].name;
        if settled && piped { Ok((s, c)) } else { Err(format!("sleep {sf:?}, cat {cf:?}")) }
    });

    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    let dump = assert_model_matches_proc(&fw, &mut dumps, root, "sh -c 'sleep 600 | cat'");

    let w = fd_record(&dump, sleep, 1);
    let r = fd_record(&dump, cat, 0);
    assert_eq!(w["object"]["type"], "pipe", "{w}");
    assert_eq!(w["object"]["ino"], r["object"]["ino"], "sleep's fd 1 and cat's fd 0 are one pipe:\n{w}\n{r}");
    assert_eq!((w["object"]["access"].as_str(), r["object"]["access"].as_str()), (Some("write"), Some("read")));

    // The pipe's creation: pipe(2) or pipe2(2), by sh (glibc's pipe() is pipe2 on
    // some builds); the fds it had there are in the dup steps.
    let made = w["origin"][0].clone();
    let syscall = made["syscall"].as_str().unwrap_or("").to_string();
    let mut problems = Problems::default();
    if !matches!(syscall.as_str(), "pipe" | "pipe2") {
        problems.push(format!("the pipe was not created by pipe/pipe2: {made}"));
    }
    let from = |rec: &Value| rec["origin"][2]["from_fd"].as_i64().unwrap_or(-1);
    problems.origin(
        &dump,
        sleep,
        1,
        &[created(&syscall, sh), inherited(sh, sleep), dup("dup2", from(w), sleep), survived_exec(sleep)],
    );
    problems.origin(
        &dump,
        cat,
        0,
        &[created(&syscall, sh), inherited(sh, cat), dup("dup2", from(r), cat), survived_exec(cat)],
    );
    // The other stdio fds came all the way from the root, through sh.
    let through_sh = |pid: i64| {
        vec![present_at_start(root), inherited(root, sh), survived_exec(sh), inherited(sh, pid), survived_exec(pid)]
    };
    problems.origin(&dump, sleep, 0, &through_sh(sleep));
    problems.origin(&dump, sleep, 2, &through_sh(sleep));
    problems.origin(&dump, cat, 1, &through_sh(cat));
    problems.origin(&dump, cat, 2, &through_sh(cat));
    problems.assert_none("provenance in the pipeline");
    assert_no_healing(&fw, "sh -c 'sleep 600 | cat'");
}
