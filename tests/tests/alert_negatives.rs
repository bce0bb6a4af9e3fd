//! Everyday fd juggling that must raise no alert at all (issue 4): shell pipelines and
//! redirections, `nohup cmd >/dev/null 2>&1 &`, a daemon that trades its stdio for
//! /dev/null, Python's subprocess with and without close_fds, pipes, files and
//! /dev/null dup2'd onto stdio. Each runs under `fdwatch --pid ROOT --follow` (the root
//! waits until fdwatch is ready), and fdwatch is stopped (SIGINT flushes whatever is
//! pending) only after the whole scenario is over. (select/poll with small fds:
//! alert_select.rs; an allowlisted process: alert_stdio.rs; background jobs that do not
//! leak a pipe: alert_pipe.rs.)
use fdwatch_tests::{alerts::*, model_check::*, *};

/// Runs `fdops wait exec PROGRAM ARGS...` under fdwatch; returns the records after it
/// exited 0.
fn exec_watched(program: &str, args: &[&str], what: &str) -> Vec<Value> {
    let mut all = vec![program];
    all.extend_from_slice(args);
    let mut root = Proc::waiting(fdops_exec(&all), what);
    let fw = root.go_watched();
    root.finish_ok();
    let pid = root.pid();
    stop_after_exit(fw, pid)
}

/// Shell pipelines and redirections (helpers/pipelines.sh), the script text as given to
/// `sh -c`.
fn shell_script() -> String {
    let path = helper("pipelines.sh");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn shell_pipelines_and_redirections_raise_nothing() {
    let records = exec_watched("/bin/sh", &["-c", &shell_script()], "sh -c <pipelines and redirections>");
    assert_no_alerts(&records, "sh (dash) pipelines and redirections");
}

#[test]
fn bash_pipelines_redirections_and_process_substitution_raise_nothing() {
    let script = format!(
        "{}\ndiff <(echo a) <(echo a) > /dev/null\necho x &> /dev/null\ncat <<< word > /dev/null\n",
        shell_script()
    );
    let records = exec_watched("/usr/bin/bash", &["-c", &script], "bash -c <pipelines and redirections>");
    assert_no_alerts(&records, "bash pipelines, redirections, process substitution");
}

/// `cmd >&- 2>&-`: the program starts with stdout and stderr closed, so the files that
/// the dynamic loader and libc open for a moment (ld.so.cache, libc.so.6, locale files)
/// get fd 1 and are closed again at once. A shell redirection, not a hijack.
#[test]
fn command_started_with_stdout_and_stderr_closed_raises_nothing() {
    let records = exec_watched("/bin/sh", &["-c", "ls / >&- 2>&-; true"], "ls >&- 2>&-");
    assert_no_alerts(&records, "`ls / >&- 2>&-`: the loader's transient opens on fd 1");
}

#[test]
fn nohup_to_dev_null_in_the_background_raises_nothing() {
    let script = "nohup sleep 30 >/dev/null 2>&1 & echo bg=$!";
    let mut root = Proc::waiting(fdops_exec(&["/bin/sh", "-c", script]), "nohup sleep 30 >/dev/null 2>&1 &");
    let fw = root.go_watched();
    let bg = Proc::field(&root.line("bg="), "bg");
    root.also_kill(bg);
    root.finish_ok();
    // sleep is running with its stdio set up: /dev/null on 1 and 2.
    wait_for("nohup to exec sleep", DEADLINE, || {
        let fds = proc_fds(bg).ok_or("gone")?;
        let ok = proc_stat(bg).is_some_and(|s| s.1 == "sleep")
            && fds.get(&1).is_some_and(|f| f.name == "/dev/null")
            && fds.get(&2).is_some_and(|f| f.name == "/dev/null");
        if ok { Ok(()) } else { Err(format!("{fds:?}")) }
    });
    // SAFETY: kill has no memory-safety preconditions; bg is the scenario's sleep.
    unsafe { libc::kill(bg as i32, libc::SIGKILL) };
    let records = stop_after_exit(fw, bg);
    assert_no_alerts(&records, "nohup sleep 30 >/dev/null 2>&1 &");
}

/// close(0), close(1), close(2), open("/dev/null") = 0, dup2(0, 1), dup2(0, 2).
#[test]
fn c_daemon_reopening_stdio_on_dev_null_raises_nothing() {
    let (fw, mut child) = start_watched(
        &[
            "close",
            "0",
            "close",
            "1",
            "close",
            "2",
            "open",
            "/dev/null",
            "O_RDWR",
            "0",
            "dup2",
            "0",
            "1",
            "dup2",
            "0",
            "2",
        ],
        &[],
    );
    let pid = child.pid();
    child.finish_ok(); // prints nothing visible after closing 1
    let records = stop_after_exit(fw, pid);
    let dup2s = records.iter().filter(|r| check::event_of(r, pid, "dup2")).count();
    assert_eq!(dup2s, 2, "the scenario ran: two dup2 events");
    assert_no_alerts(&records, "a daemon reopening stdio on /dev/null");
}

/// Python's double-fork daemonisation with /dev/null on stdio.
#[test]
fn python_daemon_reopening_stdio_on_dev_null_raises_nothing() {
    let mut root = Proc::waiting(fdops_exec(&[&python(), &helper("daemon.py"), "0.3"]), "daemon.py");
    let fw = root.go_watched();
    let daemon = Proc::field(&root.line("daemon "), "pid");
    root.also_kill(daemon);
    root.finish_ok();
    let records = stop_after_exit(fw, daemon);
    assert!(records.iter().any(|r| check::event_of(r, daemon, "dup2")), "the daemon's dup2 calls were seen");
    assert_no_alerts(&records, "a Python daemon on /dev/null");
}

#[test]
fn python_subprocess_use_raises_nothing_with_or_without_close_fds() {
    for close_fds in ["1", "0"] {
        let mut py = Proc::run(&python(), &[&helper("subprocess_mix.py"), close_fds], "subprocess_mix.py");
        let pid = py.pid();
        let fw = py.go_watched();
        py.line("done");
        py.finish_ok();
        let records = stop_after_exit(fw, pid);
        assert_no_alerts(&records, &format!("Python subprocess use, close_fds={close_fds}"));
    }
}

/// A pipe, a file and /dev/null put onto 0, 1, 2 by dup2/dup3: what shells do.
#[test]
fn pipe_file_and_dev_null_dup2_onto_stdio_raise_nothing() {
    let file = TempPath::new("dup-file");
    let (fw, mut child) = start_watched(
        &[
            "pipe",
            "dup2",
            "%pipe.fd1",
            "2",
            "open",
            file.as_str(),
            "O_WRONLY|O_CREAT",
            "644",
            "dup2",
            "%open.ret",
            "1",
            "open",
            "/dev/null",
            "O_RDONLY",
            "0",
            "dup3",
            "%open.ret",
            "0",
            "0",
        ],
        &[],
    );
    let pid = child.pid();
    child.finish_ok();
    let records = stop_after_exit(fw, pid);
    let dups = records
        .iter()
        .filter(|r| {
            r["type"] == "event" && r["pid"] == pid && r["syscall"].as_str().is_some_and(|s| s.starts_with("dup"))
        })
        .count();
    assert_eq!(dups, 3, "the scenario ran: three dup events");
    assert_no_alerts(&records, "pipe, file and /dev/null dup2'd onto stdio");
}
