//! Checking an alert record against the alert contract (issue 4; README.md, *Alerts*):
//! its envelope, its evidence in time order, the items a scenario expects in it.
use serde_json::{Value, json};

use crate::{ANY, assert_event};

/// Checks the alert's envelope against the contract: exactly the fields of `fields`
/// (kind-specific ones included) plus `id` (a positive integer), `message` (one
/// non-empty line) and `evidence` (a list of items, each an `event`, `symptom` or `fact`
/// with `ts` and `pid`, in time order). Returns the evidence.
#[track_caller]
pub fn assert_alert(alert: &Value, fields: Value) -> Vec<Value> {
    let mut want = json!({"id": ANY, "message": ANY, "evidence": ANY});
    for (k, v) in fields.as_object().expect("fields is an object") {
        want[k] = v.clone();
    }
    assert_event(alert, &want);
    assert!(alert["id"].as_i64().is_some_and(|i| i > 0), "alert id is not a positive integer: {alert}");
    let msg = alert["message"].as_str().unwrap_or("");
    assert!(!msg.trim().is_empty() && !msg.contains('\n'), "alert message is not one non-empty line: {alert}");
    let evidence = alert["evidence"].as_array().unwrap_or_else(|| panic!("evidence is not a list: {alert}")).clone();
    assert!(!evidence.is_empty(), "alert without evidence: {alert}");
    let mut prev = String::new();
    for (i, item) in evidence.iter().enumerate() {
        let what = item["what"].as_str().unwrap_or("");
        assert!(
            matches!(what, "event" | "symptom" | "fact"),
            "evidence item {i} has \"what\" {:?}, not event|symptom|fact: {item}\nalert: {alert}",
            item["what"]
        );
        let ts = item["ts"].as_str().unwrap_or_else(|| panic!("evidence item {i} has no ts: {item}\nalert: {alert}"));
        assert!(item["pid"].is_i64(), "evidence item {i} has no integer pid: {item}\nalert: {alert}");
        if what == "fact" {
            assert!(item["fact"].as_str().is_some_and(|s| !s.is_empty()), "fact without a sentence: {item}");
        } else {
            for k in ["comm", "syscall"] {
                assert!(item[k].is_string(), "evidence {what} {i} has no string {k:?}: {item}\nalert: {alert}");
            }
            assert!(item["args"].is_object(), "evidence {what} {i} has no args object: {item}\nalert: {alert}");
            // Like event records, the process events (fork, exec, exit) and signals have no ret.
            let process_event = matches!(item["syscall"].as_str(), Some("fork" | "exec" | "exit" | "signal"));
            assert!(
                item["ret"].is_i64() || (process_event && item.get("ret").is_none()),
                "evidence {what} {i} has no integer ret: {item}\nalert: {alert}"
            );
            let failed = item["ret"].as_i64().unwrap_or(0) < 0;
            assert_eq!(
                item.get("errno").is_some(),
                failed,
                "evidence {what} {i}: errno must be there exactly when the call failed: {item}\nalert: {alert}"
            );
        }
        assert!(ts >= prev.as_str(), "evidence item {i} (ts {ts}) is earlier than the one before ({prev}): {alert}");
        prev = ts.to_string();
    }
    evidence
}

/// Index of the first evidence item `what` (event/symptom) of `pid` for `syscall` whose
/// args contain `args` (a subset) and whose `ret` (and `errno`) match; panics with the
/// whole evidence if there is none.
#[track_caller]
pub fn find_evidence(
    alert: &Value,
    what: &str,
    pid: i64,
    syscall: &str,
    args: Value,
    ret: i64,
    errno: Option<&str>,
) -> usize {
    let evidence = alert["evidence"].as_array().cloned().unwrap_or_default();
    let want = args.as_object().expect("args is an object").clone();
    let pos = evidence.iter().position(|e| {
        e["what"] == what
            && e["pid"] == pid
            && e["syscall"] == syscall
            && e["ret"] == ret
            && match errno {
                Some(n) => e["errno"] == n,
                None => e.get("errno").is_none(),
            }
            && want.iter().all(|(k, v)| e["args"][k] == *v)
    });
    pos.unwrap_or_else(|| {
        panic!(
            "alert {} has no {what} {syscall}({}) = {ret}{} by pid {pid} in its evidence:\n{}",
            alert["kind"],
            Value::Object(want.clone()),
            errno.map(|e| format!(" {e}")).unwrap_or_default(),
            evidence.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
        )
    })
}

/// The facts of an alert's evidence.
pub fn facts(alert: &Value) -> Vec<Value> {
    alert["evidence"].as_array().into_iter().flatten().filter(|e| e["what"] == "fact").cloned().collect()
}

/// Nanoseconds between two RFC 3339 UTC timestamps with nanoseconds of the same day
/// (what every record carries): b - a.
pub fn ts_diff_ns(a: &str, b: &str) -> i64 {
    fn ns(ts: &str) -> i64 {
        let day: i64 = ts[8..10].parse().expect("day");
        let h: i64 = ts[11..13].parse().expect("hour");
        let m: i64 = ts[14..16].parse().expect("minute");
        let s: i64 = ts[17..19].parse().expect("second");
        let frac: i64 = ts[20..29].parse().expect("nanoseconds");
        (((day * 24 + h) * 60 + m) * 60 + s) * 1_000_000_000 + frac
    }
    assert_eq!(a[..7], b[..7], "timestamps of different months: {a} {b}");
    ns(b) - ns(a)
}
