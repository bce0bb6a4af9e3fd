//! pipe_leak (issue 4), incident 3 of README.md's *Alerts*: Python's Popen(stdout=PIPE) runs a shell
//! that starts a daemon in the background; the shell exits, but the daemon inherited the
//! pipe's write end, so Python's read never sees EOF (and the shell stays a zombie). Here
//! the daemon is `sleep 30` (helpers/pipe_leak.py runs the Python side). The alert comes
//! after the grace period (1 s by default); killing the sleep gives `resolved`.
//!
//! The negatives run the same Python with scripts whose background jobs let go in time
//! or never held the pipe; each Python lingers 1.5 s after EOF, so a wrong alert's grace
//! period would end while it still runs.
use std::time::{Duration, Instant};

use fdwatch_tests::{alerts::*, *};

fn pipe_leak_py(script: &str, close_fds: bool, linger: &str) -> Proc {
    let close = if close_fds { "1" } else { "0" };
    Proc::run(&python(), &[&helper("pipe_leak.py"), script, close, linger], "pipe_leak.py")
}

#[test]
fn daemon_holding_the_popen_pipe_after_the_shell_exited_is_one_warning_then_resolved() {
    let mut py = pipe_leak_py("sleep 30 & echo $!", true, "0");
    let pid = py.pid();
    let fw = py.go_watched();
    let popen = py.line("popen ");
    let (sh, rfd, ino) = (Proc::field(&popen, "pid"), Proc::field(&popen, "fd"), Proc::field(&popen, "ino"));
    let sleep = Proc::field(&py.line("first "), "line");
    py.also_kill(sleep);
    let comm = comm_of(pid);
    let exe = exe_of(pid);
    assert_eq!(fd_link(sleep, 1), Some(format!("pipe:[{ino}]")), "sleep should hold the pipe as its stdout");

    let exit = fw.expect(&format!("the exit of sh (pid {sh})"), DEADLINE, |r| check::event_of(r, sh, "exit"));
    let exited_at = Instant::now();
    let alert = fw.expect(&format!("a pipe_leak alert for pid {pid}"), DEADLINE, |r| {
        r["type"] == "alert" && r["kind"] == "pipe_leak" && r["pid"] == pid
    });
    let waited = exited_at.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "the alert came {waited:?} after sh's exit showed up, before the 1 s grace period ended: {alert}"
    );
    assert!(waited <= Duration::from_secs(6), "the alert came only {waited:?} after sh's exit: {alert}");
    assert!(
        py.all_lines().iter().all(|l| !l.starts_with("eof")),
        "python saw EOF before the alert: {:?}",
        py.all_lines()
    );

    // The daemon goes away: python sees EOF, fdwatch says the leak is resolved.
    // SAFETY: kill has no memory-safety preconditions; sleep is the scenario's process.
    assert_eq!(unsafe { libc::kill(sleep as i32, libc::SIGKILL) }, 0);
    let killed_at = Instant::now();
    py.line("eof ");
    assert_eq!(Proc::field(&py.line("reaped "), "status"), 0);
    let id = alert["id"].clone();
    let resolved = fw.expect("the resolved record", DEADLINE, |r| r["type"] == "resolved" && r["id"] == id);
    py.finish_ok();
    let records = stop(fw);

    let alert = the_alert(&records, "pipe_leak", pid, "Popen(stdout=PIPE) with `sleep 30 &`");
    assert_alert(
        &alert,
        json!({
            "kind": "pipe_leak", "severity": "warning", "pid": pid, "comm": comm, "exe": exe,
            "pipe": format!("pipe:[{ino}]"), "ino": ino,
            "reader": {"pid": pid, "comm": comm, "fd": rfd},
            "writer": {"pid": sh, "comm": "sh", "let_go": "exited"},
            "holders": [{"pid": sleep, "comm": "sleep", "fds": [1]}],
            "grace_ms": 1000,
        }),
    );
    let msg = alert["message"].as_str().unwrap();
    for p in [pid, sh, sleep] {
        assert!(msg.contains(&p.to_string()), "the message should name pid {p}: {msg}");
    }
    // sh's exit is the event that started the wait.
    let _ = exit;
    assert_event(
        &resolved,
        &json!({"id": id, "kind": "pipe_leak", "pid": pid, "comm": comm, "message": ANY, "waited_ns": ANY}),
    );
    let waited_ns = resolved["waited_ns"].as_i64().unwrap_or(-1);
    let upper = exited_at.elapsed().as_nanos() as i64 + 1_000_000_000;
    assert!(
        waited_ns >= 1_000_000_000 && waited_ns <= upper,
        "waited_ns {waited_ns} should be at least the grace period and at most the {upper} ns since sh's exit: {resolved}"
    );
    assert!(killed_at.elapsed() < DEADLINE);
    let resolved_all: Vec<&Value> = records.iter().filter(|r| r["type"] == "resolved").collect();
    assert_eq!(resolved_all.len(), 1, "one resolved record: {resolved_all:?}");
    let others: Vec<Value> = alert_records(&records).into_iter().filter(|r| r["id"] != id).collect();
    assert!(others.is_empty(), "no other alert: {others:#?}");
}

/// Runs pipe_leak.py with `script` (which must `echo $!` first, or anything) under
/// `fdwatch --pid PY --follow` until python exits; returns every record.
fn negative(script: &str, close_fds: bool) -> Vec<Value> {
    let mut py = pipe_leak_py(script, close_fds, "1.5");
    let pid = py.pid();
    let fw = py.go_watched();
    py.line("popen ");
    let first = py.line("first ");
    if let Ok(bg) = first.trim_start_matches("first line=").parse::<i64>() {
        py.also_kill(bg);
    }
    py.line("eof ");
    py.line("reaped ");
    py.wait_within(DEADLINE + Duration::from_secs(2));
    stop_after_exit(fw, pid)
}

#[test]
fn background_job_that_exits_within_the_grace_period_raises_nothing() {
    let records = negative("sleep 0.2 & echo $!", true);
    assert_no_alerts(&records, "`sleep 0.2 &` lets go of the pipe within the grace period");
}

#[test]
fn background_daemon_redirected_to_dev_null_raises_nothing() {
    let records = negative("sleep 30 >/dev/null 2>&1 & echo $!", true);
    assert_no_alerts(&records, "`sleep 30 >/dev/null 2>&1 &` never holds the pipe");
}

#[test]
fn background_daemon_with_stdout_closed_raises_nothing() {
    let records = negative("sleep 30 >&- 2>&- & echo $!", false);
    assert_no_alerts(&records, "`sleep 30 >&- 2>&- &` never holds the pipe");
}

#[test]
fn popen_of_a_plain_command_raises_nothing_with_or_without_close_fds() {
    for close_fds in [true, false] {
        let records = negative("echo hello; ls / | wc -l; cat /dev/null", close_fds);
        assert_no_alerts(&records, &format!("Popen(close_fds={close_fds}) of a plain pipeline"));
    }
}
