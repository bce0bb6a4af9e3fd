//! Exact provenance chains: the `origin` of an fd record, step by step.
use serde_json::{Value, json};

use super::Dump;

/// An expected provenance step: `step` plus its fields besides `pid` and `ts`.
pub fn step(step: &str, pid: i64, fields: Value) -> Value {
    let mut v = json!({"step": step, "pid": pid});
    for (k, f) in fields.as_object().expect("fields is an object") {
        v[k] = f.clone();
    }
    v
}

pub fn created(syscall: &str, pid: i64) -> Value {
    step("created", pid, json!({"syscall": syscall}))
}

pub fn dup(syscall: &str, from_fd: i64, pid: i64) -> Value {
    step("dup", pid, json!({"syscall": syscall, "from_fd": from_fd}))
}

pub fn inherited(from_pid: i64, pid: i64) -> Value {
    step("inherited", pid, json!({"from_pid": from_pid}))
}

pub fn survived_exec(pid: i64) -> Value {
    step("survived_exec", pid, json!({}))
}

pub fn present_at_start(pid: i64) -> Value {
    step("present_at_start", pid, json!({}))
}

/// Problems of an fd record's `origin` against `want` (oldest first): every step must
/// have exactly the expected fields plus `ts`, an RFC 3339 time, not earlier than the
/// step before.
pub fn origin_problems(record: &Value, want: &[Value]) -> Option<String> {
    let Some(got) = record["origin"].as_array() else { return Some(format!("no origin list: {record}")) };
    let mut problems = Vec::new();
    if got.len() != want.len() {
        problems.push(format!("{} steps, expected {}", got.len(), want.len()));
    }
    let mut prev_ts: Option<&str> = None;
    for (i, g) in got.iter().enumerate() {
        let Some(obj) = g.as_object() else {
            problems.push(format!("step {i} is not an object"));
            continue;
        };
        match obj.get("ts").and_then(Value::as_str) {
            Some(ts) => {
                if prev_ts.is_some_and(|p| p > ts) {
                    problems.push(format!("step {i}: ts {ts} is before the previous step's"));
                }
                prev_ts = Some(ts);
            }
            None => problems.push(format!("step {i} has no ts")),
        }
        let Some(w) = want.get(i) else { continue };
        let mut g = g.clone();
        g.as_object_mut().unwrap().remove("ts");
        if &g != w {
            problems.push(format!("step {i} is {g}, expected {w}"));
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "pid {} fd {}: origin {}: {}\n    expected {}",
            record["pid"],
            record["fd"],
            record["origin"],
            problems.join("; "),
            Value::Array(want.to_vec())
        )
    })
}

/// The record of `fd` of `pid` in `dump`.
#[track_caller]
pub fn fd_record(dump: &Dump, pid: i64, fd: i64) -> &Value {
    dump.get(&pid)
        .and_then(|fds| fds.get(&(fd as i32)))
        .unwrap_or_else(|| panic!("the dump has no fd {fd} of pid {pid}"))
}

/// Asserts the provenance chain of `fd` of `pid`.
#[track_caller]
pub fn assert_origin(dump: &Dump, pid: i64, fd: i64, want: &[Value]) {
    if let Some(p) = origin_problems(fd_record(dump, pid, fd), want) {
        panic!("wrong provenance: {p}");
    }
}

/// Collects provenance problems to report them all at once.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn origin(&mut self, dump: &Dump, pid: i64, fd: i64, want: &[Value]) {
        match dump.get(&pid).and_then(|fds| fds.get(&(fd as i32))) {
            None => self.0.push(format!("the dump has no fd {fd} of pid {pid}")),
            Some(r) => {
                if let Some(p) = origin_problems(r, want) {
                    self.0.push(p);
                }
            }
        }
    }

    pub fn push(&mut self, p: String) {
        self.0.push(p);
    }

    #[track_caller]
    pub fn assert_none(&self, what: &str) {
        const SHOWN: usize = 30;
        if !self.0.is_empty() {
            let mut text =
                format!("{what}: {} problems:\n  - {}", self.0.len(), self.0[..self.0.len().min(SHOWN)].join("\n  - "));
            if self.0.len() > SHOWN {
                text.push_str(&format!("\n  ... and {} more", self.0.len() - SHOWN));
            }
            panic!("{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_exactly_but_for_ts() {
        let rec = json!({"pid": 1, "fd": 0, "origin": [
            {"step": "created", "syscall": "socket", "pid": 1, "ts": "2026-01-01T00:00:00.000000001Z"},
            {"step": "inherited", "from_pid": 1, "pid": 2, "ts": "2026-01-01T00:00:00.000000002Z"}]});
        assert_eq!(origin_problems(&rec, &[created("socket", 1), inherited(1, 2)]), None);
        assert!(origin_problems(&rec, &[created("socket", 1)]).is_some());
        assert!(origin_problems(&rec, &[created("socket", 1), inherited(2, 2)]).is_some());
    }
}
