//! Picking the alert records (alert, repeat, resolved, symptom) out of fdwatch's output.
use serde_json::Value;

use crate::Fdwatch;

/// Alerts and their follow-up record types: repeats, resolutions (issue 4) and symptoms
/// written after an alert's window (issue 15).
pub const ALERT_TYPES: [&str; 4] = ["alert", "repeat", "resolved", "symptom"];

/// Every record of one of [`ALERT_TYPES`].
pub fn alert_records(records: &[Value]) -> Vec<Value> {
    records.iter().filter(|r| ALERT_TYPES.contains(&r["type"].as_str().unwrap_or(""))).cloned().collect()
}

/// `alert` records of `kind` for `pid`.
pub fn alerts_of(records: &[Value], kind: &str, pid: i64) -> Vec<Value> {
    records.iter().filter(|r| r["type"] == "alert" && r["kind"] == kind && r["pid"] == pid).cloned().collect()
}

/// Every `alert` record of `pid`, any kind.
pub fn all_alerts_of(records: &[Value], pid: i64) -> Vec<Value> {
    records.iter().filter(|r| r["type"] == "alert" && r["pid"] == pid).cloned().collect()
}

fn lines(records: &[Value]) -> String {
    if records.is_empty() {
        return "  (none)".into();
    }
    records.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n")
}

/// The one `alert` of `kind` for `pid` among `records` (all of fdwatch's output, after
/// it stopped): panics, listing every alert record, unless there is exactly one.
#[track_caller]
pub fn the_alert(records: &[Value], kind: &str, pid: i64, what: &str) -> Value {
    let found = alerts_of(records, kind, pid);
    assert!(
        found.len() == 1,
        "{what}: expected exactly one {kind} alert for pid {pid}, got {}.\nevery alert/repeat/resolved record:\n{}",
        found.len(),
        lines(&alert_records(records))
    );
    found[0].clone()
}

/// Panics (listing them) if `records` hold any alert, repeat or resolved record.
#[track_caller]
pub fn assert_no_alerts(records: &[Value], what: &str) {
    let found = alert_records(records);
    assert!(found.is_empty(), "{what}: expected no alert at all, got {}:\n{}", found.len(), lines(&found));
}

/// Panics (listing them) if `records` hold an alert, repeat or resolved record about any
/// of `pids`.
#[track_caller]
pub fn assert_no_alerts_for(records: &[Value], pids: &[i64], what: &str) {
    let found: Vec<Value> =
        alert_records(records).into_iter().filter(|r| pids.iter().any(|p| r["pid"] == *p)).collect();
    assert!(found.is_empty(), "{what}: expected no alert for pids {pids:?}, got {}:\n{}", found.len(), lines(&found));
}

/// Stops fdwatch with SIGINT (which flushes every pending alert) and returns all its
/// records; asserts it exited 0.
pub fn stop(fw: Fdwatch) -> Vec<Value> {
    let (status, records) = fw.stop();
    assert!(status.success(), "fdwatch exited {status} on SIGINT");
    records
}

/// Waits for the exit event of `pid` (fdwatch writes a process's pending alerts when it
/// exits), then [`stop`]s fdwatch: every record.
#[track_caller]
pub fn stop_after_exit(fw: Fdwatch, pid: i64) -> Vec<Value> {
    fw.expect_event(pid, "exit", |_| true);
    stop(fw)
}
