//! The command line and the record stream as a whole: exit codes, one-line errors,
//! ready first, stats last, clean stops (README.md, *Output*).
use std::{
    os::unix::process::CommandExt,
    process::Command,
    time::{Duration, Instant},
};

use fdwatch_tests::{check::DOCUMENTED_TYPES, *};

/// A usage or environment error: `code`, nothing on stdout, one line on stderr naming
/// the problem, and no panic.
#[track_caller]
fn assert_one_line_error(args: &[&str], code: i32, mentions: &str) {
    let fw = Fdwatch::spawn_raw(args);
    let (status, records, stderr) = fw.outcome(DEADLINE);
    assert_eq!(status.code(), Some(code), "fdwatch {args:?}: exit {status:?}, stderr: {stderr}");
    assert!(records.is_empty(), "fdwatch {args:?} wrote records: {records:?}");
    assert_eq!(stderr.lines().count(), 1, "fdwatch {args:?}: not one line on stderr: {stderr:?}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "fdwatch {args:?} panicked: {stderr}");
    }
    assert!(stderr.contains(mentions), "fdwatch {args:?}: the error does not name {mentions:?}: {stderr}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    require_root();
    assert_one_line_error(&["--json", "--no-such-flag"], 2, "--no-such-flag");
}

#[test]
fn nonexistent_pid_is_a_usage_error() {
    require_root();
    assert_one_line_error(&["--json", "--events", "--pid", "999999999"], 2, "999999999");
}

#[test]
fn bad_values_are_usage_errors() {
    require_root();
    assert_one_line_error(&["--json", "--ring-bytes", "1000"], 2, "1000");
    assert_one_line_error(&["--json", "--duration", "0"], 2, "0");
    assert_one_line_error(&["--json", "--duration", "soon"], 2, "soon");
    assert_one_line_error(&["--json", "--pid", "abc"], 2, "abc");
}

#[test]
fn follow_without_pid_names_what_is_missing() {
    require_root();
    // clap reports this on two lines ("required arguments were not provided:" and then
    // "--pid <PID>"); the one line fdwatch keeps must still say which.
    assert_one_line_error(&["--json", "--follow"], 2, "--pid");
}

#[test]
fn not_root_is_an_environment_error() {
    require_root();
    // The same binary as nobody: exit 1, one line that says root is needed.
    let bin = helpers::FdwatchForAnyone::new("as-nobody");
    let mut cmd = Command::new(&bin.path);
    cmd.args(["--json", "--events", "--duration", "1"]).uid(65534).gid(65534);
    let (status, stdout, stderr) = child::run_to_end(cmd, "fdwatch as nobody", DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(1), "exit {status:?}, stderr: {stderr}");
    assert!(stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&stdout));
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains("root"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_exits_zero() {
    require_root();
    let mut cmd = Command::new(fdwatch_bin());
    cmd.arg("--help");
    let (status, stdout, _) = child::run_to_end(cmd, "fdwatch --help", DEADLINE);
    assert_eq!(status.code(), Some(0));
    assert!(String::from_utf8_lossy(&stdout).contains("--pid"));
}

#[test]
fn ready_record_describes_the_run() {
    let child = Fdops::waiting(&[]);
    let pid = child.pid();
    let fw = Fdwatch::watch(pid, &[]);
    let ready = fw.expect("the ready record", DEADLINE, |v| v["type"] == "ready");
    assert_eq!(fw.records()[0], ready, "ready is the first record");
    assert_eq!(ready["collector_pid"], json!(fw.pid()), "{ready}");
    assert_eq!(ready["watched"], json!([pid]), "{ready}");
    assert_eq!(ready["follow"], json!(false), "{ready}");
    assert!(ready["probes"].as_i64().is_some_and(|n| n > 0), "{ready}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(ready["host"], json!(host.trim()), "{ready}");
}

#[test]
fn duration_stops_by_itself_with_stats_last() {
    let fw = Fdwatch::start(&["--duration", "1"]);
    let started = Instant::now();
    let (status, records) = fw.wait_done(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(records[0]["type"], "ready", "{}", records[0]);
    let stats = records.last().unwrap();
    assert_eq!(stats["type"], "stats", "the last record is stats: {stats}");
    let elapsed = stats["elapsed_ns"].as_i64().unwrap_or_else(|| panic!("{stats}"));
    assert!(elapsed >= 1_000_000_000, "--duration 1 ran {elapsed} ns: {stats}");
    assert_eq!(records.iter().filter(|r| r["type"] == "stats").count(), 1, "one stats record");
}

#[test]
fn sigint_stops_cleanly_and_stats_count_what_was_shown() {
    let (fw, mut child) = run_watched(&["dup2", "1", "100", "close", "100", "dup", "1", "close", "9999"], &[]);
    let pid = child.pid();
    child.op("dup");
    fw.expect_event(pid, "exit", |_| true);
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let stats = records.last().unwrap();
    assert_eq!(stats["type"], "stats", "the last record is stats: {stats}");
    // Only the watched process was traced, so the counts are the events shown.
    let events: Vec<&Value> = records.iter().filter(|r| r["type"] == "event").collect();
    assert!(events.iter().all(|e| e["pid"] == pid), "only the watched pid");
    // One thread's events arrive in the order it made the syscalls.
    let order: Vec<&str> = events.iter().map(|e| e["syscall"].as_str().unwrap()).collect();
    assert_eq!(order, ["dup2", "close", "dup", "close", "exit"], "{events:?}");
    let ts: Vec<&str> = events.iter().map(|e| e["ts"].as_str().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps go back: {ts:?}");
    let count = |name: &str| events.iter().filter(|e| e["syscall"] == name).count() as i64;
    assert_eq!(count("dup2"), 1);
    assert_eq!(count("close"), 2);
    assert_eq!(count("dup"), 1);
    assert_eq!(count("exit"), 1);
    assert_eq!(stats["events"], json!(events.len()), "stats.events counts the event records: {stats}");
    let by_kind = stats["by_kind"].as_object().unwrap_or_else(|| panic!("{stats}"));
    for (kind, n) in by_kind {
        assert_eq!(*n, json!(count(kind)), "stats.by_kind.{kind}: {stats}");
    }
    assert_eq!(stats["kernel_lost"], 0, "{stats}");
    assert_eq!(stats["userspace_lost"], 0, "{stats}");
}

#[test]
fn sigterm_stops_cleanly() {
    // Once an event came through, the collector loop is certainly running.
    let (fw, child) = run_watched(&["dup2", "1", "100"], &[]);
    fw.expect_event(child.pid(), "dup2", |_| true);
    let (status, records) = fw.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(records.last().unwrap()["type"], "stats", "{:?}", records.last());
}

#[test]
fn a_stop_signal_right_after_ready_still_stops_cleanly() {
    // `ready` tells a script it may go on, and a script may well stop fdwatch at once
    // (e.g. a short capture): that must be the normal stop, exit 0 with final stats,
    // not death by the signal's default action.
    for round in 0..5 {
        for (name, sig) in [("SIGINT", libc::SIGINT), ("SIGTERM", libc::SIGTERM)] {
            let fw = Fdwatch::start(&[]);
            let (status, records) = fw.stop_with(sig);
            assert_eq!(
                status.code(),
                Some(0),
                "round {round}: {name} right after the ready record ended fdwatch with {status:?} \
                 (last record {:?})",
                records.last()
            );
            assert_eq!(records.last().unwrap()["type"], "stats", "round {round}, {name}: {:?}", records.last());
        }
    }
}

#[test]
fn closed_stdout_ends_the_run_quietly() {
    require_root();
    // Like `fdwatch --json --events | head -1`: once the reader is gone, the next write
    // fails and fdwatch must stop, without a panic message.
    let mut child = Fdops::waiting(&["flood", "2000"]);
    let mut fw = fdwatch_head_1(&["--json", "--events", "--pid", &child.pid().to_string()]);
    child.go();
    child.finish_ok();
    let (status, _, stderr) = fw.end_within(DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "stderr: {stderr}");
    assert!(stderr.is_empty(), "a closed stdout is a normal end, nothing to say: {stderr}");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn every_record_type_is_a_documented_one() {
    // A busy system-wide run with processes coming and going.
    let fw = Fdwatch::start(&[]);
    let (_fw2, mut child) =
        run_watched(&["forkrun", "pipe", "dup2", "%pipe.fd1", "1", "endchild", "exec", "/bin/true"], &["--follow"]);
    let pid = child.pid();
    fw.expect_event(pid, "exit", |_| true);
    child.finish_ok();
    let (_, records) = fw.stop();
    let odd: Vec<&Value> =
        records.iter().filter(|r| !DOCUMENTED_TYPES.contains(&r["type"].as_str().unwrap_or(""))).collect();
    assert!(
        odd.is_empty(),
        "{} records of a type the contract (README.md, *Output*) does not list ({DOCUMENTED_TYPES:?}), e.g. {}",
        odd.len(),
        odd[0]
    );
}
