//! interrupted_wait (issue 15): seed 002 reproduced with a real seccomp filter and a real
//! ptrace attach (helpers/slowlog.c). A worker sleeps 5 s under a filter that refuses
//! restart_syscall with EPERM (Docker 1.10.3's default profile lacked it); its parent
//! stops it after 1 s (PTRACE_ATTACH as php-fpm's slowlog does, PTRACE_SEIZE +
//! PTRACE_INTERRUPT, or SIGSTOP) and resumes it 1 s later; the kernel's restart of the
//! sleep is refused and the sleep returns EPERM after 2 s. Without the filter the same
//! stop is harmless; select restarts by re-running itself; epoll_wait returns EINTR by
//! design (info).
use std::process::Command;

use fdwatch_tests::{alerts::*, *};

/// Runs `slowlog CALL SECCOMP STOP` under `fdwatch --events --pid <it> --follow`;
/// returns the tracer's pid, the worker's pid, its `returned` line and every record.
fn slowlog(call: &str, seccomp: &str, how: &str) -> (i64, i64, String, Vec<Value>) {
    slowlog_under(call, seccomp, how, true)
}

/// The same, with `--events` or in agent mode (without: the probes drop in the kernel
/// what no alert reads, fdwatch-common/src/agent.rs, and the alert must still come).
fn slowlog_under(call: &str, seccomp: &str, how: &str, events: bool) -> (i64, i64, String, Vec<Value>) {
    let mut cmd = Command::new(slowlog_bin());
    cmd.args([call, seccomp, how]);
    let mut p = Proc::spawn(cmd, &format!("slowlog {call} {seccomp} {how}"));
    let tracer = Proc::field(&p.line("wait "), "pid");
    let fw = if events {
        Fdwatch::watch(tracer, &["--follow"])
    } else {
        Fdwatch::until_ready(Fdwatch::spawn_raw(&["--json", "--pid", &tracer.to_string(), "--follow"]))
    };
    p.send("go");
    let worker = Proc::field(&p.line("worker "), "pid");
    let returned = p.line("returned ");
    p.line("tracer ");
    p.finish_ok();
    if events {
        fw.expect("the worker's exit", DEADLINE, |r| check::event_of(r, worker, "exit"));
    } else {
        fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == worker);
    }
    (tracer, worker, returned, stop(fw))
}

fn word<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ').find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('='))).unwrap_or("")
}

/// Checks the critical alert of seed 002 for `worker`, stopped by `tracer` with `how`.
#[track_caller]
fn check_refused(records: &[Value], tracer: i64, worker: i64, syscall: &str, how: &str, returned: &str) -> Value {
    assert_eq!(word(returned, "errno"), "EPERM", "the reproduction reproduces: {returned}");
    let waited_ms: i64 = word(returned, "waited_ms").parse().unwrap();
    assert!((1_800..3_500).contains(&waited_ms), "stopped 1 s after 1 s of sleep: {returned}");
    let alert = the_alert(records, "interrupted_wait", worker, "seed 002");
    assert_alert(
        &alert,
        json!({
            "kind": "interrupted_wait", "severity": "critical", "pid": worker, "comm": "slowlog", "exe": ANY,
            "syscall": syscall, "timeout_ns": 5_000_000_000i64, "waited_ns": ANY,
            "stopped_by": {"pid": tracer, "comm": "slowlog", "how": how},
            "restart": "restart_syscall", "errno": "EPERM", "seccomp_mode": "filter", "seccomp_filters": 1,
        }),
    );
    // How long it really waited, as fdwatch saw it: within 100 ms of the program's clock.
    let waited_ns = alert["waited_ns"].as_i64().unwrap();
    assert!((waited_ns / 1_000_000 - waited_ms).abs() < 100, "waited_ns {waited_ns} vs {waited_ms} ms: {alert}");
    let interrupted = find_evidence(&alert, "event", worker, syscall, json!({}), -516, Some("ERESTART_RESTARTBLOCK"));
    let restart = find_evidence(
        &alert,
        "event",
        worker,
        "restart_syscall",
        json!({"seccomp_mode": "filter", "seccomp_filters": 1}),
        -1,
        Some("EPERM"),
    );
    assert!(interrupted < restart, "{alert}");
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains(&format!("asked {syscall}() to wait up to 5.0 s")), "{msg}");
    // Timings are the machine's: about 1 s each, told as "999 ms" or "1.0 s".
    assert!(msg.contains(&format!("pid {tracer} (slowlog) stopped it with {how} after ")), "{msg}");
    assert!(msg.contains(" and resumed it with "), "{msg}");
    assert!(msg.contains("failed with EPERM (its seccomp filter refused it)"), "{msg}");
    assert!(msg.contains(&format!("so {syscall}() returned -1 EPERM after ")), "{msg}");
    assert!(msg.contains(" early: the wait was cut short"), "{msg}");
    assert_eq!(alert_records(records).len(), 1, "one alert: {:#?}", alert_records(records));
    alert
}

