//! The records' clocks (fdwatch_common::clock): agent mode stamps events with the
//! kernel's tick count and writes the end of the tick each call was in; `--events`
//! stamps them in nanoseconds. Both on the wall clock the test reads around the calls.
use std::time::{SystemTime, UNIX_EPOCH};

use fdwatch_tests::{alerts::*, *};

/// fdops makes a unix socket, waits 30 ms and dup2s it onto its stdin: a
/// stdio_hijack alert (alert_stdio.rs) whose evidence has both calls.
const OPS: &[&str] =
    &["socket", "AF_UNIX", "SOCK_STREAM", "0", "sleep_ms", "30", "dup2", "%socket.ret", "0", "sleep_ms", "500"];

/// The longest tick Linux has (CONFIG_HZ=100).
const MAX_TICK_NS: i64 = 10_000_000;

fn wall_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    humantime::format_rfc3339_nanos(UNIX_EPOCH + d).to_string()
}

/// Runs OPS under `fdwatch --json --pid PID ARGS`; returns the evidence times of the
/// socket() and dup2() calls and the wall clock before "go" and after dup2 returned.
fn times_of_the_calls(args: &[&str]) -> (String, String, String, String) {
    let mut child = Fdops::waiting(OPS);
    let pid = child.pid();
    let pid_arg = pid.to_string();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&[&["--json", "--pid", &pid_arg], args].concat()));
    let before = wall_now();
    child.go();
    child.op("dup2");
    let after = wall_now();
    fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    child.finish_ok();
    let records = stop(fw);
    let alert = the_alert(&records, "stdio_hijack", pid, "a unix socket dup2'd onto stdin");
    let evidence = alert["evidence"].as_array().expect("evidence");
    let time = |e: Option<&Value>, what: &str| {
        e.and_then(|e| e["ts"].as_str()).unwrap_or_else(|| panic!("no {what} in the evidence: {alert}")).to_owned()
    };
    // socket() as the first step of the socket's origin, dup2() as an event.
    let socket = evidence.iter().find_map(|e| e["origin"].as_array().and_then(|o| o.first()));
    let dup2 = evidence.iter().find(|e| e["what"] == "event" && e["syscall"] == "dup2");
    (time(socket, "socket() origin"), time(dup2, "dup2() event"), before, after)
}

#[test]
fn agent_mode_writes_the_end_of_the_tick_each_call_was_in() {
    let (socket, dup2, before, after) = times_of_the_calls(&[]);
    // Not before the call, and at most a tick after it (and the reading of it).
    assert!(ts_diff_ns(&before, &socket) >= 0, "socket() at {socket}, before the test said go at {before}");
    assert!(ts_diff_ns(&after, &dup2) <= MAX_TICK_NS, "dup2() at {dup2}, over a tick after it returned ({after})");
    // 30 ms apart in whole ticks: a time read in ns would not be a multiple of one.
    let apart = ts_diff_ns(&socket, &dup2);
    assert!((20_000_000..=60_000_000).contains(&apart), "socket() at {socket}, dup2() at {dup2}");
    assert!(
        [1_000_000, 3_333_333, 4_000_000, 10_000_000].iter().any(|tick| apart % tick == 0),
        "socket() and dup2() {apart} ns apart: not whole ticks of any CONFIG_HZ"
    );
}

#[test]
fn events_mode_writes_nanoseconds() {
    let (socket, dup2, before, after) = times_of_the_calls(&["--events"]);
    assert!(ts_diff_ns(&before, &socket) >= 0, "socket() at {socket}, before the test said go at {before}");
    assert!(ts_diff_ns(&dup2, &after) >= 0, "dup2() at {dup2}, after it returned ({after})");
    let apart = ts_diff_ns(&socket, &dup2);
    assert!((30_000_000..=60_000_000).contains(&apart), "socket() at {socket}, dup2() at {dup2}");
}