#[test]
fn seed_002_sleep_stopped_by_ptrace_attach_under_seccomp_is_one_critical_interrupted_wait() {
    let (tracer, worker, returned, records) = slowlog("nanosleep", "1", "ptrace");
    let alert = check_refused(&records, tracer, worker, "clock_nanosleep", "PTRACE_ATTACH", &returned);
    // The tracer's requests, the SIGSTOP PTRACE_ATTACH sent, and the resume.
    find_evidence(
        &alert,
        "event",
        tracer,
        "ptrace",
        json!({"request": "PTRACE_ATTACH", "target_pid": worker}),
        0,
        None,
    );
    find_evidence(
        &alert,
        "event",
        tracer,
        "ptrace",
        json!({"request": "PTRACE_DETACH", "target_pid": worker}),
        0,
        None,
    );
    let ev = alert["evidence"].as_array().unwrap();
    assert!(
        ev.iter()
            .any(|e| e["syscall"] == "signal" && e["args"]["sig"] == "SIGSTOP" && e["args"]["target_pid"] == worker),
        "{alert}"
    );
    assert!(alert["message"].as_str().unwrap().contains("and resumed it with PTRACE_DETACH "), "{alert}");
}

/// curl's Curl_wait_ms waits in poll: the same.
#[test]
fn seed_002_poll_stopped_by_ptrace_attach_under_seccomp_is_one_critical_interrupted_wait() {
    let (tracer, worker, returned, records) = slowlog("poll", "1", "ptrace");
    check_refused(&records, tracer, worker, "poll", "PTRACE_ATTACH", &returned);
}

/// Agent mode, as the service runs: the failed waits and the refused restart reach the
/// detector, though successful polls and most failures are dropped in the kernel.
#[test]
fn seed_002_in_agent_mode_is_the_same_alert() {
    for call in ["poll", "nanosleep"] {
        let (tracer, worker, returned, records) = slowlog_under(call, "1", "ptrace", false);
        let syscall = if call == "poll" { "poll" } else { "clock_nanosleep" };
        check_refused(&records, tracer, worker, syscall, "PTRACE_ATTACH", &returned);
        assert!(records.iter().all(|r| r["type"] != "event"), "agent mode writes no events");
    }
}

#[test]
fn a_sleep_stopped_by_ptrace_seize_and_interrupt_under_seccomp_is_critical_too() {
    let (tracer, worker, returned, records) = slowlog("nanosleep", "1", "seize");
    check_refused(&records, tracer, worker, "clock_nanosleep", "PTRACE_INTERRUPT", &returned);
}

#[test]
fn a_sleep_stopped_by_sigstop_under_seccomp_is_critical_too() {
    let (tracer, worker, returned, records) = slowlog("nanosleep", "1", "sigstop");
    let alert = check_refused(&records, tracer, worker, "clock_nanosleep", "SIGSTOP", &returned);
    assert!(alert["message"].as_str().unwrap().contains("resumed it with SIGCONT"), "{alert}");
}

/// The same stop without the filter: the kernel's restart runs and the sleep ends at
/// its deadline (restart_block keeps it absolute), 5 s after it began; nothing is raised.
#[test]
fn the_same_stop_without_the_seccomp_filter_raises_nothing() {
    let (_, worker, returned, records) = slowlog("nanosleep", "0", "ptrace");
    assert_eq!(word(&returned, "ret"), "0", "{returned}");
    assert!(word(&returned, "waited_ms").parse::<i64>().unwrap() >= 4_900, "{returned}");
    // The restart is in the record stream: fdwatch saw it and judged it fine.
    assert!(records.iter().any(|r| check::event_of(r, worker, "restart_syscall") && r["ret"] == 0), "no restart seen");
    assert_no_alerts(&records, "a stopped sleep without seccomp");
}

/// select restarts by re-running itself (-ERESTARTNOHAND), which the filter allows.
#[test]
fn select_stopped_under_the_filter_restarts_itself_and_raises_nothing() {
    let (_, worker, returned, records) = slowlog("select", "1", "ptrace");
    assert_eq!(word(&returned, "ret"), "0", "{returned}");
    assert!(
        records.iter().any(|r| check::event_of(r, worker, "pselect6") && r["errno"] == "ERESTARTNOHAND"),
        "the interruption was seen"
    );
    assert_no_alerts(&records, "select stopped and restarted");
}

/// epoll_wait returns EINTR after a stop by design (signal(7)): info, naming the stop.
#[test]
fn epoll_wait_cut_short_by_sigstop_is_an_info_interrupted_wait() {
    let (tracer, worker, returned, records) = slowlog("epoll", "0", "sigstop");
    assert_eq!(word(&returned, "errno"), "EINTR", "{returned}");
    let alert = the_alert(&records, "interrupted_wait", worker, "epoll_wait after SIGSTOP");
    assert_alert(
        &alert,
        json!({
            "kind": "interrupted_wait", "severity": "info", "pid": worker, "comm": "slowlog", "exe": ANY,
            "syscall": "epoll_wait", "timeout_ns": 5_000_000_000i64, "waited_ns": null,
            "stopped_by": {"pid": tracer, "comm": "slowlog", "how": "SIGSTOP"},
            "restart": null, "errno": "EINTR", "seccomp_mode": null, "seccomp_filters": null,
        }),
    );
    find_evidence(&alert, "event", worker, "epoll_wait", json!({"timeout": 5000}), -4, Some("EINTR"));
}
